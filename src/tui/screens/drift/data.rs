//! The drift screen's data: one typed row per drift row of the service's report (the
//! classes in report order, mandates left without a working admin first), the preview read
//! and the repair operation, all over `service::drift`.

use crate::domain::page::PageNav;
use crate::domain::{DisplayText, Page, PageQuery};
use crate::service::drift::{DriftReport, DriftTarget, RepairPreview};
use crate::service::{Actor, Services};
use crate::tui::action::{Job, JobFuture, ListSource, OpOutcome, Operation, Progress};
use crate::tui::widgets::table::TableRow;

/// How many rows of each class the screen reads.
pub const PER_CLASS: u32 = 200;

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

fn who(email: Option<&str>, sub: impl std::fmt::Display) -> String {
    email.map_or_else(|| sub.to_string(), str::to_string)
}

/// The report as rows, in report order.
pub fn rows(r: &DriftReport) -> Vec<DriftRow> {
    use crate::service::drift::DriftClass as C;
    let mut out: Vec<DriftRow> = r
        .memberships
        .iter()
        .map(|m| DriftRow {
            target: DriftTarget {
                class: C::Memberships,
                id: m.membership_id.0,
            },
            who: who(m.email.as_deref(), m.user_id),
            mandate: Some(m.mandate_name.clone()),
            detail: if m.working_admins == 0 {
                format!("identity {}; NO WORKING ADMIN left", m.reason)
            } else {
                format!("identity {}", m.reason)
            },
        })
        .collect();
    let users = |class, rows: &[crate::service::drift::DriftUser], what: &str| {
        rows.iter()
            .map(|u| DriftRow {
                target: DriftTarget { class, id: u.sub.0 },
                who: who(u.email.as_deref(), u.sub),
                mandate: None,
                detail: if u.roles.is_empty() {
                    what.to_string()
                } else {
                    format!("{what}; holds {}", u.roles.join(", "))
                },
            })
            .collect::<Vec<_>>()
    };
    out.extend(users(C::OrphanGrants, &r.orphan_grants, "identity gone"));
    out.extend(users(
        C::DisabledWithGrants,
        &r.disabled_with_grants,
        "identity disabled",
    ));
    out.extend(users(
        C::NoGrants,
        &r.no_grants,
        "no global role, no membership",
    ));
    out.extend(r.expired_invitations.iter().map(|i| DriftRow {
        target: DriftTarget {
            class: C::ExpiredInvitations,
            id: i.sub.0,
        },
        who: i.email.clone(),
        mandate: None,
        detail: format!(
            "invited {}, temporary password expired after {} days",
            i.invited_at.format("%Y-%m-%d"),
            r.temporary_password_days
        ),
    }));
    out
}

/// The drift list: the whole report (up to [`PER_CLASS`] rows a class) on one page, with
/// the class filter and the search applied to it.
#[derive(Debug)]
pub struct Drift;

fn keep(row: &DriftRow, q: &PageQuery) -> bool {
    let class_ok = q
        .filters
        .iter()
        .filter(|f| f.column == "class")
        .all(|f| f.values.iter().any(|v| v == row.target.class.key()));
    let search_ok = q.search.as_deref().is_none_or(|s| {
        let s = s.trim().to_lowercase();
        s.is_empty()
            || [
                row.who.as_str(),
                row.mandate.as_deref().unwrap_or(""),
                row.detail.as_str(),
                row.target.class.key(),
            ]
            .iter()
            .any(|t| t.to_lowercase().contains(&s))
    });
    class_ok && search_ok
}

impl ListSource<DriftRow> for Drift {
    fn page(&self, s: Services, a: Actor, q: PageQuery) -> JobFuture<Page<DriftRow>> {
        Box::pin(async move {
            let report = s.drift_report(&a, PER_CLASS).await?;
            let items: Vec<DriftRow> = rows(&report).into_iter().filter(|r| keep(r, &q)).collect();
            Ok(Page {
                total: items.len() as u64,
                page_size: (items.len() as u32).max(q.page_size),
                items,
                page: 1,
                next_cursor: None,
                nav: PageNav {
                    at_start: true,
                    at_end: true,
                    ..PageNav::default()
                },
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
                crate::service::drift::DriftClass::ALL
                    .iter()
                    .map(|c| c.key().to_string())
                    .collect()
            } else {
                Vec::new()
            })
        })
    }
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
