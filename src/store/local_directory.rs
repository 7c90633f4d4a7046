//! SQL of the embedded identity provider (`directory::local::LocalDirectory`).

use crate::store::Db;
use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::StoreResult;
use crate::domain::UserSub;

#[derive(Clone, Debug, FromRow)]
pub struct LocalIdentityRow {
    pub sub: UserSub,
    pub username: String,
    pub email: String,
    pub enabled: bool,
    pub status: String,
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The registration id the identity was created for (set only at creation).
    pub registration_marker: Option<String>,
}

const COLUMNS: &str =
    "sub, username, email, enabled, status, password_hash, created_at, registration_marker";

pub struct NewLocalIdentity<'a> {
    pub sub: UserSub,
    pub username: &'a str,
    pub email: &'a str,
    pub email_verified: bool,
    pub status: &'a str,
    pub password_hash: &'a str,
    /// Record an INVITE row in the same transaction.
    pub invite: bool,
    pub registration_marker: Option<&'a str>,
}

/// Inserts an identity (and its invitation) in one transaction. A duplicate email or username
/// surfaces as `StoreError::Unique`.
pub async fn insert(db: &Db, new: &NewLocalIdentity<'_>) -> StoreResult<LocalIdentityRow> {
    let mut tx = db.begin().await?;
    let row: LocalIdentityRow = sqlx::query_as(
        "INSERT INTO local_identity (sub, username, email, email_verified, status, password_hash, \
         registration_marker) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         RETURNING sub, username, email, enabled, status, password_hash, created_at, registration_marker",
    )
    .bind(new.sub)
    .bind(new.username)
    .bind(new.email)
    .bind(new.email_verified)
    .bind(new.status)
    .bind(new.password_hash)
    .bind(new.registration_marker)
    .fetch_one(&mut tx)
    .await?;
    if new.invite {
        sqlx::query("INSERT INTO local_invitation (sub, email, kind) VALUES ($1, $2, 'INVITE')")
            .bind(new.sub)
            .bind(new.email)
            .execute(&mut tx)
            .await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// By username, or by email (case-insensitive).
pub async fn find_by_username_or_email(
    db: &Db,
    key: &str,
) -> StoreResult<Option<LocalIdentityRow>> {
    let sql = "SELECT sub, username, email, enabled, status, password_hash, created_at, registration_marker FROM local_identity \
               WHERE username = $1 OR lower(email) = lower($1) ORDER BY (username = $1) DESC LIMIT 1";
    Ok(sqlx::query_as(sql).bind(key).fetch_optional(db).await?)
}

pub async fn find_by_sub(db: &Db, sub: UserSub) -> StoreResult<Option<LocalIdentityRow>> {
    let sql = "SELECT sub, username, email, enabled, status, password_hash, created_at, registration_marker FROM local_identity WHERE sub = $1";
    Ok(sqlx::query_as(sql).bind(sub).fetch_optional(db).await?)
}

/// Keyset page ordered by (created_at, sub).
pub async fn list_after(
    db: &Db,
    after: Option<(DateTime<Utc>, UserSub)>,
    limit: i64,
) -> StoreResult<Vec<LocalIdentityRow>> {
    let _ = COLUMNS;
    let rows = match after {
        None => {
            sqlx::query_as(
                "SELECT sub, username, email, enabled, status, password_hash, created_at, registration_marker FROM local_identity \
                 ORDER BY created_at, sub LIMIT $1",
            )
            .bind(limit)
            .fetch_all(db)
            .await?
        }
        Some((at, sub)) => {
            sqlx::query_as(
                "SELECT sub, username, email, enabled, status, password_hash, created_at, registration_marker FROM local_identity \
                 WHERE (created_at, sub) > ($1, $2) ORDER BY created_at, sub LIMIT $3",
            )
            .bind(at)
            .bind(sub)
            .bind(limit)
            .fetch_all(db)
            .await?
        }
    };
    Ok(rows)
}

/// Returns false when no such username exists.
pub async fn set_enabled(db: &Db, username: &str, enabled: bool) -> StoreResult<bool> {
    let r = sqlx::query(
        "UPDATE local_identity SET enabled = $2, updated_at = now() WHERE username = $1",
    )
    .bind(username)
    .bind(enabled)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete(db: &Db, username: &str) -> StoreResult<bool> {
    let r = sqlx::query("DELETE FROM local_identity WHERE username = $1")
        .bind(username)
        .execute(db)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Sets the password hash and status; false when no such username exists.
pub async fn set_password(db: &Db, username: &str, hash: &str, status: &str) -> StoreResult<bool> {
    let r = sqlx::query(
        "UPDATE local_identity SET password_hash = $2, status = $3, updated_at = now() WHERE username = $1",
    )
    .bind(username)
    .bind(hash)
    .bind(status)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A RESEND invitation with a new temporary password (status back to FORCE_CHANGE_PASSWORD).
pub async fn resend_invitation(db: &Db, sub: UserSub, email: &str, hash: &str) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE local_identity SET password_hash = $2, status = 'FORCE_CHANGE_PASSWORD', updated_at = now() WHERE sub = $1",
    )
    .bind(sub)
    .bind(hash)
    .execute(&mut tx)
    .await?;
    sqlx::query("INSERT INTO local_invitation (sub, email, kind) VALUES ($1, $2, 'RESEND')")
        .bind(sub)
        .bind(email)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Number of invitations recorded for `sub` (INVITE + RESEND).
pub async fn invitation_count(db: &Db, sub: UserSub) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM local_invitation WHERE sub = $1")
            .bind(sub)
            .fetch_one(db)
            .await?,
    )
}

pub async fn insert_challenge(
    db: &Db,
    session_hash: &str,
    sub: UserSub,
    expires_at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO local_auth_challenge (session_hash, sub, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(session_hash)
    .bind(sub)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// How many identities the local directory holds.
pub async fn count(db: &Db) -> StoreResult<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM local_identity")
        .fetch_one(db)
        .await?)
}

pub async fn ping(db: &Db) -> StoreResult<()> {
    sqlx::query("SELECT 1 FROM local_identity LIMIT 1")
        .execute(db)
        .await?;
    Ok(())
}
