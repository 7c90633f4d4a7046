//! `Email::parse`: parse, don't validate.

use super::ValidationError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A syntactically valid email address (lower-cased domain, original local part), at most
/// 254 characters, free of characters that could break a directory filter (`"`, `\`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let s = input.trim();
        let err = |reason| ValidationError::InvalidEmail {
            value: super::DisplayText::new(input).into_string(),
            reason,
        };
        if s.is_empty() {
            return Err(err("empty"));
        }
        if s.chars().count() > 254 {
            return Err(err("longer than 254 characters"));
        }
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(err("contains whitespace or control characters"));
        }
        if s.chars()
            .any(|c| super::text::is_invisible(c) || super::text::is_bidi_control(c))
        {
            return Err(err(
                "contains an invisible or bidirectional control character",
            ));
        }
        if s.contains('"') || s.contains('\\') {
            return Err(err("contains a quote or backslash"));
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(|| err("missing @"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(err("local part must be 1–64 characters"));
        }
        if local.contains('@') {
            return Err(err("more than one @"));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(err("misplaced dot in local part"));
        }
        if !local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
        {
            return Err(err("invalid character in local part"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(err("domain needs a dot"));
        }
        for l in &labels {
            if l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-') {
                return Err(err("invalid domain label"));
            }
            if !l.chars().all(|c| c.is_alphanumeric() || c == '-') {
                return Err(err("invalid character in domain"));
            }
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl std::str::FromStr for Email {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(
            Email::parse(" Ann@Example.ORG ").unwrap().as_str(),
            "Ann@example.org"
        );
    }

    #[test]
    fn rejects_bad() {
        for bad in [
            "",
            "a",
            "a@b",
            "a\"b@x.org",
            "a\\b@x.org",
            "a b@x.org",
            "@x.org",
            "a@.org",
            "a..b@x.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
