//! `hubdeck trusts rotate-internal-key TRUST` and `hubdeck trusts show TRUST`.

use std::io::IsTerminal;

use serde::Serialize;

use super::mandates::print_table;
use super::{Context, Output, print_json};
use crate::domain::DisplayText;
use crate::service::Actor;
use crate::service::trusts::Trusts;

pub async fn rotate_internal(trusts: &Trusts, actor: &Actor, which: &str) -> anyhow::Result<i32> {
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
    let r = trusts.rotate_internal_key(actor, t.id).await?;
    #[derive(Serialize)]
    struct Rotated<'a> {
        trust_id: String,
        trust_name: &'a str,
        trust_internal_service_key: &'a str,
    }
    super::trusts::write_secret_json(&[Rotated {
        trust_id: r.trust_id.to_string(),
        trust_name: &r.trust_name,
        trust_internal_service_key: r.internal_service_key.expose(),
    }])?;
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
    ];
    print_table(&["FIELD", "VALUE"], &rows)?;
    Ok(0)
}
