//! `hubdeck trusts rotate-internal-key TRUST` and `hubdeck trusts show TRUST`.

use std::io::IsTerminal;

use serde::Serialize;

use super::mandates::print_table;
use super::{Context, Output, print_json};
use crate::domain::{DisplayText, TrustId};
use crate::service::Actor;
use crate::service::trusts::Trusts;

pub async fn rotate_internal(
    trusts: &Trusts,
    actor: &Actor,
    which: &str,
    expected: Option<crate::service::versions::Version>,
) -> anyhow::Result<i32> {
    if std::io::stdout().is_terminal() {
        // Never into the scrollback: checked before anything is rotated.
        eprintln!(
            "hubdeck: the new internal-service key is printed once as JSON; redirect stdout \
             (e.g. `> key.json` or a pipe into your secret store) — nothing was rotated; \
             `hubdeck trusts rotate-key TRUST --internal` rotates both keys and shows them once \
             on the alternate screen"
        );
        return Ok(2);
    }
    let t = trusts.resolve_unambiguous(actor, which).await?;
    let r = trusts.rotate_internal_key(actor, t.id, expected).await?;
    #[derive(Serialize)]
    struct Rotated<'a> {
        trust_id: String,
        trust_name: &'a str,
        trust_internal_service_key: &'a str,
    }
    hand_over(
        trusts,
        actor,
        (r.trust_id, &r.trust_name, r.keys_minted_at),
        &[Rotated {
            trust_id: r.trust_id.to_string(),
            trust_name: &r.trust_name,
            trust_internal_service_key: r.internal_service_key.expose(),
        }],
    )
    .await?;
    eprintln!(
        "hubdeck: rotated the internal-service key of {}; it is shown only once (the API key \
         is unchanged)",
        DisplayText::new(&r.trust_name)
    );
    Ok(0)
}

pub async fn show(
    ctx: &Context,
    trusts: &Trusts,
    actor: &Actor,
    which: &str,
) -> anyhow::Result<i32> {
    let t = trusts.resolve(actor, which).await?;
    let d = trusts.detail(actor, t.id).await?;
    if ctx.output == Output::Json {
        print_json(&d)?;
        return Ok(0);
    }
    let ts = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let rows = vec![
        vec!["id".to_string(), d.trust.id.to_string()],
        vec!["name".into(), d.trust.name.clone()],
        vec!["code".into(), d.trust.code.clone()],
        vec!["region".into(), d.trust.region.clone().unwrap_or_default()],
        vec![
            "kit slot".into(),
            match (&d.trust.slot_name, d.trust.slot_number) {
                (Some(n), Some(i)) => format!("{n} (#{i})"),
                _ => "(none)".into(),
            },
        ],
        vec![
            "last heartbeat".into(),
            match d.last_heartbeat {
                Some(h) => format!("{} ({})", d.heartbeat_label(d.as_of), ts(h)),
                None => "never".into(),
            },
        ],
        vec![
            "API key".into(),
            format!(
                "{} days old (minted {})",
                d.api_key_age_days,
                ts(d.api_key_rotated_at)
            ),
        ],
        vec![
            "internal-service key".into(),
            format!(
                "{} days old (minted {})",
                d.internal_key_age_days,
                ts(d.internal_key_rotated_at)
            ),
        ],
        vec![
            "keys handed over".into(),
            match d.trust.keys_unconfirmed_since {
                Some(t) => format!("NOT CONFIRMED since {} — rotate them", ts(t)),
                None => "confirmed".into(),
            },
        ],
    ];
    print_table(&["FIELD", "VALUE"], &rows)?;
    Ok(0)
}

/// Which minting is being handed over: the trust, its name, and when its keys were minted.
pub(super) type Minting<'a> = (TrustId, &'a str, chrono::DateTime<chrono::Utc>);

/// Hands freshly minted keys over on stdout: the JSON is written and flushed, and only then is
/// the hand-over recorded (the trust's "keys not confirmed" mark cleared). A write that fails
/// (a closed pipe, a full disk) leaves the mark and is reported as such — never as a broken
/// pipe to be ignored, since the keys are lost with it.
pub(super) async fn hand_over<T: Serialize>(
    trusts: &Trusts,
    actor: &Actor,
    minting: Minting<'_>,
    keys: &T,
) -> anyhow::Result<()> {
    if let Err(e) = super::trusts::write_secret_json(keys) {
        anyhow::bail!(not_handed_over(minting.1, &e.to_string()));
    }
    confirm(trusts, actor, minting, "stdout").await;
    Ok(())
}

/// The message for keys that did not reach their holder.
pub(super) fn not_handed_over(trust_name: &str, why: &str) -> String {
    format!(
        "the new keys of trust {} could not be handed over ({why}); the trust is marked \
         \"keys not confirmed\" until its keys are rotated (hubdeck trusts rotate-key)",
        DisplayText::new(trust_name)
    )
}

/// Records a completed hand-over. The keys did reach their holder: a failure to record it only
/// leaves the mark set (a false alarm, said on stderr), never fails the command.
pub(super) async fn confirm(
    trusts: &Trusts,
    actor: &Actor,
    minting: Minting<'_>,
    how: &'static str,
) {
    let (id, name, minted_at) = minting;
    if let Err(e) = trusts
        .confirm_keys_handed_over(actor, id, minted_at, how)
        .await
    {
        eprintln!(
            "hubdeck: the keys of trust {} were handed over, but recording it failed ({e}); \
             the trust stays marked \"keys not confirmed\" until its keys are rotated",
            DisplayText::new(name)
        );
    }
}

/// Hands over the keys of a rotation (`trusts rotate-key`, or an approved rotation its
/// proposer completes): the one-time reveal on a terminal, else the JSON on stdout; then the
/// hand-over record.
pub(super) async fn hand_over_rotated(
    ctx: &Context,
    trusts: &Trusts,
    actor: &Actor,
    r: crate::domain::trust::RotatedKeys,
) -> anyhow::Result<i32> {
    if std::io::stdout().is_terminal() {
        // Shown once on the alternate screen, never printed into the scrollback.
        let metadata = super::output::to_json(&[serde_json::json!({
            "trust_id": r.trust_id.to_string(),
            "trust_name": r.trust_name,
        })])?;
        let name = DisplayText::new(&r.trust_name);
        let crate::domain::trust::RotatedKeys {
            trust_id,
            trust_name,
            api_key,
            internal_service_key,
            keys_minted_at,
        } = r;
        crate::tui::reveal_once::show(
            crate::tui::action::RevealKeys {
                title: "API key rotated — the new key".into(),
                trust: DisplayText::new(&trust_name),
                details: Vec::new(),
                api_key,
                internal_key: internal_service_key,
                on_acknowledged: None,
            },
            &ctx.settings,
        )
        .await
        .map_err(|e| anyhow::anyhow!(not_handed_over(&trust_name, &format!("{e:#}"))))?;
        confirm(
            trusts,
            actor,
            (trust_id, &trust_name, keys_minted_at),
            "reveal",
        )
        .await;
        println!("{metadata}");
        eprintln!(
            "hubdeck: rotated the keys of {name}; they were shown once on the alternate \
             screen and are not printed"
        );
        return Ok(0);
    }
    #[derive(Serialize)]
    struct Rotated<'a> {
        trust_id: String,
        trust_name: &'a str,
        trust_api_key: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        trust_internal_service_key: Option<&'a str>,
    }
    hand_over(
        trusts,
        actor,
        (r.trust_id, &r.trust_name, r.keys_minted_at),
        &[Rotated {
            trust_id: r.trust_id.to_string(),
            trust_name: &r.trust_name,
            trust_api_key: r.api_key.expose(),
            trust_internal_service_key: r.internal_service_key.as_ref().map(|k| k.expose()),
        }],
    )
    .await?;
    eprintln!(
        "hubdeck: rotated the keys of {}; they are shown only once",
        DisplayText::new(&r.trust_name)
    );
    Ok(0)
}
