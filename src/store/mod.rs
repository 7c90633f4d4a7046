//! PostgreSQL repositories. All SQL lives under this module and nowhere else: one file per
//! aggregate (`mandates.rs`, `members.rs`, `trusts.rs`, `users.rs`, `registrations.rs`,
//! `audit.rs`, …), the one list query builder over whitelisted columns (`query.rs`), the
//! directory cache (`directory_cache.rs`) and the local directory's tables
//! (`local_directory.rs`). Functions take an executor or a connection and never open a
//! transaction of their own choosing: the service decides where a transaction begins and
//! commits. The store sees only `domain` types — never `service` or `directory`
//! (`tests/it/architecture.rs`).

pub mod audit;
pub mod bulk;
pub mod dataset;
pub mod directory_cache;
pub mod drift;
pub mod estimates;
pub mod grants;
pub mod health;
pub mod local_directory;
pub mod local_totp;
pub mod mandates;
pub mod members;
pub mod plans;
pub mod query;
pub mod registrations;
pub mod trusts;
pub mod undo;
pub mod users;
pub mod versions;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;
use thiserror::Error;

use crate::config::DatabaseSettings;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A named unique constraint was violated (the caller maps it to a domain error).
    #[error("unique constraint {constraint} violated")]
    Unique { constraint: String },
    #[error("serialization conflict or deadlock (retryable)")]
    Conflict,
    #[error(transparent)]
    Query(#[from] crate::domain::PageQueryError),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            match db.code().as_deref() {
                // unique_violation
                Some("23505") => {
                    return StoreError::Unique {
                        constraint: db.constraint().unwrap_or_default().to_string(),
                    };
                }
                // serialization_failure, deadlock_detected
                Some("40001") | Some("40P01") => return StoreError::Conflict,
                _ => {}
            }
        }
        if matches!(
            e,
            sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Tls(_)
        ) {
            return StoreError::Unavailable(e.to_string());
        }
        StoreError::Database(e)
    }
}

impl StoreError {
    /// The violated unique constraint's name, if that is what this error is.
    pub fn unique_constraint(&self) -> Option<&str> {
        match self {
            StoreError::Unique { constraint } => Some(constraint),
            _ => None,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Conflict)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Opens a pool without touching the schema.
pub async fn connect(settings: &DatabaseSettings) -> StoreResult<PgPool> {
    settings
        .url
        .check_password_params()
        .map_err(StoreError::Unavailable)?;
    let opts = PgConnectOptions::from_str(settings.url.expose()).map_err(|e| {
        // Never echo the URL (it may hold a password), nor the driver's message whole: it may
        // quote a piece of it.
        let mut msg = e.to_string();
        if let Some(pw) = settings.url.password_fragment()
            && !pw.is_empty()
        {
            msg = msg.replace(pw, "***");
        }
        StoreError::Unavailable(format!(
            "invalid database.url ({}): {msg}",
            settings.url.redacted()
        ))
    })?;
    connect_with(
        opts,
        settings.max_connections,
        Duration::from_secs(settings.connect_timeout_secs),
    )
    .await
}

pub async fn connect_with(
    opts: PgConnectOptions,
    max: u32,
    timeout: Duration,
) -> StoreResult<PgPool> {
    // List pages are prepared statements whose best plan depends on the values (a mandate with
    // 5 members or 100,000; a rare or a common search). After five executions PostgreSQL may
    // switch to a generic plan built for the average value — measured at 550 ms instead of
    // 0.6 ms for a members page of the 100,000-member mandate. Always plan with the values.
    let opts = opts
        .application_name("hubdeck")
        .options([("plan_cache_mode", "force_custom_plan")]);
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(timeout)
        .connect_with(opts)
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// Applies the embedded migrations; a no-op when they are all applied.
pub async fn migrate(pool: &PgPool) -> StoreResult<()> {
    crate::MIGRATOR.run(pool).await?;
    Ok(())
}

/// `SELECT 1` — used by the TUI's health indicator.
pub async fn ping(pool: &PgPool) -> StoreResult<()> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

/// Number of applied migrations (0 before the first `migrate`).
pub async fn applied_migrations(pool: &PgPool) -> StoreResult<i64> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(0);
    }
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await?,
    )
}
