//! One audit screen over users, trusts and mandate audit rows: filters and export.

use ratatui::layout::Constraint;

use super::{Cmd, Screen};
use crate::tui::action::{ListKey, Op};
use crate::tui::keymap::Action;
use crate::tui::widgets::table::{Column, TableView};

pub struct AuditScreen {
    pub table: TableView,
    /// The next export writes JSON (toggled by pressing export twice).
    pub export_json: bool,
}

impl Default for AuditScreen {
    fn default() -> Self {
        Self::new()
    }
}

impl AuditScreen {
    pub fn new() -> Self {
        Self {
            table: TableView::new(
                ListKey::Audit,
                "Audit",
                vec![
                    Column::new("When", "occurred_at", Constraint::Length(16)),
                    Column::new("Area", "source", Constraint::Length(8)).filterable(),
                    Column::new("Action", "action", Constraint::Length(16)).filterable(),
                    Column::new("Actor", "actor", Constraint::Fill(2)).filterable(),
                    Column::new("Subject", "subject_name", Constraint::Fill(3)).filterable(),
                    Column::new("Via", "via", Constraint::Length(4)).filterable(),
                ],
            ),
            export_json: false,
        }
    }
}

impl Screen for AuditScreen {
    fn table(&self) -> &TableView {
        &self.table
    }
    fn table_mut(&mut self) -> &mut TableView {
        &mut self.table
    }
    fn actions(&self) -> &'static [Action] {
        &[Action::Export]
    }

    fn on_action(&mut self, action: Action) -> Option<Cmd> {
        match action {
            Action::Export => {
                let json = self.export_json;
                self.export_json = !self.export_json;
                Some(Cmd::Run(Op::ExportAudit {
                    json,
                    query: self.table.query.clone(),
                }))
            }
            _ => None,
        }
    }
}
