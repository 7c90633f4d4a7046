//! Users (SPEC §5.3): the users list and detail, set roles, enable/disable, edit profile,
//! resend invite, delete. Every change writes `users_audit` in the transaction of the change.

use crate::service::access::Area;
use serde::Serialize;
use uuid::Uuid;

use sqlx::PgConnection;

use super::actor::{authorize, lacks};
use super::members::AccessChange;
use super::retry::retrying;
use super::undo::{GrantState, UndoGuard};
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::directory::{DirectoryError, Identity, UserKey};
use crate::domain::error::bounded_text;
use crate::domain::{DisplayText, Email, Page, PageQuery, PermissionRef, RoleRef, UserSub};
use crate::store::audit::{insert_mandate_audit, insert_notification};
use crate::store::mandates::Mandate;
use crate::store::members as members_store;
use crate::store::registrations::{self, Registration};
use crate::store::users::{self as ustore, AuditEntry, AuditRow, MandateMembership, UserRow};
use crate::store::{StoreError, directory_cache, grants};

pub use crate::store::users::USERS_SPEC;

/// Everything the detail pane shows about one user.
#[derive(Clone, Debug, Serialize)]
pub struct UserDetail {
    pub sub: UserSub,
    /// The directory's view (None when the directory no longer has the identity).
    pub identity: Option<Identity>,
    pub profile: Option<ustore::Profile>,
    pub roles: Vec<String>,
    pub mandates: Vec<MandateMembership>,
    pub registrations: Vec<Registration>,
    pub audit: Vec<AuditRow>,
}

/// What a delete did (idempotent; every step says what state remains).
#[derive(Clone, Debug, Serialize)]
pub struct DeleteOutcome {
    pub sub: UserSub,
    pub grants_removed: u64,
    pub profile_removed: bool,
    /// true when the directory identity was deleted now; false when it was already gone.
    pub identity_deleted: bool,
    pub message: String,
}

fn show(s: &str) -> String {
    DisplayText::new(s).into_string()
}

fn audit<'a>(
    actor: &'a Actor,
    action: &'a str,
    sub: UserSub,
    details: serde_json::Value,
) -> AuditEntry<'a> {
    AuditEntry {
        action,
        user_id: sub,
        who: actor.audit(),
        details,
    }
}

/// The role ids of the query's `role` filter (role keys: admin, researcher, viewer).
fn role_filter(q: &PageQuery) -> ServiceResult<Vec<Uuid>> {
    let mut ids = Vec::new();
    for f in q.filters.iter().filter(|f| f.column == "role") {
        for v in &f.values {
            ids.push(RoleRef::parse(v)?.id());
        }
    }
    Ok(ids)
}

impl Services {
    /// Resolves `--user SUB_OR_EMAIL` through the directory (strongly consistent).
    pub async fn resolve_user(&self, actor: &Actor, user: &str) -> ServiceResult<Identity> {
        actor.require(PermissionRef::CanManageUsers, "looking up a user")?;
        let found = if let Ok(sub) = user.parse::<UserSub>() {
            self.directory.find_by_sub(sub).await
        } else {
            let email = Email::parse(user)?;
            self.directory.get_user(&UserKey::Email(email)).await
        };
        found.map_err(|e| match e {
            DirectoryError::NotFound(_) => {
                ServiceError::NotFound(format!("no user {} in the directory", show(user)))
            }
            e => e.into(),
        })
    }

    /// One page of users: ONE statement over the directory cache, profiles and grants.
    /// A `role` filter takes role keys (admin, researcher, viewer).
    pub async fn list_users(&self, actor: &Actor, q: &PageQuery) -> ServiceResult<Page<UserRow>> {
        Area::Users.require_read(actor, "listing users")?;
        let role_ids = role_filter(q)?;
        Ok(ustore::list_page(&self.db, q, &role_ids).await?)
    }

    /// Values offered by the filter menu of `column` (roles are the fixed role keys).
    pub async fn user_filter_values(
        &self,
        actor: &Actor,
        column: &str,
        q: &PageQuery,
    ) -> ServiceResult<Vec<String>> {
        Area::Users.require_read(actor, "listing users")?;
        if column == "role" {
            return Ok(RoleRef::ALL.iter().map(|r| r.key().to_string()).collect());
        }
        let role_ids = role_filter(q)?;
        Ok(ustore::filter_values(&self.db, column, q, &role_ids, 100).await?)
    }

    pub async fn user_detail(&self, actor: &Actor, sub: UserSub) -> ServiceResult<UserDetail> {
        Area::Users.require_read(actor, "reading a user")?;
        let identity = match self.directory.find_by_sub(sub).await {
            Ok(i) => Some(i),
            Err(DirectoryError::NotFound(_)) => None,
            Err(e) => {
                tracing::warn!("user detail: directory read failed: {e}");
                None
            }
        };
        let mut conn = self.db.acquire().await?;
        let profile = ustore::profile(&mut conn, sub).await?;
        drop(conn);
        let email = match (&identity, ustore::cached(&self.db, sub).await?) {
            (Some(i), _) => i.email.clone(),
            (None, Some(c)) => c.email,
            (None, None) => String::new(),
        };
        if identity.is_none() && profile.is_none() && email.is_empty() {
            let roles = ustore::role_names(&self.db, sub).await?;
            if roles.is_empty() {
                return Err(ServiceError::NotFound(format!("no user {sub}")));
            }
        }
        Ok(UserDetail {
            sub,
            identity,
            profile,
            roles: ustore::role_names(&self.db, sub).await?,
            mandates: ustore::mandates_of(&self.db, sub).await?,
            registrations: registrations::for_user(&self.db, sub, &email).await?,
            audit: ustore::audit_history(&self.db, sub, 100).await?,
        })
    }

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
        self.set_roles_guarded(actor, sub, roles, None).await
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
        actor.require(PermissionRef::CanManageUsers, "changing roles")?;
        self.ensure_writable("set roles")?;
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        for r in &roles {
            for p in r.permissions() {
                actor.require(*p, &format!("granting the {r} role"))?;
            }
        }
        // The user must exist (strongly consistent lookup, outside any transaction).
        let identity = self.directory.find_by_sub(sub).await.map_err(|e| match e {
            DirectoryError::NotFound(_) => ServiceError::NotFound(format!("no user {sub}")),
            e => e.into(),
        })?;
        let ids: Vec<Uuid> = roles.iter().map(|r| r.id()).collect();
        retrying(|| self.replace_roles_tx(actor, &identity, &roles, &ids, undo)).await?;
        Ok(roles)
    }

    async fn replace_roles_tx(
        &self,
        actor: &Actor,
        identity: &Identity,
        roles: &[RoleRef],
        ids: &[Uuid],
        undo: Option<&UndoGuard>,
    ) -> ServiceResult<()> {
        let sub = identity.sub;
        let mut tx = self.db.begin().await?;
        let now = authorize(
            &mut tx,
            actor,
            PermissionRef::CanManageUsers,
            "changing roles",
        )
        .await?;
        for r in roles {
            for p in r.permissions() {
                if !now.has(*p) {
                    return Err(lacks(actor, *p, &format!("granting the {r} role")));
                }
            }
        }
        let drops_admin = !roles.contains(&RoleRef::Admin);
        if drops_admin {
            // Lock order: the global ADMIN set, then the user.
            grants::lock_global_admins(&mut tx).await?;
        }
        grants::lock_user(&mut tx, sub).await?;
        if drops_admin {
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
        let before = grants::roles_of_conn(&mut tx, sub).await?;
        if let Some(g) = undo {
            g.check(&mut tx, &UndoGuard::user_roles_state(&before))
                .await?;
        }
        grants::replace(&mut tx, sub, ids).await?;
        let name = |v: &[Uuid]| {
            v.iter()
                .filter_map(|id| RoleRef::from_id(*id))
                .map(|r| r.key())
                .collect::<Vec<_>>()
        };
        ustore::insert_audit(
            &mut tx,
            &audit(
                actor,
                "Updated user roles",
                sub,
                {
                    let d = serde_json::json!({ "before": name(&before), "after": name(ids), "email": identity.email });
                    match undo {
                        Some(g) => g.link(d),
                        None => d,
                    }
                },
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Refuses (inside the caller's transaction, after [`grants::lock_global_admins`]) a change
    /// that would take the global ADMIN role from its last active holder `sub`.
    async fn refuse_last_global_admin(
        conn: &mut PgConnection,
        sub: UserSub,
        refusal: &str,
    ) -> ServiceResult<()> {
        let admin = RoleRef::Admin.id();
        if !grants::holds(conn, sub, admin).await? {
            return Ok(());
        }
        let standing = grants::standing(conn, sub).await?;
        let active = standing.enabled != Some(false) && standing.gone != Some(true);
        if active && grants::other_active_holders(conn, admin, sub).await? == 0 {
            return Err(ServiceError::Conflict(format!(
                "{refusal}: they are the last active holder of the global ADMIN role. Grant ADMIN \
                 to another user first."
            )));
        }
        Ok(())
    }

    /// The locks and refusals of a user disable or delete, inside the caller's transaction
    /// (after [`grants::lock_global_admins`]): locks every mandate the user belongs to in id
    /// order, then each one's admin memberships in id order — the order of every membership
    /// change — and refuses when the user is the last enabled admin of any live mandate (the
    /// refusal names them all) or the last active global ADMIN. Returns the locked mandates.
    pub(crate) async fn lock_for_account_change(
        conn: &mut PgConnection,
        identity_email: &str,
        sub: UserSub,
        verb: &str,
    ) -> ServiceResult<Vec<Mandate>> {
        let mandates = members_store::lock_mandates_of_user(conn, sub).await?;
        let memberships = members_store::memberships_of_user(conn, sub).await?;
        // A membership added after the mandate locks were taken: start again with it locked.
        if memberships
            .iter()
            .any(|ms| !mandates.iter().any(|m| m.id == ms.mandate_id))
        {
            return Err(ServiceError::Store(StoreError::Conflict));
        }
        let mut last_of = Vec::new();
        for m in &mandates {
            let admins = members_store::lock_admins(conn, m.id).await?;
            let Some(ms) = memberships.iter().find(|ms| ms.mandate_id == m.id) else {
                continue;
            };
            if m.deleted_at.is_none() && admins.len() == 1 && admins[0] == ms.id {
                last_of.push(format!("«{}»", DisplayText::new(&m.name)));
            }
        }
        last_of.sort();
        let refusal = format!("Cannot {verb} {}", show(identity_email));
        if !last_of.is_empty() {
            return Err(ServiceError::Conflict(format!(
                "{refusal}: they are the last admin of {}. Assign another admin first.",
                last_of.join(", ")
            )));
        }
        Self::refuse_last_global_admin(conn, sub, &refusal).await?;
        Ok(mandates)
    }

    /// Enables or disables sign-in. In ONE transaction: re-read the actor's authority; for a
    /// disable, lock and refuse when the user is the last enabled admin of a mandate or the last
    /// active global ADMIN; change the directory; update the cache and audit. The transaction
    /// stays open across the directory call so the checked state cannot change under it; if the
    /// directory refuses, nothing is written. If the audit fails after the directory changed,
    /// the error says so.
    pub async fn set_enabled(
        &self,
        actor: &Actor,
        sub: UserSub,
        enabled: bool,
    ) -> ServiceResult<()> {
        self.set_enabled_guarded(actor, sub, enabled, None).await
    }

    /// [`Self::set_enabled`] for an undo (`undo` re-checks the state under the user's lock,
    /// before the directory is asked, and links the audit row).
    pub(super) async fn set_enabled_guarded(
        &self,
        actor: &Actor,
        sub: UserSub,
        enabled: bool,
        undo: Option<&UndoGuard>,
    ) -> ServiceResult<()> {
        let what = if enabled {
            "enabling a user"
        } else {
            "disabling a user"
        };
        actor.require(PermissionRef::CanManageUsers, what)?;
        self.ensure_writable(if enabled {
            "enable user"
        } else {
            "disable user"
        })?;
        let identity = self.directory.find_by_sub(sub).await.map_err(|e| match e {
            DirectoryError::NotFound(_) => ServiceError::NotFound(format!("no user {sub}")),
            e => e.into(),
        })?;
        let action = if enabled {
            "Enabled user"
        } else {
            "Disabled user"
        };
        retrying(|| async {
            let mut tx = self.db.begin().await?;
            authorize(&mut tx, actor, PermissionRef::CanManageUsers, what).await?;
            if !enabled {
                grants::lock_global_admins(&mut tx).await?;
                Self::lock_for_account_change(&mut tx, &identity.email, sub, "disable").await?;
            }
            if let Some(g) = undo {
                grants::lock_user(&mut tx, sub).await?;
                g.check(&mut tx, &GrantState::Enabled(identity.enabled))
                    .await?;
            }
            self.directory
                .set_enabled(&identity.username, enabled)
                .await?;
            let written: ServiceResult<()> = async {
                let mut cached = identity.clone();
                cached.enabled = enabled;
                directory_cache::upsert(&mut *tx, &cached).await?;
                ustore::insert_audit(
                    &mut tx,
                    &audit(actor, action, sub, {
                        let d = serde_json::json!({ "email": identity.email });
                        match undo {
                            Some(g) => g.link(d),
                            None => d,
                        }
                    }),
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }
            .await;
            written.map_err(|e| {
                ServiceError::Internal(format!(
                    "{action} in the directory succeeded, but the audit write failed ({e}); the \
                     user is {} — please verify",
                    if enabled { "enabled" } else { "disabled" }
                ))
            })
        })
        .await
    }

    /// Edits the profile (1–255 characters each, no control characters), audited.
    pub async fn edit_profile(
        &self,
        actor: &Actor,
        sub: UserSub,
        name: &str,
        organisation: &str,
    ) -> ServiceResult<()> {
        actor.require(PermissionRef::CanManageUsers, "editing a profile")?;
        self.ensure_writable("edit profile")?;
        let name = bounded_text("name", name, super::registration::PROFILE_MAX)?;
        let organisation = bounded_text(
            "organisation",
            organisation,
            super::registration::PROFILE_MAX,
        )?;
        let mut tx = self.db.begin().await?;
        authorize(
            &mut tx,
            actor,
            PermissionRef::CanManageUsers,
            "editing a profile",
        )
        .await?;
        grants::lock_user(&mut tx, sub).await?;
        let before = ustore::profile(&mut tx, sub).await?;
        if before.is_none() && ustore::cached(&self.db, sub).await?.is_none() {
            return Err(ServiceError::NotFound(format!("no user {sub}")));
        }
        ustore::upsert_profile(&mut tx, sub, &name, &organisation).await?;
        ustore::insert_audit(
            &mut tx,
            &audit(
                actor,
                "Updated user profile",
                sub,
                serde_json::json!({
                    "before": before.map(|p| serde_json::json!({"name": p.name, "organisation": p.organisation})),
                    "after": {"name": name, "organisation": organisation},
                }),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sends the invitation again (directory), audited; the actor's authority is re-read in the
    /// audit transaction before the directory is asked.
    pub async fn resend_invite(&self, actor: &Actor, sub: UserSub) -> ServiceResult<()> {
        actor.require(PermissionRef::CanManageUsers, "resending an invitation")?;
        self.ensure_writable("resend invite")?;
        let identity = self.directory.find_by_sub(sub).await.map_err(|e| match e {
            DirectoryError::NotFound(_) => ServiceError::NotFound(format!("no user {sub}")),
            e => e.into(),
        })?;
        let mut tx = self.db.begin().await?;
        authorize(
            &mut tx,
            actor,
            PermissionRef::CanManageUsers,
            "resending an invitation",
        )
        .await?;
        self.directory.resend_invite(&identity.username).await?;
        ustore::insert_audit(
            &mut tx,
            &audit(
                actor,
                "Resent invitation",
                sub,
                serde_json::json!({ "email": identity.email }),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a user. First ONE transaction: re-read the actor's authority; lock the global
    /// ADMIN set, the user, the user's mandates (id order) and their admin memberships; refuse
    /// when the user is the last enabled admin of a live mandate or the last active global
    /// ADMIN; remove grants, memberships (one `mandate_audit` row and one notification per
    /// mandate), profile; mark the cached identity gone; audit. Then the directory identity.
    /// Idempotent. A partial failure says exactly what state remains.
    pub async fn delete_user(&self, actor: &Actor, sub: UserSub) -> ServiceResult<DeleteOutcome> {
        actor.require(PermissionRef::CanManageUsers, "deleting a user")?;
        self.ensure_writable("delete user")?;
        let identity = match self.directory.find_by_sub(sub).await {
            Ok(i) => Some(i),
            Err(DirectoryError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let shown_email = match &identity {
            Some(i) => i.email.clone(),
            None => ustore::cached(&self.db, sub)
                .await?
                .map(|c| c.email)
                .unwrap_or_else(|| sub.to_string()),
        };
        let who = actor.audit();
        let (removed, memberships_removed, profile_removed) = retrying(|| async {
            let mut tx = self.db.begin().await?;
            authorize(&mut tx, actor, PermissionRef::CanManageUsers, "deleting a user").await?;
            grants::lock_global_admins(&mut tx).await?;
            grants::lock_user(&mut tx, sub).await?;
            let mandates =
                Self::lock_for_account_change(&mut tx, &shown_email, sub, "delete").await?;
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
                    serde_json::json!({"roles": ms.role_ids, "reason": "user deleted"}),
                )
                .await?;
                insert_notification(&mut tx, sub, Some(m.id), &change.notification(m)).await?;
            }
            let removed = grants::revoke_all(&mut tx, sub).await?;
            let profile = ustore::profile(&mut tx, sub).await?;
            let profile_removed = ustore::delete_profile(&mut tx, sub).await? > 0;
            if removed > 0 || profile_removed || !memberships.is_empty() || identity.is_some() {
                ustore::insert_audit(
                    &mut tx,
                    &audit(
                        actor,
                        "Deleted user",
                        sub,
                        serde_json::json!({
                            "email": identity.as_ref().map(|i| i.email.clone()),
                            "grants_removed": removed,
                            "memberships_removed": memberships.iter().map(|m| m.mandate_id).collect::<Vec<_>>(),
                            "profile": profile.map(|p| serde_json::json!({"name": p.name, "organisation": p.organisation})),
                        }),
                    ),
                )
                .await?;
            }
            // The operator being deleted is refused from now on (fresh authority reads this);
            // an identity the cache did not know yet gets its row first.
            if let Some(i) = &identity {
                directory_cache::upsert(&mut *tx, i).await?;
            }
            directory_cache::mark_gone(&mut *tx, sub).await?;
            tx.commit().await?;
            Ok((removed, memberships.len(), profile_removed))
        })
        .await?;
        let mut identity_deleted = false;
        if let Some(i) = &identity {
            match self.delete_verified(&i.username, sub).await {
                Ok(deleted) => identity_deleted = deleted,
                Err(e) => {
                    // The identity is still there: list it again (it holds no authority).
                    if let Err(c) = directory_cache::upsert(&self.db, i).await {
                        tracing::warn!("delete user: could not un-mark the cached identity: {c}");
                    }
                    return Err(ServiceError::Internal(format!(
                        "grants ({removed}), memberships ({memberships_removed}) and profile of \
                         {} were removed and audited, but deleting the directory identity failed: \
                         {e}. The user can still sign in with no authority; run the delete again \
                         to finish.",
                        show(&i.email)
                    )));
                }
            }
        }
        let mut conn = self.db.acquire().await?;
        directory_cache::mark_gone(&mut *conn, sub).await?;
        let message = match (identity_deleted, removed) {
            (true, n) => format!(
                "Deleted user {sub}: {n} grant(s) and {memberships_removed} membership(s) removed, \
                 identity deleted."
            ),
            (false, 0) if !profile_removed && memberships_removed == 0 => {
                format!("User {sub} was already deleted; nothing to do.")
            }
            (false, n) => format!(
                "Removed {n} grant(s) and {memberships_removed} membership(s) of {sub}; the \
                 directory identity was already gone."
            ),
        };
        Ok(DeleteOutcome {
            sub,
            grants_removed: removed,
            profile_removed,
            identity_deleted,
            message,
        })
    }
}
