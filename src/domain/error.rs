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
    /// A control, bidi or invisible character; names the code point (U+200B), what it is and
    /// where it sits (the character's position, counted from 1), since it may draw nothing.
    #[error(
        "{field} must not contain {what} ({code_point}) at character {at}; retype the text without it"
    )]
    ForbiddenCharacter {
        field: &'static str,
        code_point: String,
        what: &'static str,
        at: usize,
    },
    #[error("unknown role {0:?} (expected admin, researcher or viewer)")]
    UnknownRole(String),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

/// Validates untrusted free text (names, labels, organisations): trimmed, 1..=max chars, no
/// control, bidi or invisible characters (see [`crate::domain::text::forbidden_char`]): two
/// names must never look alike yet differ. Returns the trimmed value.
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
    check_visible(field, v)?;
    Ok(v.to_string())
}

/// Refuses the first control, bidi or invisible character in `value`, naming its code point.
pub fn check_visible(field: &'static str, value: &str) -> Result<(), ValidationError> {
    use crate::domain::text::{code_point, forbidden_char};
    match value
        .chars()
        .enumerate()
        .find_map(|(i, c)| forbidden_char(c).map(|what| (i + 1, c, what)))
    {
        Some((at, c, what)) => Err(ValidationError::ForbiddenCharacter {
            field,
            code_point: code_point(c),
            what,
            at,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_invisible_characters_naming_the_code_point() {
        let e = bounded_text("mandate name", "Acme\u{200b}", 100).unwrap_err();
        assert_eq!(
            e.to_string(),
            "mandate name must not contain an invisible character (U+200B) at character 5; retype the text without it"
        );
        for c in [
            '\u{ad}',
            '\u{2060}',
            '\u{feff}',
            '\u{e0041}',
            '\u{fe0f}',
            '\u{3164}',
            '\u{115f}',
            '\u{202e}',
            '\u{9b}',
        ] {
            let v = format!("Ac{c}me");
            let e = bounded_text("name", &v, 100).unwrap_err();
            assert!(
                e.to_string().contains(&crate::domain::text::code_point(c)),
                "{e}"
            );
        }
        assert_eq!(
            bounded_text("name", "  Zoë 東京 Müller ", 100).unwrap(),
            "Zoë 東京 Müller"
        );
    }
}
