//! Approvals: changes another operator proposed under the two-person rule. Enter or `y`
//! shows the exact preview and asks to approve it (executed at once when its targets still
//! match; a key rotation then waits for its proposer); `x` rejects with a reason; the
//! proposer of an approved rotation completes it here with `c` and alone sees the keys.

pub mod data;

use ratatui::layout::Constraint;

use super::{Ctx, Screen, page_reply};
use crate::domain::PageQuery;
use crate::domain::approval::ChangeState;
use crate::tui::action::{LoadBox, OpBox};
use crate::tui::keymap::Action;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::fields::{Field, v_required_text};
use crate::tui::widgets::form::Form;
use crate::tui::widgets::table::{Column, Fetched, TableView, Typed};
use data::{ApprovalOp, ApprovalRow, preview_text};

/// What the approvals screen's reads come back as.
#[derive(Debug)]
pub enum Reply {
    Page(Fetched<ApprovalRow>),
}

type Cmd = super::Cmd<Reply>;

pub struct ApprovalsScreen {
    pub table: Typed<ApprovalRow>,
}

impl Default for ApprovalsScreen {
    fn default() -> Self {
        Self::new()
    }
}

impl ApprovalsScreen {
    pub fn new() -> Self {
        Self {
            table: Typed::new(
                "approvals",
                data::Approvals,
                "Approvals",
                vec![
                    Column::plain("No.", Constraint::Length(6)),
                    Column::plain("State", Constraint::Length(9)),
                    Column::plain("Change", Constraint::Fill(3)),
                    Column::plain("Proposer", Constraint::Fill(2)),
                    Column::plain("Reason", Constraint::Fill(2)),
                    Column::plain("Expires", Constraint::Length(16)),
                ],
            ),
        }
    }
}

impl Screen for ApprovalsScreen {
    type Reply = Reply;
    fn page(&self, query: PageQuery) -> LoadBox<Reply> {
        self.table.load(query, Reply::Page)
    }
    fn table(&self) -> &TableView {
        &self.table.view
    }
    fn table_mut(&mut self) -> &mut TableView {
        &mut self.table.view
    }
    fn actions(&self) -> &'static [Action] {
        &[Action::Approve, Action::Reject, Action::Complete]
    }

    fn on_action(&mut self, action: Action, ctx: &Ctx) -> Option<Cmd> {
        let c = self.table.selected()?.change.clone();
        let mine = ctx.operator.is_some_and(|o| Some(o.sub) == c.proposer_sub);
        match action {
            Action::Approve | Action::Open if c.state == ChangeState::Proposed => {
                if mine {
                    return Some(Cmd::Toast(format!(
                        "#{} is your own proposal: another operator approves it",
                        c.id
                    )));
                }
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: format!("Approve change #{}", c.id),
                    message: format!(
                        "{}\nApprove it? It runs now, only if every row above is unchanged.",
                        preview_text(&c)
                    ),
                    op: OpBox::new(ApprovalOp::Approve { id: c.id }),
                }))
            }
            Action::Reject if c.state == ChangeState::Proposed => {
                let id = c.id;
                Some(Cmd::OpenForm(Form::op(
                    format!("Reject change #{id}"),
                    vec![Field::text("Reason", "", v_required_text)],
                    move |f| {
                        OpBox::new(ApprovalOp::Reject {
                            id,
                            reason: f.text(0),
                        })
                    },
                )))
            }
            Action::Complete if c.state == ChangeState::Approved && mine => {
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: format!("Complete change #{}", c.id),
                    message: format!(
                        "{}\nRotate now? The new keys are shown to you once.",
                        preview_text(&c)
                    ),
                    op: OpBox::new(ApprovalOp::Complete { id: c.id }),
                }))
            }
            Action::Approve | Action::Reject | Action::Complete | Action::Open => Some(Cmd::Toast(
                format!("#{} is {}: nothing to decide here", c.id, c.state.key()),
            )),
            _ => None,
        }
    }

    fn on_reply(&mut self, reply: Reply) -> Vec<Cmd> {
        match reply {
            Reply::Page(p) => page_reply(&mut self.table, p),
        }
    }

    fn commands(&self) -> &'static [&'static str] {
        &["approvals"]
    }

    fn command(&mut self, _cmd: &str, _arg: &str) -> Vec<Cmd> {
        vec![Cmd::Reload]
    }
}
