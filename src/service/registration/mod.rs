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
//! Test-only failpoint: with `HUBDECK_FAILPOINT=after_identity_created` the process aborts
//! right after the directory created the identity (before the journal records the sub);
//! with `HUBDECK_FAILPOINT=before_roles_written` it aborts after the journal records
//! `identity_created` and before roles are written. Used by the crash-safety tests.

mod authority;
mod lease;
mod roles_write;
mod rollback;

pub use lease::being_repaired;
use rollback::RollbackFailure;

use crate::service::access::Area;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::actor::authorize;
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::directory::{DirectoryError, Identity, Invite, NewIdentity, UserKey};
use crate::domain::error::bounded_text;
use crate::domain::{DisplayText, Email, PermissionRef, RegistrationId, RoleRef, UserSub};
use crate::store::registrations::{
    self, Change, NewRegistration, ONE_OPEN_PER_EMAIL, TransitionError,
};
pub use crate::store::registrations::{Registration, RegistrationState};
use crate::store::{directory_cache, users as ustore};

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

/// Which directory step failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Create,
    /// The existence check right after creation (AdminGetUser).
    ConfirmRead,
    Other,
}

/// The ONE failure classification of the saga.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureClass {
    /// 5xx, throttling, timeouts, connection errors, and a not-found on the existence check
    /// right after creation (propagation lag): may succeed later; never roll back.
    Transient,
    /// Every other 4xx, validation and constraint errors, anything unexpected.
    Definitive,
}

pub fn classify(err: &DirectoryError, step: Step) -> FailureClass {
    if err.is_transient() {
        return FailureClass::Transient;
    }
    match (err, step) {
        (DirectoryError::NotFound(_), Step::ConfirmRead) => FailureClass::Transient,
        _ => FailureClass::Definitive,
    }
}

/// Proof of authorship: `identity` was created by the saga of `journal` — it carries the
/// journal's id as its marker, or it is the sub the journal recorded from a create answer.
/// Nothing else (no timestamps, no email match) counts.
pub fn proven(identity: &Identity, journal: &Registration) -> bool {
    let id = journal.id.to_string();
    identity.registration_marker.as_deref() == Some(id.as_str())
        || journal.sub == Some(identity.sub)
}

/// What a strongly consistent read by username says about a registration's identity.
enum Found {
    Ours(Identity),
    Stranger(Identity),
    Absent,
    Unknown(DirectoryError),
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

fn evidence(
    journal: &Registration,
    found: &Identity,
    reason: &str,
    cause: Option<&str>,
) -> serde_json::Value {
    serde_json::json!({
        "reason": reason,
        "registration_id": journal.id,
        "email": journal.email,
        "recorded_sub": journal.sub,
        "found_sub": found.sub,
        "found_username": found.username,
        "found_status": found.status.as_str(),
        "found_enabled": found.enabled,
        "found_created_at": found.created_at,
        "found_marker": found.registration_marker,
        "call_started_at": journal.call_started_at,
        "call_finished_at": journal.call_finished_at,
        "cause": cause,
    })
}

impl Services {
    /// Registers a user: identity in the directory, then roles + profile + audit.
    /// `Ok` when the identity exists afterwards (`complete`, or `roles_pending` after a
    /// transient failure — the message says so); `Err` when nothing was kept.
    pub async fn register_user(
        &self,
        actor: &Actor,
        req: &RegisterRequest,
    ) -> ServiceResult<RegisterOutcome> {
        actor.require(PermissionRef::CanManageUsers, "registering a user")?;
        self.ensure_writable("register user")?;
        let v = validate(req)?;
        // An operator may only grant roles whose permissions they hold themselves.
        for r in &v.roles {
            for p in r.permissions() {
                actor.require(*p, &format!("granting the {r} role"))?;
            }
        }
        let ids = role_ids(&v.roles);
        // The lease is taken before the row exists: nobody can act on the new registration
        // until this saga has finished with it.
        let id = RegistrationId::new_v4();
        let lock = self.lock_registration(actor, id).await?;
        let new = NewRegistration {
            email: v.email.as_str(),
            name: &v.name,
            organisation: &v.organisation,
            requested_roles: &ids,
            suppress_invite: req.suppress_invite,
            who: actor.audit(),
        };
        let inserted = self.insert_authorized(actor, id, &new, &v.roles).await;
        let journal = match inserted {
            Ok(j) => j,
            Err(e) => {
                lock.release().await;
                if let ServiceError::Store(s) = &e
                    && s.unique_constraint() == Some(ONE_OPEN_PER_EMAIL)
                {
                    return Err(self.open_registration_exists(&v.email).await);
                }
                return Err(e);
            }
        };
        let out = self.create_phase(actor, &journal, &v.email).await;
        lock.release().await;
        out
    }

    /// The refusal of a second open registration of one email (nothing reached the directory).
    async fn open_registration_exists(&self, email: &Email) -> ServiceError {
        let e = show(email.as_str());
        match registrations::open_for_email(&self.db, email.as_str()).await {
            Ok(Some(open)) => ServiceError::Conflict(format!(
                "{e} already has an open registration: {id} ({state}, started {age} ago); \
                 nothing was sent to the directory. Finish it with `hubdeck users repair --retry \
                 {id}`, roll it back with `hubdeck users repair --rollback {id}`, or resolve it \
                 with `hubdeck users repair --resolve {id} --note TEXT`",
                id = open.id,
                state = open.state,
                age = age(open.created_at),
            )),
            _ => ServiceError::Conflict(format!(
                "{e} had an open registration a moment ago; nothing was sent to the directory. \
                 Look at `hubdeck users repair` and try again"
            )),
        }
    }

    /// Phase 1: create the identity. At most two creates, the second only after a strongly
    /// consistent read showed the first left nothing behind (or it was throttled, which means
    /// it was refused before taking effect).
    async fn create_phase(
        &self,
        actor: &Actor,
        journal: &Registration,
        email: &Email,
    ) -> ServiceResult<RegisterOutcome> {
        let id = journal.id;
        let new = NewIdentity {
            email: email.clone(),
            email_verified: true,
            invite: if journal.suppress_invite {
                Invite::Suppress
            } else {
                Invite::Email
            },
            temporary_password: None,
        };
        let marker = id.to_string();
        // Some earlier attempt may have taken effect (its answer was lost).
        let mut uncertain = false;
        let mut last: Option<DirectoryError> = None;
        for attempt in 1..=2 {
            registrations::call_started(&self.db, id).await?;
            let created = self.directory.create_registered_user(&new, &marker).await;
            if let Err(e) = registrations::call_finished(&self.db, id).await {
                tracing::warn!("registration {id}: recording the call window failed: {e}");
            }
            let e = match created {
                Ok(identity) => return self.identity_proven(actor, id, identity).await,
                Err(e) => e,
            };
            match &e {
                DirectoryError::AlreadyExists(_) if !uncertain => {
                    let msg = format!(
                        "a user with email {} already exists; nothing was changed",
                        show(email.as_str())
                    );
                    self.end_pending(id, RegistrationState::RolledBack, &msg)
                        .await?;
                    return Err(ServiceError::Conflict(msg));
                }
                DirectoryError::Throttled(_) if !uncertain && attempt == 1 => {
                    // Refused before it took effect: one more try after the backoff.
                    tokio::time::sleep(Duration::from_millis(
                        self.settings.directory.initial_backoff_ms,
                    ))
                    .await;
                    last = Some(e);
                    continue;
                }
                DirectoryError::Unavailable(_) => uncertain = true,
                _ if uncertain => {}
                _ => {
                    let msg = format!("creating the identity failed: {e}");
                    self.end_pending(id, RegistrationState::RolledBack, &msg)
                        .await?;
                    return Err(ServiceError::Directory(e));
                }
            }
            // Indeterminate: settle it with a strongly consistent read + proof.
            let journal = self.journal(id).await?;
            match self.find_proven(&journal).await {
                Found::Ours(identity) => return self.identity_proven(actor, id, identity).await,
                Found::Stranger(found) => {
                    return Err(self
                        .conflict_pending(&journal, &found, &format!("creating it: {e}"))
                        .await);
                }
                Found::Absent if attempt == 1 => {
                    last = Some(e);
                    continue;
                }
                Found::Absent => {
                    last = Some(e);
                    break;
                }
                Found::Unknown(read) => {
                    return Err(self.kept_pending(id, &e, Some(&read)).await);
                }
            }
        }
        let e = last.unwrap_or_else(|| DirectoryError::Unavailable("no answer".into()));
        if uncertain {
            // Two creates without an answer and no identity yet: an attempt may still land.
            // Stay pending; reconcile settles it with the same proof.
            Err(self.kept_pending(id, &e, None).await)
        } else {
            let msg = format!("creating the identity failed: {e}; nothing was created");
            self.end_pending(id, RegistrationState::RolledBack, &msg)
                .await?;
            Err(ServiceError::Directory(e))
        }
    }

    async fn journal(&self, id: RegistrationId) -> ServiceResult<Registration> {
        registrations::get(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no registration {id}")))
    }

    /// `pending` → `to` (rolled_back: nothing was created) with the message.
    async fn end_pending(
        &self,
        id: RegistrationId,
        to: RegistrationState,
        msg: &str,
    ) -> ServiceResult<()> {
        let mut conn = self.db.acquire().await?;
        registrations::transition(
            &mut conn,
            id,
            RegistrationState::Pending,
            to,
            &Change {
                last_error: Some(msg),
                ..Default::default()
            },
        )
        .await?;
        Ok(())
    }

    /// The create's outcome is still unknown: the row stays `pending` with the cause.
    async fn kept_pending(
        &self,
        id: RegistrationId,
        e: &DirectoryError,
        read: Option<&DirectoryError>,
    ) -> ServiceError {
        let msg = format!(
            "creating the identity got no answer ({e}){}",
            read.map(|r| format!(" and the read that would settle it failed ({r})"))
                .unwrap_or_else(|| " and the identity is not there yet".into())
        );
        if let Ok(mut conn) = self.db.acquire().await {
            let _ = registrations::record(
                &mut conn,
                id,
                RegistrationState::Pending,
                &Change {
                    last_error: Some(&msg),
                    ..Default::default()
                },
            )
            .await;
        }
        ServiceError::Directory(DirectoryError::Unavailable(format!(
            "{msg}. Registration {id} is kept as pending; the identity may or may not exist. \
             Run `hubdeck users repair --retry {id}` (or `--reconcile` after a minute): it is \
             settled by a consistent read and proof of authorship, never by guessing."
        )))
    }

    /// A strongly consistent read by username, judged by [`proven`].
    async fn find_proven(&self, journal: &Registration) -> Found {
        match self
            .directory
            .get_user(&UserKey::Username(journal.email.clone()))
            .await
        {
            Ok(i) if proven(&i, journal) => Found::Ours(i),
            Ok(i) => Found::Stranger(i),
            Err(DirectoryError::NotFound(_)) => Found::Absent,
            Err(e) => Found::Unknown(e),
        }
    }

    /// `pending` → `conflict`: an identity exists that this registration cannot prove it
    /// created. It is neither adopted nor deleted; the evidence is kept for an operator.
    async fn conflict_pending(
        &self,
        journal: &Registration,
        found: &Identity,
        cause: &str,
    ) -> ServiceError {
        let id = journal.id;
        let msg = format!(
            "registration {id}: the directory holds an identity for {} (sub {}) that this \
             registration cannot prove it created; it was neither adopted nor deleted. The \
             registration is now `conflict` with the evidence — decide, then record the decision \
             with `hubdeck users repair --resolve {id} --note TEXT`",
            show(&journal.email),
            found.sub
        );
        let ev = evidence(
            journal,
            found,
            "an identity with this email exists without proof that this registration created it",
            Some(cause),
        );
        let written = async {
            let mut conn = self.db.acquire().await?;
            registrations::transition(
                &mut conn,
                id,
                RegistrationState::Pending,
                RegistrationState::Conflict,
                &Change {
                    last_error: Some(&msg),
                    evidence: Some(&ev),
                    ..Default::default()
                },
            )
            .await?;
            Ok::<(), ServiceError>(())
        }
        .await;
        match written {
            Ok(()) => ServiceError::Conflict(msg),
            Err(e) => ServiceError::Conflict(format!("{msg} (recording it failed: {e})")),
        }
    }

    /// The create answered (or the read proved the identity ours): record the sub
    /// (`identity_created`), then phase 2.
    async fn identity_proven(
        &self,
        actor: &Actor,
        id: RegistrationId,
        identity: Identity,
    ) -> ServiceResult<RegisterOutcome> {
        failpoint("after_identity_created");
        let mut conn = self.db.acquire().await?;
        registrations::transition(
            &mut conn,
            id,
            RegistrationState::Pending,
            RegistrationState::IdentityCreated,
            &Change {
                sub: Some(identity.sub),
                ..Default::default()
            },
        )
        .await?;
        drop(conn);
        self.cache_identity(&identity).await;
        failpoint("before_roles_written");
        let journal = self.journal(id).await?;
        self.complete_registration(actor, &journal, identity.sub)
            .await
    }

    /// Phase 2 (also the repair's retry): confirm the identity with a strongly consistent read,
    /// then grants + profile + audit + state `complete` in ONE transaction. Idempotent.
    async fn complete_registration(
        &self,
        actor: &Actor,
        journal: &Registration,
        sub: UserSub,
    ) -> ServiceResult<RegisterOutcome> {
        let id = journal.id;
        let from = journal.state();
        let roles = roles_from_ids(&journal.requested_roles);
        let outcome = |state, message: String| RegisterOutcome {
            registration_id: id,
            sub: Some(sub),
            email: journal.email.clone(),
            state,
            roles: roles.clone(),
            message,
        };
        let confirmed = self
            .directory
            .get_user(&UserKey::Username(journal.email.clone()))
            .await;
        let confirm_err = match confirmed {
            Ok(i) if i.sub == sub => None,
            Ok(i) => {
                // The username now belongs to another identity (ours is gone): never touch it.
                let msg = format!(
                    "registration {id}: the directory now reports sub {} for {}, not the created \
                     {sub}; that identity was neither adopted nor deleted. The registration is \
                     now `conflict` — decide, then `hubdeck users repair --resolve {id} --note \
                     TEXT`",
                    i.sub,
                    show(&journal.email)
                );
                let ev = evidence(
                    journal,
                    &i,
                    "the username now belongs to an identity other than the one created",
                    None,
                );
                let mut conn = self.db.acquire().await?;
                registrations::transition(
                    &mut conn,
                    id,
                    from,
                    RegistrationState::Conflict,
                    &Change {
                        last_error: Some(&msg),
                        evidence: Some(&ev),
                        ..Default::default()
                    },
                )
                .await?;
                return Err(ServiceError::Conflict(msg));
            }
            Err(e) => Some(e),
        };
        if let Some(e) = confirm_err {
            return match classify(&e, Step::ConfirmRead) {
                FailureClass::Transient => {
                    let msg = format!("confirming the identity failed transiently: {e}");
                    let mut conn = self.db.acquire().await?;
                    let change = Change {
                        last_error: Some(&msg),
                        ..Default::default()
                    };
                    if from == RegistrationState::RolesPending {
                        registrations::record(&mut conn, id, from, &change).await?;
                    } else {
                        registrations::transition(
                            &mut conn,
                            id,
                            from,
                            RegistrationState::RolesPending,
                            &change,
                        )
                        .await?;
                    }
                    Ok(outcome(
                        RegistrationState::RolesPending,
                        format!(
                            "The user {} exists in the directory (sub {sub}) but its roles are not \
                             assigned yet ({e}). Nothing was rolled back. Complete it later with \
                             `hubdeck users repair --retry {id}`.",
                            show(&journal.email)
                        ),
                    ))
                }
                FailureClass::Definitive => {
                    let cause = format!("confirming the identity failed: {e}");
                    Err(self.roll_back_created(actor, journal, sub, &cause).await)
                }
            };
        }

        // ONE transaction: grants + profile + audit + journal state.
        match self.write_roles(actor, journal, sub).await {
            Ok(Some(added)) => Ok(outcome(
                RegistrationState::Complete,
                format!(
                    "Registered {} (sub {sub}) with roles [{}]{}.",
                    show(&journal.email),
                    roles.iter().map(|r| r.key()).collect::<Vec<_>>().join(", "),
                    if added == 0 && !roles.is_empty() {
                        " (already granted)"
                    } else {
                        ""
                    }
                ),
            )),
            Ok(None) => Ok(outcome(
                RegistrationState::Complete,
                format!("Registration {id} is already complete; nothing to do."),
            )),
            // Another actor moved the row: nothing of ours to undo.
            Err(e @ ServiceError::Conflict(_)) => Err(e),
            Err(e) if roles_write::keeps_identity(&e) => {
                let (state, message) = self.keep_roles_pending(journal, sub, &e).await?;
                match e {
                    // The operator is told their authority is gone (the console signs them
                    // out); the journal says the identity waits for its roles.
                    ServiceError::OperatorRevoked(_) | ServiceError::Denied(_)
                        if state != RegistrationState::Complete =>
                    {
                        Err(e)
                    }
                    _ => Ok(outcome(state, message)),
                }
            }
            Err(e) => {
                let cause = format!("writing roles and profile failed: {e}");
                Err(self.roll_back_created(actor, journal, sub, &cause).await)
            }
        }
    }

    /// Deletes the identity THIS saga created (proof: the recorded sub), removes any rows for
    /// that sub, audits, `rolled_back`; on a failed delete → `needs_cleanup` with both causes.
    /// Returns the error to report.
    async fn roll_back_created(
        &self,
        actor: &Actor,
        journal: &Registration,
        sub: UserSub,
        cause: &str,
    ) -> ServiceError {
        let id = journal.id;
        let from = match registrations::get(&self.db, id).await {
            Ok(Some(j)) => j.state(),
            _ => journal.state(),
        };
        match self
            .roll_back_identity(actor, journal, from, sub, cause)
            .await
        {
            Ok(()) => ServiceError::Internal(format!(
                "registration {id} of {} failed and was rolled back (the identity it created \
                 was deleted; no grants or profile kept): {cause}",
                show(&journal.email)
            )),
            Err(RollbackFailure::Refused(e)) => ServiceError::Internal(format!(
                "registration {id} of {} failed ({cause}); rolling it back was refused: {e}. The \
                 identity {sub} was kept; nothing was changed",
                show(&journal.email)
            )),
            Err(RollbackFailure::Database(e)) => ServiceError::Internal(format!(
                "registration {id} failed ({cause}); the rollback did not finish: {e}. The \
                 identity may already be deleted; `hubdeck users repair --rollback {id}` \
                 finishes it"
            )),
            Err(RollbackFailure::Directory(rb)) => {
                let rb_msg = format!("deleting the identity failed: {rb}");
                let both = format!(
                    "registration {id} of {} failed: {cause}; rollback also failed: {rb_msg}. The \
                     identity {sub} still exists with no grants; manual cleanup required \
                     (`hubdeck users repair --rollback {id}`).",
                    show(&journal.email)
                );
                if let Err(e) = self
                    .mark_needs_cleanup(id, from, Some(cause), &rb_msg)
                    .await
                {
                    return ServiceError::Internal(format!("{both} (journal: {e})"));
                }
                ServiceError::Internal(both)
            }
        }
    }

    async fn mark_needs_cleanup(
        &self,
        id: RegistrationId,
        from: RegistrationState,
        cause: Option<&str>,
        rb_msg: &str,
    ) -> ServiceResult<()> {
        let mut conn = self.db.acquire().await?;
        let change = Change {
            last_error: cause,
            rollback_error: Some(rb_msg),
            ..Default::default()
        };
        if from == RegistrationState::NeedsCleanup {
            registrations::record(&mut conn, id, from, &change).await?;
        } else {
            registrations::transition(
                &mut conn,
                id,
                from,
                RegistrationState::NeedsCleanup,
                &change,
            )
            .await?;
        }
        Ok(())
    }

    /// Deletes `username` only if it still is the identity `sub`; gone already counts as done.
    async fn delete_own_identity(
        &self,
        username: &str,
        sub: UserSub,
    ) -> Result<(), DirectoryError> {
        // Identify it with the strongly consistent read by username; fall back to the sub.
        let found = match self
            .directory
            .get_user(&UserKey::Username(username.to_string()))
            .await
        {
            Ok(i) => Some(i),
            Err(DirectoryError::NotFound(_)) => match self.directory.find_by_sub(sub).await {
                Ok(i) => Some(i),
                Err(DirectoryError::NotFound(_)) => None,
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        if let Some(i) = found
            && i.sub == sub
        {
            self.delete_verified(&i.username, sub).await?;
        }
        if let Ok(mut conn) = self.db.acquire().await {
            let _ = directory_cache::mark_gone(&mut conn, sub).await;
        }
        Ok(())
    }
    /// Deletes `username` (the identity `sub`). A not-found answer is only believed after a
    /// strongly consistent read confirms the identity is gone (a 404 can be a lie: a proxy,
    /// lag). Returns whether this call deleted it.
    pub(crate) async fn delete_verified(
        &self,
        username: &str,
        sub: UserSub,
    ) -> Result<bool, DirectoryError> {
        match self.directory.delete_user(username).await {
            Ok(()) => Ok(true),
            Err(DirectoryError::NotFound(nf)) => {
                match self
                    .directory
                    .get_user(&UserKey::Username(username.to_string()))
                    .await
                {
                    Err(DirectoryError::NotFound(_)) => Ok(false),
                    Ok(i) if i.sub != sub => Ok(false),
                    Ok(_) => Err(DirectoryError::Rejected(format!(
                        "the delete answered not found ({nf}) but the identity still exists"
                    ))),
                    Err(e) => Err(e),
                }
            }
            // A timeout may hide a delete that happened: believe the directory's own read.
            Err(e) => match self
                .directory
                .get_user(&UserKey::Username(username.to_string()))
                .await
            {
                Err(DirectoryError::NotFound(_)) => Ok(true),
                Ok(i) if i.sub != sub => Ok(true),
                _ => Err(e),
            },
        }
    }

    async fn cache_identity(&self, i: &Identity) {
        if let Ok(mut conn) = self.db.acquire().await
            && let Err(e) = directory_cache::upsert(&mut conn, i).await
        {
            tracing::warn!("directory cache update failed (the next sync fixes it): {e}");
        }
    }

    // -----------------------------------------------------------------------------------------
    // Repair (on-call)
    // -----------------------------------------------------------------------------------------

    /// Stuck registrations (pending, identity_created, roles_pending, needs_cleanup, conflict),
    /// oldest first, at most 500: the first page of [`Services::list_stuck_page`] — one query
    /// for `hubdeck users repair` and the console's Registrations screen.
    pub async fn stuck_registrations(&self, actor: &Actor) -> ServiceResult<Vec<Registration>> {
        let q = crate::domain::PageQuery::new(1, crate::domain::page::MAX_PAGE_SIZE);
        Ok(self.list_stuck_page(actor, &q).await?.items)
    }

    /// One page of the registrations that need an operator (search, filters, sort and paging
    /// through the query builder, in SQL). Reading never writes: `pending` rows are reconciled
    /// only by [`Services::reconcile_pending`], which the operator asks for.
    pub async fn list_stuck_page(
        &self,
        actor: &Actor,
        q: &crate::domain::PageQuery,
    ) -> ServiceResult<crate::domain::Page<Registration>> {
        Area::Registrations.require_read(actor, "listing stuck registrations")?;
        Ok(registrations::list_page(&self.db, q).await?)
    }

    pub async fn registration(
        &self,
        actor: &Actor,
        id: RegistrationId,
    ) -> ServiceResult<Registration> {
        Area::Registrations.require_read(actor, "reading a registration")?;
        self.journal(id).await
    }

    /// Retries role assignment (idempotent: a second run grants nothing twice). A `pending` row
    /// is first reconciled (consistent read + proof). Holds the registration's lock.
    pub async fn retry_registration(
        &self,
        actor: &Actor,
        id: RegistrationId,
    ) -> ServiceResult<RegisterOutcome> {
        actor.require(PermissionRef::CanManageUsers, "retrying a registration")?;
        self.ensure_writable("retry registration")?;
        let lock = self.lock_registration(actor, id).await?;
        let out = self.retry_locked(actor, id).await;
        lock.release().await;
        out
    }

    async fn retry_locked(
        &self,
        actor: &Actor,
        id: RegistrationId,
    ) -> ServiceResult<RegisterOutcome> {
        let mut journal = self.journal(id).await?;
        match journal.state() {
            RegistrationState::Complete => {
                return Ok(RegisterOutcome {
                    registration_id: id,
                    sub: journal.sub,
                    email: journal.email.clone(),
                    state: RegistrationState::Complete,
                    roles: roles_from_ids(&journal.requested_roles),
                    message: format!("Registration {id} is already complete; nothing to do."),
                });
            }
            RegistrationState::RolledBack | RegistrationState::Resolved => {
                return Err(ServiceError::Conflict(format!(
                    "registration {id} is {}; register the user again instead",
                    journal.state
                )));
            }
            RegistrationState::Conflict => {
                return Err(ServiceError::Conflict(format!(
                    "registration {id} is a conflict awaiting an operator's decision (the \
                     directory holds an identity it cannot prove it created); nothing was \
                     changed. Record the decision with `hubdeck users repair --resolve {id} \
                     --note TEXT`"
                )));
            }
            RegistrationState::NeedsCleanup => {
                return Err(ServiceError::Conflict(format!(
                    "registration {id} needs cleanup; roll it back (--rollback) or resolve it"
                )));
            }
            _ => {}
        }
        // Retrying grants the requested roles: the operator must be allowed, now, to grant
        // them — before the directory is asked anything.
        self.authorize_repair(
            actor,
            "retrying a registration",
            &roles_from_ids(&journal.requested_roles),
        )
        .await?;
        let sub = match journal.sub {
            Some(s) => s,
            None => match self.reconcile_one(&journal).await? {
                Some(s) => s,
                None => {
                    return Err(ServiceError::NotFound(format!(
                        "registration {id}: no identity with email {} exists; the registration \
                         was marked rolled_back (nothing had been created)",
                        show(&journal.email)
                    )));
                }
            },
        };
        if journal.sub.is_none() {
            journal = self.journal(id).await?;
        }
        self.complete_registration(actor, &journal, sub).await
    }

    /// Settles a sub-less `pending` row (caller holds its lock) with a strongly consistent read
    /// by username + proof: ours → `identity_created` with the sub; absent → `rolled_back`
    /// (nothing was created); someone else's → `conflict` with the evidence (Err). Transient
    /// errors propagate and leave the row pending.
    async fn reconcile_one(&self, journal: &Registration) -> ServiceResult<Option<UserSub>> {
        match self.find_proven(journal).await {
            Found::Ours(i) => {
                let mut conn = self.db.acquire().await?;
                registrations::transition(
                    &mut conn,
                    journal.id,
                    RegistrationState::Pending,
                    RegistrationState::IdentityCreated,
                    &Change {
                        sub: Some(i.sub),
                        ..Default::default()
                    },
                )
                .await?;
                drop(conn);
                self.cache_identity(&i).await;
                Ok(Some(i.sub))
            }
            Found::Stranger(i) => Err(self
                .conflict_pending(journal, &i, "reconciling a pending registration")
                .await),
            Found::Absent => {
                self.end_pending(
                    journal.id,
                    RegistrationState::RolledBack,
                    "reconciled: the directory has no identity for this email",
                )
                .await?;
                Ok(None)
            }
            Found::Unknown(e) => Err(e.into()),
        }
    }

    /// Reconciles `pending` rows older than `older_than_secs` (normally 60), each under its
    /// lock. Returns (registration, result) pairs; rows being worked on by another operation
    /// and transient failures are left pending.
    pub async fn reconcile_pending(
        &self,
        actor: &Actor,
        older_than_secs: i64,
    ) -> ServiceResult<Vec<(RegistrationId, String)>> {
        actor.require(PermissionRef::CanManageUsers, "reconciling registrations")?;
        self.ensure_writable("reconcile registrations")?;
        self.authorize_repair(actor, "reconciling registrations", &[])
            .await?;
        let rows = registrations::pending_older_than(&self.db, older_than_secs).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let lock = match self.try_lock_registration(actor, r.id).await? {
                Ok(lock) => lock,
                Err(holder) => {
                    out.push((
                        r.id,
                        format!(
                            "unchanged: being repaired by {} since {}",
                            show(&holder.holder),
                            holder.since.format("%Y-%m-%d %H:%M:%S UTC")
                        ),
                    ));
                    continue;
                }
            };
            let res = self.reconcile_locked(r.id).await;
            lock.release().await;
            out.push((r.id, res));
        }
        Ok(out)
    }

    async fn reconcile_locked(&self, id: RegistrationId) -> String {
        let journal = match self.journal(id).await {
            Ok(j) if j.state() == RegistrationState::Pending => j,
            Ok(j) => return format!("unchanged: now {}", j.state),
            Err(e) => return format!("unchanged: {e}"),
        };
        match self.reconcile_one(&journal).await {
            Ok(Some(_)) => {
                let moved = async {
                    let mut conn = self.db.acquire().await?;
                    registrations::transition(
                        &mut conn,
                        id,
                        RegistrationState::IdentityCreated,
                        RegistrationState::RolesPending,
                        &Change {
                            last_error: Some(
                                "reconciled: the identity is ours (proof); roles not assigned yet",
                            ),
                            ..Default::default()
                        },
                    )
                    .await?;
                    Ok::<(), ServiceError>(())
                }
                .await;
                match moved {
                    Ok(()) => RegistrationState::RolesPending.to_string(),
                    Err(e) => format!("identity_created: {e}"),
                }
            }
            Ok(None) => RegistrationState::RolledBack.to_string(),
            Err(ServiceError::Conflict(msg)) => format!("conflict: {msg}"),
            Err(e) => format!("unchanged: {e}"),
        }
    }

    /// Rolls an open registration back: deletes the identity it provably created (never one
    /// it did not create), removes its rows, audits, `rolled_back`. Holds the lock.
    pub async fn rollback_registration(
        &self,
        actor: &Actor,
        id: RegistrationId,
    ) -> ServiceResult<Registration> {
        actor.require(PermissionRef::CanManageUsers, "rolling back a registration")?;
        self.ensure_writable("roll back registration")?;
        self.authorize_repair(actor, "rolling back a registration", &[])
            .await?;
        let lock = self.lock_registration(actor, id).await?;
        let out = self.rollback_locked(actor, id).await;
        lock.release().await;
        out
    }

    async fn rollback_locked(
        &self,
        actor: &Actor,
        id: RegistrationId,
    ) -> ServiceResult<Registration> {
        let mut journal = self.journal(id).await?;
        if !journal.state().is_open() {
            return Err(ServiceError::Conflict(format!(
                "registration {id} is {}; only open registrations (pending, identity_created, \
                 roles_pending, needs_cleanup) can be rolled back",
                journal.state
            )));
        }
        let sub = match journal.sub {
            Some(s) => s,
            None => {
                // Pending without a sub: only an identity proven ours would be deleted.
                match self.reconcile_one(&journal).await? {
                    None => return self.journal(id).await,
                    Some(s) => {
                        journal = self.journal(id).await?;
                        s
                    }
                }
            }
        };
        let cause = format!(
            "rolled back by {}{}",
            actor.describe(),
            journal
                .last_error
                .as_deref()
                .map(|e| format!(" after: {e}"))
                .unwrap_or_default()
        );
        match self
            .roll_back_identity(actor, &journal, journal.state(), sub, &cause)
            .await
        {
            Ok(()) => self.journal(id).await,
            Err(RollbackFailure::Directory(e)) => {
                let rb = format!("deleting the identity failed: {e}");
                self.mark_needs_cleanup(id, journal.state(), None, &rb)
                    .await?;
                Err(ServiceError::Directory(e))
            }
            Err(RollbackFailure::Refused(e) | RollbackFailure::Database(e)) => Err(e),
        }
    }

    /// Marks a registration resolved with an operator's note (audited when it has a sub).
    /// Holds the lock; only states whose table allows `resolved` can be resolved.
    pub async fn resolve_registration(
        &self,
        actor: &Actor,
        id: RegistrationId,
        note: &str,
    ) -> ServiceResult<Registration> {
        actor.require(PermissionRef::CanManageUsers, "resolving a registration")?;
        self.ensure_writable("resolve registration")?;
        let note = bounded_text("note", note, 1000)?;
        let lock = self.lock_registration(actor, id).await?;
        let out = self.resolve_locked(actor, id, &note).await;
        lock.release().await;
        out
    }

    async fn resolve_locked(
        &self,
        actor: &Actor,
        id: RegistrationId,
        note: &str,
    ) -> ServiceResult<Registration> {
        let mut tx = self.db.begin().await?;
        authorize(
            &mut tx,
            actor,
            PermissionRef::CanManageUsers,
            "resolving a registration",
        )
        .await?;
        let journal = registrations::lock_row(&mut tx, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no registration {id}")))?;
        let note = format!("{} (by {})", note, actor.describe());
        registrations::transition(
            &mut tx,
            id,
            journal.state(),
            RegistrationState::Resolved,
            &Change {
                note: Some(&note),
                ..Default::default()
            },
        )
        .await?;
        if let Some(sub) = journal.sub {
            ustore::insert_audit(
                &mut tx,
                &ustore::AuditEntry {
                    action: "Resolved registration",
                    user_id: sub,
                    who: actor.audit(),
                    details: serde_json::json!({
                        "registration_id": id,
                        "previous_state": journal.state,
                        "note": note,
                        "evidence": journal.evidence,
                    }),
                },
            )
            .await?;
        }
        tx.commit().await?;
        self.journal(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal(sub: Option<UserSub>) -> Registration {
        let now = Utc::now();
        Registration {
            id: RegistrationId::new_v4(),
            email: "bob@example.org".into(),
            name: "Bob".into(),
            organisation: "Org".into(),
            requested_roles: vec![],
            suppress_invite: true,
            state: "pending".into(),
            sub,
            identity_created: sub.is_some(),
            last_error: None,
            rollback_error: None,
            note: None,
            actor_user_id: None,
            via: "cli".into(),
            os_user: None,
            call_started_at: Some(now),
            call_finished_at: Some(now),
            evidence: None,
            created_at: now - chrono::TimeDelta::seconds(5),
            updated_at: now,
        }
    }

    fn identity(marker: Option<String>) -> Identity {
        Identity {
            sub: UserSub::new_v4(),
            username: "bob@example.org".into(),
            email: "bob@example.org".into(),
            enabled: true,
            status: crate::directory::IdentityStatus::ForceChangePassword,
            // Created inside the call window: still no proof.
            created_at: Some(Utc::now()),
            registration_marker: marker,
        }
    }

    #[test]
    fn proof_is_the_marker_or_the_recorded_sub_never_timestamps_or_email() {
        let j = journal(None);
        assert!(proven(&identity(Some(j.id.to_string())), &j));
        assert!(
            !proven(&identity(None), &j),
            "same email, fitting time: not proof"
        );
        assert!(!proven(
            &identity(Some(RegistrationId::new_v4().to_string())),
            &j
        ));
        let i = identity(None);
        assert!(proven(&i, &journal(Some(i.sub))));
        assert!(!proven(&i, &journal(Some(UserSub::new_v4()))));
    }

    #[test]
    fn classification() {
        use DirectoryError::*;
        let t = FailureClass::Transient;
        let d = FailureClass::Definitive;
        for step in [Step::Create, Step::ConfirmRead, Step::Other] {
            assert_eq!(classify(&Unavailable("503".into()), step), t);
            assert_eq!(classify(&Throttled("429".into()), step), t);
            assert_eq!(classify(&Rejected("400".into()), step), d);
            assert_eq!(classify(&InvalidInput("bad".into()), step), d);
            assert_eq!(classify(&AlreadyExists("x".into()), step), d);
            assert_eq!(classify(&NotAuthorized("x".into()), step), d);
        }
        assert_eq!(classify(&NotFound("lag".into()), Step::ConfirmRead), t);
        assert_eq!(classify(&NotFound("x".into()), Step::Create), d);
        assert_eq!(classify(&NotFound("x".into()), Step::Other), d);
    }
}
