//! One audit screen over users, trusts and mandate audit rows: filters, a time range
//! (`:since`, `:until`) and export.

pub mod data;

use std::sync::Arc;

use ratatui::layout::Constraint;

use super::{Cmd, Ctx, Screen, page_reply};
use crate::tui::action::{ErrorReport, OpBox, Reply};
use crate::tui::keymap::Action;
use crate::tui::widgets::table::{Column, TableView, Typed};
use data::{AuditRow, Export};

pub struct AuditScreen {
    pub table: Typed<AuditRow>,
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
            table: Typed::new(TableView::new(
                "audit",
                Arc::new(data::Audit),
                "Audit",
                vec![
                    Column::new("When", "occurred_at", Constraint::Length(16)),
                    Column::new("Area", "source", Constraint::Length(8)).filterable(),
                    Column::new("Action", "action", Constraint::Length(16)).filterable(),
                    Column::new("Actor", "actor", Constraint::Fill(2)).filterable(),
                    Column::new("Subject", "subject_name", Constraint::Fill(3)).filterable(),
                    Column::new("Via", "via", Constraint::Length(4)).filterable(),
                ],
            )),
            export_json: false,
        }
    }
}

impl Screen for AuditScreen {
    fn table(&self) -> &TableView {
        &self.table.view
    }
    fn table_mut(&mut self) -> &mut TableView {
        &mut self.table.view
    }
    fn actions(&self) -> &'static [Action] {
        &[Action::Export]
    }

    fn on_action(&mut self, action: Action, _ctx: &Ctx) -> Option<Cmd> {
        match action {
            Action::Export => {
                let json = self.export_json;
                self.export_json = !self.export_json;
                Some(Cmd::Run(OpBox::new(Export {
                    json,
                    query: self.table.view.query.clone(),
                })))
            }
            _ => None,
        }
    }

    fn commands(&self) -> &'static [&'static str] {
        &["since", "until"]
    }

    /// `:since` / `:until` set the time range (YYYY-MM-DD or RFC 3339; no argument clears).
    fn command(&mut self, cmd: &str, arg: &str) -> Vec<Cmd> {
        let values = if arg.is_empty() {
            Vec::new()
        } else {
            vec![arg.to_string()]
        };
        self.table.view.set_filter(cmd, values);
        vec![Cmd::Reload]
    }

    fn on_reply(
        &mut self,
        _slot: &'static str,
        id: u64,
        result: Result<Reply, ErrorReport>,
    ) -> Vec<Cmd> {
        page_reply(&mut self.table, id, result)
    }
}
