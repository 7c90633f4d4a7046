//! Register a user (SPEC §5.1): a saga with a durable journal (`registration`) and rollback,
//! plus the on-call repair of stuck registrations.
//!
//! Order: validate → journal `pending` → create the identity → journal `identity_created` with
//! the sub → confirm with a strongly consistent read → ONE transaction for grants + profile +
//! audit + state `complete`. Failures are classified once ([`classify`]): transient → keep the
//! identity, `roles_pending`; definitive → roll back only what this saga created,
//! `rolled_back` (or `needs_cleanup` when the rollback fails, with both causes).
//!
//! Test-only failpoint: with `HUBDECK_FAILPOINT=after_identity_created` the process aborts
//! right after the directory created the identity (before the journal records the sub);
//! with `HUBDECK_FAILPOINT=before_roles_written` it aborts after the journal records
//! `identity_created` and before roles are written. Used by the crash-safety tests.

use serde::Serialize;
use uuid::Uuid;

use super::{Actor, ServiceError, ServiceResult, Services};
use crate::directory::{DirectoryError, Identity, Invite, NewIdentity, UserKey};
use crate::domain::error::bounded_text;
use crate::domain::{DisplayText, Email, PermissionRef, RegistrationId, RoleRef, UserSub};
use crate::store::registrations::{self, NewRegistration, Registration, RegistrationState};
use crate::store::{directory_cache, grants, users as ustore};

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

/// Whether `identity` can have been created by the saga of `journal`: the directory reports a
/// creation time no earlier than the journal row (compared at whole seconds, as directories
/// report them). Unknown creation time → not provably ours → never treated as ours.
fn created_by(identity: &Identity, journal: &Registration) -> bool {
    use chrono::DurationRound;
    let journal_second = journal
        .created_at
        .duration_trunc(chrono::TimeDelta::seconds(1))
        .unwrap_or(journal.created_at);
    identity.created_at.is_some_and(|c| c >= journal_second)
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

impl Services {
    /// Registers a user: identity in the directory, then roles + profile + audit (SPEC §5.1).
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
        let journal = registrations::insert_pending(
            &self.db,
            &NewRegistration {
                email: v.email.as_str(),
                name: &v.name,
                organisation: &v.organisation,
                requested_roles: &ids,
                suppress_invite: req.suppress_invite,
                actor: actor.audit_sub(),
                via: actor.via().as_str(),
                os_user: actor.os_user(),
            },
        )
        .await?;
        let id = journal.id;

        // Phase 1: create the identity.
        let created = self
            .directory
            .create_user(&NewIdentity {
                email: v.email.clone(),
                email_verified: true,
                invite: if req.suppress_invite {
                    Invite::Suppress
                } else {
                    Invite::Email
                },
                temporary_password: None,
            })
            .await;
        let identity = match created {
            Ok(i) => i,
            Err(e) => return self.create_failed(id, &v.email, e).await,
        };
        failpoint("after_identity_created");
        registrations::mark_identity_created(&self.db, id, identity.sub).await?;
        self.cache_identity(&identity).await;
        failpoint("before_roles_written");

        // Phase 2: confirm and assign roles.
        let journal = registrations::get(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::Internal(format!("registration {id} vanished")))?;
        self.complete_registration(actor, &journal, identity.sub)
            .await
    }

    async fn create_failed(
        &self,
        id: RegistrationId,
        email: &Email,
        e: DirectoryError,
    ) -> ServiceResult<RegisterOutcome> {
        let mut conn = self.db.acquire().await?;
        match (&e, classify(&e, Step::Create)) {
            (DirectoryError::AlreadyExists(_), _) => {
                let msg = format!(
                    "a user with email {} already exists; nothing was changed",
                    show(email.as_str())
                );
                registrations::set_state(
                    &mut conn,
                    id,
                    RegistrationState::RolledBack,
                    Some(&msg),
                    None,
                )
                .await?;
                Err(ServiceError::Conflict(msg))
            }
            (_, FailureClass::Transient) => {
                // The directory may or may not have created the identity: stay `pending`; repair
                // reconciles it by looking the email up.
                let msg = format!("creating the identity failed transiently: {e}");
                registrations::set_state(
                    &mut conn,
                    id,
                    RegistrationState::Pending,
                    Some(&msg),
                    None,
                )
                .await?;
                Err(ServiceError::Directory(DirectoryError::Unavailable(
                    format!(
                        "{e}. Registration {id} is kept as pending; the identity may or may not exist. \
                     Run `hubdeck users repair` in a minute to reconcile it."
                    ),
                )))
            }
            (_, FailureClass::Definitive) => {
                let msg = format!("creating the identity failed: {e}");
                registrations::set_state(
                    &mut conn,
                    id,
                    RegistrationState::RolledBack,
                    Some(&msg),
                    None,
                )
                .await?;
                Err(ServiceError::Directory(e))
            }
        }
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
                // The username now belongs to another identity: never touch it.
                let msg = format!(
                    "the directory now reports sub {} for {}, not the created {sub}",
                    i.sub,
                    show(&journal.email)
                );
                let mut conn = self.db.acquire().await?;
                registrations::set_state(
                    &mut conn,
                    id,
                    RegistrationState::NeedsCleanup,
                    Some(&msg),
                    None,
                )
                .await?;
                return Err(ServiceError::Conflict(format!(
                    "registration {id} needs manual cleanup: {msg}"
                )));
            }
            Err(e) => Some(e),
        };
        if let Some(e) = confirm_err {
            return match classify(&e, Step::ConfirmRead) {
                FailureClass::Transient => {
                    let msg = format!("confirming the identity failed transiently: {e}");
                    let mut conn = self.db.acquire().await?;
                    registrations::set_state(
                        &mut conn,
                        id,
                        RegistrationState::RolesPending,
                        Some(&msg),
                        None,
                    )
                    .await?;
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
        let written = self.write_roles(actor, journal, sub).await;
        match written {
            Ok(added) => Ok(outcome(
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
            Err(WriteError::AlreadyComplete) => Ok(outcome(
                RegistrationState::Complete,
                format!("Registration {id} is already complete; nothing to do."),
            )),
            Err(WriteError::Service(e)) => {
                if let ServiceError::Store(s) = &e
                    && matches!(s, crate::store::StoreError::Unavailable(_))
                {
                    // The database went away: keep the identity, repair completes it.
                    return Err(ServiceError::Store(crate::store::StoreError::Unavailable(
                        format!(
                            "{s}; the identity {sub} exists and registration {id} can be \
                             completed with `hubdeck users repair --retry {id}`"
                        ),
                    )));
                }
                let cause = format!("writing roles and profile failed: {e}");
                Err(self.roll_back_created(actor, journal, sub, &cause).await)
            }
        }
    }

    async fn write_roles(
        &self,
        actor: &Actor,
        journal: &Registration,
        sub: UserSub,
    ) -> Result<u64, WriteError> {
        let mut tx = self.db.begin().await.map_err(ServiceError::from)?;
        let locked = registrations::lock(&mut tx, journal.id)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| ServiceError::NotFound(format!("registration {}", journal.id)))?;
        if locked.state() == RegistrationState::Complete {
            return Err(WriteError::AlreadyComplete);
        }
        grants::lock_user(&mut tx, sub)
            .await
            .map_err(ServiceError::from)?;
        let added = grants::grant_missing(&mut tx, sub, &journal.requested_roles)
            .await
            .map_err(ServiceError::from)?;
        ustore::upsert_profile(&mut tx, sub, &journal.name, &journal.organisation)
            .await
            .map_err(ServiceError::from)?;
        ustore::insert_audit(
            &mut tx,
            &ustore::AuditEntry {
                action: "Registered user",
                user_id: sub,
                actor: actor.audit_sub(),
                via: actor.via().as_str(),
                os_user: actor.os_user(),
                details: serde_json::json!({
                    "registration_id": journal.id,
                    "email": journal.email,
                    "roles": roles_from_ids(&journal.requested_roles),
                    "granted": added,
                }),
            },
        )
        .await
        .map_err(ServiceError::from)?;
        registrations::set_state(&mut tx, journal.id, RegistrationState::Complete, None, None)
            .await
            .map_err(ServiceError::from)?;
        tx.commit().await.map_err(ServiceError::from)?;
        Ok(added)
    }

    /// Deletes the identity THIS saga created (by username, after checking the username still
    /// maps to the recorded sub), removes any rows for that sub, audits, `rolled_back`; on a
    /// failed delete → `needs_cleanup` with both causes. Returns the error to report.
    async fn roll_back_created(
        &self,
        actor: &Actor,
        journal: &Registration,
        sub: UserSub,
        cause: &str,
    ) -> ServiceError {
        let id = journal.id;
        let deleted = self.delete_own_identity(&journal.email, sub).await;
        match deleted {
            Ok(()) => match self.finish_rollback(actor, journal, sub, cause, None).await {
                Ok(()) => ServiceError::Internal(format!(
                    "registration {id} of {} failed and was rolled back (the identity it created \
                     was deleted; no grants or profile kept): {cause}",
                    show(&journal.email)
                )),
                Err(e) => ServiceError::Internal(format!(
                    "registration {id} failed ({cause}); the identity was deleted but recording \
                     the rollback failed: {e}"
                )),
            },
            Err(rb) => {
                let rb_msg = format!("deleting the identity failed: {rb}");
                let both = format!(
                    "registration {id} of {} failed: {cause}; rollback also failed: {rb_msg}. The \
                     identity {sub} still exists with no grants; manual cleanup required \
                     (`hubdeck users repair --rollback {id}`).",
                    show(&journal.email)
                );
                let mut conn = match self.db.acquire().await {
                    Ok(c) => c,
                    Err(e) => return ServiceError::Internal(format!("{both} (journal: {e})")),
                };
                if let Err(e) = registrations::set_state(
                    &mut conn,
                    id,
                    RegistrationState::NeedsCleanup,
                    Some(cause),
                    Some(&rb_msg),
                )
                .await
                {
                    return ServiceError::Internal(format!("{both} (journal: {e})"));
                }
                ServiceError::Internal(both)
            }
        }
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
            let _ = directory_cache::mark_gone(&mut *conn, sub).await;
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

    async fn finish_rollback(
        &self,
        actor: &Actor,
        journal: &Registration,
        sub: UserSub,
        cause: &str,
        note: Option<&str>,
    ) -> ServiceResult<()> {
        let mut tx = self.db.begin().await?;
        grants::lock_user(&mut tx, sub).await?;
        let revoked = grants::revoke_all(&mut tx, sub).await?;
        let profiles = ustore::delete_profile(&mut tx, sub).await?;
        ustore::insert_audit(
            &mut tx,
            &ustore::AuditEntry {
                action: "Rolled back registration",
                user_id: sub,
                actor: actor.audit_sub(),
                via: actor.via().as_str(),
                os_user: actor.os_user(),
                details: serde_json::json!({
                    "registration_id": journal.id,
                    "email": journal.email,
                    "cause": cause,
                    "grants_removed": revoked,
                    "profiles_removed": profiles,
                    "note": note,
                }),
            },
        )
        .await?;
        registrations::set_state(
            &mut tx,
            journal.id,
            RegistrationState::RolledBack,
            Some(cause),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn cache_identity(&self, i: &Identity) {
        if let Ok(mut conn) = self.db.acquire().await
            && let Err(e) = directory_cache::upsert(&mut *conn, i).await
        {
            tracing::warn!("directory cache update failed (the next sync fixes it): {e}");
        }
    }

    // -----------------------------------------------------------------------------------------
    // Repair (on-call)
    // -----------------------------------------------------------------------------------------

    /// Stuck registrations: pending, identity_created, roles_pending, needs_cleanup.
    pub async fn stuck_registrations(&self, actor: &Actor) -> ServiceResult<Vec<Registration>> {
        actor.require(PermissionRef::CanManageUsers, "listing stuck registrations")?;
        Ok(registrations::list_stuck(&self.db, 500).await?)
    }

    /// One page of the stuck registrations (the repair screen), through the query builder.
    pub async fn list_stuck_registrations(
        &self,
        actor: &Actor,
        q: &crate::domain::PageQuery,
    ) -> ServiceResult<crate::domain::Page<Registration>> {
        actor.require(PermissionRef::CanManageUsers, "listing stuck registrations")?;
        Ok(registrations::list_page(&self.db, q).await?)
    }

    pub async fn registration(
        &self,
        actor: &Actor,
        id: RegistrationId,
    ) -> ServiceResult<Registration> {
        actor.require(PermissionRef::CanManageUsers, "reading a registration")?;
        registrations::get(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no registration {id}")))
    }

    /// Retries role assignment (idempotent: a second run grants nothing twice). A `pending` row
    /// without a sub is first reconciled by looking the email up.
    pub async fn retry_registration(
        &self,
        actor: &Actor,
        id: RegistrationId,
    ) -> ServiceResult<RegisterOutcome> {
        actor.require(PermissionRef::CanManageUsers, "retrying a registration")?;
        self.ensure_writable("retry registration")?;
        let mut journal = self.registration(actor, id).await?;
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
            RegistrationState::NeedsCleanup => {
                return Err(ServiceError::Conflict(format!(
                    "registration {id} needs cleanup; roll it back (--rollback) or resolve it"
                )));
            }
            _ => {}
        }
        let sub = match journal.sub {
            Some(s) => s,
            None => match self.reconcile_one(actor, &journal).await? {
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
            journal = self.registration(actor, id).await?;
        }
        self.complete_registration(actor, &journal, sub).await
    }

    /// Looks a sub-less `pending` row's email up: found → `identity_created` with the sub;
    /// not found → `rolled_back` (nothing was created). Transient errors propagate.
    async fn reconcile_one(
        &self,
        _actor: &Actor,
        journal: &Registration,
    ) -> ServiceResult<Option<UserSub>> {
        let email = Email::parse(&journal.email)?;
        match self.directory.get_user(&UserKey::Email(email)).await {
            Ok(i) => {
                if !created_by(&i, journal) {
                    // The identity predates this registration: it is not ours.
                    let msg = format!(
                        "an identity with email {} existed before this registration; it was \
                         not created by it and is left untouched",
                        show(&journal.email)
                    );
                    let mut conn = self.db.acquire().await?;
                    registrations::set_state(
                        &mut conn,
                        journal.id,
                        RegistrationState::RolledBack,
                        Some(&msg),
                        None,
                    )
                    .await?;
                    return Err(ServiceError::Conflict(msg));
                }
                registrations::mark_identity_created(&self.db, journal.id, i.sub).await?;
                self.cache_identity(&i).await;
                Ok(Some(i.sub))
            }
            Err(DirectoryError::NotFound(_)) => {
                let mut conn = self.db.acquire().await?;
                registrations::set_state(
                    &mut conn,
                    journal.id,
                    RegistrationState::RolledBack,
                    Some("reconciled: the directory has no identity for this email"),
                    None,
                )
                .await?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reconciles `pending` rows older than `older_than_secs` (normally 60) by looking each
    /// email up. Returns (registration, resulting state) pairs; transient failures leave the
    /// row pending.
    pub async fn reconcile_pending(
        &self,
        actor: &Actor,
        older_than_secs: i64,
    ) -> ServiceResult<Vec<(RegistrationId, String)>> {
        actor.require(PermissionRef::CanManageUsers, "reconciling registrations")?;
        self.ensure_writable("reconcile registrations")?;
        let rows = registrations::pending_older_than(&self.db, older_than_secs).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let res = match self.reconcile_one(actor, &r).await {
                Ok(Some(_)) => {
                    let mut conn = self.db.acquire().await?;
                    registrations::set_state(
                        &mut conn,
                        r.id,
                        RegistrationState::RolesPending,
                        Some("reconciled: the identity exists; roles not assigned yet"),
                        None,
                    )
                    .await?;
                    RegistrationState::RolesPending.to_string()
                }
                Ok(None) => RegistrationState::RolledBack.to_string(),
                // Not ours: recorded as rolled_back, the identity left untouched.
                Err(ServiceError::Conflict(msg)) => format!("rolled_back: {msg}"),
                Err(e) => format!("unchanged: {e}"),
            };
            out.push((r.id, res));
        }
        Ok(out)
    }

    /// Rolls a stuck registration back: deletes the identity it created (never one it did not
    /// create), removes its rows, audits, `rolled_back`.
    pub async fn rollback_registration(
        &self,
        actor: &Actor,
        id: RegistrationId,
    ) -> ServiceResult<Registration> {
        actor.require(PermissionRef::CanManageUsers, "rolling back a registration")?;
        self.ensure_writable("roll back registration")?;
        let journal = self.registration(actor, id).await?;
        if !journal.state().is_stuck() {
            return Err(ServiceError::Conflict(format!(
                "registration {id} is {}; only stuck registrations can be rolled back",
                journal.state
            )));
        }
        let sub = match journal.sub {
            Some(s) => s,
            None => {
                // Pending without a sub: only an identity we can prove is ours would be deleted.
                match self.reconcile_one(actor, &journal).await? {
                    None => return self.registration(actor, id).await,
                    Some(s) => s,
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
        match self.delete_own_identity(&journal.email, sub).await {
            Ok(()) => {
                self.finish_rollback(actor, &journal, sub, &cause, None)
                    .await?;
                self.registration(actor, id).await
            }
            Err(e) => {
                let mut conn = self.db.acquire().await?;
                let rb = format!("deleting the identity failed: {e}");
                registrations::set_state(
                    &mut conn,
                    id,
                    RegistrationState::NeedsCleanup,
                    None,
                    Some(&rb),
                )
                .await?;
                Err(ServiceError::Directory(e))
            }
        }
    }

    /// Marks a registration resolved with an operator's note (audited when it has a sub).
    pub async fn resolve_registration(
        &self,
        actor: &Actor,
        id: RegistrationId,
        note: &str,
    ) -> ServiceResult<Registration> {
        actor.require(PermissionRef::CanManageUsers, "resolving a registration")?;
        self.ensure_writable("resolve registration")?;
        let note = bounded_text("note", note, 1000)?;
        let mut tx = self.db.begin().await?;
        let journal = registrations::lock(&mut tx, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no registration {id}")))?;
        let note = format!("{} (by {})", note, actor.describe());
        registrations::resolve(&mut tx, id, &note).await?;
        if let Some(sub) = journal.sub {
            ustore::insert_audit(
                &mut tx,
                &ustore::AuditEntry {
                    action: "Resolved registration",
                    user_id: sub,
                    actor: actor.audit_sub(),
                    via: actor.via().as_str(),
                    os_user: actor.os_user(),
                    details: serde_json::json!({
                        "registration_id": id,
                        "previous_state": journal.state,
                        "note": note,
                    }),
                },
            )
            .await?;
        }
        tx.commit().await?;
        self.registration(actor, id).await
    }
}

enum WriteError {
    AlreadyComplete,
    Service(ServiceError),
}

impl From<ServiceError> for WriteError {
    fn from(e: ServiceError) -> Self {
        WriteError::Service(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
