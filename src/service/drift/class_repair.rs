//! Repairing a whole drift class: the count and the first row's preview up front, then every
//! row of the class in batches read by id. Each row is checked again at the moment of its
//! repair (a fresh preview: still in the class?) and repaired by the ordinary use case in its
//! own transaction with its audit row, so stopping half way leaves every repair done so far
//! complete and nothing half done. A row repaired elsewhere meanwhile is counted, not an error;
//! a refused row (a last admin, a changed premise) stays and the walk goes on past it.

use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use super::{DriftClass, DriftTarget, RepairPreview};
use crate::domain::PermissionRef;
use crate::service::{Actor, ServiceError, ServiceResult, Services};
use crate::store::drift_page;

/// What repairing a class would do, before anything changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClassRepairPlan {
    pub class: DriftClass,
    /// The rows in the class now (exact).
    pub total: u64,
    /// The preview of the class's first row (what each repair of the class does).
    pub first: Option<RepairPreview>,
}

/// How far a class repair got (after each row).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClassRepairProgress {
    /// Rows looked at so far.
    pub done: u64,
    pub repaired: u64,
    /// Rows that were no longer drift when their turn came (repaired elsewhere).
    pub no_longer_drift: u64,
    pub refused: u64,
}

/// A row the repair refused (nothing of it was written).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RefusedRepair {
    pub target: String,
    pub error: String,
    pub exit_code: i32,
}

/// What a class repair did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClassRepairReport {
    pub class: DriftClass,
    /// The rows in the class when the repair started.
    pub total: u64,
    #[serde(flatten)]
    pub progress: ClassRepairProgress,
    pub refusals: Vec<RefusedRepair>,
    /// Stopped on request before the end of the class.
    pub stopped: bool,
    /// The failure that ended the walk early (the database gone, the operator's authority
    /// revoked, read-only mode): (message, exit code).
    pub failed: Option<(String, i32)>,
}

/// At most this many refusals are kept in a report (the count is exact).
const REFUSALS_KEPT: usize = 100;

/// A failure of one row that leaves the others worth trying (the row stays as it was).
fn row_refusal(e: &ServiceError) -> bool {
    matches!(
        e,
        ServiceError::Conflict(_)
            | ServiceError::CapacityExceeded(_)
            | ServiceError::Invalid(_)
            | ServiceError::NotFound(_)
            | ServiceError::Directory(crate::directory::DirectoryError::NotFound(_))
    )
}

impl Services {
    /// The count of a class and the preview of its first row, read fresh.
    pub async fn drift_class_plan(
        &self,
        actor: &Actor,
        class: DriftClass,
    ) -> ServiceResult<ClassRepairPlan> {
        self.fresh_read(
            actor,
            Some(PermissionRef::CanManageUsers),
            "previewing a drift class repair",
        )
        .await?;
        let days = self.directory.temporary_password_validity_days().await?;
        let total = drift_page::class_totals(&self.db, days).await?[class.rank()];
        let mut first = None;
        for id in drift_page::class_ids(&self.db, class.rank(), days, None, 5).await? {
            match self
                .drift_repair_preview(actor, DriftTarget { class, id })
                .await
            {
                Ok(p) => {
                    first = Some(p);
                    break;
                }
                Err(ServiceError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(ClassRepairPlan {
            class,
            total,
            first,
        })
    }

    /// Repairs every row of `class`, `batch` ids at a time, until the class is walked or `stop`
    /// is set (checked before each row). `progress` hears after each row.
    pub async fn repair_drift_class(
        &self,
        actor: &Actor,
        class: DriftClass,
        batch: u32,
        stop: &AtomicBool,
        progress: &(dyn Fn(&ClassRepairProgress) + Send + Sync),
    ) -> ServiceResult<ClassRepairReport> {
        self.ensure_writable("repair drift")?;
        self.fresh_read(
            actor,
            Some(PermissionRef::CanManageUsers),
            "repairing a drift class",
        )
        .await?;
        let days = self.directory.temporary_password_validity_days().await?;
        let mut report = ClassRepairReport {
            class,
            total: drift_page::class_totals(&self.db, days).await?[class.rank()],
            progress: ClassRepairProgress::default(),
            refusals: Vec::new(),
            stopped: false,
            failed: None,
        };
        let mut after = None;
        'walk: loop {
            let ids =
                drift_page::class_ids(&self.db, class.rank(), days, after, batch.max(1)).await?;
            if ids.is_empty() {
                break;
            }
            for id in ids {
                if stop.load(Ordering::SeqCst) {
                    report.stopped = true;
                    break 'walk;
                }
                after = Some(id);
                let target = DriftTarget { class, id };
                let p = &mut report.progress;
                match self.repair_one(actor, target).await {
                    Ok(()) => p.repaired += 1,
                    Err(ServiceError::NotFound(_)) => p.no_longer_drift += 1,
                    Err(e) if row_refusal(&e) => {
                        p.refused += 1;
                        if report.refusals.len() < REFUSALS_KEPT {
                            report.refusals.push(RefusedRepair {
                                target: target.to_string(),
                                error: super::show(&e.to_string()),
                                exit_code: e.exit_code(),
                            });
                        }
                    }
                    Err(e) => {
                        report.failed = Some((super::show(&e.to_string()), e.exit_code()));
                        break 'walk;
                    }
                }
                p.done += 1;
                progress(&report.progress);
            }
        }
        Ok(report)
    }

    /// One row: its preview read now (NotFound: no longer drift), then the repair of exactly
    /// that preview.
    async fn repair_one(&self, actor: &Actor, target: DriftTarget) -> ServiceResult<()> {
        let p = self.drift_repair_preview(actor, target).await?;
        self.apply_drift_repair(actor, &p).await?;
        Ok(())
    }
}
