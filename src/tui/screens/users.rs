//! Users (from the directory cache with profiles and grants) and one user's detail.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};

use super::{Cmd, Screen, render_detail, render_table_with_detail};
use crate::domain::RoleRef;
use crate::tui::action::{ListKey, Op, RoleTarget};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::{Field, Form, FormKind, v_email, v_required_text};
use crate::tui::widgets::table::{Column, TableView};

pub struct UsersScreen {
    pub table: TableView,
    /// The open detail view: (sub, lines); None while closed.
    pub detail: Option<UserDetail>,
    /// The signed-in operator's sub: acting on oneself needs a typed confirmation.
    pub me: Option<String>,
}

#[derive(Debug, Default)]
pub struct UserDetail {
    pub sub: String,
    pub title: String,
    pub lines: Vec<(String, String)>,
    pub awaiting: Option<u64>,
}

impl Default for UsersScreen {
    fn default() -> Self {
        Self::new()
    }
}

fn role_names() -> Vec<String> {
    RoleRef::ALL.iter().map(|r| r.key().to_string()).collect()
}

impl UsersScreen {
    pub fn new() -> Self {
        Self {
            table: TableView::new(
                ListKey::Users,
                "Users",
                vec![
                    Column::new("Email", "email", Constraint::Fill(3)),
                    Column::new("Name", "name", Constraint::Fill(2)),
                    Column::new("Organisation", "organisation", Constraint::Fill(2)),
                    Column::filter_only("Roles", "role", Constraint::Length(18)),
                    Column::new("Enabled", "enabled", Constraint::Length(8)).filterable(),
                    Column::new("Status", "status", Constraint::Length(12)).filterable(),
                ],
            ),
            detail: None,
            me: None,
        }
    }

    fn is_me(&self, sub: &str) -> bool {
        self.me.as_deref() == Some(sub)
    }
}

/// The user an action applies to: the open detail's user, else the selected row.
struct Target {
    sub: String,
    email: String,
    name: String,
    organisation: String,
    enabled: bool,
}

impl UsersScreen {
    fn target(&self) -> Option<Target> {
        let row = match &self.detail {
            Some(d) => self.table.rows().iter().find(|r| r.id == d.sub)?,
            None => self.table.selected_row()?,
        };
        Some(Target {
            sub: row.id.clone(),
            email: row.cell(0).to_string(),
            name: row.cell(1).to_string(),
            organisation: row.cell(2).to_string(),
            enabled: row.cell(4) != "no",
        })
    }
}

impl Screen for UsersScreen {
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
            Action::Roles,
            Action::ToggleEnabled,
            Action::ResendInvite,
            Action::Edit,
            Action::Delete,
        ]
    }

    fn on_action(&mut self, action: Action) -> Option<Cmd> {
        match action {
            Action::Open => {
                let row = self.table.selected_row()?;
                self.detail = Some(UserDetail {
                    sub: row.id.clone(),
                    title: row.cell(0).to_string(),
                    ..Default::default()
                });
                Some(Cmd::OpenDetail {
                    row_id: row.id.clone(),
                })
            }
            Action::New => Some(Cmd::OpenForm(Form::new(
                FormKind::RegisterUser,
                "Register user",
                vec![
                    Field::text("Email", "", v_email),
                    Field::text("Name", "", v_required_text),
                    Field::text("Organisation", "", v_required_text),
                    Field::multi("Roles", role_names(), &["viewer"]),
                ],
            ))),
            Action::Roles => {
                // From the list or the detail view alike: the grants held now, read fresh.
                let (sub, title) = match &self.detail {
                    Some(d) => (d.sub.clone(), d.title.clone()),
                    None => {
                        let row = self.table.selected_row()?;
                        (row.id.clone(), row.cell(0).to_string())
                    }
                };
                Some(Cmd::OpenRoles {
                    form: Form::new(
                        FormKind::UserRoles { sub: sub.clone() },
                        format!("Roles of {title}"),
                        vec![Field::multi("Roles", Vec::new(), &[])],
                    ),
                    target: RoleTarget::User { sub },
                })
            }
            Action::ToggleEnabled => {
                let t = self.target()?;
                let enable = !t.enabled;
                let verb = if enable { "Enable" } else { "Disable" };
                if !enable && self.is_me(&t.sub) {
                    return Some(Cmd::Dialog(Dialog::type_to_confirm_self(
                        "Disable your own account",
                        format!(
                            "This is you: disabling {} signs you out and you will not be able \
                             to sign in again until another operator enables you. Type your \
                             email to confirm.",
                            t.email
                        ),
                        t.email.clone(),
                        Op::SetUserEnabled {
                            sub: t.sub,
                            email: t.email,
                            enabled: false,
                        },
                    )));
                }
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: format!("{verb} user"),
                    message: if enable {
                        format!("Enable {}? They will be able to sign in again.", t.email)
                    } else {
                        format!(
                            "Disable {}? They will no longer be able to sign in.",
                            t.email
                        )
                    },
                    op: Op::SetUserEnabled {
                        sub: t.sub,
                        email: t.email,
                        enabled: enable,
                    },
                }))
            }
            Action::ResendInvite => {
                let t = self.target()?;
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: "Resend invitation".into(),
                    message: format!("Send the invitation to {} again?", t.email),
                    op: Op::ResendInvite {
                        sub: t.sub,
                        email: t.email,
                    },
                }))
            }
            Action::Edit => {
                let t = self.target()?;
                Some(Cmd::OpenForm(Form::new(
                    FormKind::EditProfile { sub: t.sub },
                    format!("Profile of {}", t.email),
                    vec![
                        Field::text("Name", &t.name, v_required_text),
                        Field::text("Organisation", &t.organisation, v_required_text),
                    ],
                )))
            }
            Action::Delete => {
                let t = self.target()?;
                let you = if self.is_me(&t.sub) {
                    "This is you: you will be signed out for good. "
                } else {
                    ""
                };
                Some(Cmd::Dialog(Dialog::type_name(
                    if you.is_empty() {
                        "Delete user"
                    } else {
                        "Delete your own account"
                    },
                    format!(
                        "{you}Delete {}: their grants and profile are removed and the directory \
                         identity is deleted.",
                        t.email
                    ),
                    t.email,
                    Op::DeleteUser { sub: t.sub },
                )))
            }
            _ => None,
        }
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, tick: u64) {
        match &self.detail {
            Some(d) => {
                let mut lines = d.lines.clone();
                if d.awaiting.is_some() {
                    lines.push(("".into(), "loading…".into()));
                }
                render_detail(
                    &lines,
                    &format!("User {} (Esc back)", d.title),
                    area,
                    buf,
                    theme,
                );
            }
            None => render_table_with_detail(&self.table, area, buf, theme, tick),
        }
    }
}
