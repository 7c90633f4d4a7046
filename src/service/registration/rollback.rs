//! Rolling a registration back: remove what THIS registration made, under the locks and
//! refusals of a user delete, or refuse with the reason and change nothing.
//!
//! ONE transaction: re-read the operator's authority; lock the global ADMIN set, the user, the
//! user's mandates and their admin memberships (the order of every account change); refuse
//! when the identity is the last enabled admin of a live mandate or the last active global
//! ADMIN (whoever granted that: deleting the identity would leave nobody); delete the identity
//! the saga created (proof: the recorded sub) while those locks hold, so the checked state
//! cannot change under the delete; then revoke only the grants the registration's roles write
//! recorded (a grant another operator made since stays theirs, audited as kept), remove the
//! identity's mandate memberships with their audit and notification rows, its profile, mark
//! the cached identity gone, audit, `rolled_back`. If the directory refuses the delete nothing
//! is written and the caller records `needs_cleanup`.

use super::{Registration, RegistrationState};
use crate::directory::DirectoryError;
use crate::domain::{PermissionRef, UserSub};
use crate::service::actor::authorize;
use crate::service::members::AccessChange;
use crate::service::retry::retrying;
use crate::service::{Actor, ServiceError, Services};
use crate::store::audit::{insert_mandate_audit, insert_notification};
use crate::store::registrations::{self, Change};
use crate::store::{
    StoreError, directory_cache, grants, members as members_store, users as ustore,
};

/// Why a rollback did not happen.
pub(super) enum RollbackFailure {
    /// Refused before anything changed (last admin, authority): the reason for the operator.
    Refused(ServiceError),
    /// The directory did not delete the identity; nothing was written.
    Directory(DirectoryError),
    /// The database failed; nothing was written (the identity may already be deleted — a
    /// second rollback finds it gone and finishes).
    Database(ServiceError),
}

impl Services {
    /// See the module docs. `from` is the state the journal must still be in.
    pub(super) async fn roll_back_identity(
        &self,
        actor: &Actor,
        journal: &Registration,
        from: RegistrationState,
        sub: UserSub,
        cause: &str,
    ) -> Result<(), RollbackFailure> {
        let who = actor.audit();
        let run = retrying(|| async {
            let mut tx = self.db.begin().await?;
            authorize(
                &mut tx,
                actor,
                PermissionRef::CanManageUsers,
                "rolling back a registration",
            )
            .await?;
            grants::lock_global_admins(&mut tx).await?;
            grants::lock_user(&mut tx, sub).await?;
            let mandates = Self::lock_for_account_change(
                &mut tx,
                &journal.email,
                sub,
                "roll back the registration of",
            )
            .await?;
            self.delete_own_identity(&journal.email, sub).await?;
            let memberships = members_store::memberships_of_user(&mut tx, sub).await?;
            for ms in &memberships {
                let Some(m) = mandates.iter().find(|m| m.id == ms.mandate_id) else {
                    return Err(ServiceError::Store(StoreError::Conflict));
                };
                members_store::delete(&mut tx, ms.id).await?;
                let change = AccessChange::Removed;
                insert_mandate_audit(
                    &mut tx,
                    &who,
                    m.id,
                    &m.name,
                    change.action(),
                    Some(sub),
                    serde_json::json!({
                        "roles": ms.role_ids,
                        "reason": "registration rolled back",
                        "registration_id": journal.id,
                    }),
                )
                .await?;
                insert_notification(&mut tx, sub, Some(m.id), &change.notification(m)).await?;
            }
            let own = registrations::granted_roles(&mut tx, journal.id).await?;
            let revoked = grants::revoke_only(&mut tx, sub, &own).await?;
            let kept = grants::roles_of_conn(&mut tx, sub).await?;
            let profiles = ustore::delete_profile(&mut tx, sub).await?;
            directory_cache::mark_gone(&mut tx, sub).await?;
            ustore::insert_audit(
                &mut tx,
                &ustore::AuditEntry {
                    action: "Rolled back registration",
                    user_id: sub,
                    who: actor.audit(),
                    details: serde_json::json!({
                        "registration_id": journal.id,
                        "email": journal.email,
                        "cause": cause,
                        "grants_removed": revoked,
                        "grants_kept_made_by_others": kept,
                        "memberships_removed": memberships.iter().map(|m| m.mandate_id).collect::<Vec<_>>(),
                        "profiles_removed": profiles,
                    }),
                },
            )
            .await?;
            registrations::transition(
                &mut tx,
                journal.id,
                from,
                RegistrationState::RolledBack,
                &Change {
                    last_error: Some(cause),
                    ..Default::default()
                },
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await;
        match run {
            Ok(()) => Ok(()),
            Err(ServiceError::Directory(e)) => Err(RollbackFailure::Directory(e)),
            Err(
                e @ (ServiceError::Conflict(_)
                | ServiceError::Denied(_)
                | ServiceError::OperatorRevoked(_)),
            ) => Err(RollbackFailure::Refused(e)),
            Err(e) => Err(RollbackFailure::Database(e)),
        }
    }
}
