//! What the console's Roles forms read: the roles on offer and the roles held right now, so
//! every form opens with the truth ticked and never offers less than the subject holds.

use super::{Actor, ServiceResult, Services};
use crate::domain::{MandateId, PermissionRef, RoleRef, UserSub};
use crate::store::grants;
use crate::store::members::{self as store, MandateRole};

/// The member Roles form's choices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRoleChoices {
    /// Global templates and the mandate's own roles, then any role the member holds that is
    /// neither (so saving cannot silently drop it).
    pub offered: Vec<MandateRole>,
    /// What the member holds now (empty for a new member).
    pub held: Vec<MandateRole>,
}

impl Services {
    /// The global roles `sub` holds now (known roles only), read fresh from the grants.
    pub async fn user_roles(&self, actor: &Actor, sub: UserSub) -> ServiceResult<Vec<RoleRef>> {
        self.fresh_read(
            actor,
            Some(PermissionRef::CanManageUsers),
            "reading a user's roles",
        )
        .await?;
        let ids = grants::roles_of(&self.db, sub).await?;
        let mut roles: Vec<RoleRef> = ids.into_iter().filter_map(RoleRef::from_id).collect();
        roles.sort();
        roles.dedup();
        Ok(roles)
    }

    /// The roles assignable in `mandate` and those `user` holds there (none for `None`).
    pub async fn member_role_choices(
        &self,
        actor: &Actor,
        mandate: MandateId,
        user: Option<UserSub>,
    ) -> ServiceResult<MemberRoleChoices> {
        // mandate_roles checks that the actor may manage this mandate's members.
        let mut offered = self.mandate_roles(actor, mandate).await?;
        let held = match user {
            Some(u) => store::held_roles(&self.db, mandate, u).await?,
            None => Vec::new(),
        };
        for h in &held {
            if !offered.iter().any(|o| o.id == h.id) {
                offered.push(h.clone());
            }
        }
        Ok(MemberRoleChoices { offered, held })
    }
}
