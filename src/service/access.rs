//! What reading each area of the hub needs: the one table the service's read checks use and the
//! console's tabs ask (a tab the operator may not read is shown greyed, with the reason).

use super::{Actor, ServiceResult};
use crate::domain::PermissionRef;

/// An area an operator reads: a list and its detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// Mandates: everyone signed in (a SysAdmin sees all, a mandate admin their own).
    Mandates,
    Users,
    Registrations,
    Drift,
    Trusts,
    KitSlots,
    Audit,
    /// Changes waiting for a second operator.
    Approvals,
}

impl Area {
    /// The permission reading this area needs (None: decided per row, as for mandates).
    pub fn read_permission(self) -> Option<PermissionRef> {
        match self {
            Area::Mandates => None,
            Area::Users | Area::Registrations | Area::Drift | Area::Approvals => {
                Some(PermissionRef::CanManageUsers)
            }
            Area::Trusts | Area::KitSlots | Area::Audit => Some(PermissionRef::CanAccessAdminPanel),
        }
    }

    /// How a refusal to read this area is explained.
    pub fn needs(self) -> &'static str {
        match self.read_permission() {
            None => "",
            Some(PermissionRef::CanManageUsers) => "requires CAN_MANAGE_USERS",
            Some(_) => "requires a SysAdmin (CAN_ACCESS_ADMIN_PANEL)",
        }
    }

    /// Refuses (before any query) unless the actor may read this area.
    pub fn require_read(self, actor: &Actor, what: &str) -> ServiceResult<()> {
        match self.read_permission() {
            Some(p) => actor.require(p, what),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_guarded_area_names_what_it_needs() {
        for a in [
            Area::Users,
            Area::Registrations,
            Area::Drift,
            Area::Trusts,
            Area::KitSlots,
            Area::Audit,
        ] {
            assert!(a.read_permission().is_some(), "{a:?}");
            assert!(a.needs().starts_with("requires"), "{a:?}");
        }
        assert_eq!(Area::Mandates.read_permission(), None);
        assert_eq!(
            Area::Audit.read_permission(),
            Area::Trusts.read_permission()
        );
    }
}
