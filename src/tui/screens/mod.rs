//! One folder per screen, each owning its feature: `mod.rs` (state, its reply enum, key
//! handling, rendering), `data.rs` (its typed rows with their `cells()`, the list source and
//! the jobs and operations it runs, over service functions), and its forms and strings. The
//! tabs are one table in [`registry`]; the router (`tui/app`) knows screens only through it.

pub mod approvals;
pub mod audit;
pub mod drift;
pub mod kit_slots;
pub mod mandates;
pub mod registrations;
pub mod registry;
pub mod roles;
pub mod signin;
pub mod trusts;
pub mod undo;
pub mod users;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};

use crate::domain::{DisplayText, PermissionRef};
use crate::service::Operator;
use crate::tui::action::{ErrorReport, Lift, LoadBox, OpBox};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::Form;
use crate::tui::widgets::table::{Fetched, TableRow, TableView, Typed};
pub use registry::{Screens, Tab, TabReply, TabScreen};
use roles::RoleTarget;

/// What a screen asks the router to do (after a key or a reply); `R` is the screen's own
/// reply enum (what its reads come back as).
#[derive(Debug)]
pub enum Cmd<R> {
    OpenForm(Form),
    /// Open a Roles form; its choices and the roles held now are read through the service.
    OpenRoles {
        form: Form,
        target: RoleTarget,
    },
    Dialog(Dialog),
    Run(OpBox),
    /// A read for this screen (built with `action::ask`); its answer comes back to
    /// [`Screen::on_reply`] as the variant the ask named (a newer read for the same variant
    /// supersedes an older one).
    Load(LoadBox<R>),
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

impl<R: Send + 'static> Cmd<R> {
    /// The command with its read's answer wrapped once more (a screen's reply into the
    /// console's).
    pub fn lift<T: From<R> + 'static>(self) -> Cmd<T> {
        match self {
            Cmd::Load(l) => Cmd::Load(Box::new(Lift(l))),
            Cmd::OpenForm(f) => Cmd::OpenForm(f),
            Cmd::OpenRoles { form, target } => Cmd::OpenRoles { form, target },
            Cmd::Dialog(d) => Cmd::Dialog(d),
            Cmd::Run(op) => Cmd::Run(op),
            Cmd::Reload => Cmd::Reload,
            Cmd::Toast(t) => Cmd::Toast(t),
            Cmd::Refuse(t) => Cmd::Refuse(t),
            Cmd::Info(t) => Cmd::Info(t),
            Cmd::Error { title, report } => Cmd::Error { title, report },
            Cmd::Done => Cmd::Done,
        }
    }
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
    /// What this screen's reads come back as: one variant per kind of read, each carrying
    /// its result (a failure included), matched exhaustively in [`Screen::on_reply`].
    type Reply: Send + std::fmt::Debug + 'static;

    /// The table shown now (navigation, search, sort and filters are the router's).
    fn table(&self) -> &TableView;
    fn table_mut(&mut self) -> &mut TableView;

    /// A read of the shown table for `query` (rows, an estimate or a count, as `query.want`
    /// says): the shown table's [`Typed::load`] with the variant its pages come back as.
    fn page(&self, query: crate::domain::PageQuery) -> LoadBox<Self::Reply>;

    /// Screen-specific actions (the router handles navigation, search, sort, filter,
    /// refresh). `None` = not handled here.
    fn on_action(&mut self, action: Action, ctx: &Ctx) -> Option<Cmd<Self::Reply>>;

    /// The screen's own actions, for the footer and `?`.
    fn actions(&self) -> &'static [Action];

    /// The answer to one of this screen's reads. Replies no longer wanted never get here.
    fn on_reply(&mut self, reply: Self::Reply) -> Vec<Cmd<Self::Reply>>;

    /// Palette commands this screen answers (`:since` on the audit screen).
    fn commands(&self) -> &'static [&'static str] {
        &[]
    }

    /// Runs one of [`Screen::commands`] (the router shows the screen and reloads it first).
    fn command(&mut self, _cmd: &str, _arg: &str) -> Vec<Cmd<Self::Reply>> {
        Vec::new()
    }

    /// Back to the screen's main list (a palette search lands there).
    fn top(&mut self) {}

    /// The selection moved within the shown page (a detail read for the selected row).
    fn on_select(&mut self) -> Vec<Cmd<Self::Reply>> {
        Vec::new()
    }

    /// Someone else changed what this screen shows (the live view reads the page again):
    /// reads of a detail pane that may be stale now.
    fn on_live_change(&mut self) -> Vec<Cmd<Self::Reply>> {
        Vec::new()
    }

    /// Reads that go with every reload of the table (the kit-slot usage gauge).
    fn on_reload(&mut self) -> Vec<Cmd<Self::Reply>> {
        Vec::new()
    }

    /// A form this screen opened was submitted with [`Submission::ToScreen`]
    /// (crate::tui::widgets::form::Submission): what the screen does with it.
    fn on_submitted(&mut self) -> Vec<Cmd<Self::Reply>> {
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

/// A page (or count) for a typed table: accepted, or (a failure of the rows) reported once.
pub fn page_reply<T: TableRow, R>(table: &mut Typed<T>, fetched: Fetched<T>) -> Vec<Cmd<R>> {
    let Fetched { want, page } = fetched;
    match page {
        Ok(page) => {
            table.accept(want, page);
            Vec::new()
        }
        Err(e) => {
            if table.view.fail(want, &e.joined()) {
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
    if let Some([t, d]) = detail_split(area) {
        table.render(t, buf, theme, true, tick);
        render_detail(&table.detail_lines(), "Detail", d, buf, theme);
    } else {
        table.render(area, buf, theme, true, tick);
    }
}

/// The table's and the detail pane's areas, or None when the pane would cost the table its
/// readable columns: the table keeps at least 80 cells (what an 80-column terminal shows, its
/// identifying columns whole), the pane takes about a third and at least 36.
pub fn detail_split(area: Rect) -> Option<[Rect; 2]> {
    const TABLE_MIN: u16 = 80;
    const PANE_MIN: u16 = 36;
    let pane = (area.width.saturating_mul(32) / 100).max(PANE_MIN);
    (area.width >= TABLE_MIN + pane)
        .then(|| Layout::horizontal([Constraint::Fill(1), Constraint::Length(pane)]).areas(area))
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
