//! Decisions on pending changes: approve (and execute), reject, the proposer's completion of
//! an approved key rotation, and the re-check that voids a change whose targets moved.

use super::actor::{fresh_authority, lacks};
use super::approvals::{Approved, EXECUTING, PendingChange, SYSTEM, audit_step, checked_reason};
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::domain::approval::{ChangeRequest, ChangeState};
use crate::domain::trust::RotatedKeys;
use crate::domain::{DisplayText, PermissionRef};
use crate::store::Conn;
use crate::store::approvals as store;

impl Services {
    /// Locks an open change for a decision; refuses one that is not `want`, or has expired
    /// (recording the expiry).
    async fn lock_open(
        &self,
        tx: &mut Conn,
        id: i64,
        want: ChangeState,
    ) -> ServiceResult<Result<PendingChange, String>> {
        let row = store::lock(tx, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no pending change #{id}")))?;
        let lapsed = row.lapsed && matches!(row.state.as_str(), "proposed" | "approved");
        let c = PendingChange::from_row(row)?;
        if lapsed {
            store::decide(tx, id, "expired", None, None).await?;
            audit_step(
                tx,
                &SYSTEM,
                &c.request,
                &c.preview.target,
                "APPROVAL_EXPIRED",
                serde_json::json!({"approval": id, "change": c.action.key()}),
            )
            .await?;
            return Ok(Err(format!("change #{id} has expired; propose it again")));
        }
        if c.state != want {
            return Err(ServiceError::Conflict(format!(
                "change #{id} is {}, not {}",
                c.state.key(),
                want.key()
            )));
        }
        Ok(Ok(c))
    }

    /// Re-reads the targets; when they no longer match the fingerprint, voids the change
    /// (audited) and says what changed.
    async fn still_matches(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        c: &PendingChange,
    ) -> ServiceResult<Result<Option<i64>, String>> {
        let now = match self.read_preview(&c.request).await {
            Ok(r) => Ok(r),
            Err(ServiceError::NotFound(m)) => Err(vec![m]),
            Err(e) => return Err(e),
        };
        let changes = match &now {
            Ok(r) if r.preview.fingerprint(&c.request) == c.fingerprint => {
                return Ok(Ok(r.version));
            }
            Ok(r) => c.preview.changes_since(&r.preview),
            Err(m) => m.clone(),
        };
        let note = format!(
            "the targets changed since it was proposed: {}",
            changes.join("; ")
        );
        store::decide(
            tx,
            c.id,
            "void",
            Some((actor.audit_sub(), &actor.describe())),
            Some(&note),
        )
        .await?;
        audit_step(
            tx,
            &actor.audit(),
            &c.request,
            &c.preview.target,
            "APPROVAL_VOID",
            serde_json::json!({"approval": c.id, "change": c.action.key(), "changed": changes}),
        )
        .await?;
        Ok(Err(format!("change #{} is void: {note}", c.id)))
    }

    /// Approves change `id` as a second operator and executes it (a key rotation waits for
    /// its proposer). Refused for the proposer, for infrastructure, without the action's
    /// permission now, and once it expired; void when the targets changed.
    pub async fn approve_change(&self, actor: &Actor, id: i64) -> ServiceResult<Approved> {
        let Some(op) = actor.operator() else {
            return Err(ServiceError::Denied(
                "approving needs a signed-in operator (`hubdeck login`), not infrastructure".into(),
            ));
        };
        self.ensure_writable("approving a change")?;
        let mut tx = self.db.begin().await?;
        let now = fresh_authority(&mut tx, actor).await?;
        let c = match self.lock_open(&mut tx, id, ChangeState::Proposed).await? {
            Ok(c) => c,
            Err(msg) => {
                tx.commit().await?;
                return Err(ServiceError::Conflict(msg));
            }
        };
        if c.proposer_sub == Some(op.sub) {
            return Err(ServiceError::Denied(format!(
                "nobody approves their own change: #{id} was proposed by you; another operator \
                 must approve it"
            )));
        }
        for p in super::approval_preview::permissions(&c.request) {
            if !now.has(p) {
                return Err(lacks(actor, p, &format!("approving change #{id}")));
            }
        }
        let version = match self.still_matches(&mut tx, actor, &c).await? {
            Ok(v) => v,
            Err(msg) => {
                tx.commit().await?;
                return Err(ServiceError::Conflict(msg));
            }
        };
        store::decide(
            &mut tx,
            id,
            "approved",
            Some((Some(op.sub), &actor.describe())),
            None,
        )
        .await?;
        audit_step(
            &mut tx,
            &actor.audit(),
            &c.request,
            &c.preview.target,
            "APPROVAL_APPROVED",
            serde_json::json!({"approval": id, "change": c.action.key(),
                "proposer": c.proposer, "fingerprint": c.fingerprint}),
        )
        .await?;
        tx.commit().await?;
        if c.request.proposer_executes() {
            return Ok(Approved::AwaitsProposer);
        }
        let outcome = EXECUTING
            .scope(
                c.request.clone(),
                self.execute_change(actor, &c.request, version),
            )
            .await;
        self.finish(actor, &c, outcome)
            .await
            .map(|outcome| Approved::Executed { outcome })
    }

    /// Records the end of an approved change: executed (audited with its outcome) or, when
    /// the use case refused, void with the refusal.
    async fn finish(
        &self,
        actor: &Actor,
        c: &PendingChange,
        outcome: ServiceResult<String>,
    ) -> ServiceResult<String> {
        let mut tx = self.db.begin().await?;
        let (state, action, text) = match &outcome {
            Ok(o) => ("executed", "APPROVAL_EXECUTED", o.clone()),
            Err(e) => ("void", "APPROVAL_VOID", format!("execution refused: {e}")),
        };
        store::finish(&mut tx, c.id, state, &text).await?;
        audit_step(
            &mut tx,
            &actor.audit(),
            &c.request,
            &c.preview.target,
            action,
            serde_json::json!({"approval": c.id, "change": c.action.key(), "outcome": text}),
        )
        .await?;
        tx.commit().await?;
        outcome
    }

    /// Rejects change `id` with a reason (any operator who may approve it, the proposer
    /// included: withdrawing one's own proposal is a rejection).
    pub async fn reject_change(&self, actor: &Actor, id: i64, reason: &str) -> ServiceResult<()> {
        self.ensure_writable("rejecting a change")?;
        let reason = checked_reason(reason, "reason")?;
        let mut tx = self.db.begin().await?;
        let now = fresh_authority(&mut tx, actor).await?;
        let c = match self.lock_open(&mut tx, id, ChangeState::Proposed).await? {
            Ok(c) => c,
            Err(msg) => {
                tx.commit().await?;
                return Err(ServiceError::Conflict(msg));
            }
        };
        for p in super::approval_preview::permissions(&c.request) {
            if !now.has(p) {
                return Err(lacks(actor, p, &format!("rejecting change #{id}")));
            }
        }
        store::decide(
            &mut tx,
            id,
            "rejected",
            Some((actor.audit_sub(), &actor.describe())),
            Some(&reason),
        )
        .await?;
        audit_step(
            &mut tx,
            &actor.audit(),
            &c.request,
            &c.preview.target,
            "APPROVAL_REJECTED",
            serde_json::json!({"approval": id, "change": c.action.key(), "reason": reason}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The proposer completes an approved key rotation: the targets must still match, then
    /// the keys are minted and returned to the proposer alone (for the one-time reveal).
    pub async fn complete_change(&self, actor: &Actor, id: i64) -> ServiceResult<RotatedKeys> {
        self.ensure_writable("completing a change")?;
        let mut tx = self.db.begin().await?;
        let now = fresh_authority(&mut tx, actor).await?;
        // Only key rotations are completed; they need a SysAdmin now.
        let what = format!("completing change #{id}");
        if !now.has(PermissionRef::CanAccessAdminPanel) {
            return Err(lacks(actor, PermissionRef::CanAccessAdminPanel, &what));
        }
        let c = match self.lock_open(&mut tx, id, ChangeState::Approved).await? {
            Ok(c) => c,
            Err(msg) => {
                tx.commit().await?;
                return Err(ServiceError::Conflict(msg));
            }
        };
        let proposer_sub = c.proposer_sub;
        if proposer_sub != actor.audit_sub()
            || (proposer_sub.is_none() && c.proposer != actor.describe())
        {
            return Err(ServiceError::Denied(format!(
                "only the proposer ({}) completes change #{id}: the keys are revealed to them alone",
                DisplayText::new(&c.proposer)
            )));
        }
        for p in super::approval_preview::permissions(&c.request) {
            if !now.has(p) {
                return Err(lacks(actor, p, &what));
            }
        }
        let ChangeRequest::TrustKeyRotation { trust, internal } = c.request else {
            return Err(ServiceError::Conflict(format!(
                "change #{id} is executed on approval, not completed"
            )));
        };
        if let Err(msg) = self.still_matches(&mut tx, actor, &c).await? {
            tx.commit().await?;
            return Err(ServiceError::Conflict(msg));
        }
        tx.commit().await?;
        let keys = EXECUTING
            .scope(
                c.request.clone(),
                self.rotate_trust_keys(actor, trust, internal, None),
            )
            .await;
        let outcome = keys.as_ref().map(|k| {
            format!(
                "keys of trust «{}» rotated; revealed to the proposer",
                DisplayText::new(&k.trust_name)
            )
        });
        match (
            self.finish(actor, &c, outcome.map_err(clone_err)).await,
            keys,
        ) {
            (_, Ok(k)) => Ok(k),
            (Err(e), Err(_)) => Err(e),
            (Ok(_), Err(e)) => Err(e),
        }
    }
}

fn clone_err(e: &ServiceError) -> ServiceError {
    ServiceError::Conflict(e.to_string())
}
