//! Phase 2's database write (grants + profile + audit + journal `complete`, ONE transaction)
//! and what a failure of it means for the identity the saga created.
//!
//! The failure is judged by the one classification of database errors
//! ([`crate::store::Transience`]): a serialization failure or deadlock was rolled back by the
//! server before commit, so the transaction runs again whole (`retry::retrying`); any other
//! failure that may succeed later — the session ended by a failover or restart, a lost
//! connection, a lock or statement timeout — keeps the identity and leaves the registration
//! `roles_pending` for `hubdeck users repair --retry`. Only a definitive failure rolls back.
//! A lost answer to the COMMIT is settled by the journal's compare-and-set: recording
//! `roles_pending` finds the row `complete` when the commit did happen.

use super::authority::may_grant;
use super::{Registration, RegistrationState, roles_from_ids, show};
use crate::domain::{PermissionRef, UserSub};
use crate::service::actor::authorize;
use crate::service::retry::retrying;
use crate::service::{Actor, ServiceError, ServiceResult, Services};
use crate::store::registrations::{self, Change, TransitionError};
use crate::store::{grants, users as ustore};

/// The operator's message when the identity is kept and its roles are still to be written.
pub(super) fn roles_pending_message(journal: &Registration, sub: UserSub, why: &str) -> String {
    format!(
        "The user {} exists in the directory (sub {sub}) but its roles are not assigned yet \
         ({why}). Nothing was rolled back. Complete it later with `hubdeck users repair --retry \
         {}`.",
        show(&journal.email),
        journal.id
    )
}

impl Services {
    /// Grants + profile + audit + state `complete` in ONE transaction that first re-reads the
    /// operator's authority; run again whole on a serialization failure or deadlock. `None`:
    /// the registration was already complete. The grants it adds are recorded on the journal
    /// (a rollback revokes exactly those).
    pub(super) async fn write_roles(
        &self,
        actor: &Actor,
        journal: &Registration,
        sub: UserSub,
    ) -> ServiceResult<Option<u64>> {
        retrying(|| self.write_roles_once(actor, journal, sub)).await
    }

    async fn write_roles_once(
        &self,
        actor: &Actor,
        journal: &Registration,
        sub: UserSub,
    ) -> ServiceResult<Option<u64>> {
        let mut tx = self.db.begin().await?;
        let authority = authorize(
            &mut tx,
            actor,
            PermissionRef::CanManageUsers,
            "registering a user",
        )
        .await?;
        let roles = roles_from_ids(&journal.requested_roles);
        may_grant(&authority, actor, &roles)?;
        let locked = registrations::lock_row(&mut tx, journal.id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("registration {}", journal.id)))?;
        let from = locked.state();
        if from == RegistrationState::Complete {
            return Ok(None);
        }
        if locked.sub != Some(sub) {
            return Err(ServiceError::Conflict(format!(
                "registration {} records sub {:?}, not {sub}; nothing was written",
                journal.id, locked.sub
            )));
        }
        grants::lock_user(&mut tx, sub).await?;
        let added = grants::grant_missing_ids(&mut tx, sub, &journal.requested_roles).await?;
        registrations::record_granted(&mut tx, journal.id, &added).await?;
        ustore::upsert_profile(&mut tx, sub, &journal.name, &journal.organisation).await?;
        ustore::insert_audit(
            &mut tx,
            &ustore::AuditEntry {
                action: "Registered user",
                user_id: sub,
                who: actor.audit(),
                details: serde_json::json!({
                    "registration_id": journal.id,
                    "email": journal.email,
                    "roles": roles,
                    "granted": added.len(),
                }),
            },
        )
        .await?;
        registrations::transition(
            &mut tx,
            journal.id,
            from,
            RegistrationState::Complete,
            &Change::default(),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(added.len() as u64))
    }

    /// The roles write failed with `e`, which is not definitive (the database may do it later,
    /// or the operator lost the authority to do it): keep the identity and leave the
    /// registration `roles_pending` with the cause. When the journal shows the write committed
    /// after all (its answer was lost), that is the outcome. `Err` when the journal cannot be
    /// written either; the identity is kept all the same.
    pub(super) async fn keep_roles_pending(
        &self,
        journal: &Registration,
        sub: UserSub,
        e: &ServiceError,
    ) -> ServiceResult<(RegistrationState, String)> {
        let id = journal.id;
        let why = format!("writing roles and profile did not finish: {e}");
        let recorded = async {
            let mut conn = self.db.acquire().await?;
            let change = Change {
                last_error: Some(&why),
                ..Default::default()
            };
            let now = registrations::get(&self.db, id)
                .await?
                .map_or(journal.state(), |j| j.state());
            let r = match now {
                RegistrationState::Complete => return Ok(RegistrationState::Complete),
                RegistrationState::RolesPending => {
                    registrations::record(&mut conn, id, now, &change).await
                }
                _ => {
                    registrations::transition(
                        &mut conn,
                        id,
                        now,
                        RegistrationState::RolesPending,
                        &change,
                    )
                    .await
                }
            };
            match r {
                Ok(()) => Ok(RegistrationState::RolesPending),
                Err(TransitionError::Stale {
                    actual: Some(RegistrationState::Complete),
                    ..
                }) => Ok(RegistrationState::Complete),
                Err(other) => Err(ServiceError::from(other)),
            }
        }
        .await;
        match recorded {
            Ok(RegistrationState::Complete) => Ok((
                RegistrationState::Complete,
                format!(
                    "Registered {} (sub {sub}); the answer to the roles write was lost, the \
                     journal shows it committed.",
                    show(&journal.email)
                ),
            )),
            Ok(state) => Ok((state, roles_pending_message(journal, sub, &e.to_string()))),
            Err(rec) => Err(ServiceError::Internal(format!(
                "{why}; recording that failed too ({rec}). The identity {sub} exists and was \
                 kept; registration {id} can be completed with `hubdeck users repair --retry \
                 {id}`"
            ))),
        }
    }
}

/// Whether a failed roles write leaves the identity in place (see the module docs).
pub(super) fn keeps_identity(e: &ServiceError) -> bool {
    match e {
        ServiceError::Store(s) => s.is_transient(),
        // The operator lost the authority mid-way: another operator can complete it.
        ServiceError::OperatorRevoked(_) | ServiceError::Denied(_) => true,
        _ => false,
    }
}
