//! Register a user: a saga with a durable journal (`registration`) and rollback,
//! plus the on-call repair of stuck registrations.
//!
//! Order: validate → journal `pending` (refused by the database when the email already has an
//! open registration — before any directory call) → create the identity (ONE attempt on the
//! wire, marked with the registration id where the directory can hold it) → journal
//! `identity_created` with the sub → confirm with a strongly consistent read → ONE transaction
//! for grants + profile + audit + state `complete`.
//!
//! A create whose answer was lost is *indeterminate*: it is resolved by a strongly consistent
//! read by username plus proof of authorship ([`proven`]: the marker equals this registration's
//! id, or the sub is the one recorded on the journal). Ours → continue; absent → create once
//! more; someone else's (or unprovable) → `conflict` with the evidence, nothing deleted or
//! adopted. Reconcile of `pending` rows uses the same proof — never timestamps.
//!
//! Every state change is an edge of `domain::registration::TRANSITIONS`, written
//! compare-and-set. Every operation on one registration (the saga itself, retry, rollback,
//! resolve, reconcile) holds that registration's lease (`store::registrations::try_lease`, a
//! row with an expiry, see [`lease`]) for the whole directory call + database write; a second
//! operator is told who is repairing it since when (a conflict, exit 3). Each of them re-reads
//! the operator's authority in its own transaction before it acts ([`authority`]).
//!
//! Failure classification ([`classify`] for the directory, [`crate::store::Transience`] for the
//! database): transient → keep the identity, `roles_pending` ([`roles_write`]); definitive →
//! roll back only what this saga provably created ([`rollback`]), `rolled_back` (or
//! `needs_cleanup` when the rollback fails, with both causes).
//!
//! Cancelling (the console drops the task): safe before the directory call starts (only a
//! `pending` journal row may be left, which `reconcile` settles with the same proof of
//! authorship); once the create is on the wire a drop is a lost answer — the journal says
//! `pending` or `identity_created` and the repair path (`retry`, `reconcile`) finishes it. The
//! console therefore offers no cancel key for a running registration; it is never needed for
//! correctness, only for patience.
//!
//! Files: `saga` (the register path), `compensate` (undoing what this saga itself created),
//! `repair` (the on-call operations), `classify` (failure classes, proof of authorship), and
//! what they share: `lease`, `authority`, `roles_write`, `rollback`.
//!
//! Test-only failpoint: with `HUBDECK_FAILPOINT=after_identity_created` the process aborts
//! right after the directory created the identity (before the journal records the sub);
//! with `HUBDECK_FAILPOINT=before_roles_written` it aborts after the journal records
//! `identity_created` and before roles are written. Used by the crash-safety tests.

mod authority;
mod classify;
mod compensate;
mod guarded;
mod lease;
mod repair;
mod roles_write;
mod rollback;
mod saga;

pub use lease::being_repaired;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{ServiceError, ServiceResult};
use crate::domain::error::bounded_text;
use crate::domain::{DisplayText, Email, RegistrationId, RoleRef, UserSub};
use crate::store::registrations::TransitionError;
pub use crate::store::registrations::{Registration, RegistrationState};

pub use classify::{FailureClass, Step, classify, proven};

/// Profile fields are 1–255 characters.
pub const PROFILE_MAX: usize = 255;

/// Unvalidated input from the TUI form or the CLI.
#[derive(Clone, Debug)]
pub struct RegisterRequest {
    pub email: String,
    pub name: String,
    pub organisation: String,
    pub roles: Vec<RoleRef>,
    pub suppress_invite: bool,
}

/// The end of a registration that left an identity in the directory.
#[derive(Clone, Debug, Serialize)]
pub struct RegisterOutcome {
    pub registration_id: RegistrationId,
    pub sub: Option<UserSub>,
    pub email: String,
    pub state: RegistrationState,
    pub roles: Vec<RoleRef>,
    /// What the operator is told (plain words).
    pub message: String,
}

fn failpoint(name: &str) {
    if std::env::var("HUBDECK_FAILPOINT").is_ok_and(|v| v == name) {
        tracing::error!("HUBDECK_FAILPOINT={name}: aborting the process (test failpoint)");
        std::process::abort();
    }
}

/// Validated registration input.
struct Validated {
    email: Email,
    name: String,
    organisation: String,
    roles: Vec<RoleRef>,
}

fn validate(req: &RegisterRequest) -> ServiceResult<Validated> {
    let email = Email::parse(&req.email)?;
    let name = bounded_text("name", &req.name, PROFILE_MAX)?;
    let organisation = bounded_text("organisation", &req.organisation, PROFILE_MAX)?;
    let mut roles = req.roles.clone();
    roles.sort();
    roles.dedup();
    Ok(Validated {
        email,
        name,
        organisation,
        roles,
    })
}

fn role_ids(roles: &[RoleRef]) -> Vec<Uuid> {
    roles.iter().map(|r| r.id()).collect()
}

fn roles_from_ids(ids: &[Uuid]) -> Vec<RoleRef> {
    ids.iter().filter_map(|id| RoleRef::from_id(*id)).collect()
}

fn show(s: &str) -> String {
    DisplayText::new(s).into_string()
}

/// "42 s", "5 min", "3 h", "2 d".
fn age(since: DateTime<Utc>) -> String {
    let secs = (Utc::now() - since).num_seconds().max(0);
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

impl From<TransitionError> for ServiceError {
    fn from(e: TransitionError) -> Self {
        match e {
            TransitionError::Store(s) => s.into(),
            other => ServiceError::Conflict(other.to_string()),
        }
    }
}
