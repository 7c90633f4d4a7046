//! Mandates (tenants) and, below one, its members ([`members`]).

pub mod bulk_data;
pub mod data;
pub mod detail;
pub mod members;

use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};

use super::{Cmd, Ctx, Screen, page_reply, shown};
use crate::domain::{MandateId, PermissionRef};
use crate::service::mandates::MandatePatch;
use crate::service::plans::{MandateOverview, Plan};
use crate::service::versions::Version;
use crate::tui::action::{ErrorReport, OpBox, Reply};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::{Field, Form, v_optional_text, v_required_text};
use crate::tui::widgets::table::{Column, TableView, Typed};
use data::{DELETED, MandateOp, MandateRow};
use detail::{LoadCatalogue, LoadOverview, create_form_described, overview_lines, plan_form};
use members::MembersView;

/// The plans offered until the catalogue has been read (its reference data, migration 0002).
pub const PLANS: &[&str] = &["TRIAL_14D", "STARTER", "TEAM", "ENTERPRISE"];

pub struct MandatesScreen {
    pub table: Typed<MandateRow>,
    /// The members of the mandate opened with Enter (Esc goes back).
    pub members: Option<MembersView>,
    /// The detail of the mandate last asked for, or why it could not be read.
    pub overview: Option<(MandateId, Result<MandateOverview, String>)>,
    /// The mandate whose detail was asked for last (a reply for another is stale).
    pub overview_for: Option<MandateId>,
    /// The mandate (id, name) whose plan picker waits for the catalogue.
    pub plan_for: Option<(MandateId, String, Version)>,
    /// The plan catalogue with each plan's limits (the create form describes them).
    pub catalogue: Option<Vec<Plan>>,
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
                    Column::new("Label", "label", Constraint::Fill(2)),
                    Column::filter_only("Plan", "plan", Constraint::Length(10)),
                    Column::new("Enabled", "enabled", Constraint::Length(7)).filterable(),
                    Column::filter_only("Deleted", DELETED, Constraint::Length(10)),
                    Column::new("Created", "created_at", Constraint::Length(16)),
                ],
            )),
            members: None,
            overview: None,
            overview_for: None,
            plan_for: None,
            catalogue: None,
            plans: None,
            plans_asked: false,
        }
    }

    /// Whether the list shows the soft-deleted mandates.
    pub fn deleted_view(&self) -> bool {
        self.table.view.filter_values_of(DELETED) == ["yes"]
    }

    /// Asks for the selected mandate's detail when it is not the one shown.
    fn want_overview(&mut self) -> Vec<Cmd> {
        if self.members.is_some() {
            return Vec::new();
        }
        let Some(id) = self.table.selected().map(|m| m.id) else {
            return Vec::new();
        };
        if self.overview_for == Some(id) {
            return Vec::new();
        }
        self.overview_for = Some(id);
        vec![Cmd::Load {
            slot: "overview",
            job: Box::new(LoadOverview(id)),
        }]
    }

    fn overview_reply(&mut self, result: Result<Reply, ErrorReport>) -> Vec<Cmd> {
        let Some(id) = self.overview_for else {
            return Vec::new();
        };
        let got = match result.map(|r| r.downcast::<MandateOverview>()) {
            Ok(Ok(o)) if o.mandate.id == id => Ok(*o),
            Ok(_) => return Vec::new(),
            Err(e) if e.revoked => {
                return vec![Cmd::Error {
                    title: "Could not load the mandate".into(),
                    report: e,
                }];
            }
            Err(e) => Err(e.joined()),
        };
        self.overview = Some((id, got));
        Vec::new()
    }

    fn plans_reply(&mut self, result: Result<Reply, ErrorReport>) -> Vec<Cmd> {
        let Some((id, name, version)) = self.plan_for.take() else {
            return Vec::new();
        };
        match result.map(|r| r.downcast::<Vec<Plan>>()) {
            Ok(Ok(plans)) => {
                self.catalogue = Some((*plans).clone());
                let current = match &self.overview {
                    Some((oid, Ok(o))) if *oid == id => {
                        o.subscription.as_ref().map(|s| s.plan_key.clone())
                    }
                    _ => None,
                };
                vec![Cmd::OpenForm(plan_form(
                    (id, version),
                    &name,
                    &plans,
                    current.as_deref(),
                ))]
            }
            Ok(Err(_)) => Vec::new(),
            Err(report) => vec![Cmd::Error {
                title: "Could not load the plans".into(),
                report,
            }],
        }
    }

    fn on_mandate_action(&mut self, action: Action) -> Option<Cmd> {
        match action {
            Action::New => Some(Cmd::OpenForm(match &self.catalogue {
                Some(c) if !c.is_empty() => create_form_described(c),
                _ => create_form(self.plans.as_deref()),
            })),
            Action::Open => {
                let m = self.table.selected()?;
                self.members = Some(MembersView::new(m.id, shown(&m.name)));
                Some(Cmd::Reload)
            }
            Action::Edit => {
                let m = self.table.selected()?;
                let id = m.id;
                let (version, seen_name) = (m.version, m.name.clone());
                let (shown_name, shown_label) =
                    (shown(&m.name), shown(m.label.as_deref().unwrap_or("")));
                let shown_enabled = m.enabled;
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
                        // Only what the operator changed is sent: a field left as shown
                        // keeps whatever is there now, and the version refuses the save
                        // when anything changed since the form opened.
                        let (name, label, enabled) = (f.text(0), f.text(1), f.flag(2));
                        OpBox::new(MandateOp::Update {
                            id,
                            name: seen_name.clone(),
                            patch: MandatePatch {
                                name: (name != shown_name).then_some(name),
                                label: (label != shown_label).then_some(Some(label)),
                                enabled: (enabled != shown_enabled).then_some(enabled),
                            },
                            version,
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
                        version: m.version,
                    }),
                }))
            }
            Action::Restore => {
                let m = self.table.selected()?;
                let name = shown(&m.name);
                if m.deleted_at.is_none() {
                    return Some(Cmd::Refuse(format!(
                        "{name} is not deleted (:deleted lists the deleted mandates)"
                    )));
                }
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: "Restore mandate".into(),
                    message: format!(
                        "Restore mandate {name}? It comes back with the enabled state it had when it was deleted, with its members."
                    ),
                    op: OpBox::new(MandateOp::Restore {
                        id: m.id,
                        name: m.name.clone(),
                        version: m.version,
                    }),
                }))
            }
            Action::ChangePlan => {
                let m = self.table.selected()?;
                if m.deleted_at.is_some() {
                    return Some(Cmd::Refuse(format!(
                        "{} is deleted: restore it (R) before changing its plan",
                        shown(&m.name)
                    )));
                }
                self.plan_for = Some((m.id, m.name.clone(), m.version));
                Some(Cmd::Load {
                    slot: "plan_picker",
                    job: Box::new(LoadCatalogue),
                })
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
                        version: m.version,
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
            None if self.deleted_view() => &[Action::Restore, Action::HardDelete, Action::Back],
            None => &[
                Action::Open,
                Action::New,
                Action::Edit,
                Action::Delete,
                Action::HardDelete,
                Action::ChangePlan,
            ],
        }
    }

    fn on_action(&mut self, action: Action, _ctx: &Ctx) -> Option<Cmd> {
        if action == Action::Back {
            if self.members.is_none() && self.deleted_view() {
                // Esc leaves the deleted view for the live list.
                self.table.view.set_filter(DELETED, Vec::new());
                return Some(Cmd::Reload);
            }
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
        vec![
            Cmd::Load {
                slot: "plans",
                job: Box::new(data::LoadPlans),
            },
            Cmd::Load {
                slot: "catalogue",
                job: Box::new(LoadCatalogue),
            },
        ]
    }

    fn on_reply(
        &mut self,
        slot: &'static str,
        id: u64,
        result: Result<Reply, ErrorReport>,
    ) -> Vec<Cmd> {
        match slot {
            "overview" => return self.overview_reply(result),
            "plan_picker" => return self.plans_reply(result),
            "catalogue" => {
                // Best effort: without it the create form offers the bare plan keys.
                if let Ok(Ok(c)) = result.map(|r| r.downcast::<Vec<Plan>>()) {
                    self.catalogue = Some(*c);
                }
                return Vec::new();
            }
            _ => {}
        }
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
            Some(m) if m.table.view.expects(id) => {
                let cmds = page_reply(&mut m.table, id, result);
                m.show_marks();
                cmds
            }
            Some(m) if matches!(slot, "form" | "undo") => vec![m.on_reply(slot, result)],
            _ => {
                let mut cmds = page_reply(&mut self.table, id, result);
                if slot == "page" {
                    // A reload (after a change too) reads the selected mandate's detail again.
                    self.overview_for = None;
                    cmds.extend(self.want_overview());
                }
                cmds
            }
        }
    }

    fn status(&self) -> Option<String> {
        self.members.as_ref().and_then(MembersView::status)
    }

    fn on_select(&mut self) -> Vec<Cmd> {
        self.want_overview()
    }

    fn on_live_change(&mut self) -> Vec<Cmd> {
        // The detail of the selected mandate is read again (its plan, members, admins).
        self.overview_for = None;
        self.want_overview()
    }

    fn commands(&self) -> &'static [&'static str] {
        &["deleted", "live"]
    }

    /// `:deleted` shows the soft-deleted mandates (restore with R), `:live` the live ones.
    fn command(&mut self, cmd: &str, _arg: &str) -> Vec<Cmd> {
        self.members = None;
        let values = if cmd == "deleted" {
            vec!["yes".to_string()]
        } else {
            Vec::new()
        };
        self.table.view.set_filter(DELETED, values);
        vec![Cmd::Reload]
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
        let selected = self.table.selected().map(|m| m.id);
        match (&self.members, &self.overview) {
            (None, Some((id, o))) if area.width >= 120 && Some(*id) == selected => {
                let [t, d] =
                    Layout::horizontal([Constraint::Percentage(68), Constraint::Percentage(32)])
                        .areas(area);
                self.table.view.render(t, buf, theme, true, tick);
                let lines = match o {
                    Ok(o) => overview_lines(o),
                    Err(e) => vec![("Detail unavailable".to_string(), e.clone())],
                };
                super::render_detail(&lines, "Mandate", d, buf, theme);
            }
            _ => super::render_table_with_detail(self.table(), area, buf, theme, tick),
        }
    }
}
