//! Users: the users list and detail, set roles, enable/disable, edit profile,
//! resend invite, delete. Every change writes `users_audit` in the transaction of the change.

use crate::service::access::Area;
use crate::store::Conn;
use serde::Serialize;
use uuid::Uuid;

use super::actor::authorize;
use super::members::AccessChange;
use super::retry::retrying;
use super::versions::Version;
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::directory::{DirectoryError, Identity, UserKey};
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
    /// What a change conditional on this view passes (`--expect-version`).
    pub version: Version,
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

pub(super) fn show(s: &str) -> String {
    DisplayText::new(s).into_string()
}

pub(super) fn audit<'a>(
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
        self.fresh_read(
            actor,
            Some(PermissionRef::CanManageUsers),
            "looking up a user",
        )
        .await?;
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
        self.read_area(actor, Area::Users, "listing users").await?;
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
        self.read_area(actor, Area::Users, "listing users").await?;
        if column == "role" {
            return Ok(RoleRef::ALL.iter().map(|r| r.key().to_string()).collect());
        }
        let role_ids = role_filter(q)?;
        Ok(ustore::filter_values(&self.db, column, q, &role_ids, 100).await?)
    }

    pub async fn user_detail(&self, actor: &Actor, sub: UserSub) -> ServiceResult<UserDetail> {
        self.read_area(actor, Area::Users, "reading a user").await?;
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
        let version = Version(crate::store::versions::user_version(&mut conn, sub).await?);
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
            version,
        })
    }

    /// Refuses (inside the caller's transaction, after [`grants::lock_global_admins`]) a change
    /// that would take the global ADMIN role from its last active holder `sub`.
    pub(super) async fn refuse_last_global_admin(
        conn: &mut Conn,
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
        conn: &mut Conn,
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

    /// Deletes a user. First ONE transaction: re-read the actor's authority; lock the global
    /// ADMIN set, the user, the user's mandates (id order) and their admin memberships; refuse
    /// when the user is the last enabled admin of a live mandate or the last active global
    /// ADMIN; remove grants, memberships (one `mandate_audit` row and one notification per
    /// mandate), profile; mark the cached identity gone; audit. Then the directory identity.
    /// Idempotent. A partial failure says exactly what state remains.
    pub async fn delete_user(&self, actor: &Actor, sub: UserSub) -> ServiceResult<DeleteOutcome> {
        self.delete_user_expecting(actor, sub, None).await
    }

    /// [`Self::delete_user`] only while the user is at the version the operator saw.
    pub async fn delete_user_expecting(
        &self,
        actor: &Actor,
        sub: UserSub,
        expected: Option<Version>,
    ) -> ServiceResult<DeleteOutcome> {
        actor.require(PermissionRef::CanManageUsers, "deleting a user")?;
        self.ensure_writable("delete user")?;
        super::approvals::gate(
            &self.settings,
            &crate::domain::approval::ChangeRequest::UserDelete { user: sub },
        )?;
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
            Self::check_user_version(&mut tx, sub, &shown_email, expected).await?;
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
                directory_cache::upsert(&mut tx, i).await?;
            }
            directory_cache::mark_gone(&mut tx, sub).await?;
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
        directory_cache::mark_gone(&mut conn, sub).await?;
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
