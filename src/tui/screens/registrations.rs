//! Stuck user registrations (pending, roles_pending, needs_cleanup): retry, roll back, resolve.

use ratatui::layout::Constraint;

use super::{Cmd, Screen, selected};
use crate::tui::action::{ListKey, Op};
use crate::tui::keymap::Action;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::{Field, Form, FormKind, v_required_text};
use crate::tui::widgets::table::{Column, TableView};

pub struct RegistrationsScreen {
    pub table: TableView,
}

impl Default for RegistrationsScreen {
    fn default() -> Self {
        Self::new()
    }
}

impl RegistrationsScreen {
    pub fn new() -> Self {
        Self {
            table: TableView::new(
                ListKey::Registrations,
                "Stuck registrations",
                vec![
                    Column::new("Email", "email", Constraint::Fill(3)),
                    Column::filter_only("State", "state", Constraint::Length(14)),
                    Column::plain("Roles", Constraint::Length(18)),
                    Column::plain("Last error", Constraint::Fill(3)),
                    Column::new("Created", "created_at", Constraint::Length(16)),
                ],
            ),
        }
    }
}

impl Screen for RegistrationsScreen {
    fn table(&self) -> &TableView {
        &self.table
    }
    fn table_mut(&mut self) -> &mut TableView {
        &mut self.table
    }
    fn actions(&self) -> &'static [Action] {
        &[Action::Retry, Action::Rollback, Action::Resolve]
    }

    fn on_action(&mut self, action: Action) -> Option<Cmd> {
        match action {
            Action::Retry => {
                let (id, _) = selected(&self.table)?;
                Some(Cmd::Run(Op::RetryRegistration { id }))
            }
            Action::Rollback => {
                let (id, email) = selected(&self.table)?;
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: "Roll back registration".into(),
                    message: format!(
                        "Roll back the registration of {email}? The identity this registration created is deleted."
                    ),
                    op: Op::RollbackRegistration { id },
                }))
            }
            Action::Resolve => {
                let (id, email) = selected(&self.table)?;
                Some(Cmd::OpenForm(Form::new(
                    FormKind::ResolveRegistration { id },
                    format!("Mark {email} resolved"),
                    vec![Field::text("Note", "", v_required_text)],
                )))
            }
            _ => None,
        }
    }
}
