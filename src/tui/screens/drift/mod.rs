//! Drift: where the directory, the global grants and the mandate memberships disagree (the
//! service's report, mandates left without a working admin first). `p` (or Enter) on a row
//! reads the repair's preview — exactly what changes in PostgreSQL and in the directory, and
//! the audit rows — and asks for a confirmation in proportion (typing the name for a delete
//! or a mandate left without admin); the service re-checks the preview, re-authorises and
//! audits when it runs. `A` repairs the selected row's whole class: the count and the first
//! row's preview up front, the name typed, then every row in batches (cancellable, with
//! progress). The title carries every class's true total.

pub mod data;

use ratatui::layout::Constraint;

use super::{Ctx, Screen, page_reply};
use crate::domain::PageQuery;
use crate::service::drift::{ClassRepairPlan, DriftTotals, RepairPreview};
use crate::tui::action::{ErrorReport, LoadBox, OpBox, ask};
use crate::tui::keymap::Action;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::table::{Column, Fetched, TableView, Typed};
use data::{
    DriftRow, LoadClassPlan, LoadPreview, LoadTotals, RepairClassOp, RepairOp, class_plan_text,
    needs_typed_confirmation, preview_text,
};

/// What the drift screen's reads come back as.
#[derive(Debug)]
pub enum Reply {
    Page(Fetched<DriftRow>),
    /// The repair preview of a row.
    Preview(Result<RepairPreview, ErrorReport>),
    /// The classes' totals (the title).
    Totals(Result<DriftTotals, ErrorReport>),
    /// What a whole-class repair would do.
    ClassPlan(Result<ClassRepairPlan, ErrorReport>),
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
                    Column::plain("Who", Constraint::Fill(3)).identifying(),
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

    /// The confirmation of a whole class's repair (always typed: it may touch thousands).
    pub fn confirm_class(p: ClassRepairPlan) -> Dialog {
        let message = format!("{}\nRepair the whole class?", class_plan_text(&p));
        let title = format!("Repair all {}: {}", p.class, p.class.title());
        Dialog::type_name(
            title,
            message,
            "repair".into(),
            OpBox::new(RepairClassOp(p)),
        )
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
        &[Action::Repair, Action::RepairClass]
    }

    fn on_action(&mut self, action: Action, _ctx: &Ctx) -> Option<Cmd> {
        match action {
            Action::Repair | Action::Open => {
                let row = self.table.selected()?;
                Some(Cmd::Load(ask(LoadPreview(row.target), Reply::Preview)))
            }
            Action::RepairClass => {
                let row = self.table.selected()?;
                Some(Cmd::Load(ask(
                    LoadClassPlan(row.target.class),
                    Reply::ClassPlan,
                )))
            }
            _ => None,
        }
    }

    fn on_reload(&mut self) -> Vec<Cmd> {
        vec![Cmd::Load(ask(LoadTotals, Reply::Totals))]
    }

    fn on_reply(&mut self, reply: Reply) -> Vec<Cmd> {
        match reply {
            Reply::Page(p) => page_reply(&mut self.table, p),
            Reply::Totals(Ok(t)) => {
                self.table.view.title = data::title(&t);
                Vec::new()
            }
            Reply::Totals(Err(_)) => Vec::new(),
            Reply::ClassPlan(Ok(p)) if p.total == 0 => vec![
                Cmd::Info(format!("{}: no rows left to repair", p.class)),
                Cmd::Reload,
            ],
            Reply::ClassPlan(Ok(p)) => vec![Cmd::Dialog(Self::confirm_class(p))],
            Reply::ClassPlan(Err(report)) => vec![Cmd::Error {
                title: "Cannot repair this class".into(),
                report,
            }],
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
