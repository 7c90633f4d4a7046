//! Users (from the directory cache with profiles and grants) and one user's detail.

pub mod data;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};

use super::roles::RoleTarget;
use super::undo::{UndoView, UserUndoJob, undo_dialog};
use super::{Ctx, Screen, page_reply, render_detail, render_table_with_detail, shown};
use crate::domain::PageQuery;
use crate::domain::{RoleRef, UserSub};
use crate::tui::action::{ErrorReport, LoadBox, OpBox, ask};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::{Field, Form, v_email, v_required_text};
use crate::tui::widgets::table::{Column, Fetched, TableView, Typed};
use data::{DetailLines, LoadDetail, UserOp, UserRow};

/// What the users screen's reads come back as.
#[derive(Debug)]
pub enum Reply {
    Page(Fetched<UserRow>),
    /// The detail of the user opened with Enter.
    Detail(Result<DetailLines, ErrorReport>),
    /// The newest reversible change of the selected user, for `z`.
    Undo(Result<UndoView, ErrorReport>),
}

type Cmd = super::Cmd<Reply>;

pub struct UsersScreen {
    pub table: Typed<UserRow>,
    /// The open detail view; None while closed.
    pub detail: Option<UserDetail>,
}

#[derive(Debug)]
pub struct UserDetail {
    pub sub: UserSub,
    pub title: String,
    pub lines: Vec<(String, String)>,
    pub loading: bool,
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
            table: Typed::new(
                "users",
                data::Users,
                "Users",
                vec![
                    Column::new("Email", "email", Constraint::Fill(3)).identifying(),
                    Column::new("Name", "name", Constraint::Fill(2)).identifying(),
                    Column::new("Organisation", "organisation", Constraint::Fill(2)).optional(),
                    Column::filter_only("Roles", "role", Constraint::Length(18)).optional(),
                    Column::new("Enabled", "enabled", Constraint::Length(8)).filterable(),
                    Column::new("Status", "status", Constraint::Length(13)).filterable(),
                ],
            ),
            detail: None,
        }
    }

    /// The user an action applies to: the open detail's user, else the selected row.
    fn target(&self) -> Option<&UserRow> {
        match &self.detail {
            Some(d) => self.table.items().iter().find(|u| u.sub == d.sub),
            None => self.table.selected(),
        }
    }
}

/// Whether the user still waits for the first sign-in (the only state an invitation can be
/// sent again in).
fn awaits_first_sign_in(u: &UserRow) -> bool {
    u.status == "FORCE_CHANGE_PASSWORD"
}

/// What the users search matches (shown while typing a search; the store matches the sub
/// only for a term that looks like the start of an id, never a word such as "cafe").
pub const SEARCH_HELP: &str = "searches email, username, name, org; sub: UUID-like prefix only";

pub fn register_form() -> Form {
    Form::op(
        "Register user",
        vec![
            Field::text("Email", "", v_email),
            Field::text("Name", "", v_required_text),
            Field::text("Organisation", "", v_required_text),
            Field::multi("Roles", role_names(), &["viewer"]),
            Field::check("Skip invite", false),
        ],
        |f| {
            OpBox::new(UserOp::Register {
                email: f.text(0),
                name: f.text(1),
                organisation: f.text(2),
                roles: f.chosen(3),
                suppress_invite: f.flag(4),
            })
        },
    )
}

impl Screen for UsersScreen {
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
    /// The invitation is offered only to a user still waiting for the first sign-in.
    fn actions(&self) -> &'static [Action] {
        use Action::{Delete, Edit, New, Open, ResendInvite, Roles, ToggleEnabled};
        // `z` undo works here too (see on_action); it is left out of the footer, which is
        // full at 120 columns, and listed by `?`.
        if self.target().is_some_and(|u| !awaits_first_sign_in(u)) {
            return &[Open, New, Roles, ToggleEnabled, Edit, Delete];
        }
        &[Open, New, Roles, ToggleEnabled, ResendInvite, Edit, Delete]
    }

    fn on_action(&mut self, action: Action, ctx: &Ctx) -> Option<Cmd> {
        match action {
            Action::Back => self.detail.take().map(|_| Cmd::Done),
            Action::Open => {
                let u = self.table.selected()?;
                let sub = u.sub;
                self.detail = Some(UserDetail {
                    sub,
                    title: shown(&u.email),
                    lines: Vec::new(),
                    loading: true,
                });
                Some(Cmd::Load(ask(LoadDetail(sub), Reply::Detail)))
            }
            Action::New => Some(Cmd::OpenForm(register_form())),
            Action::Undo => {
                let u = self.table.selected()?;
                Some(Cmd::Load(ask(UserUndoJob(u.sub), Reply::Undo)))
            }
            Action::Roles => {
                // From the list or the detail view alike: the grants held now, read fresh.
                let (sub, title) = match &self.detail {
                    Some(d) => (d.sub, d.title.clone()),
                    None => {
                        let u = self.table.selected()?;
                        (u.sub, shown(&u.email))
                    }
                };
                Some(Cmd::OpenRoles {
                    form: Form::op(
                        format!("Roles of {title}"),
                        vec![Field::multi("Roles", Vec::new(), &[])],
                        move |f| {
                            // Exactly what the confirmation lists: ticked and unticked
                            // against the roles the form showed.
                            let chosen = f.chosen(0);
                            let held = f.held().unwrap_or_default();
                            OpBox::new(UserOp::SetRoles {
                                sub,
                                add: chosen
                                    .iter()
                                    .filter(|r| !held.contains(r))
                                    .cloned()
                                    .collect(),
                                remove: held
                                    .iter()
                                    .filter(|r| !chosen.contains(r))
                                    .cloned()
                                    .collect(),
                            })
                        },
                    )
                    .roles(),
                    target: RoleTarget::User { sub },
                })
            }
            Action::ToggleEnabled => {
                let u = self.target()?;
                let (sub, email) = (u.sub, shown(&u.email));
                let enable = !u.enabled;
                let verb = if enable { "Enable" } else { "Disable" };
                let op = OpBox::new(UserOp::SetEnabled {
                    sub,
                    email: u.email.clone(),
                    enabled: enable,
                    version: Some(u.version),
                });
                if !enable && ctx.is_me(&sub) {
                    return Some(Cmd::Dialog(Dialog::type_to_confirm_self(
                        "Disable your own account",
                        format!(
                            "This is you: disabling {email} signs you out and you will not be \
                             able to sign in again until another operator enables you. Type \
                             your email to confirm."
                        ),
                        email,
                        op,
                    )));
                }
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: format!("{verb} user"),
                    message: if enable {
                        format!("Enable {email}? They will be able to sign in again.")
                    } else {
                        format!("Disable {email}? They will no longer be able to sign in.")
                    },
                    op,
                }))
            }
            Action::ResendInvite => {
                let u = self.target()?;
                if !awaits_first_sign_in(u) {
                    return Some(Cmd::Refuse(format!(
                        "{} is {}: an invitation goes only to a user who has not signed in yet",
                        shown(&u.email),
                        shown(&u.status)
                    )));
                }
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: "Resend invitation".into(),
                    message: format!("Send the invitation to {} again?", shown(&u.email)),
                    op: OpBox::new(UserOp::ResendInvite {
                        sub: u.sub,
                        email: u.email.clone(),
                    }),
                }))
            }
            Action::Edit => {
                let u = self.target()?;
                let (sub, version) = (u.sub, Some(u.version));
                Some(Cmd::OpenForm(Form::op(
                    format!("Profile of {}", shown(&u.email)),
                    vec![
                        Field::text(
                            "Name",
                            &shown(u.name.as_deref().unwrap_or("")),
                            v_required_text,
                        ),
                        Field::text(
                            "Organisation",
                            &shown(u.organisation.as_deref().unwrap_or("")),
                            v_required_text,
                        ),
                    ],
                    move |f| {
                        OpBox::new(UserOp::EditProfile {
                            sub,
                            version,
                            name: f.text(0),
                            organisation: f.text(1),
                        })
                    },
                )))
            }
            Action::Delete => {
                let u = self.target()?;
                let email = shown(&u.email);
                let you = if ctx.is_me(&u.sub) {
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
                        "{you}Delete {email}: their grants and profile are removed and the \
                         directory identity is deleted."
                    ),
                    email,
                    OpBox::new(UserOp::Delete {
                        sub: u.sub,
                        version: Some(u.version),
                    }),
                )))
            }
            _ => None,
        }
    }

    fn on_reply(&mut self, reply: Reply) -> Vec<Cmd> {
        let result = match reply {
            Reply::Page(p) => return page_reply(&mut self.table, p),
            Reply::Undo(result) => {
                let who = self
                    .table
                    .selected()
                    .map(|u| shown(&u.email))
                    .unwrap_or_default();
                return vec![match result {
                    Ok(v) => undo_dialog(&v, &who, ""),
                    Err(report) => Cmd::Error {
                        title: "Undo failed".into(),
                        report,
                    },
                }];
            }
            Reply::Detail(result) => result,
        };
        let Some(d) = self.detail.as_mut() else {
            return Vec::new();
        };
        d.loading = false;
        match result {
            Ok(lines) => {
                d.lines = lines
                    .into_iter()
                    .map(|(k, v)| (k, v.into_string()))
                    .collect();
                Vec::new()
            }
            Err(report) => vec![Cmd::Error {
                title: "Could not load the user".into(),
                report,
            }],
        }
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, tick: u64) {
        match &self.detail {
            Some(d) => {
                let mut lines = d.lines.clone();
                if d.loading {
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
            None => {
                render_table_with_detail(&self.table.view, area, buf, theme, tick);
                if self.table.view.search_active {
                    // What `/` matches, on the table's bottom border while typing.
                    let w = if area.width >= 120 {
                        area.width * 68 / 100
                    } else {
                        area.width
                    };
                    let room = w.saturating_sub(40) as usize;
                    let hint: String = format!(" {SEARCH_HELP} ").chars().take(room).collect();
                    buf.set_string(
                        area.x + 2,
                        area.y + area.height.saturating_sub(1),
                        hint,
                        theme.muted,
                    );
                }
            }
        }
    }
}
