//! PostgreSQL repositories. All SQL lives under this module and nowhere else: one file per
//! aggregate (`mandates.rs`, `members.rs`, `trusts.rs`, `users.rs`, `registrations.rs`,
//! `audit.rs`, …), the one list query builder over whitelisted columns (`query.rs`), the
//! directory cache (`directory_cache.rs`) and the local directory's tables
//! (`local_directory.rs`). Functions take an executor or a connection and never open a
//! transaction of their own choosing: the service decides where a transaction begins and
//! commits. The store sees only `domain` types — never `service` or `directory`
//! (`tests/it/architecture.rs`).

pub mod approvals;
pub mod audit;
pub mod bulk;
pub mod changes;
pub mod cli_sessions;
pub mod dataset;
pub mod db;
pub mod directory_cache;
pub mod drift;
pub mod drift_page;
pub mod estimates;
pub mod grants;
pub mod health;
pub mod local_directory;
pub mod local_totp;
pub mod mandates;
pub mod members;
pub mod plans;
pub mod pooler;
pub mod query;
pub mod registration_lease;
pub mod registrations;
pub mod seal;
pub mod transience;
pub mod trusts;
pub mod undo;
pub mod users;
pub mod versions;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;
use thiserror::Error;

use crate::config::{DatabaseSettings, Pooler};
pub use db::{Conn, Db};
pub use transience::{Transience, sqlstate_transience, transience_of};

#[derive(Debug, Error)]
pub enum StoreError {
    /// A named unique constraint was violated (the caller maps it to a domain error).
    #[error("unique constraint {constraint} violated")]
    Unique { constraint: String },
    /// A serialization failure or deadlock: the server rolled the transaction back before it
    /// committed, so running it again whole is safe ([`Transience::Retryable`]).
    #[error("serialization conflict or deadlock (retryable)")]
    Conflict,
    #[error(transparent)]
    Query(#[from] crate::domain::PageQueryError),
    /// No usable connection: I/O, TLS, a lost or refused connection, pool timeout or closed.
    /// A statement in flight when the connection went away may or may not have taken effect.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The server interrupted the statement without saying the change is impossible: the
    /// session was ended (shutdown, failover, `pg_terminate_backend`), a lock or statement
    /// timeout, a connection exception. It may succeed later.
    #[error("database interrupted the statement (SQLSTATE {code}): {message}")]
    Interrupted { code: String, message: String },
    /// Any other database error: definitive. The message is the driver's, whole; the driver
    /// error is deliberately not a `source` too, or a printer walking the chain would say the
    /// same cause twice.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(e)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let transience = transience_of(&e);
        if let sqlx::Error::Database(db) = &e {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            if code == "23505" {
                return StoreError::Unique {
                    constraint: db.constraint().unwrap_or_default().to_string(),
                };
            }
            return match transience {
                Transience::Retryable => StoreError::Conflict,
                Transience::Transient => StoreError::Interrupted {
                    code,
                    message: db.message().to_string(),
                },
                Transience::Definitive => StoreError::Database(e),
            };
        }
        match transience {
            Transience::Definitive => StoreError::Database(e),
            _ => StoreError::Unavailable(e.to_string()),
        }
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

    /// This error in the one classification ([`Transience`]).
    pub fn transience(&self) -> Transience {
        match self {
            StoreError::Conflict => Transience::Retryable,
            StoreError::Unavailable(_) | StoreError::Interrupted { .. } => Transience::Transient,
            StoreError::Database(e) => transience_of(e),
            StoreError::Unique { .. } | StoreError::Query(_) | StoreError::Migrate(_) => {
                Transience::Definitive
            }
        }
    }

    /// Transient or retryable (see [`Transience::may_succeed_later`]).
    /// The database went away (the connection broke, the server ended it, none could be
    /// opened), as opposed to a refusal, a timeout or a bug.
    pub fn is_connection_loss(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Interrupted { code, .. } => transience::sqlstate_connection_lost(code),
            StoreError::Database(d) => transience::connection_lost(d),
            _ => false,
        }
    }

    pub fn is_transient(&self) -> bool {
        self.transience().may_succeed_later()
    }

    /// Safe to run the whole transaction again.
    pub fn is_retryable(&self) -> bool {
        self.transience() == Transience::Retryable
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Opens a pool without touching the schema.
pub async fn connect(settings: &DatabaseSettings) -> StoreResult<Db> {
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
    connect_through(
        opts,
        settings.max_connections,
        Duration::from_secs(settings.connect_timeout_secs),
        settings.pooler,
    )
    .await
}

/// A pool straight to PostgreSQL (no pooler in between).
pub async fn connect_with(opts: PgConnectOptions, max: u32, timeout: Duration) -> StoreResult<Db> {
    connect_through(opts, max, timeout, Pooler::None).await
}

/// A pool whose connections reach the server through `pooler`.
///
/// List pages are prepared statements whose best plan depends on the values (a mandate with
/// 5 members or 100,000; a rare or a common search). After five executions of one prepared
/// statement PostgreSQL may switch to a generic plan built for the average value — measured
/// at 550 ms instead of 0.6 ms for a members page of the 100,000-member mandate. So every
/// mode plans with the values:
/// - straight to the server: `plan_cache_mode=force_custom_plan` as a startup option;
/// - through a session pooler, which refuses startup options it does not know (PgBouncer:
///   "unsupported startup parameter"), the same setting is SET once per connection: the
///   server connection is this client's until it disconnects, and the pooler's reset
///   (DISCARD ALL) clears it for the next client;
/// - through a transaction pooler nothing may outlive a transaction (the next transaction
///   can run on another server connection, and this one serves other clients): no startup
///   options, no SET, and no statement cache — each statement is prepared where it runs and
///   never reused, so it is always planned with its values.
pub async fn connect_through(
    opts: PgConnectOptions,
    max: u32,
    timeout: Duration,
    pooler: Pooler,
) -> StoreResult<Db> {
    let opts = opts.application_name("hubdeck");
    let pool = PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(timeout);
    let made = match pooler {
        Pooler::None => {
            let opts = opts.options([("plan_cache_mode", "force_custom_plan")]);
            pool.connect_with(opts).await
        }
        // Poolers refuse startup parameters they do not track; sqlx sends this one unless
        // told not to (binary results do not need it).
        Pooler::Session => {
            pool.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::Executor::execute(conn, "SET plan_cache_mode = force_custom_plan")
                        .await
                        .map(|_| ())
                })
            })
            .connect_with(opts.extra_float_digits(None))
            .await
        }
        Pooler::Transaction => {
            return pool
                .connect_with(opts.extra_float_digits(None).statement_cache_capacity(0))
                .await
                .map(Db::through_transaction_pooler)
                .map_err(|e| StoreError::Unavailable(e.to_string()));
        }
    };
    made.map(Db::from)
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// Applies the embedded migrations; a no-op when they are all applied.
///
/// Not through a transaction pooler: the migrator holds a session-level advisory lock for the
/// whole run and prepares named statements, neither of which a transaction pooler keeps.
pub async fn migrate(db: &Db) -> StoreResult<()> {
    if db.is_transaction_pooled() {
        return Err(StoreError::Migrate(sqlx::migrate::MigrateError::Execute(
            sqlx::Error::Configuration(
                "migrations cannot run through a transaction pooler (they hold a session \
                 lock across transactions): connect directly for `hubdeck migrate` \
                 (database.url pointing at the server itself, database.pooler = \"none\"), \
                 or through a session pooler"
                    .into(),
            ),
        )));
    }
    crate::MIGRATOR.run(&**db).await?;
    Ok(())
}

/// `SELECT 1` — used by the TUI's health indicator.
pub async fn ping(pool: &Db) -> StoreResult<()> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

/// Number of applied migrations (0 before the first `migrate`).
pub async fn applied_migrations(pool: &Db) -> StoreResult<i64> {
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
