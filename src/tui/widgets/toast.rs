//! Toasts: short messages that fade after a few seconds. Each has a kind decided where it is
//! raised — a success is the only one drawn with a green tick; a refusal (nothing was done)
//! and an error are never drawn as one.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::tui::theme::Theme;

/// What a toast tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToastKind {
    /// Something was done ("✓").
    Success,
    /// A state or a step under way, nothing done or refused ("·").
    Info,
    /// Nothing was done: the action is not possible here or now ("✗").
    Refusal,
    /// Something failed ("!").
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toast {
    pub text: String,
    pub kind: ToastKind,
    /// Remaining ticks before it disappears.
    pub ttl: u32,
}

impl Toast {
    pub fn of(kind: ToastKind, text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            kind,
            ttl: if kind == ToastKind::Success { 40 } else { 50 },
        }
    }
    /// Something was done.
    pub fn ok(text: impl Into<String>) -> Self {
        Self::of(ToastKind::Success, text)
    }
    /// Nothing was done: refused.
    pub fn warn(text: impl Into<String>) -> Self {
        Self::of(ToastKind::Refusal, text)
    }
    /// A state or a step under way.
    pub fn info(text: impl Into<String>) -> Self {
        Self::of(ToastKind::Info, text)
    }

    /// Renders the newest toasts stacked above the footer, right-aligned.
    pub fn render_stack(toasts: &[Toast], area: Rect, buf: &mut Buffer, theme: &Theme) {
        let mut y = area.y + area.height;
        for t in toasts.iter().rev().take(3) {
            // Display width: a name with wide (CJK) characters needs two columns each.
            let text_w = crate::domain::text::display_width(&t.text);
            let w = u16::try_from(text_w.saturating_add(4))
                .unwrap_or(u16::MAX)
                .min(area.width);
            if y < area.y + 3 {
                break;
            }
            y -= 3;
            let r = Rect {
                x: area.x + area.width - w,
                y,
                width: w,
                height: 3,
            };
            Clear.render(r, buf);
            let (glyph, style) = match t.kind {
                ToastKind::Success => ("✓ ", theme.ok),
                ToastKind::Info => ("· ", theme.base),
                ToastKind::Refusal => ("✗ ", theme.warning),
                ToastKind::Error => ("! ", theme.error),
            };
            Paragraph::new(Span::styled(format!("{glyph}{}", t.text), style))
                .block(Block::default().borders(Borders::ALL).border_style(style))
                .render(r, buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toast_with_wide_characters_is_not_cut() {
        let area = Rect::new(0, 0, 60, 10);
        let mut buf = Buffer::empty(area);
        let theme = Theme::default_for(true, "");
        let text = "updated 東京医療センター";
        Toast::render_stack(&[Toast::ok(text)], area, &mut buf, &theme);
        // A wide character fills two cells: its symbol, then a filler cell to skip.
        let mut row = String::new();
        let mut x = 0;
        while x < area.width {
            let sym = buf[(x, area.height - 2)].symbol();
            row.push_str(sym);
            x += u16::try_from(crate::domain::text::display_width(sym).max(1)).unwrap_or(1);
        }
        assert!(row.contains(text), "{row:?}");
    }

    #[test]
    fn only_a_success_wears_the_tick() {
        let area = Rect::new(0, 0, 60, 10);
        let theme = Theme::default_for(true, "");
        for (kind, glyph) in [
            (ToastKind::Success, "✓"),
            (ToastKind::Info, "·"),
            (ToastKind::Refusal, "✗"),
            (ToastKind::Error, "!"),
        ] {
            let mut buf = Buffer::empty(area);
            Toast::render_stack(&[Toast::of(kind, "text")], area, &mut buf, &theme);
            let row: String = (0..area.width)
                .map(|x| buf[(x, area.height - 2)].symbol().to_string())
                .collect();
            assert!(row.contains(&format!("{glyph} text")), "{kind:?}: {row:?}");
        }
    }
}
