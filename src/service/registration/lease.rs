//! One operation at a time per registration: a lease row (`store::registrations::try_lease`)
//! held for the whole directory call + database write of the saga, a retry, a rollback, a
//! resolve or a reconcile. A lease, not a session lock, because a transaction pooler between
//! hubdeck and PostgreSQL cannot keep a session lock. The holder renews it while it works, so
//! the expiry can be short: a registration whose holder vanished (killed process, dropped SSH
//! session) goes to the next operator within [`LEASE_TTL`], while a slow directory call never
//! loses it.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{age, show};
use crate::domain::RegistrationId;
use crate::service::{Actor, ServiceError, ServiceResult, Services};
use crate::store::registrations::{self, LeaseHolder, RegistrationLease};

/// How long a lease outlives its holder's last renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(30);
/// How often a working holder renews (three renewals fit in one TTL).
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// A lease held by this process, renewed in the background until it is released or dropped.
pub(super) struct HeldLease {
    lease: RegistrationLease,
    _renewal: AbortOnDrop,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl HeldLease {
    fn hold(lease: RegistrationLease) -> Self {
        let (db, id, token) = lease.renewer();
        let renewal = tokio::spawn(async move {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                match registrations::renew_lease(&db, id, token, LEASE_TTL).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!("registration {id}: the lease was taken over");
                        return;
                    }
                    Err(e) => tracing::warn!("registration {id}: renewing the lease failed: {e}"),
                }
            }
        });
        Self {
            lease,
            _renewal: AbortOnDrop(renewal),
        }
    }

    /// Stops renewing and gives the lease back.
    pub(super) async fn release(self) {
        let HeldLease { lease, _renewal } = self;
        drop(_renewal);
        lease.release().await;
    }
}

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
    /// Takes the lease of `id` for `actor` (named to anyone refused meanwhile), or refuses.
    pub(super) async fn lock_registration(
        &self,
        actor: &Actor,
        id: RegistrationId,
    ) -> ServiceResult<HeldLease> {
        self.try_lock_registration(actor, id)
            .await?
            .map_err(|h| being_repaired(id, &h))
    }

    /// [`Services::lock_registration`] that hands the live holder back instead of refusing.
    pub(super) async fn try_lock_registration(
        &self,
        actor: &Actor,
        id: RegistrationId,
    ) -> ServiceResult<Result<HeldLease, LeaseHolder>> {
        Ok(
            registrations::try_lease(&self.db, id, &actor.describe(), LEASE_TTL)
                .await?
                .map(HeldLease::hold),
        )
    }
}
