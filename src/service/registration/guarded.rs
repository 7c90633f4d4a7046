//! The registration repairs (retry, roll back, resolve), each conditional on the version of
//! the journal row its operator saw: a repair confirmed against a row that another operator
//! (or the saga itself) has moved on since is refused, naming the change, instead of acting
//! on a state nobody looked at. The check runs under the registration's lease, which every
//! repair takes, so no other repair can move the row between the check and the work.

use super::{RegisterOutcome, Registration};
use crate::domain::error::bounded_text;
use crate::domain::{DisplayText, PermissionRef, RegistrationId};
use crate::service::versions::Version;
use crate::service::{Actor, ServiceError, ServiceResult, Services};

impl Services {
    /// Retries role assignment (idempotent: a second run grants nothing twice). A `pending` row
    /// is first reconciled (consistent read + proof). Holds the registration's lock.
    pub async fn retry_registration(
        &self,
        actor: &Actor,
        id: RegistrationId,
    ) -> ServiceResult<RegisterOutcome> {
        self.retry_registration_expecting(actor, id, None).await
    }

    /// [`Services::retry_registration`], refused when the row is no longer at `expected`.
    pub async fn retry_registration_expecting(
        &self,
        actor: &Actor,
        id: RegistrationId,
        expected: Option<Version>,
    ) -> ServiceResult<RegisterOutcome> {
        actor.require(PermissionRef::CanManageUsers, "retrying a registration")?;
        self.ensure_writable("retry registration")?;
        let lock = self.lock_registration(actor, id).await?;
        let out = match self.check_registration_version(id, expected).await {
            Ok(()) => self.retry_locked(actor, id).await,
            Err(e) => Err(e),
        };
        lock.release().await;
        out
    }

    /// Rolls an open registration back: deletes the identity it provably created (never one
    /// it did not create), removes its rows, audits, `rolled_back`. Holds the lock.
    pub async fn rollback_registration(
        &self,
        actor: &Actor,
        id: RegistrationId,
    ) -> ServiceResult<Registration> {
        self.rollback_registration_expecting(actor, id, None).await
    }

    /// [`Services::rollback_registration`], refused when the row is no longer at `expected`.
    pub async fn rollback_registration_expecting(
        &self,
        actor: &Actor,
        id: RegistrationId,
        expected: Option<Version>,
    ) -> ServiceResult<Registration> {
        actor.require(PermissionRef::CanManageUsers, "rolling back a registration")?;
        self.ensure_writable("roll back registration")?;
        self.authorize_repair(actor, "rolling back a registration", &[])
            .await?;
        let lock = self.lock_registration(actor, id).await?;
        let out = match self.check_registration_version(id, expected).await {
            Ok(()) => self.rollback_locked(actor, id).await,
            Err(e) => Err(e),
        };
        lock.release().await;
        out
    }

    /// Marks a registration resolved with an operator's note (audited when it has a sub).
    /// Holds the lock; only states whose table allows `resolved` can be resolved.
    pub async fn resolve_registration(
        &self,
        actor: &Actor,
        id: RegistrationId,
        note: &str,
    ) -> ServiceResult<Registration> {
        self.resolve_registration_expecting(actor, id, note, None)
            .await
    }

    /// [`Services::resolve_registration`], refused when the row is no longer at `expected`.
    pub async fn resolve_registration_expecting(
        &self,
        actor: &Actor,
        id: RegistrationId,
        note: &str,
        expected: Option<Version>,
    ) -> ServiceResult<Registration> {
        actor.require(PermissionRef::CanManageUsers, "resolving a registration")?;
        self.ensure_writable("resolve registration")?;
        let note = bounded_text("note", note, 1000)?;
        let lock = self.lock_registration(actor, id).await?;
        let out = match self.check_registration_version(id, expected).await {
            Ok(()) => self.resolve_locked(actor, id, &note).await,
            Err(e) => Err(e),
        };
        lock.release().await;
        out
    }

    /// Refuses (caller holds the lease) when the journal row moved on from `expected`,
    /// saying what it is now and how long ago it changed.
    async fn check_registration_version(
        &self,
        id: RegistrationId,
        expected: Option<Version>,
    ) -> ServiceResult<()> {
        let Some(saw) = expected else {
            return Ok(());
        };
        let now = self.journal(id).await?;
        if now.version == saw.0 {
            return Ok(());
        }
        Err(ServiceError::Conflict(conflict_message(&now, saw)))
    }
}

/// "registration … for bob@x changed 4 s ago: it is now rolled_back (last error: …) — nothing
/// was written (you saw version 2, it is at 3); review it and try again".
fn conflict_message(now: &Registration, saw: Version) -> String {
    let secs = (chrono::Utc::now() - now.updated_at).num_seconds().max(0);
    let ago = if secs < 120 {
        format!("{secs} s ago")
    } else {
        format!("at {}", now.updated_at.format("%Y-%m-%d %H:%M UTC"))
    };
    let why = now
        .last_error
        .as_deref()
        .map(|e| format!(" (last error: {})", DisplayText::with_max(e, 120)))
        .unwrap_or_default();
    format!(
        "registration {} for {} changed {ago}: it is now {}{why} — nothing was written (you \
         saw version {saw}, it is at {}); review it and try again",
        now.id,
        DisplayText::new(&now.email),
        now.state,
        now.version
    )
}
