//! What `hubdeck doctor` asks the database: its version, clock and applied migrations.

use crate::store::Db;
use chrono::{DateTime, Utc};

use super::StoreResult;

/// `server_version` and `server_version_num` (e.g. ("16.4", 160004)).
pub async fn server_version(db: &Db) -> StoreResult<(String, i32)> {
    let (v, n): (String, String) = sqlx::query_as(
        "SELECT current_setting('server_version'), current_setting('server_version_num')",
    )
    .fetch_one(db)
    .await?;
    Ok((v, n.parse().unwrap_or(0)))
}

/// The database's clock (`clock_timestamp()`, not the transaction start).
pub async fn clock(db: &Db) -> StoreResult<DateTime<Utc>> {
    Ok(sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(db)
        .await?)
}

/// One row of sqlx's migration bookkeeping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i64,
    pub success: bool,
    pub checksum: Vec<u8>,
}

/// Every migration recorded in `_sqlx_migrations` (empty when the table does not exist yet).
pub async fn applied_migrations(db: &Db) -> StoreResult<Vec<AppliedMigration>> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(db)
        .await?;
    if !exists {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64, bool, Vec<u8>)> =
        sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(db)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(version, success, checksum)| AppliedMigration {
            version,
            success,
            checksum,
        })
        .collect())
}
