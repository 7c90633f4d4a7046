//! The `directory_user` read cache: for listing and search only, never the authority.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::StoreResult;
use crate::domain::UserSub;
use crate::domain::identity::Identity;

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

/// Inserts or refreshes a batch of identities in ONE statement (one sync page). Duplicate subs
/// in the batch are collapsed (the last one wins). Returns how many rows were written.
pub async fn upsert_many<'e, E: PgExecutor<'e>>(
    exec: E,
    identities: &[Identity],
) -> StoreResult<u64> {
    let mut by_sub = std::collections::HashMap::new();
    for (i, identity) in identities.iter().enumerate() {
        by_sub.insert(identity.sub, i);
    }
    let mut idx: Vec<usize> = by_sub.into_values().collect();
    idx.sort_unstable();
    let subs: Vec<uuid::Uuid> = idx.iter().map(|&i| identities[i].sub.0).collect();
    let usernames: Vec<&str> = idx
        .iter()
        .map(|&i| identities[i].username.as_str())
        .collect();
    let emails: Vec<&str> = idx.iter().map(|&i| identities[i].email.as_str()).collect();
    let enabled: Vec<bool> = idx.iter().map(|&i| identities[i].enabled).collect();
    let statuses: Vec<&str> = idx.iter().map(|&i| identities[i].status.as_str()).collect();
    let r = sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status, gone_at, synced_at) \
         SELECT u.sub, u.username, u.email, u.enabled, u.status, NULL, now() \
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::bool[], $5::text[]) \
           AS u(sub, username, email, enabled, status) \
         ON CONFLICT (sub) DO UPDATE SET username = EXCLUDED.username, email = EXCLUDED.email, \
           enabled = EXCLUDED.enabled, status = EXCLUDED.status, gone_at = NULL, synced_at = now(), updated_at = now()",
    )
    .bind(&subs)
    .bind(&usernames)
    .bind(&emails)
    .bind(&enabled)
    .bind(&statuses)
    .execute(exec)
    .await?;
    Ok(r.rows_affected())
}

/// The database clock (a sync's start mark must come from the same clock as `synced_at`).
pub async fn db_now<'e, E: PgExecutor<'e>>(exec: E) -> StoreResult<DateTime<Utc>> {
    Ok(sqlx::query_scalar("SELECT now()").fetch_one(exec).await?)
}
