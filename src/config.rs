//! Settings: built-in defaults < `config.toml` in the config dir (or `--config PATH`) <
//! the selected environment (`[env.NAME]`, chosen by `--env NAME` / `HUBDECK_ENV` /
//! `default_env`) < `HUBDECK_<SECTION>__<KEY>` environment variables < command-line flags.
//!
//! Environments are like kube contexts: each `[env.NAME]` table overlays any sections of the
//! file (usually `database`, `directory` and `ui`) for one hub. Besides the config file,
//! `<data dir>/environments/NAME.toml` files register environments (written by `hubdeck demo`);
//! a config-file `[env.NAME]` of the same name is merged over a registered one. A config file
//! without `[env.*]` tables works exactly as before.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use thiserror::Error;

mod database_url;
mod envs;
mod load;
#[cfg(test)]
mod tests;

pub use database_url::DatabaseUrl;
pub use envs::{EnvCatalog, EnvEntry, EnvSource, register_env, registered_env_dir, valid_env_name};

mod secrets;
mod sections;
pub use secrets::{read_url_file, warn_password_on_command_line};
pub use sections::{ApprovalSettings, AuditSettings, ConsoleSettings};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("unknown environment {name:?}; known environments: {}", known_list(.known))]
    UnknownEnv { name: String, known: Vec<String> },
    #[error("environment {name:?} ({source_path}): {message}")]
    BadEnv {
        name: String,
        source_path: String,
        message: String,
    },
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "none (add [env.NAME] tables to the config file, or run `hubdeck demo`)".into()
    } else {
        known.join(", ")
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    pub max_connections: u32,
    /// Seconds to wait for a connection before giving up.
    pub connect_timeout_secs: u64,
    /// What sits between hubdeck and PostgreSQL: nothing, or a connection pooler (PgBouncer,
    /// RDS Proxy, a hosted pooler) in session or transaction pooling mode.
    pub pooler: Pooler,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: DatabaseUrl::new("postgres://hubdeck@localhost/hubdeck"),
            max_connections: 8,
            connect_timeout_secs: 5,
            pooler: Pooler::None,
        }
    }
}

/// `database.pooler`: how hubdeck's connections reach the server.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Pooler {
    /// Straight to PostgreSQL.
    #[default]
    None,
    /// A pooler that gives each client connection one server connection for its lifetime.
    Session,
    /// A pooler that lends a server connection for one transaction at a time.
    Transaction,
}

impl Pooler {
    pub fn as_str(self) -> &'static str {
        match self {
            Pooler::None => "none",
            Pooler::Session => "session",
            Pooler::Transaction => "transaction",
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DirectoryKind {
    Cognito,
    Local,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectorySettings {
    pub kind: DirectoryKind,
    pub region: String,
    pub user_pool_id: String,
    /// App client allowing ADMIN_USER_PASSWORD_AUTH, for operator sign-in.
    pub client_id: String,
    /// Optional: an emulator or a VPC endpoint.
    pub endpoint_url: String,
    pub connect_timeout_ms: u64,
    pub attempt_timeout_ms: u64,
    pub operation_timeout_ms: u64,
    pub max_attempts: u32,
    pub initial_backoff_ms: u64,
    /// Client-side pacing per Cognito quota category (requests per second).
    pub user_list_rps: u32,
    pub user_creation_rps: u32,
    pub user_update_rps: u32,
    pub user_read_rps: u32,
    /// Issuer shown by authenticator apps for the `otpauth://` enrolment (MFA_SETUP).
    pub mfa_issuer: String,
    /// The local directory's MFA policy (Cognito's comes from the pool).
    pub local_mfa: LocalMfa,
}

/// MFA policy of the local directory, like a Cognito pool's `MfaConfiguration`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LocalMfa {
    /// No MFA challenge at all (an enrolled token is ignored).
    Off,
    /// An identity with a verified software token is asked for a code; no setup is forced.
    #[default]
    Optional,
    /// As optional, and an identity without a token enrols one at sign-in (MFA_SETUP).
    Required,
}

impl Default for DirectorySettings {
    fn default() -> Self {
        Self {
            kind: DirectoryKind::Cognito,
            region: "eu-west-2".into(),
            user_pool_id: "eu-west-2_XXXXXXXXX".into(),
            client_id: String::new(),
            endpoint_url: String::new(),
            connect_timeout_ms: 3_000,
            attempt_timeout_ms: 5_000,
            operation_timeout_ms: 15_000,
            max_attempts: 3,
            initial_backoff_ms: 200,
            user_list_rps: 30,
            user_creation_rps: 50,
            user_update_rps: 25,
            user_read_rps: 120,
            mfa_issuer: "hubdeck".into(),
            local_mfa: LocalMfa::Optional,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeedSettings {
    pub admin_emails: Vec<String>,
    pub researcher_emails: Vec<String>,
    pub viewer_emails: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustSettings {
    pub kit_slot_names: Vec<String>,
    /// Prefix of minted keys, e.g. `hubk` gives `hubk_...`.
    pub key_prefix: String,
}

impl Default for TrustSettings {
    fn default() -> Self {
        Self {
            kit_slot_names: vec!["Trust_001".into(), "Trust_002".into()],
            key_prefix: "hubk".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MandateSettings {
    /// Soft-deleted mandates are purged by `hubdeck purge-mandates` after this many days.
    pub retention_days: u32,
    pub default_plan: String,
}

impl Default for MandateSettings {
    fn default() -> Self {
        Self {
            retention_days: 30,
            default_plan: "TRIAL_14D".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiSettings {
    /// Shown in the top bar.
    pub environment: String,
    pub environment_color: String,
    pub read_only: bool,
    pub mouse: bool,
    /// Debounce for `/` search, in milliseconds.
    pub search_debounce_ms: u64,
}

impl Default for UiSettings {
    fn default() -> Self {
        Self {
            environment: "production".into(),
            environment_color: "red".into(),
            read_only: false,
            mouse: false,
            search_debounce_ms: 250,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// Log file; empty = `hubdeck.log` under the data dir. Logs never go to the terminal.
    pub file: String,
    /// tracing filter, e.g. `info` or `hubdeck=debug`.
    pub level: String,
    /// The log file is rotated when a write would take it past this size (0: never).
    pub max_bytes: u64,
    /// Rotated files kept beside the current one (`hubdeck.log.1` … `.N`).
    pub keep: u32,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            file: String::new(),
            level: "info".into(),
            max_bytes: 10 * 1024 * 1024,
            keep: 5,
        }
    }
}

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

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub directory: DirectorySettings,
    pub seed: SeedSettings,
    pub trusts: TrustSettings,
    pub mandates: MandateSettings,
    pub ui: UiSettings,
    pub log: LogSettings,
    pub audit: AuditSettings,
    pub cli: CliSettings,
    pub console: ConsoleSettings,
    pub approvals: ApprovalSettings,
    /// The selected environment (`--env` / `HUBDECK_ENV` / `default_env`), if any.
    #[serde(skip)]
    pub env: Option<String>,
}

/// Where hubdeck keeps its files.
pub fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("org", "hubdeck", "hubdeck")
}

/// `config.toml` in the platform config dir.
pub fn default_config_path() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().join("config.toml"))
}

/// The data dir (logs, demo cluster). `HUBDECK_DATA_DIR` overrides it.
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HUBDECK_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    default_data_dir()
}

/// [`data_dir`] from an explicit environment (testable).
pub fn data_dir_from(env: &[(String, String)]) -> PathBuf {
    env.iter()
        .find(|(k, v)| k == "HUBDECK_DATA_DIR" && !v.is_empty())
        .map(|(_, v)| PathBuf::from(v))
        .unwrap_or_else(default_data_dir)
}

fn default_data_dir() -> PathBuf {
    project_dirs()
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("hubdeck"))
}
