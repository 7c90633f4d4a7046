//! The reads and operations behind bulk member actions and undo on the members list, over
//! the service's `bulk_preview` / `bulk_apply` and `member_undo_candidate` / `undo`.

use std::collections::BTreeMap;

use crate::domain::{DisplayText, MandateId, UserSub};
use crate::service::bulk::{BulkAction, BulkPreview, BulkTarget};
use crate::service::undo::UndoPlan;
use crate::service::{Actor, Services};
use crate::tui::action::{Job, JobFuture, OpOutcome, Operation, Reply};

/// Reads the preview of a bulk action (nothing is written).
#[derive(Debug)]
pub struct BulkPreviewJob {
    pub mandate_id: MandateId,
    pub target: BulkTarget,
    pub action: BulkAction,
}

impl Job for BulkPreviewJob {
    fn run(self: Box<Self>, s: Services, a: Actor) -> JobFuture<Reply> {
        Box::pin(async move {
            let p = s
                .bulk_preview(&a, self.mandate_id, &self.target, &self.action)
                .await?;
            Ok(Box::new(BulkPlan {
                target: self.target,
                action: self.action,
                preview: p,
            }) as Reply)
        })
    }
}

/// A preview with what produced it (the confirmation applies exactly this).
#[derive(Debug)]
pub struct BulkPlan {
    pub target: BulkTarget,
    pub action: BulkAction,
    pub preview: BulkPreview,
}

/// Applies a previewed bulk action: refused whole when the plan changed since the preview.
#[derive(Clone, Debug)]
pub struct BulkApply {
    pub mandate_id: MandateId,
    pub target: BulkTarget,
    pub action: BulkAction,
    pub fingerprint: String,
}

impl Operation for BulkApply {
    fn describe(&self) -> &'static str {
        "bulk member action"
    }
    fn subject(&self) -> Option<String> {
        Some(format!("members:{}", self.mandate_id))
    }
    fn run(self: Box<Self>, s: Services, a: Actor) -> JobFuture<OpOutcome> {
        Box::pin(async move {
            let r = s
                .bulk_apply(
                    &a,
                    self.mandate_id,
                    &self.target,
                    &self.action,
                    Some(&self.fingerprint),
                )
                .await?;
            Ok(OpOutcome::toast(format!(
                "bulk {} in {}: {} changed, {} unchanged, {} refused",
                r.action,
                DisplayText::with_max(&r.mandate_name, 40),
                r.changes,
                r.unchanged,
                r.refused
            )))
        })
    }
}

/// The newest reversible change of a member, as its preview, with role ids named.
#[derive(Debug)]
pub struct MemberUndoJob {
    pub mandate_id: MandateId,
    pub user_sub: UserSub,
}

/// An undo preview with the mandate's role labels (role ids in the plan are shown by label).
#[derive(Debug)]
pub struct UndoView {
    pub plan: Option<UndoPlan>,
    pub labels: BTreeMap<String, String>,
}

impl UndoView {
    /// A recorded state as the operator reads it: role labels, or enabled/disabled.
    pub fn state(&self, v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::Bool(true) => "enabled".into(),
            serde_json::Value::Bool(false) => "disabled".into(),
            serde_json::Value::Array(a) => {
                let names: Vec<String> = a
                    .iter()
                    .filter_map(|x| x.as_str())
                    .map(|id| {
                        DisplayText::with_max(self.labels.get(id).map_or(id, String::as_str), 40)
                            .into_string()
                    })
                    .collect();
                if names.is_empty() {
                    "(no roles)".into()
                } else {
                    names.join(", ")
                }
            }
            serde_json::Value::Null => "(unknown)".into(),
            other => DisplayText::with_max(&other.to_string(), 80).into_string(),
        }
    }
}

impl Job for MemberUndoJob {
    fn run(self: Box<Self>, s: Services, a: Actor) -> JobFuture<Reply> {
        Box::pin(async move {
            let plan = s
                .member_undo_candidate(&a, self.mandate_id, self.user_sub)
                .await?;
            let labels = s
                .member_role_choices(&a, self.mandate_id, None)
                .await?
                .offered
                .into_iter()
                .map(|r| (r.id.to_string(), r.label))
                .collect();
            Ok(Box::new(UndoView { plan, labels }) as Reply)
        })
    }
}

/// Undoes one audit row (re-checked and re-authorised by the service when it runs).
#[derive(Clone, Debug)]
pub struct UndoOp {
    pub audit_id: uuid::Uuid,
    pub subject: String,
}

impl Operation for UndoOp {
    fn describe(&self) -> &'static str {
        "undo grant change"
    }
    fn subject(&self) -> Option<String> {
        Some(self.subject.clone())
    }
    fn run(self: Box<Self>, s: Services, a: Actor) -> JobFuture<OpOutcome> {
        Box::pin(async move {
            let p = s.undo(&a, self.audit_id).await?;
            Ok(OpOutcome::toast(format!(
                "undone: {}",
                DisplayText::with_max(&p.action, 40)
            )))
        })
    }
}
