//! `hubdeck register-trust`, `hubdeck trusts list|rotate-key|delete`, `hubdeck kit-slots list`.
//!
//! These commands need only the database (no identity directory): they run the trust use cases
//! through [`crate::service::trusts::Trusts`] built from a pool.

use std::io::{IsTerminal, Write};

use clap::{Args, Subcommand};
use serde::Serialize;

use super::page_args::PageArgs;
use super::trust_keys::{TrustGuard, confirm, hand_over, not_handed_over, write_secret_json};
use super::{Context, Output};
use crate::domain::DisplayText;
use crate::domain::trust::{KitSlot, Trust};
use crate::service::ServiceError;
use crate::service::trusts::Trusts;

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

#[derive(Debug, Subcommand)]
pub enum TrustsCmd {
    /// List trusts (search name/code, filter region and slot, sort).
    List(ListTrustsArgs),
    /// Mint a new API key (and optionally internal-service key); prints them once as JSON
    /// (on a terminal: shows them in the one-time reveal panel, prints only the metadata).
    RotateKey(RotateArgs),
    /// Mint a new internal-service key only (the API key stays); prints it once as JSON on
    /// stdout, which must not be a terminal (redirect it into your secret store). Exit 2 on a
    /// terminal (nothing rotated), 4 unknown trust.
    RotateInternalKey(RotateInternalArgs),
    /// Show one trust: code, region, kit slot, last heartbeat, the age of each key.
    Show(ShowTrustArgs),
    /// Delete a trust; its FL kit slot becomes free (the audit row keeps the name).
    Delete(DeleteArgs),
}

/// `trusts list`: the shared paging flags plus the trust filters. Search: name, code. Sort:
/// name, code, region, slot_number, created_at.
#[derive(Debug, Args)]
pub struct ListTrustsArgs {
    #[command(flatten)]
    pub list: PageArgs,
    /// Only trusts in this region.
    #[arg(long)]
    pub region: Option<String>,
    /// Only trusts with (true) or without (false) a kit slot.
    #[arg(long)]
    pub has_slot: Option<bool>,
}

#[derive(Debug, Args)]
pub struct ShowTrustArgs {
    /// The trust: its id, code or name.
    pub trust: String,
}

#[derive(Debug, Args)]
pub struct RotateInternalArgs {
    /// The trust: its id, code or name.
    pub trust: String,
    #[command(flatten)]
    pub guard: TrustGuard,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The trust: its id, code or name (refused when it matches several trusts; say which
    /// with id:…, code:… or name:…).
    pub trust: String,
    /// Rotate the internal-service key too.
    #[arg(long)]
    pub internal: bool,
    #[command(flatten)]
    pub guard: TrustGuard,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The trust: its id, code or name (refused when it matches several trusts; say which
    /// with id:…, code:… or name:…).
    pub trust: String,
    /// Confirm the deletion (required).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub guard: TrustGuard,
}

#[derive(Debug, Subcommand)]
pub enum KitSlotsCmd {
    /// List FL kit slots, free and used, with the trust each is assigned to.
    List(ListSlotsArgs),
}

#[derive(Debug, Args)]
pub struct ListSlotsArgs {
    #[command(flatten)]
    pub list: PageArgs,
    /// Only free (true) or only used (false) slots.
    #[arg(long)]
    pub free: Option<bool>,
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

async fn trusts_for(ctx: &Context) -> anyhow::Result<Trusts> {
    super::login::precheck(ctx)?;
    let db = crate::service::schema::connect(&ctx.settings).await?;
    Ok(Trusts::new(db, ctx.settings.clone()))
}

/// `hubdeck register-trust`: stdout is always a JSON array (`[]` on failure); messages and
/// logs go to stderr.
pub async fn register(ctx: &Context, a: RegisterTrustArgs) -> anyhow::Result<i32> {
    super::init_stderr_logging(&ctx.settings);
    match register_inner(ctx, &a).await {
        Ok(code) => Ok(code),
        Err(e) => {
            // stdout may be the very thing that failed (a closed pipe): never panic on it.
            let _ = writeln!(std::io::stdout(), "[]");
            let code = super::exit_code_of(&e);
            super::report_error(&e.context("register-trust failed"));
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
            let metadata = super::output::to_json(&[kit])?;
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

pub async fn run(ctx: &Context, cmd: TrustsCmd) -> anyhow::Result<i32> {
    super::init_stderr_logging(&ctx.settings);
    let trusts = trusts_for(ctx).await?;
    let actor = ctx.actor(&trusts.db).await?;
    match cmd {
        TrustsCmd::List(a) => {
            let mut q = a.list.to_query()?;
            if let Some(r) = a.region {
                q = q.filter("region", [r]);
            }
            if let Some(h) = a.has_slot {
                q = q.filter("has_slot", [h.to_string()]);
            }
            let page = trusts.list(&actor, &q).await?;
            match ctx.output {
                Output::Json => super::print_json(&page)?,
                Output::Table => print_trusts(&page.items, &page.range_label())?,
            }
            Ok(0)
        }
        TrustsCmd::RotateInternalKey(a) => {
            super::trust_keys::rotate_internal(&trusts, &actor, &a.trust, a.guard.expect_version)
                .await
        }
        TrustsCmd::Show(a) => super::trust_keys::show(ctx, &trusts, &actor, &a.trust).await,
        TrustsCmd::RotateKey(a) => {
            let t = trusts.resolve_unambiguous(&actor, &a.trust).await?;
            let r = trusts
                .rotate_keys(&actor, t.id, a.internal, a.guard.expect_version)
                .await?;
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
                    &trusts,
                    &actor,
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
                &trusts,
                &actor,
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
        TrustsCmd::Delete(a) => {
            if !a.yes {
                eprintln!("hubdeck: deleting a trust frees its FL kit slot; add --yes to confirm");
                return Ok(2);
            }
            let t = match trusts.resolve_unambiguous(&actor, &a.trust).await {
                Ok(t) => t,
                Err(e @ ServiceError::NotFound(_)) => return Ok(not_found(ctx, &e)),
                Err(e) => return Err(e.into()),
            };
            let d = match trusts.delete(&actor, t.id, a.guard.expect_version).await {
                Ok(d) => d,
                // Deleted concurrently between the lookup and the delete.
                Err(e @ ServiceError::NotFound(_)) => return Ok(not_found(ctx, &e)),
                Err(e) => return Err(e.into()),
            };
            match ctx.output {
                Output::Json => super::print_json(&serde_json::json!({
                    "result": "deleted",
                    "trust_id": d.trust_id,
                    "trust_name": d.trust_name,
                    "trust_code": d.trust_code,
                    "freed_slot": d.freed_slot,
                }))?,
                Output::Table => println!(
                    "deleted trust {} ({}); freed slot: {}",
                    DisplayText::new(&d.trust_name),
                    d.trust_code,
                    d.freed_slot
                        .as_deref()
                        .map(|s| DisplayText::new(s).into_string())
                        .unwrap_or_else(|| "none".into())
                ),
            }
            Ok(0)
        }
    }
}

fn not_found(ctx: &Context, e: &ServiceError) -> i32 {
    if ctx.output == Output::Json {
        let _ = super::print_json(&serde_json::json!({ "result": "not_found" }));
    }
    eprintln!("hubdeck: {}", DisplayText::new(&e.to_string()));
    e.exit_code()
}

pub async fn run_kit_slots(ctx: &Context, cmd: KitSlotsCmd) -> anyhow::Result<i32> {
    super::init_stderr_logging(&ctx.settings);
    let trusts = trusts_for(ctx).await?;
    let actor = ctx.actor(&trusts.db).await?;
    match cmd {
        KitSlotsCmd::List(a) => {
            let mut q = a.list.to_query_sized(500)?;
            if let Some(f) = a.free {
                q = q.filter("free", [f.to_string()]);
            }
            let page = trusts.list_kit_slots(&actor, &q).await?;
            match ctx.output {
                Output::Json => super::print_json(&page)?,
                Output::Table => print_slots(&page.items, &page.range_label())?,
            }
            Ok(0)
        }
    }
}

/// Trusts as a table (sanitized cells, aligned by display width); the range on stderr.
fn print_trusts(items: &[Trust], label: &str) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.code.to_string(),
                t.region.clone().unwrap_or_else(|| "-".into()),
                t.name.clone(),
                t.slot_name.clone().unwrap_or_else(|| "-".into()),
                if t.keys_unconfirmed_since.is_some() {
                    "not confirmed"
                } else {
                    "ok"
                }
                .into(),
            ]
        })
        .collect();
    super::output::print_table(&["ID", "CODE", "REGION", "NAME", "SLOT", "KEYS"], &rows)?;
    eprintln!("{label}");
    Ok(())
}

/// Kit slots as a table (sanitized cells, aligned by display width); the range on stderr.
fn print_slots(items: &[KitSlot], label: &str) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|s| {
            vec![
                s.slot_name.clone(),
                s.slot_number.to_string(),
                if s.is_free() { "free" } else { "used" }.to_string(),
                s.trust_name.clone().unwrap_or_else(|| "-".into()),
                s.trust_code.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    super::output::print_table(&["SLOT", "NUMBER", "STATE", "TRUST", "CODE"], &rows)?;
    eprintln!("{label}");
    Ok(())
}
