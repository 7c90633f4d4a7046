//! Users (SPEC §5.3): the users list and detail, set roles, enable/disable, edit profile,
//! resend invite, delete. Every change writes `users_audit` in the transaction of the change.

use serde::Serialize;
use uuid::Uuid;

use super::{Actor, ServiceError, ServiceResult, Services};
use crate::directory::{DirectoryError, Identity, UserKey};
use crate::domain::error::bounded_text;
use crate::domain::{DisplayText, Email, Page, PageQuery, PermissionRef, RoleRef, UserSub};
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

/// Drift between the directory cache and the grants (SPEC §5.3).
#[derive(Clone, Debug, Serialize)]
pub struct Drift {
    pub identities_without_grants: Page<UserRow>,
    pub grants_without_identity: Vec<UserSub>,
    pub disabled_with_grants: Page<UserRow>,
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
        actor: actor.audit_sub(),
        via: actor.via().as_str(),
        os_user: actor.os_user(),
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
        actor.require(PermissionRef::CanManageUsers, "listing users")?;
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
        actor.require(PermissionRef::CanManageUsers, "listing users")?;
        if column == "role" {
            return Ok(RoleRef::ALL.iter().map(|r| r.key().to_string()).collect());
        }
        let role_ids = role_filter(q)?;
        Ok(ustore::filter_values(&self.db, column, q, &role_ids, 100).await?)
    }

    pub async fn user_detail(&self, actor: &Actor, sub: UserSub) -> ServiceResult<UserDetail> {
        actor.require(PermissionRef::CanManageUsers, "reading a user")?;
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
    /// exactly one of the requests.
    pub async fn set_roles(
        &self,
        actor: &Actor,
        sub: UserSub,
        roles: &[RoleRef],
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
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.replace_roles_tx(actor, &identity, &ids).await {
                Err(ServiceError::Store(e)) if e.is_retryable() && attempt < 5 => continue,
                Err(ServiceError::Store(StoreError::Unique { .. })) if attempt < 5 => continue,
                r => return r.map(|()| roles),
            }
        }
    }

    async fn replace_roles_tx(
        &self,
        actor: &Actor,
        identity: &Identity,
        ids: &[Uuid],
    ) -> ServiceResult<()> {
        let sub = identity.sub;
        let mut tx = self.db.begin().await?;
        grants::lock_user(&mut tx, sub).await?;
        let before = grants::roles_of_conn(&mut tx, sub).await?;
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
                serde_json::json!({ "before": name(&before), "after": name(ids), "email": identity.email }),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Enables or disables sign-in in the directory, then updates the cache and audits (one
    /// transaction). If the audit fails after the directory changed, the error says so.
    pub async fn set_enabled(
        &self,
        actor: &Actor,
        sub: UserSub,
        enabled: bool,
    ) -> ServiceResult<()> {
        actor.require(
            PermissionRef::CanManageUsers,
            if enabled {
                "enabling a user"
            } else {
                "disabling a user"
            },
        )?;
        self.ensure_writable(if enabled {
            "enable user"
        } else {
            "disable user"
        })?;
        let identity = self.directory.find_by_sub(sub).await.map_err(|e| match e {
            DirectoryError::NotFound(_) => ServiceError::NotFound(format!("no user {sub}")),
            e => e.into(),
        })?;
        self.directory
            .set_enabled(&identity.username, enabled)
            .await?;
        let action = if enabled {
            "Enabled user"
        } else {
            "Disabled user"
        };
        let written: ServiceResult<()> = async {
            let mut tx = self.db.begin().await?;
            let mut cached = identity.clone();
            cached.enabled = enabled;
            directory_cache::upsert(&mut *tx, &cached).await?;
            ustore::insert_audit(
                &mut tx,
                &audit(
                    actor,
                    action,
                    sub,
                    serde_json::json!({ "email": identity.email }),
                ),
            )
            .await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        written.map_err(|e| {
            ServiceError::Internal(format!(
                "{action} in the directory succeeded, but the audit write failed ({e}); the user \
                 is {} — please verify",
                if enabled { "enabled" } else { "disabled" }
            ))
        })
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

    /// Sends the invitation again (directory), audited.
    pub async fn resend_invite(&self, actor: &Actor, sub: UserSub) -> ServiceResult<()> {
        actor.require(PermissionRef::CanManageUsers, "resending an invitation")?;
        self.ensure_writable("resend invite")?;
        let identity = self.directory.find_by_sub(sub).await.map_err(|e| match e {
            DirectoryError::NotFound(_) => ServiceError::NotFound(format!("no user {sub}")),
            e => e.into(),
        })?;
        self.directory.resend_invite(&identity.username).await?;
        let mut tx = self.db.begin().await?;
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

    /// Deletes a user: grants (and profile) first, audited, then the directory identity.
    /// Idempotent. A partial failure says exactly what state remains.
    pub async fn delete_user(&self, actor: &Actor, sub: UserSub) -> ServiceResult<DeleteOutcome> {
        actor.require(PermissionRef::CanManageUsers, "deleting a user")?;
        self.ensure_writable("delete user")?;
        let identity = match self.directory.find_by_sub(sub).await {
            Ok(i) => Some(i),
            Err(DirectoryError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let mut tx = self.db.begin().await?;
        grants::lock_user(&mut tx, sub).await?;
        let removed = grants::revoke_all(&mut tx, sub).await?;
        let profile = ustore::profile(&mut tx, sub).await?;
        let profile_removed = ustore::delete_profile(&mut tx, sub).await? > 0;
        if removed > 0 || profile_removed || identity.is_some() {
            ustore::insert_audit(
                &mut tx,
                &audit(
                    actor,
                    "Deleted user",
                    sub,
                    serde_json::json!({
                        "email": identity.as_ref().map(|i| i.email.clone()),
                        "grants_removed": removed,
                        "profile": profile.map(|p| serde_json::json!({"name": p.name, "organisation": p.organisation})),
                    }),
                ),
            )
            .await?;
        }
        tx.commit().await?;
        let mut identity_deleted = false;
        if let Some(i) = &identity {
            match self.delete_verified(&i.username, sub).await {
                Ok(deleted) => identity_deleted = deleted,
                Err(e) => {
                    return Err(ServiceError::Internal(format!(
                        "grants ({removed}) and profile of {} were removed and audited, but \
                         deleting the directory identity failed: {e}. The user can still sign in \
                         with no authority; run the delete again to finish.",
                        show(&i.email)
                    )));
                }
            }
        }
        let mut conn = self.db.acquire().await?;
        directory_cache::mark_gone(&mut *conn, sub).await?;
        let message = match (identity_deleted, removed) {
            (true, n) => format!("Deleted user {sub}: {n} grant(s) removed, identity deleted."),
            (false, 0) if !profile_removed => {
                format!("User {sub} was already deleted; nothing to do.")
            }
            (false, n) => {
                format!("Removed {n} grant(s) of {sub}; the directory identity was already gone.")
            }
        };
        Ok(DeleteOutcome {
            sub,
            grants_removed: removed,
            profile_removed,
            identity_deleted,
            message,
        })
    }

    /// Drift between the directory cache and the grants (SPEC §5.3).
    pub async fn user_drift(&self, actor: &Actor, page_size: u32) -> ServiceResult<Drift> {
        actor.require(PermissionRef::CanManageUsers, "reading drift")?;
        let no_grants = PageQuery::new(1, page_size).filter("has_roles", ["false"]);
        let disabled = PageQuery::new(1, page_size)
            .filter("has_roles", ["true"])
            .filter("enabled", ["false"]);
        Ok(Drift {
            identities_without_grants: self.list_users(actor, &no_grants).await?,
            grants_without_identity: ustore::grants_without_identity(
                &self.db,
                i64::from(page_size),
            )
            .await?,
            disabled_with_grants: self.list_users(actor, &disabled).await?,
        })
    }
}
