//! `hubdeck register-trust`: register a trust and hand over its kit keys. stdout is always a
//! JSON array; the keys pass only through zeroize-on-drop buffers.

use std::io::{IsTerminal, Write};

use clap::Args;
use serde::Serialize;
use zeroize::Zeroizing;

use super::trusts_for;
use crate::cli::Context;
use crate::cli::trust_keys::{confirm, hand_over, not_handed_over};
use crate::domain::DisplayText;
use crate::domain::trust::Trust;
use crate::service::ServiceError;

#[derive(Debug, Args)]
pub struct RegisterTrustArgs {
    /// The trust's display name (unique, case-insensitive).
    #[arg(long)]
    pub name: String,
    /// Short code, 2–16 of A–Z 0–9 _ - (upper-cased; unique).
    #[arg(long)]
    pub code: String,
    /// NHS England region (optional).
    #[arg(long)]
    pub region: Option<String>,
    /// Exit 3 instead of 0 when a trust with this name exists.
    #[arg(long)]
    pub fail_if_exists: bool,
}

/// One element of `register-trust`'s JSON output. The key fields are absent for an existing
/// trust (idempotent re-run).
#[derive(Serialize)]
struct KitJson<'a> {
    trust_id: String,
    trust_name: &'a str,
    trust_code: &'a str,
    region: Option<&'a str>,
    fl_kit_slot: Option<&'a str>,
    fl_kit_slot_number: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trust_api_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trust_internal_service_key: Option<&'a str>,
}

impl<'a> KitJson<'a> {
    fn existing(t: &'a Trust) -> Self {
        Self {
            trust_id: t.id.to_string(),
            trust_name: &t.name,
            trust_code: &t.code,
            region: t.region.as_deref(),
            fl_kit_slot: t.slot_name.as_deref(),
            fl_kit_slot_number: t.slot_number,
            trust_api_key: None,
            trust_internal_service_key: None,
        }
    }
}

/// Writes JSON to stdout through zeroize-on-drop buffers (it may hold keys), hidden
/// characters escaped like every other JSON output (stored names may hold them).
pub(in crate::cli) fn write_secret_json<T: Serialize>(v: &T) -> anyhow::Result<()> {
    // Pre-sized so the buffers are not reallocated (which would leave copies behind).
    let mut raw = Zeroizing::new(Vec::with_capacity(16 * 1024));
    serde_json::to_writer_pretty(&mut *raw, v)?;
    let mut text = Zeroizing::new(String::with_capacity(raw.len() * 6 + 1));
    crate::cli::output::escape_invisibles_into(std::str::from_utf8(&raw)?, &mut text);
    text.push('\n');
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// `hubdeck register-trust`: stdout is always a JSON array (`[]` on failure); messages and
/// logs go to stderr.
pub async fn register(ctx: &Context, a: RegisterTrustArgs) -> anyhow::Result<i32> {
    crate::cli::init_stderr_logging(&ctx.settings);
    match register_inner(ctx, &a).await {
        Ok(code) => Ok(code),
        Err(e) => {
            // stdout may be the very thing that failed (a closed pipe): never panic on it.
            let _ = writeln!(std::io::stdout(), "[]");
            let code = crate::cli::exit_code_of(&e);
            crate::cli::report_error(&e.context("register-trust failed"));
            Ok(code)
        }
    }
}

async fn register_inner(ctx: &Context, a: &RegisterTrustArgs) -> anyhow::Result<i32> {
    // Validate before touching the database: bad input never reaches it.
    crate::domain::trust::NewTrust::parse(&a.name, &a.code, a.region.as_deref())
        .map_err(ServiceError::from)?;
    let trusts = trusts_for(ctx).await?;
    let actor = ctx.actor(&trusts.db).await?;
    if let Some(existing) = trusts.find_by_name(&actor, &a.name).await? {
        return Ok(report_existing(&existing, a));
    }
    match trusts
        .register(&actor, &a.name, &a.code, a.region.as_deref())
        .await
    {
        Ok(r) if std::io::stdout().is_terminal() => {
            // Keys never go into a terminal's scrollback: the one-time panel shows them on the
            // alternate screen, then only the metadata is printed.
            let kit = KitJson {
                trust_id: r.trust.id.to_string(),
                trust_name: &r.trust.name,
                trust_code: &r.trust.code,
                region: r.trust.region.as_deref(),
                fl_kit_slot: Some(&r.fl_kit_slot),
                fl_kit_slot_number: Some(r.fl_kit_slot_number),
                trust_api_key: None,
                trust_internal_service_key: None,
            };
            let metadata = crate::cli::output::to_json(&[kit])?;
            let details = vec![
                (
                    "Trust id".to_string(),
                    DisplayText::new(&r.trust.id.to_string()),
                ),
                (
                    "Kit slot".to_string(),
                    DisplayText::new(&format!("{} (#{})", r.fl_kit_slot, r.fl_kit_slot_number)),
                ),
            ];
            let trust = format!("{} ({})", r.trust.name, r.trust.code);
            let slot = DisplayText::new(&r.fl_kit_slot).into_string();
            let minting = (r.trust.id, r.trust.name.as_str(), r.keys_minted_at);
            crate::tui::reveal_once::show(
                crate::tui::action::RevealKeys {
                    title: "Trust registered — its keys".into(),
                    trust: DisplayText::new(&trust),
                    details,
                    api_key: r.api_key,
                    internal_key: Some(r.internal_service_key),
                    on_acknowledged: None,
                },
                &ctx.settings,
            )
            .await
            .map_err(|e| anyhow::anyhow!(not_handed_over(&r.trust.name, &format!("{e:#}"))))?;
            confirm(&trusts, &actor, minting, "reveal").await;
            println!("{metadata}");
            eprintln!(
                "hubdeck: registered trust {} in FL kit slot {slot}; its keys were shown once on \
                 the alternate screen and are not printed",
                DisplayText::new(&trust)
            );
            Ok(0)
        }
        Ok(r) => {
            let kit = KitJson {
                trust_id: r.trust.id.to_string(),
                trust_name: &r.trust.name,
                trust_code: &r.trust.code,
                region: r.trust.region.as_deref(),
                fl_kit_slot: Some(&r.fl_kit_slot),
                fl_kit_slot_number: Some(r.fl_kit_slot_number),
                trust_api_key: Some(r.api_key.expose()),
                trust_internal_service_key: Some(r.internal_service_key.expose()),
            };
            hand_over(
                &trusts,
                &actor,
                (r.trust.id, &r.trust.name, r.keys_minted_at),
                &[kit],
            )
            .await?;
            eprintln!(
                "hubdeck: registered trust {} ({}) in FL kit slot {}; the keys above are shown only once",
                DisplayText::new(&r.trust.name),
                r.trust.code,
                DisplayText::new(&r.fl_kit_slot)
            );
            Ok(0)
        }
        Err(e @ ServiceError::Conflict(_)) => {
            // A concurrent run may have registered the same name first: still idempotent.
            if let Some(existing) = trusts.find_by_name(&actor, &a.name).await? {
                return Ok(report_existing(&existing, a));
            }
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

fn report_existing(existing: &Trust, a: &RegisterTrustArgs) -> i32 {
    let shown = [KitJson::existing(existing)];
    if let Err(e) = write_secret_json(&shown) {
        eprintln!("hubdeck: cannot write output: {e}");
        return 1;
    }
    eprintln!(
        "hubdeck: a trust named {} already exists (code {}); no keys were minted",
        DisplayText::new(&existing.name),
        DisplayText::new(&existing.code)
    );
    if let Some(since) = existing.keys_unconfirmed_since {
        eprintln!(
            "hubdeck: its keys were never confirmed handed over (since {}); rotate them: \
             hubdeck trusts rotate-key {} --internal",
            since.format("%Y-%m-%d %H:%M UTC"),
            existing.code
        );
    }
    if !existing.code.eq_ignore_ascii_case(a.code.trim()) {
        tracing::warn!(
            existing = %existing.code,
            requested = %DisplayText::new(a.code.trim()),
            "the existing trust has a different code"
        );
    }
    if a.fail_if_exists { 3 } else { 0 }
}
