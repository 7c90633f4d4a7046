//! The fields a form is built from (text, password, select, multi-select, checkbox, user
//! picker) and the inline validators (the domain's rules, applied before submit). No field
//! knows a feature.

use tui_input::Input;
use zeroize::Zeroizing;

use crate::tui::action::Row;

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
        awaiting: bool,
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
                awaiting: false,
            },
            error: None,
        }
    }

    pub(super) fn height(&self) -> u16 {
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

/// The domain's trust-code rule ([`TrustCode::parse`](crate::domain::trust::TrustCode::parse)).
pub fn v_trust_code(s: &str) -> Result<(), String> {
    use crate::domain::trust::{TrustCode, TrustError};
    match TrustCode::parse(s) {
        Ok(_) => Ok(()),
        Err(TrustError::EmptyTrustCode) => Err("trust code is required".into()),
        Err(_) => Err("2–16 characters: A–Z, 0–9, _ or -".into()),
    }
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
