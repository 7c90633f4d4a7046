//! `hubdeck register-trust`, `hubdeck trusts list|rotate-key|delete`, `hubdeck kit-slots list`.
//!
//! These commands need only the database (no identity directory): they run the trust use cases
//! through [`crate::service::trusts::Trusts`] built from a pool.

mod register;
pub(super) use register::write_secret_json;
pub use register::{RegisterTrustArgs, register};

use clap::{Args, Subcommand};

use super::page_args::PageArgs;
use super::{Context, Output};
use crate::domain::DisplayText;
use crate::domain::trust::{KitSlot, Trust};
use crate::service::ServiceError;
use crate::service::trusts::Trusts;

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
    /// Apply only while the trust is at this version (the `version` of `trusts show --output
    /// json` or `trusts list --output json`); a change by anyone since refuses with exit 3,
    /// naming it, and writes nothing.
    #[arg(long, value_name = "VERSION")]
    pub expect_version: Option<crate::service::versions::Version>,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The trust: its id, code or name (refused when it matches several trusts; say which
    /// with id:…, code:… or name:…).
    pub trust: String,
    /// Rotate the internal-service key too.
    #[arg(long)]
    pub internal: bool,
    /// Apply only while the trust is at this version (the `version` of `trusts show --output
    /// json` or `trusts list --output json`); a change by anyone since refuses with exit 3,
    /// naming it, and writes nothing.
    #[arg(long, value_name = "VERSION")]
    pub expect_version: Option<crate::service::versions::Version>,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The trust: its id, code or name (refused when it matches several trusts; say which
    /// with id:…, code:… or name:…).
    pub trust: String,
    /// Confirm the deletion (required).
    #[arg(long)]
    pub yes: bool,
    /// Apply only while the trust is at this version (the `version` of `trusts show --output
    /// json` or `trusts list --output json`); a change by anyone since refuses with exit 3,
    /// naming it, and writes nothing.
    #[arg(long, value_name = "VERSION")]
    pub expect_version: Option<crate::service::versions::Version>,
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

async fn trusts_for(ctx: &Context) -> anyhow::Result<Trusts> {
    super::login::precheck(ctx)?;
    let db = crate::service::schema::connect(&ctx.settings).await?;
    Ok(Trusts::new(db, ctx.settings.clone()))
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
            super::trust_keys::rotate_internal(&trusts, &actor, &a.trust, a.expect_version).await
        }
        TrustsCmd::Show(a) => super::trust_keys::show(ctx, &trusts, &actor, &a.trust).await,
        TrustsCmd::RotateKey(a) => {
            let t = trusts.resolve_unambiguous(&actor, &a.trust).await?;
            let r = trusts
                .rotate_keys(&actor, t.id, a.internal, a.expect_version)
                .await?;
            super::trust_keys::hand_over_rotated(ctx, &trusts, &actor, r).await
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
            let d = match trusts.delete(&actor, t.id, a.expect_version).await {
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
