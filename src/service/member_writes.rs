//! Membership writes conditional on what the operator saw: a member's roles changed by what
//! was added and removed against the set the form showed (a role granted meanwhile by another
//! operator is kept), and any membership change only at the version the operator saw.

use super::members::AccessChange;
use super::versions::{self, Version};
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::domain::{DisplayText, MandateId, MandateRoleId, UserSub};
use crate::store::Conn;
use crate::store::mandates::Mandate;
use crate::store::members::Membership;
use crate::store::versions as versions_store;

/// How a membership change is conditioned (the default: replace, whatever the version).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberWrite {
    /// The roles given are the ones to add; `remove` the ones to revoke; others stay.
    pub delta: bool,
    pub remove: Vec<MandateRoleId>,
    /// The membership's version the operator saw.
    pub expected: Option<Version>,
}

impl MemberWrite {
    /// The roles after the change: `held` without `remove`, with `add`.
    pub(super) fn apply(
        &self,
        held: &[MandateRoleId],
        add: &[MandateRoleId],
    ) -> Vec<MandateRoleId> {
        held.iter()
            .filter(|r| !self.remove.contains(r))
            .chain(add)
            .copied()
            .collect()
    }
}

impl Services {
    /// Refuses, under the membership's row lock, a change based on another version — or on
    /// a membership that is gone since (who removed it and when, from the audit).
    pub(super) async fn check_membership_version(
        conn: &mut Conn,
        m: &Mandate,
        user: UserSub,
        ms: Option<&Membership>,
        expected: Option<Version>,
    ) -> ServiceResult<()> {
        let Some(saw) = expected else {
            return Ok(());
        };
        let what = format!(
            "the membership of {user} in «{}»",
            DisplayText::new(&m.name)
        );
        match ms {
            Some(ms) if ms.version == saw.0 => Ok(()),
            Some(ms) => {
                let last = versions_store::last_membership_change(conn, m.id, ms.user_id).await?;
                versions::check(expected, ms.version, &what, last)
            }
            None => {
                let last = versions_store::last_membership_change(conn, m.id, user).await?;
                Err(ServiceError::Conflict(format!(
                    "{what} is gone{} — nothing was written; review the current members",
                    last.map(|c| format!(": it was {}", versions::describe(&c)))
                        .unwrap_or_default()
                )))
            }
        }
    }

    /// The refusal of an add whose user is already a member: who added them (or last changed
    /// the membership) and when, from the audit — the form did not show them as a member.
    pub(super) async fn already_member(
        conn: &mut Conn,
        m: &Mandate,
        user: UserSub,
        email: &str,
    ) -> ServiceError {
        let last = versions_store::last_membership_change(conn, m.id, user)
            .await
            .ok()
            .flatten();
        ServiceError::Conflict(format!(
            "{} is already a member of «{}»{} — nothing was written",
            DisplayText::new(email),
            DisplayText::new(&m.name),
            last.map(|c| format!(" ({})", versions::describe(&c)))
                .unwrap_or_default()
        ))
    }

    /// The refusal of a bulk apply whose preview is stale: the latest membership change of the
    /// mandate (who, when, what — from the audit) is named.
    pub(super) async fn members_changed(conn: &mut Conn, m: &Mandate) -> ServiceError {
        let last = versions_store::last_members_change(conn, m.id)
            .await
            .ok()
            .flatten();
        ServiceError::Conflict(format!(
            "the members of {} changed since the preview{}; nothing was applied — preview again",
            DisplayText::new(&m.name),
            last.map(|(who, c)| format!(
                " (latest: the membership of {} was {})",
                DisplayText::new(&who),
                versions::describe(&c)
            ))
            .unwrap_or_default()
        ))
    }

    /// Removes a member only at the version the operator saw (never the last admin).
    pub async fn remove_member_expecting(
        &self,
        actor: &Actor,
        mandate: MandateId,
        user: UserSub,
        expected: Option<Version>,
    ) -> ServiceResult<()> {
        let only = MemberWrite {
            expected,
            ..Default::default()
        };
        self.change_membership_guarded(
            actor,
            mandate,
            user,
            AccessChange::Removed,
            &[],
            &only,
            None,
        )
        .await
    }

    /// Grants `add` and revokes `remove` of a member's mandate roles, keeping every other role
    /// as it is at the write; only at `expected` when given. Never demotes the last admin.
    pub async fn change_member_roles(
        &self,
        actor: &Actor,
        mandate: MandateId,
        user: UserSub,
        add: &[MandateRoleId],
        remove: &[MandateRoleId],
        expected: Option<Version>,
    ) -> ServiceResult<()> {
        let only = MemberWrite {
            delta: true,
            remove: remove.to_vec(),
            expected,
        };
        self.change_membership_guarded(
            actor,
            mandate,
            user,
            AccessChange::RolesChanged,
            add,
            &only,
            None,
        )
        .await
    }

    /// Enables or disables a membership only at the version the operator saw.
    pub async fn set_member_enabled_expecting(
        &self,
        actor: &Actor,
        mandate: MandateId,
        user: UserSub,
        enabled: bool,
        expected: Option<Version>,
    ) -> ServiceResult<()> {
        let change = if enabled {
            AccessChange::Enabled
        } else {
            AccessChange::Disabled
        };
        let only = MemberWrite {
            expected,
            ..Default::default()
        };
        self.change_membership_guarded(actor, mandate, user, change, &[], &only, None)
            .await
    }
}
