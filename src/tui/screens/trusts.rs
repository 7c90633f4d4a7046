//! Trusts: register (then the one-time reveal panel), rotate the key, delete (type the name).

use ratatui::layout::Constraint;

use super::{Cmd, Screen, selected};
use crate::tui::action::{ListKey, Op};
use crate::tui::keymap::Action;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::{Field, Form, FormKind, NO_REGION, v_required_text, v_trust_code};
use crate::tui::widgets::table::{Column, TableView};

pub use crate::domain::trust::NHS_REGIONS as REGIONS;

pub struct TrustsScreen {
    pub table: TableView,
}

impl Default for TrustsScreen {
    fn default() -> Self {
        Self::new()
    }
}

pub fn register_form() -> Form {
    let mut regions = vec![NO_REGION.to_string()];
    regions.extend(REGIONS.iter().map(|r| r.to_string()));
    Form::new(
        FormKind::RegisterTrust,
        "Register trust",
        vec![
            Field::text("Name", "", v_required_text),
            Field::text("Code", "", v_trust_code),
            Field::select("Region", regions, 0),
        ],
    )
}

impl TrustsScreen {
    pub fn new() -> Self {
        Self {
            table: TableView::new(
                ListKey::Trusts,
                "Trusts",
                vec![
                    Column::new("Name", "name", Constraint::Fill(3)),
                    Column::new("Code", "code", Constraint::Length(16)),
                    Column::new("Region", "region", Constraint::Fill(2)).filterable(),
                    Column::new("Kit slot", "slot_number", Constraint::Length(10)),
                    Column::new("Created", "created_at", Constraint::Length(16)),
                ],
            ),
        }
    }
}

impl Screen for TrustsScreen {
    fn table(&self) -> &TableView {
        &self.table
    }
    fn table_mut(&mut self) -> &mut TableView {
        &mut self.table
    }
    fn actions(&self) -> &'static [Action] {
        &[Action::New, Action::Rotate, Action::Delete]
    }

    fn on_action(&mut self, action: Action) -> Option<Cmd> {
        match action {
            Action::New => Some(Cmd::OpenForm(register_form())),
            Action::Rotate => {
                let (id, name) = selected(&self.table)?;
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: "Rotate API key".into(),
                    message: format!(
                        "Mint a new API key for {name}? The current key stops working at once; the new one is shown once."
                    ),
                    op: Op::RotateTrustKey { id },
                }))
            }
            Action::Delete => {
                let (id, name) = selected(&self.table)?;
                Some(Cmd::Dialog(Dialog::type_name(
                    "Delete trust",
                    format!(
                        "Delete trust {name}? Its kit slot is freed; the audit keeps its name."
                    ),
                    name.clone(),
                    Op::DeleteTrust { id, name },
                )))
            }
            _ => None,
        }
    }
}
