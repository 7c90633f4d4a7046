//! Operator sign-in: email + password verified by the directory, then (when the directory
//! asks) a new password for a NEW_PASSWORD_REQUIRED challenge, an authenticator code for
//! SOFTWARE_TOKEN_MFA, or the first-time setup of a software token for MFA_SETUP (its secret
//! and QR code drawn here, on the console's alternate screen only, then a code to verify).

pub mod data;

use ratatui::buffer::Buffer;
use std::sync::Arc;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::directory::{MfaChallenge, NewPasswordChallenge};
use crate::service::mfa::MfaSetup;
use crate::tui::theme::Theme;
use crate::tui::widgets::centered;
use crate::tui::widgets::form::{Field, Form, Submission, v_email};

pub struct SignInScreen {
    pub form: Form,
    pub challenge: Option<NewPasswordChallenge>,
    /// SOFTWARE_TOKEN_MFA: the challenge the code answers.
    pub mfa: Option<MfaChallenge>,
    /// MFA_SETUP: the software token being enrolled (dropping it zeroizes the secret).
    pub setup: Option<Arc<MfaSetup>>,
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
            mfa: None,
            setup: None,
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

    fn code_form(title: &str) -> Form {
        Form::new(title.to_string(), vec![Field::password("Code")], |f| {
            let code = f.secret(0);
            let digits = code.expose().trim();
            if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                f.fields[0].error = Some("the 6 digits your app shows".into());
                None
            } else {
                Some(Submission::MfaCode { code })
            }
        })
    }

    /// SOFTWARE_TOKEN_MFA: asks for the authenticator app's code.
    pub fn require_mfa_code(&mut self, challenge: MfaChallenge) {
        self.challenge = None;
        self.setup = None;
        self.mfa = Some(challenge);
        self.form = Self::code_form("Authenticator code");
        self.error = None;
    }

    /// MFA_SETUP: shows the new token's secret and QR code and asks a code from the app.
    pub fn require_mfa_setup(&mut self, setup: Arc<MfaSetup>) {
        self.challenge = None;
        self.mfa = None;
        self.setup = Some(setup);
        self.form = Self::code_form("Set up an authenticator app");
        self.error = None;
    }

    /// A failed attempt: show why and let the operator try again.
    pub fn failed(&mut self, message: String) {
        // An MFA step whose session ended (too many wrong codes, expired): start over.
        let mfa_step = self.mfa.is_some() || self.setup.is_some();
        if mfa_step && !message.contains(crate::directory::WRONG_CODE) {
            *self = Self::new();
            self.error = Some(format!("{message} — sign in again"));
            return;
        }
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
        if let Some(setup) = &self.setup {
            return self.render_setup(setup, env, area, buf, theme);
        }
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
        Self::head(env, theme).render(head, buf);
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
        if self.mfa.is_some() {
            lines.push(Line::from(Span::styled(
                "Enter the 6-digit code your authenticator app shows for this account.",
                theme.warning,
            )));
        }
        lines.push(Line::from(Span::styled("Esc/ctrl-c quit", theme.muted)));
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(foot, buf);
    }

    fn head(env: &str, theme: &Theme) -> Paragraph<'static> {
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
    }

    /// The enrolment: the QR code on the left (when the terminal is large enough), the
    /// secret to type and the code form on the right.
    fn render_setup(
        &self,
        setup: &MfaSetup,
        env: &str,
        area: Rect,
        buf: &mut Buffer,
        theme: &Theme,
    ) {
        let qr: Vec<&str> = setup.qr.expose().lines().collect();
        let qr_w = qr.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u16;
        let qr_h = qr.len() as u16;
        let [head, body] =
            Layout::vertical([Constraint::Length(3), Constraint::Fill(1)]).areas(area);
        Self::head(env, theme).render(head, buf);
        let fits = qr_w + 44 <= body.width && qr_h <= body.height;
        let right = if fits {
            let [left, right] =
                Layout::horizontal([Constraint::Length(qr_w + 2), Constraint::Fill(1)]).areas(body);
            let lines: Vec<Line> = qr.iter().map(|l| Line::from(l.to_string())).collect();
            Paragraph::new(lines).render(left, buf);
            right
        } else {
            body
        };
        let [intro, form, foot] = Layout::vertical([
            Constraint::Length(8),
            Constraint::Length(self.form.height()),
            Constraint::Fill(1),
        ])
        .areas(right);
        let mut lines = vec![
            Line::from(Span::styled(
                "This account must set up an authenticator app (MFA).",
                theme.warning,
            )),
            Line::from(if fits {
                "Scan the QR code with the app, or type this secret:"
            } else {
                "Type this secret into the app (enlarge the terminal to see the QR code):"
            }),
            // Borrowed, not copied: no unwiped string of the secret is left behind.
            Line::from(Span::styled(setup.secret_text.expose(), theme.title)),
            Line::from(vec![
                Span::styled("account ", theme.muted),
                Span::raw(crate::domain::DisplayText::with_max(&setup.account, 80).into_string()),
            ]),
            Line::from(""),
            Line::from("Then enter the code the app shows to finish signing in."),
        ];
        if let Some(e) = &self.error {
            lines.push(Line::from(Span::styled(format!("✗ {e}"), theme.error)));
        }
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(intro, buf);
        self.form.render(form, buf, theme, false);
        Paragraph::new(Line::from(Span::styled(
            "The secret is shown only here and is wiped from memory once you are signed in. Esc/ctrl-c quit",
            theme.muted,
        )))
        .wrap(Wrap { trim: false })
        .render(foot, buf);
    }
}
