//! On-call's view of one registration: id, email, sub, state with a one-line
//! meaning and the next step, both causes (the failure and, for `needs_cleanup`, the
//! rollback's own error), age and who started it, and which repairs the state allows.
//! The texts are plain language for the console; the CLI keeps its own remedies (flags).

use crate::service::access::Area;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Actor, ServiceResult, Services};
use crate::domain::registration::RegistrationState as S;
use crate::domain::{RegistrationId, RegistrationState, RoleRef, UserSub};
use crate::store::audit as audit_store;

/// A repair an operator can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationRepair {
    /// Finish the role assignment (idempotent).
    Retry,
    /// Delete only the identity this registration provably created.
    RollBack,
    /// Record the operator's decision with a note.
    Resolve,
}

impl RegistrationRepair {
    pub fn label(self) -> &'static str {
        match self {
            Self::Retry => "Retry the role assignment",
            Self::RollBack => "Roll back (delete the identity this registration created)",
            Self::Resolve => "Mark resolved with a note",
        }
    }
}

/// Everything the registration detail shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegistrationDetail {
    pub id: RegistrationId,
    pub email: String,
    pub sub: Option<UserSub>,
    pub state: RegistrationState,
    /// One line: what the state means.
    pub meaning: &'static str,
    /// One line: what to do next, in the console's words.
    pub next_step: &'static str,
    /// Why it stopped (the failure that left it here).
    pub cause: Option<String>,
    /// For `needs_cleanup`: why the rollback itself failed.
    pub rollback_cause: Option<String>,
    pub note: Option<String>,
    pub requested_roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Seconds since the registration started.
    pub age_seconds: i64,
    /// "3 h 12 min" and the like.
    pub age: String,
    /// The operator's email (or `cli (OS user)`), the id when unknown.
    pub started_by: String,
    /// The repairs the state allows, in the order the console offers them.
    pub repairs: Vec<RegistrationRepair>,
    /// Who holds the registration's lease right now and since when ("alice@example.org since
    /// 2026-12-07 17:41:52 UTC"): a repair asked for meanwhile is refused.
    pub being_repaired_by: Option<String>,
    /// The journal row's version: a repair confirmed from this detail is conditional on it.
    pub version: i64,
}

/// (meaning, next step) of each state, for the console.
pub fn explain(state: RegistrationState) -> (&'static str, &'static str) {
    match state {
        S::Pending => (
            "Started, but the directory has not confirmed the new identity yet.",
            "Retry: the identity is looked up first, and roles are assigned if it is ours.",
        ),
        S::IdentityCreated => (
            "The identity exists and is ours; its roles are not written yet.",
            "Retry to write the roles, or roll back to remove the identity.",
        ),
        S::RolesPending => (
            "The identity exists, but assigning its roles failed for a passing reason.",
            "Retry to finish the roles; nothing is lost by retrying twice.",
        ),
        S::Complete => (
            "Done: identity, roles, profile and audit are written.",
            "Nothing to do.",
        ),
        S::RolledBack => (
            "Undone: what this registration created was removed.",
            "Nothing to do; register the user again if they still need access.",
        ),
        S::NeedsCleanup => (
            "The registration failed and removing its identity failed too.",
            "Roll back again once the directory answers, or resolve it with a note after \
             removing the identity by hand.",
        ),
        S::Resolved => ("An operator closed it with a note.", "Nothing to do."),
        S::Conflict => (
            "The directory holds an identity for this email that hubdeck cannot prove it \
             created; it was neither used nor deleted.",
            "Check who owns that identity, then resolve with a note saying what you decided.",
        ),
    }
}

/// The repairs the state allows (the transition table decides; these are its exits).
pub fn repairs(state: RegistrationState) -> Vec<RegistrationRepair> {
    use RegistrationRepair as R;
    match state {
        S::Pending | S::IdentityCreated | S::RolesPending => {
            vec![R::Retry, R::RollBack, R::Resolve]
        }
        S::NeedsCleanup => vec![R::RollBack, R::Resolve],
        S::Conflict => vec![R::Resolve],
        S::Complete | S::RolledBack | S::Resolved => Vec::new(),
    }
}

/// "45 s", "12 min", "3 h 12 min", "2 d 4 h".
pub fn age_text(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

impl Services {
    /// The on-call detail of one registration.
    pub async fn registration_detail(
        &self,
        actor: &Actor,
        id: RegistrationId,
    ) -> ServiceResult<RegistrationDetail> {
        self.read_area(actor, Area::Registrations, "reading a registration")
            .await?;
        let r = self.registration(actor, id).await?;
        let state = r.state();
        let (meaning, next_step) = explain(state);
        let started_by = match (r.actor_user_id, &r.os_user) {
            (Some(sub), _) => audit_store::known_users(&self.db, &[sub.0])
                .await?
                .into_iter()
                .find_map(|k| k.email.or(k.name))
                .unwrap_or_else(|| sub.to_string()),
            (None, Some(os)) => format!("{} ({os})", r.via),
            (None, None) => r.via.clone(),
        };
        let age_seconds = (Utc::now() - r.created_at).num_seconds();
        Ok(RegistrationDetail {
            id: r.id,
            email: r.email,
            sub: r.sub,
            state,
            meaning,
            next_step,
            cause: r.last_error,
            rollback_cause: r.rollback_error,
            note: r.note,
            requested_roles: r
                .requested_roles
                .iter()
                .map(|id| {
                    RoleRef::from_id(*id)
                        .map(|r| r.label().to_string())
                        .unwrap_or_else(|| id.to_string())
                })
                .collect(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
            age_seconds,
            age: age_text(age_seconds),
            started_by,
            repairs: repairs(state),
            being_repaired_by: crate::store::registrations::live_lease(&self.db, id)
                .await?
                .map(|l| {
                    format!(
                        "{} since {}",
                        crate::domain::DisplayText::new(&l.holder),
                        l.since.format("%Y-%m-%d %H:%M:%S UTC")
                    )
                }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_is_explained_without_cli_flags() {
        for s in RegistrationState::ALL {
            let (m, n) = explain(s);
            assert!(!m.is_empty() && !n.is_empty());
            assert!(
                !m.contains("--") && !n.contains("--") && !n.contains("hubdeck "),
                "{s:?}"
            );
        }
    }

    #[test]
    fn repairs_follow_the_transition_table() {
        use crate::domain::registration::TRANSITIONS;
        for s in RegistrationState::ALL {
            for r in repairs(s) {
                let to = match r {
                    RegistrationRepair::Retry => S::Complete,
                    RegistrationRepair::RollBack => S::RolledBack,
                    RegistrationRepair::Resolve => S::Resolved,
                };
                // Pending reaches Complete through IdentityCreated (reconcile first).
                let ok = TRANSITIONS.contains(&(s, to)) || (s == S::Pending && to == S::Complete);
                assert!(ok, "{s:?} offers {r:?}");
            }
        }
    }

    #[test]
    fn ages() {
        assert_eq!(age_text(45), "45 s");
        assert_eq!(age_text(12 * 60 + 5), "12 min");
        assert_eq!(age_text(3 * 3600 + 12 * 60), "3 h 12 min");
        assert_eq!(age_text(2 * 86_400 + 4 * 3600), "2 d 4 h");
    }
}
