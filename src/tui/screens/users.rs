//! Users (from the directory cache with profiles and grants) and one user's detail.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};

use super::{Cmd, Screen, render_detail, render_table_with_detail};
use crate::domain::RoleRef;
use crate::tui::action::ListKey;
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crate::tui::widgets::form::{Field, Form, FormKind, v_email, v_required_text};
use crate::tui::widgets::table::{Column, TableView};

pub struct UsersScreen {
    pub table: TableView,
    /// The open detail view: (sub, lines); None while closed.
    pub detail: Option<UserDetail>,
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
        }
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
        &[Action::Open, Action::New, Action::Roles]
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
                let (sub, title, current) = match &self.detail {
                    Some(d) => (d.sub.clone(), d.title.clone(), String::new()),
                    None => {
                        let row = self.table.selected_row()?;
                        (
                            row.id.clone(),
                            row.cell(0).to_string(),
                            row.cell(3).to_string(),
                        )
                    }
                };
                let current: Vec<&str> = current.split(',').map(str::trim).collect();
                Some(Cmd::OpenForm(Form::new(
                    FormKind::UserRoles { sub },
                    format!("Roles of {title}"),
                    vec![Field::multi("Roles", role_names(), &current)],
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
