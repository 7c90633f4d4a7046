//! One operation at a time per registration: a lease row (`store::registrations::try_lease`)
//! held for the whole directory call + database write of the saga, a retry, a rollback, a
//! resolve or a reconcile. A lease, not a session lock, because a transaction pooler between
//! hubdeck and PostgreSQL cannot keep a session lock; the expiry hands a registration whose
//! holder vanished (killed process, dropped SSH session) to the next operator.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{age, show};
use crate::domain::RegistrationId;
use crate::service::{Actor, ServiceError, ServiceResult, Services};
use crate::store::registrations::{self, LeaseHolder, RegistrationLease};

/// The shortest lease: long enough for every step of one operation (a few directory calls,
/// each bounded by the operation timeout, and short transactions).
const MIN_LEASE: Duration = Duration::from_secs(300);

/// The refusal a second operator gets while another operation holds the registration's lease.
pub fn being_repaired(id: RegistrationId, holder: &LeaseHolder) -> ServiceError {
    ServiceError::Conflict(format!(
        "registration {id} is being repaired by {} since {} ({} ago; the lease expires at {}); \
         nothing was changed — look again (`hubdeck users repair`) when that has finished",
        show(&holder.holder),
        stamp(holder.since),
        age(holder.since),
        stamp(holder.expires_at),
    ))
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

impl Services {
    /// How long a lease lives: it must outlast the slowest operation (ten directory operation
    /// timeouts), so it is never taken over from a holder that is still working.
    fn lease_ttl(&self) -> Duration {
        MIN_LEASE.max(Duration::from_millis(
            self.settings.directory.operation_timeout_ms.saturating_mul(10),
        ))
    }

    /// Takes the lease of `id` for `actor` (named to anyone refused meanwhile), or refuses.
    pub(super) async fn lock_registration(
        &self,
        actor: &Actor,
        id: RegistrationId,
    ) -> ServiceResult<RegistrationLease> {
        self.try_lock_registration(actor, id)
            .await?
            .map_err(|h| being_repaired(id, &h))
    }

    /// [`Services::lock_registration`] that hands the live holder back instead of refusing.
    pub(super) async fn try_lock_registration(
        &self,
        actor: &Actor,
        id: RegistrationId,
    ) -> ServiceResult<Result<RegistrationLease, LeaseHolder>> {
        Ok(registrations::try_lease(&self.db, id, &actor.describe(), self.lease_ttl()).await?)
    }
}
