//! Dialogs: y/n for reversible actions, type-the-name for irreversible ones, error dialogs
//! with the whole cause chain, and a picker (filter columns and values).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::centered;
use super::dialog_fit::{fitted_height, render_fitted};
use crate::tui::action::{ErrorReport, OpBox};
use crate::tui::theme::Theme;

/// What a picker's choice is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PickPurpose {
    /// Choose the column to filter by.
    FilterColumn,
    /// Choose the values of a column filter.
    FilterValues { column: String },
}

#[derive(Debug)]
pub struct Picker {
    pub title: String,
    pub purpose: PickPurpose,
    /// What is shown (sanitized).
    pub items: Vec<String>,
    /// What a choice returns (raw values for the query; never drawn).
    pub values: Vec<String>,
    pub chosen: Vec<bool>,
    pub cursor: usize,
    pub multi: bool,
    pub loading: bool,
}

impl Picker {
    /// A picker over `values`; each is shown through the sanitizer.
    pub fn new(
        title: impl Into<String>,
        purpose: PickPurpose,
        values: Vec<String>,
        multi: bool,
    ) -> Self {
        let n = values.len();
        Self {
            title: title.into(),
            purpose,
            items: values
                .iter()
                .map(|v| crate::domain::DisplayText::with_max(v, 60).into_string())
                .collect(),
            values,
            chosen: vec![false; n],
            cursor: 0,
            multi,
            loading: false,
        }
    }
}

#[derive(Debug)]
pub enum Dialog {
    /// y/n (reversible actions).
    Confirm {
        title: String,
        message: String,
        op: OpBox,
    },
    /// Type the exact name to confirm (irreversible actions).
    TypeName {
        title: String,
        message: String,
        expected: String,
        input: Input,
        op: OpBox,
        mismatch: bool,
        /// The action can be undone (by another operator): typed because it acts on oneself,
        /// not because it is irreversible.
        undoable: bool,
        /// First message row shown (a message longer than the terminal scrolls; the prompt
        /// and the input stay visible), and the largest useful value at the last draw.
        scroll: u16,
        max_scroll: std::cell::Cell<u16>,
    },
    Error {
        title: String,
        report: ErrorReport,
    },
    Picker(Picker),
    /// Quit was asked for while mutations are in flight: wait for their replies first.
    QuitWhenDone {
        running: Vec<&'static str>,
    },
}

/// What a key did to the dialog.
#[derive(Debug)]
pub enum DialogOutcome {
    Stay,
    Close,
    Run(OpBox),
    /// Quit once every reply is in (and any keys were shown).
    QuitWhenDone,
    Picked {
        purpose: PickPurpose,
        values: Vec<String>,
    },
}

impl Dialog {
    pub fn error(title: impl Into<String>, report: ErrorReport) -> Self {
        Dialog::Error {
            title: title.into(),
            report,
        }
    }

    pub fn type_name(
        title: impl Into<String>,
        message: impl Into<String>,
        expected: String,
        op: OpBox,
    ) -> Self {
        Dialog::TypeName {
            title: title.into(),
            message: message.into(),
            expected,
            input: Input::default(),
            op,
            mismatch: false,
            scroll: 0,
            max_scroll: std::cell::Cell::new(0),
            undoable: false,
        }
    }

    /// Type-to-confirm for a reversible action on oneself ("this is you").
    pub fn type_to_confirm_self(
        title: impl Into<String>,
        message: impl Into<String>,
        expected: String,
        op: OpBox,
    ) -> Self {
        let mut d = Self::type_name(title, message, expected, op);
        if let Dialog::TypeName { undoable, .. } = &mut d {
            *undoable = true;
        }
        d
    }

    /// Confirmations ignore keys for a moment after they open (a pasted burst, key repeat,
    /// a reflexive double key).
    pub fn is_confirmation(&self) -> bool {
        matches!(
            self,
            Dialog::Confirm { .. } | Dialog::TypeName { .. } | Dialog::QuitWhenDone { .. }
        )
    }

    /// A paste (newlines and controls already stripped) goes only into the type-the-name
    /// input; false when this dialog takes no text.
    pub fn paste(&mut self, text: &str) -> bool {
        match self {
            Dialog::TypeName {
                input, mismatch, ..
            } => {
                for c in text.chars() {
                    input.handle(tui_input::InputRequest::InsertChar(c));
                }
                *mismatch = false;
                true
            }
            _ => false,
        }
    }

    pub fn handle_key(&mut self, key: &KeyEvent) -> DialogOutcome {
        // Ctrl-y is not y: a modified key never answers a question or picks a value.
        let modified = key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SUPER);
        if modified && !matches!(self, Dialog::TypeName { .. }) {
            return DialogOutcome::Stay;
        }
        match self {
            Dialog::QuitWhenDone { .. } => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => DialogOutcome::QuitWhenDone,
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => DialogOutcome::Close,
                _ => DialogOutcome::Stay,
            },
            Dialog::Confirm { op, .. } => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => DialogOutcome::Run(op.clone()),
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => DialogOutcome::Close,
                _ => DialogOutcome::Stay,
            },
            Dialog::TypeName {
                expected,
                input,
                op,
                mismatch,
                scroll,
                max_scroll,
                ..
            } => match key.code {
                KeyCode::Esc => DialogOutcome::Close,
                KeyCode::Up | KeyCode::PageUp => {
                    let step = if key.code == KeyCode::Up { 1 } else { 10 };
                    *scroll = scroll.saturating_sub(step);
                    DialogOutcome::Stay
                }
                KeyCode::Down | KeyCode::PageDown => {
                    let step = if key.code == KeyCode::Down { 1 } else { 10 };
                    *scroll = scroll.saturating_add(step).min(max_scroll.get());
                    DialogOutcome::Stay
                }
                KeyCode::Enter => {
                    if input.value() == expected.as_str() {
                        DialogOutcome::Run(op.clone())
                    } else {
                        *mismatch = true;
                        DialogOutcome::Stay
                    }
                }
                _ => {
                    input.handle_event(&crossterm::event::Event::Key(*key));
                    *mismatch = false;
                    DialogOutcome::Stay
                }
            },
            Dialog::Error { .. } => match key.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => DialogOutcome::Close,
                _ => DialogOutcome::Stay,
            },
            Dialog::Picker(p) => match key.code {
                KeyCode::Esc => DialogOutcome::Close,
                KeyCode::Up | KeyCode::Char('k') => {
                    p.cursor = p.cursor.saturating_sub(1);
                    DialogOutcome::Stay
                }
                KeyCode::Down | KeyCode::Char('j') => {
                    if p.cursor + 1 < p.items.len() {
                        p.cursor += 1;
                    }
                    DialogOutcome::Stay
                }
                KeyCode::Char(' ') if p.multi => {
                    if let Some(c) = p.chosen.get_mut(p.cursor) {
                        *c = !*c;
                    }
                    DialogOutcome::Stay
                }
                KeyCode::Char('c') if p.multi && key.modifiers == KeyModifiers::NONE => {
                    // Clear the filter.
                    DialogOutcome::Picked {
                        purpose: p.purpose.clone(),
                        values: Vec::new(),
                    }
                }
                KeyCode::Enter => {
                    let mut values: Vec<String> = p
                        .values
                        .iter()
                        .zip(&p.chosen)
                        .filter(|(_, c)| **c)
                        .map(|(v, _)| v.clone())
                        .collect();
                    if values.is_empty()
                        && let Some(v) = p.values.get(p.cursor)
                    {
                        values.push(v.clone());
                    }
                    DialogOutcome::Picked {
                        purpose: p.purpose.clone(),
                        values,
                    }
                }
                _ => DialogOutcome::Stay,
            },
        }
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let width = area.width.saturating_sub(4).min(72);
        match self {
            Dialog::QuitWhenDone { running } => {
                let r = centered(area, width, 9);
                Clear.render(r, buf);
                let block = Block::default()
                    .borders(Borders::ALL)
                    .border_style(theme.warning)
                    .title(Span::styled(
                        " Quit while changes are running? ",
                        theme.warning,
                    ));
                Paragraph::new(vec![
                    Line::from(format!(
                        "Still waiting for {} repl{}: {}.",
                        running.len(),
                        if running.len() == 1 { "y" } else { "ies" },
                        running.join(", ")
                    )),
                    Line::from(
                        "hubdeck waits for every reply and shows any new keys before it quits.",
                    ),
                    Line::from(""),
                    Line::from(vec![
                        Span::styled("y", theme.key),
                        Span::raw(" quit when done   "),
                        Span::styled("n/Esc", theme.key),
                        Span::raw(" stay"),
                    ]),
                ])
                .wrap(Wrap { trim: false })
                .block(block)
                .render(r, buf);
            }
            Dialog::Confirm { title, message, .. } => {
                let body: Vec<Line> = message.split('\n').map(Line::from).collect();
                let footer = vec![
                    Line::from(""),
                    Line::from(vec![
                        Span::styled("y", theme.key),
                        Span::raw(" confirm   "),
                        Span::styled("n/Esc", theme.key),
                        Span::raw(" cancel"),
                    ]),
                ];
                let h = fitted_height(&body, &footer, width, 8, area.height.saturating_sub(2));
                let r = centered(area, width, h);
                Clear.render(r, buf);
                let block = Block::default()
                    .borders(Borders::ALL)
                    .border_style(theme.warning)
                    .title(Span::styled(format!(" {title} "), theme.warning));
                render_fitted(r, buf, block, body, footer, 0, theme);
            }
            Dialog::TypeName {
                title,
                message,
                expected,
                input,
                mismatch,
                undoable,
                scroll,
                max_scroll,
                ..
            } => {
                let body: Vec<Line> = message.split('\n').map(Line::from).collect();
                let mut footer = vec![
                    Line::from(""),
                    Line::from(vec![
                        Span::raw("Type "),
                        Span::styled(expected.as_str(), theme.key),
                        Span::raw(if *undoable {
                            " to confirm:"
                        } else {
                            " to confirm (cannot be undone):"
                        }),
                    ]),
                    Line::from(vec![
                        Span::styled("> ", theme.key),
                        Span::styled(input.value().to_string(), theme.input),
                        Span::styled("▏", theme.key),
                    ]),
                ];
                if *mismatch {
                    footer.push(Line::from(Span::styled(
                        "✗ the name does not match",
                        theme.error,
                    )));
                }
                footer.push(Line::from(vec![
                    Span::styled("Enter", theme.key),
                    Span::raw(" confirm   "),
                    Span::styled("Esc", theme.key),
                    Span::raw(" cancel"),
                ]));
                let h = fitted_height(&body, &footer, width, 11, area.height.saturating_sub(2));
                let r = centered(area, width, h);
                Clear.render(r, buf);
                let block = Block::default()
                    .borders(Borders::ALL)
                    .border_style(theme.error)
                    .title(Span::styled(format!(" ⚠ {title} "), theme.error));
                max_scroll.set(render_fitted(r, buf, block, body, footer, *scroll, theme));
            }
            Dialog::Error { title, report } => {
                let mut body = Vec::new();
                for (i, c) in report.chain.iter().enumerate() {
                    let prefix = if i == 0 { "" } else { "caused by: " };
                    body.push(Line::from(vec![
                        Span::styled(prefix, theme.muted),
                        Span::styled(c.as_str(), if i == 0 { theme.error } else { theme.base }),
                    ]));
                }
                let footer = vec![
                    Line::from(""),
                    Line::from(vec![
                        Span::styled("Enter/Esc", theme.key),
                        Span::raw(" close"),
                    ]),
                ];
                let h = fitted_height(&body, &footer, width, 6, area.height.saturating_sub(2));
                let r = centered(area, width, h);
                Clear.render(r, buf);
                let block = Block::default()
                    .borders(Borders::ALL)
                    .border_style(theme.error)
                    .title(Span::styled(format!(" ✗ {title} "), theme.error));
                render_fitted(r, buf, block, body, footer, 0, theme);
            }
            Dialog::Picker(p) => {
                let h = (p.items.len() as u16 + 4).clamp(6, area.height.saturating_sub(2));
                let r = centered(area, width.min(50), h);
                Clear.render(r, buf);
                let block = Block::default()
                    .borders(Borders::ALL)
                    .border_style(theme.border_focus)
                    .title(Span::styled(format!(" {} ", p.title), theme.title));
                let inner = block.inner(r);
                block.render(r, buf);
                let visible = inner.height.saturating_sub(1) as usize;
                let start = p.cursor.saturating_sub(visible.saturating_sub(1));
                let mut lines: Vec<Line> = Vec::new();
                if p.loading {
                    lines.push(Line::from(Span::styled("loading…", theme.muted)));
                } else if p.items.is_empty() {
                    lines.push(Line::from(Span::styled("no values", theme.muted)));
                }
                for (i, item) in p.items.iter().enumerate().skip(start).take(visible) {
                    let mark = if p.multi {
                        if p.chosen[i] { "[x] " } else { "[ ] " }
                    } else {
                        ""
                    };
                    let style = if i == p.cursor {
                        theme.selected
                    } else {
                        theme.base
                    };
                    let cursor = if i == p.cursor { "▶ " } else { "  " };
                    lines.push(Line::from(Span::styled(
                        format!("{cursor}{mark}{item}"),
                        style,
                    )));
                }
                let hint = if p.multi {
                    "space toggle · Enter apply · c clear · Esc"
                } else {
                    "Enter choose · Esc cancel"
                };
                let body = Rect {
                    height: inner.height.saturating_sub(1),
                    ..inner
                };
                Paragraph::new(lines).render(body, buf);
                Paragraph::new(Span::styled(hint, theme.muted)).render(
                    Rect {
                        y: inner.y + inner.height.saturating_sub(1),
                        height: 1,
                        ..inner
                    },
                    buf,
                );
            }
        }
    }
}
