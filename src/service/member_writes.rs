//! Membership writes conditional on what the operator saw: a member's roles changed by what
//! was added and removed against the set the form showed (a role granted meanwhile by another
//! operator is kept), and any membership change only at the version the operator saw.

use super::members::AccessChange;
use super::versions::{self, Version};
use super::{Actor, ServiceResult, Services};
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
    /// Refuses, under the membership's row lock, a change based on another version.
    pub(super) async fn check_membership_version(
        conn: &mut Conn,
        m: &Mandate,
        ms: &Membership,
        expected: Option<Version>,
    ) -> ServiceResult<()> {
        if expected.is_none_or(|v| v.0 == ms.version) {
            return Ok(());
        }
        let last = versions_store::last_membership_change(conn, m.id, ms.user_id).await?;
        let what = format!(
            "the membership of {} in «{}»",
            ms.user_id,
            DisplayText::new(&m.name)
        );
        versions::check(expected, ms.version, &what, last)
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
