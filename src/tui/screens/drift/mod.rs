//! Drift: where the directory, the global grants and the mandate memberships disagree (the
//! service's report, mandates left without a working admin first). `p` (or Enter) on a row
//! reads the repair's preview — exactly what changes in PostgreSQL and in the directory, and
//! the audit rows — and asks for a confirmation in proportion (typing the name for a delete
//! or a mandate left without admin); the service re-checks the preview, re-authorises and
//! audits when it runs.

pub mod data;

use ratatui::layout::Constraint;

use super::{Ctx, Screen, page_reply};
use crate::domain::PageQuery;
use crate::service::drift::RepairPreview;
use crate::tui::action::{ErrorReport, LoadBox, OpBox, ask};
use crate::tui::keymap::Action;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::table::{Column, Fetched, TableView, Typed};
use data::{DriftRow, LoadPreview, RepairOp, needs_typed_confirmation, preview_text};

/// What the drift screen's reads come back as.
#[derive(Debug)]
pub enum Reply {
    Page(Fetched<DriftRow>),
    /// The repair preview of a row.
    Preview(Result<RepairPreview, ErrorReport>),
}

type Cmd = super::Cmd<Reply>;

pub struct DriftScreen {
    pub table: Typed<DriftRow>,
}

impl Default for DriftScreen {
    fn default() -> Self {
        Self::new()
    }
}

impl DriftScreen {
    pub fn new() -> Self {
        Self {
            table: Typed::new(
                "drift",
                data::Drift,
                "Drift",
                vec![
                    Column::filter_only("Class", "class", Constraint::Length(20)),
                    Column::plain("Who", Constraint::Fill(3)),
                    Column::plain("Mandate", Constraint::Fill(2)),
                    Column::plain("Why", Constraint::Fill(3)),
                ],
            ),
        }
    }

    /// The confirmation for a preview the service returned.
    pub fn confirm(p: RepairPreview) -> Dialog {
        let message = format!("{}\nRepair it?", preview_text(&p));
        let title = format!("Repair drift: {}", p.target.class.title());
        if needs_typed_confirmation(&p) {
            Dialog::type_name(title, message, "repair".into(), OpBox::new(RepairOp(p)))
        } else {
            Dialog::Confirm {
                title,
                message,
                op: OpBox::new(RepairOp(p)),
            }
        }
    }
}

impl Screen for DriftScreen {
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
        &[Action::Repair]
    }

    fn on_action(&mut self, action: Action, _ctx: &Ctx) -> Option<Cmd> {
        match action {
            Action::Repair | Action::Open => {
                let row = self.table.selected()?;
                Some(Cmd::Load(ask(LoadPreview(row.target), Reply::Preview)))
            }
            _ => None,
        }
    }

    fn on_reply(&mut self, reply: Reply) -> Vec<Cmd> {
        match reply {
            Reply::Page(p) => page_reply(&mut self.table, p),
            Reply::Preview(Ok(p)) => vec![Cmd::Dialog(Self::confirm(p))],
            // Not drift any more (repaired elsewhere): say so and show the list as it is now.
            Reply::Preview(Err(report)) => vec![
                Cmd::Error {
                    title: "Cannot repair this row".into(),
                    report,
                },
                Cmd::Reload,
            ],
        }
    }

    fn commands(&self) -> &'static [&'static str] {
        &["drift"]
    }

    fn command(&mut self, _cmd: &str, _arg: &str) -> Vec<Cmd> {
        vec![Cmd::Reload]
    }
}
