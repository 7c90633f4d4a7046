//! One state struct per screen, each with its own key handling and rendering. Every tab is a
//! [`Screen`] over the one table widget; what differs (columns, actions) lives in its file.

pub mod audit;
pub mod kit_slots;
pub mod mandates;
pub mod registrations;
pub mod signin;
pub mod trusts;
pub mod users;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};

use crate::tui::action::{Op, RoleTarget};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::Form;
use crate::tui::widgets::table::TableView;

/// What a screen asks the app to do after a key.
#[derive(Debug)]
pub enum Cmd {
    OpenForm(Form),
    /// Open a Roles form; its choices and the roles held now are read through the service.
    OpenRoles {
        form: Form,
        target: RoleTarget,
    },
    Dialog(Dialog),
    Run(Op),
    OpenMembers {
        id: String,
        name: String,
    },
    OpenDetail {
        row_id: String,
    },
    Toast(String),
}

/// The tabs, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Mandates,
    Users,
    Registrations,
    Trusts,
    KitSlots,
    Audit,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::Mandates,
        Tab::Users,
        Tab::Registrations,
        Tab::Trusts,
        Tab::KitSlots,
        Tab::Audit,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Mandates => "Mandates",
            Tab::Users => "Users",
            Tab::Registrations => "Registrations",
            Tab::Trusts => "Trusts",
            Tab::KitSlots => "Kit slots",
            Tab::Audit => "Audit",
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// A list screen: the table plus its own actions.
pub trait Screen {
    fn table(&self) -> &TableView;
    fn table_mut(&mut self) -> &mut TableView;

    /// Screen-specific actions (the app handles navigation, search, sort, filter, refresh).
    /// `None` = not handled here.
    fn on_action(&mut self, action: Action) -> Option<Cmd>;

    /// The screen's own actions, for the footer hints.
    fn actions(&self) -> &'static [Action];

    /// Renders the screen's body (table + detail pane by default).
    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, tick: u64) {
        render_table_with_detail(self.table(), area, buf, theme, tick);
    }
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

/// The selected row's id and first cell (its display name), if any.
pub fn selected(table: &TableView) -> Option<(String, String)> {
    table
        .selected_row()
        .map(|r| (r.id.clone(), r.cell(0).to_string()))
}
