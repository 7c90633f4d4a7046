//! One audit screen over users, trusts and mandate audit rows: actor and subject by email or
//! name, the action in one vocabulary, the before/after as a diff in the detail pane, filters,
//! a time range (`:since`, `:until`) and export (CSV or JSON, asked once).

pub mod data;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};

use super::{Ctx, Screen, page_reply, shown};
use crate::domain::PageQuery;
use crate::domain::audit::TimeRange;
use crate::service::seal_badge::SealBadge;
use crate::tui::action::{ErrorReport, LoadBox, OpBox, ask};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crate::tui::widgets::fields::Field;
use crate::tui::widgets::form::Form;
use crate::tui::widgets::table::{Column, Fetched, TableView, Typed};
use data::{AuditRow, Export, LoadSeal};

/// The export formats the form offers.
pub const EXPORT_FORMATS: [&str; 2] = ["CSV", "JSON"];

/// What the audit screen's reads come back as.
#[derive(Debug)]
pub enum Reply {
    Page(Fetched<AuditRow>),
    /// The audit trail's seal: verified once per session, then the count not sealed yet.
    Seal(Result<SealBadge, ErrorReport>),
}

type Cmd = super::Cmd<Reply>;

pub struct AuditScreen {
    pub table: Typed<AuditRow>,
    /// The seal badge; the full verification ran once this session when `verified`.
    pub seal: Option<SealBadge>,
    verified: bool,
}

impl Default for AuditScreen {
    fn default() -> Self {
        Self::new()
    }
}

impl AuditScreen {
    pub fn new() -> Self {
        Self {
            table: Typed::new(
                "audit",
                data::Audit,
                "Audit",
                vec![
                    Column::new("When", "occurred_at", Constraint::Length(16)),
                    Column::new("Area", "source", Constraint::Length(8))
                        .filterable()
                        .optional(),
                    Column::filter_only("Action", "event", Constraint::Length(20)),
                    Column::new("Actor", "actor", Constraint::Fill(2)).filterable(),
                    Column::new("Subject", "subject_name", Constraint::Fill(3))
                        .filterable()
                        .identifying(),
                    Column::new("Via", "via", Constraint::Length(4))
                        .filterable()
                        .optional(),
                ],
            ),
            seal: None,
            verified: false,
        }
    }

    /// The range the shown query holds, with `end` (`since`/`until`) set to `arg`.
    fn range_with(&self, end: &str, arg: &str) -> Result<TimeRange, String> {
        let current = |col: &str| {
            self.table
                .view
                .query
                .filters
                .iter()
                .find(|f| f.column == col)
                .and_then(|f| f.values.first().cloned())
        };
        let (mut since, mut until) = (current("since"), current("until"));
        let slot = if end == "since" {
            &mut since
        } else {
            &mut until
        };
        *slot = (!arg.is_empty()).then(|| arg.to_string());
        TimeRange::parse(since.as_deref(), until.as_deref()).map_err(|e| e.to_string())
    }
}

impl Screen for AuditScreen {
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
    fn actions(&self) -> &'static [Action] {
        &[Action::Export]
    }

    /// Export asks for the format once (a form), then writes the rows the screen's query
    /// matches.
    fn on_action(&mut self, action: Action, _ctx: &Ctx) -> Option<Cmd> {
        match action {
            Action::Export => {
                let query = self.table.view.query.clone();
                Some(Cmd::OpenForm(Form::op(
                    "Export the audit rows shown",
                    vec![Field::select(
                        "Format",
                        EXPORT_FORMATS.iter().map(|s| s.to_string()).collect(),
                        0,
                    )],
                    move |f| {
                        OpBox::new(Export {
                            json: f.text(0) == "JSON",
                            query: query.clone(),
                        })
                    },
                )))
            }
            _ => None,
        }
    }

    fn commands(&self) -> &'static [&'static str] {
        &["since", "until"]
    }

    /// `:since` / `:until` set the time range (`YYYY-MM-DD`, `YYYY-MM-DD HH:MM` or RFC 3339;
    /// `:until DATE` includes that day; no argument clears). A time that does not parse is
    /// shown in full and nothing is applied.
    fn command(&mut self, cmd: &str, arg: &str) -> Vec<Cmd> {
        let arg = arg.trim();
        if let Err(e) = self.range_with(cmd, arg) {
            return vec![Cmd::Error {
                title: format!(":{cmd} not applied"),
                report: ErrorReport::msg(format!("{}: {e}", shown(arg))),
            }];
        }
        let values = if arg.is_empty() {
            Vec::new()
        } else {
            vec![arg.to_string()]
        };
        self.table.view.set_filter(cmd, values);
        vec![Cmd::Reload]
    }

    fn on_reply(&mut self, reply: Reply) -> Vec<Cmd> {
        match reply {
            Reply::Page(p) => page_reply(&mut self.table, p),
            Reply::Seal(Ok(b)) => {
                // A later count keeps what the session's verification found.
                self.seal = Some(match (self.seal.take(), b) {
                    (Some(t @ SealBadge::Tampered { .. }), _) => t,
                    (Some(SealBadge::Verified { .. }), SealBadge::Unsealed { unsealed }) => {
                        SealBadge::Verified { unsealed }
                    }
                    (_, b) => b,
                });
                Vec::new()
            }
            Reply::Seal(Err(_)) => Vec::new(),
        }
    }

    /// The full verification once per session (a job, off the key path), then only the
    /// count of rows not sealed yet.
    fn on_reload(&mut self) -> Vec<Cmd> {
        let full = !self.verified;
        self.verified = true;
        vec![Cmd::Load(ask(LoadSeal { full }, Reply::Seal))]
    }

    fn status(&self) -> Option<String> {
        self.seal.as_ref().map(SealBadge::label)
    }

    /// The table, and the selected row's detail with its before/after diff.
    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, tick: u64) {
        let Some([t, d]) = super::detail_split(area) else {
            self.table.view.render(area, buf, theme, true, tick);
            return;
        };
        self.table.view.render(t, buf, theme, true, tick);
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border)
            .title(Span::styled(" Detail ", theme.title));
        let Some(row) = self.table.selected() else {
            Paragraph::new(Line::from(Span::styled("nothing selected", theme.muted)))
                .block(block)
                .render(d, buf);
            return;
        };
        let mut text: Vec<Line> = row
            .detail_lines()
            .into_iter()
            .flat_map(|(k, v)| {
                [
                    Line::from(Span::styled(k, theme.muted)),
                    Line::from(Span::styled(format!("  {v}"), theme.base)),
                ]
            })
            .collect();
        text.push(Line::from(Span::styled("Before → after", theme.muted)));
        let diff = row.diff_lines();
        if diff.is_empty() {
            text.push(Line::from(Span::styled("  (no before/after)", theme.muted)));
        }
        for (added, l) in diff {
            let style = if added { theme.ok } else { theme.error };
            text.push(Line::from(Span::styled(format!("  {l}"), style)));
        }
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(block)
            .render(d, buf);
    }
}
