//! How the CLI writes results on stdout: tables of sanitized cells aligned by display width,
//! JSON with invisible characters escaped, and write errors returned (never a panic) so a
//! closed stdout (`hubdeck mandates list | head -1`) ends the command quietly.

use std::io::{self, Write};

use crate::domain::DisplayText;
use crate::domain::text::{display_width, is_bidi_control, is_invisible, pad_to_width};

/// `println!` that returns the write error instead of panicking: `outln!("{x}")?`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        writeln!(::std::io::stdout().lock(), $($arg)*)
    }};
}
pub(crate) use outln;

/// Longest cell shown in a table (characters after escaping); the JSON output has it whole.
pub const MAX_CELL_CHARS: usize = 60;
/// The last column needs no alignment after it, so it may be longer (error messages).
pub const MAX_LAST_CELL_CHARS: usize = 200;

/// Renders a table: every cell goes through [`DisplayText`] (cut at [`MAX_CELL_CHARS`], the
/// last column at [`MAX_LAST_CELL_CHARS`]) and columns are padded by display width, so CJK
/// and combining characters stay aligned.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, c)| {
                    let max = if i + 1 == headers.len() {
                        MAX_LAST_CELL_CHARS
                    } else {
                        MAX_CELL_CHARS
                    };
                    DisplayText::with_max(c, max).into_string()
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| display_width(h)).collect();
    for r in &cells {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(display_width(c));
            }
        }
    }
    let mut out = String::new();
    let mut line = |vals: &[&str]| {
        let mut l = String::new();
        for (i, v) in vals.iter().enumerate() {
            if i + 1 < vals.len() {
                l.push_str(&pad_to_width(v, widths.get(i).copied().unwrap_or(0) + 2));
            } else {
                l.push_str(v);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(headers);
    for r in &cells {
        line(&r.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out
}

/// Writes [`render_table`] on stdout.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(render_table(headers, rows).as_bytes())?;
    stdout.flush()
}

/// Pretty JSON in which C1 controls, DEL, bidi controls and invisible characters (U+200B,
/// U+FEFF, tag characters, …) are written as `\uXXXX` escapes: a `jq` or `less` on a terminal
/// shows them instead of obeying them. (serde_json already escapes C0 controls.)
pub fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> serde_json::Result<String> {
    Ok(escape_invisibles(&serde_json::to_string_pretty(v)?))
}

/// Outside string literals serde_json writes only ASCII, so every such character found in its
/// output is inside a string, where a `\u` escape means the same character.
fn escape_invisibles(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    escape_invisibles_into(json, &mut out);
    out
}

/// [`escape_invisibles`] appending to `out` (a caller holding keys passes a buffer it wipes).
pub fn escape_invisibles_into(json: &str, out: &mut String) {
    for c in json.chars() {
        let hidden =
            (c as u32) >= 0x7f && (c.is_control() || is_bidi_control(c) || is_invisible(c));
        if hidden {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
}

/// Writes [`to_json`] and a newline on stdout.
pub fn print_json<T: serde::Serialize + ?Sized>(v: &T) -> anyhow::Result<()> {
    let text = to_json(v)?;
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.write_all(b"\n")?;
    stdout.flush()?;
    Ok(())
}

/// A writer that remembers a write to a closed pipe, for output handed to a layer that turns
/// I/O errors into its own (the audit export): [`PipeWatch::check`] brings the broken pipe
/// back so the command can end quietly.
pub struct PipeWatch<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> PipeWatch<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            closed: false,
        }
    }

    /// `Err(BrokenPipe)` when any write met a closed pipe.
    pub fn check(&self) -> io::Result<()> {
        if self.closed {
            Err(io::ErrorKind::BrokenPipe.into())
        } else {
            Ok(())
        }
    }

    fn watch<T>(&mut self, r: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &r
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            self.closed = true;
        }
        r
    }
}

impl<W: Write> Write for PipeWatch<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.inner.write(buf);
        self.watch(r)
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = self.inner.flush();
        self.watch(r)
    }
}

/// How [`Escaping`] rewrites text on its way to stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EscapeAs {
    /// As is: data for a file or another program (a CSV export piped to a file).
    Exact,
    /// JSON text: hidden characters as `\u` escapes, which mean the same characters.
    Json,
    /// Text for a terminal: every line through [`DisplayText`] (newlines kept).
    Display,
}

/// A writer that escapes what it passes on, for output produced by a layer that writes raw
/// text (the audit export): whole UTF-8 characters at a time, since writes may split them.
pub struct Escaping<W: Write> {
    inner: W,
    how: EscapeAs,
    pending: Vec<u8>,
}

impl<W: Write> Escaping<W> {
    pub fn new(inner: W, how: EscapeAs) -> Self {
        Self {
            inner,
            how,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self) -> io::Result<()> {
        let complete = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            // A character cut by the write: keep its start for the next write.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            // Not UTF-8 at all: shown as replacement characters.
            Err(_) => self.pending.len(),
        };
        if complete == 0 {
            return Ok(());
        }
        let chunk: Vec<u8> = self.pending.drain(..complete).collect();
        let text = String::from_utf8_lossy(&chunk);
        let out = match self.how {
            EscapeAs::Exact => text.into_owned(),
            EscapeAs::Json => escape_invisibles(&text),
            EscapeAs::Display => text
                .split('\n')
                .map(|l| DisplayText::with_max(l, usize::MAX / 8).into_string())
                .collect::<Vec<_>>()
                .join("\n"),
        };
        self.inner.write_all(out.as_bytes())
    }
}

impl<W: Write> Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        self.emit()?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.emit()?;
        self.inner.flush()
    }
}

/// True when `e` (or a cause) is a write to a closed pipe: the reader went away, which is not
/// a failure of the command.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_c1_bidi_and_invisible_characters() {
        let v =
            serde_json::json!({"name": "a\u{9b}b\u{202e}c\u{200b}d\u{feff}e\u{e0041}f\u{7f}\n"});
        let s = to_json(&v).unwrap();
        assert!(
            s.contains(r#""a\u009bb\u202ec\u200bd\ufeffe\udb40\udc41f\u007f\n""#),
            "{s}"
        );
        assert!(!s.chars().any(|c| c as u32 >= 0x7f && c.is_control()));
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v, "escapes must mean the same text");
        // Visible non-ASCII text stays readable.
        assert!(to_json(&"Zoë 東京").unwrap().contains("Zoë 東京"));
    }

    proptest::proptest! {
        /// Any text: the JSON holds no raw C1, DEL, bidi or invisible character, and parses
        /// back to exactly the same text.
        #[test]
        fn json_escapes_every_hidden_character_and_round_trips(s in proptest::prelude::any::<String>()) {
            let out = to_json(&serde_json::json!({ "name": s })).unwrap();
            proptest::prop_assert!(!out.chars().any(|c| (c as u32) >= 0x7f
                && (c.is_control() || is_bidi_control(c) || is_invisible(c))));
            let back: serde_json::Value = serde_json::from_str(&out).unwrap();
            proptest::prop_assert_eq!(back["name"].as_str(), Some(s.as_str()));
        }
    }

    #[test]
    fn escaping_writer_handles_split_characters() {
        let mut out = Vec::new();
        {
            let mut w = Escaping::new(&mut out, EscapeAs::Display);
            let text = "a\u{1b}[31m\u{9b}\u{202e}z\nnext\n".as_bytes();
            // One byte at a time: every multi-byte character arrives split.
            for b in text {
                w.write_all(std::slice::from_ref(b)).unwrap();
            }
            w.flush().unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\\x1b[31m\\x9b\\u{202e}z\nnext\n"
        );
        let mut out = Vec::new();
        Escaping::new(&mut out, EscapeAs::Json)
            .write_all("[\"\u{9b}\u{202e}\"]".as_bytes())
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#"["\u009b\u202e"]"#);
    }

    #[test]
    fn table_aligns_by_display_width_and_sanitizes() {
        let rows = vec![
            vec!["東京医療".to_string(), "x".to_string()],
            vec!["Acme\u{200b}\x1b[31m".to_string(), "y".to_string()],
            vec!["plain".to_string(), "z".to_string()],
        ];
        let t = render_table(&["NAME", "LABEL"], &rows);
        let lines: Vec<&str> = t.lines().collect();
        // The widest name is the escaped one: 20 columns, + 2 between columns.
        assert_eq!(lines[1], format!("東京医療{}x", " ".repeat(22 - 8)));
        assert_eq!(lines[2], "Acme\\u{200b}\\x1b[31m  y");
        let col: Vec<usize> = lines
            .iter()
            .map(|l| display_width(&l[..l.rfind(' ').unwrap() + 1]))
            .collect();
        assert!(col.iter().all(|c| *c == col[0]), "{t}");
    }
}
