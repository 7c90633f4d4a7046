//! Writes to one user's account: enable/disable, profile, resend invite. Each applies only at
//! the version the operator saw (when given). Enable/disable and resend ask the directory —
//! a network call of up to seconds with retries — with no transaction or lock held: the
//! decision is taken under the locks, the directory is called, and the result is committed
//! with a compare-and-set on the user's version (the directory change is reverted when the
//! user changed in between).

use super::actor::authorize;
use super::retry::retrying;
use super::undo::{GrantState, UndoGuard};
use super::users::{audit, show};
use super::versions::{self, Version};
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::directory::{DirectoryError, Identity};
use crate::domain::error::bounded_text;
use crate::domain::{PermissionRef, UserSub};
use crate::store::Conn;
use crate::store::users as ustore;
use crate::store::{directory_cache, grants, versions as versions_store};

impl Services {
    /// Refuses, under the user's lock, a write based on another version than the user's now.
    pub(super) async fn check_user_version(
        conn: &mut Conn,
        sub: UserSub,
        email: &str,
        expected: Option<Version>,
    ) -> ServiceResult<i64> {
        let now = versions_store::user_version(conn, sub).await?;
        if expected.is_some_and(|v| v.0 != now) {
            let last = versions_store::last_user_change(conn, sub).await?;
            versions::check(expected, now, &format!("user {}", show(email)), last)?;
        }
        Ok(now)
    }

    async fn identity_of(&self, sub: UserSub) -> ServiceResult<Identity> {
        self.directory.find_by_sub(sub).await.map_err(|e| match e {
            DirectoryError::NotFound(_) => ServiceError::NotFound(format!("no user {sub}")),
            e => e.into(),
        })
    }

    /// Enables or disables sign-in: re-read the actor's authority; for a disable, lock and
    /// refuse when the user is the last enabled admin of a mandate or the last active global
    /// ADMIN; then the directory, with no lock held; then, under the same locks and refusals
    /// again, the cache and the audit row — committed only when the user is still at the
    /// version the decision saw. A refusal or a change in between reverts the directory.
    pub async fn set_enabled(
        &self,
        actor: &Actor,
        sub: UserSub,
        enabled: bool,
    ) -> ServiceResult<()> {
        self.set_enabled_guarded(actor, sub, enabled, None, None)
            .await
    }

    /// [`Self::set_enabled`] only while the user is at the version the operator saw.
    pub async fn set_enabled_expecting(
        &self,
        actor: &Actor,
        sub: UserSub,
        enabled: bool,
        expected: Option<Version>,
    ) -> ServiceResult<()> {
        self.set_enabled_guarded(actor, sub, enabled, expected, None)
            .await
    }

    /// [`Self::set_enabled`] for an undo (`undo` re-checks the state under the user's lock,
    /// before the directory is asked, and links the audit row).
    pub(super) async fn set_enabled_guarded(
        &self,
        actor: &Actor,
        sub: UserSub,
        enabled: bool,
        expected: Option<Version>,
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
        let identity = self.identity_of(sub).await?;
        // Decide: the checks under the locks, nothing written.
        let decided = retrying(|| async {
            let mut tx = self.db.begin().await?;
            let v = self
                .enable_checks(&mut tx, actor, &identity, enabled, expected)
                .await?;
            if let Some(g) = undo {
                g.check(&mut tx, &GrantState::Enabled(identity.enabled))
                    .await?;
            }
            tx.rollback().await?;
            Ok(v)
        })
        .await?;
        // The directory, with no transaction open and no lock held.
        self.directory
            .set_enabled(&identity.username, enabled)
            .await?;
        let action = if enabled {
            "Enabled user"
        } else {
            "Disabled user"
        };
        // Commit: the same checks again, and the version the decision saw.
        let committed: ServiceResult<()> = retrying(|| async {
            let mut tx = self.db.begin().await?;
            self.enable_checks(&mut tx, actor, &identity, enabled, Some(Version(decided)))
                .await?;
            let mut cached = identity.clone();
            cached.enabled = enabled;
            directory_cache::upsert(&mut tx, &cached).await?;
            let d = serde_json::json!({ "email": identity.email,
                "before": {"enabled": identity.enabled}, "after": {"enabled": enabled} });
            let details = match undo {
                Some(g) => g.link(d),
                None => d,
            };
            ustore::insert_audit(&mut tx, &audit(actor, action, sub, details)).await?;
            tx.commit().await?;
            Ok(())
        })
        .await;
        let Err(refused) = committed else {
            return Ok(());
        };
        // Nothing was committed: put the directory back as the decision found it.
        match self
            .directory
            .set_enabled(&identity.username, identity.enabled)
            .await
        {
            Ok(()) => Err(refused),
            Err(e) => Err(ServiceError::Internal(format!(
                "{action} in the directory succeeded, but recording it was refused ({refused}) \
                 and putting the directory back failed ({e}); the user is {} in the directory — \
                 please verify",
                if enabled { "enabled" } else { "disabled" }
            ))),
        }
    }

    /// The authority, locks and refusals of an enable/disable in `tx`; returns the user's
    /// version (refused when it is not `expected`).
    async fn enable_checks(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        identity: &Identity,
        enabled: bool,
        expected: Option<Version>,
    ) -> ServiceResult<i64> {
        let what = if enabled {
            "enabling a user"
        } else {
            "disabling a user"
        };
        authorize(&mut *tx, actor, PermissionRef::CanManageUsers, what).await?;
        if !enabled {
            grants::lock_global_admins(&mut *tx).await?;
        }
        grants::lock_user(&mut *tx, identity.sub).await?;
        let v = Self::check_user_version(&mut *tx, identity.sub, &identity.email, expected).await?;
        if !enabled {
            Self::lock_for_account_change(&mut *tx, &identity.email, identity.sub, "disable")
                .await?;
        }
        Ok(v)
    }

    /// Edits the profile (1–255 characters each, no control characters), audited.
    pub async fn edit_profile(
        &self,
        actor: &Actor,
        sub: UserSub,
        name: &str,
        organisation: &str,
    ) -> ServiceResult<()> {
        self.edit_profile_expecting(actor, sub, name, organisation, None)
            .await
    }

    /// [`Self::edit_profile`] only while the user is at the version the operator saw.
    pub async fn edit_profile_expecting(
        &self,
        actor: &Actor,
        sub: UserSub,
        name: &str,
        organisation: &str,
        expected: Option<Version>,
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
        let cached = ustore::cached(&self.db, sub).await?;
        let shown = cached
            .as_ref()
            .map(|c| c.email.clone())
            .unwrap_or_else(|| sub.to_string());
        Self::check_user_version(&mut tx, sub, &shown, expected).await?;
        let before = ustore::profile(&mut tx, sub).await?;
        if before.is_none() && cached.is_none() {
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

    /// Sends the invitation again (directory), audited. The actor's authority is re-read
    /// before the directory is asked and again in the audit transaction; no transaction is
    /// open across the directory call.
    pub async fn resend_invite(&self, actor: &Actor, sub: UserSub) -> ServiceResult<()> {
        actor.require(PermissionRef::CanManageUsers, "resending an invitation")?;
        self.ensure_writable("resend invite")?;
        let identity = self.identity_of(sub).await?;
        {
            let mut tx = self.db.begin().await?;
            authorize(
                &mut tx,
                actor,
                PermissionRef::CanManageUsers,
                "resending an invitation",
            )
            .await?;
            tx.rollback().await?;
        }
        self.directory.resend_invite(&identity.username).await?;
        let mut tx = self.db.begin().await?;
        authorize(
            &mut tx,
            actor,
            PermissionRef::CanManageUsers,
            "resending an invitation",
        )
        .await?;
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
}
