//! Applying drift repairs: one row as the operator previewed it, or a whole class in batches.

use super::{DriftClass, RepairOutcome, RepairPreview};
use crate::domain::{MembershipId, UserSub};
use crate::service::{Actor, ServiceError, ServiceResult, Services};
use crate::store::drift as store;

impl Services {
    /// Applies a repair the operator saw: reads the preview again and refuses (Conflict) when
    /// it differs; then runs the ordinary use case, which audits in its transaction.
    pub async fn apply_drift_repair(
        &self,
        actor: &Actor,
        seen: &RepairPreview,
    ) -> ServiceResult<RepairOutcome> {
        self.ensure_writable("repair drift")?;
        let now = match self.drift_repair_preview(actor, seen.target).await {
            Ok(p) => p,
            Err(ServiceError::NotFound(why)) => {
                return Err(ServiceError::Conflict(format!(
                    "the drift changed since the preview: {why}; nothing was changed"
                )));
            }
            Err(e) => return Err(e),
        };
        if &now != seen {
            return Err(ServiceError::Conflict(format!(
                "the drift of {} changed since the preview; nothing was changed — preview again",
                seen.target
            )));
        }
        let message = match seen.target.class {
            DriftClass::Memberships => {
                let b = store::broken_membership(&self.db, MembershipId(seen.target.id))
                    .await?
                    .ok_or_else(|| {
                        ServiceError::Conflict(format!(
                            "the membership {} changed since the preview; nothing was changed",
                            seen.target.id
                        ))
                    })?;
                self.remove_member(actor, b.mandate_id, b.user_id).await?;
                format!("removed the membership: {}", seen.summary)
            }
            DriftClass::OrphanGrants | DriftClass::NoGrants => {
                let out = self.delete_user(actor, UserSub(seen.target.id)).await?;
                out.message
            }
            DriftClass::DisabledWithGrants => {
                self.set_roles(actor, UserSub(seen.target.id), &[]).await?;
                format!("removed the global roles: {}", seen.summary)
            }
            DriftClass::ExpiredInvitations => {
                self.resend_invite(actor, UserSub(seen.target.id)).await?;
                format!("sent the invitation again: {}", seen.summary)
            }
        };
        Ok(RepairOutcome {
            preview: seen.clone(),
            message,
        })
    }
}
