//! Stuck user registrations (pending, roles_pending, needs_cleanup): retry, roll back, resolve.

pub mod data;

use std::sync::Arc;

use ratatui::layout::Constraint;

use super::{Cmd, Ctx, Screen, page_reply, shown};
use crate::tui::action::{ErrorReport, OpBox, Reply};
use crate::tui::keymap::Action;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::{Field, Form, v_required_text};
use crate::tui::widgets::table::{Column, TableView, Typed};
use data::{RegistrationOp, RegistrationRow};

pub struct RegistrationsScreen {
    pub table: Typed<RegistrationRow>,
}

impl Default for RegistrationsScreen {
    fn default() -> Self {
        Self::new()
    }
}

impl RegistrationsScreen {
    pub fn new() -> Self {
        Self {
            table: Typed::new(TableView::new(
                "registrations",
                Arc::new(data::Registrations),
                "Stuck registrations",
                vec![
                    Column::new("Email", "email", Constraint::Fill(3)),
                    Column::filter_only("State", "state", Constraint::Length(14)),
                    Column::plain("Roles", Constraint::Length(18)),
                    Column::plain("Last error", Constraint::Fill(3)),
                    Column::new("Created", "created_at", Constraint::Length(16)),
                ],
            )),
        }
    }
}

impl Screen for RegistrationsScreen {
    fn table(&self) -> &TableView {
        &self.table.view
    }
    fn table_mut(&mut self) -> &mut TableView {
        &mut self.table.view
    }
    fn actions(&self) -> &'static [Action] {
        &[Action::Retry, Action::Rollback, Action::Resolve]
    }

    fn on_action(&mut self, action: Action, _ctx: &Ctx) -> Option<Cmd> {
        let r = self.table.selected()?;
        let (id, email) = (r.id, shown(&r.email));
        match action {
            Action::Retry => Some(Cmd::Run(OpBox::new(RegistrationOp::Retry { id }))),
            Action::Rollback => Some(Cmd::Dialog(Dialog::Confirm {
                title: "Roll back registration".into(),
                message: format!(
                    "Roll back the registration of {email}? The identity this registration created is deleted."
                ),
                op: OpBox::new(RegistrationOp::Rollback { id }),
            })),
            Action::Resolve => Some(Cmd::OpenForm(Form::op(
                format!("Mark {email} resolved"),
                vec![Field::text("Note", "", v_required_text)],
                move |f| {
                    OpBox::new(RegistrationOp::Resolve {
                        id,
                        note: f.text(0),
                    })
                },
            ))),
            _ => None,
        }
    }

    fn commands(&self) -> &'static [&'static str] {
        &["reconcile"]
    }

    /// `:reconcile`: settles `pending` rows older than a minute (by proof), on request only.
    fn command(&mut self, _cmd: &str, _arg: &str) -> Vec<Cmd> {
        vec![Cmd::Run(OpBox::new(RegistrationOp::Reconcile))]
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
