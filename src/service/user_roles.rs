//! A user's global grants: replaced whole (`--role`), or changed by what the operator added
//! and removed against the set they saw — so a grant somebody else made meanwhile to another
//! role is kept — and, given the version the operator saw, only while the user is unchanged.

use serde::Serialize;
use uuid::Uuid;

use super::actor::{authorize, lacks};
use super::retry::retrying;
use super::undo::UndoGuard;
use super::users::{audit, show};
use super::versions::{self, Version};
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::directory::{DirectoryError, Identity};
use crate::domain::{PermissionRef, RoleRef, UserSub};
use crate::store::users as ustore;
use crate::store::{grants, versions as versions_store};

/// What a roles save writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RolesEdit {
    /// Exactly these roles (a script's full replace).
    Replace(Vec<RoleRef>),
    /// Grant `add` and revoke `remove`; every other grant stays as it is at the write.
    Change {
        add: Vec<RoleRef>,
        remove: Vec<RoleRef>,
    },
}

/// The roles a user holds after a save, and the user's version after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RolesSaved {
    pub roles: Vec<RoleRef>,
    pub version: Version,
}

impl RolesEdit {
    fn normalized(&self) -> Self {
        let norm = |v: &[RoleRef]| {
            let mut v = v.to_vec();
            v.sort();
            v.dedup();
            v
        };
        match self {
            RolesEdit::Replace(r) => RolesEdit::Replace(norm(r)),
            RolesEdit::Change { add, remove } => RolesEdit::Change {
                add: norm(add),
                remove: norm(remove),
            },
        }
    }

    /// The change request of this edit when it grants the global ADMIN role.
    pub fn admin_grant(&self, user: UserSub) -> crate::domain::approval::ChangeRequest {
        let (replace, add, remove) = match self.normalized() {
            RolesEdit::Replace(r) => (Some(r), vec![], vec![]),
            RolesEdit::Change { add, remove } => (None, add, remove),
        };
        crate::domain::approval::ChangeRequest::GlobalAdminGrant {
            user,
            replace,
            add,
            remove,
        }
    }

    /// Roles this edit grants (each needs the actor to hold the role's permissions).
    fn granting(&self) -> &[RoleRef] {
        match self {
            RolesEdit::Replace(r) => r,
            RolesEdit::Change { add, .. } => add,
        }
    }

    /// Whether the edit may take the global ADMIN role away (decided before reading the
    /// grants, since the global ADMIN lock comes first).
    fn may_drop_admin(&self) -> bool {
        match self {
            RolesEdit::Replace(r) => !r.contains(&RoleRef::Admin),
            RolesEdit::Change { remove, .. } => remove.contains(&RoleRef::Admin),
        }
    }

    /// The grants after the edit, applied to what is held now.
    fn apply(&self, before: &[Uuid]) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = match self {
            RolesEdit::Replace(r) => r.iter().map(|r| r.id()).collect(),
            RolesEdit::Change { add, remove } => before
                .iter()
                .copied()
                .filter(|id| !remove.iter().any(|r| r.id() == *id))
                .chain(add.iter().map(|r| r.id()))
                .collect(),
        };
        ids.sort();
        ids.dedup();
        ids
    }
}

impl Services {
    /// Full replace of a user's global grants, in ONE transaction with its audit row. Concurrent
    /// calls for one user are serialised by an advisory lock on the sub: the final grants equal
    /// exactly one of the requests. The actor's authority is re-read inside the transaction, and
    /// the last active holder of the global ADMIN role cannot lose it.
    pub async fn set_roles(
        &self,
        actor: &Actor,
        sub: UserSub,
        roles: &[RoleRef],
    ) -> ServiceResult<Vec<RoleRef>> {
        let edit = RolesEdit::Replace(roles.to_vec());
        Ok(self.change_roles(actor, sub, &edit, None).await?.roles)
    }

    /// Changes a user's global grants as `edit` says, only while the user is at `expected`
    /// (when given); same transaction, locks and refusals as [`Self::set_roles`].
    pub async fn change_roles(
        &self,
        actor: &Actor,
        sub: UserSub,
        edit: &RolesEdit,
        expected: Option<Version>,
    ) -> ServiceResult<RolesSaved> {
        self.change_roles_guarded(actor, sub, edit, expected, None)
            .await
    }

    /// [`Self::set_roles`] for an undo (`undo` re-checks the grants under the user's lock and
    /// links the audit row).
    pub(super) async fn set_roles_guarded(
        &self,
        actor: &Actor,
        sub: UserSub,
        roles: &[RoleRef],
        undo: Option<&UndoGuard>,
    ) -> ServiceResult<Vec<RoleRef>> {
        let edit = RolesEdit::Replace(roles.to_vec());
        Ok(self
            .change_roles_guarded(actor, sub, &edit, None, undo)
            .await?
            .roles)
    }

    async fn change_roles_guarded(
        &self,
        actor: &Actor,
        sub: UserSub,
        edit: &RolesEdit,
        expected: Option<Version>,
        undo: Option<&UndoGuard>,
    ) -> ServiceResult<RolesSaved> {
        actor.require(PermissionRef::CanManageUsers, "changing roles")?;
        self.ensure_writable("set roles")?;
        let edit = edit.normalized();
        for r in edit.granting() {
            for p in r.permissions() {
                actor.require(*p, &format!("granting the {r} role"))?;
            }
        }
        // The user must exist (strongly consistent lookup, outside any transaction).
        let identity = self.directory.find_by_sub(sub).await.map_err(|e| match e {
            DirectoryError::NotFound(_) => ServiceError::NotFound(format!("no user {sub}")),
            e => e.into(),
        })?;
        retrying(|| self.change_roles_tx(actor, &identity, &edit, expected, undo)).await
    }

    async fn change_roles_tx(
        &self,
        actor: &Actor,
        identity: &Identity,
        edit: &RolesEdit,
        expected: Option<Version>,
        undo: Option<&UndoGuard>,
    ) -> ServiceResult<RolesSaved> {
        let sub = identity.sub;
        let mut tx = self.db.begin().await?;
        let now = authorize(
            &mut tx,
            actor,
            PermissionRef::CanManageUsers,
            "changing roles",
        )
        .await?;
        for r in edit.granting() {
            for p in r.permissions() {
                if !now.has(*p) {
                    return Err(lacks(actor, *p, &format!("granting the {r} role")));
                }
            }
        }
        let may_drop_admin = edit.may_drop_admin();
        if may_drop_admin {
            // Lock order: the global ADMIN set, then the user.
            grants::lock_global_admins(&mut tx).await?;
        }
        grants::lock_user(&mut tx, sub).await?;
        let version = versions_store::user_version(&mut tx, sub).await?;
        if expected.is_some_and(|v| v.0 != version) {
            let last = versions_store::last_user_change(&mut tx, sub).await?;
            let what = format!("user {}", show(&identity.email));
            versions::check(expected, version, &what, last)?;
        }
        let before = grants::roles_of_conn(&mut tx, sub).await?;
        let ids = edit.apply(&before);
        if !before.contains(&RoleRef::Admin.id()) && ids.contains(&RoleRef::Admin.id()) {
            super::approvals::gate(&self.settings, &edit.admin_grant(sub))?;
        }
        if may_drop_admin && !ids.contains(&RoleRef::Admin.id()) {
            Self::refuse_last_global_admin(
                &mut tx,
                sub,
                &format!(
                    "Cannot remove the global ADMIN role from {}",
                    show(&identity.email)
                ),
            )
            .await?;
        }
        if let Some(g) = undo {
            g.check(&mut tx, &UndoGuard::user_roles_state(&before))
                .await?;
        }
        let roles: Vec<RoleRef> = ids.iter().filter_map(|id| RoleRef::from_id(*id)).collect();
        let mut sorted_before = before.clone();
        sorted_before.sort();
        if matches!(edit, RolesEdit::Change { .. }) && sorted_before == ids {
            // Nothing to write (the change was already made, by this operator or another).
            tx.commit().await?;
            return Ok(RolesSaved {
                roles,
                version: Version(version),
            });
        }
        grants::replace(&mut tx, sub, &ids).await?;
        let name = |v: &[Uuid]| {
            v.iter()
                .filter_map(|id| RoleRef::from_id(*id))
                .map(|r| r.key())
                .collect::<Vec<_>>()
        };
        let d = serde_json::json!({ "before": name(&before), "after": name(&ids), "email": identity.email });
        let details = match undo {
            Some(g) => g.link(d),
            None => d,
        };
        ustore::insert_audit(&mut tx, &audit(actor, "Updated user roles", sub, details)).await?;
        let version = versions_store::user_version(&mut tx, sub).await?;
        tx.commit().await?;
        Ok(RolesSaved {
            roles,
            version: Version(version),
        })
    }
}
