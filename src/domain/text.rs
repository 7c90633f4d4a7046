//! `DisplayText`: the ONE sanitizer every untrusted string passes through before it reaches the
//! terminal (SPEC §6). Control characters (C0, DEL, C1), escape sequences and bidi controls are
//! turned into visible escapes such as `\x1b` or `\u{202e}`; nothing is ever emitted raw.

use serde::Serialize;
use std::fmt;

/// Default cap on displayed characters (after escaping).
pub const DEFAULT_MAX_CHARS: usize = 512;

/// Text that is safe to put on a terminal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(transparent)]
pub struct DisplayText(String);

/// True for the bidirectional formatting controls that can reorder what a reader sees.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

impl DisplayText {
    /// Sanitizes `raw`, capped at [`DEFAULT_MAX_CHARS`].
    pub fn new(raw: &str) -> Self {
        Self::with_max(raw, DEFAULT_MAX_CHARS)
    }

    /// Sanitizes `raw`; output longer than `max` characters is cut and ends with `…`.
    pub fn with_max(raw: &str, max: usize) -> Self {
        let mut out = String::with_capacity(raw.len().min(max * 4));
        let mut count = 0usize;
        let max = max.max(1);
        for c in raw.chars() {
            let piece: String = if needs_escape(c) {
                match c {
                    '\n' => "\\n".to_string(),
                    '\t' => "\\t".to_string(),
                    '\r' => "\\r".to_string(),
                    c if (c as u32) < 0x100 => format!("\\x{:02x}", c as u32),
                    c => format!("\\u{{{:04x}}}", c as u32),
                }
            } else {
                c.to_string()
            };
            let n = piece.chars().count();
            if count + n > max {
                // Leave room for the ellipsis.
                while count + 1 > max {
                    if out.pop().is_none() {
                        break;
                    }
                    count -= 1;
                }
                out.push('…');
                return Self(out);
            }
            out.push_str(&piece);
            count += n;
        }
        Self(out)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for DisplayText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for DisplayText {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<&String> for DisplayText {
    fn from(s: &String) -> Self {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_visibly() {
        assert_eq!(DisplayText::new("a\x1b[31mred").as_str(), "a\\x1b[31mred");
        assert_eq!(DisplayText::new("x\u{202e}y").as_str(), "x\\u{202e}y");
        assert_eq!(DisplayText::new("del\x7f").as_str(), "del\\x7f");
        assert_eq!(DisplayText::new("c1\u{9b}").as_str(), "c1\\x9b");
        assert_eq!(
            DisplayText::new("Zoë Müller — NHS").as_str(),
            "Zoë Müller — NHS"
        );
    }

    #[test]
    fn caps_length() {
        let t = DisplayText::with_max(&"x".repeat(100), 10);
        assert_eq!(t.as_str().chars().count(), 10);
        assert!(t.as_str().ends_with('…'));
    }
}
