//! The two-person rule. An action the environment names in `[approvals] require` is not
//! executed when asked for: the use case refuses with [`ServiceError::ApprovalRequired`] and
//! the caller proposes it instead — a pending change with the exact preview, its fingerprint,
//! the proposer's reason and an expiry. A second operator holding the action's permission
//! approves it (executed only while the targets still match the fingerprint; otherwise void,
//! naming what changed) or rejects it with a reason. Every step writes an audit row in the
//! target's audit table carrying the change's number, so proposed → approved/rejected/expired/
//! void → executed read as one history.
//!
//! Keys minted by an approved rotation are never stored: approval does not execute it; the
//! proposer completes it ([`Services::complete_change`]) and receives the keys through the
//! ordinary one-time reveal — the approver never sees them.

use crate::store::Conn;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::access::Area;
use super::actor::authorize;
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::config::Settings;
use crate::domain::approval::{
    ApprovalAction, ChangeRequest, ChangeState, Preview, Requirements, production_like,
};
use crate::domain::{UserSub, ValidationError};
use crate::store::approvals::{self as store, PendingRow};
use crate::store::audit::{AuditActor, insert_mandate_audit};
use crate::store::{trusts as tstore, users as ustore};

tokio::task_local! {
    /// The approved change being executed in this task: its own use case lets it through.
    pub(super) static EXECUTING: ChangeRequest;
}

/// The actions this environment puts under the two-person rule.
pub fn requirements(settings: &Settings) -> Requirements {
    Requirements::parse(
        &settings.approvals.require,
        production_like(settings.env.as_deref()),
    )
    .unwrap_or_default()
}

/// The gate every use case under the rule passes before it writes: refuses unless the action
/// is not required here or this very change was approved and is being executed.
pub(crate) fn gate(settings: &Settings, req: &ChangeRequest) -> ServiceResult<()> {
    if !requirements(settings).requires(req.action()) {
        return Ok(());
    }
    if EXECUTING.try_with(|r| r.same_target(req)).unwrap_or(false) {
        return Ok(());
    }
    Err(ServiceError::ApprovalRequired {
        message: format!(
            "{} needs a second operator's approval in this environment: propose it with a \
             reason (CLI: add --reason TEXT), then another operator runs `hubdeck approvals \
             approve ID`",
            req.action().label()
        ),
        request: Box::new(req.clone()),
    })
}

/// A pending change as operators see it.
#[derive(Clone, Debug, Serialize)]
pub struct PendingChange {
    pub id: i64,
    pub action: ApprovalAction,
    pub request: ChangeRequest,
    pub preview: Preview,
    pub fingerprint: String,
    pub reason: String,
    pub proposer: String,
    pub proposer_sub: Option<UserSub>,
    pub proposed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub state: ChangeState,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    pub executed_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
}

impl PendingChange {
    pub(super) fn from_row(r: PendingRow) -> ServiceResult<Self> {
        let bad = |what: &str| ServiceError::Internal(format!("pending change {}: {what}", r.id));
        let request: ChangeRequest =
            serde_json::from_value(r.request.clone()).map_err(|_| bad("unreadable request"))?;
        let preview: Preview =
            serde_json::from_value(r.preview.clone()).map_err(|_| bad("unreadable preview"))?;
        let mut state = ChangeState::parse(&r.state).ok_or_else(|| bad("unknown state"))?;
        if state.is_open() && r.lapsed {
            state = ChangeState::Expired;
        }
        Ok(Self {
            id: r.id,
            action: request.action(),
            request,
            preview,
            fingerprint: r.fingerprint,
            reason: r.reason,
            proposer: r.proposer,
            proposer_sub: r.proposer_sub,
            proposed_at: r.proposed_at,
            expires_at: r.expires_at,
            state,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
            decision_note: r.decision_note,
            executed_at: r.executed_at,
            outcome: r.outcome,
        })
    }
}

/// What an approval did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Approved {
    /// Executed; what happened.
    Executed { outcome: String },
    /// Approved; the proposer completes it (a key rotation).
    AwaitsProposer,
}

const MAX_REASON: usize = 500;

pub(super) fn checked_reason(reason: &str, field: &'static str) -> ServiceResult<String> {
    let r = reason.trim();
    if r.is_empty() || r.chars().count() > MAX_REASON {
        return Err(ValidationError::Invalid {
            field,
            message: format!("give a reason of 1–{MAX_REASON} characters"),
        }
        .into());
    }
    Ok(r.to_string())
}

/// Writes one lifecycle row into the audit table of the change's target.
pub(super) async fn audit_step(
    conn: &mut Conn,
    who: &AuditActor<'_>,
    req: &ChangeRequest,
    target: &str,
    action: &'static str,
    details: serde_json::Value,
) -> ServiceResult<()> {
    match req {
        ChangeRequest::UserDelete { user } | ChangeRequest::GlobalAdminGrant { user, .. } => {
            ustore::insert_audit(
                conn,
                &ustore::AuditEntry {
                    action,
                    user_id: *user,
                    who: *who,
                    details,
                },
            )
            .await?
        }
        ChangeRequest::HardDelete { mandate } => {
            insert_mandate_audit(conn, who, *mandate, target, action, None, details).await?
        }
        ChangeRequest::TrustDelete { trust } | ChangeRequest::TrustKeyRotation { trust, .. } => {
            tstore::insert_audit(conn, *trust, target, action, who, details).await?
        }
    }
    Ok(())
}

pub(super) const SYSTEM: AuditActor<'static> = AuditActor {
    sub: None,
    via: "system",
    os_user: None,
};

impl Services {
    /// Whether `action` needs a second operator here.
    pub fn approval_required(&self, action: ApprovalAction) -> bool {
        requirements(&self.settings).requires(action)
    }

    /// The preview a proposer confirms before proposing `req`.
    pub async fn preview_change(
        &self,
        actor: &Actor,
        req: &ChangeRequest,
    ) -> ServiceResult<Preview> {
        for p in super::approval_preview::permissions(req) {
            self.fresh_read(actor, Some(p), req.action().label())
                .await?;
        }
        Ok(self.read_preview(req).await?.preview)
    }

    /// Proposes `req` with a reason. `confirmed` is the fingerprint of the preview the proposer
    /// saw: the proposal is refused when the targets changed since.
    pub async fn propose_change(
        &self,
        actor: &Actor,
        req: &ChangeRequest,
        reason: &str,
        confirmed: Option<&str>,
    ) -> ServiceResult<PendingChange> {
        let needs = super::approval_preview::permissions(req);
        for p in &needs {
            actor.require(*p, req.action().label())?;
        }
        self.ensure_writable("proposing a change")?;
        let reason = checked_reason(reason, "reason")?;
        let read = self.read_preview(req).await?;
        let fingerprint = read.preview.fingerprint(req);
        if let Some(saw) = confirmed
            && saw != fingerprint
        {
            return Err(ServiceError::Conflict(
                "the targets changed since the preview was shown; review it again".into(),
            ));
        }
        let mut tx = self.db.begin().await?;
        for p in &needs {
            authorize(&mut tx, actor, *p, req.action().label()).await?;
        }
        let who = actor.audit();
        let id = store::insert(
            &mut tx,
            &store::NewPending {
                action: req.action().key(),
                request: serde_json::to_value(req).map_err(internal)?,
                preview: serde_json::to_value(&read.preview).map_err(internal)?,
                fingerprint: &fingerprint,
                reason: &reason,
                proposer: &actor.describe(),
                who,
                expiry_hours: self.settings.approvals.expiry_hours.min(24 * 365) as i32,
            },
        )
        .await?;
        audit_step(
            &mut tx,
            &who,
            req,
            &read.preview.target,
            "APPROVAL_PROPOSED",
            serde_json::json!({"approval": id, "change": req.action().key(), "reason": reason,
                "fingerprint": fingerprint, "preview": read.preview}),
        )
        .await?;
        tx.commit().await?;
        self.show_change(actor, id).await
    }

    /// Open changes (or all, newest first).
    pub async fn list_changes(
        &self,
        actor: &Actor,
        all: bool,
    ) -> ServiceResult<Vec<PendingChange>> {
        self.read_area(actor, Area::Approvals, "listing pending changes")
            .await?;
        let _ = self.expire_due().await;
        store::list(&self.db, !all, 500)
            .await?
            .into_iter()
            .map(PendingChange::from_row)
            .collect()
    }

    /// How many changes wait for a decision.
    pub async fn count_proposed_changes(&self, actor: &Actor) -> ServiceResult<i64> {
        self.read_area(actor, Area::Approvals, "counting pending changes")
            .await?;
        Ok(store::count_proposed(&self.db).await?)
    }

    pub async fn show_change(&self, actor: &Actor, id: i64) -> ServiceResult<PendingChange> {
        self.read_area(actor, Area::Approvals, "showing a pending change")
            .await?;
        let row = store::get(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no pending change #{id}")))?;
        PendingChange::from_row(row)
    }

    /// Marks proposals past their expiry expired (one audit row each). Skipped in read-only
    /// mode (lists still show them expired).
    pub async fn expire_due(&self) -> ServiceResult<usize> {
        if self.settings.ui.read_only {
            return Ok(0);
        }
        let mut tx = self.db.begin().await?;
        let due = store::lock_due(&mut tx).await?;
        for r in &due {
            store::decide(&mut tx, r.id, "expired", None, None).await?;
            let c = PendingChange::from_row(r.clone())?;
            audit_step(
                &mut tx,
                &SYSTEM,
                &c.request,
                &c.preview.target,
                "APPROVAL_EXPIRED",
                serde_json::json!({"approval": r.id, "change": c.action.key()}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(due.len())
    }
}

fn internal(e: serde_json::Error) -> ServiceError {
    ServiceError::Internal(e.to_string())
}
