//! Who acts: a signed-in operator (TUI) or the CLI under infrastructure credentials.

use std::collections::BTreeSet;

use sqlx::{PgConnection, PgPool};

use super::{ServiceError, ServiceResult};
use crate::domain::{PermissionRef, UserSub};
use crate::store::audit::AuditActor;

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

    /// The actor columns of an audit row — the one place they are derived.
    pub fn audit(&self) -> AuditActor<'_> {
        AuditActor {
            sub: self.audit_sub(),
            via: self.via().as_str(),
            os_user: self.os_user(),
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

/// The authority an actor holds at this moment, read inside the mutation's own transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authority {
    /// The CLI keeps every permission.
    all: bool,
    permissions: BTreeSet<PermissionRef>,
}

impl Authority {
    pub fn has(&self, p: PermissionRef) -> bool {
        self.all || self.permissions.contains(&p)
    }

    /// SysAdmin = holds CAN_ACCESS_ADMIN_PANEL now.
    pub fn is_sysadmin(&self) -> bool {
        self.has(PermissionRef::CanAccessAdminPanel)
    }
}

/// Fresh authority: re-reads the acting operator's standing inside the caller's transaction
/// (`conn` is that transaction) and refuses with [`ServiceError::OperatorRevoked`] when the
/// account is disabled or gone. The CLI actor keeps every permission.
///
/// Where the answer comes from, and why it can be trusted:
/// - **Grants** come from `user_role`, the authority for permissions (SPEC §4). A grant
///   removed by another operator is seen by the next statement after that change commits.
/// - **Disabled / deleted** come from the `directory_user` row — a cache, but one written in
///   the same transaction as the audit row by every disable, enable and delete made through
///   hubdeck, by `directory sync` from fresh directory reads, and by sign-in itself (a
///   successful authentication proves the identity exists and is enabled, so sign-in clears a
///   stale disabled/gone mark; see `Services::sign_in`). A mark present here is therefore never
///   older than the operator's session, so it is not a stale guess. A disable made outside
///   hubdeck (in the Cognito console) is seen after the next `directory sync`; calling the
///   directory from inside every transaction would hold locks across a network call.
/// - A deleted user also loses every grant and membership in the delete's transaction, so even
///   without the gone mark nothing is left to act with.
pub async fn fresh_authority(conn: &mut PgConnection, actor: &Actor) -> ServiceResult<Authority> {
    let op = match actor {
        Actor::Cli { .. } => {
            return Ok(Authority {
                all: true,
                permissions: PermissionRef::ALL.into_iter().collect(),
            });
        }
        Actor::Operator(op) => op,
    };
    let standing = crate::store::grants::standing(conn, op.sub).await?;
    let who = crate::domain::DisplayText::new(&op.email);
    if standing.gone == Some(true) {
        return Err(ServiceError::OperatorRevoked(format!(
            "your account {who} has been deleted; you are signed out"
        )));
    }
    if standing.enabled == Some(false) {
        return Err(ServiceError::OperatorRevoked(format!(
            "your account {who} has been disabled; you are signed out"
        )));
    }
    Ok(Authority {
        all: false,
        permissions: standing
            .permissions
            .into_iter()
            .filter_map(PermissionRef::from_id)
            .collect(),
    })
}

/// The refusal when the actor lacks `p` now: [`ServiceError::OperatorRevoked`] when they held
/// it at sign-in (their grant was removed since), [`ServiceError::Denied`] otherwise.
pub fn lacks(actor: &Actor, p: PermissionRef, what: &str) -> ServiceError {
    if actor.has(p) {
        ServiceError::OperatorRevoked(format!(
            "{what} refused: your grants no longer include {p} (they changed since you signed \
             in); you are signed out"
        ))
    } else {
        ServiceError::Denied(format!("{what} requires {p}"))
    }
}

/// [`fresh_authority`] plus the check that the actor holds `p` now. Every mutating service
/// function calls this (or [`fresh_authority`]) inside its own transaction, before it writes.
pub async fn authorize(
    conn: &mut PgConnection,
    actor: &Actor,
    p: PermissionRef,
    what: &str,
) -> ServiceResult<Authority> {
    let a = fresh_authority(conn, actor).await?;
    if a.has(p) {
        Ok(a)
    } else {
        Err(lacks(actor, p, what))
    }
}
