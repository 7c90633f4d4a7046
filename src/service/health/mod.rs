//! `hubdeck doctor`: everything the console needs, checked before anyone signs in. Each check
//! is one line — pass, warn, fail or skip — with what was found and, when it is not a pass,
//! the remedy. Only `fail` makes the report fail (exit non-zero); `warn` is worth knowing but
//! does not stop the console; `skip` says why a check could not run.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;

use crate::config::{DirectoryKind, Settings};
use crate::directory::DirectoryError;
use crate::directory::diagnose::{CognitoFacts, PoolFacts, cognito_facts};
use crate::store::health::{AppliedMigration, applied_migrations, clock, server_version};

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

async fn database_checks(s: &Settings, checks: &mut Vec<Check>) -> Option<crate::store::Db> {
    let url = s.database.url.redacted();
    let mut db_settings = s.database.clone();
    db_settings.max_connections = 2;
    db_settings.connect_timeout_secs = db_settings.connect_timeout_secs.clamp(1, 10);
    let db = match crate::store::connect(&db_settings).await {
        Ok(db) => db,
        Err(e) => {
            checks.push(Check::fail(
                "database",
                format!("cannot connect to {url}: {e}"),
                "start PostgreSQL or correct database.url (HUBDECK_DATABASE__URL, --database-url, \
                 or the environment's [env.NAME.database]); for the demo: hubdeck demo --no-console",
            ));
            let mut refused = super::pooler::startup_refused(s, &e.to_string());
            for id in [
                "database.version",
                "database.migrations",
                "clock.database",
                "kit_slots",
                "database.pooler",
                "trusts.keys",
                "audit.seal",
            ] {
                match refused.take() {
                    Some(c) if id == c.id => checks.push(c),
                    other => {
                        refused = other;
                        checks.push(Check::skip(id, "needs the database"));
                    }
                }
            }
            return None;
        }
    };
    checks.push(Check::pass("database", format!("connected to {url}")));

    match server_version(&db).await {
        Ok((v, n)) if n >= MIN_SERVER_VERSION_NUM => {
            checks.push(Check::pass("database.version", format!("PostgreSQL {v}")))
        }
        Ok((v, _)) => checks.push(Check::fail(
            "database.version",
            format!("PostgreSQL {v} is older than 14"),
            "upgrade the server to PostgreSQL 14 or newer",
        )),
        Err(e) => checks.push(Check::fail(
            "database.version",
            format!("cannot read the server version: {e}"),
            "check that the database user may run SELECT current_setting(...)",
        )),
    }

    match applied_migrations(&db).await {
        Ok(applied) => checks.push(migration_check(&applied)),
        Err(e) => checks.push(Check::fail(
            "database.migrations",
            format!("cannot read _sqlx_migrations: {e}"),
            "grant the database user SELECT on _sqlx_migrations, or run hubdeck migrate",
        )),
    }

    // Host vs database clock: the host's time is taken on both sides of the query and the
    // database's compared with the midpoint.
    let before = Utc::now();
    match clock(&db).await {
        Ok(db_now) => {
            let after = Utc::now();
            let mid = before + (after - before) / 2;
            let skew = (db_now - mid).abs();
            let skew_std = skew.to_std().unwrap_or(Duration::MAX);
            let detail = format!(
                "database clock {} host by {:.3} s",
                if db_now >= mid { "ahead of" } else { "behind" },
                skew.num_milliseconds() as f64 / 1000.0
            );
            let remedy = "synchronise the clocks (chrony/systemd-timesyncd on this host and the \
                          database server); audit times and the `older than a minute` rule use \
                          the database's clock";
            checks.push(if skew_std >= SKEW_FAIL {
                Check::fail("clock.database", detail, remedy)
            } else if skew_std >= SKEW_WARN {
                Check::warn("clock.database", detail, remedy)
            } else {
                Check::pass("clock.database", detail)
            });
        }
        Err(e) => checks.push(Check::fail(
            "clock.database",
            format!("cannot read the database clock: {e}"),
            "check the database connection",
        )),
    }

    match crate::store::trusts::slot_counts(&db).await {
        Ok((free, assigned)) => {
            let configured = s.trusts.kit_slot_names.len();
            let detail = format!(
                "{free} free, {assigned} assigned ({configured} names in trusts.kit_slot_names)"
            );
            // register-trust adds configured names missing from the pool before giving up.
            let addable = configured.saturating_sub((free + assigned).max(0) as usize);
            checks.push(if free == 0 && addable == 0 {
                Check::warn(
                    "kit_slots",
                    detail,
                    "no FL kit slot is free: the next register-trust fails; pre-provision kits \
                     and add their names to trusts.kit_slot_names",
                )
            } else {
                Check::pass("kit_slots", detail)
            });
        }
        Err(e) => checks.push(Check::skip(
            "kit_slots",
            format!("cannot count the slot pool: {e}"),
        )),
    }
    checks.push(super::pooler::pooler_check(s, &db).await);
    checks.push(super::trust_keys::unconfirmed_keys_check(&db).await);
    checks.push(super::seal::seal_check(s, &db).await);
    Some(db)
}

/// Compares the migrations this binary embeds with those the database recorded.
pub fn migration_check(applied: &[AppliedMigration]) -> Check {
    let known: Vec<(i64, &[u8], String)> = crate::MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| (m.version, m.checksum.as_ref(), m.description.to_string()))
        .collect();
    let failed: Vec<i64> = applied
        .iter()
        .filter(|a| !a.success)
        .map(|a| a.version)
        .collect();
    if !failed.is_empty() {
        return Check::fail(
            "database.migrations",
            format!("migration(s) {failed:?} failed part-way (marked dirty)"),
            "repair the schema by hand, delete the dirty row from _sqlx_migrations, then run \
             hubdeck migrate",
        );
    }
    let changed: Vec<i64> = known
        .iter()
        .filter(|(v, sum, _)| {
            applied
                .iter()
                .any(|a| a.version == *v && a.checksum.as_slice() != *sum)
        })
        .map(|(v, _, _)| *v)
        .collect();
    if !changed.is_empty() {
        return Check::fail(
            "database.migrations",
            format!("applied migration(s) {changed:?} differ from this binary's"),
            "use the hubdeck build that applied them; migrations are never edited once applied",
        );
    }
    let pending: Vec<String> = known
        .iter()
        .filter(|(v, _, _)| !applied.iter().any(|a| a.version == *v))
        .map(|(v, _, d)| format!("{v} {d}"))
        .collect();
    if !pending.is_empty() {
        return Check::fail(
            "database.migrations",
            format!(
                "{} of {} migrations pending: {}",
                pending.len(),
                known.len(),
                pending.join(", ")
            ),
            "run hubdeck migrate (with the same --env / --database-url)",
        );
    }
    let unknown = applied
        .iter()
        .filter(|a| !known.iter().any(|(v, _, _)| *v == a.version))
        .count();
    if unknown > 0 {
        return Check::warn(
            "database.migrations",
            format!(
                "all {} applied; the database also has {unknown} migration(s) this binary does not know",
                known.len()
            ),
            "a newer hubdeck migrated this database: upgrade this binary",
        );
    }
    Check::pass(
        "database.migrations",
        format!("all {} migrations applied", known.len()),
    )
}

async fn directory_checks(s: &Settings, db: Option<&crate::store::Db>, checks: &mut Vec<Check>) {
    match s.directory.kind {
        DirectoryKind::Local => {
            let Some(db) = db else {
                checks.push(Check::skip(
                    "directory",
                    "local directory: needs the database",
                ));
                return;
            };
            let local = crate::directory::local::LocalDirectory::new(db.clone());
            use crate::directory::Directory as _;
            match (local.health().await, local.estimated_count().await) {
                (Ok(()), Ok(n)) => checks.push(Check::pass(
                    "directory",
                    format!(
                        "local directory on the database ({} identities)",
                        n.unwrap_or(0)
                    ),
                )),
                (Err(e), _) | (_, Err(e)) => checks.push(Check::fail(
                    "directory",
                    format!("local directory: {e}"),
                    "run hubdeck migrate (the local directory's tables come with the migrations)",
                )),
            }
        }
        DirectoryKind::Cognito => {
            let facts = cognito_facts(&s.directory, Duration::from_secs(10)).await;
            cognito_checks(s, &facts, checks);
        }
    }
}

/// Turns what Cognito said into lines (pure; unit-tested).
pub fn cognito_checks(s: &Settings, facts: &CognitoFacts, checks: &mut Vec<Check>) {
    let d = &s.directory;
    let target = if d.endpoint_url.is_empty() {
        format!("{} in {}", d.user_pool_id, d.region)
    } else {
        format!("{} at {}", d.user_pool_id, d.endpoint_url)
    };
    match &facts.credentials {
        Ok(src) => checks.push(Check::pass(
            "directory.credentials",
            format!("AWS credentials resolved ({src})"),
        )),
        Err(e) => checks.push(Check::fail(
            "directory.credentials",
            format!("no AWS credentials: {e}"),
            "provide credentials the default chain finds: AWS_PROFILE (aws sso login / aws \
             configure), AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, or an instance/task role",
        )),
    }
    match &facts.pool {
        None => checks.push(Check::skip("directory.pool", "needs AWS credentials")),
        Some(Ok(p)) => checks.push(Check::pass(
            "directory.pool",
            format!(
                "user pool {target} ({:?}, about {} users)",
                p.name, p.estimated_users
            ),
        )),
        Some(Err(e)) => checks.push(Check::fail(
            "directory.pool",
            format!("user pool {target}: {e}"),
            pool_remedy(e),
        )),
    }
    match &facts.client {
        None if d.client_id.is_empty() => checks.push(Check::fail(
            "directory.client",
            "directory.client_id is empty: operators cannot sign in",
            "set directory.client_id to an app client of the pool that allows \
             ADMIN_USER_PASSWORD_AUTH",
        )),
        None => checks.push(Check::skip("directory.client", "needs AWS credentials")),
        Some(Ok(c)) if c.allows_admin_password_auth() => checks.push(Check::pass(
            "directory.client",
            format!(
                "app client {} ({:?}) allows ADMIN_USER_PASSWORD_AUTH",
                d.client_id, c.name
            ),
        )),
        Some(Ok(c)) => checks.push(Check::fail(
            "directory.client",
            format!(
                "app client {} ({:?}) does not allow ADMIN_USER_PASSWORD_AUTH (explicit auth flows: {})",
                d.client_id,
                c.name,
                if c.explicit_auth_flows.is_empty() {
                    "none".to_string()
                } else {
                    c.explicit_auth_flows.join(", ")
                }
            ),
            format!(
                "add the flow: aws cognito-idp update-user-pool-client --user-pool-id {} \
                 --client-id {} --explicit-auth-flows ALLOW_ADMIN_USER_PASSWORD_AUTH \
                 ALLOW_REFRESH_TOKEN_AUTH (the update replaces the list: keep the flows you use)",
                d.user_pool_id, d.client_id
            ),
        )),
        Some(Err(e)) => checks.push(Check::fail(
            "directory.client",
            format!("app client {}: {e}", d.client_id),
            "check directory.client_id (an app client of this pool) and that the credentials \
             may call cognito-idp:DescribeUserPoolClient",
        )),
    }
    match &facts.pool {
        Some(Ok(p)) => checks.push(match p.mfa.as_str() {
            "OFF" => Check::pass("directory.mfa", "MFA off"),
            "OPTIONAL" => Check::pass(
                "directory.mfa",
                "MFA optional: operators who enrolled an authenticator app are asked for its \
                 code at sign-in (SMS and email codes are not answered)",
            ),
            "ON" => Check::pass(
                "directory.mfa",
                "MFA required: sign-in asks for an authenticator-app code and sets one up on \
                 the first sign-in (SMS and email codes are not answered)",
            ),
            other => Check::warn(
                "directory.mfa",
                format!("MFA configuration {other} is not one hubdeck knows"),
                "use MFA OFF, OPTIONAL or ON with software-token (authenticator app) MFA",
            ),
        }),
        _ => checks.push(Check::skip("directory.mfa", "needs the user pool")),
    }
    checks.push(match &facts.pool {
        Some(Ok(p)) if p.registration_marker => Check::pass(
            "directory.registration_marker",
            format!(
                "the pool's schema has {}: registrations can prove which identity they created",
                crate::directory::cognito::marker_attribute()
            ),
        ),
        Some(Ok(_)) => Check::warn(
            "directory.registration_marker",
            format!(
                "the pool's schema has no {}: after a lost AdminCreateUser answer a registration \
                 cannot prove the identity is its own and ends `conflict` for an operator",
                crate::directory::cognito::marker_attribute()
            ),
            format!(
                "aws cognito-idp add-custom-attributes --user-pool-id {} --custom-attributes \
                 Name={},AttributeDataType=String,Mutable=false,StringAttributeConstraints={{MinLength=36,MaxLength=36}}",
                d.user_pool_id,
                crate::directory::REGISTRATION_ATTRIBUTE
            ),
        ),
        _ => Check::skip("directory.registration_marker", "needs the user pool"),
    });
    checks.push(match &facts.pool {
        Some(Ok(PoolFacts {
            clock: Some((theirs, ours)),
            ..
        })) => directory_clock_check(*theirs, *ours),
        Some(Ok(_)) => Check::skip(
            "clock.directory",
            "not measurable: the directory's response carried no Date header",
        ),
        _ => Check::skip("clock.directory", "needs the user pool"),
    });
}

/// The directory's `Date` (whole seconds) against this host: SigV4 refuses requests more
/// than 5 minutes off, so a minute is worth a warning and four fail.
pub fn directory_clock_check(theirs: chrono::DateTime<Utc>, ours: chrono::DateTime<Utc>) -> Check {
    let skew = (theirs - ours).abs();
    let secs = skew.num_milliseconds() as f64 / 1000.0;
    let detail = format!(
        "directory clock {} host by about {secs:.0} s (HTTP Date, ±1 s)",
        if theirs >= ours { "ahead of" } else { "behind" }
    );
    let remedy = "synchronise this host's clock (chrony/systemd-timesyncd): AWS refuses signed \
                  requests more than 5 minutes off";
    if secs >= 240.0 {
        Check::fail("clock.directory", detail, remedy)
    } else if secs >= 60.0 {
        Check::warn("clock.directory", detail, remedy)
    } else {
        Check::pass("clock.directory", detail)
    }
}

fn pool_remedy(e: &DirectoryError) -> String {
    match e {
        DirectoryError::NotFound(_) | DirectoryError::Rejected(_) => {
            "check directory.user_pool_id and directory.region, and that the credentials may \
             call cognito-idp:DescribeUserPool"
                .into()
        }
        DirectoryError::NotAuthorized(_) => {
            "the credentials are not allowed: grant cognito-idp:Describe* and the Admin* \
             actions hubdeck uses"
                .into()
        }
        _ => "the directory did not answer: check the network path (VPC endpoint, proxy, \
              directory.endpoint_url) and retry"
            .into(),
    }
}

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
