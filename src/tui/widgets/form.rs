//! Forms on tui-input with inline validation: text fields, password fields (zeroized),
//! selects, multi-selects, checkboxes and a user picker that searches the directory cache.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;
use zeroize::Zeroizing;

use super::centered;
use crate::domain::{DisplayText, Secret};
use crate::tui::action::{Op, Row};
use crate::tui::theme::Theme;

pub type Validator = fn(&str) -> Result<(), String>;

#[derive(Debug)]
pub enum FieldKind {
    Text {
        input: Input,
        validate: Validator,
    },
    Password {
        value: Zeroizing<String>,
    },
    Select {
        options: Vec<String>,
        idx: usize,
    },
    /// A multi-select: `options` are shown, `values` (same order) are what a choice returns.
    Multi {
        options: Vec<String>,
        values: Vec<String>,
        chosen: Vec<bool>,
        cursor: usize,
    },
    Check {
        value: bool,
    },
    /// Search the directory cache; the highlighted result is the choice.
    UserPick {
        input: Input,
        results: Vec<Row>,
        cursor: usize,
        awaiting: Option<u64>,
    },
}

#[derive(Debug)]
pub struct Field {
    pub label: &'static str,
    pub kind: FieldKind,
    pub error: Option<String>,
}

impl Field {
    pub fn text(label: &'static str, value: &str, validate: Validator) -> Self {
        Self {
            label,
            kind: FieldKind::Text {
                input: Input::new(value.to_string()),
                validate,
            },
            error: None,
        }
    }
    pub fn password(label: &'static str) -> Self {
        Self {
            label,
            kind: FieldKind::Password {
                value: Zeroizing::new(String::new()),
            },
            error: None,
        }
    }
    pub fn select(label: &'static str, options: Vec<String>, idx: usize) -> Self {
        Self {
            label,
            kind: FieldKind::Select { options, idx },
            error: None,
        }
    }
    pub fn multi(label: &'static str, options: Vec<String>, chosen: &[&str]) -> Self {
        let c = options
            .iter()
            .map(|o| chosen.contains(&o.as_str()))
            .collect();
        Self {
            label,
            kind: FieldKind::Multi {
                values: options.clone(),
                options,
                chosen: c,
                cursor: 0,
            },
            error: None,
        }
    }

    /// A multi-select over (value, label) pairs, with `chosen` values ticked.
    pub fn choices(label: &'static str, options: &[(String, String)], chosen: &[String]) -> Self {
        Self {
            label,
            kind: FieldKind::Multi {
                options: options.iter().map(|(_, l)| l.clone()).collect(),
                chosen: options.iter().map(|(v, _)| chosen.contains(v)).collect(),
                values: options.iter().map(|(v, _)| v.clone()).collect(),
                cursor: 0,
            },
            error: None,
        }
    }
    pub fn check(label: &'static str, value: bool) -> Self {
        Self {
            label,
            kind: FieldKind::Check { value },
            error: None,
        }
    }
    pub fn user_pick(label: &'static str) -> Self {
        Self {
            label,
            kind: FieldKind::UserPick {
                input: Input::default(),
                results: Vec::new(),
                cursor: 0,
                awaiting: None,
            },
            error: None,
        }
    }

    fn height(&self) -> u16 {
        match &self.kind {
            FieldKind::Multi { options, .. } => options.len().max(1) as u16 + 1,
            FieldKind::UserPick { .. } => 6,
            _ => 1,
        }
    }

    /// Validates this field; sets and returns its inline error.
    pub fn validate(&mut self) -> bool {
        self.error = match &self.kind {
            FieldKind::Text { input, validate } => validate(input.value()).err(),
            FieldKind::Password { value } if value.is_empty() => Some("required".into()),
            FieldKind::Multi { chosen, .. } if !chosen.iter().any(|c| *c) => {
                Some("choose at least one".into())
            }
            FieldKind::UserPick { results, .. } if results.is_empty() => {
                Some("search and choose a user".into())
            }
            _ => None,
        };
        self.error.is_none()
    }
}

/// What the form is for (decides the submission).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormKind {
    SignIn,
    NewPassword,
    CreateMandate,
    EditMandate {
        id: String,
    },
    AddMember {
        mandate_id: String,
    },
    MemberRoles {
        mandate_id: String,
        user_sub: String,
    },
    RegisterUser,
    UserRoles {
        sub: String,
    },
    EditProfile {
        sub: String,
    },
    RegisterTrust,
    ResolveRegistration {
        id: String,
    },
}

#[derive(Debug)]
pub enum Submission {
    Op(Op),
    SignIn { email: String, password: Secret },
    NewPassword { password: Secret },
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

#[derive(Debug)]
pub struct Form {
    pub kind: FormKind,
    pub title: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// A submission is in flight: every key is ignored and the form cannot be closed until
    /// its reply arrives.
    pub busy: bool,
    pub note: Option<String>,
    /// Waiting for the reply with this id before the form can be used (role choices).
    pub loading: Option<u64>,
    /// The values held when the form opened (Roles forms): what a save adds and removes is
    /// measured against them.
    pub held: Option<Vec<String>>,
}

/// What saving a Roles form changes (labels as shown).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl Form {
    pub fn new(kind: FormKind, title: impl Into<String>, fields: Vec<Field>) -> Self {
        Self {
            kind,
            title: title.into(),
            fields,
            focus: 0,
            busy: false,
            note: None,
            loading: None,
            held: None,
        }
    }

    /// A form whose multi-select (`field`) is filled by the reply `id` (see
    /// [`Form::set_choices`]); until then it cannot be submitted.
    pub fn awaiting_choices(mut self, id: u64) -> Self {
        self.loading = Some(id);
        self
    }

    /// Fills the (first) multi-select with the choices of reply `id`; `held` values are ticked
    /// and remembered; with nothing held, `default` labels are ticked. False when the form is
    /// not waiting for `id`.
    pub fn set_choices(
        &mut self,
        id: u64,
        options: &[(String, String)],
        held: &[String],
        default: &[&str],
    ) -> bool {
        if self.loading != Some(id) {
            return false;
        }
        self.loading = None;
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
            let label = f.label;
            *f = Field::choices(label, options, &chosen);
        }
        if matches!(
            self.kind,
            FormKind::UserRoles { .. } | FormKind::MemberRoles { .. }
        ) {
            self.held = Some(held.to_vec());
        }
        true
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

    /// A paste (already stripped of newlines and controls) into the focused text field. It
    /// never submits; `None` when the focused field takes no text.
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
                for c in text.chars() {
                    if value.chars().count() >= 256 {
                        break;
                    }
                    value.push(c);
                }
                field.error = None;
                Some(FormOutcome::Stay)
            }
            FieldKind::UserPick { input, .. } => {
                for c in text.chars() {
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

    fn secret(&self, i: usize) -> Secret {
        match self.fields.get(i).map(|f| &f.kind) {
            Some(FieldKind::Password { value }) => Secret::new(value.as_str()),
            _ => Secret::default(),
        }
    }

    fn flag(&self, i: usize) -> bool {
        matches!(
            self.fields.get(i).map(|f| &f.kind),
            Some(FieldKind::Check { value: true })
        )
    }

    fn chosen(&self, i: usize) -> Vec<String> {
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

    /// The user-picker field waiting for results with this id, if any.
    pub fn picker_results(&mut self, id: u64, rows: Vec<Row>) {
        for f in &mut self.fields {
            if let FieldKind::UserPick {
                results,
                cursor,
                awaiting,
                ..
            } = &mut f.kind
                && *awaiting == Some(id)
            {
                *awaiting = None;
                *results = rows;
                *cursor = 0;
                return;
            }
        }
    }

    /// Marks the picker as waiting for `id`.
    pub fn picker_awaiting(&mut self, id: u64) {
        for f in &mut self.fields {
            if let FieldKind::UserPick { awaiting, .. } = &mut f.kind {
                *awaiting = Some(id);
            }
        }
    }

    fn submission(&mut self) -> Option<Submission> {
        let mut ok = true;
        for f in &mut self.fields {
            ok &= f.validate();
        }
        if self.kind == FormKind::NewPassword {
            let (a, b) = (self.secret(0), self.secret(1));
            if a.expose() != b.expose() {
                self.fields[1].error = Some("the passwords differ".into());
                ok = false;
            } else if a.expose().chars().count() < 8 {
                self.fields[0].error = Some("at least 8 characters".into());
                ok = false;
            }
        }
        if !ok {
            if let Some(i) = self.fields.iter().position(|f| f.error.is_some()) {
                self.focus = i;
            }
            return None;
        }
        Some(match self.kind.clone() {
            FormKind::SignIn => Submission::SignIn {
                email: self.text(0),
                password: self.secret(1),
            },
            FormKind::NewPassword => Submission::NewPassword {
                password: self.secret(0),
            },
            FormKind::CreateMandate => Submission::Op(Op::CreateMandate {
                name: self.text(0),
                label: self.text(1),
                plan: self.text(2),
                enabled: self.flag(3),
            }),
            FormKind::EditMandate { id } => Submission::Op(Op::UpdateMandate {
                id,
                name: self.text(0),
                label: self.text(1),
                enabled: self.flag(2),
            }),
            FormKind::AddMember { mandate_id } => Submission::Op(Op::AddMember {
                mandate_id,
                user_sub: self.text(0),
                roles: self.chosen(1),
            }),
            FormKind::MemberRoles {
                mandate_id,
                user_sub,
            } => Submission::Op(Op::SetMemberRoles {
                mandate_id,
                user_sub,
                roles: self.chosen(0),
            }),
            FormKind::RegisterUser => Submission::Op(Op::RegisterUser {
                email: self.text(0),
                name: self.text(1),
                organisation: self.text(2),
                roles: self.chosen(3),
            }),
            FormKind::UserRoles { sub } => Submission::Op(Op::SetUserRoles {
                sub,
                roles: self.chosen(0),
            }),
            FormKind::EditProfile { sub } => Submission::Op(Op::EditProfile {
                sub,
                name: self.text(0),
                organisation: self.text(1),
            }),
            FormKind::RegisterTrust => {
                let region = self.text(2);
                Submission::Op(Op::RegisterTrust {
                    name: self.text(0),
                    code: self.text(1).to_ascii_uppercase(),
                    region: (region != NO_REGION).then_some(region),
                })
            }
            FormKind::ResolveRegistration { id } => Submission::Op(Op::ResolveRegistration {
                id,
                note: self.text(0),
            }),
        })
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
        if self.loading.is_some() && key.code == KeyCode::Enter {
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
                    if self.loading.is_some() {
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
                    if awaiting.is_some() {
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

/// The "no region" choice of the region select.
pub const NO_REGION: &str = "(none)";

// ---- validators (the domain's rules, applied inline before submit) ----

pub fn v_email(s: &str) -> Result<(), String> {
    crate::domain::Email::parse(s)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

pub fn v_required_text(s: &str) -> Result<(), String> {
    crate::domain::error::bounded_text("value", s, 255)
        .map(|_| ())
        .map_err(|e| e.to_string().replacen("value ", "", 1))
}

pub fn v_optional_text(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        Ok(())
    } else {
        v_required_text(s)
    }
}

pub fn v_trust_code(s: &str) -> Result<(), String> {
    let c = s.trim().to_ascii_uppercase();
    if c.is_empty() {
        return Err("trust code is required".into());
    }
    if !(2..=16).contains(&c.len())
        || !c
            .chars()
            .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit() || ch == '_' || ch == '-')
    {
        return Err("2–16 characters: A–Z, 0–9, _ or -".into());
    }
    Ok(())
}

pub fn v_any(_: &str) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators() {
        assert!(v_email("a@b.org").is_ok());
        assert!(v_email("nope").is_err());
        assert!(v_trust_code("ab_1").is_ok());
        assert!(v_trust_code("a").is_err());
        assert!(v_trust_code("a b").is_err());
        assert!(v_required_text("  ").is_err());
        assert!(v_required_text("x\u{1b}").is_err());
    }
}
