//! `hubdeck users drift --repair CLASS`: a whole class, however many rows — the count and the
//! first row's preview without `--yes`; with it every row, in batches, with progress on stderr
//! and Ctrl-C stopping after the row being repaired.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::drift::DriftArgs;
use crate::cli::output::outln;
use crate::domain::DisplayText;
use crate::domain::page::thousands;
use crate::service::drift::{ClassRepairProgress, DriftClass};
use crate::service::{Actor, Services};

/// What the class repairs did, for the caller's output and exit code.
pub struct ClassOutcome {
    pub json: Vec<serde_json::Value>,
    /// Something was printed (text output).
    pub printed: bool,
    pub exit: i32,
}

fn show(s: &str) -> String {
    DisplayText::new(s).into_string()
}

/// Previews (no `--yes`) or repairs each class; `named`: the operator named the class (an
/// empty class is then reported too; `all` skips empty ones).
pub async fn run(
    svc: &Services,
    actor: &Actor,
    classes: &[(DriftClass, bool)],
    a: &DriftArgs,
    json: bool,
) -> anyhow::Result<ClassOutcome> {
    let mut out = ClassOutcome {
        json: Vec::new(),
        printed: false,
        exit: 0,
    };
    let stop = Arc::new(AtomicBool::new(false));
    if a.yes && !classes.is_empty() {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("stopping after the row being repaired…");
                stop.store(true, Ordering::SeqCst);
            }
        });
    }
    for &(class, named) in classes {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if !a.yes {
            let plan = svc.drift_class_plan(actor, class).await?;
            if plan.total == 0 && !named {
                continue;
            }
            out.json.push(serde_json::to_value(&plan)?);
            if json {
                continue;
            }
            out.printed = true;
            outln!(
                "{class}: {} rows to repair ({})",
                thousands(plan.total),
                class.title()
            )?;
            if let Some(p) = &plan.first {
                outln!("  the first: {}", p.target)?;
                outln!("    {}", p.summary)?;
                for d in &p.database {
                    outln!("    postgresql: {d}")?;
                }
                for d in &p.directory {
                    outln!("    directory:  {d}")?;
                }
                for d in &p.audit {
                    outln!("    audit:      {d}")?;
                }
                for w in &p.warnings {
                    outln!("    warning:    {w}")?;
                }
            }
            if plan.total > 0 {
                outln!(
                    "  (preview: nothing changed; add --yes to repair all {}, each row checked \
                     again when its turn comes)",
                    thousands(plan.total)
                )?;
            }
            continue;
        }
        let total = svc.drift_totals(actor).await?.of(class);
        if total == 0 && !named {
            continue;
        }
        let tell = move |p: &ClassRepairProgress| {
            if p.done.is_multiple_of(25) || p.done >= total {
                eprintln!(
                    "{class}: {}/{} (repaired {}, refused {}, no longer drift {})",
                    p.done, total, p.repaired, p.refused, p.no_longer_drift
                );
            }
        };
        let r = svc
            .repair_drift_class(actor, class, a.batch, &stop, &tell)
            .await?;
        let p = r.progress;
        let code = match (&r.failed, r.stopped, r.refusals.first()) {
            (Some((_, code)), _, _) => *code,
            (None, true, _) => 130,
            (None, false, Some(first)) => first.exit_code,
            _ => 0,
        };
        if out.exit == 0 {
            out.exit = code;
        }
        out.json.push(serde_json::to_value(&r)?);
        if json {
            continue;
        }
        out.printed = true;
        outln!(
            "{class}: repaired {} of {} ({} no longer drift, {} refused){}",
            thousands(p.repaired),
            thousands(r.total),
            thousands(p.no_longer_drift),
            thousands(p.refused),
            if r.stopped {
                " — stopped on request"
            } else {
                ""
            }
        )?;
        for f in &r.refusals {
            outln!("  refused {}: {}", f.target, show(&f.error))?;
        }
        if let Some((e, _)) = &r.failed {
            outln!("  FAILED, the walk ended early: {}", show(e))?;
        }
    }
    Ok(out)
}
