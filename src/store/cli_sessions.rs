//! SQL of `hubdeck login` sessions (`cli_session`, migration 1420): only the SHA-256 of a
//! session token is ever stored or looked up.

use crate::store::Db;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::UserSub;

/// A live session: who signed in and until when.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CliSession {
    pub sub: UserSub,
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

/// Stores a new session lasting `hours` from the database's clock; returns its expiry. The
/// operator's expired sessions are removed in the same statement's transaction.
pub async fn insert(
    db: &Db,
    token_hash: &str,
    sub: UserSub,
    email: &str,
    os_user: &str,
    hours: i32,
) -> StoreResult<DateTime<Utc>> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM cli_session WHERE sub = $1 AND expires_at <= now()")
        .bind(sub)
        .execute(&mut tx)
        .await?;
    let expires: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO cli_session (token_hash, sub, email, os_user, expires_at) \
         VALUES ($1, $2, $3, $4, now() + make_interval(hours => $5)) RETURNING expires_at",
    )
    .bind(token_hash)
    .bind(sub)
    .bind(email)
    .bind(os_user)
    .bind(hours)
    .fetch_one(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(expires)
}

/// The session a token hash names, when it has not expired (by the database's clock).
pub async fn live(db: &Db, token_hash: &str) -> StoreResult<Option<CliSession>> {
    Ok(sqlx::query_as(
        "SELECT sub, email, expires_at FROM cli_session \
         WHERE token_hash = $1 AND expires_at > now()",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await?)
}

/// Ends a session; whether there was one.
pub async fn delete(db: &Db, token_hash: &str) -> StoreResult<bool> {
    let n = sqlx::query("DELETE FROM cli_session WHERE token_hash = $1")
        .bind(token_hash)
        .execute(db)
        .await?
        .rows_affected();
    Ok(n > 0)
}
