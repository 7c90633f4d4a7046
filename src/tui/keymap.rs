//! Key bindings as data: defaults from `assets/keymap.toml`, overridable by `keymap.toml` in
//! the config dir. One key may serve several actions that never meet on the same screen.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

const DEFAULT_KEYMAP: &str = include_str!("../../assets/keymap.toml");

/// The most tabs a number key can show (`tab_1` … `tab_9`).
pub const MAX_TABS: u8 = 9;

/// The names of [`Action::Tab`] in keymap.toml, by place in the tab bar.
const TAB_NAMES: [&str; MAX_TABS as usize] = [
    "tab_1", "tab_2", "tab_3", "tab_4", "tab_5", "tab_6", "tab_7", "tab_8", "tab_9",
];

/// The names the first seven tabs had before tabs were bound by place: a keymap.toml written
/// then keeps working.
const TAB_ALIASES: [(&str, u8); 8] = [
    ("tab_mandates", 0),
    ("tab_users", 1),
    ("tab_registrations", 2),
    ("tab_trusts", 3),
    ("tab_kit_slots", 4),
    ("tab_audit", 5),
    ("tab_drift", 6),
    ("tab_approvals", 7),
];

macro_rules! actions {
    (
        [$($first:ident = $first_name:literal, $first_mutates:literal, $first_desc:literal;)*]
        $($variant:ident = $name:literal, $mutates:literal, $desc:literal;)*
    ) => {
        /// Everything a key can do.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            /// Show the tab at this place in the bar (0 = the first).
            Tab(u8),
            $($first,)*
            $($variant),*
        }

        impl Action {
            /// Every action, in the order help lists them (the tabs after the tab keys).
            pub const ALL: &'static [Action] = &[
                $(Action::$first,)*
                Action::Tab(0), Action::Tab(1), Action::Tab(2), Action::Tab(3), Action::Tab(4),
                Action::Tab(5), Action::Tab(6), Action::Tab(7), Action::Tab(8),
                $(Action::$variant),*
            ];

            /// The name used in keymap.toml.
            pub fn name(self) -> &'static str {
                match self {
                    Action::Tab(n) => TAB_NAMES.get(usize::from(n)).copied().unwrap_or("tab"),
                    $(Action::$first => $first_name,)*
                    $(Action::$variant => $name),*
                }
            }

            /// One line for the help screen (a tab's line is the registry's: see
            /// [`Keymap::entries`]).
            pub fn description(self) -> &'static str {
                match self {
                    Action::Tab(_) => "show a tab",
                    $(Action::$first => $first_desc,)*
                    $(Action::$variant => $desc),*
                }
            }

            /// Whether the action changes data (greyed out in read-only mode).
            pub fn mutates(self) -> bool {
                match self {
                    Action::Tab(_) => false,
                    $(Action::$first => $first_mutates,)*
                    $(Action::$variant => $mutates),*
                }
            }

            pub fn from_name(s: &str) -> Option<Action> {
                if let Some(n) = TAB_NAMES.iter().position(|t| *t == s) {
                    return u8::try_from(n).ok().map(Action::Tab);
                }
                if let Some((_, n)) = TAB_ALIASES.iter().find(|(a, _)| *a == s) {
                    return Some(Action::Tab(*n));
                }
                match s {
                    $($first_name => Some(Action::$first),)*
                    $($name => Some(Action::$variant),)*
                    _ => None
                }
            }
        }
    };
}

actions! {
    [Quit = "quit", false, "quit hubdeck";
    Help = "help", false, "show this help";
    Palette = "palette", false, "command palette (:mandate NAME, :user EMAIL, :trust CODE, :registrations, :drift, :deleted, :since DATE, :until DATE, :env NAME, :quit)";
    NextTab = "next_tab", false, "next tab";
    PrevTab = "prev_tab", false, "previous tab";]
    Up = "up", false, "move up";
    Down = "down", false, "move down";
    PageUp = "page_up", false, "previous page";
    PageDown = "page_down", false, "next page";
    First = "first", false, "first page";
    Last = "last", false, "last page";
    Search = "search", false, "search (debounced, server-side)";
    Filter = "filter", false, "filter by a column's values";
    Sort = "sort", false, "cycle the sort column and direction";
    Open = "open", false, "open the selected row (members, user detail)";
    Back = "back", false, "back / close";
    Refresh = "refresh", false, "reload the page";
    New = "new", true, "create: mandate, member, user, trust";
    Edit = "edit", true, "edit the selected mandate or user profile";
    Delete = "delete", true, "delete / remove the selected row";
    HardDelete = "hard_delete", true, "hard-delete a mandate (type its name)";
    Roles = "roles", true, "set roles of the selected member or user";
    Retry = "retry", true, "retry a stuck registration's role assignment";
    Rollback = "rollback", true, "roll back a stuck registration";
    Resolve = "resolve", true, "mark a stuck registration resolved";
    Rotate = "rotate", true, "rotate the selected trust's API key";
    RotateInternal = "rotate_internal", true, "rotate the selected trust's API key and internal-service key";
    ToggleEnabled = "toggle_enabled", true, "enable/disable the selected user or membership";
    ResendInvite = "resend_invite", true, "resend the selected user's invitation";
    Repair = "repair", true, "preview and repair the selected drift row";
    RepairClass = "repair_class", true, "repair every row of the selected drift row's class (count and preview first)";
    Restore = "restore", true, "restore the selected soft-deleted mandate (:deleted lists them)";
    ChangePlan = "change_plan", true, "change the selected mandate's plan";
    Export = "export", false, "export the audit rows (asks CSV or JSON)";
    Mark = "mark", false, "mark / unmark the selected member";
    MarkRange = "mark_range", false, "mark from the last marked member to this one";
    MarkAll = "mark_all", false, "mark all members matching the search/filters";
    Bulk = "bulk", true, "act on the marked members, with a preview";
    Undo = "undo", true, "undo the newest grant change (preview first)";
    Approve = "approve", true, "approve the selected change (its preview first)";
    Reject = "reject", true, "reject the selected change, with a reason";
    Complete = "complete", true, "complete an approved key rotation you proposed (keys shown once)";
}

/// One key with its modifiers (SHIFT is folded into the character).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCodeOrd,
    pub ctrl: bool,
    pub alt: bool,
}

/// `KeyCode` subset with an ordering (for stable help output).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeOrd {
    Char(char),
    F(u8),
    Named(&'static str),
}

const NAMED: &[(&str, KeyCode)] = &[
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("insert", KeyCode::Insert),
];

impl Key {
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let code = match ev.code {
            KeyCode::Char(' ') => KeyCodeOrd::Named("space"),
            KeyCode::Char(c) => KeyCodeOrd::Char(if ev.modifiers.contains(KeyModifiers::CONTROL) {
                c.to_ascii_lowercase()
            } else {
                c
            }),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            other => KeyCodeOrd::Named(NAMED.iter().find(|(_, k)| *k == other)?.0),
        };
        Some(Key {
            code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        })
    }

    pub fn parse(s: &str) -> Result<Key, String> {
        let mut rest = s;
        let mut ctrl = false;
        let mut alt = false;
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.len() > 5 && lower.starts_with("ctrl-") {
                ctrl = true;
                rest = &rest[5..];
            } else if rest.len() > 4 && lower.starts_with("alt-") {
                alt = true;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCodeOrd::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            _ => {
                let l = rest.to_ascii_lowercase();
                if l == "space" {
                    KeyCodeOrd::Named("space")
                } else if let Some(n) = l.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    KeyCodeOrd::F(n)
                } else if let Some((name, _)) = NAMED.iter().find(|(n, _)| *n == l) {
                    KeyCodeOrd::Named(name)
                } else {
                    return Err(format!("unknown key {s:?}"));
                }
            }
        };
        let key = Key { code, ctrl, alt };
        if alt {
            return Err(format!(
                "{s:?}: alt bindings are not allowed (they collide with terminal multiplexers)"
            ));
        }
        if ctrl && matches!(code, KeyCodeOrd::Char('h' | 'j' | 'k' | 'l')) {
            return Err(format!(
                "{s:?}: bare ctrl-h/j/k/l collide with tmux pane navigation"
            ));
        }
        Ok(key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        match self.code {
            KeyCodeOrd::Char(c) => write!(f, "{c}"),
            KeyCodeOrd::F(n) => write!(f, "F{n}"),
            KeyCodeOrd::Named(n) => f.write_str(match n {
                "pageup" => "PgUp",
                "pagedown" => "PgDn",
                "backtab" => "shift-tab",
                other => other,
            }),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeymapError {
    #[error("keymap file {path}: {message}")]
    File { path: String, message: String },
    #[error("keymap: unknown action {0:?}")]
    UnknownAction(String),
    #[error("keymap: action {action}: {message}")]
    BadKey { action: String, message: String },
}

#[derive(Debug, Deserialize)]
struct KeymapFile {
    #[serde(default)]
    bindings: BTreeMap<String, Vec<String>>,
}

/// The live key bindings.
#[derive(Clone, Debug)]
pub struct Keymap {
    by_action: BTreeMap<Action, Vec<Key>>,
}

impl Keymap {
    /// The built-in bindings.
    pub fn defaults() -> Self {
        Self::build(&[DEFAULT_KEYMAP]).unwrap_or_else(|_| Self {
            by_action: BTreeMap::new(),
        })
    }

    /// Defaults with `keymap.toml` from the config dir applied (when present).
    pub fn load(override_path: Option<&Path>) -> Result<Self, KeymapError> {
        let extra = match override_path {
            Some(p) if p.exists() => {
                Some(std::fs::read_to_string(p).map_err(|e| KeymapError::File {
                    path: p.display().to_string(),
                    message: e.to_string(),
                })?)
            }
            _ => None,
        };
        let mut sources = vec![DEFAULT_KEYMAP];
        if let Some(e) = extra.as_deref() {
            sources.push(e);
        }
        Self::build(&sources)
    }

    pub fn build(sources: &[&str]) -> Result<Self, KeymapError> {
        let mut by_action = BTreeMap::new();
        for src in sources {
            let file: KeymapFile = toml::from_str(src).map_err(|e| KeymapError::File {
                path: "keymap.toml".into(),
                message: e.to_string(),
            })?;
            for (name, keys) in file.bindings {
                let action = Action::from_name(&name)
                    .ok_or_else(|| KeymapError::UnknownAction(name.clone()))?;
                let keys = keys
                    .iter()
                    .map(|k| Key::parse(k))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|message| KeymapError::BadKey {
                        action: name.clone(),
                        message,
                    })?;
                by_action.insert(action, keys);
            }
        }
        Ok(Self { by_action })
    }

    /// Actions bound to this key event, in declaration order.
    pub fn actions(&self, ev: &KeyEvent) -> Vec<Action> {
        let Some(key) = Key::from_event(ev) else {
            return Vec::new();
        };
        Action::ALL
            .iter()
            .copied()
            .filter(|a| self.by_action.get(a).is_some_and(|ks| ks.contains(&key)))
            .collect()
    }

    /// Whether `ev` is bound to `action`.
    pub fn is(&self, ev: &KeyEvent, action: Action) -> bool {
        Key::from_event(ev).is_some_and(|k| {
            self.by_action
                .get(&action)
                .is_some_and(|ks| ks.contains(&k))
        })
    }

    /// The keys of an action, for hints and help ("q", "?/F1").
    pub fn keys_label(&self, action: Action) -> String {
        self.by_action
            .get(&action)
            .map(|ks| ks.iter().map(Key::to_string).collect::<Vec<_>>().join("/"))
            .unwrap_or_default()
    }

    /// The first key of an action (for compact hints).
    pub fn first_key(&self, action: Action) -> String {
        self.by_action
            .get(&action)
            .and_then(|ks| ks.first())
            .map(Key::to_string)
            .unwrap_or_default()
    }

    /// (keys, action) for every bound action: the help screen is generated from this.
    pub fn entries(&self) -> Vec<(String, Action)> {
        Action::ALL
            .iter()
            .filter(|a| self.by_action.get(a).is_some_and(|k| !k.is_empty()))
            .map(|a| (self.keys_label(*a), *a))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn defaults_bind_everything_and_avoid_tmux_keys() {
        let k = Keymap::build(&[DEFAULT_KEYMAP]).unwrap();
        // Tab keys exist for as many tabs as the registry has (tui_layout checks those).
        for a in Action::ALL.iter().filter(|a| !matches!(a, Action::Tab(_))) {
            assert!(!k.keys_label(*a).is_empty(), "{a:?} unbound");
        }
        assert_eq!(
            k.actions(&ev(KeyCode::Char('q'), KeyModifiers::NONE)),
            vec![Action::Quit]
        );
        assert_eq!(
            k.actions(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            vec![Action::Last]
        );
        assert!(k.is(
            &ev(KeyCode::Char('r'), KeyModifiers::CONTROL),
            Action::Refresh
        ));
        assert!(!k.is(&ev(KeyCode::Char('r'), KeyModifiers::NONE), Action::Refresh));
    }

    #[test]
    fn overrides_replace_and_forbidden_keys_are_refused() {
        let k = Keymap::build(&[DEFAULT_KEYMAP, "[bindings]\nquit = [\"ctrl-q\"]\n"]).unwrap();
        assert_eq!(k.keys_label(Action::Quit), "ctrl-q");
        assert!(
            k.actions(&ev(KeyCode::Char('q'), KeyModifiers::NONE))
                .is_empty()
        );
        for bad in ["ctrl-h", "ctrl-j", "ctrl-k", "ctrl-l", "alt-x"] {
            let src = format!("[bindings]\nquit = [\"{bad}\"]\n");
            assert!(Keymap::build(&[DEFAULT_KEYMAP, &src]).is_err(), "{bad}");
        }
        assert!(Keymap::build(&["[bindings]\nfly = [\"x\"]\n"]).is_err());
    }

    #[test]
    fn tab_keys_bind_by_place_and_the_old_names_still_work() {
        let k = Keymap::build(&[DEFAULT_KEYMAP]).unwrap();
        assert_eq!(
            k.actions(&ev(KeyCode::Char('2'), KeyModifiers::NONE)),
            vec![Action::Tab(1)]
        );
        // A keymap.toml written when tabs had names keeps working.
        let k = Keymap::build(&[DEFAULT_KEYMAP, "[bindings]\ntab_users = [\"F\"]\n"]).unwrap();
        assert_eq!(k.keys_label(Action::Tab(1)), "F");
        assert_eq!(Action::from_name("tab_drift"), Some(Action::Tab(6)));
        assert_eq!(Action::Tab(7).name(), "tab_8");
    }
}
