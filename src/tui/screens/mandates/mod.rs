//! Mandates (tenants) and, below one, its members ([`members`]).

pub mod bulk_data;
pub mod data;
pub mod detail;
pub mod members;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};

use super::{Ctx, Screen, page_reply, shown};
use crate::domain::{MandateId, PageQuery, PermissionRef};
use crate::service::mandates::MandatePatch;
use crate::service::plans::{MandateOverview, Plan};
use crate::service::versions::Version;
use crate::tui::action::{ErrorReport, LoadBox, OpBox, ask};
use crate::tui::keymap::Action;
use crate::tui::screens::undo::UndoView;
use crate::tui::theme::Theme;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::{Field, Form, v_optional_text, v_required_text};
use crate::tui::widgets::table::{Column, Fetched, TableView, Typed};
use bulk_data::BulkPlan;
use data::{DELETED, MandateOp, MandateRow, MemberRow, PlanKeys};
use detail::{LoadCatalogue, LoadOverview, create_form_described, overview_lines, plan_form};
use members::MembersView;

/// The plans offered until the catalogue has been read (its reference data, migration 0002).
pub const PLANS: &[&str] = &["TRIAL_14D", "STARTER", "TEAM", "ENTERPRISE"];

/// What the mandates screen's reads come back as (its members view's included).
#[derive(Debug)]
pub enum Reply {
    Page(Fetched<MandateRow>),
    /// A page of the open members list.
    MemberPage(Fetched<MemberRow>),
    /// The detail pane of the selected mandate.
    Overview(Result<MandateOverview, ErrorReport>),
    /// The catalogue for the plan picker of one mandate (its id and the version seen, and name).
    PlanPicker {
        id: (MandateId, Version),
        name: String,
        plans: Result<Vec<Plan>, ErrorReport>,
    },
    /// The catalogue with each plan's limits (read with the first page, for the create form).
    Catalogue(Result<Vec<Plan>, ErrorReport>),
    /// The catalogue's plan keys (read with the first page).
    Plans(Result<PlanKeys, ErrorReport>),
    /// The preview of a bulk action on the marked members.
    BulkPreview(Result<BulkPlan, ErrorReport>),
    /// The newest reversible change of the selected member, for `z`.
    MemberUndo(Result<UndoView, ErrorReport>),
}

type Cmd = super::Cmd<Reply>;

pub struct MandatesScreen {
    pub table: Typed<MandateRow>,
    /// The members of the mandate opened with Enter (Esc goes back).
    pub members: Option<MembersView>,
    /// The detail of the mandate last asked for, or why it could not be read.
    pub overview: Option<(MandateId, Result<MandateOverview, String>)>,
    /// The mandate whose detail was asked for last (not asked again while it stays
    /// selected).
    pub overview_for: Option<MandateId>,
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
            table: Typed::new(
                "mandates",
                data::Mandates,
                "Mandates",
                vec![
                    Column::new("Name", "name", Constraint::Fill(3)).identifying(),
                    Column::new("Label", "label", Constraint::Fill(2)),
                    Column::filter_only("Plan", "plan", Constraint::Length(10)),
                    Column::new("Enabled", "enabled", Constraint::Length(7)).filterable(),
                    Column::filter_only("Deleted", DELETED, Constraint::Length(10))
                        .only_when_filtered(),
                    Column::new("Created", "created_at", Constraint::Length(16)),
                ],
            ),
            members: None,
            overview: None,
            overview_for: None,
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
        vec![Cmd::Load(ask(LoadOverview(id), Reply::Overview))]
    }

    fn overview_reply(&mut self, result: Result<MandateOverview, ErrorReport>) -> Vec<Cmd> {
        let Some(id) = self.overview_for else {
            return Vec::new();
        };
        let got = match result {
            Ok(o) => Ok(o),
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

    fn plans_reply(
        &mut self,
        (id, version): (MandateId, Version),
        name: &str,
        result: Result<Vec<Plan>, ErrorReport>,
    ) -> Vec<Cmd> {
        match result {
            Ok(plans) => {
                self.catalogue = Some(plans.clone());
                let current = match &self.overview {
                    Some((oid, Ok(o))) if *oid == id => {
                        o.subscription.as_ref().map(|s| s.plan_key.clone())
                    }
                    _ => None,
                };
                vec![Cmd::OpenForm(plan_form(
                    (id, version),
                    name,
                    &plans,
                    current.as_deref(),
                ))]
            }
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
                let (id, name, version) = (m.id, m.name.clone(), m.version);
                Some(Cmd::Load(ask(LoadCatalogue, move |plans| {
                    Reply::PlanPicker {
                        id: (id, version),
                        name,
                        plans,
                    }
                })))
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
    type Reply = Reply;
    fn page(&self, query: PageQuery) -> LoadBox<Reply> {
        match &self.members {
            Some(m) => m.table.load(query, Reply::MemberPage),
            None => self.table.load(query, Reply::Page),
        }
    }
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
            Cmd::Load(ask(data::LoadPlans, Reply::Plans)),
            Cmd::Load(ask(LoadCatalogue, Reply::Catalogue)),
        ]
    }

    fn on_reply(&mut self, reply: Reply) -> Vec<Cmd> {
        match reply {
            Reply::Page(p) => {
                let mut cmds = page_reply(&mut self.table, p);
                // A reload (after a change too) reads the selected mandate's detail again.
                self.overview_for = None;
                cmds.extend(self.want_overview());
                cmds
            }
            Reply::Overview(r) => self.overview_reply(r),
            Reply::PlanPicker { id, name, plans } => self.plans_reply(id, &name, plans),
            Reply::Catalogue(r) => {
                // Best effort: without it the create form offers the bare plan keys.
                if let Ok(c) = r {
                    self.catalogue = Some(c);
                }
                Vec::new()
            }
            Reply::Plans(r) => {
                // Best effort: without the catalogue the form offers the reference plans.
                match r {
                    Ok(p) => self.plans = Some(p.0),
                    Err(e) => tracing::warn!("plan catalogue: {}", e.joined()),
                }
                Vec::new()
            }
            // The members view's own reads; dropped when it was closed meanwhile.
            Reply::MemberPage(p) => match self.members.as_mut() {
                Some(m) => {
                    let cmds = page_reply(&mut m.table, p);
                    m.show_marks();
                    cmds
                }
                None => Vec::new(),
            },
            Reply::BulkPreview(r) => self
                .members
                .as_mut()
                .map(|m| vec![m.preview_reply(r)])
                .unwrap_or_default(),
            Reply::MemberUndo(r) => self
                .members
                .as_ref()
                .map(|m| vec![m.undo_reply(r)])
                .unwrap_or_default(),
        }
    }

    fn on_submitted(&mut self) -> Vec<Cmd> {
        self.members
            .as_mut()
            .and_then(MembersView::submitted)
            .into_iter()
            .collect()
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
        match (&self.members, &self.overview, super::detail_split(area)) {
            (None, Some((id, o)), Some([t, d])) if Some(*id) == selected => {
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
