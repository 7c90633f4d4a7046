//! Drawing of a [`Form`]: its fields, inline errors and the busy/error note.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use super::centered;
use super::fields::FieldKind;
use super::form::Form;
use crate::domain::DisplayText;
use crate::tui::theme::Theme;

impl Form {
    /// The labels' column: the longest label and two spaces.
    fn label_width(&self) -> usize {
        self.fields.iter().map(|f| f.label.len()).max().unwrap_or(8) + 2
    }

    /// A field's error as (indent, text) lines wrapped to a form `width` cells wide: wrapped,
    /// never cut, so the code point it names stays on screen however narrow the form.
    pub(super) fn error_lines(&self, error: &str, width: u16) -> Vec<(String, String)> {
        let indent = self.label_width() + 2;
        // Inside the frame, after the indent and the "✗ " mark (at least a short word's room).
        let room = usize::from(width).saturating_sub(2 + indent + 2).max(16);
        wrap(error, room)
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let mark = if i == 0 { "✗ " } else { "  " };
                (" ".repeat(indent), format!("{mark}{t}"))
            })
            .collect()
    }

    /// The form's height when drawn `width` cells wide (errors wrap).
    pub fn height_at(&self, width: u16) -> u16 {
        let extra: usize = self
            .fields
            .iter()
            .filter_map(|f| f.error.as_deref())
            .map(|e| self.error_lines(e, width).len().saturating_sub(1))
            .sum();
        self.height() + u16::try_from(extra).unwrap_or(u16::MAX)
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, modal: bool) {
        let r = if modal {
            let w = area.width.saturating_sub(4).min(76);
            let r = centered(area, w, self.height_at(w));
            Clear.render(r, buf);
            r
        } else {
            area
        };
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border_focus)
            .title(Span::styled(format!(" {} ", self.title), theme.title))
            .title_bottom(
                Line::from(Span::styled(
                    " Tab next field · Enter submit · Esc cancel ",
                    theme.muted,
                ))
                .right_aligned(),
            );
        let mut lines: Vec<Line> = Vec::new();
        let label_w = self.label_width();
        for (i, f) in self.fields.iter().enumerate() {
            let focused = i == self.focus;
            let label_style = if focused { theme.title } else { theme.muted };
            let marker = if focused { "▶ " } else { "  " };
            let label = Span::styled(format!("{marker}{:<label_w$}", f.label), label_style);
            match &f.kind {
                FieldKind::Text { input, .. } => {
                    // Escaped: a pasted control or invisible character shows where it sits.
                    let mut v = DisplayText::new(input.value()).into_string();
                    if focused {
                        v.push('▏');
                    }
                    lines.push(Line::from(vec![label, Span::styled(v, theme.input)]));
                }
                FieldKind::Password { value } => {
                    let mut v = "•".repeat(value.chars().count());
                    if focused {
                        v.push('▏');
                    }
                    lines.push(Line::from(vec![label, Span::styled(v, theme.input)]));
                }
                FieldKind::Select { options, idx } => {
                    let v = options.get(*idx).cloned().unwrap_or_default();
                    lines.push(Line::from(vec![
                        label,
                        Span::styled(format!("◀ {v} ▶"), theme.input),
                    ]));
                }
                FieldKind::Check { value } => {
                    lines.push(Line::from(vec![
                        label,
                        Span::styled(if *value { "[x]" } else { "[ ]" }, theme.input),
                    ]));
                }
                FieldKind::Multi {
                    options,
                    chosen,
                    cursor,
                    ..
                } => {
                    lines.push(Line::from(vec![
                        label,
                        Span::styled("(space toggles)", theme.muted),
                    ]));
                    if self.loading {
                        lines.push(Line::from(vec![
                            Span::raw(" ".repeat(label_w + 2)),
                            Span::styled("loading the current roles…", theme.muted),
                        ]));
                    }
                    for (j, o) in options.iter().enumerate() {
                        let cur = focused && j == *cursor;
                        lines.push(Line::from(vec![
                            Span::raw(" ".repeat(label_w + 2)),
                            Span::styled(
                                format!("{} {o}", if chosen[j] { "[x]" } else { "[ ]" }),
                                if cur { theme.selected } else { theme.base },
                            ),
                        ]));
                    }
                }
                FieldKind::UserPick {
                    input,
                    results,
                    cursor,
                    awaiting,
                } => {
                    let mut v = input.value().to_string();
                    if focused {
                        v.push('▏');
                    }
                    let mut spans = vec![label, Span::styled(v, theme.input)];
                    if *awaiting {
                        spans.push(Span::styled("  searching…", theme.muted));
                    }
                    lines.push(Line::from(spans));
                    for (j, r) in results.iter().enumerate().take(5) {
                        let text: Vec<&str> = r.cells.iter().map(DisplayText::as_str).collect();
                        lines.push(Line::from(vec![
                            Span::raw(" ".repeat(label_w + 2)),
                            Span::styled(
                                format!(
                                    "{} {}",
                                    if j == *cursor { "▶" } else { " " },
                                    text.join("  ")
                                ),
                                if j == *cursor {
                                    theme.selected
                                } else {
                                    theme.base
                                },
                            ),
                        ]));
                    }
                    for _ in results.len().min(5)..5 {
                        lines.push(Line::from(""));
                    }
                }
            }
            match &f.error {
                Some(e) => {
                    lines.extend(self.error_lines(e, r.width).into_iter().map(|(pad, t)| {
                        Line::from(vec![Span::raw(pad), Span::styled(t, theme.error)])
                    }))
                }
                None => lines.push(Line::from("")),
            }
        }
        if self.busy {
            lines.push(Line::from(Span::styled("working…", theme.warning)));
        } else if let Some(n) = &self.note {
            lines.push(Line::from(Span::styled(format!("✗ {n}"), theme.error)));
        }
        Paragraph::new(lines).block(block).render(r, buf);
    }
}

/// `text` in lines of at most `room` display cells, broken at spaces (a longer word is cut).
fn wrap(text: &str, room: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let mut lines: Vec<String> = vec![String::new()];
    for word in text.split(' ') {
        let cur = lines.last_mut().expect("one line at least");
        let need = if cur.is_empty() { 0 } else { 1 } + word.width();
        if cur.width() + need <= room {
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
            continue;
        }
        let mut rest = word.to_string();
        if lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        while rest.width() > room {
            let cut: String = super::table_fit::fit(&rest, room + 1)
                .trim_end_matches('…')
                .to_string();
            let cut = if cut.is_empty() {
                rest.chars().take(1).collect()
            } else {
                cut
            };
            rest = rest[cut.len()..].to_string();
            lines.push(cut);
        }
        lines.push(rest);
    }
    lines
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_errors_wrap_at_spaces_and_keep_every_word() {
        let e = "name must not contain a control character (U+0007) at character 4; retype the text without it";
        let lines = super::wrap(e, 30);
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert_eq!(lines.join(" "), e);
        assert!(lines.iter().any(|l| l.contains("(U+0007)")), "{lines:?}");
        assert_eq!(super::wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
    }
}
