//! Widgets shared by every screen (table, form, dialog, reveal, toast, help).

pub mod dialog;
pub mod dialog_fit;
pub mod fields;
pub mod form;
pub mod form_render;
pub mod help;
pub mod live_marks;
pub mod reveal;
pub mod table;
pub mod table_count;
pub mod table_fit;
pub mod table_render;
pub mod toast;
pub mod typed_table;

use ratatui::layout::{Constraint, Flex, Layout, Rect};

/// A centred rectangle of at most `w`×`h` inside `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    r
}
