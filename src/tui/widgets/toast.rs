//! Toasts: short success (or notice) messages that fade after a few seconds.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::tui::theme::Theme;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toast {
    pub text: String,
    pub error: bool,
    /// Remaining ticks before it disappears.
    pub ttl: u32,
}

impl Toast {
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            error: false,
            ttl: 40,
        }
    }
    pub fn warn(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            error: true,
            ttl: 50,
        }
    }

    /// Renders the newest toasts stacked above the footer, right-aligned.
    pub fn render_stack(toasts: &[Toast], area: Rect, buf: &mut Buffer, theme: &Theme) {
        let mut y = area.y + area.height;
        for t in toasts.iter().rev().take(3) {
            let w = (t.text.chars().count() as u16 + 4).min(area.width);
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
            let (glyph, style) = if t.error {
                ("! ", theme.warning)
            } else {
                ("✓ ", theme.ok)
            };
            Paragraph::new(Span::styled(format!("{glyph}{}", t.text), style))
                .block(Block::default().borders(Borders::ALL).border_style(style))
                .render(r, buf);
        }
    }
}
