//! The terminal lines of the doctor report: size, colours, locale.

use super::{Check, MIN_COLS, MIN_ROWS, TerminalFacts};

/// Terminal lines (pure; unit-tested). Skipped when stdout is not a terminal.
pub fn terminal_checks(t: &TerminalFacts, checks: &mut Vec<Check>) {
    if !t.is_terminal {
        checks.push(Check::skip(
            "terminal",
            "stdout is not a terminal (size, colours, clipboard and paste are checked when run in one)",
        ));
        return;
    }
    match t.size {
        Some((c, r)) if c >= MIN_COLS && r >= MIN_ROWS => {
            checks.push(Check::pass("terminal.size", format!("{c}×{r}")))
        }
        Some((c, r)) => checks.push(Check::warn(
            "terminal.size",
            format!("{c}×{r} is smaller than the console's {MIN_COLS}×{MIN_ROWS}"),
            "enlarge the window (or the tmux pane)",
        )),
        None => checks.push(Check::warn(
            "terminal.size",
            "the terminal did not report its size",
            "check that TERM describes the terminal",
        )),
    }
    let term = t.term.as_str();
    checks.push(if t.no_color {
        Check::pass(
            "terminal.colours",
            "NO_COLOR is set: monochrome theme with glyph cues",
        )
    } else if t.colorterm == "truecolor" || t.colorterm == "24bit" {
        Check::pass("terminal.colours", "24-bit colour (COLORTERM)")
    } else if term.contains("256color") || term.starts_with("tmux") {
        Check::pass("terminal.colours", format!("256 colours (TERM={term})"))
    } else if term.is_empty() || term == "dumb" {
        Check::warn(
            "terminal.colours",
            format!("TERM={term:?}: no colours or cursor control"),
            "run in a real terminal emulator, or export TERM=xterm-256color",
        )
    } else {
        Check::pass("terminal.colours", format!("basic colours (TERM={term})"))
    });
    checks.push(if t.in_tmux {
        match t.tmux_set_clipboard.as_deref() {
            Some("on") | Some("external") => Check::pass(
                "terminal.clipboard",
                format!(
                    "tmux set-clipboard {}: OSC 52 copies reach the outer terminal",
                    t.tmux_set_clipboard.as_deref().unwrap_or_default()
                ),
            ),
            Some(v) => Check::warn(
                "terminal.clipboard",
                format!("tmux set-clipboard {v}: OSC 52 copies (reveal panel `c`) are dropped"),
                "tmux set -g set-clipboard on (and put it in ~/.tmux.conf)",
            ),
            None => Check::warn(
                "terminal.clipboard",
                "inside tmux, but set-clipboard could not be read",
                "tmux show -gv set-clipboard should print on",
            ),
        }
    } else {
        Check::pass(
            "terminal.clipboard",
            "OSC 52 goes straight to the terminal (it must allow clipboard writes; over SSH too)",
        )
    });
    checks.push(if term.is_empty() || term == "dumb" || term == "linux" {
        Check::warn(
            "terminal.paste",
            format!(
                "TERM={term:?} may not support bracketed paste: a pasted newline acts as Enter"
            ),
            "use a terminal emulator with bracketed paste (xterm, tmux, kitty, alacritty, ...)",
        )
    } else {
        Check::pass(
            "terminal.paste",
            format!(
                "bracketed paste available ({})",
                if t.in_tmux { "tmux" } else { term }
            ),
        )
    });
}
