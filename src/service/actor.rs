//! Who acts: an operator signed in to the console, an operator signed in to the CLI with
//! `hubdeck login`, or the CLI as infrastructure (explicitly allowed and asked for).

use crate::store::{Conn, Db};
use std::collections::BTreeSet;

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
    /// A CLI command of the operator signed in with `hubdeck login`: their grants, audited as
    /// them with `via = cli` and the OS account the command ran as.
    CliOperator {
        operator: Operator,
        os_user: String,
    },
    /// The CLI as infrastructure (`--as-infrastructure` where `cli.infrastructure` allows it):
    /// every permission, audit actor NULL, `via = cli` plus the real OS account.
    Cli {
        os_user: String,
    },
}

impl Actor {
    /// The infrastructure actor for the current OS account (see [`os_account`]).
    pub fn cli() -> Self {
        Actor::Cli {
            os_user: os_account(),
        }
    }

    /// Audit actor column value (NULL for infrastructure).
    pub fn audit_sub(&self) -> Option<UserSub> {
        self.operator().map(|o| o.sub)
    }

    pub fn via(&self) -> Via {
        match self {
            Actor::Operator(_) => Via::Tui,
            Actor::CliOperator { .. } | Actor::Cli { .. } => Via::Cli,
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
            Actor::CliOperator { os_user, .. } | Actor::Cli { os_user } => Some(os_user),
        }
    }

    pub fn has(&self, p: PermissionRef) -> bool {
        match self.operator() {
            Some(o) => o.permissions.contains(&p),
            None => true,
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
            Actor::Operator(o) | Actor::CliOperator { operator: o, .. } => {
                crate::domain::DisplayText::new(&o.email).into_string()
            }
            Actor::Cli { os_user } => format!("cli:{os_user}"),
        }
    }

    /// The signed-in operator behind this actor (console or CLI); `None` for infrastructure.
    pub fn operator(&self) -> Option<&Operator> {
        match self {
            Actor::Operator(o) | Actor::CliOperator { operator: o, .. } => Some(o),
            Actor::Cli { .. } => None,
        }
    }
}

/// Loads an operator's permissions from their global grants.
pub async fn load_operator(db: &Db, sub: UserSub, email: &str) -> ServiceResult<Operator> {
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
    /// Infrastructure keeps every permission.
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
/// account is disabled or gone. The infrastructure actor keeps every permission.
///
/// Where the answer comes from, and why it can be trusted:
/// - **Grants** come from `user_role`, the authority for permissions. A grant
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
pub async fn fresh_authority(conn: &mut Conn, actor: &Actor) -> ServiceResult<Authority> {
    let Some(op) = actor.operator() else {
        return Ok(Authority {
            all: true,
            permissions: PermissionRef::ALL.into_iter().collect(),
        });
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
    conn: &mut Conn,
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

/// Longest account name kept in an audit row; longer names are not real account names.
const MAX_ACCOUNT_NAME: usize = 64;

/// The OS account a CLI command runs as, for the audit trail: the name of the effective uid
/// from the password database, never `$USER`/`$LOGNAME` (any caller can set those to any name).
/// Under `sudo`, the invoking account (`SUDO_USER`, which sudo itself sets) is recorded beside
/// it — "hubdeck (sudo from alice)" — so a shared service account still names the person.
/// Both names are checked (printable, bounded) before they reach the audit trail.
pub fn os_account() -> String {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let name = account_name(uid)
        .filter(|n| plausible_account(n))
        .unwrap_or_else(|| format!("uid:{uid}"));
    match invoking_account() {
        Some(from) if from != name => format!("{name} (sudo from {from})"),
        _ => name,
    }
}

/// The account that ran `sudo`, when this process was started by it (`SUDO_USER`), validated.
pub fn invoking_account() -> Option<String> {
    std::env::var("SUDO_USER")
        .ok()
        .filter(|n| plausible_account(n))
}

/// The account name this process acts for: the sudo caller when started by sudo, else the
/// effective account. Per-person state (the CLI session file) is keyed by it.
pub fn acting_person() -> String {
    invoking_account().unwrap_or_else(|| {
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        account_name(uid)
            .filter(|n| plausible_account(n))
            .unwrap_or_else(|| format!("uid{uid}"))
    })
}

/// A name fit for the audit trail: 1–64 printable ASCII characters, no spaces (what
/// `useradd` accepts, and nothing that could fake a second name or reach a terminal raw).
fn plausible_account(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ACCOUNT_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'(' && b != b')')
}

/// The password database's name for `uid` (`getpwuid_r`, thread-safe).
fn account_name(uid: libc::uid_t) -> Option<String> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: `pwd` is plain old data; getpwuid_r writes into it and into `buf` (whose
        // length we pass) and sets `result` to `&pwd` on success or null when not found.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name points to a NUL-terminated string inside `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        return name.to_str().ok().map(str::to_string);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_are_checked() {
        assert!(plausible_account("alice"));
        assert!(plausible_account("svc-hubdeck_1.x"));
        assert!(!plausible_account(""));
        assert!(!plausible_account("bob (sudo from root)"));
        assert!(!plausible_account("evil\u{1b}[2J"));
        assert!(!plausible_account(&"a".repeat(65)));
    }

    #[test]
    fn the_effective_account_comes_from_the_password_database() {
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        let name = account_name(uid).expect("the test runs as an account with a passwd entry");
        assert!(plausible_account(&name), "{name:?}");
    }
}
