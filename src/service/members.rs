//! Members of a mandate: list, add, remove, replace roles, enable/disable — with
//! the last-admin invariant and the plan capacity holding under concurrency. Every change
//! writes one `mandate_audit` row and one `notification` outbox row in its transaction.

use crate::store::Conn;
use serde_json::json;

use super::actor::{Authority, fresh_authority, lacks};
use super::member_writes::MemberWrite;
use super::retry::retrying;
use super::undo::{GrantState, UndoGuard};
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::directory::UserKey;
use crate::domain::{
    DisplayText, Email, MandateId, MandateRoleId, Page, PageQuery, PermissionRef, UserSub,
};
use crate::store::audit::{NotificationText, insert_mandate_audit, insert_notification};
use crate::store::mandates::{self as mandates_store, Mandate};
use crate::store::members::{self as store, MandateRole, Member, Membership};

/// How the operator names the identity to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberRef {
    Sub(UserSub),
    Email(Email),
}

impl MemberRef {
    /// A UUID is a sub; anything else must be an email address.
    pub fn parse(s: &str) -> ServiceResult<Self> {
        if let Ok(sub) = s.parse::<UserSub>() {
            return Ok(Self::Sub(sub));
        }
        Ok(Self::Email(Email::parse(s)?))
    }
}

/// The refusal when a change would leave a mandate without an admin.
pub fn last_admin_message(mandate: &Mandate) -> String {
    format!(
        "Cannot remove the last admin of {}. Assign another admin first.",
        DisplayText::new(&mandate.name)
    )
}

/// What a membership change tells the affected user (outbox texts, English and German).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessChange {
    Added,
    Removed,
    RolesChanged,
    Enabled,
    Disabled,
}

impl AccessChange {
    pub fn action(self) -> &'static str {
        match self {
            Self::Added => "MEMBER_ADDED",
            Self::Removed => "MEMBER_REMOVED",
            Self::RolesChanged => "MEMBER_ROLES_SET",
            Self::Enabled => "MEMBER_ENABLED",
            Self::Disabled => "MEMBER_DISABLED",
        }
    }

    /// Texts in the seed's spirit; the mandate is named by its name (a label such as
    /// "research" does not tell the member which mandate it is).
    pub fn notification(self, mandate: &Mandate) -> NotificationText {
        let m = &mandate.name;
        let (title_en, message_en, title_de, message_de) = match self {
            Self::Added => (
                "Mandate access".to_string(),
                format!("You have been added to the mandate «{m}»."),
                "Mandantenzugriff".to_string(),
                format!("Sie wurden dem Mandanten «{m}» hinzugefügt."),
            ),
            Self::Removed => (
                "Mandate access".to_string(),
                format!("You have been removed from the mandate «{m}»."),
                "Mandantenzugriff".to_string(),
                format!("Sie wurden aus dem Mandanten «{m}» entfernt."),
            ),
            Self::RolesChanged => (
                "Mandate roles changed".to_string(),
                format!("Your roles in the mandate «{m}» have been changed."),
                "Mandantenrollen geändert".to_string(),
                format!("Ihre Rollen im Mandanten «{m}» wurden angepasst."),
            ),
            Self::Enabled => (
                "Mandate access".to_string(),
                format!("Your access to the mandate «{m}» has been enabled."),
                "Mandantenzugriff".to_string(),
                format!("Ihr Zugang zum Mandanten «{m}» wurde aktiviert."),
            ),
            Self::Disabled => (
                "Mandate access".to_string(),
                format!("Your access to the mandate «{m}» has been disabled."),
                "Mandantenzugriff".to_string(),
                format!("Ihr Zugang zum Mandanten «{m}» wurde deaktiviert."),
            ),
        };
        NotificationText {
            kind: "mandate_access",
            title_en,
            message_en,
            title_de,
            message_de,
        }
    }
}

fn mandate_gone(id: MandateId) -> ServiceError {
    ServiceError::NotFound(format!("mandate {id} not found"))
}

fn not_member(user: UserSub) -> ServiceError {
    ServiceError::NotFound(format!("user {user} is not a member of this mandate"))
}

/// Whether the actor may manage the members of `mandate`, against the state the caller's
/// transaction sees (call after the mandate's locks): SysAdmin by fresh authority `now`, or an
/// enabled admin membership of the mandate. A SysAdmin at sign-in who lost it is refused with
/// [`ServiceError::OperatorRevoked`].
pub(super) async fn authorize_member_manager(
    conn: &mut Conn,
    actor: &Actor,
    now: &Authority,
    mandate: MandateId,
) -> ServiceResult<()> {
    if now.is_sysadmin() {
        return Ok(());
    }
    if let Some(sub) = actor.audit_sub()
        && store::is_admin(conn, mandate, sub).await?
    {
        return Ok(());
    }
    if actor.is_sysadmin() {
        return Err(lacks(
            actor,
            PermissionRef::CanAccessAdminPanel,
            "member management",
        ));
    }
    Err(ServiceError::Denied(
        "member management requires a SysAdmin or that mandate's admin".into(),
    ))
}

impl Services {
    pub(super) async fn require_member_manager(
        &self,
        actor: &Actor,
        mandate: MandateId,
    ) -> ServiceResult<()> {
        if self.can_manage_members(actor, mandate).await? {
            Ok(())
        } else if actor.is_sysadmin() {
            // A SysAdmin at sign-in who lost it since: signed out, not just refused.
            Err(lacks(
                actor,
                PermissionRef::CanAccessAdminPanel,
                "member management",
            ))
        } else {
            Err(ServiceError::Denied(
                "member management requires a SysAdmin or that mandate's admin".into(),
            ))
        }
    }

    /// One page of a mandate's members: ONE statement whatever the page size.
    pub async fn list_members(
        &self,
        actor: &Actor,
        mandate: MandateId,
        q: &PageQuery,
    ) -> ServiceResult<Page<Member>> {
        self.require_member_manager(actor, mandate).await?;
        Ok(store::list(&self.db, mandate, q).await?)
    }

    pub async fn member_filter_values(
        &self,
        actor: &Actor,
        mandate: MandateId,
        column: &str,
        q: &PageQuery,
    ) -> ServiceResult<Vec<String>> {
        self.require_member_manager(actor, mandate).await?;
        Ok(store::filter_values(&self.db, mandate, column, q, 200).await?)
    }

    /// The sub of a member named by sub (taken as is) or by email (looked up in the directory).
    pub async fn resolve_member(&self, who: &MemberRef) -> ServiceResult<UserSub> {
        match who {
            MemberRef::Sub(sub) => Ok(*sub),
            MemberRef::Email(email) => Ok(self
                .directory
                .get_user(&UserKey::Email(email.clone()))
                .await?
                .sub),
        }
    }

    /// Roles assignable in the mandate (global templates and its own).
    pub async fn mandate_roles(
        &self,
        actor: &Actor,
        mandate: MandateId,
    ) -> ServiceResult<Vec<MandateRole>> {
        self.require_member_manager(actor, mandate).await?;
        Ok(store::assignable_roles(&self.db, mandate).await?)
    }

    /// Locks the live mandate (first lock of every membership change).
    pub(super) async fn lock_live(conn: &mut Conn, mandate: MandateId) -> ServiceResult<Mandate> {
        let m = mandates_store::lock(conn, mandate)
            .await?
            .ok_or_else(|| mandate_gone(mandate))?;
        if m.deleted_at.is_some() {
            return Err(mandate_gone(mandate));
        }
        Ok(m)
    }

    pub(super) async fn check_roles(
        conn: &mut Conn,
        mandate: MandateId,
        roles: &[MandateRoleId],
    ) -> ServiceResult<Vec<MandateRoleId>> {
        let mut wanted: Vec<MandateRoleId> = roles.to_vec();
        wanted.sort();
        wanted.dedup();
        let valid = store::valid_roles(conn, mandate, &wanted).await?;
        if let Some(bad) = wanted.iter().find(|r| !valid.contains(r)) {
            return Err(crate::domain::ValidationError::Invalid {
                field: "roles",
                message: format!("role {bad} does not exist or belongs to another mandate"),
            }
            .into());
        }
        Ok(wanted)
    }

    /// Adds an identity (which must exist in the directory) with `roles`.
    pub async fn add_member(
        &self,
        actor: &Actor,
        mandate: MandateId,
        who: &MemberRef,
        roles: &[MandateRoleId],
    ) -> ServiceResult<Membership> {
        self.require_member_manager(actor, mandate).await?;
        self.ensure_writable("add member")?;
        // Directory first, outside any transaction.
        let identity = match who {
            MemberRef::Sub(sub) => self.directory.find_by_sub(*sub).await?,
            MemberRef::Email(email) => {
                self.directory
                    .get_user(&UserKey::Email(email.clone()))
                    .await?
            }
        };
        let user = identity.sub;
        let who_audit = actor.audit();
        retrying(|| async {
            let mut tx = self.db.begin().await?;
            let now = fresh_authority(&mut tx, actor).await?;
            let m = Self::lock_live(&mut tx, mandate).await?;
            authorize_member_manager(&mut tx, actor, &now, mandate).await?;
            if store::find(&mut tx, mandate, user).await?.is_some() {
                return Err(Self::already_member(&mut tx, &m, user, &identity.email).await);
            }
            let roles = Self::check_roles(&mut tx, mandate, roles).await?;
            // The mandate row lock serializes adds, so the count cannot go stale before insert.
            if let Some((plan, max)) = store::capacity(&mut tx, mandate).await? {
                let n = store::count_members(&mut tx, mandate).await?;
                if n >= i64::from(max) {
                    return Err(ServiceError::CapacityExceeded(format!(
                        "capacity exceeded: plan {} of {} allows {max} members",
                        DisplayText::new(&plan),
                        DisplayText::new(&m.name)
                    )));
                }
            }
            let id = match store::insert(&mut tx, mandate, user, true).await {
                Err(e) if e.unique_constraint() == Some("user_mandate_membership_key") => {
                    return Err(ServiceError::Conflict(format!(
                        "{} is already a member of {}",
                        DisplayText::new(&identity.email),
                        DisplayText::new(&m.name)
                    )));
                }
                r => r?,
            };
            store::replace_roles(&mut tx, id, &roles).await?;
            // Refresh the listing cache with what the directory just told us.
            crate::store::directory_cache::upsert(&mut tx, &identity).await?;
            let change = AccessChange::Added;
            insert_mandate_audit(
                &mut tx,
                &who_audit,
                mandate,
                &m.name,
                change.action(),
                Some(user),
                json!({"roles": roles}),
            )
            .await?;
            insert_notification(&mut tx, user, Some(mandate), &change.notification(&m)).await?;
            tx.commit().await?;
            Ok(Membership {
                id,
                user_id: user,
                mandate_id: mandate,
                enabled: true,
                version: 1,
            })
        })
        .await
    }

    /// One membership change under the last-admin invariant. In one transaction: lock the
    /// mandate row, then its admin memberships in id order (every membership change takes the
    /// locks in this order, so they queue instead of deadlocking); refuse if the change would
    /// leave a mandate that has an admin without one; check the actor's right to manage members
    /// (fresh authority) against the locked state; then write the change, its audit row and its
    /// notification.
    /// Nothing is written before these checks. Serialization failures and deadlocks are retried.
    async fn change_membership(
        &self,
        actor: &Actor,
        mandate: MandateId,
        user: UserSub,
        change: AccessChange,
        roles: &[MandateRoleId],
    ) -> ServiceResult<()> {
        let only = MemberWrite::default();
        self.change_membership_guarded(actor, mandate, user, change, roles, &only, None)
            .await
    }

    /// [`Self::change_membership`] for an undo: `undo` re-checks, under the same locks, that the
    /// membership is still in the state the undone audit row left, and links the audit row.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn change_membership_guarded(
        &self,
        actor: &Actor,
        mandate: MandateId,
        user: UserSub,
        change: AccessChange,
        roles: &[MandateRoleId],
        only: &MemberWrite,
        undo: Option<&UndoGuard>,
    ) -> ServiceResult<()> {
        self.ensure_writable(change.action())?;
        let who = actor.audit();
        retrying(|| async {
            let mut tx = self.db.begin().await?;
            let now = fresh_authority(&mut tx, actor).await?;
            let m = Self::lock_live(&mut tx, mandate).await?;
            let admins = store::lock_admins(&mut tx, mandate).await?;
            let target = store::find(&mut tx, mandate, user).await?;
            Self::check_membership_version(&mut tx, &m, user, target.as_ref(), only.expected)
                .await?;
            let new_roles = match (change, &target) {
                (AccessChange::RolesChanged, Some(ms)) if only.delta => {
                    let held = store::role_ids(&mut tx, ms.id).await?;
                    let held: Vec<MandateRoleId> = held.into_iter().map(Into::into).collect();
                    let wanted = only.apply(&held, roles);
                    Self::check_roles(&mut tx, mandate, &wanted).await?
                }
                (AccessChange::RolesChanged, _) => {
                    Self::check_roles(&mut tx, mandate, roles).await?
                }
                _ => Vec::new(),
            };
            if let Some(ms) = &target
                && admins.len() == 1
                && admins.contains(&ms.id)
            {
                let stays_admin = match change {
                    AccessChange::RolesChanged => {
                        store::grants_admin(&mut tx, mandate, &new_roles).await?
                    }
                    AccessChange::Enabled => true,
                    _ => false,
                };
                if !stays_admin {
                    return Err(ServiceError::Conflict(last_admin_message(&m)));
                }
            }
            authorize_member_manager(&mut tx, actor, &now, mandate).await?;
            let ms = target.ok_or_else(|| not_member(user))?;
            if let Some(g) = undo {
                let current = match change {
                    AccessChange::RolesChanged => {
                        UndoGuard::roles_state(&store::role_ids(&mut tx, ms.id).await?)
                    }
                    _ => GrantState::Enabled(ms.enabled),
                };
                g.check(&mut tx, &current).await?;
            }
            let details = match change {
                AccessChange::Removed => {
                    let had = store::role_ids(&mut tx, ms.id).await?;
                    store::delete(&mut tx, ms.id).await?;
                    json!({"roles": had})
                }
                AccessChange::RolesChanged => {
                    let had = store::role_ids(&mut tx, ms.id).await?;
                    store::replace_roles(&mut tx, ms.id, &new_roles).await?;
                    json!({"before": had, "after": new_roles})
                }
                AccessChange::Enabled | AccessChange::Disabled => {
                    let enabled = change == AccessChange::Enabled;
                    store::set_enabled(&mut tx, ms.id, enabled).await?;
                    json!({"before": ms.enabled, "after": enabled})
                }
                AccessChange::Added => {
                    return Err(ServiceError::Internal(
                        "add is not a membership change".into(),
                    ));
                }
            };
            // Belt and braces: the locked count must agree.
            if !admins.is_empty() && store::count_admins(&mut tx, mandate).await? == 0 {
                return Err(ServiceError::Conflict(last_admin_message(&m)));
            }
            let details = match undo {
                Some(g) => g.link(details),
                None => details,
            };
            insert_mandate_audit(
                &mut tx,
                &who,
                mandate,
                &m.name,
                change.action(),
                Some(user),
                details,
            )
            .await?;
            insert_notification(&mut tx, user, Some(mandate), &change.notification(&m)).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Removes a member (never the last admin).
    pub async fn remove_member(
        &self,
        actor: &Actor,
        mandate: MandateId,
        user: UserSub,
    ) -> ServiceResult<()> {
        self.change_membership(actor, mandate, user, AccessChange::Removed, &[])
            .await
    }

    /// Replaces a member's mandate-level roles (never demoting the last admin).
    pub async fn set_member_roles(
        &self,
        actor: &Actor,
        mandate: MandateId,
        user: UserSub,
        roles: &[MandateRoleId],
    ) -> ServiceResult<()> {
        self.change_membership(actor, mandate, user, AccessChange::RolesChanged, roles)
            .await
    }

    /// Enables or disables a membership (never disabling the last admin).
    pub async fn set_member_enabled(
        &self,
        actor: &Actor,
        mandate: MandateId,
        user: UserSub,
        enabled: bool,
    ) -> ServiceResult<()> {
        let change = if enabled {
            AccessChange::Enabled
        } else {
            AccessChange::Disabled
        };
        self.change_membership(actor, mandate, user, change, &[])
            .await
    }
}
