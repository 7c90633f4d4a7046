//! The FL kit slot pool: free/used with a usage gauge.

pub mod data;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Gauge, Widget};

use super::{Ctx, Screen, page_reply, render_table_with_detail};
use crate::domain::PageQuery;
use crate::tui::action::{ErrorReport, LoadBox, ask};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crate::tui::widgets::table::{Column, Fetched, TableView, Typed};
use data::{KitSlotRow, LoadUsage, Usage};

/// What the kit-slot screen's reads come back as.
#[derive(Debug)]
pub enum Reply {
    Page(Fetched<KitSlotRow>),
    Usage(Result<Usage, ErrorReport>),
}

type Cmd = super::Cmd<Reply>;

pub struct KitSlotsScreen {
    pub table: Typed<KitSlotRow>,
    /// From the last summary.
    pub usage: Option<Usage>,
}

impl Default for KitSlotsScreen {
    fn default() -> Self {
        Self::new()
    }
}

impl KitSlotsScreen {
    pub fn new() -> Self {
        Self {
            table: Typed::new(
                "kit slots",
                data::KitSlots,
                "Kit slots",
                vec![
                    Column::new("Slot", "slot_name", Constraint::Length(14)).identifying(),
                    Column::new("No.", "slot_number", Constraint::Length(5)),
                    Column::filter_only("Free", "free", Constraint::Length(6)),
                    Column::plain("Trust", Constraint::Fill(3)),
                    Column::new("Assigned", "assigned_at", Constraint::Length(16)),
                ],
            ),
            usage: None,
        }
    }
}

impl Screen for KitSlotsScreen {
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
        &[]
    }
    fn on_action(&mut self, _action: Action, _ctx: &Ctx) -> Option<Cmd> {
        None
    }

    fn on_reload(&mut self) -> Vec<Cmd> {
        vec![Cmd::Load(ask(LoadUsage, Reply::Usage))]
    }

    fn on_reply(&mut self, reply: Reply) -> Vec<Cmd> {
        match reply {
            Reply::Page(p) => page_reply(&mut self.table, p),
            Reply::Usage(Ok(u)) => {
                self.usage = Some(u);
                Vec::new()
            }
            Reply::Usage(Err(report)) => vec![Cmd::Error {
                title: "Could not load kit slot usage".into(),
                report,
            }],
        }
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, tick: u64) {
        let [g, t] = Layout::vertical([Constraint::Length(3), Constraint::Fill(1)]).areas(area);
        let (label, ratio) = match self.usage {
            Some(Usage { used, total }) if total > 0 => (
                format!("{used} of {total} slots used · {} free", total - used),
                used as f64 / total as f64,
            ),
            Some(_) => ("no kit slots configured".to_string(), 0.0),
            None => ("usage loading…".to_string(), 0.0),
        };
        Gauge::default()
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(theme.border)
                    .title(Span::styled(" Usage ", theme.title)),
            )
            .gauge_style(theme.gauge)
            .ratio(ratio.clamp(0.0, 1.0))
            .label(label)
            .render(g, buf);
        render_table_with_detail(&self.table.view, t, buf, theme, tick);
    }
}
