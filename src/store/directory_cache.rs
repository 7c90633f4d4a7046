//! The `directory_user` read cache: for listing and search only, never the authority.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::StoreResult;
use crate::directory::Identity;
use crate::domain::UserSub;

/// Inserts or refreshes one cached identity (clears a previous "gone" mark).
pub async fn upsert<'e, E: PgExecutor<'e>>(exec: E, identity: &Identity) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status, gone_at, synced_at) \
         VALUES ($1, $2, $3, $4, $5, NULL, now()) \
         ON CONFLICT (sub) DO UPDATE SET username = EXCLUDED.username, email = EXCLUDED.email, \
           enabled = EXCLUDED.enabled, status = EXCLUDED.status, gone_at = NULL, synced_at = now(), updated_at = now()",
    )
    .bind(identity.sub)
    .bind(&identity.username)
    .bind(&identity.email)
    .bind(identity.enabled)
    .bind(identity.status.as_str())
    .execute(exec)
    .await?;
    Ok(())
}

/// Marks an identity as gone from the directory (kept for audit readability).
pub async fn mark_gone<'e, E: PgExecutor<'e>>(exec: E, sub: UserSub) -> StoreResult<()> {
    sqlx::query("UPDATE directory_user SET gone_at = now(), updated_at = now() WHERE sub = $1 AND gone_at IS NULL")
        .bind(sub)
        .execute(exec)
        .await?;
    Ok(())
}

/// Marks every cached identity not seen since `sync_started` as gone; returns how many.
pub async fn mark_unseen_gone<'e, E: PgExecutor<'e>>(
    exec: E,
    sync_started: DateTime<Utc>,
) -> StoreResult<u64> {
    let r = sqlx::query(
        "UPDATE directory_user SET gone_at = now(), updated_at = now() WHERE gone_at IS NULL AND synced_at < $1",
    )
    .bind(sync_started)
    .execute(exec)
    .await?;
    Ok(r.rows_affected())
}
