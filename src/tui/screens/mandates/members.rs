//! The members of one mandate: add (user picker + roles), remove, roles, enable/disable.

use std::sync::Arc;

use ratatui::layout::Constraint;

use super::data::{MandateOp, MemberRow, Members};
use crate::domain::MandateId;
use crate::tui::action::OpBox;
use crate::tui::keymap::Action;
use crate::tui::screens::roles::RoleTarget;
use crate::tui::screens::{Cmd, shown};
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::{Field, Form};
use crate::tui::widgets::table::{Column, TableView, Typed};

pub const ACTIONS: &[Action] = &[
    Action::Back,
    Action::New,
    Action::Delete,
    Action::Roles,
    Action::ToggleEnabled,
];

/// Members of one mandate.
pub struct MembersView {
    pub mandate_id: MandateId,
    /// Sanitized, for titles and messages.
    pub mandate_name: String,
    pub table: Typed<MemberRow>,
}

impl MembersView {
    pub fn new(mandate_id: MandateId, mandate_name: String) -> Self {
        let title = format!("Members of {mandate_name}");
        Self {
            table: Typed::new(TableView::new(
                "members",
                Arc::new(Members(mandate_id)),
                title,
                vec![
                    Column::new("Email", "email", Constraint::Fill(3)),
                    Column::new("Name", "full_name", Constraint::Fill(2)),
                    Column::new("Roles", "roles", Constraint::Fill(2)),
                    Column::new("Admin", "admin", Constraint::Length(6)).filterable(),
                    Column::new("Enabled", "enabled", Constraint::Length(8)).filterable(),
                ],
            )),
            mandate_id,
            mandate_name,
        }
    }

    pub fn on_action(&mut self, action: Action) -> Option<Cmd> {
        let mandate_id = self.mandate_id;
        match action {
            // The roles on offer (global templates and this mandate's own) come from the service.
            Action::New => Some(Cmd::OpenRoles {
                form: Form::op(
                    format!("Add member to {}", self.mandate_name),
                    vec![
                        Field::user_pick("User"),
                        Field::multi("Roles", Vec::new(), &[]),
                    ],
                    move |f| {
                        OpBox::new(MandateOp::AddMember {
                            mandate_id,
                            user: f.text(0),
                            roles: f.chosen(1),
                        })
                    },
                )
                .with_choices(&["member"]),
                target: RoleTarget::Member {
                    mandate_id,
                    user_sub: None,
                },
            }),
            Action::Delete => {
                let m = self.table.selected()?;
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: "Remove member".into(),
                    message: format!("Remove {} from {}?", shown(m.who()), self.mandate_name),
                    op: OpBox::new(MandateOp::RemoveMember {
                        mandate_id,
                        user_sub: m.user_id,
                    }),
                }))
            }
            Action::ToggleEnabled => {
                let m = self.table.selected()?;
                let enable = !m.enabled;
                let verb = if enable { "Enable" } else { "Disable" };
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: format!("{verb} membership"),
                    message: format!(
                        "{verb} the membership of {} in {}?",
                        shown(m.who()),
                        self.mandate_name
                    ),
                    op: OpBox::new(MandateOp::SetMemberEnabled {
                        mandate_id,
                        user_sub: m.user_id,
                        enabled: enable,
                    }),
                }))
            }
            Action::Roles => {
                // Opened with the roles the member holds now, read fresh (not from the row).
                let m = self.table.selected()?;
                let user_sub = m.user_id;
                Some(Cmd::OpenRoles {
                    form: Form::op(
                        format!("Roles of {}", shown(m.who())),
                        vec![Field::multi("Roles", Vec::new(), &[])],
                        move |f| {
                            OpBox::new(MandateOp::SetMemberRoles {
                                mandate_id,
                                user_sub,
                                roles: f.chosen(0),
                            })
                        },
                    )
                    .roles(),
                    target: RoleTarget::Member {
                        mandate_id,
                        user_sub: Some(user_sub),
                    },
                })
            }
            _ => None,
        }
    }
}
