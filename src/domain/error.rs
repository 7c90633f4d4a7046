//! Validation errors raised at the edge, before any side effect.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ValidationError {
    #[error("invalid email address {value:?}: {reason}")]
    InvalidEmail { value: String, reason: &'static str },
    #[error("invalid {kind} {value:?}: expected a UUID")]
    InvalidId { kind: &'static str, value: String },
    #[error("{field} must be 1–{max} characters (got {len})")]
    Length {
        field: &'static str,
        max: usize,
        len: usize,
    },
    #[error("{field} must not contain control characters")]
    ControlCharacters { field: &'static str },
    #[error("unknown role {0:?} (expected admin, researcher or viewer)")]
    UnknownRole(String),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

/// Validates untrusted free text (names, organisations): trimmed, 1..=max chars, no control
/// characters. Returns the trimmed value.
pub fn bounded_text(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<String, ValidationError> {
    let v = value.trim();
    let len = v.chars().count();
    if len == 0 || len > max {
        return Err(ValidationError::Length { field, max, len });
    }
    if v.chars()
        .any(|c| c.is_control() || crate::domain::text::is_bidi_control(c))
    {
        return Err(ValidationError::ControlCharacters { field });
    }
    Ok(v.to_string())
}
