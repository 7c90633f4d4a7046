//! The one-time reveal panel shown after a trust registration or key rotation: both keys,
//! "shown once — store them now", `c` copies one via OSC 52 after a warning, and closing needs
//! the last four characters of the API key typed back. The panel owns the only copies of the
//! keys (as `Secret`s); closing drops them (zeroized) and nothing can reopen it.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};
use zeroize::Zeroizing;

use super::centered;
use crate::domain::{DisplayText, Secret};
use crate::tui::action::RevealKeys;
use crate::tui::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevealMode {
    View,
    /// The clipboard warning is showing for the selected key.
    CopyWarning,
    /// Typing the last four characters of the API key.
    Acknowledge,
}

#[derive(Debug)]
pub struct Reveal {
    pub title: String,
    pub trust: DisplayText,
    pub details: Vec<(String, DisplayText)>,
    api_key: Secret,
    internal_key: Option<Secret>,
    /// 0 = API key, 1 = internal-service key.
    pub selected: usize,
    pub mode: RevealMode,
    ack: Zeroizing<String>,
    pub ack_error: bool,
    pub copied: Option<&'static str>,
    /// When the copy warning opened (it ignores keys for [`GUARD`] after that).
    warned_at: Duration,
    /// Further key sets waiting behind this panel (shown in the title).
    pub queued_after: usize,
    on_acknowledged: Option<crate::tui::action::OpBox>,
}

/// Confirmations ignore keys that arrive this soon after they open.
pub const GUARD: Duration = Duration::from_millis(300);

/// What a key did in the panel.
#[derive(Debug)]
pub enum RevealOutcome {
    Stay,
    /// Write this key to the clipboard via OSC 52 (the loop does the terminal write).
    Copy(Secret),
    /// Acknowledged: the panel closes and the keys are dropped.
    Close,
}

impl Reveal {
    pub fn new(keys: RevealKeys) -> Self {
        Self {
            title: keys.title,
            trust: keys.trust,
            details: keys.details,
            api_key: keys.api_key,
            internal_key: keys.internal_key,
            selected: 0,
            mode: RevealMode::View,
            ack: Zeroizing::new(String::new()),
            ack_error: false,
            copied: None,
            warned_at: Duration::ZERO,
            queued_after: 0,
            on_acknowledged: keys.on_acknowledged,
        }
    }

    /// The operation that records the acknowledgement (taken once, when the panel closes).
    pub fn take_acknowledged(&mut self) -> Option<crate::tui::action::OpBox> {
        self.on_acknowledged.take()
    }

    fn selected_name(&self) -> &'static str {
        if self.selected == 0 {
            "trust API key"
        } else {
            "internal-service key"
        }
    }

    fn selected_key(&self) -> Option<&Secret> {
        if self.selected == 0 {
            Some(&self.api_key)
        } else {
            self.internal_key.as_ref()
        }
    }

    fn last_four(&self) -> String {
        let k = self.api_key.expose();
        let n = k.chars().count();
        k.chars().skip(n.saturating_sub(4)).collect()
    }

    /// A key at time `now` (the console's clock). Keys with Ctrl or Alt never act here (Ctrl-C
    /// is not `c`), and the copy warning ignores keys for [`GUARD`] after it opens.
    pub fn handle_key(&mut self, key: &KeyEvent, now: Duration) -> RevealOutcome {
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SUPER)
        {
            return RevealOutcome::Stay;
        }
        if self.mode == RevealMode::CopyWarning && now.saturating_sub(self.warned_at) < GUARD {
            return RevealOutcome::Stay;
        }
        match self.mode {
            RevealMode::View => match key.code {
                KeyCode::Tab
                | KeyCode::Up
                | KeyCode::Down
                | KeyCode::Char('j')
                | KeyCode::Char('k') => {
                    if self.internal_key.is_some() {
                        self.selected = 1 - self.selected;
                    }
                    RevealOutcome::Stay
                }
                KeyCode::Char('c') => {
                    self.mode = RevealMode::CopyWarning;
                    self.warned_at = now;
                    RevealOutcome::Stay
                }
                KeyCode::Enter => {
                    self.mode = RevealMode::Acknowledge;
                    RevealOutcome::Stay
                }
                _ => RevealOutcome::Stay,
            },
            RevealMode::CopyWarning => match key.code {
                KeyCode::Char('y') | KeyCode::Char('c') => {
                    self.mode = RevealMode::View;
                    match self.selected_key().cloned() {
                        Some(k) => {
                            self.copied = Some(self.selected_name());
                            RevealOutcome::Copy(k)
                        }
                        None => RevealOutcome::Stay,
                    }
                }
                _ => {
                    self.mode = RevealMode::View;
                    RevealOutcome::Stay
                }
            },
            RevealMode::Acknowledge => match key.code {
                KeyCode::Esc => {
                    self.mode = RevealMode::View;
                    self.ack.clear();
                    self.ack_error = false;
                    RevealOutcome::Stay
                }
                KeyCode::Backspace => {
                    self.ack.pop();
                    RevealOutcome::Stay
                }
                KeyCode::Enter => {
                    if self.ack.as_str() == self.last_four() {
                        RevealOutcome::Close
                    } else {
                        self.ack_error = true;
                        self.ack.clear();
                        RevealOutcome::Stay
                    }
                }
                KeyCode::Char(c) => {
                    if self.ack.chars().count() < 4 {
                        self.ack.push(c);
                    }
                    self.ack_error = false;
                    RevealOutcome::Stay
                }
                _ => RevealOutcome::Stay,
            },
        }
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let r = centered(
            area,
            area.width.saturating_sub(2).min(110),
            20.min(area.height),
        );
        Clear.render(r, buf);
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.warning)
            .title(Span::styled(
                if self.queued_after > 0 {
                    format!(" {} — {} more after this ", self.title, self.queued_after)
                } else {
                    format!(" {} ", self.title)
                },
                theme.warning,
            ));
        let mut lines = vec![Line::from(vec![
            Span::styled("Trust: ", theme.muted),
            Span::raw(self.trust.as_str().to_string()),
        ])];
        for (k, v) in &self.details {
            lines.push(Line::from(vec![
                Span::styled(format!("{k}: "), theme.muted),
                Span::raw(v.as_str().to_string()),
            ]));
        }
        lines.push(Line::from(Span::styled(
            "⚠ These keys are shown once — store them now. They can never be shown again.",
            theme.error,
        )));
        lines.push(Line::from(""));
        let keys = std::iter::once((0, "Trust API key", &self.api_key)).chain(
            self.internal_key
                .as_ref()
                .map(|k| (1, "Internal-service key", k)),
        );
        for (idx, name, key) in keys {
            let sel = self.selected == idx;
            lines.push(Line::from(vec![
                Span::styled(if sel { "▶ " } else { "  " }, theme.key),
                Span::styled(
                    format!("{name}:"),
                    if sel { theme.title } else { theme.muted },
                ),
            ]));
            // Borrowed, not copied: no unwiped string of the key is left behind.
            lines.push(Line::from(vec![
                Span::raw("  "),
                Span::styled(key.expose(), theme.secret),
            ]));
        }
        lines.push(Line::from(""));
        match self.mode {
            RevealMode::View => {
                if let Some(c) = self.copied {
                    lines.push(Line::from(Span::styled(
                        format!("✓ {c} sent to the clipboard (OSC 52)"),
                        theme.ok,
                    )));
                }
                lines.push(Line::from(vec![
                    Span::styled("Tab", theme.key),
                    Span::raw(" select key  "),
                    Span::styled("c", theme.key),
                    Span::raw(" copy selected  "),
                    Span::styled("Enter", theme.key),
                    Span::raw(" I have stored them — close"),
                ]));
            }
            RevealMode::CopyWarning => {
                lines.push(Line::from(Span::styled(
                    format!(
                        "Copy the {} to the clipboard via OSC 52? Anything that can read your clipboard (or tmux buffer) can read it.",
                        self.selected_name()
                    ),
                    theme.warning,
                )));
                lines.push(Line::from(vec![
                    Span::styled("y", theme.key),
                    Span::raw(" copy   "),
                    Span::styled("any other key", theme.key),
                    Span::raw(" cancel"),
                ]));
            }
            RevealMode::Acknowledge => {
                let shown: String = "•".repeat(self.ack.chars().count());
                lines.push(Line::from(vec![
                    Span::raw("Type the last four characters of the API key to close: "),
                    Span::styled(format!("{shown:_<4}"), theme.input),
                ]));
                if self.ack_error {
                    lines.push(Line::from(Span::styled(
                        "✗ that does not match — the panel stays open",
                        theme.error,
                    )));
                }
                lines.push(Line::from(vec![
                    Span::styled("Enter", theme.key),
                    Span::raw(" close for good   "),
                    Span::styled("Esc", theme.key),
                    Span::raw(" back"),
                ]));
            }
        }
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block)
            .render(r, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Reveal {
        /// A key well after the last warning opened.
        fn handle_key_at(&mut self, key: &KeyEvent) -> RevealOutcome {
            let now = self.warned_at + GUARD + Duration::from_secs(1);
            self.handle_key(key, now)
        }
    }

    #[test]
    fn ctrl_c_and_a_fast_burst_do_not_copy() {
        let mut r = Reveal::new(RevealKeys {
            title: "t".into(),
            trust: DisplayText::new("x"),
            details: vec![],
            api_key: Secret::new("hubk_abcdWXYZ"),
            internal_key: None,
            on_acknowledged: None,
        });
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert!(matches!(
            r.handle_key(&ctrl_c, Duration::ZERO),
            RevealOutcome::Stay
        ));
        assert_eq!(r.mode, RevealMode::View, "ctrl-c is not the copy key");
        // `c` then `y` 50 ms later: the warning ignores the second key.
        let t0 = Duration::from_secs(1);
        r.handle_key(&k(KeyCode::Char('c')), t0);
        assert_eq!(r.mode, RevealMode::CopyWarning);
        assert!(matches!(
            r.handle_key(&k(KeyCode::Char('y')), t0 + Duration::from_millis(50)),
            RevealOutcome::Stay
        ));
        assert_eq!(r.mode, RevealMode::CopyWarning);
        assert!(matches!(
            r.handle_key(&k(KeyCode::Char('y')), t0 + GUARD),
            RevealOutcome::Copy(_)
        ));
    }

    fn k(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn closes_only_with_the_last_four() {
        let mut r = Reveal::new(RevealKeys {
            title: "t".into(),
            trust: DisplayText::new("x"),
            details: vec![],
            api_key: Secret::new("hubk_abcdWXYZ"),
            internal_key: Some(Secret::new("hubi_1234")),
            on_acknowledged: None,
        });
        assert!(matches!(
            r.handle_key_at(&k(KeyCode::Esc)),
            RevealOutcome::Stay
        ));
        assert!(matches!(
            r.handle_key_at(&k(KeyCode::Enter)),
            RevealOutcome::Stay
        ));
        for c in "WXYA".chars() {
            r.handle_key_at(&k(KeyCode::Char(c)));
        }
        assert!(matches!(
            r.handle_key_at(&k(KeyCode::Enter)),
            RevealOutcome::Stay
        ));
        assert!(r.ack_error);
        for c in "WXYZ".chars() {
            r.handle_key_at(&k(KeyCode::Char(c)));
        }
        assert!(matches!(
            r.handle_key_at(&k(KeyCode::Enter)),
            RevealOutcome::Close
        ));
    }

    #[test]
    fn copy_needs_confirmation() {
        let mut r = Reveal::new(RevealKeys {
            title: "t".into(),
            trust: DisplayText::new("x"),
            details: vec![],
            api_key: Secret::new("hubk_abcdWXYZ"),
            internal_key: Some(Secret::new("hubi_1234")),
            on_acknowledged: None,
        });
        assert!(matches!(
            r.handle_key_at(&k(KeyCode::Char('c'))),
            RevealOutcome::Stay
        ));
        assert_eq!(r.mode, RevealMode::CopyWarning);
        r.handle_key_at(&k(KeyCode::Tab)); // cancels
        assert_eq!(r.mode, RevealMode::View);
        r.handle_key_at(&k(KeyCode::Tab));
        r.handle_key_at(&k(KeyCode::Char('c')));
        match r.handle_key_at(&k(KeyCode::Char('y'))) {
            RevealOutcome::Copy(s) => assert_eq!(s.expose(), "hubi_1234"),
            other => panic!("{other:?}"),
        }
    }
}
