//! A dialog that fits any terminal: its answer lines (the prompt, the input, the keys) are
//! pinned to the bottom of the box and always drawn; the message above them gets the rows
//! left and scrolls (↑/↓, PgUp/PgDn) when it is longer, saying how much more there is.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use crate::tui::theme::Theme;

/// Rows `line` takes when word-wrapped at `width` columns (greedy, as the paragraph wraps).
pub fn wrapped_rows(line: &Line, width: u16) -> u16 {
    let width = usize::from(width.max(1));
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    let mut rows = 1usize;
    let mut col = 0usize;
    for word in text.split(' ') {
        let w = word.chars().count();
        let need = if col == 0 { w } else { col + 1 + w };
        if need <= width {
            col = need;
        } else if w > width {
            // A word longer than the row is broken across rows.
            if col > 0 {
                rows += 1;
            }
            rows += (w - 1) / width;
            col = (w - 1) % width + 1;
        } else {
            rows += 1;
            col = w;
        }
    }
    u16::try_from(rows).unwrap_or(u16::MAX)
}

/// Rows a message of `lines` needs at `width` columns.
pub fn rows_of(lines: &[Line], width: u16) -> u16 {
    lines
        .iter()
        .map(|l| wrapped_rows(l, width))
        .fold(0u16, u16::saturating_add)
}

/// The height a box needs for `body` and `footer` inside borders, within `max`.
pub fn fitted_height(body: &[Line], footer: &[Line], width: u16, min: u16, max: u16) -> u16 {
    let inner = width.saturating_sub(2);
    (rows_of(body, inner)
        .saturating_add(rows_of(footer, inner))
        .saturating_add(2))
    .max(min)
    .min(max)
}

/// Draws `block` in `r`: `footer` pinned at the bottom (always visible), `body` above it from
/// row `scroll` on; when the body does not fit, its last visible row says what is hidden.
/// Returns the largest useful scroll (0 when the body fits).
pub fn render_fitted(
    r: Rect,
    buf: &mut Buffer,
    block: Block,
    body: Vec<Line>,
    footer: Vec<Line>,
    scroll: u16,
    theme: &Theme,
) -> u16 {
    let inner = block.inner(r);
    block.render(r, buf);
    let foot_rows = rows_of(&footer, inner.width).min(inner.height);
    let body_area = Rect {
        height: inner.height - foot_rows,
        ..inner
    };
    let foot_area = Rect {
        y: inner.y + body_area.height,
        height: foot_rows,
        ..inner
    };
    Paragraph::new(footer)
        .wrap(Wrap { trim: false })
        .render(foot_area, buf);
    let total = rows_of(&body, inner.width);
    if total <= body_area.height {
        Paragraph::new(body)
            .wrap(Wrap { trim: false })
            .render(body_area, buf);
        return 0;
    }
    // One row for the scroll hint.
    let shown = body_area.height.saturating_sub(1);
    let max_scroll = total.saturating_sub(shown);
    let scroll = scroll.min(max_scroll);
    Paragraph::new(body)
        .wrap(Wrap { trim: false })
        .scroll((scroll, 0))
        .render(
            Rect {
                height: shown,
                ..body_area
            },
            buf,
        );
    let below = total.saturating_sub(scroll + shown);
    let hint = match (scroll, below) {
        (0, b) => format!("↓ {b} more lines (↑/↓ scroll)"),
        (s, 0) => format!("↑ {s} lines above (↑/↓ scroll)"),
        (s, b) => format!("↑ {s} above · ↓ {b} below (↑/↓ scroll)"),
    };
    if shown < body_area.height {
        Paragraph::new(Span::styled(hint, theme.muted)).render(
            Rect {
                y: body_area.y + shown,
                height: 1,
                ..body_area
            },
            buf,
        );
    }
    max_scroll
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_rows_follow_word_wrapping() {
        assert_eq!(wrapped_rows(&Line::from(""), 10), 1);
        assert_eq!(wrapped_rows(&Line::from("abc def"), 10), 1);
        assert_eq!(wrapped_rows(&Line::from("abcde fghij"), 10), 2);
        assert_eq!(wrapped_rows(&Line::from("a".repeat(25)), 10), 3);
    }
}
