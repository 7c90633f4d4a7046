//! Operator sign-in: email + password verified by the directory, then (when the directory
//! asks) a new password for a NEW_PASSWORD_REQUIRED challenge.

pub mod data;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::directory::NewPasswordChallenge;
use crate::tui::theme::Theme;
use crate::tui::widgets::centered;
use crate::tui::widgets::form::{Field, Form, Submission, v_email};

pub struct SignInScreen {
    pub form: Form,
    pub challenge: Option<NewPasswordChallenge>,
    pub awaiting: Option<u64>,
    pub error: Option<String>,
}

impl Default for SignInScreen {
    fn default() -> Self {
        Self::new()
    }
}

impl SignInScreen {
    pub fn new() -> Self {
        Self {
            form: Form::new(
                "Sign in",
                vec![
                    Field::text("Email", "", v_email),
                    Field::password("Password"),
                ],
                |f| {
                    Some(Submission::SignIn {
                        email: f.text(0),
                        password: f.secret(1),
                    })
                },
            ),
            challenge: None,
            awaiting: None,
            error: None,
        }
    }

    /// Switches to the new-password form for a challenge.
    pub fn require_new_password(&mut self, challenge: NewPasswordChallenge) {
        self.challenge = Some(challenge);
        self.form = Form::new(
            "Choose a new password",
            vec![Field::password("New password"), Field::password("Repeat")],
            |f| {
                let (a, b) = (f.secret(0), f.secret(1));
                if a.expose() != b.expose() {
                    f.fields[1].error = Some("the passwords differ".into());
                    None
                } else if a.expose().chars().count() < 8 {
                    f.fields[0].error = Some("at least 8 characters".into());
                    None
                } else {
                    Some(Submission::NewPassword { password: a })
                }
            },
        );
        self.error = None;
    }

    /// A failed attempt: show why and let the operator try again.
    pub fn failed(&mut self, message: String) {
        self.form.busy = false;
        self.error = Some(message);
        // Never keep a rejected password around.
        for f in &mut self.form.fields {
            if let crate::tui::widgets::form::FieldKind::Password { value } = &mut f.kind {
                value.clear();
            }
        }
    }

    pub fn render(&self, env: &str, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let r = centered(
            area,
            area.width.saturating_sub(4).min(70),
            18.min(area.height),
        );
        let [head, form, foot] = Layout::vertical([
            Constraint::Length(3),
            Constraint::Length(self.form.height()),
            Constraint::Fill(1),
        ])
        .areas(r);
        Paragraph::new(vec![
            Line::from(Span::styled(
                "hubdeck — federated-learning hub console",
                theme.title,
            )),
            Line::from(vec![
                Span::styled("environment ", theme.muted),
                Span::styled(format!(" {env} "), theme.environment),
            ]),
        ])
        .render(head, buf);
        self.form.render(form, buf, theme, false);
        let mut lines = Vec::new();
        if let Some(e) = &self.error {
            lines.push(Line::from(Span::styled(format!("✗ {e}"), theme.error)));
        }
        if self.challenge.is_some() {
            lines.push(Line::from(Span::styled(
                "The directory requires a new password before first use.",
                theme.warning,
            )));
        }
        lines.push(Line::from(Span::styled("Esc/ctrl-c quit", theme.muted)));
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(foot, buf);
    }
}
