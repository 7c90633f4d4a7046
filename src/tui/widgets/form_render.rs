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
    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, modal: bool) {
        let r = if modal {
            let r = centered(area, area.width.saturating_sub(4).min(76), self.height());
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
        let label_w = self.fields.iter().map(|f| f.label.len()).max().unwrap_or(8) + 2;
        for (i, f) in self.fields.iter().enumerate() {
            let focused = i == self.focus;
            let label_style = if focused { theme.title } else { theme.muted };
            let marker = if focused { "▶ " } else { "  " };
            let label = Span::styled(format!("{marker}{:<label_w$}", f.label), label_style);
            match &f.kind {
                FieldKind::Text { input, .. } => {
                    let mut v = input.value().to_string();
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
                Some(e) => lines.push(Line::from(vec![
                    Span::raw(" ".repeat(label_w + 2)),
                    Span::styled(format!("✗ {e}"), theme.error),
                ])),
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
