//! Forms on tui-input with inline validation, built by each screen from generic
//! [fields](super::fields); a screen turns the submission into its own service call (the
//! form's `on_submit`). The form knows no feature.

use std::sync::Arc;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use tui_input::backend::crossterm::EventHandler;

pub use super::fields::{
    Field, FieldKind, Validator, v_any, v_email, v_optional_text, v_required_text, v_trust_code,
};
use crate::domain::Secret;
use crate::tui::action::{OpBox, Row};

/// Turns a validated form into its submission (`None`: refused, with field errors set).
pub type OnSubmit = Arc<dyn Fn(&mut Form) -> Option<Submission> + Send + Sync>;

#[derive(Debug)]
pub enum Submission {
    Op(OpBox),
    SignIn {
        email: String,
        password: Secret,
    },
    NewPassword {
        password: Secret,
    },
    /// Back to the screen that opened the form (a preview it reads): the form closes and the
    /// screen's `on_submitted` takes the submission it kept (the form knows no screen's reads).
    ToScreen,
    /// A one-time authenticator code (MFA sign-in).
    MfaCode {
        code: Secret,
    },
}

#[derive(Debug)]
pub enum FormOutcome {
    Stay,
    Cancel,
    /// The key was refused; say why (a submission in flight, roles still loading).
    Refused(&'static str),
    Submit(Submission),
    /// The user-picker text changed: search the directory cache.
    SearchUsers(String),
}

pub struct Form {
    pub title: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// A submission is in flight: every key is ignored and the form cannot be closed until
    /// its reply arrives.
    pub busy: bool,
    pub note: Option<String>,
    /// Waiting for the role choices before the form can be used.
    pub loading: bool,
    /// The values held when the form opened (Roles forms): what a save adds and removes is
    /// measured against them.
    pub held: Option<Vec<String>>,
    /// A Roles form: a save is confirmed with what it adds and removes.
    pub edits_roles: bool,
    /// Labels ticked when the choices arrive and nothing is held yet (a new member).
    pub default_choices: &'static [&'static str],
    on_submit: OnSubmit,
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Form")
            .field("title", &self.title)
            .field("fields", &self.fields)
            .field("focus", &self.focus)
            .field("busy", &self.busy)
            .field("loading", &self.loading)
            .finish_non_exhaustive()
    }
}

/// What saving a Roles form changes (labels as shown).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl Form {
    /// A form of `fields`; `on_submit` turns the validated values into the submission.
    pub fn new(
        title: impl Into<String>,
        fields: Vec<Field>,
        on_submit: impl Fn(&mut Form) -> Option<Submission> + Send + Sync + 'static,
    ) -> Self {
        Self {
            title: title.into(),
            fields,
            focus: 0,
            busy: false,
            note: None,
            loading: false,
            held: None,
            edits_roles: false,
            default_choices: &[],
            on_submit: Arc::new(on_submit),
        }
    }

    /// A form that submits an operation built from its values.
    pub fn op(
        title: impl Into<String>,
        fields: Vec<Field>,
        op: impl Fn(&Form) -> OpBox + Send + Sync + 'static,
    ) -> Self {
        Self::new(title, fields, move |f| Some(Submission::Op(op(f))))
    }

    /// A Roles form: its multi-select is filled when the choices arrive (see
    /// [`Form::set_choices`]); until then it cannot be submitted.
    pub fn roles(mut self) -> Self {
        self.edits_roles = true;
        self.loading = true;
        self
    }

    /// A form whose multi-select is filled when the choices arrive, ticking `default`
    /// labels (adding a member).
    pub fn with_choices(mut self, default: &'static [&'static str]) -> Self {
        self.loading = true;
        self.default_choices = default;
        self
    }

    /// Fills the (first) multi-select with the choices of reply `id`; `held` values are ticked
    /// and remembered; with nothing held, `default` labels are ticked. False when the form is
    /// not waiting for `id`.
    pub fn set_choices(&mut self, options: &[(String, String)], held: &[String]) -> bool {
        if !self.loading {
            return false;
        }
        self.loading = false;
        let default = self.default_choices;
        let chosen: Vec<String> = if held.is_empty() {
            options
                .iter()
                .filter(|(_, l)| default.contains(&l.as_str()))
                .map(|(v, _)| v.clone())
                .collect()
        } else {
            held.to_vec()
        };
        if let Some(f) = self
            .fields
            .iter_mut()
            .find(|f| matches!(f.kind, FieldKind::Multi { .. }))
        {
            let (label, optional) = (f.label, f.optional);
            *f = Field::choices(label, options, &chosen);
            f.optional = optional;
        }
        if self.edits_roles {
            self.held = Some(held.to_vec());
        }
        true
    }

    /// The values held when a Roles form opened (None before its choices arrived).
    pub fn held(&self) -> Option<&[String]> {
        self.held.as_deref()
    }

    /// What saving would add and remove, against the roles held when the form opened.
    pub fn role_change(&self) -> Option<RoleChange> {
        let held = self.held.as_ref()?;
        let f = self
            .fields
            .iter()
            .find(|f| matches!(f.kind, FieldKind::Multi { .. }))?;
        let FieldKind::Multi {
            options,
            values,
            chosen,
            ..
        } = &f.kind
        else {
            return None;
        };
        let mut change = RoleChange::default();
        for ((o, v), c) in options.iter().zip(values).zip(chosen) {
            match (*c, held.contains(v)) {
                (true, false) => change.added.push(o.clone()),
                (false, true) => change.removed.push(o.clone()),
                _ => {}
            }
        }
        Some(change)
    }

    /// A paste (its line breaks already made spaces) into the focused text field. A text field
    /// takes it whole, so its validation names any control character; a password or a user
    /// search only its printable characters. It never submits; `None` when the focused field
    /// takes no text.
    pub fn paste(&mut self, text: &str) -> Option<FormOutcome> {
        if self.busy {
            return None;
        }
        let field = self.fields.get_mut(self.focus)?;
        match &mut field.kind {
            FieldKind::Text { input, validate } => {
                for c in text.chars() {
                    input.handle(tui_input::InputRequest::InsertChar(c));
                }
                field.error = validate(input.value()).err();
                Some(FormOutcome::Stay)
            }
            FieldKind::Password { value } => {
                for c in text.chars().filter(|c| !c.is_control()) {
                    if value.chars().count() >= 256 {
                        break;
                    }
                    value.push(c);
                }
                field.error = None;
                Some(FormOutcome::Stay)
            }
            FieldKind::UserPick { input, .. } => {
                for c in text.chars().filter(|c| !c.is_control()) {
                    input.handle(tui_input::InputRequest::InsertChar(c));
                }
                field.error = None;
                Some(FormOutcome::SearchUsers(input.value().to_string()))
            }
            _ => None,
        }
    }

    pub fn text(&self, i: usize) -> String {
        match self.fields.get(i).map(|f| &f.kind) {
            Some(FieldKind::Text { input, .. }) => input.value().trim().to_string(),
            Some(FieldKind::Select { options, idx }) => {
                options.get(*idx).cloned().unwrap_or_default()
            }
            Some(FieldKind::UserPick {
                results, cursor, ..
            }) => results
                .get(*cursor)
                .map(|r| r.id.clone())
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    pub fn secret(&self, i: usize) -> Secret {
        match self.fields.get(i).map(|f| &f.kind) {
            Some(FieldKind::Password { value }) => Secret::new(value.as_str()),
            _ => Secret::default(),
        }
    }

    pub fn flag(&self, i: usize) -> bool {
        matches!(
            self.fields.get(i).map(|f| &f.kind),
            Some(FieldKind::Check { value: true })
        )
    }

    pub fn chosen(&self, i: usize) -> Vec<String> {
        match self.fields.get(i).map(|f| &f.kind) {
            Some(FieldKind::Multi { values, chosen, .. }) => values
                .iter()
                .zip(chosen)
                .filter(|(_, c)| **c)
                .map(|(o, _)| o.clone())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The user picker's search results arrived (the router drops superseded searches).
    pub fn picker_results(&mut self, rows: Vec<Row>) {
        for f in &mut self.fields {
            if let FieldKind::UserPick {
                results,
                cursor,
                awaiting,
                ..
            } = &mut f.kind
                && *awaiting
            {
                *awaiting = false;
                *results = rows;
                *cursor = 0;
                return;
            }
        }
    }

    /// Marks the picker as searching.
    pub fn picker_awaiting(&mut self) {
        for f in &mut self.fields {
            if let FieldKind::UserPick { awaiting, .. } = &mut f.kind {
                *awaiting = true;
            }
        }
    }

    fn submission(&mut self) -> Option<Submission> {
        let mut ok = true;
        for f in &mut self.fields {
            ok &= f.validate();
        }
        let submit = self.on_submit.clone();
        // Run even when a field is invalid: a form's own checks (passwords that differ) set
        // their errors too.
        let out = submit(self).filter(|_| ok);
        if out.is_none()
            && let Some(i) = self.fields.iter().position(|f| f.error.is_some())
        {
            self.focus = i;
        }
        out
    }

    pub fn handle_key(&mut self, key: &KeyEvent) -> FormOutcome {
        if self.busy {
            // Closing now would lose the reply (and any keys it carries).
            return if key.code == KeyCode::Esc {
                FormOutcome::Refused("a submission is in flight: wait for its reply")
            } else {
                FormOutcome::Stay
            };
        }
        if key.code == KeyCode::Esc {
            return FormOutcome::Cancel;
        }
        if self.loading && key.code == KeyCode::Enter {
            return FormOutcome::Refused("still loading the current roles");
        }
        let n = self.fields.len();
        match key.code {
            KeyCode::Tab => {
                self.focus = (self.focus + 1) % n.max(1);
                return FormOutcome::Stay;
            }
            KeyCode::BackTab => {
                self.focus = (self.focus + n.max(1) - 1) % n.max(1);
                return FormOutcome::Stay;
            }
            KeyCode::Enter => {
                return match self.submission() {
                    Some(s) => {
                        self.note = None;
                        FormOutcome::Submit(s)
                    }
                    None => FormOutcome::Stay,
                };
            }
            _ => {}
        }
        let Some(field) = self.fields.get_mut(self.focus) else {
            return FormOutcome::Stay;
        };
        let move_focus = |focus: &mut usize, down: bool| {
            if down {
                *focus = (*focus + 1).min(n.saturating_sub(1));
            } else {
                *focus = focus.saturating_sub(1);
            }
        };
        match &mut field.kind {
            FieldKind::Text { input, validate } => match key.code {
                KeyCode::Up => move_focus(&mut self.focus, false),
                KeyCode::Down => move_focus(&mut self.focus, true),
                _ => {
                    if input.handle_event(&Event::Key(*key)).is_some() {
                        field.error = validate(input.value()).err();
                    }
                }
            },
            FieldKind::Password { value } => match key.code {
                KeyCode::Up => move_focus(&mut self.focus, false),
                KeyCode::Down => move_focus(&mut self.focus, true),
                KeyCode::Backspace => {
                    value.pop();
                }
                KeyCode::Char(c)
                    if !key.modifiers.contains(KeyModifiers::CONTROL)
                        && value.chars().count() < 256 =>
                {
                    value.push(c);
                    field.error = None;
                }
                _ => {}
            },
            FieldKind::Select { options, idx } => match key.code {
                KeyCode::Left | KeyCode::Char('h') => {
                    *idx = (*idx + options.len().max(1) - 1) % options.len().max(1);
                }
                KeyCode::Right | KeyCode::Char('l') | KeyCode::Char(' ') => {
                    *idx = (*idx + 1) % options.len().max(1);
                }
                KeyCode::Up => move_focus(&mut self.focus, false),
                KeyCode::Down => move_focus(&mut self.focus, true),
                _ => {}
            },
            FieldKind::Multi {
                options,
                chosen,
                cursor,
                ..
            } => match key.code {
                KeyCode::Up | KeyCode::Char('k') => {
                    if *cursor == 0 {
                        move_focus(&mut self.focus, false);
                    } else {
                        *cursor -= 1;
                    }
                }
                KeyCode::Down | KeyCode::Char('j') => {
                    if *cursor + 1 >= options.len() {
                        move_focus(&mut self.focus, true);
                    } else {
                        *cursor += 1;
                    }
                }
                KeyCode::Char(' ') | KeyCode::Char('x') => {
                    if let Some(c) = chosen.get_mut(*cursor) {
                        *c = !*c;
                    }
                    field.error = None;
                }
                _ => {}
            },
            FieldKind::Check { value } => match key.code {
                KeyCode::Char(' ') | KeyCode::Char('x') => *value = !*value,
                KeyCode::Up => move_focus(&mut self.focus, false),
                KeyCode::Down => move_focus(&mut self.focus, true),
                _ => {}
            },
            FieldKind::UserPick {
                input,
                results,
                cursor,
                ..
            } => match key.code {
                KeyCode::Up => *cursor = cursor.saturating_sub(1),
                KeyCode::Down => {
                    if *cursor + 1 < results.len() {
                        *cursor += 1;
                    }
                }
                _ => {
                    if input.handle_event(&Event::Key(*key)).is_some() {
                        field.error = None;
                        return FormOutcome::SearchUsers(input.value().to_string());
                    }
                }
            },
        }
        FormOutcome::Stay
    }

    pub fn height(&self) -> u16 {
        self.fields.iter().map(|f| f.height() + 1).sum::<u16>() + 4
    }
}
