//! `?`: help generated from the live keymap (overrides included).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

use super::centered;
use crate::tui::keymap::{Action, Keymap};
use crate::tui::theme::Theme;

/// `describe` gives an action's line (the tab keys' lines come from the tab registry).
#[allow(clippy::too_many_arguments)]
pub fn render(
    keymap: &Keymap,
    describe: &dyn Fn(Action) -> &'static str,
    read_only: bool,
    demo_credentials: Option<&(String, String)>,
    scroll: u16,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let r = centered(
        area,
        area.width.saturating_sub(4).min(100),
        area.height.saturating_sub(2),
    );
    Clear.render(r, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focus)
        .title(Span::styled(
            " Help — keys (from the live keymap) ",
            theme.title,
        ))
        .title_bottom(
            Line::from(Span::styled(" ↑/↓ scroll · Esc/? close ", theme.muted)).right_aligned(),
        );
    let mut lines = Vec::new();
    if let Some((email, password)) = demo_credentials {
        lines.push(Line::from(vec![
            Span::styled("Demo sign-in: ", theme.warning),
            Span::raw(format!("{email} / {password}")),
        ]));
    }
    if read_only {
        lines.push(Line::from(Span::styled(
            "Read-only mode: actions that change data are disabled (struck through).",
            theme.warning,
        )));
    }
    let entries = keymap.entries();
    let key_w = entries
        .iter()
        .map(|(k, _)| crate::domain::text::display_width(k))
        .max()
        .unwrap_or(4)
        + 2;
    for (keys, action) in entries {
        let style = if read_only && action.mutates() {
            theme.disabled
        } else {
            theme.base
        };
        lines.push(Line::from(vec![
            Span::styled(crate::domain::text::pad_to_width(&keys, key_w), theme.key),
            Span::styled(describe(action), style),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Override keys in keymap.toml and styles in theme.toml in the config dir.",
        theme.muted,
    )));
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((scroll, 0))
        .block(block)
        .render(r, buf);
}
