//! Small settings sections: how CLI commands act, and the console's session.

use serde::{Deserialize, Serialize};

/// How CLI commands act. By default a command acts as the operator signed in with
/// `hubdeck login`; the every-permission infrastructure identity is for unattended deploy steps
/// and runs only when the environment allows it here *and* the command asks for it
/// (`--as-infrastructure`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CliSettings {
    /// Allow `--as-infrastructure` in this environment (off by default).
    pub infrastructure: bool,
    /// How long a `hubdeck login` session lasts, in hours.
    pub session_hours: u32,
}

impl Default for CliSettings {
    fn default() -> Self {
        Self {
            infrastructure: false,
            session_hours: 12,
        }
    }
}

/// The console's session (`[console]`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleSettings {
    /// After this many minutes without a key press the console signs its operator out and
    /// asks them to sign in again (MFA included); signing in again as the same operator
    /// returns to the screen they were on. 0 never signs out.
    pub idle_minutes: f64,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self { idle_minutes: 15.0 }
    }
}
