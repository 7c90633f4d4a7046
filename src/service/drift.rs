//! Drift: the classes where the directory, the global grants and the
//! mandate memberships disagree, and their repairs. A repair is first a [`RepairPreview`] —
//! exactly what will change in PostgreSQL and in the directory, and the audit row — then
//! [`Services::apply_drift_repair`], which computes the preview again and refuses when it
//! differs (the premise no longer holds). Every repair goes through the ordinary use case
//! (delete user, set roles, remove member), which writes its audit row in its transaction.

use crate::service::access::Area;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::{Actor, ServiceError, ServiceResult, Services};
use crate::directory::DirectoryError;
use crate::directory::IdentityStatus;
use crate::domain::{DisplayText, MembershipId, PermissionRef, UserSub};
use crate::store::drift as store;
/// The report's row types (the console's drift screen shows them).
pub use crate::store::drift::{BrokenMembership, DriftUser, ExpiredInvitation};

/// The drift classes, in the order a report lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftClass {
    /// Memberships of live mandates whose identity is gone or disabled (mandates left without
    /// a working admin first).
    Memberships,
    /// Global roles held by a sub the directory no longer has.
    OrphanGrants,
    /// Disabled identities still holding global roles.
    DisabledWithGrants,
    /// Identities holding no global role and no membership.
    NoGrants,
    /// Invitations still in FORCE_CHANGE_PASSWORD after the pool's temporary-password
    /// validity (the invited user can no longer sign in with it).
    ExpiredInvitations,
}

impl DriftClass {
    pub const ALL: [DriftClass; 5] = [
        Self::Memberships,
        Self::OrphanGrants,
        Self::DisabledWithGrants,
        Self::NoGrants,
        Self::ExpiredInvitations,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Self::Memberships => "memberships",
            Self::OrphanGrants => "orphan-grants",
            Self::DisabledWithGrants => "disabled-with-grants",
            Self::NoGrants => "no-grants",
            Self::ExpiredInvitations => "expired-invitations",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Memberships => "memberships whose identity is gone or disabled",
            Self::OrphanGrants => "grants whose identity is gone",
            Self::DisabledWithGrants => "disabled users still holding grants",
            Self::NoGrants => "identities without grants",
            Self::ExpiredInvitations => "invitations past the temporary-password validity",
        }
    }
}

impl fmt::Display for DriftClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for DriftClass {
    type Err = ServiceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.key() == s.trim())
            .ok_or_else(|| {
                invalid(format!(
                    "unknown drift class {:?}: expected one of {}",
                    DisplayText::new(s).into_string(),
                    Self::ALL.map(|c| c.key()).join(", ")
                ))
            })
    }
}

/// One drift row to repair: its class and its id (a sub, or a membership id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DriftTarget {
    pub class: DriftClass,
    pub id: uuid::Uuid,
}

impl DriftTarget {
    /// Parses `CLASS:ID`.
    pub fn parse(s: &str) -> ServiceResult<Self> {
        let (class, id) = s.split_once(':').ok_or_else(|| {
            invalid(format!(
                "expected CLASS:ID, got {:?}",
                DisplayText::new(s).into_string()
            ))
        })?;
        let class = class.parse()?;
        let id = id.trim().parse().map_err(|_| {
            invalid(format!(
                "{:?} is not an id (a UUID)",
                DisplayText::new(id).into_string()
            ))
        })?;
        Ok(Self { class, id })
    }
}

impl fmt::Display for DriftTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.class, self.id)
    }
}

/// Every class with its rows (up to the report's limit each).
#[derive(Clone, Debug, Serialize)]
pub struct DriftReport {
    pub memberships: Vec<BrokenMembership>,
    pub orphan_grants: Vec<DriftUser>,
    pub disabled_with_grants: Vec<DriftUser>,
    pub no_grants: Vec<DriftUser>,
    pub expired_invitations: Vec<ExpiredInvitation>,
    /// The pool's temporary-password validity the invitations were measured against.
    pub temporary_password_days: u32,
    /// The per-class limit the report was read with.
    pub limit: u32,
}

impl DriftReport {
    /// Every row as a repair target, in report order.
    pub fn targets(&self) -> Vec<DriftTarget> {
        self.targets_of(None)
    }

    /// The rows of one class (or all) as repair targets.
    pub fn targets_of(&self, class: Option<DriftClass>) -> Vec<DriftTarget> {
        let users = |class, rows: &[DriftUser]| -> Vec<DriftTarget> {
            rows.iter()
                .map(|u| DriftTarget { class, id: u.sub.0 })
                .collect()
        };
        let mut all: Vec<DriftTarget> = self
            .memberships
            .iter()
            .map(|m| DriftTarget {
                class: DriftClass::Memberships,
                id: m.membership_id.0,
            })
            .collect();
        all.extend(users(DriftClass::OrphanGrants, &self.orphan_grants));
        all.extend(users(
            DriftClass::DisabledWithGrants,
            &self.disabled_with_grants,
        ));
        all.extend(users(DriftClass::NoGrants, &self.no_grants));
        all.extend(self.expired_invitations.iter().map(|i| DriftTarget {
            class: DriftClass::ExpiredInvitations,
            id: i.sub.0,
        }));
        all.retain(|t| class.is_none_or(|c| t.class == c));
        all
    }

    pub fn is_empty(&self) -> bool {
        self.memberships.is_empty()
            && self.orphan_grants.is_empty()
            && self.disabled_with_grants.is_empty()
            && self.no_grants.is_empty()
            && self.expired_invitations.is_empty()
    }
}

/// Exactly what a repair will change, and the audit rows it writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RepairPreview {
    pub target: DriftTarget,
    /// One line naming the row.
    pub summary: String,
    /// Each change in PostgreSQL.
    pub database: Vec<String>,
    /// Each change in the directory (empty: none).
    pub directory: Vec<String>,
    /// The audit rows written in the transaction of the change.
    pub audit: Vec<String>,
    /// What still needs a person after the repair (e.g. a mandate left without an admin).
    pub warnings: Vec<String>,
}

/// What an applied repair did.
#[derive(Clone, Debug, Serialize)]
pub struct RepairOutcome {
    pub preview: RepairPreview,
    pub message: String,
}

fn invalid(message: String) -> ServiceError {
    ServiceError::Invalid(crate::domain::ValidationError::Invalid {
        field: "drift repair",
        message,
    })
}

fn show(s: &str) -> String {
    DisplayText::new(s).into_string()
}

fn who(email: Option<&str>, sub: UserSub) -> String {
    match email {
        Some(e) => format!("{} ({sub})", show(e)),
        None => sub.to_string(),
    }
}

fn not_drift(target: DriftTarget, why: &str) -> ServiceError {
    ServiceError::NotFound(format!("{target} is not drift ({why})"))
}

impl Services {
    /// Every drift class, up to `limit` rows each.
    pub async fn drift_report(&self, actor: &Actor, limit: u32) -> ServiceResult<DriftReport> {
        self.read_area(actor, Area::Drift, "reading drift").await?;
        let n = i64::from(limit);
        let days = self.directory.temporary_password_validity_days().await?;
        Ok(DriftReport {
            memberships: store::broken_memberships(&self.db, n).await?,
            orphan_grants: store::grants_without_identity(&self.db, n).await?,
            disabled_with_grants: store::disabled_with_grants(&self.db, n).await?,
            no_grants: store::identities_without_grants(&self.db, n).await?,
            expired_invitations: store::expired_invitations(&self.db, days, n).await?,
            temporary_password_days: days,
            limit,
        })
    }

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

    /// Applies a repair the operator saw: reads the preview again and refuses (Conflict) when
    /// it differs; then runs the ordinary use case, which audits in its transaction.
    pub async fn apply_drift_repair(
        &self,
        actor: &Actor,
        seen: &RepairPreview,
    ) -> ServiceResult<RepairOutcome> {
        self.ensure_writable("repair drift")?;
        let now = match self.drift_repair_preview(actor, seen.target).await {
            Ok(p) => p,
            Err(ServiceError::NotFound(why)) => {
                return Err(ServiceError::Conflict(format!(
                    "the drift changed since the preview: {why}; nothing was changed"
                )));
            }
            Err(e) => return Err(e),
        };
        if &now != seen {
            return Err(ServiceError::Conflict(format!(
                "the drift of {} changed since the preview; nothing was changed — preview again",
                seen.target
            )));
        }
        let message = match seen.target.class {
            DriftClass::Memberships => {
                let b = store::broken_membership(&self.db, MembershipId(seen.target.id))
                    .await?
                    .ok_or_else(|| {
                        ServiceError::Conflict(format!(
                            "the membership {} changed since the preview; nothing was changed",
                            seen.target.id
                        ))
                    })?;
                self.remove_member(actor, b.mandate_id, b.user_id).await?;
                format!("removed the membership: {}", seen.summary)
            }
            DriftClass::OrphanGrants | DriftClass::NoGrants => {
                let out = self.delete_user(actor, UserSub(seen.target.id)).await?;
                out.message
            }
            DriftClass::DisabledWithGrants => {
                self.set_roles(actor, UserSub(seen.target.id), &[]).await?;
                format!("removed the global roles: {}", seen.summary)
            }
            DriftClass::ExpiredInvitations => {
                self.resend_invite(actor, UserSub(seen.target.id)).await?;
                format!("sent the invitation again: {}", seen.summary)
            }
        };
        Ok(RepairOutcome {
            preview: seen.clone(),
            message,
        })
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
