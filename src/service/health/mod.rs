//! `hubdeck doctor`: everything the console needs, checked before anyone signs in. Each check
//! is one line — pass, warn, fail or skip — with what was found and, when it is not a pass,
//! the remedy. Only `fail` makes the report fail (exit non-zero); `warn` is worth knowing but
//! does not stop the console; `skip` says why a check could not run.

mod database;
mod directory;
mod terminal;

use database::database_checks;
pub use database::migration_check;
use directory::directory_checks;
pub use directory::{cognito_checks, directory_clock_check};
pub use terminal::terminal_checks;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::config::Settings;

/// The oldest PostgreSQL hubdeck supports.
pub const MIN_SERVER_VERSION_NUM: i32 = 140_000;
/// Host vs database clock difference worth a warning, and one that fails the check.
pub const SKEW_WARN: Duration = Duration::from_secs(2);
pub const SKEW_FAIL: Duration = Duration::from_secs(30);
/// The console's minimum terminal size.
pub const MIN_COLS: u16 = 80;
pub const MIN_ROWS: u16 = 24;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Skip,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// Stable identifier, e.g. `database.migrations`.
    pub id: &'static str,
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do about it (absent on a pass).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
}

impl Check {
    pub(crate) fn pass(id: &'static str, detail: impl Into<String>) -> Self {
        Self {
            id,
            status: Status::Pass,
            detail: detail.into(),
            remedy: None,
        }
    }
    pub(crate) fn fail(
        id: &'static str,
        detail: impl Into<String>,
        remedy: impl Into<String>,
    ) -> Self {
        Self {
            id,
            status: Status::Fail,
            detail: detail.into(),
            remedy: Some(remedy.into()),
        }
    }
    pub(crate) fn warn(
        id: &'static str,
        detail: impl Into<String>,
        remedy: impl Into<String>,
    ) -> Self {
        Self {
            id,
            status: Status::Warn,
            detail: detail.into(),
            remedy: Some(remedy.into()),
        }
    }
    pub(crate) fn skip(id: &'static str, detail: impl Into<String>) -> Self {
        Self {
            id,
            status: Status::Skip,
            detail: detail.into(),
            remedy: None,
        }
    }
}

/// The whole report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// The selected environment, if any.
    pub environment: Option<String>,
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn get(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

/// What the caller knows about the configuration it loaded.
pub struct ConfigFacts {
    /// The config file read, if any.
    pub file: Option<PathBuf>,
    /// The settings, or why they could not be loaded.
    pub settings: Result<Settings, String>,
}

/// What the caller observed about the terminal it runs in (gathered by the CLI).
#[derive(Clone, Debug, Default)]
pub struct TerminalFacts {
    /// Whether stdout is a terminal (otherwise the terminal checks are skipped).
    pub is_terminal: bool,
    pub size: Option<(u16, u16)>,
    pub term: String,
    pub colorterm: String,
    pub no_color: bool,
    /// Inside tmux: the value of `set-clipboard` (`on`, `external`, `off`), if readable.
    pub tmux_set_clipboard: Option<String>,
    pub in_tmux: bool,
}

/// Runs every check. Never fails: a problem is a failing line.
pub async fn diagnose(config: ConfigFacts, terminal: &TerminalFacts) -> Report {
    let mut checks = Vec::new();
    let settings = match config.settings {
        Ok(s) => {
            let where_ = match &config.file {
                Some(p) => format!("{} is valid", p.display()),
                None => "no config file; built-in defaults and HUBDECK_* variables".into(),
            };
            let env = match &s.env {
                Some(e) => format!(" (environment {e})"),
                None => String::new(),
            };
            checks.push(Check::pass("config", format!("{where_}{env}")));
            Some(s)
        }
        Err(e) => {
            checks.push(Check::fail(
                "config",
                e,
                "fix the config file (config.example.toml lists every key), or the --env / HUBDECK_* value named",
            ));
            None
        }
    };
    let environment = settings.as_ref().and_then(|s| s.env.clone());
    match &settings {
        Some(s) => {
            let db = database_checks(s, &mut checks).await;
            directory_checks(s, db.as_ref(), &mut checks).await;
            if let Some(db) = db {
                db.close().await;
            }
        }
        None => {
            for id in ["database", "directory"] {
                checks.push(Check::skip(id, "needs a valid configuration"));
            }
        }
    }
    terminal_checks(terminal, &mut checks);
    let ok = !checks.iter().any(|c| c.status == Status::Fail);
    Report {
        environment,
        ok,
        checks,
    }
}

#[cfg(test)]
mod tests;

/// The console's liveness probe: can the database and the directory be reached (3 s each)?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub db: bool,
    pub directory: bool,
    pub latency: Duration,
}

impl crate::service::Services {
    /// Pings the database and the directory, each bounded by 3 s; never fails.
    pub async fn probe(&self) -> Probe {
        let started = std::time::Instant::now();
        let limit = Duration::from_secs(3);
        let db = tokio::time::timeout(limit, crate::store::ping(&self.db))
            .await
            .is_ok_and(|r| r.is_ok());
        let directory = tokio::time::timeout(limit, self.directory.health())
            .await
            .is_ok_and(|r| r.is_ok());
        Probe {
            db,
            directory,
            latency: started.elapsed(),
        }
    }
}
