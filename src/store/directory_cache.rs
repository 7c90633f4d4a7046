//! The `directory_user` read cache: for listing and search only, never the authority.

use crate::store::Conn;
use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::StoreResult;
use super::audit::AuditActor;
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

/// Marks gone every cached identity a sync that started at `sync_started` did not see, with
/// one `users_audit` row per identity marked, in the caller's transaction; returns how many.
/// A row written by anyone since the sync started (`updated_at`) is newer than the sync's
/// view of the directory (a sign-in, a restore) and is left alone. The UPDATE re-checks that
/// on the row version it locks, so a write committing meanwhile wins over the sync.
pub async fn mark_unseen_gone_audited(
    conn: &mut Conn,
    sync_started: DateTime<Utc>,
    who: AuditActor<'_>,
) -> StoreResult<u64> {
    let r = sqlx::query(
        "WITH gone AS ( \
           UPDATE directory_user SET gone_at = now(), updated_at = now() \
           WHERE gone_at IS NULL AND synced_at < $1 AND updated_at < $1 RETURNING sub) \
         INSERT INTO users_audit (action, user_id, modified_by_user_id, via, os_user, details) \
         SELECT 'DIRECTORY_GONE', sub, $2, $3, $4, \
                jsonb_build_object('source', 'directory sync', 'sync_started', $1::timestamptz) \
         FROM gone",
    )
    .bind(sync_started)
    .bind(who.sub)
    .bind(who.via)
    .bind(who.os_user)
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// One `users_audit` row for each of `subs` (identities a sync page reports disabled) whose
/// cached row is still live and enabled, i.e. what the page's upsert is about to disable.
/// Runs before that upsert, in its transaction.
pub async fn audit_disabled_by_sync(
    conn: &mut Conn,
    subs: &[uuid::Uuid],
    who: AuditActor<'_>,
) -> StoreResult<u64> {
    let r = sqlx::query(
        "INSERT INTO users_audit (action, user_id, modified_by_user_id, via, os_user, details) \
         SELECT 'DIRECTORY_DISABLED', d.sub, $2, $3, $4, \
                jsonb_build_object('source', 'directory sync') \
         FROM directory_user d WHERE d.sub = ANY($1) AND d.enabled AND d.gone_at IS NULL",
    )
    .bind(subs)
    .bind(who.sub)
    .bind(who.via)
    .bind(who.os_user)
    .execute(conn)
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
