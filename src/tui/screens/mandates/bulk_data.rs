//! The reads and operations behind bulk member actions on the members list, over the
//! service's `bulk_preview` / `bulk_apply`.

use crate::domain::{DisplayText, MandateId};
use crate::service::bulk::{BulkAction, BulkPreview, BulkTarget};
use crate::service::{Actor, Services};
use crate::tui::action::{Job, JobFuture, OpOutcome, Operation, Progress};

/// Reads the preview of a bulk action (nothing is written).
#[derive(Debug)]
pub struct BulkPreviewJob {
    pub mandate_id: MandateId,
    pub target: BulkTarget,
    pub action: BulkAction,
}

impl Job for BulkPreviewJob {
    type Out = BulkPlan;
    fn run(self, s: Services, a: Actor) -> JobFuture<BulkPlan> {
        Box::pin(async move {
            let p = s
                .bulk_preview(&a, self.mandate_id, &self.target, &self.action)
                .await?;
            Ok(BulkPlan {
                target: self.target,
                action: self.action,
                preview: p,
            })
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
    fn run(self: Box<Self>, s: Services, a: Actor, _progress: Progress) -> JobFuture<OpOutcome> {
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
