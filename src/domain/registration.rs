//! The registration saga's states and THE table of allowed transitions.
//!
//! The store refuses every transition that is not in [`TRANSITIONS`] and performs the allowed
//! ones as compare-and-set (`UPDATE … WHERE id = $1 AND state = $expected`), so two actors on
//! one registration can never both move it, and nothing moves along an edge not listed here.

use serde::Serialize;

/// The saga's states (the `registration.state` CHECK constraint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationState {
    /// Journal written; the directory has not (provably) created the identity yet.
    Pending,
    /// The identity exists, proven ours, and its `sub` is recorded; roles not written yet.
    IdentityCreated,
    /// A transient failure after creation: the identity is kept, roles can be completed later.
    RolesPending,
    /// Grants, profile, audit written.
    Complete,
    /// A definitive failure: what this saga created was removed (or nothing was created).
    RolledBack,
    /// The rollback itself failed: manual cleanup needed (both causes recorded).
    NeedsCleanup,
    /// An operator marked the row resolved with a note.
    Resolved,
    /// The directory holds an identity for this email that the saga cannot prove it created:
    /// never adopted, never deleted; the evidence is recorded for an operator to decide.
    Conflict,
}

use RegistrationState as S;

/// Every allowed transition (from, to). Anything else is refused by the store.
pub const TRANSITIONS: &[(RegistrationState, RegistrationState)] = &[
    // Phase 1: the create (or the reconcile of a pending row) proved the identity ours.
    (S::Pending, S::IdentityCreated),
    // Nothing was created (definitive refusal, "already exists", reconcile found no identity).
    (S::Pending, S::RolledBack),
    // An identity for the email exists and is not provably ours.
    (S::Pending, S::Conflict),
    (S::Pending, S::Resolved),
    // Phase 2.
    (S::IdentityCreated, S::RolesPending),
    (S::IdentityCreated, S::Complete),
    (S::IdentityCreated, S::RolledBack),
    (S::IdentityCreated, S::NeedsCleanup),
    (S::IdentityCreated, S::Conflict),
    (S::IdentityCreated, S::Resolved),
    // Repair of a transient phase-2 failure.
    (S::RolesPending, S::Complete),
    (S::RolesPending, S::RolledBack),
    (S::RolesPending, S::NeedsCleanup),
    (S::RolesPending, S::Conflict),
    (S::RolesPending, S::Resolved),
    // Repair of a failed rollback.
    (S::NeedsCleanup, S::RolledBack),
    (S::NeedsCleanup, S::Resolved),
    // An operator's decision on a conflict.
    (S::Conflict, S::Resolved),
];

impl RegistrationState {
    pub const ALL: [RegistrationState; 8] = [
        S::Pending,
        S::IdentityCreated,
        S::RolesPending,
        S::Complete,
        S::RolledBack,
        S::NeedsCleanup,
        S::Resolved,
        S::Conflict,
    ];

    /// Open (non-terminal) states: at most one registration per email may be in one of them
    /// (the `registration_one_open_per_email` partial unique index uses exactly this list).
    pub const OPEN: [RegistrationState; 4] = [
        S::Pending,
        S::IdentityCreated,
        S::RolesPending,
        S::NeedsCleanup,
    ];

    /// What the on-call list shows: the open states and conflicts awaiting a decision.
    pub const STUCK: [RegistrationState; 5] = [
        S::Pending,
        S::IdentityCreated,
        S::RolesPending,
        S::NeedsCleanup,
        S::Conflict,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            S::Pending => "pending",
            S::IdentityCreated => "identity_created",
            S::RolesPending => "roles_pending",
            S::Complete => "complete",
            S::RolledBack => "rolled_back",
            S::NeedsCleanup => "needs_cleanup",
            S::Resolved => "resolved",
            S::Conflict => "conflict",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Non-terminal (see [`Self::OPEN`]).
    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }

    /// Shown on the on-call list (see [`Self::STUCK`]).
    pub fn is_stuck(self) -> bool {
        Self::STUCK.contains(&self)
    }

    /// No transition leaves a terminal state.
    pub fn is_terminal(self) -> bool {
        !TRANSITIONS.iter().any(|(from, _)| *from == self)
    }

    /// Whether `self → to` is in [`TRANSITIONS`].
    pub fn can_move_to(self, to: RegistrationState) -> bool {
        TRANSITIONS.contains(&(self, to))
    }
}

impl std::fmt::Display for RegistrationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in RegistrationState::ALL {
            assert_eq!(RegistrationState::parse(s.as_str()), Some(s));
        }
        assert_eq!(RegistrationState::parse("nonsense"), None);
    }

    #[test]
    fn terminal_states_are_exactly_the_closed_ones() {
        let terminal: Vec<_> = RegistrationState::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal, vec![S::Complete, S::RolledBack, S::Resolved]);
        // Every open state can still move; conflict only to resolved.
        for s in RegistrationState::OPEN {
            assert!(!s.is_terminal(), "{s}");
        }
        assert!(!S::Conflict.is_open());
        assert!(S::Conflict.can_move_to(S::Resolved));
        assert!(!S::Conflict.can_move_to(S::RolledBack));
    }

    #[test]
    fn no_self_loops_and_no_way_back_to_pending() {
        for (from, to) in TRANSITIONS {
            assert_ne!(from, to);
            assert_ne!(*to, S::Pending, "{from} → pending");
        }
        // Nothing undoes a completion or a rollback.
        for to in RegistrationState::ALL {
            assert!(!S::Complete.can_move_to(to));
            assert!(!S::RolledBack.can_move_to(to));
            assert!(!S::Resolved.can_move_to(to));
        }
        // Only proof (phase 1) leads to identity_created.
        let into_created: Vec<_> = TRANSITIONS
            .iter()
            .filter(|(_, to)| *to == S::IdentityCreated)
            .collect();
        assert_eq!(into_created, vec![&(S::Pending, S::IdentityCreated)]);
    }
}
