//! Global roles and permissions with their fixed UUIDs (FLIP `RoleRef` / `PermissionRef`).

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::{Uuid, uuid};

use super::ValidationError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PermissionRef {
    CanAccessAdminPanel,
    CanApproveProjects,
    CanCreateProjects,
    CanDeleteAnyProject,
    CanManageDeployments,
    CanManageProjects,
    CanManageSiteBanner,
    CanManageUsers,
    CanUnstageProjects,
}

impl PermissionRef {
    pub const ALL: [PermissionRef; 9] = [
        Self::CanAccessAdminPanel,
        Self::CanApproveProjects,
        Self::CanCreateProjects,
        Self::CanDeleteAnyProject,
        Self::CanManageDeployments,
        Self::CanManageProjects,
        Self::CanManageSiteBanner,
        Self::CanManageUsers,
        Self::CanUnstageProjects,
    ];

    pub const fn id(self) -> Uuid {
        match self {
            Self::CanAccessAdminPanel => uuid!("6d1da2d7-e510-488c-9085-8608cd817256"),
            Self::CanApproveProjects => uuid!("e2703e64-0186-4bc1-ac40-ba4ef63255ec"),
            Self::CanCreateProjects => uuid!("1140ab45-fefb-4a3b-b350-90dd84f9be4b"),
            Self::CanDeleteAnyProject => uuid!("fa2f251f-9d4d-4ba7-8dd1-becd9230dac0"),
            Self::CanManageDeployments => uuid!("4c9769ed-a939-4c73-b320-139f574368c3"),
            Self::CanManageProjects => uuid!("fc2f242e-848f-4983-ab14-fd3c5604535d"),
            Self::CanManageSiteBanner => uuid!("5a6c4185-6c90-4b26-bc87-f9436e2042b8"),
            Self::CanManageUsers => uuid!("f6dbd04e-d1ef-4cb7-84c2-c29fb35cf83b"),
            Self::CanUnstageProjects => uuid!("a695be07-23c7-448d-a5df-36c3f63ca29d"),
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Self::CanAccessAdminPanel => "CAN_ACCESS_ADMIN_PANEL",
            Self::CanApproveProjects => "CAN_APPROVE_PROJECTS",
            Self::CanCreateProjects => "CAN_CREATE_PROJECTS",
            Self::CanDeleteAnyProject => "CAN_DELETE_ANY_PROJECT",
            Self::CanManageDeployments => "CAN_MANAGE_DEPLOYMENTS",
            Self::CanManageProjects => "CAN_MANAGE_PROJECTS",
            Self::CanManageSiteBanner => "CAN_MANAGE_SITE_BANNER",
            Self::CanManageUsers => "CAN_MANAGE_USERS",
            Self::CanUnstageProjects => "CAN_UNSTAGE_PROJECTS",
        }
    }

    pub fn from_id(id: Uuid) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.id() == id)
    }
}

impl fmt::Display for PermissionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleRef {
    Admin,
    Researcher,
    Viewer,
}

impl RoleRef {
    pub const ALL: [RoleRef; 3] = [Self::Admin, Self::Researcher, Self::Viewer];

    pub const fn id(self) -> Uuid {
        match self {
            Self::Admin => uuid!("64d3145b-034c-4328-b637-8eb54313b7c5"),
            Self::Researcher => uuid!("10b64ed0-bc90-4c01-9cc3-933c704905c1"),
            Self::Viewer => uuid!("cdee79c9-a5e1-4b9e-a315-1ec2f3d29efe"),
        }
    }

    /// The name as the CLI and TUI take it.
    pub const fn key(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Researcher => "researcher",
            Self::Viewer => "viewer",
        }
    }

    /// The name stored in `roles.name`.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Admin => "Admin",
            Self::Researcher => "Researcher",
            Self::Viewer => "Viewer",
        }
    }

    /// The permissions the role grants (mirrors `role_permission` reference data).
    pub fn permissions(self) -> &'static [PermissionRef] {
        match self {
            Self::Admin => &PermissionRef::ALL,
            Self::Researcher => &[PermissionRef::CanCreateProjects],
            Self::Viewer => &[],
        }
    }

    pub fn from_id(id: Uuid) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.id() == id)
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let k = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|r| r.key() == k)
            .ok_or_else(|| ValidationError::UnknownRole(super::DisplayText::new(s).into_string()))
    }
}

impl fmt::Display for RoleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl std::str::FromStr for RoleRef {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Fixed ids of the global mandate role templates (migration 0002).
pub mod mandate_roles {
    use uuid::{Uuid, uuid};
    pub const ADMIN: Uuid = uuid!("9e0c1a52-5d1f-4f7e-9a55-0a4a1c2d3e01");
    pub const MEMBER: Uuid = uuid!("9e0c1a52-5d1f-4f7e-9a55-0a4a1c2d3e02");
    pub const VIEWER: Uuid = uuid!("9e0c1a52-5d1f-4f7e-9a55-0a4a1c2d3e03");
    /// The label that makes a mandate role an admin role.
    pub const ADMIN_LABEL: &str = "admin";
}
