//! On-call repair of stuck registrations: list, retry, reconcile, roll back, resolve — each
//! under the registration's lease, each proving authorship the way the saga does.

use super::classify::Found;
use super::rollback::RollbackFailure;
use super::{RegisterOutcome, roles_from_ids, show};

use crate::service::access::Area;

use crate::domain::{PermissionRef, RegistrationId, UserSub};
use crate::service::actor::authorize;
use crate::service::{Actor, ServiceError, ServiceResult, Services};
use crate::store::registrations::{self, Change};
use crate::store::registrations::{Registration, RegistrationState};
use crate::store::users as ustore;

impl Services {
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
        self.read_area(actor, Area::Registrations, "listing stuck registrations")
            .await?;
        Ok(registrations::list_page(&self.db, q).await?)
    }

    pub async fn registration(
        &self,
        actor: &Actor,
        id: RegistrationId,
    ) -> ServiceResult<Registration> {
        self.read_area(actor, Area::Registrations, "reading a registration")
            .await?;
        self.journal(id).await
    }

    pub(super) async fn retry_locked(
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
    pub(super) async fn reconcile_one(
        &self,
        journal: &Registration,
    ) -> ServiceResult<Option<UserSub>> {
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

    pub(super) async fn reconcile_locked(&self, id: RegistrationId) -> String {
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

    pub(super) async fn rollback_locked(
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

    pub(super) async fn resolve_locked(
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
