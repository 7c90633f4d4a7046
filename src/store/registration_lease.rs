//! One operation at a time per registration: the `registration_lease` row (migration 1441).
//! A lease, not a session-level advisory lock, because a transaction pooler between hubdeck
//! and PostgreSQL hands each transaction to whichever server session is free — a session lock
//! would be taken on one session and "released" on another. Each statement here stands alone.

use crate::store::Db;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;
use crate::domain::RegistrationId;

/// Who holds a registration's lease, for the refusal of a second operator.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct LeaseHolder {
    pub holder: String,
    pub since: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// One registration's operation lease: a `registration_lease` row (not a session lock, so it
/// holds through a transaction pooler) for the whole directory call + database write. Released
/// by [`RegistrationLease::release`]; if dropped instead (panic, cancelled future) the release
/// is sent in the background, and a lease nobody released is taken over once it expires.
pub struct RegistrationLease {
    db: Db,
    id: RegistrationId,
    token: Uuid,
    released: bool,
}

/// Takes the lease of `id` for `ttl` without waiting: a free or expired lease is taken
/// (`INSERT … ON CONFLICT DO UPDATE … WHERE expired`, one statement); `Err(holder)` names the
/// live holder otherwise.
pub async fn try_lease(
    db: &Db,
    id: RegistrationId,
    holder: &str,
    ttl: std::time::Duration,
) -> StoreResult<Result<RegistrationLease, LeaseHolder>> {
    let token = Uuid::new_v4();
    let ttl_secs = ttl.as_secs_f64();
    let taken: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO registration_lease AS l (registration_id, token, holder, since, expires_at) \
         VALUES ($1, $2, $3, clock_timestamp(), clock_timestamp() + make_interval(secs => $4)) \
         ON CONFLICT (registration_id) DO UPDATE SET token = EXCLUDED.token, \
           holder = EXCLUDED.holder, since = EXCLUDED.since, expires_at = EXCLUDED.expires_at \
         WHERE l.expires_at <= clock_timestamp() \
         RETURNING token",
    )
    .bind(id)
    .bind(token)
    .bind(holder)
    .bind(ttl_secs)
    .fetch_optional(db)
    .await?;
    if taken == Some(token) {
        return Ok(Ok(RegistrationLease {
            db: db.clone(),
            id,
            token,
            released: false,
        }));
    }
    let current: Option<LeaseHolder> = sqlx::query_as(
        "SELECT holder, since, expires_at FROM registration_lease WHERE registration_id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    match current {
        Some(h) => Ok(Err(h)),
        // Released between the two statements: try once more.
        None => Box::pin(try_lease(db, id, holder, ttl)).await,
    }
}

impl RegistrationLease {
    pub fn id(&self) -> RegistrationId {
        self.id
    }

    /// Extends this holder's lease to `ttl` from now; `false` when it is no longer theirs
    /// (expired and taken over).
    pub async fn renew(&self, ttl: std::time::Duration) -> StoreResult<bool> {
        renew_lease(&self.db, self.id, self.token, ttl).await
    }

    /// A handle that renews this lease on its own (see [`renew_lease`]).
    pub fn renewer(&self) -> (Db, RegistrationId, Uuid) {
        (self.db.clone(), self.id, self.token)
    }

    /// Gives the lease back (only this holder's: a lease taken over after expiry stays).
    pub async fn release(mut self) {
        self.released = true;
        if let Err(e) = delete_lease(&self.db, self.id, self.token).await {
            tracing::warn!(
                "registration {}: releasing the lease failed (it expires): {e}",
                self.id
            );
        }
    }
}

/// The live (unexpired) lease of `id`, if any: who is working on the registration.
pub async fn live_lease(db: &Db, id: RegistrationId) -> StoreResult<Option<LeaseHolder>> {
    Ok(sqlx::query_as(
        "SELECT holder, since, expires_at FROM registration_lease \
         WHERE registration_id = $1 AND expires_at > clock_timestamp()",
    )
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// Extends the lease `id` held under `token` to `ttl` from now; `false` when it is not held
/// under that token any more.
pub async fn renew_lease(
    db: &Db,
    id: RegistrationId,
    token: Uuid,
    ttl: std::time::Duration,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "UPDATE registration_lease SET expires_at = clock_timestamp() + make_interval(secs => $3) \
         WHERE registration_id = $1 AND token = $2",
    )
    .bind(id)
    .bind(token)
    .bind(ttl.as_secs_f64())
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

async fn delete_lease(db: &Db, id: RegistrationId, token: Uuid) -> StoreResult<()> {
    sqlx::query("DELETE FROM registration_lease WHERE registration_id = $1 AND token = $2")
        .bind(id)
        .bind(token)
        .execute(db)
        .await?;
    Ok(())
}

impl Drop for RegistrationLease {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (db, id, token) = (self.db.clone(), self.id, self.token);
            rt.spawn(async move {
                let _ = delete_lease(&db, id, token).await;
            });
        }
    }
}
