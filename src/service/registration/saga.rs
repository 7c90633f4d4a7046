//! The registration saga: journal `pending`, create the identity once, prove it ours, then
//! grants + profile + audit + `complete` in one transaction (see the module docs of
//! [`super`]).

use super::classify::{FailureClass, Found, Step, classify, evidence, proven};
use super::{
    RegisterOutcome, RegisterRequest, age, failpoint, role_ids, roles_from_ids, roles_write, show,
    validate,
};
use std::time::Duration;

use crate::directory::{DirectoryError, Identity, Invite, NewIdentity, UserKey};
use crate::domain::{Email, PermissionRef, RegistrationId, UserSub};
use crate::service::{Actor, ServiceError, ServiceResult, Services};
use crate::store::registrations::{self, Change, NewRegistration, ONE_OPEN_PER_EMAIL};
use crate::store::registrations::{Registration, RegistrationState};

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
    pub(super) async fn open_registration_exists(&self, email: &Email) -> ServiceError {
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
    pub(super) async fn create_phase(
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

    pub(super) async fn journal(&self, id: RegistrationId) -> ServiceResult<Registration> {
        registrations::get(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no registration {id}")))
    }

    /// `pending` → `to` (rolled_back: nothing was created) with the message.
    pub(super) async fn end_pending(
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
    pub(super) async fn kept_pending(
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
    pub(super) async fn find_proven(&self, journal: &Registration) -> Found {
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
    pub(super) async fn conflict_pending(
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
    pub(super) async fn identity_proven(
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
    pub(super) async fn complete_registration(
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
}
