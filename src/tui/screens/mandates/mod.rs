//! Mandates (tenants) and, below one, its members ([`members`]).

pub mod data;
pub mod members;

use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};

use super::{Cmd, Ctx, Screen, page_reply, shown};
use crate::domain::PermissionRef;
use crate::tui::action::{ErrorReport, OpBox, Reply};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::{Field, Form, v_optional_text, v_required_text};
use crate::tui::widgets::table::{Column, TableView, Typed};
use data::{MandateOp, MandateRow};
use members::MembersView;

/// The plans offered until the catalogue has been read (its reference data, migration 0002).
pub const PLANS: &[&str] = &["TRIAL_14D", "STARTER", "TEAM", "ENTERPRISE"];

pub struct MandatesScreen {
    pub table: Typed<MandateRow>,
    /// The members of the mandate opened with Enter (Esc goes back).
    pub members: Option<MembersView>,
    /// The plan catalogue's keys, once read (asked for with the first page).
    pub plans: Option<Vec<String>>,
    plans_asked: bool,
}

impl Default for MandatesScreen {
    fn default() -> Self {
        Self::new()
    }
}

impl MandatesScreen {
    pub fn new() -> Self {
        Self {
            table: Typed::new(TableView::new(
                "mandates",
                Arc::new(data::Mandates),
                "Mandates",
                vec![
                    Column::new("Name", "name", Constraint::Fill(3)),
                    Column::new("Label", "label", Constraint::Fill(3)),
                    Column::new("Enabled", "enabled", Constraint::Length(8)).filterable(),
                    Column::new("Created", "created_at", Constraint::Length(16)),
                ],
            )),
            members: None,
            plans: None,
            plans_asked: false,
        }
    }

    fn on_mandate_action(&mut self, action: Action) -> Option<Cmd> {
        match action {
            Action::New => Some(Cmd::OpenForm(create_form(self.plans.as_deref()))),
            Action::Open => {
                let m = self.table.selected()?;
                self.members = Some(MembersView::new(m.id, shown(&m.name)));
                Some(Cmd::Reload)
            }
            Action::Edit => {
                let m = self.table.selected()?;
                let id = m.id;
                Some(Cmd::OpenForm(Form::op(
                    "Edit mandate",
                    vec![
                        Field::text("Name", &shown(&m.name), v_required_text),
                        Field::text(
                            "Label",
                            &shown(m.label.as_deref().unwrap_or("")),
                            v_optional_text,
                        ),
                        Field::check("Enabled", m.enabled),
                    ],
                    move |f| {
                        OpBox::new(MandateOp::Update {
                            id,
                            name: f.text(0),
                            label: f.text(1),
                            enabled: f.flag(2),
                        })
                    },
                )))
            }
            Action::Delete => {
                let m = self.table.selected()?;
                let name = shown(&m.name);
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: "Delete mandate".into(),
                    message: format!(
                        "Soft-delete mandate {name}? It is disabled and hidden, and can be restored until it is purged after the retention period."
                    ),
                    op: OpBox::new(MandateOp::SoftDelete {
                        id: m.id,
                        name: m.name.clone(),
                    }),
                }))
            }
            Action::HardDelete => {
                let m = self.table.selected()?;
                let name = shown(&m.name);
                Some(Cmd::Dialog(Dialog::type_name(
                    "Hard-delete mandate",
                    format!(
                        "Hard-delete {name} with all its members, roles, billing and audit links."
                    ),
                    name.clone(),
                    OpBox::new(MandateOp::HardDelete {
                        id: m.id,
                        name: m.name.clone(),
                    }),
                )))
            }
            _ => None,
        }
    }
}

/// The create form, offering the catalogue's plans (or [`PLANS`] before it was read).
pub fn create_form(plans: Option<&[String]>) -> Form {
    let plans = match plans {
        Some(p) if !p.is_empty() => p.to_vec(),
        _ => PLANS.iter().map(|s| s.to_string()).collect(),
    };
    Form::op(
        "Create mandate",
        vec![
            Field::text("Name", "", v_required_text),
            Field::text("Label", "", v_optional_text),
            Field::select("Plan", plans, 0),
            Field::check("Enabled", true),
        ],
        |f| {
            OpBox::new(MandateOp::Create {
                name: f.text(0),
                label: f.text(1),
                plan: f.text(2),
                enabled: f.flag(3),
            })
        },
    )
}

impl Screen for MandatesScreen {
    fn table(&self) -> &TableView {
        match &self.members {
            Some(m) => &m.table.view,
            None => &self.table.view,
        }
    }
    fn table_mut(&mut self) -> &mut TableView {
        match &mut self.members {
            Some(m) => &mut m.table.view,
            None => &mut self.table.view,
        }
    }
    fn actions(&self) -> &'static [Action] {
        match &self.members {
            Some(_) => members::ACTIONS,
            None => &[
                Action::Open,
                Action::New,
                Action::Edit,
                Action::Delete,
                Action::HardDelete,
            ],
        }
    }

    fn on_action(&mut self, action: Action, _ctx: &Ctx) -> Option<Cmd> {
        if action == Action::Back {
            return self.members.take().map(|_| Cmd::Done);
        }
        match self.members.as_mut() {
            Some(m) => m.on_action(action),
            None => self.on_mandate_action(action),
        }
    }

    fn on_reload(&mut self) -> Vec<Cmd> {
        if std::mem::replace(&mut self.plans_asked, true) {
            return Vec::new();
        }
        vec![Cmd::Load {
            slot: "plans",
            job: Box::new(data::LoadPlans),
        }]
    }

    fn on_reply(
        &mut self,
        slot: &'static str,
        id: u64,
        result: Result<Reply, ErrorReport>,
    ) -> Vec<Cmd> {
        if slot == "plans" {
            // Best effort: without the catalogue the form offers the reference plans.
            match result.map(|r| r.downcast::<data::PlanKeys>()) {
                Ok(Ok(p)) => self.plans = Some(p.0),
                Ok(Err(_)) => {}
                Err(e) => tracing::warn!("plan catalogue: {}", e.joined()),
            }
            return Vec::new();
        }
        match self.members.as_mut() {
            Some(m) if m.table.view.expects(id) => page_reply(&mut m.table, id, result),
            _ => page_reply(&mut self.table, id, result),
        }
    }

    fn top(&mut self) {
        self.members = None;
    }

    fn write_denied(&self, has: &dyn Fn(PermissionRef) -> bool) -> Option<&'static str> {
        if self.members.is_none() && !has(PermissionRef::CanAccessAdminPanel) {
            return Some("creating, editing and deleting mandates requires a SysAdmin");
        }
        None
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, tick: u64) {
        super::render_table_with_detail(self.table(), area, buf, theme, tick);
    }
}
