//! `DisplayText`: the ONE sanitizer every untrusted string passes through before it reaches the
//! terminal. Control characters (C0, DEL, C1), escape sequences, bidi controls and
//! invisible characters (format characters such as U+200B, variation selectors, tag
//! characters, Hangul fillers) are turned into visible escapes such as `\x1b` or `\u{200b}`;
//! a literal backslash is shown doubled (`\\`), so typed text can never pass for an escape.
//! Nothing is ever emitted raw.
//!
//! Also here: the rule input validation applies to names, codes, labels and organisations
//! ([`forbidden_char`]), and display width ([`display_width`], [`pad_to_width`]) for aligning
//! columns with wide (CJK) and combining characters.

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

/// True for characters that draw nothing (or nothing a reader can tell apart) yet make two
/// strings differ: every format character (Unicode category Cf: soft hyphen, zero-width
/// space/joiners, word joiner, BOM, bidi controls, tag characters, …), variation selectors,
/// the combining grapheme joiner, Hangul fillers, Mongolian/Khmer invisible marks and the
/// line/paragraph separators.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        // Category Cf (Unicode 15).
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
            // Invisible marks and fillers outside Cf.
            | '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180D}'
            | '\u{180F}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

/// True for space characters other than U+0020 (no-break, en/em, thin, ideographic, Braille
/// blank, …): they look exactly like a plain space, so `Acme\u{a0}Imaging` and `Acme Imaging`
/// would be two names no reader can tell apart.
pub fn is_lookalike_space(c: char) -> bool {
    matches!(
        c,
        '\u{00A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{2800}' | '\u{3000}'
    )
}

/// Why `c` may not appear in a name, code, label or organisation: `Some("a control
/// character")`, `Some("an invisible character")`, …, or `None` when it is fine.
pub fn forbidden_char(c: char) -> Option<&'static str> {
    if c.is_control() {
        Some("a control character")
    } else if is_bidi_control(c) {
        Some("a bidirectional control character")
    } else if is_invisible(c) {
        Some("an invisible character")
    } else if is_lookalike_space(c) {
        Some("a space other than the plain space")
    } else {
        None
    }
}

/// Text pasted into a one-line field: each line break inside (CR LF, LF or CR) becomes one
/// space, so "Acme\nImaging" stays two words, and the breaks a copy ends with go; every other
/// character is kept as it came, for the field's validation to refuse (and name) what may not
/// be there rather than drop it unseen.
pub fn single_line(raw: &str) -> String {
    raw.trim_end_matches(['\r', '\n'])
        .replace("\r\n", "\n")
        .replace(['\r', '\n'], " ")
}

/// `U+200B` — how error messages name a character.
pub fn code_point(c: char) -> String {
    format!("U+{:04X}", c as u32)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || is_invisible(c) || is_lookalike_space(c)
}

/// Columns `s` takes on a terminal: wide (CJK) characters count 2, combining marks 0.
pub fn display_width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `s` followed by spaces up to `width` display columns (never cut).
pub fn pad_to_width(s: &str, width: usize) -> String {
    let mut out = String::with_capacity(s.len() + width);
    out.push_str(s);
    out.extend(std::iter::repeat_n(
        ' ',
        width.saturating_sub(display_width(s)),
    ));
    out
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
            let piece: String = if c == '\\' {
                "\\\\".to_string()
            } else if needs_escape(c) {
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
    fn a_pasted_line_break_becomes_one_space_and_controls_stay_to_be_refused() {
        assert_eq!(
            single_line("Acme\r\nImaging\nLtd\rUK\r\n"),
            "Acme Imaging Ltd UK"
        );
        assert_eq!(
            single_line("Ctl\x07Bell\x1b[31mRed"),
            "Ctl\x07Bell\x1b[31mRed"
        );
    }

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
    fn invisible_characters_become_visible_escapes() {
        assert_eq!(DisplayText::new("a\u{200b}b").as_str(), "a\\u{200b}b");
        assert_eq!(
            DisplayText::new("x\u{ad}\u{2060}\u{feff}").as_str(),
            "x\\xad\\u{2060}\\u{feff}"
        );
        assert_eq!(DisplayText::new("t\u{e0041}").as_str(), "t\\u{e0041}");
        assert_eq!(
            DisplayText::new("\u{3164}\u{fe0f}").as_str(),
            "\\u{3164}\\u{fe0f}"
        );
        assert_eq!(
            DisplayText::new("a\u{a0}b\u{3000}").as_str(),
            "a\\xa0b\\u{3000}"
        );
    }

    #[test]
    fn a_typed_backslash_cannot_pass_for_an_escape() {
        // The operator must be able to tell a real ESC from the four typed characters.
        let typed = DisplayText::new("\\x1b");
        let real = DisplayText::new("\x1b");
        assert_eq!(typed.as_str(), "\\\\x1b");
        assert_eq!(real.as_str(), "\\x1b");
        assert_ne!(typed, real);
    }

    #[test]
    fn forbidden_characters_are_named() {
        assert_eq!(forbidden_char('\u{200b}'), Some("an invisible character"));
        assert_eq!(forbidden_char('\u{1b}'), Some("a control character"));
        assert_eq!(
            forbidden_char('\u{202e}'),
            Some("a bidirectional control character")
        );
        assert_eq!(
            forbidden_char('\u{a0}'),
            Some("a space other than the plain space")
        );
        assert_eq!(forbidden_char(' '), None);
        assert_eq!(forbidden_char('é'), None);
        assert_eq!(forbidden_char('界'), None);
        assert_eq!(code_point('\u{200b}'), "U+200B");
        assert_eq!(code_point('\u{e0041}'), "U+E0041");
    }

    #[test]
    fn width_counts_columns() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("東京"), 4);
        assert_eq!(display_width("e\u{301}"), 1);
        assert_eq!(pad_to_width("東京", 6), "東京  ");
        assert_eq!(pad_to_width("toolong", 3), "toolong");
    }

    #[test]
    fn caps_length() {
        let t = DisplayText::with_max(&"x".repeat(100), 10);
        assert_eq!(t.as_str().chars().count(), 10);
        assert!(t.as_str().ends_with('…'));
    }
}
