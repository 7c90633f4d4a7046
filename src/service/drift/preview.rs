//! The preview of one drift repair: the row read fresh (the directory too), and exactly what
//! the repair will change in PostgreSQL and in the directory, with its audit rows.

use super::{DriftClass, DriftTarget, RepairPreview, not_drift, show, who};
use crate::directory::{DirectoryError, IdentityStatus};
use crate::domain::{MembershipId, PermissionRef, UserSub};
use crate::service::{Actor, ServiceResult, Services};
use crate::store::drift as store;

impl Services {
    /// Whether the directory (strongly consistent) has `sub`.
    async fn directory_has(
        &self,
        sub: UserSub,
    ) -> ServiceResult<Option<crate::directory::Identity>> {
        match self.directory.find_by_sub(sub).await {
            Ok(i) => Ok(Some(i)),
            Err(DirectoryError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The preview of one repair, read fresh (the directory too). Not drift → NotFound.
    pub async fn drift_repair_preview(
        &self,
        actor: &Actor,
        target: DriftTarget,
    ) -> ServiceResult<RepairPreview> {
        self.fresh_read(
            actor,
            Some(PermissionRef::CanManageUsers),
            "previewing a drift repair",
        )
        .await?;
        match target.class {
            DriftClass::Memberships => {
                let Some(b) = store::broken_membership(&self.db, MembershipId(target.id)).await?
                else {
                    return Err(not_drift(
                        target,
                        "no membership of a live mandate with a gone or disabled identity",
                    ));
                };
                let identity = self.directory_has(b.user_id).await?;
                let reason = match &identity {
                    None => "gone".to_string(),
                    Some(i) if !i.enabled => "disabled".to_string(),
                    Some(_) => {
                        return Err(not_drift(
                            target,
                            "the directory has the identity enabled; run `hubdeck directory sync`",
                        ));
                    }
                };
                let user = who(b.email.as_deref(), b.user_id);
                let mandate = format!("«{}»", show(&b.mandate_name));
                let mut warnings = Vec::new();
                if b.working_admins == 0 {
                    warnings.push(format!(
                        "{mandate} has no working admin: assign one (hubdeck mandates members add)"
                    ));
                }
                Ok(RepairPreview {
                    target,
                    summary: format!("{user} ({reason}) is a member of {mandate}"),
                    database: vec![
                        format!(
                            "remove the membership {} of {user} in {mandate} (roles: {})",
                            b.membership_id,
                            if b.roles.is_empty() {
                                "none".to_string()
                            } else {
                                b.roles
                                    .iter()
                                    .map(|r| show(r))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            }
                        ),
                        format!("queue a \"removed from {mandate}\" notification for {user}"),
                    ],
                    directory: Vec::new(),
                    audit: vec![format!(
                        "mandate_audit MEMBER_REMOVED for {user} in {mandate}"
                    )],
                    warnings,
                })
            }
            DriftClass::OrphanGrants => {
                let sub = UserSub(target.id);
                let state = store::sub_state(&self.db, sub).await?;
                let user = store::user(&self.db, sub).await?;
                let roles = user.as_ref().map(|u| u.roles.clone()).unwrap_or_default();
                if roles.is_empty() {
                    return Err(not_drift(target, "the sub holds no global role"));
                }
                if state.cached && !state.gone {
                    return Err(not_drift(target, "the cache lists the identity"));
                }
                if self.directory_has(sub).await?.is_some() {
                    return Err(not_drift(
                        target,
                        "the directory has the identity; run `hubdeck directory sync`",
                    ));
                }
                let email = user.as_ref().and_then(|u| u.email.clone());
                let u = who(email.as_deref(), sub);
                Ok(RepairPreview {
                    target,
                    summary: format!("{u} holds {} but has no identity", roles.join(", ")),
                    database: delete_lines(&u, &roles, &state),
                    directory: Vec::new(),
                    audit: delete_audit(&u, &state),
                    warnings: Vec::new(),
                })
            }
            DriftClass::DisabledWithGrants => {
                let sub = UserSub(target.id);
                let Some(i) = self.directory_has(sub).await? else {
                    return Err(not_drift(target, "the directory has no such identity"));
                };
                if i.enabled {
                    return Err(not_drift(target, "the identity is enabled"));
                }
                let roles = store::user(&self.db, sub)
                    .await?
                    .map(|u| u.roles)
                    .unwrap_or_default();
                if roles.is_empty() {
                    return Err(not_drift(target, "the identity holds no global role"));
                }
                let u = who(Some(&i.email), sub);
                Ok(RepairPreview {
                    target,
                    summary: format!("{u} is disabled and holds {}", roles.join(", ")),
                    database: vec![format!(
                        "replace the global roles of {u} ({}) with none",
                        roles.join(", ")
                    )],
                    directory: Vec::new(),
                    audit: vec![format!("users_audit \"Updated user roles\" for {u}")],
                    warnings: Vec::new(),
                })
            }
            DriftClass::NoGrants => {
                let sub = UserSub(target.id);
                let Some(i) = self.directory_has(sub).await? else {
                    return Err(not_drift(target, "the directory has no such identity"));
                };
                let state = store::sub_state(&self.db, sub).await?;
                let roles = store::user(&self.db, sub)
                    .await?
                    .map(|u| u.roles)
                    .unwrap_or_default();
                if !roles.is_empty() || !state.memberships.is_empty() {
                    return Err(not_drift(target, "the identity holds grants"));
                }
                let u = who(Some(&i.email), sub);
                Ok(RepairPreview {
                    target,
                    summary: format!(
                        "{u} ({}, {}) holds no role and no membership",
                        show(i.status.as_str()),
                        if i.enabled { "enabled" } else { "disabled" }
                    ),
                    database: delete_lines(&u, &[], &state),
                    directory: vec![format!("delete the identity {}", show(&i.username))],
                    audit: delete_audit(&u, &state),
                    warnings: Vec::new(),
                })
            }
            DriftClass::ExpiredInvitations => {
                let sub = UserSub(target.id);
                let Some(i) = self.directory_has(sub).await? else {
                    return Err(not_drift(target, "the directory has no such identity"));
                };
                if i.status != IdentityStatus::ForceChangePassword {
                    return Err(not_drift(
                        target,
                        "the identity is no longer waiting for its first sign-in",
                    ));
                }
                let days = self.directory.temporary_password_validity_days().await?;
                let Some((invited, expired)) =
                    store::invitation_expiry(&self.db, sub, days).await?
                else {
                    return Err(not_drift(target, "the cache does not list the identity"));
                };
                if !expired {
                    return Err(not_drift(
                        target,
                        "the invitation is still within the temporary-password validity",
                    ));
                }
                let u = who(Some(&i.email), sub);
                Ok(RepairPreview {
                    target,
                    summary: format!(
                        "{u} was invited {} and never signed in; the temporary password \
                         expired after {days} days",
                        invited.format("%Y-%m-%d %H:%M UTC")
                    ),
                    database: Vec::new(),
                    directory: vec![format!(
                        "send the invitation to {} again (a new temporary password, valid \
                         {days} days)",
                        show(&i.username)
                    )],
                    audit: vec![format!("users_audit \"Resent invitation\" for {u}")],
                    warnings: if i.enabled {
                        Vec::new()
                    } else {
                        vec![format!(
                            "{u} is disabled: the invitation cannot be used until it is enabled"
                        )]
                    },
                })
            }
        }
    }
}

/// The PostgreSQL changes of a user delete (grants, memberships, profile, cache).
fn delete_lines(u: &str, roles: &[String], state: &store::SubState) -> Vec<String> {
    let mut lines = Vec::new();
    if !roles.is_empty() {
        lines.push(format!(
            "remove the global roles of {u} ({})",
            roles.join(", ")
        ));
    }
    for m in &state.memberships {
        lines.push(format!("remove the membership of {u} in «{}»", show(m)));
    }
    if state.has_profile {
        lines.push(format!("remove the profile of {u}"));
    }
    lines.push(format!("mark the cached identity of {u} gone"));
    lines
}

fn delete_audit(u: &str, state: &store::SubState) -> Vec<String> {
    let mut rows = vec![format!("users_audit \"Deleted user\" for {u}")];
    for m in &state.memberships {
        rows.push(format!("mandate_audit MEMBER_REMOVED in «{}»", show(m)));
    }
    rows
}
