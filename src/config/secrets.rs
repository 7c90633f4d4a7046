//! Keeping the database password where it belongs: out of parse errors (which would otherwise
//! quote the line holding it to stderr, CI logs, `doctor` and the console's environment
//! dialog), out of the process list (`--database-url-file` instead of `--database-url`), and
//! in files only their owner can read (a warning when group or others can).

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::{ConfigError, DatabaseUrl};

/// A TOML parse error located by line and column, with the failing line reduced to its key:
/// the value (a URL with a password, a key) is never shown.
pub(super) fn toml_error_without_values(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end();
    let Some(span) = e.span() else {
        return message.to_string();
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    let line_text = text.lines().nth(line - 1).unwrap_or("");
    // Only a bare key is shown: a quoted key could itself be anything.
    let shown = match line_text.split_once('=') {
        Some((key, _))
            if !key.trim().is_empty()
                && key
                    .trim()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ')) =>
        {
            format!("{} = <value hidden>", key.trim())
        }
        _ => "<line hidden: it may hold a secret>".to_string(),
    };
    format!("TOML parse error at line {line}, column {column}: {message} (in `{shown}`)")
}

/// Whether a parsed config holds a password: a URL with one, or a key named like one.
fn holds_secret(v: &toml::Value) -> bool {
    match v {
        toml::Value::Table(t) => t.iter().any(|(k, v)| {
            let k = k.to_ascii_lowercase();
            let named = ["password", "secret", "passphrase"]
                .iter()
                .any(|w| k.contains(w));
            (named && v.as_str().is_some_and(|s| !s.is_empty())) || holds_secret(v)
        }),
        toml::Value::Array(a) => a.iter().any(holds_secret),
        toml::Value::String(s) => DatabaseUrl::new(s.clone()).holds_password(),
        _ => false,
    }
}

/// Warns (once per file per process) when a config file holding a password can be read by
/// group or others: on a shared bastion that hands the database to every local account.
pub(super) fn warn_if_exposed(path: &Path, value: &toml::Value) {
    if holds_secret(value) {
        warn_if_readable(path, "holds a password");
    }
}

/// The load-time warning for a file holding a secret whose mode lets group or others read it.
fn warn_if_readable(path: &Path, what: &str) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.mode() & 0o077 == 0 {
        return;
    }
    static WARNED: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    let first = WARNED
        .get_or_init(Default::default)
        .lock()
        .map(|mut w| w.insert(path.to_path_buf()))
        .unwrap_or(true);
    if first {
        eprintln!(
            "hubdeck: warning: {} {what} and is readable by group or others (mode {:o}); \
             run `chmod 600 {}`",
            crate::domain::DisplayText::new(&path.display().to_string()),
            meta.mode() & 0o777,
            crate::domain::DisplayText::new(&path.display().to_string()),
        );
    }
}

/// `--database-url-file PATH`: the URL from a file (first line), so the password is not in
/// the process list; warns when the file is readable by group or others.
pub fn read_url_file(path: &Path) -> Result<DatabaseUrl, ConfigError> {
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
        ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }
    })?);
    let url = DatabaseUrl::new(text.lines().next().unwrap_or("").trim());
    if url.holds_password() {
        warn_if_readable(path, "holds a database password");
    }
    Ok(url)
}

/// `--database-url` with a password: any local account sees it in `ps`; say what to use.
pub fn warn_password_on_command_line(url: &DatabaseUrl) {
    if url.holds_password() {
        eprintln!(
            "hubdeck: warning: --database-url holds a password, which every local account can \
             read in the process list; use --database-url-file PATH (mode 0600), \
             HUBDECK_DATABASE__URL or database.url in a 0600 config file instead"
        );
    }
}

/// Query parameters sqlx does not know are ignored and logged with their value: one that
/// names a password (`sslpassword`, a misspelt `passwd`) would land in the log in plaintext.
pub(super) fn refuse_unknown_password_param(decoded_key: &str) -> Result<(), String> {
    let k = decoded_key.trim().to_ascii_lowercase();
    if k == "password" || !(k.contains("pass") || k.contains("secret")) {
        return Ok(());
    }
    let hint = if k == "sslpassword" {
        "; the driver cannot decrypt a client key, so use a key file without a passphrase \
         (sslkey=PATH, mode 0600)"
    } else {
        ""
    };
    Err(format!(
        "database.url: the query parameter `{}` is not supported: the driver would ignore it \
         and log its value{hint}",
        crate::domain::DisplayText::with_max(decoded_key, 40)
    ))
}
