//! Mandates (tenants) and, below one, its members.

use ratatui::layout::Constraint;

use super::{Cmd, Screen, selected};
use crate::tui::action::{ListKey, Op, RoleTarget};
use crate::tui::keymap::Action;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::{Field, Form, FormKind, v_optional_text, v_required_text};
use crate::tui::widgets::table::{Column, TableView};

/// Plans of the catalogue (reference data).
pub const PLANS: &[&str] = &["TRIAL_14D", "STARTER", "TEAM", "ENTERPRISE"];

pub struct MandatesScreen {
    pub table: TableView,
}

impl Default for MandatesScreen {
    fn default() -> Self {
        Self::new()
    }
}

impl MandatesScreen {
    pub fn new() -> Self {
        Self {
            table: TableView::new(
                ListKey::Mandates,
                "Mandates",
                vec![
                    Column::new("Name", "name", Constraint::Fill(3)),
                    Column::new("Label", "label", Constraint::Fill(3)),
                    Column::new("Enabled", "enabled", Constraint::Length(8)).filterable(),
                    Column::new("Created", "created_at", Constraint::Length(16)),
                ],
            ),
        }
    }
}

pub fn create_form() -> Form {
    Form::new(
        FormKind::CreateMandate,
        "Create mandate",
        vec![
            Field::text("Name", "", v_required_text),
            Field::text("Label", "", v_optional_text),
            Field::select("Plan", PLANS.iter().map(|s| s.to_string()).collect(), 0),
            Field::check("Enabled", true),
        ],
    )
}

impl Screen for MandatesScreen {
    fn table(&self) -> &TableView {
        &self.table
    }
    fn table_mut(&mut self) -> &mut TableView {
        &mut self.table
    }
    fn actions(&self) -> &'static [Action] {
        &[
            Action::Open,
            Action::New,
            Action::Edit,
            Action::Delete,
            Action::HardDelete,
        ]
    }

    fn on_action(&mut self, action: Action) -> Option<Cmd> {
        match action {
            Action::New => Some(Cmd::OpenForm(create_form())),
            Action::Open => {
                let (id, name) = selected(&self.table)?;
                Some(Cmd::OpenMembers { id, name })
            }
            Action::Edit => {
                let row = self.table.selected_row()?;
                let enabled = row.cell(2) == "yes" || row.cell(2) == "true";
                Some(Cmd::OpenForm(Form::new(
                    FormKind::EditMandate { id: row.id.clone() },
                    "Edit mandate",
                    vec![
                        Field::text("Name", row.cell(0), v_required_text),
                        Field::text("Label", row.cell(1), v_optional_text),
                        Field::check("Enabled", enabled),
                    ],
                )))
            }
            Action::Delete => {
                let (id, name) = selected(&self.table)?;
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: "Delete mandate".into(),
                    message: format!(
                        "Soft-delete mandate {name}? It is disabled and hidden, and can be restored until it is purged after the retention period."
                    ),
                    op: Op::SoftDeleteMandate { id, name },
                }))
            }
            Action::HardDelete => {
                let (id, name) = selected(&self.table)?;
                Some(Cmd::Dialog(Dialog::type_name(
                    "Hard-delete mandate",
                    format!(
                        "Hard-delete {name} with all its members, roles, billing and audit links."
                    ),
                    name.clone(),
                    Op::HardDeleteMandate { id, name },
                )))
            }
            _ => None,
        }
    }
}

/// Members of one mandate.
pub struct MembersScreen {
    pub mandate_id: String,
    pub mandate_name: String,
    pub table: TableView,
}

impl MembersScreen {
    pub fn new(mandate_id: String, mandate_name: String) -> Self {
        let title = format!("Members of {mandate_name}");
        Self {
            table: TableView::new(
                ListKey::Members(mandate_id.clone()),
                title,
                vec![
                    Column::new("Email", "email", Constraint::Fill(3)),
                    Column::new("Name", "full_name", Constraint::Fill(2)),
                    Column::new("Roles", "roles", Constraint::Fill(2)),
                    Column::new("Admin", "admin", Constraint::Length(6)).filterable(),
                    Column::new("Enabled", "enabled", Constraint::Length(8)).filterable(),
                ],
            ),
            mandate_id,
            mandate_name,
        }
    }
}

impl Screen for MembersScreen {
    fn table(&self) -> &TableView {
        &self.table
    }
    fn table_mut(&mut self) -> &mut TableView {
        &mut self.table
    }
    fn actions(&self) -> &'static [Action] {
        &[
            Action::Back,
            Action::New,
            Action::Delete,
            Action::Roles,
            Action::ToggleEnabled,
        ]
    }

    fn on_action(&mut self, action: Action) -> Option<Cmd> {
        match action {
            // The roles on offer (global templates and this mandate's own) come from the service.
            Action::New => Some(Cmd::OpenRoles {
                form: Form::new(
                    FormKind::AddMember {
                        mandate_id: self.mandate_id.clone(),
                    },
                    format!("Add member to {}", self.mandate_name),
                    vec![
                        Field::user_pick("User"),
                        Field::multi("Roles", Vec::new(), &[]),
                    ],
                ),
                target: RoleTarget::Member {
                    mandate_id: self.mandate_id.clone(),
                    user_sub: None,
                },
            }),
            Action::Delete => {
                let (sub, email) = selected(&self.table)?;
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: "Remove member".into(),
                    message: format!("Remove {email} from {}?", self.mandate_name),
                    op: Op::RemoveMember {
                        mandate_id: self.mandate_id.clone(),
                        user_sub: sub,
                    },
                }))
            }
            Action::ToggleEnabled => {
                let row = self.table.selected_row()?;
                let enable = row.cell(4) == "no";
                let verb = if enable { "Enable" } else { "Disable" };
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: format!("{verb} membership"),
                    message: format!(
                        "{verb} the membership of {} in {}?",
                        row.cell(0),
                        self.mandate_name
                    ),
                    op: Op::SetMemberEnabled {
                        mandate_id: self.mandate_id.clone(),
                        user_sub: row.id.clone(),
                        enabled: enable,
                    },
                }))
            }
            Action::Roles => {
                // Opened with the roles the member holds now, read fresh (not from the row).
                let row = self.table.selected_row()?;
                Some(Cmd::OpenRoles {
                    form: Form::new(
                        FormKind::MemberRoles {
                            mandate_id: self.mandate_id.clone(),
                            user_sub: row.id.clone(),
                        },
                        format!("Roles of {}", row.cell(0)),
                        vec![Field::multi("Roles", Vec::new(), &[])],
                    ),
                    target: RoleTarget::Member {
                        mandate_id: self.mandate_id.clone(),
                        user_sub: Some(row.id.clone()),
                    },
                })
            }
            _ => None,
        }
    }
}
