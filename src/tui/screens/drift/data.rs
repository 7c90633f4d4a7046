//! The drift screen's data: one typed row per drift row (the classes in report order,
//! mandates left without a working admin first), paged by the service like every other list,
//! the classes' totals, the preview read and the repair operations (one row, or a whole
//! class), all over `service::drift`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::domain::{DisplayText, Page, PageQuery};
use crate::service::drift::{
    ClassRepairPlan, DriftClass, DriftEntry, DriftTarget, DriftTotals, RepairPreview,
};
use crate::service::{Actor, Services};
use crate::tui::action::{Job, JobFuture, ListSource, OpOutcome, Operation, Progress};
use crate::tui::widgets::table::TableRow;

/// One drift row.
#[derive(Clone, Debug, PartialEq)]
pub struct DriftRow {
    pub target: DriftTarget,
    /// Email when known, else the sub.
    pub who: String,
    /// The mandate of a membership row.
    pub mandate: Option<String>,
    /// Why it is drift, in one line.
    pub detail: String,
}

impl TableRow for DriftRow {
    fn cells(&self) -> Vec<DisplayText> {
        vec![
            DisplayText::new(self.target.class.key()),
            DisplayText::new(&self.who),
            DisplayText::new(self.mandate.as_deref().unwrap_or("")),
            DisplayText::new(&self.detail),
        ]
    }
}

/// A list row of the service as a screen row (None: a class this console does not know).
pub fn row(e: DriftEntry) -> Option<DriftRow> {
    let class = DriftClass::of_entry(&e)?;
    let reason = e.reason.as_deref().unwrap_or("");
    let holds = |what: String| {
        if e.roles.is_empty() {
            what
        } else {
            format!("{what}; holds {}", e.roles.join(", "))
        }
    };
    let detail = match class {
        DriftClass::Memberships if e.working_admins == Some(0) => {
            format!("identity {reason}; NO WORKING ADMIN left")
        }
        DriftClass::Memberships => format!("identity {reason}"),
        DriftClass::OrphanGrants => holds("identity gone".into()),
        DriftClass::DisabledWithGrants => holds("identity disabled".into()),
        DriftClass::NoGrants => "no global role, no membership".into(),
        DriftClass::ExpiredInvitations => format!(
            "invited {}, temporary password expired",
            e.invited_at
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        ),
    };
    Some(DriftRow {
        target: DriftTarget { class, id: e.id },
        who: e.email.clone().unwrap_or_else(|| e.sub.to_string()),
        mandate: e.mandate,
        detail,
    })
}

/// The drift list, a page at a time (the class filter and the search are the service's).
#[derive(Debug)]
pub struct Drift;

impl ListSource<DriftRow> for Drift {
    fn page(&self, s: Services, a: Actor, q: PageQuery) -> JobFuture<Page<DriftRow>> {
        Box::pin(async move {
            let p = s.drift_page(&a, &q).await?;
            let items: Vec<DriftRow> = p.items.into_iter().filter_map(row).collect();
            Ok(Page {
                items,
                total: p.total,
                page: p.page,
                page_size: p.page_size,
                next_cursor: p.next_cursor,
                nav: p.nav,
            })
        })
    }
    fn filter_values(
        &self,
        _s: Services,
        _a: Actor,
        column: String,
        _q: PageQuery,
    ) -> JobFuture<Vec<String>> {
        Box::pin(async move {
            Ok(if column == "class" {
                DriftClass::ALL
                    .iter()
                    .map(|c| c.key().to_string())
                    .collect()
            } else {
                Vec::new()
            })
        })
    }
}

/// Reads every class's total (the screen's title).
#[derive(Debug)]
pub struct LoadTotals;

impl Job for LoadTotals {
    type Out = DriftTotals;
    fn run(self, s: Services, a: Actor) -> JobFuture<DriftTotals> {
        Box::pin(async move { Ok(s.drift_totals(&a).await?) })
    }
}

/// The title with every class's total.
pub fn title(t: &DriftTotals) -> String {
    use crate::domain::page::thousands;
    let parts: Vec<String> = DriftClass::ALL
        .iter()
        .map(|c| format!("{} {}", c.key(), thousands(t.of(*c))))
        .collect();
    format!("Drift · {}", parts.join(" · "))
}

/// Reads what repairing the selected row's whole class would do (its count, its first row).
#[derive(Debug)]
pub struct LoadClassPlan(pub DriftClass);

impl Job for LoadClassPlan {
    type Out = ClassRepairPlan;
    fn run(self, s: Services, a: Actor) -> JobFuture<ClassRepairPlan> {
        Box::pin(async move { Ok(s.drift_class_plan(&a, self.0).await?) })
    }
}

/// Repairs a whole class (cancellable: Esc stops it after the row being repaired; every
/// repair done so far stays, complete, with its audit row).
#[derive(Clone, Debug)]
pub struct RepairClassOp(pub ClassRepairPlan);

/// Sets the stop flag when the operation's task is dropped (cancelled): the repair, running
/// on its own task, finishes the row it is on and stops.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Operation for RepairClassOp {
    fn describe(&self) -> &'static str {
        "repair drift class"
    }
    fn subject(&self) -> Option<String> {
        Some(format!("drift class {}", self.0.class))
    }
    fn cancellable(&self) -> bool {
        true
    }
    fn run(self: Box<Self>, s: Services, a: Actor, progress: Progress) -> JobFuture<OpOutcome> {
        Box::pin(async move {
            let stop = Arc::new(AtomicBool::new(false));
            let _guard = StopOnDrop(stop.clone());
            let class = self.0.class;
            let task = tokio::spawn(async move {
                let tell =
                    move |p: &crate::service::drift::ClassRepairProgress| progress.report(p.done);
                s.repair_drift_class(&a, class, 100, &stop, &tell).await
            });
            let r = task.await??;
            let p = r.progress;
            if let Some((e, _)) = &r.failed {
                return Err(anyhow::anyhow!(
                    "repaired {} of {} rows of {class}, then: {}",
                    p.repaired,
                    r.total,
                    DisplayText::with_max(e, 200)
                ));
            }
            Ok(OpOutcome::toast(format!(
                "{class}: repaired {} of {} ({} no longer drift, {} refused)",
                p.repaired, r.total, p.no_longer_drift, p.refused
            )))
        })
    }
}

/// The confirmation text of a class repair: the count up front, then what each repair does
/// (the first row's preview).
pub fn class_plan_text(p: &ClassRepairPlan) -> String {
    let mut s = format!(
        "{} rows of {} ({}) will be repaired, each checked again when its turn comes and \
         audited in its own transaction. Esc stops it after the row being repaired.\n",
        crate::domain::page::thousands(p.total),
        p.class,
        p.class.title()
    );
    if let Some(first) = &p.first {
        s.push_str("\nThe first, for example:\n");
        s.push_str(&preview_text(first));
    }
    s
}

/// Reads the preview of one repair (fresh, the directory too).
#[derive(Debug)]
pub struct LoadPreview(pub DriftTarget);

impl Job for LoadPreview {
    type Out = RepairPreview;
    fn run(self, s: Services, a: Actor) -> JobFuture<RepairPreview> {
        Box::pin(async move { Ok(s.drift_repair_preview(&a, self.0).await?) })
    }
}

/// Applies the repair the operator saw (the service refuses when the drift changed since).
#[derive(Clone, Debug)]
pub struct RepairOp(pub RepairPreview);

impl Operation for RepairOp {
    fn describe(&self) -> &'static str {
        "repair drift"
    }
    fn subject(&self) -> Option<String> {
        Some(self.0.target.to_string())
    }
    fn run(self: Box<Self>, s: Services, a: Actor, _progress: Progress) -> JobFuture<OpOutcome> {
        Box::pin(async move {
            let out = s.apply_drift_repair(&a, &self.0).await?;
            Ok(OpOutcome::toast(
                DisplayText::with_max(&out.message, 200).into_string(),
            ))
        })
    }
}

/// The confirmation text: every change in PostgreSQL and in the directory, the audit rows
/// and the warnings, exactly as the service previewed them.
pub fn preview_text(p: &RepairPreview) -> String {
    let mut s = format!("{}\n", DisplayText::new(&p.summary));
    let mut section = |title: &str, lines: &[String], none: &str| {
        s.push_str(&format!("\n{title}:\n"));
        if lines.is_empty() {
            s.push_str(&format!("  {none}\n"));
        }
        for l in lines {
            s.push_str(&format!("  • {}\n", DisplayText::new(l)));
        }
    };
    section("PostgreSQL", &p.database, "no change");
    section("Directory", &p.directory, "no change");
    section("Audit", &p.audit, "none");
    if !p.warnings.is_empty() {
        section("Warnings", &p.warnings, "");
    }
    s
}

/// Whether the repair destroys something that cannot be undone from the console (an
/// identity or a user record), or leaves a mandate without a working admin: then the
/// operator types the name.
pub fn needs_typed_confirmation(p: &RepairPreview) -> bool {
    use crate::service::drift::DriftClass as C;
    matches!(p.target.class, C::OrphanGrants | C::NoGrants) || !p.warnings.is_empty()
}
