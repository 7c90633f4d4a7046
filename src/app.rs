//! The composition root: settings → [`Services`] → logging → the front end. The CLI commands,
//! the console (`hubdeck`, `hubdeck tui`) and the demo all start here, so there is one way a
//! process is wired:
//!
//! - [`init_logging`]: CLI commands log to stderr (stdout carries results), the console to a
//!   private file (never the screen); one filter for both.
//! - [`services`]: settings → database pool → directory → `Services`.
//! - [`run_console`]: the console on a [`ConsoleLaunch`] — what `hubdeck tui` builds from the
//!   command line, and what `hubdeck demo` builds from its prepared cluster.

use crate::service::Db;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;

use crate::config::Settings;
use crate::domain::UserSub;
use crate::service::Services;
use crate::tui::{AppOptions, EnvSwitch};

/// Where a process logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogTo {
    /// CLI commands: stderr, coloured only when it is a terminal.
    Stderr,
    /// The console: `log.file`, or `hubdeck.log` in the data dir (0600).
    File,
}

/// Installs the process's logger once (later calls are no-ops).
pub fn init_logging(settings: &Settings, to: LogTo) {
    match to {
        LogTo::Stderr => {
            use std::io::IsTerminal;
            let _ = tracing_subscriber::fmt()
                .with_env_filter(log_filter(&settings.log.level))
                .with_writer(std::io::stderr)
                .with_target(false)
                // Colours only for a person: a piped or redirected stderr is a log.
                .with_ansi(std::io::stderr().is_terminal())
                .try_init();
        }
        LogTo::File => {
            let path = if settings.log.file.is_empty() {
                let Ok(dir) = crate::files::ensure_data_dir() else {
                    return;
                };
                dir.join("hubdeck.log")
            } else {
                std::path::PathBuf::from(&settings.log.file)
            };
            if let Some(dir) = path.parent() {
                let _ = crate::files::create_private_dir(dir);
            }
            // 0600: a log may name users and mandates; rotated by size (log.max_bytes,
            // log.keep) so a long-running console never fills the disk.
            let Ok(file) =
                crate::logfile::RotatingLog::open(&path, settings.log.max_bytes, settings.log.keep)
            else {
                return;
            };
            let _ = tracing_subscriber::fmt()
                .with_env_filter(log_filter(&settings.log.level))
                .with_writer(Mutex::new(file))
                .with_ansi(false)
                .try_init();
        }
    }
}

/// The configured level; the AWS SDK's own chatter (credential-chain attempts, profile-file
/// notes) only at `error` unless the level names an `aws` target itself — a failure is
/// reported once, as one line, by the command.
pub fn log_filter(level: &str) -> tracing_subscriber::EnvFilter {
    let level = if level.contains("aws") {
        level.to_string()
    } else {
        format!("{level},aws_config=error,aws_smithy_runtime=error,aws_runtime=error")
    };
    tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
}

/// Settings → database pool (no migration) → directory → services.
pub async fn services(settings: Arc<Settings>) -> anyhow::Result<Services> {
    Ok(Services::connect(settings).await?)
}

/// Everything the console needs to start.
#[derive(Clone, Debug)]
pub struct ConsoleLaunch {
    pub settings: Arc<Settings>,
    /// An already open pool (the demo's); `None` connects from the settings.
    pub db: Option<Db>,
    /// Sign this operator in at start (the demo admin); `None` shows the sign-in screen.
    pub signed_in_as: Option<(UserSub, String)>,
    /// Shown on the help screen (demo).
    pub demo_credentials: Option<(String, String)>,
    /// How `:env NAME` loads another environment.
    pub env_switch: EnvSwitch,
}

impl ConsoleLaunch {
    /// `hubdeck` / `hubdeck tui`: connect from the settings, show the sign-in screen.
    pub fn from_settings(settings: Arc<Settings>, env_switch: EnvSwitch) -> Self {
        Self {
            settings,
            db: None,
            signed_in_as: None,
            demo_credentials: None,
            env_switch,
        }
    }
}

/// Runs the console until the operator quits; returns the exit code.
pub async fn run_console(launch: ConsoleLaunch) -> anyhow::Result<i32> {
    init_logging(&launch.settings, LogTo::File);
    let services = match launch.db {
        Some(db) => Services::on_pool(db, launch.settings.clone()).await,
        None => Services::connect(launch.settings.clone()).await,
    }
    .context("cannot start the console")?;
    let operator = match &launch.signed_in_as {
        Some((sub, email)) => {
            Some(crate::service::actor::load_operator(&services.db, *sub, email).await?)
        }
        None => None,
    };
    let opts = AppOptions {
        operator,
        demo_credentials: launch.demo_credentials,
        env_switch: Some(launch.env_switch),
    };
    crate::tui::run_app(services, opts).await?;
    Ok(0)
}
