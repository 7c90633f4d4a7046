//! `hubdeck users drift`: the drift report and its repairs (preview, then apply).

use clap::Args;
use serde::Serialize;

use super::{Context, Output, print_json};
use crate::cli::output::outln;
use crate::domain::DisplayText;
use crate::domain::page::thousands;
use crate::service::drift::{DriftClass, DriftTarget, RepairPreview};
use crate::service::{Actor, ServiceError, Services};

/// The report gives every class's exact total and lists its first `--limit` rows.
/// `--repair` without `--yes` only prints what would change and changes nothing: for one row
/// its preview (what changes in PostgreSQL and in the directory, the audit rows), for a class
/// the number of rows first and the preview of its first row. `--yes` applies: one row
/// re-checked against a fresh preview, or EVERY row of a class, in batches, each row checked
/// again at the moment of its repair and repaired in its own transaction with its audit row
/// (progress on stderr; Ctrl-C stops after the row being repaired).
///
/// Exit codes: 0 report printed, previews printed (no `--yes`) or every repair applied;
/// 2 a CLASS[:ID] that does not parse; 3 a repair refused (the drift changed since its preview,
/// or the change is refused, e.g. a last admin) — nothing of that repair was written;
/// 4 the ID is not drift of that class; 130 a class repair stopped by Ctrl-C; 1 any other
/// failure. With several repairs each one is tried and the exit code is the first failure's.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Repair: CLASS:ID (one row), CLASS (every row of the class, however many) or `all`. Classes:
    /// memberships (membership id), orphan-grants, disabled-with-grants, no-grants,
    /// expired-invitations (user sub). Repeat for several. Without `--yes`: preview only.
    #[arg(long = "repair", value_name = "CLASS[:ID]|all")]
    pub repair: Vec<String>,
    /// Apply the repairs (without it `--repair` prints the previews and changes nothing).
    #[arg(long, requires = "repair")]
    pub yes: bool,
    /// Rows listed per class in the report (the totals are always exact).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Rows read per batch by a class repair.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub batch: u32,
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
    /// One entry per class repaired (or, without `--yes`, previewed) as a whole.
    classes: Vec<serde_json::Value>,
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
    let mut classes: Vec<(DriftClass, bool)> = Vec::new();
    for w in wanted {
        let (more, named) = match w {
            Wanted::One(t) => {
                if !targets.contains(&t) {
                    targets.push(t);
                }
                continue;
            }
            Wanted::All => (DriftClass::ALL.to_vec(), false),
            Wanted::Class(c) => (vec![c], true),
        };
        for c in more {
            match classes.iter_mut().find(|(k, _)| *k == c) {
                Some((_, n)) => *n |= named,
                None => classes.push((c, named)),
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
    let classes =
        super::drift_class::run(svc, actor, &classes, &a, ctx.output == Output::Json).await?;
    if exit == 0 {
        exit = classes.exit;
    }
    if ctx.output == Output::Json {
        print_json(&RepairReport {
            dry_run: !a.yes,
            repairs: lines,
            classes: classes.json,
        })?;
    } else {
        if lines.is_empty() && !classes.printed {
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
    let head = |class: DriftClass, listed: usize| {
        let total = d.totals.of(class);
        let shown = if (listed as u64) < total {
            format!(" (the first {listed} listed)")
        } else {
            String::new()
        };
        format!("{}: {}{shown}", class.title(), thousands(total))
    };
    outln!("{}", head(DriftClass::Memberships, d.memberships.len()))?;
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
        outln!("{}", head(class, rows.len()))?;
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
        "{} (temporary passwords are valid {} days)",
        head(DriftClass::ExpiredInvitations, d.expired_invitations.len()),
        d.temporary_password_days
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
        outln!(
            "preview a repair: hubdeck users drift --repair CLASS:ID, or a whole class: \
             --repair CLASS (add --yes to apply)"
        )?;
    }
    Ok(0)
}
