//! Fresh authority for the registration use cases: each of register, retry, roll back,
//! resolve and reconcile re-reads the operator's grants and enabled/gone state inside its own
//! transaction (`service::actor::authorize`) before it calls the directory or writes, so an
//! operator demoted or disabled after signing in can no longer create identities or grant
//! roles with the permissions they held at sign-in.

use super::Registration;
use crate::domain::{PermissionRef, RegistrationId, RoleRef};
use crate::service::actor::{Authority, authorize, lacks};
use crate::service::{Actor, ServiceResult, Services};
use crate::store::registrations::{self, NewRegistration};

/// Refuses unless `authority` holds every permission of every role in `roles`: an operator
/// may only grant roles whose permissions they hold themselves.
pub(super) fn may_grant(
    authority: &Authority,
    actor: &Actor,
    roles: &[RoleRef],
) -> ServiceResult<()> {
    for r in roles {
        for p in r.permissions() {
            if !authority.has(*p) {
                return Err(lacks(actor, *p, &format!("granting the {r} role")));
            }
        }
    }
    Ok(())
}

impl Services {
    /// The journal's `pending` row, inserted in the transaction that re-read the operator's
    /// authority to register users and to grant `roles`.
    pub(super) async fn insert_authorized(
        &self,
        actor: &Actor,
        id: RegistrationId,
        new: &NewRegistration<'_>,
        roles: &[RoleRef],
    ) -> ServiceResult<Registration> {
        let mut tx = self.db.begin().await?;
        let authority = authorize(
            &mut tx,
            actor,
            PermissionRef::CanManageUsers,
            "registering a user",
        )
        .await?;
        may_grant(&authority, actor, roles)?;
        let journal = registrations::insert_pending_with_id(&mut tx, id, new).await?;
        tx.commit().await?;
        Ok(journal)
    }

    /// Re-reads the operator's authority to manage users (and to grant `roles`) in a
    /// transaction of its own, before a repair acts.
    pub(super) async fn authorize_repair(
        &self,
        actor: &Actor,
        what: &str,
        roles: &[RoleRef],
    ) -> ServiceResult<()> {
        let mut tx = self.db.begin().await?;
        let authority = authorize(&mut tx, actor, PermissionRef::CanManageUsers, what).await?;
        may_grant(&authority, actor, roles)?;
        tx.commit().await?;
        Ok(())
    }
}
