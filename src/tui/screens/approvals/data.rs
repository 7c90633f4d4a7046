//! The approvals screen's data: one typed row per pending change, its preview text, and the
//! decisions (approve, reject with a reason, complete a rotation one proposed), each a call of
//! `service::approvals`.

use crate::domain::page::PageNav;
use crate::domain::{DisplayText, Page, PageQuery};
use crate::service::approvals::{Approved, PendingChange};
use crate::service::{Actor, Services};
use crate::tui::action::{JobFuture, ListSource, OpOutcome, Operation, Progress};
use crate::tui::screens::trusts::data::reveal_rotated;
use crate::tui::screens::when;
use crate::tui::widgets::table::TableRow;

/// One pending change.
#[derive(Clone, Debug)]
pub struct ApprovalRow {
    pub change: PendingChange,
}

impl PartialEq for ApprovalRow {
    fn eq(&self, other: &Self) -> bool {
        self.change.id == other.change.id && self.change.state == other.change.state
    }
}

impl TableRow for ApprovalRow {
    fn cells(&self) -> Vec<DisplayText> {
        let c = &self.change;
        vec![
            DisplayText::new(&format!("#{}", c.id)),
            DisplayText::new(c.state.key()),
            DisplayText::new(&c.preview.summary),
            DisplayText::new(&c.proposer),
            DisplayText::new(&c.reason),
            when(&c.expires_at),
        ]
    }
}

/// The open changes (proposed, and approved rotations awaiting their proposer) on one page.
#[derive(Debug)]
pub struct Approvals;

impl ListSource<ApprovalRow> for Approvals {
    fn page(&self, s: Services, a: Actor, q: PageQuery) -> JobFuture<Page<ApprovalRow>> {
        Box::pin(async move {
            let term = q.search.as_deref().unwrap_or("").trim().to_lowercase();
            let items: Vec<ApprovalRow> = s
                .list_changes(&a, false)
                .await?
                .into_iter()
                .filter(|c| {
                    term.is_empty()
                        || [&c.preview.summary, &c.proposer, &c.reason]
                            .iter()
                            .any(|t| t.to_lowercase().contains(&term))
                })
                .map(|change| ApprovalRow { change })
                .collect();
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
        _column: String,
        _q: PageQuery,
    ) -> JobFuture<Vec<String>> {
        Box::pin(async move { Ok(Vec::new()) })
    }
}

/// The preview exactly as proposed: summary, reason, proposer, every row before → after.
pub fn preview_text(c: &PendingChange) -> String {
    let mut s = format!(
        "#{} {}\nProposed by {} — reason: {}\nExpires {} UTC\n\n",
        c.id,
        DisplayText::new(&c.preview.summary),
        DisplayText::new(&c.proposer),
        DisplayText::new(&c.reason),
        c.expires_at.format("%Y-%m-%d %H:%M")
    );
    for r in &c.preview.rows {
        s.push_str(&format!(
            "  • {} {}: {} → {}\n",
            DisplayText::new(&r.record),
            DisplayText::new(&r.field),
            DisplayText::new(&r.before),
            DisplayText::new(&r.after)
        ));
    }
    s
}

/// A decision on change `id`.
#[derive(Clone, Debug)]
pub enum ApprovalOp {
    Approve {
        id: i64,
    },
    Reject {
        id: i64,
        reason: String,
    },
    /// The proposer completes an approved key rotation and receives the keys.
    Complete {
        id: i64,
    },
}

impl Operation for ApprovalOp {
    fn describe(&self) -> &'static str {
        match self {
            ApprovalOp::Approve { .. } => "approve change",
            ApprovalOp::Reject { .. } => "reject change",
            ApprovalOp::Complete { .. } => "complete change",
        }
    }
    fn subject(&self) -> Option<String> {
        let (ApprovalOp::Approve { id }
        | ApprovalOp::Reject { id, .. }
        | ApprovalOp::Complete { id }) = self;
        Some(format!("#{id}"))
    }
    fn run(self: Box<Self>, s: Services, a: Actor, _progress: Progress) -> JobFuture<OpOutcome> {
        Box::pin(async move {
            Ok(match *self {
                ApprovalOp::Approve { id } => match s.approve_change(&a, id).await? {
                    Approved::Executed { outcome } => OpOutcome::toast(format!(
                        "#{id} approved and executed: {}",
                        DisplayText::with_max(&outcome, 160)
                    )),
                    Approved::AwaitsProposer => OpOutcome::toast(format!(
                        "#{id} approved; its proposer completes it and receives the keys"
                    )),
                },
                ApprovalOp::Reject { id, reason } => {
                    s.reject_change(&a, id, &reason).await?;
                    OpOutcome::toast(format!("#{id} rejected"))
                }
                ApprovalOp::Complete { id } => {
                    let r = s.complete_change(&a, id).await?;
                    OpOutcome {
                        toast: format!("#{id} completed: keys rotated"),
                        reveal: Some(
                            reveal_rotated(&s, &a, r, "Approved rotation — the new keys").await,
                        ),
                    }
                }
            })
        })
    }
}
