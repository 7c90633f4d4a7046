//! `hubdeck users drift`: the drift report and its repairs (preview, then apply).

use clap::Args;
use serde::Serialize;

use super::{Context, Output, print_json};
use crate::cli::output::outln;
use crate::domain::DisplayText;
use crate::service::drift::{DriftClass, DriftTarget, RepairPreview};
use crate::service::{Actor, ServiceError, Services};

/// `--repair` without `--yes` only prints each repair's preview (what changes in PostgreSQL and
/// in the directory, the audit rows) and changes nothing; `--yes` applies them, each one
/// re-checked against a fresh preview and refused if its row changed.
///
/// Exit codes: 0 report printed, previews printed (no `--yes`) or every repair applied;
/// 2 a CLASS[:ID] that does not parse; 3 a repair refused (the drift changed since its preview,
/// or the change is refused, e.g. a last admin) — nothing of that repair was written;
/// 4 the ID is not drift of that class; 1 any other failure. With several repairs each one is
/// tried and the exit code is the first failure's.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Repair: CLASS:ID (one row), CLASS (every row of the class) or `all`. Classes:
    /// memberships (membership id), orphan-grants, disabled-with-grants, no-grants,
    /// expired-invitations (user sub). Repeat for several. Without `--yes`: preview only.
    #[arg(long = "repair", value_name = "CLASS[:ID]|all")]
    pub repair: Vec<String>,
    /// Apply the repairs (without it `--repair` prints the previews and changes nothing).
    #[arg(long, requires = "repair")]
    pub yes: bool,
    /// Rows per class in the report (and in `--repair CLASS|all`).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

#[derive(Serialize)]
struct RepairLine {
    target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    preview: Option<RepairPreview>,
    applied: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    exit_code: i32,
}

#[derive(Serialize)]
struct RepairReport {
    dry_run: bool,
    repairs: Vec<RepairLine>,
}

fn show(s: &str) -> String {
    DisplayText::new(s).into_string()
}

enum Wanted {
    All,
    Class(DriftClass),
    One(DriftTarget),
}

fn parse_wanted(s: &str) -> Result<Wanted, ServiceError> {
    if s.trim() == "all" {
        return Ok(Wanted::All);
    }
    if s.contains(':') {
        return Ok(Wanted::One(DriftTarget::parse(s)?));
    }
    Ok(Wanted::Class(s.parse()?))
}

pub async fn run(
    ctx: &Context,
    svc: &Services,
    actor: &Actor,
    a: DriftArgs,
) -> anyhow::Result<i32> {
    if a.repair.is_empty() {
        return report(ctx, svc, actor, a.limit).await;
    }
    let mut wanted = Vec::new();
    for r in &a.repair {
        wanted.push(parse_wanted(r)?);
    }
    let mut targets: Vec<DriftTarget> = Vec::new();
    let needs_report = wanted.iter().any(|w| !matches!(w, Wanted::One(_)));
    let rep = if needs_report {
        Some(svc.drift_report(actor, a.limit).await?)
    } else {
        None
    };
    for w in wanted {
        let more = match (w, &rep) {
            (Wanted::One(t), _) => vec![t],
            (Wanted::All, Some(r)) => r.targets(),
            (Wanted::Class(c), Some(r)) => r.targets_of(Some(c)),
            _ => Vec::new(),
        };
        for t in more {
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
    }
    let mut lines = Vec::new();
    let mut exit = 0;
    for t in targets {
        let mut line = RepairLine {
            target: t.to_string(),
            preview: None,
            applied: false,
            message: None,
            error: None,
            exit_code: 0,
        };
        let result = async {
            let p = svc.drift_repair_preview(actor, t).await?;
            line.preview = Some(p.clone());
            if a.yes {
                let out = svc.apply_drift_repair(actor, &p).await?;
                line.applied = true;
                line.message = Some(out.message);
            }
            Ok::<(), ServiceError>(())
        }
        .await;
        if let Err(e) = result {
            line.exit_code = e.exit_code();
            line.error = Some(show(&format!("{e}")));
            if exit == 0 {
                exit = line.exit_code;
            }
        }
        lines.push(line);
    }
    if ctx.output == Output::Json {
        print_json(&RepairReport {
            dry_run: !a.yes,
            repairs: lines,
        })?;
    } else {
        if lines.is_empty() {
            outln!("no drift to repair")?;
        }
        for l in &lines {
            outln!("{}", l.target)?;
            if let Some(p) = &l.preview {
                outln!("  {}", p.summary)?;
                for d in &p.database {
                    outln!("  postgresql: {d}")?;
                }
                if p.directory.is_empty() {
                    outln!("  directory:  no change")?;
                }
                for d in &p.directory {
                    outln!("  directory:  {d}")?;
                }
                for d in &p.audit {
                    outln!("  audit:      {d}")?;
                }
                for w in &p.warnings {
                    outln!("  warning:    {w}")?;
                }
            }
            match (&l.error, &l.message, !a.yes) {
                (Some(e), _, _) => outln!("  FAILED: {e}")?,
                (None, Some(m), _) => outln!("  repaired: {}", show(m))?,
                (None, None, true) => outln!("  (preview: nothing changed; add --yes to apply)")?,
                _ => {}
            }
        }
    }
    Ok(exit)
}

async fn report(ctx: &Context, svc: &Services, actor: &Actor, limit: u32) -> anyhow::Result<i32> {
    let d = svc.drift_report(actor, limit).await?;
    if ctx.output == Output::Json {
        print_json(&d)?;
        return Ok(0);
    }
    let opt = |e: &Option<String>| e.as_deref().map(show).unwrap_or_else(|| "(unknown)".into());
    outln!(
        "{}: {}",
        DriftClass::Memberships.title(),
        d.memberships.len()
    )?;
    for m in &d.memberships {
        outln!(
            "  {}:{}  {} ({}) in «{}»{}",
            DriftClass::Memberships,
            m.membership_id,
            opt(&m.email),
            m.reason,
            show(&m.mandate_name),
            if m.working_admins == 0 {
                "  — NO WORKING ADMIN"
            } else {
                ""
            }
        )?;
    }
    for (class, rows) in [
        (DriftClass::OrphanGrants, &d.orphan_grants),
        (DriftClass::DisabledWithGrants, &d.disabled_with_grants),
        (DriftClass::NoGrants, &d.no_grants),
    ] {
        outln!("{}: {}", class.title(), rows.len())?;
        for u in rows {
            outln!(
                "  {class}:{}  {}{}",
                u.sub,
                opt(&u.email),
                if u.roles.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", u.roles.join(", "))
                }
            )?;
        }
    }
    outln!(
        "{} ({} days): {}",
        DriftClass::ExpiredInvitations.title(),
        d.temporary_password_days,
        d.expired_invitations.len()
    )?;
    for i in &d.expired_invitations {
        outln!(
            "  {}:{}  {}  invited {}",
            DriftClass::ExpiredInvitations,
            i.sub,
            show(&i.email),
            i.invited_at.format("%Y-%m-%d %H:%M UTC")
        )?;
    }
    if d.is_empty() {
        outln!("no drift")?;
    } else {
        outln!("preview a repair: hubdeck users drift --repair CLASS:ID (add --yes to apply)")?;
    }
    Ok(0)
}
