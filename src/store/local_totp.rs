//! SQL of the local directory's software-token MFA (`directory::local`): typed challenges and
//! the per-identity TOTP secret (migration 1200).

use crate::store::{Conn, Db};
use chrono::{DateTime, Utc};

use zeroize::Zeroizing;

use super::StoreResult;
use crate::domain::UserSub;
use crate::domain::totp::TotpSecret;

/// A challenge session of one kind (`NEW_PASSWORD_REQUIRED`, `SOFTWARE_TOKEN_MFA`, `MFA_SETUP`).
pub async fn insert_challenge(
    db: &Db,
    session_hash: &str,
    sub: UserSub,
    kind: &str,
    expires_at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO local_auth_challenge (session_hash, sub, kind, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(session_hash)
    .bind(sub)
    .bind(kind)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// A live challenge of `kind`, locked for the caller's transaction: (sub, attempts so far).
pub async fn lock_challenge(
    conn: &mut Conn,
    session_hash: &str,
    kind: &str,
) -> StoreResult<Option<(UserSub, i32)>> {
    Ok(sqlx::query_as(
        "SELECT sub, attempts FROM local_auth_challenge \
         WHERE session_hash = $1 AND kind = $2 AND expires_at > now() FOR UPDATE",
    )
    .bind(session_hash)
    .bind(kind)
    .fetch_optional(conn)
    .await?)
}

/// Consumes a challenge of `kind` (one use): the sub it was issued to, if live.
pub async fn take_challenge(
    conn: &mut Conn,
    session_hash: &str,
    kind: &str,
) -> StoreResult<Option<UserSub>> {
    let sub: Option<UserSub> = sqlx::query_scalar(
        "DELETE FROM local_auth_challenge WHERE session_hash = $1 AND kind = $2 \
         RETURNING CASE WHEN expires_at > now() THEN sub END",
    )
    .bind(session_hash)
    .bind(kind)
    .fetch_optional(conn)
    .await?
    .flatten();
    Ok(sub)
}

/// Counts a wrong code; returns the new attempt count.
pub async fn count_attempt(conn: &mut Conn, session_hash: &str) -> StoreResult<i32> {
    Ok(sqlx::query_scalar(
        "UPDATE local_auth_challenge SET attempts = attempts + 1 WHERE session_hash = $1 RETURNING attempts",
    )
    .bind(session_hash)
    .fetch_one(conn)
    .await?)
}

/// An identity's software token.
pub struct TotpRow {
    pub secret: TotpSecret,
    pub verified: bool,
    pub last_step: Option<i64>,
}

/// The identity's token, locked for the caller's transaction.
pub async fn lock_totp(conn: &mut Conn, sub: UserSub) -> StoreResult<Option<TotpRow>> {
    let row: Option<(Vec<u8>, bool, Option<i64>)> = sqlx::query_as(
        "SELECT secret, verified_at IS NOT NULL, last_step FROM local_totp WHERE sub = $1 FOR UPDATE",
    )
    .bind(sub)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(secret, verified, last_step)| TotpRow {
        secret: TotpSecret::from_bytes(Zeroizing::new(secret).to_vec()),
        verified,
        last_step,
    }))
}

/// Whether the identity has a verified token (decides SOFTWARE_TOKEN_MFA vs MFA_SETUP).
pub async fn has_verified(db: &Db, sub: UserSub) -> StoreResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM local_totp WHERE sub = $1 AND verified_at IS NOT NULL)",
    )
    .bind(sub)
    .fetch_one(db)
    .await?)
}

/// Starts (or restarts) an enrolment with `secret`. False when the identity already has a
/// verified token (which an enrolment never replaces).
pub async fn begin_enrolment(db: &Db, sub: UserSub, secret: &TotpSecret) -> StoreResult<bool> {
    let r = sqlx::query(
        "INSERT INTO local_totp (sub, secret) VALUES ($1, $2) \
         ON CONFLICT (sub) DO UPDATE SET secret = EXCLUDED.secret, last_step = NULL, updated_at = now() \
         WHERE local_totp.verified_at IS NULL",
    )
    .bind(sub)
    .bind(secret.expose())
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Records an accepted code: the token is verified (enrolment done) and `step` is used.
pub async fn accept_step(conn: &mut Conn, sub: UserSub, step: i64) -> StoreResult<()> {
    sqlx::query(
        "UPDATE local_totp SET verified_at = coalesce(verified_at, now()), last_step = $2, \
         updated_at = now() WHERE sub = $1",
    )
    .bind(sub)
    .bind(step)
    .execute(conn)
    .await?;
    Ok(())
}

/// The demo and tests: enrols a verified token for `sub` directly (replacing any).
pub async fn set_verified(db: &Db, sub: UserSub, secret: &TotpSecret) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO local_totp (sub, secret, verified_at) VALUES ($1, $2, now()) \
         ON CONFLICT (sub) DO UPDATE SET secret = EXCLUDED.secret, verified_at = now(), \
         last_step = NULL, updated_at = now()",
    )
    .bind(sub)
    .bind(secret.expose())
    .execute(db)
    .await?;
    Ok(())
}
