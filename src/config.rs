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
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;
use zeroize::Zeroize;

mod secrets;
mod sections;
pub use secrets::{read_url_file, warn_password_on_command_line};
pub use sections::{CliSettings, ConsoleSettings};

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

/// The database URL. Debug/Display never show the password.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The full URL including any password. Only for opening connections.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The URL with any password replaced by `***`.
    ///
    /// Fails safe rather than pretty: the userinfo ends at the LAST `@` (a password may hold
    /// `@`, `/`, `?` or `#`, raw or percent-encoded), everything after the user name's first
    /// `:` up to there is hidden, and every query parameter whose percent-decoded name is
    /// `password` or `sslpassword` in any case is hidden too. A string that is not a
    /// `scheme://` URL at all is never echoed.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }

    /// The raw password text as [`Self::redacted`] sees it (to scrub it from driver messages).
    pub fn password_fragment(&self) -> Option<&str> {
        let (_, rest) = self.0.split_once("://")?;
        let at = rest.rfind('@')?;
        let (_, pw) = rest[..at].split_once(':')?;
        Some(pw)
    }

    /// Refuses a password query parameter spelt in another case (`PASSWORD=`): the driver
    /// would ignore it and log its value. The error names the key, never the value.
    pub fn check_password_params(&self) -> Result<(), String> {
        let Some((_, query)) = self.0.split_once('?') else {
            return Ok(());
        };
        for pair in query.split('&') {
            let key = pair.split_once('=').map(|(k, _)| k).unwrap_or(pair);
            let decoded = percent_decode(key).replace('+', " ");
            if is_password_key(key) && decoded != "password" && decoded != "sslpassword" {
                return Err(format!(
                    "database.url: write the query parameter `{}` as `password` (lower case)",
                    crate::domain::DisplayText::with_max(&decoded, 40)
                ));
            }
            secrets::refuse_unknown_password_param(&decoded)?;
        }
        Ok(())
    }

    /// Whether the URL carries a password (in its userinfo or as a query parameter).
    pub fn holds_password(&self) -> bool {
        self.password_fragment().is_some_and(|p| !p.is_empty())
            || self.0.split_once('?').is_some_and(|(_, q)| {
                q.split('&')
                    .any(|pair| is_password_key(pair.split_once('=').map_or(pair, |(k, _)| k)))
            })
    }
}

fn redact_url(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return format!(
            "<unparseable database URL, {} characters, hidden>",
            s.chars().count()
        );
    };
    let scheme = &s[..scheme_end];
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return format!(
            "<unparseable database URL, {} characters, hidden>",
            s.chars().count()
        );
    }
    let rest = &s[scheme_end + 3..];
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..scheme_end + 3]);
    let after_auth = match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push('@');
            &rest[at + 1..]
        }
        None => rest,
    };
    let (before_query, query) = match after_auth.find('?') {
        Some(q) => (&after_auth[..q], Some(&after_auth[q + 1..])),
        None => (after_auth, None),
    };
    out.push_str(before_query);
    if let Some(query) = query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((key, _)) if is_password_key(key) => {
                    out.push_str(key);
                    out.push_str("=***");
                }
                _ => out.push_str(pair),
            }
        }
    }
    out
}

/// True when a query key, percent-decoded (and `+` as space), names a password in any case.
fn is_password_key(key: &str) -> bool {
    let decoded = percent_decode(key).replace('+', " ");
    let k = decoded.trim().to_ascii_lowercase();
    k == "password" || k == "sslpassword"
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

impl Drop for DatabaseUrl {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
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

/// The sealed audit trail (`hubdeck audit seal` / `audit verify`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// Hex Ed25519 public key of whoever seals the audit trail; `audit verify` trusts only
    /// seals signed by it. Empty: verification needs `--public-key`.
    pub seal_public_key: String,
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
    /// The selected environment (`--env` / `HUBDECK_ENV` / `default_env`), if any.
    #[serde(skip)]
    pub env: Option<String>,
}

/// Where an environment is defined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvSource {
    /// `[env.NAME]` in the config file.
    ConfigFile,
    /// `<data dir>/environments/NAME.toml` (e.g. written by `hubdeck demo`).
    Registered,
    /// Both: the config file's table is merged over the registered one.
    Both,
}

/// One named environment and its overlay.
#[derive(Clone, Debug)]
pub struct EnvEntry {
    pub name: String,
    pub source: EnvSource,
    /// The file(s) it comes from, for messages.
    pub paths: Vec<PathBuf>,
    overlay: toml::Value,
}

/// Every environment the config file and the data dir define, and the file's `default_env`.
#[derive(Clone, Debug, Default)]
pub struct EnvCatalog {
    pub config_file: Option<PathBuf>,
    pub default_env: Option<String>,
    pub envs: Vec<EnvEntry>,
    /// The base settings of the file (without any `[env.*]`).
    base: Option<toml::Value>,
}

impl EnvCatalog {
    pub fn names(&self) -> Vec<String> {
        self.envs.iter().map(|e| e.name.clone()).collect()
    }

    pub fn get(&self, name: &str) -> Option<&EnvEntry> {
        self.envs.iter().find(|e| e.name == name)
    }

    /// Reads the config file (`explicit` must exist; `default_path` only when present) and the
    /// registered environments under `<data dir>/environments`.
    pub fn read(
        explicit: Option<&Path>,
        default_path: Option<&Path>,
        data_dir: &Path,
    ) -> Result<Self, ConfigError> {
        let mut cat = EnvCatalog::default();
        let file = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => default_path.filter(|p| p.exists()).map(Path::to_path_buf),
        };
        let mut file_envs = toml::map::Map::new();
        if let Some(path) = &file {
            let mut overlay = read_toml(path)?;
            if let Some(t) = overlay.as_table_mut() {
                match t.remove("default_env") {
                    Some(toml::Value::String(d)) => cat.default_env = Some(d),
                    Some(_) => {
                        return Err(ConfigError::Invalid(format!(
                            "{}: default_env must be a string",
                            path.display()
                        )));
                    }
                    None => {}
                }
                match t.remove("env") {
                    Some(toml::Value::Table(envs)) => file_envs = envs,
                    Some(_) => {
                        return Err(ConfigError::Invalid(format!(
                            "{}: env must be a table of [env.NAME] tables",
                            path.display()
                        )));
                    }
                    None => {}
                }
            }
            cat.base = Some(overlay);
            cat.config_file = Some(path.clone());
        }
        // Registered environments first, so the config file's tables merge over them.
        let reg_dir = registered_env_dir(data_dir);
        if let Ok(rd) = std::fs::read_dir(&reg_dir) {
            let mut files: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for p in files {
                let Some(name) = p.file_stem().and_then(|s| s.to_str()).map(str::to_string) else {
                    continue;
                };
                if !valid_env_name(&name) {
                    continue;
                }
                let overlay = read_toml(&p)?;
                cat.envs.push(EnvEntry {
                    name,
                    source: EnvSource::Registered,
                    paths: vec![p],
                    overlay,
                });
            }
        }
        for (name, overlay) in file_envs {
            let path = file.clone().unwrap_or_default();
            if !valid_env_name(&name) {
                return Err(ConfigError::BadEnv {
                    name,
                    source_path: path.display().to_string(),
                    message: "names are 1–64 letters, digits, '-' or '_'".into(),
                });
            }
            if !overlay.is_table() {
                return Err(ConfigError::BadEnv {
                    name,
                    source_path: path.display().to_string(),
                    message: "must be a table ([env.NAME] with [env.NAME.database] ...)".into(),
                });
            }
            match cat.envs.iter_mut().find(|e| e.name == name) {
                Some(e) => {
                    merge(&mut e.overlay, overlay);
                    e.source = EnvSource::Both;
                    e.paths.push(path);
                }
                None => cat.envs.push(EnvEntry {
                    name,
                    source: EnvSource::ConfigFile,
                    paths: vec![path],
                    overlay,
                }),
            }
        }
        cat.envs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(cat)
    }

    /// The environment to use: the flag, else `HUBDECK_ENV`, else the file's `default_env`.
    pub fn select(
        &self,
        flag: Option<&str>,
        env: &[(String, String)],
    ) -> Result<Option<String>, ConfigError> {
        let from_env = env
            .iter()
            .find(|(k, _)| k == "HUBDECK_ENV")
            .map(|(_, v)| v.as_str());
        let chosen = flag
            .or(from_env)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or_else(|| self.default_env.clone());
        match chosen {
            None => Ok(None),
            Some(name) if self.get(&name).is_some() => Ok(Some(name)),
            Some(name) => Err(ConfigError::UnknownEnv {
                name,
                known: self.names(),
            }),
        }
    }
}

/// Environment names: 1–64 of `[A-Za-z0-9_-]`.
pub fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Where registered environments live: `<data dir>/environments`.
pub fn registered_env_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("environments")
}

/// Registers (or replaces) the environment `name` with the given overlay, atomically and
/// readable only by the owner. Used by `hubdeck demo`.
pub fn register_env(data_dir: &Path, name: &str, overlay: &str) -> std::io::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if !valid_env_name(name) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("invalid environment name {name:?}"),
        ));
    }
    let dir = registered_env_dir(data_dir);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.toml"));
    let tmp = dir.join(format!(".{name}.toml.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(overlay.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

fn read_toml(path: &Path) -> Result<toml::Value, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let value = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: secrets::toml_error_without_values(&text, &e),
    })?;
    secrets::warn_if_exposed(path, &value);
    Ok(value)
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

impl Settings {
    /// Loads defaults < file < selected environment < `HUBDECK_*` variables. `explicit` is
    /// `--config PATH` (must exist); otherwise the default config file is read when present.
    /// `env_flag` is `--env NAME` (else `HUBDECK_ENV`, else the file's `default_env`).
    pub fn load(explicit: Option<&Path>, env_flag: Option<&str>) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_env(explicit, default_config_path().as_deref(), &env, env_flag)
    }

    /// Testable core of [`Settings::load`] without an `--env` flag.
    pub fn load_from(
        explicit: Option<&Path>,
        default_path: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<Self, ConfigError> {
        Self::load_env(explicit, default_path, env, None)
    }

    /// Testable core of [`Settings::load`].
    pub fn load_env(
        explicit: Option<&Path>,
        default_path: Option<&Path>,
        env: &[(String, String)],
        env_flag: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let catalog = EnvCatalog::read(explicit, default_path, &data_dir_from(env))?;
        Self::resolve(&catalog, env, env_flag)
    }

    /// Settings from a catalog already read.
    pub fn resolve(
        catalog: &EnvCatalog,
        env: &[(String, String)],
        env_flag: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let mut value = toml::Value::try_from(Settings::default())
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if let Some(base) = &catalog.base {
            merge(&mut value, base.clone());
        }
        // Every environment must be valid, selected or not: a typo never waits for the day
        // someone switches to it.
        for e in &catalog.envs {
            let mut v = value.clone();
            merge(&mut v, e.overlay.clone());
            if let Err(err) = v.try_into::<Settings>() {
                return Err(ConfigError::BadEnv {
                    name: e.name.clone(),
                    source_path: e
                        .paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" + "),
                    message: err.to_string(),
                });
            }
        }
        let selected = catalog.select(env_flag, env)?;
        if let Some(name) = &selected
            && let Some(e) = catalog.get(name)
        {
            merge(&mut value, e.overlay.clone());
            if let Some(ui) = value.get_mut("ui").and_then(toml::Value::as_table_mut) {
                ui.insert("environment".into(), toml::Value::String(name.clone()));
            }
        }
        for (var, raw) in env {
            let Some(rest) = var.strip_prefix("HUBDECK_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue;
            };
            let section = section.to_ascii_lowercase();
            let key = key.to_ascii_lowercase();
            let Some(table) = value.get_mut(&section).and_then(toml::Value::as_table_mut) else {
                return Err(ConfigError::Env {
                    var: var.clone(),
                    message: format!("unknown section {section:?}"),
                });
            };
            let Some(existing) = table.get(&key) else {
                return Err(ConfigError::Env {
                    var: var.clone(),
                    message: format!("unknown key {key:?} in [{section}]"),
                });
            };
            let parsed = parse_env_value(existing, raw).map_err(|message| ConfigError::Env {
                var: var.clone(),
                message,
            })?;
            table.insert(key, parsed);
        }
        let mut settings: Settings = value
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        // The top bar names the selected environment, whatever ui.environment says.
        if let Some(name) = &selected {
            settings.ui.environment = name.clone();
        }
        settings.env = selected;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.database.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "database.max_connections must be at least 1".into(),
            ));
        }
        if self.trusts.key_prefix.is_empty()
            || !self
                .trusts
                .key_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
            || self.trusts.key_prefix.len() > 16
        {
            return Err(ConfigError::Invalid(
                "trusts.key_prefix must be 1–16 ASCII letters or digits".into(),
            ));
        }
        Ok(())
    }
}

fn merge(base: &mut toml::Value, overlay: toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Interprets an environment value with the type of the default it replaces.
fn parse_env_value(existing: &toml::Value, raw: &str) -> Result<toml::Value, String> {
    Ok(match existing {
        toml::Value::String(_) => toml::Value::String(raw.to_string()),
        toml::Value::Boolean(_) => toml::Value::Boolean(
            crate::domain::page::parse_bool(raw)
                .ok_or_else(|| format!("expected true or false, got {raw:?}"))?,
        ),
        toml::Value::Integer(_) => toml::Value::Integer(
            raw.trim()
                .parse()
                .map_err(|_| format!("expected an integer, got {raw:?}"))?,
        ),
        toml::Value::Array(_) => {
            let t = raw.trim();
            if t.starts_with('[') {
                let v: toml::Value =
                    toml::from_str(&format!("v = {t}")).map_err(|e| e.to_string())?;
                v.get("v").cloned().ok_or("expected an array")?
            } else {
                toml::Value::Array(
                    t.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.into()))
                        .collect(),
                )
            }
        }
        other => {
            return Err(format!(
                "cannot set a {} from the environment",
                other.type_str()
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layering() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[ui]\nenvironment = \"staging\"\nread_only = true\n[database]\nmax_connections = 3\n",
        )
        .unwrap();
        let env = vec![
            (
                "HUBDECK_DATABASE__MAX_CONNECTIONS".to_string(),
                "11".to_string(),
            ),
            (
                "HUBDECK_TRUSTS__KIT_SLOT_NAMES".to_string(),
                "A_1, B_2".to_string(),
            ),
            ("OTHER".to_string(), "x".to_string()),
        ];
        let s = Settings::load_from(Some(&p), None, &env).unwrap();
        assert_eq!(s.ui.environment, "staging");
        assert!(s.ui.read_only);
        assert_eq!(s.database.max_connections, 11);
        assert_eq!(s.trusts.kit_slot_names, vec!["A_1", "B_2"]);
        assert_eq!(s.mandates.retention_days, 30);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let env = vec![("HUBDECK_UI__COLOUR".to_string(), "x".to_string())];
        assert!(Settings::load_from(None, None, &env).is_err());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[ui]\nbogus = 1\n").unwrap();
        assert!(Settings::load_from(Some(&p), None, &[]).is_err());
    }

    fn envs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const TWO_ENVS: &str = r#"
[database]
max_connections = 3
[ui]
environment = "single"

[env.production.database]
url = "postgres://prod.example/hub"
[env.production.ui]
environment_color = "red"
read_only = true

[env.staging]
database = { url = "postgres://staging.example/hub" }
directory = { kind = "local" }
ui = { environment_color = "yellow" }
"#;

    #[test]
    fn environments_overlay_the_base_and_name_the_top_bar() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, TWO_ENVS).unwrap();
        let data = envs(&[("HUBDECK_DATA_DIR", &dir.path().display().to_string())]);

        let plain = Settings::load_env(Some(&p), None, &data, None).unwrap();
        assert_eq!(plain.env, None);
        assert_eq!(plain.ui.environment, "single");
        assert_eq!(
            plain.database.url.expose(),
            DatabaseSettings::default().url.expose()
        );

        let prod = Settings::load_env(Some(&p), None, &data, Some("production")).unwrap();
        assert_eq!(prod.env.as_deref(), Some("production"));
        assert_eq!(prod.database.url.expose(), "postgres://prod.example/hub");
        assert_eq!(
            prod.database.max_connections, 3,
            "base settings still apply"
        );
        assert!(prod.ui.read_only);
        assert_eq!(prod.ui.environment, "production");
        assert_eq!(prod.directory.kind, DirectoryKind::Cognito);

        // HUBDECK_ENV selects too; the flag wins over it.
        let mut e = data.clone();
        e.push(("HUBDECK_ENV".into(), "staging".into()));
        let st = Settings::load_env(Some(&p), None, &e, None).unwrap();
        assert_eq!(st.database.url.expose(), "postgres://staging.example/hub");
        assert_eq!(st.directory.kind, DirectoryKind::Local);
        assert!(!st.ui.read_only);
        assert_eq!(st.ui.environment_color, "yellow");
        let flag = Settings::load_env(Some(&p), None, &e, Some("production")).unwrap();
        assert_eq!(flag.env.as_deref(), Some("production"));

        // HUBDECK_<SECTION>__<KEY> still beat the environment.
        e.push(("HUBDECK_UI__READ_ONLY".into(), "true".into()));
        assert!(
            Settings::load_env(Some(&p), None, &e, None)
                .unwrap()
                .ui
                .read_only
        );
    }

    #[test]
    fn unknown_environment_names_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, TWO_ENVS).unwrap();
        let data = envs(&[("HUBDECK_DATA_DIR", &dir.path().display().to_string())]);
        let err = Settings::load_env(Some(&p), None, &data, Some("prod")).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ConfigError::UnknownEnv { .. }), "{msg}");
        assert!(msg.contains("\"prod\""), "{msg}");
        assert!(msg.contains("production, staging"), "{msg}");
        // Without any environment the message says how to make one.
        let none = Settings::load_env(None, None, &data, Some("x")).unwrap_err();
        assert!(none.to_string().contains("[env.NAME]"), "{none}");
    }

    #[test]
    fn a_typo_in_any_environment_is_an_error_and_default_env_selects() {
        let dir = tempfile::tempdir().unwrap();
        let data = envs(&[("HUBDECK_DATA_DIR", &dir.path().display().to_string())]);
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[env.a.ui]\nbogus = 1\n[env.b]\n").unwrap();
        let err = Settings::load_env(Some(&p), None, &data, Some("b")).unwrap_err();
        assert!(err.to_string().contains("\"a\""), "{err}");
        std::fs::write(
            &p,
            "default_env = \"b\"\n[env.a]\n[env.b.ui]\nread_only = true\n",
        )
        .unwrap();
        let s = Settings::load_env(Some(&p), None, &data, None).unwrap();
        assert_eq!(s.env.as_deref(), Some("b"));
        assert!(s.ui.read_only);
        std::fs::write(&p, "default_env = \"zz\"\n[env.a]\n").unwrap();
        assert!(matches!(
            Settings::load_env(Some(&p), None, &data, None),
            Err(ConfigError::UnknownEnv { .. })
        ));
    }

    #[test]
    fn registered_environments_merge_under_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let data = envs(&[("HUBDECK_DATA_DIR", &dir.path().display().to_string())]);
        let path = register_env(
            dir.path(),
            "demo",
            "[database]\nurl = \"postgres://postgres@localhost:5999/hubdeck\"\n[directory]\nkind = \"local\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // No config file at all: --env demo works.
        let s = Settings::load_env(None, None, &data, Some("demo")).unwrap();
        assert_eq!(s.directory.kind, DirectoryKind::Local);
        assert_eq!(s.ui.environment, "demo");
        assert!(s.database.url.expose().contains(":5999/"));
        // A config-file [env.demo] merges over it.
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[env.demo.ui]\nenvironment_color = \"blue\"\n").unwrap();
        let cat = EnvCatalog::read(Some(&p), None, dir.path()).unwrap();
        assert_eq!(cat.get("demo").unwrap().source, EnvSource::Both);
        let s = Settings::resolve(&cat, &data, Some("demo")).unwrap();
        assert_eq!(s.ui.environment_color, "blue");
        assert_eq!(s.directory.kind, DirectoryKind::Local);
        assert!(register_env(dir.path(), "../x", "").is_err());
    }

    #[test]
    fn password_never_printed() {
        let u = DatabaseUrl::new("postgres://bob:s3cret@db.example/hub");
        let mut s = Settings::default();
        s.database.url = u.clone();
        let shown = format!("{u} {u:?} {s:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("bob:***@db.example"));
        let q = DatabaseUrl::new("postgres://bob@h/hub?password=s3cret&sslmode=require");
        assert!(!format!("{q:?}").contains("s3cret"));
    }

    fn red(s: &str) -> String {
        DatabaseUrl::new(s).redacted()
    }

    #[test]
    fn redaction_survives_at_and_slash_in_passwords() {
        assert_eq!(red("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
        assert_eq!(red("postgres://u:p/ss@h/db"), "postgres://u:***@h/db");
        assert_eq!(
            red("postgres://u:p?s#s@h:5433/db"),
            "postgres://u:***@h:5433/db"
        );
        assert_eq!(red("postgres://u:a%40b%2Fc@h/db"), "postgres://u:***@h/db");
        // No password: nothing hidden, nothing lost.
        assert_eq!(red("postgres://u@h:5432/db"), "postgres://u@h:5432/db");
        assert_eq!(
            red("postgres://h/db?sslmode=require"),
            "postgres://h/db?sslmode=require"
        );
    }

    #[test]
    fn redaction_hides_password_parameters_in_any_case_and_encoding() {
        for key in [
            "password",
            "PASSWORD",
            "Password",
            "pass%77ord",
            "%50ASSWORD",
            "sslpassword",
        ] {
            let url = format!("postgres://u@h/db?sslmode=require&{key}=s3cr%40t&x=1");
            let shown = red(&url);
            assert!(!shown.contains("s3cr"), "{key}: {shown}");
            assert_eq!(
                shown,
                format!("postgres://u@h/db?sslmode=require&{key}=***&x=1")
            );
        }
        let both = red("postgres://u:one@h/db?password=two");
        assert!(!both.contains("one") && !both.contains("two"), "{both}");
    }

    #[test]
    fn unparseable_urls_are_never_echoed() {
        for raw in [
            "host=h user=u password=s3cret",
            "u:s3cret@h/db",
            "://u:s3cret@h",
            "post gres://u:s3cret@h",
        ] {
            let shown = red(raw);
            assert!(!shown.contains("s3cret"), "{raw} -> {shown}");
        }
        // A URL sqlx cannot parse (bad port) is still shown redacted, never whole.
        assert_eq!(
            red("postgres://u:pw@h:notaport/db"),
            "postgres://u:***@h:notaport/db"
        );
    }

    proptest::proptest! {
        /// Whatever the password holds (`@`, `/`, `?`, `#`, `:`, `%`, non-ASCII), raw or
        /// percent-encoded, in the userinfo or as a parameter, it is never shown.
        #[test]
        fn redaction_never_shows_the_password(
            body in "[a-zA-Z0-9@/?#:%&=+ é]{0,24}",
            host in "[a-z]{1,10}(:[0-9]{1,5})?",
            key in proptest::sample::select(vec!["password", "PASSWORD", "Password", "pass%77ord"]),
        ) {
            let pw = format!("Zq9{body}");
            let encoded: String = pw
                .bytes()
                .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
                .collect();
            for url in [
                format!("postgres://bob:{pw}@{host}/hub"),
                format!("postgres://bob:{encoded}@{host}/hub?sslmode=require"),
                format!("postgres://bob@{host}/hub?sslmode=require&{key}={encoded}"),
                format!("postgres://bob@{host}/hub?{key}={encoded}&sslmode=require"),
            ] {
                let shown = red(&url);
                proptest::prop_assert!(!shown.contains(&pw), "{} -> {}", url, shown);
                proptest::prop_assert!(!shown.contains(&encoded), "{} -> {}", url, shown);
                proptest::prop_assert!(shown.contains("***"), "{} -> {}", url, shown);
            }
        }
    }

    #[test]
    fn misspelt_password_parameter_is_refused_without_its_value() {
        let e = DatabaseUrl::new("postgres://u@h/db?PASSWORD=s3cret")
            .check_password_params()
            .unwrap_err();
        assert!(e.contains("PASSWORD") && !e.contains("s3cret"), "{e}");
        assert!(
            DatabaseUrl::new("postgres://u@h/db?password=x&sslmode=disable")
                .check_password_params()
                .is_ok()
        );
        assert_eq!(
            DatabaseUrl::new("postgres://u:p@ss@h/db").password_fragment(),
            Some("p@ss")
        );
    }
}
