//! Stuck user registrations (pending, roles_pending, needs_cleanup, conflict) for on-call:
//! the detail (id, email, sub, state with its meaning and next step, both causes, age, who
//! started it), and retry, roll back and resolve — each confirmed, each keeping the cursor on
//! the registration it acted on.

pub mod data;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};

use super::{Ctx, Screen, page_reply, render_detail, shown};
use crate::domain::PageQuery;
use crate::domain::{RegistrationId, RegistrationState};
use crate::service::registration_detail::{RegistrationDetail, RegistrationRepair, repairs};
use crate::service::versions::Version;
use crate::tui::action::{ErrorReport, LoadBox, OpBox, ask};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::{Field, Form, v_required_text};
use crate::tui::widgets::table::{Column, Fetched, TableView, Typed};
use data::{LoadRegistration, RegistrationOp, RegistrationRow};

/// (id, email, state, version) of the registration a repair acts on.
type Target = (
    RegistrationId,
    String,
    Option<RegistrationState>,
    Option<Version>,
);

/// What the registrations screen's reads come back as.
#[derive(Debug)]
pub enum Reply {
    Page(Fetched<RegistrationRow>),
    /// The full detail of the registration opened with Enter.
    Detail(Result<RegistrationDetail, ErrorReport>),
}

type Cmd = super::Cmd<Reply>;

pub struct RegistrationsScreen {
    pub table: Typed<RegistrationRow>,
    /// The open detail view (Enter; Esc closes it).
    pub detail: Option<OpenDetail>,
    /// The registration the last repair acted on: the cursor stays on it after the reload.
    pub focus: Option<RegistrationId>,
}

#[derive(Debug)]
pub struct OpenDetail {
    pub id: RegistrationId,
    pub email: String,
    pub detail: Option<RegistrationDetail>,
}

impl Default for RegistrationsScreen {
    fn default() -> Self {
        Self::new()
    }
}

impl RegistrationsScreen {
    pub fn new() -> Self {
        Self {
            table: Typed::new(
                "registrations",
                data::Registrations,
                "Stuck registrations",
                vec![
                    Column::new("Email", "email", Constraint::Fill(4)).identifying(),
                    Column::filter_only("State", "state", Constraint::Length(14)),
                    Column::plain("Roles", Constraint::Length(18)),
                    Column::plain("Last error", Constraint::Fill(2)),
                    Column::new("Created", "created_at", Constraint::Length(16)),
                ],
            ),
            detail: None,
            focus: None,
        }
    }

    /// What a repair applies to: the open detail's registration, else the selected row
    /// (id, email, state).
    /// The registration a repair acts on: its id, email, state and the version shown.
    fn target(&self) -> Option<Target> {
        let row = |id: RegistrationId| self.table.items().iter().find(|r| r.id == id);
        match &self.detail {
            Some(d) => Some((
                d.id,
                d.email.clone(),
                d.detail
                    .as_ref()
                    .map(|x| x.state)
                    .or_else(|| row(d.id).and_then(RegistrationRow::state)),
                d.detail
                    .as_ref()
                    .map(|x| x.version)
                    .or_else(|| row(d.id).map(|r| r.version))
                    .map(Version),
            )),
            None => self
                .table
                .selected()
                .map(|r| (r.id, r.email.clone(), r.state(), Some(Version(r.version)))),
        }
    }

    fn load(id: RegistrationId) -> Cmd {
        Cmd::Load(ask(LoadRegistration(id), Reply::Detail))
    }
}

impl Screen for RegistrationsScreen {
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
    /// Only the repairs the selected registration's state allows (a `needs_cleanup` row
    /// offers no retry; a settled one none).
    fn actions(&self) -> &'static [Action] {
        use Action::{Open, Resolve, Retry, Rollback};
        let Some(st) = self.target().and_then(|t| t.2) else {
            return &[Open, Retry, Rollback, Resolve];
        };
        let ok = repairs(st);
        let has = |r| ok.contains(&r);
        match (
            has(RegistrationRepair::Retry),
            has(RegistrationRepair::RollBack),
            has(RegistrationRepair::Resolve),
        ) {
            (true, true, true) => &[Open, Retry, Rollback, Resolve],
            (false, true, true) => &[Open, Rollback, Resolve],
            (false, false, true) => &[Open, Resolve],
            (true, true, false) => &[Open, Retry, Rollback],
            (true, false, true) => &[Open, Retry, Resolve],
            (true, false, false) => &[Open, Retry],
            (false, true, false) => &[Open, Rollback],
            (false, false, false) => &[Open],
        }
    }

    fn on_action(&mut self, action: Action, _ctx: &Ctx) -> Option<Cmd> {
        match action {
            Action::Back => return self.detail.take().map(|_| Cmd::Done),
            Action::Open => {
                let r = self.table.selected()?;
                let id = r.id;
                self.detail = Some(OpenDetail {
                    id,
                    email: r.email.clone(),
                    detail: None,
                });
                return Some(Self::load(id));
            }
            _ => {}
        }
        let (id, email, state, version) = self.target()?;
        let email = shown(&email);
        let wanted = match action {
            Action::Retry => RegistrationRepair::Retry,
            Action::Rollback => RegistrationRepair::RollBack,
            Action::Resolve => RegistrationRepair::Resolve,
            _ => return None,
        };
        if let Some(st) = state
            && !repairs(st).contains(&wanted)
        {
            return Some(Cmd::Refuse(format!(
                "the registration of {email} is {}: {} is not possible now",
                st.as_str(),
                match wanted {
                    RegistrationRepair::Retry => "retry",
                    RegistrationRepair::RollBack => "roll back",
                    RegistrationRepair::Resolve => "resolve",
                }
            )));
        }
        self.focus = Some(id);
        Some(match wanted {
            RegistrationRepair::Retry => Cmd::Dialog(Dialog::Confirm {
                title: "Retry registration".into(),
                message: format!(
                    "Retry the registration of {email}? Its requested roles are assigned now; \
                     retrying twice does no harm."
                ),
                op: OpBox::new(RegistrationOp::Retry { id, version }),
            }),
            RegistrationRepair::RollBack => Cmd::Dialog(Dialog::Confirm {
                title: "Roll back registration".into(),
                message: format!(
                    "Roll back the registration of {email}? The identity this registration \
                     created is deleted."
                ),
                op: OpBox::new(RegistrationOp::Rollback { id, version }),
            }),
            RegistrationRepair::Resolve => Cmd::OpenForm(Form::op(
                format!("Mark {email} resolved (say what you decided)"),
                vec![Field::text("Note", "", v_required_text)],
                move |f| {
                    OpBox::new(RegistrationOp::Resolve {
                        id,
                        note: f.text(0),
                        version,
                    })
                },
            )),
        })
    }

    fn commands(&self) -> &'static [&'static str] {
        &["reconcile"]
    }

    /// `:reconcile`: settles `pending` rows older than a minute (by proof), on request only.
    fn command(&mut self, _cmd: &str, _arg: &str) -> Vec<Cmd> {
        vec![Cmd::Run(OpBox::new(RegistrationOp::Reconcile))]
    }

    /// An open detail is read again with every reload (after a repair it shows the new state).
    fn on_reload(&mut self) -> Vec<Cmd> {
        match &self.detail {
            Some(d) => vec![Self::load(d.id)],
            None => Vec::new(),
        }
    }

    fn on_reply(&mut self, reply: Reply) -> Vec<Cmd> {
        let result = match reply {
            Reply::Page(p) => {
                let cmds = page_reply(&mut self.table, p);
                // Keep the cursor on the registration just repaired while it is still listed
                // (a completed one leaves the list; the cursor then stays where it was).
                if let Some(f) = self.focus
                    && let Some(i) = self.table.items().iter().position(|r| r.id == f)
                {
                    self.table.view.selected = i;
                }
                return cmds;
            }
            Reply::Detail(result) => result,
        };
        let Some(d) = self.detail.as_mut() else {
            return Vec::new();
        };
        match result {
            // The detail of the registration open now (Esc and Enter on another may have
            // opened a different one meanwhile).
            Ok(detail) if detail.id == d.id => {
                d.detail = Some(detail);
                Vec::new()
            }
            Ok(_) => Vec::new(),
            Err(report) => vec![Cmd::Error {
                title: "Could not load the registration".into(),
                report,
            }],
        }
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, tick: u64) {
        if let Some(d) = &self.detail {
            let lines = match &d.detail {
                Some(x) => data::detail_lines(x),
                None => vec![("".into(), "loading…".into())],
            };
            let title = format!("Registration of {} (Esc back)", shown(&d.email));
            render_detail(&lines, &title, area, buf, theme);
            return;
        }
        let Some([t, p]) = super::detail_split(area) else {
            self.table.view.render(area, buf, theme, true, tick);
            return;
        };
        self.table.view.render(t, buf, theme, true, tick);
        let lines = self
            .table
            .selected()
            .map(RegistrationRow::pane_lines)
            .unwrap_or_default();
        render_detail(&lines, "Detail (Enter: full)", p, buf, theme);
    }
}
