//! One folder per screen, each owning its feature: `mod.rs` (state, key handling, rendering),
//! `data.rs` (its typed rows with their `cells()`, the list source and the operations it
//! runs, over service functions), and its forms and strings. The router (`tui/app`) knows
//! only the [`Screen`] trait and the tab order below.

pub mod approvals;
pub mod audit;
pub mod drift;
pub mod kit_slots;
pub mod mandates;
pub mod registrations;
pub mod roles;
pub mod signin;
pub mod trusts;
pub mod undo;
pub mod users;

use crate::service::access::Area;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};

use crate::domain::{DisplayText, PermissionRef};
use crate::service::Operator;
use crate::tui::action::{ErrorReport, Job, OpBox, Reply};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::Form;
use crate::tui::widgets::table::{TableRow, TableView, Typed};
use roles::RoleTarget;

/// What a screen asks the router to do (after a key or a reply).
#[derive(Debug)]
pub enum Cmd {
    OpenForm(Form),
    /// Open a Roles form; its choices and the roles held now are read through the service.
    OpenRoles {
        form: Form,
        target: RoleTarget,
    },
    Dialog(Dialog),
    Run(OpBox),
    /// A read for this screen; its reply comes back to [`Screen::on_reply`] with `slot`
    /// (a newer load of the same slot supersedes an older one).
    Load {
        slot: &'static str,
        job: Box<dyn Job>,
    },
    /// Load the shown table again (e.g. a sub-list just opened).
    Reload,
    /// Something was done (a green tick).
    Toast(String),
    /// Nothing was done: the action is not possible here or now (never a green tick).
    Refuse(String),
    /// A state or a step, neither done nor refused.
    Info(String),
    /// A failure for the operator (a revoked authority signs them out).
    Error {
        title: String,
        report: ErrorReport,
    },
    /// Handled; nothing else to do.
    Done,
}

/// What a screen may know about the session.
pub struct Ctx<'a> {
    pub operator: Option<&'a Operator>,
}

impl Ctx<'_> {
    /// The signed-in operator's sub (acting on oneself needs a typed confirmation).
    pub fn is_me(&self, sub: &crate::domain::UserSub) -> bool {
        self.operator.is_some_and(|o| o.sub == *sub)
    }
}

/// A screen: the router routes keys, replies and drawing through this and nothing else.
pub trait Screen {
    /// The table shown now (navigation, search, sort and filters are the router's).
    fn table(&self) -> &TableView;
    fn table_mut(&mut self) -> &mut TableView;

    /// Screen-specific actions (the router handles navigation, search, sort, filter,
    /// refresh). `None` = not handled here.
    fn on_action(&mut self, action: Action, ctx: &Ctx) -> Option<Cmd>;

    /// The screen's own actions, for the footer and `?`.
    fn actions(&self) -> &'static [Action];

    /// A reply to one of this screen's requests (`slot`: which one; pages arrive as
    /// `"page"`). Stale replies never get here.
    fn on_reply(
        &mut self,
        slot: &'static str,
        id: u64,
        result: Result<Reply, ErrorReport>,
    ) -> Vec<Cmd>;

    /// Palette commands this screen answers (`:since` on the audit screen).
    fn commands(&self) -> &'static [&'static str] {
        &[]
    }

    /// Runs one of [`Screen::commands`] (the router shows the screen and reloads it first).
    fn command(&mut self, _cmd: &str, _arg: &str) -> Vec<Cmd> {
        Vec::new()
    }

    /// Back to the screen's main list (a palette search lands there).
    fn top(&mut self) {}

    /// The selection moved within the shown page (a detail read for the selected row).
    fn on_select(&mut self) -> Vec<Cmd> {
        Vec::new()
    }

    /// Someone else changed what this screen shows (the live view reads the page again):
    /// reads of a detail pane that may be stale now.
    fn on_live_change(&mut self) -> Vec<Cmd> {
        Vec::new()
    }

    /// Reads that go with every reload of the table (the kit-slot usage gauge).
    fn on_reload(&mut self) -> Vec<Cmd> {
        Vec::new()
    }

    /// Why a change is not allowed here beyond the tab's own permission (None: allowed).
    fn write_denied(&self, _has: &dyn Fn(PermissionRef) -> bool) -> Option<&'static str> {
        None
    }

    /// A short state line for the footer (how many rows are marked), if any.
    fn status(&self) -> Option<String> {
        None
    }

    /// Renders the screen's body (table + detail pane by default).
    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, tick: u64) {
        render_table_with_detail(self.table(), area, buf, theme, tick);
    }
}

/// The tabs, in order (adding a screen adds one line here and its keymap entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Mandates,
    Users,
    Registrations,
    Trusts,
    KitSlots,
    Audit,
    Drift,
    Approvals,
}

impl Tab {
    pub const ALL: [Tab; 8] = [
        Tab::Mandates,
        Tab::Users,
        Tab::Registrations,
        Tab::Trusts,
        Tab::KitSlots,
        Tab::Audit,
        Tab::Drift,
        Tab::Approvals,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Mandates => "Mandates",
            Tab::Users => "Users",
            Tab::Registrations => "Registrations",
            Tab::Trusts => "Trusts",
            Tab::KitSlots => "Kit slots",
            Tab::Audit => "Audit",
            Tab::Drift => "Drift",
            Tab::Approvals => "Approvals",
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// The area of the hub this tab reads (the service decides what reading it needs).
    pub fn area(self) -> Area {
        match self {
            Tab::Mandates => Area::Mandates,
            Tab::Users => Area::Users,
            Tab::Registrations => Area::Registrations,
            Tab::Drift => Area::Drift,
            Tab::Trusts => Area::Trusts,
            Tab::KitSlots => Area::KitSlots,
            Tab::Audit => Area::Audit,
            Tab::Approvals => Area::Approvals,
        }
    }

    /// The permission reading this tab needs, and how the console says so.
    pub fn requires(self) -> Option<(PermissionRef, &'static str)> {
        let area = self.area();
        area.read_permission().map(|p| (p, area.needs()))
    }

    /// A fresh screen for this tab.
    pub fn screen(self) -> Box<dyn Screen> {
        match self {
            Tab::Mandates => Box::new(mandates::MandatesScreen::new()),
            Tab::Users => Box::new(users::UsersScreen::new()),
            Tab::Registrations => Box::new(registrations::RegistrationsScreen::new()),
            Tab::Trusts => Box::new(trusts::TrustsScreen::new()),
            Tab::KitSlots => Box::new(kit_slots::KitSlotsScreen::new()),
            Tab::Audit => Box::new(audit::AuditScreen::new()),
            Tab::Drift => Box::new(drift::DriftScreen::new()),
            Tab::Approvals => Box::new(approvals::ApprovalsScreen::new()),
        }
    }
}

/// A page reply for a typed table: accepted, or (a failure) reported once.
pub fn page_reply<T: TableRow>(
    table: &mut Typed<T>,
    id: u64,
    result: Result<Reply, ErrorReport>,
) -> Vec<Cmd> {
    match result {
        Ok(page) => {
            if !table.accept(id, page) {
                tracing::debug!(list = table.view.list, id, "stale page dropped");
            }
            Vec::new()
        }
        Err(e) => {
            if table.view.fail(id, &e.joined()) {
                vec![Cmd::Error {
                    title: format!("Could not load {}", table.view.list),
                    report: e,
                }]
            } else {
                Vec::new()
            }
        }
    }
}

// ---- cells: how typed values are shown (through the one sanitizer) ----

pub fn when(t: &chrono::DateTime<chrono::Utc>) -> DisplayText {
    DisplayText::new(&t.format("%Y-%m-%d %H:%M").to_string())
}

pub fn yes_no(b: bool) -> DisplayText {
    DisplayText::new(if b { "yes" } else { "no" })
}

pub fn opt(s: &Option<String>) -> DisplayText {
    DisplayText::new(s.as_deref().unwrap_or(""))
}

/// Untrusted text for a message or a form (sanitized).
pub fn shown(s: &str) -> String {
    DisplayText::new(s).into_string()
}

/// The table, with a detail pane of the selected row on the right when there is room.
pub fn render_table_with_detail(
    table: &TableView,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
    tick: u64,
) {
    if area.width >= 120 {
        let [t, d] = Layout::horizontal([Constraint::Percentage(68), Constraint::Percentage(32)])
            .areas(area);
        table.render(t, buf, theme, true, tick);
        render_detail(&table.detail_lines(), "Detail", d, buf, theme);
    } else {
        table.render(area, buf, theme, true, tick);
    }
}

/// A "label: value" pane.
pub fn render_detail(
    lines: &[(String, String)],
    title: &str,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(format!(" {title} "), theme.title));
    let text: Vec<Line> = if lines.is_empty() {
        vec![Line::from(Span::styled("nothing selected", theme.muted))]
    } else {
        lines
            .iter()
            .flat_map(|(k, v)| {
                [
                    Line::from(Span::styled(k.clone(), theme.muted)),
                    Line::from(Span::styled(format!("  {v}"), theme.base)),
                ]
            })
            .collect()
    };
    Paragraph::new(text)
        .wrap(Wrap { trim: false })
        .block(block)
        .render(area, buf);
}
