//! Who acts: a signed-in operator (TUI) or the CLI under infrastructure credentials.

use std::collections::BTreeSet;

use sqlx::PgPool;

use super::{ServiceError, ServiceResult};
use crate::domain::{PermissionRef, UserSub};

/// The `via` column of audit rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Tui,
    Cli,
    System,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Tui => "tui",
            Via::Cli => "cli",
            Via::System => "system",
        }
    }
}

/// A signed-in operator and the permissions their global grants give.
#[derive(Clone, Debug)]
pub struct Operator {
    pub sub: UserSub,
    pub email: String,
    pub permissions: BTreeSet<PermissionRef>,
}

#[derive(Clone, Debug)]
pub enum Actor {
    Operator(Operator),
    /// CLI commands run under the operator's infrastructure credentials: every permission,
    /// audit actor NULL, `via = cli` plus the OS user name.
    Cli {
        os_user: String,
    },
}

impl Actor {
    /// The CLI actor for the current OS user.
    pub fn cli() -> Self {
        let os_user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| {
                // SAFETY: geteuid has no preconditions.
                format!("uid:{}", unsafe { libc::geteuid() })
            });
        Actor::Cli { os_user }
    }

    /// Audit actor column value (NULL for the CLI).
    pub fn audit_sub(&self) -> Option<UserSub> {
        match self {
            Actor::Operator(o) => Some(o.sub),
            Actor::Cli { .. } => None,
        }
    }

    pub fn via(&self) -> Via {
        match self {
            Actor::Operator(_) => Via::Tui,
            Actor::Cli { .. } => Via::Cli,
        }
    }

    pub fn os_user(&self) -> Option<&str> {
        match self {
            Actor::Operator(_) => None,
            Actor::Cli { os_user } => Some(os_user),
        }
    }

    pub fn has(&self, p: PermissionRef) -> bool {
        match self {
            Actor::Operator(o) => o.permissions.contains(&p),
            Actor::Cli { .. } => true,
        }
    }

    /// SysAdmin = holds CAN_ACCESS_ADMIN_PANEL.
    pub fn is_sysadmin(&self) -> bool {
        self.has(PermissionRef::CanAccessAdminPanel)
    }

    /// Refuses (before any side effect) unless the actor holds `p`.
    pub fn require(&self, p: PermissionRef, what: &str) -> ServiceResult<()> {
        if self.has(p) {
            Ok(())
        } else {
            Err(ServiceError::Denied(format!("{what} requires {p}")))
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Actor::Operator(o) => crate::domain::DisplayText::new(&o.email).into_string(),
            Actor::Cli { os_user } => format!("cli:{os_user}"),
        }
    }
}

/// Loads an operator's permissions from their global grants.
pub async fn load_operator(db: &PgPool, sub: UserSub, email: &str) -> ServiceResult<Operator> {
    let ids = crate::store::grants::permissions_of(db, sub).await?;
    let permissions = ids.into_iter().filter_map(PermissionRef::from_id).collect();
    Ok(Operator {
        sub,
        email: email.to_string(),
        permissions,
    })
}
