//! The life cycle of a mandate after creation: soft delete, restore, hard delete and purge,
//! each only while the mandate is at the version the operator saw when one is given.

use serde_json::json;

use super::actor::authorize;
use super::mandates::{Mandate, PurgeReport, not_found};
use super::retry::retrying;
use super::versions::Version;
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::domain::{DisplayText, MandateId, PermissionRef, ValidationError};
use crate::store::audit::insert_mandate_audit;
use crate::store::mandates as store;

impl Services {
    /// Soft delete: disabled + `deleted_at` (the enabled state is remembered for restore);
    /// hidden from lists; purged after the retention.
    pub async fn soft_delete_mandate(&self, actor: &Actor, id: MandateId) -> ServiceResult<()> {
        self.soft_delete_mandate_expecting(actor, id, None).await
    }

    /// [`Self::soft_delete_mandate`] only while the mandate is at the version the operator saw.
    pub async fn soft_delete_mandate_expecting(
        &self,
        actor: &Actor,
        id: MandateId,
        expected: Option<Version>,
    ) -> ServiceResult<()> {
        self.require_sysadmin(actor, "deleting a mandate")?;
        self.ensure_writable("delete mandate")?;
        // A lost COMMIT answer is found out by the mutation id (`outcome::mutate`).
        super::outcome::mutate(&self.db, async |tx| {
            authorize(
                tx,
                actor,
                PermissionRef::CanAccessAdminPanel,
                "deleting a mandate",
            )
            .await?;
            let m = store::lock(tx, id).await?.ok_or_else(|| not_found(id))?;
            Self::check_mandate_version(tx, &m, expected).await?;
            if m.deleted_at.is_some() {
                return Err(ServiceError::Conflict(format!(
                    "mandate {} is already deleted",
                    DisplayText::new(&m.name)
                )));
            }
            store::soft_delete(tx, id).await?;
            insert_mandate_audit(
                tx,
                &actor.audit(),
                id,
                &m.name,
                "MANDATE_SOFT_DELETED",
                None,
                json!({"retention_days": self.settings.mandates.retention_days}),
            )
            .await?;
            Ok(())
        })
        .await
    }

    /// Brings back a soft-deleted mandate within the retention window, enabled or disabled as
    /// it was when deleted. Refused (naming it) when a live mandate has taken the name.
    pub async fn restore_mandate(&self, actor: &Actor, id: MandateId) -> ServiceResult<Mandate> {
        self.restore_mandate_expecting(actor, id, None).await
    }

    /// [`Self::restore_mandate`] only while the mandate is at the version the operator saw.
    pub async fn restore_mandate_expecting(
        &self,
        actor: &Actor,
        id: MandateId,
        expected: Option<Version>,
    ) -> ServiceResult<Mandate> {
        self.require_sysadmin(actor, "restoring a mandate")?;
        self.ensure_writable("restore mandate")?;
        let mut tx = self.db.begin().await?;
        authorize(
            &mut tx,
            actor,
            PermissionRef::CanAccessAdminPanel,
            "restoring a mandate",
        )
        .await?;
        let m = store::lock(&mut tx, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        Self::check_mandate_version(&mut tx, &m, expected).await?;
        if m.deleted_at.is_none() {
            return Err(ServiceError::Conflict(format!(
                "mandate {} is not deleted",
                DisplayText::new(&m.name)
            )));
        }
        let days = self.settings.mandates.retention_days;
        let restored = match store::restore(&mut tx, id, days).await {
            Ok(r) => r,
            Err(e) => {
                drop(tx);
                return Err(self.name_taken(e, &m.name, "restore mandate").await);
            }
        };
        let Some(enabled) = restored else {
            return Err(ServiceError::Conflict(format!(
                "mandate {} was deleted more than {days} days ago and can no longer be restored",
                DisplayText::new(&m.name)
            )));
        };
        insert_mandate_audit(
            &mut tx,
            &actor.audit(),
            id,
            &m.name,
            "MANDATE_RESTORED",
            None,
            json!({"deleted_at": m.deleted_at, "enabled": enabled}),
        )
        .await?;
        tx.commit().await?;
        // The state it had when it was deleted (recorded by the soft delete).
        store::get(&self.db, id).await?.ok_or_else(|| not_found(id))
    }

    /// Irreversible delete with full cascade; `confirm_name` must equal the mandate's name.
    pub async fn hard_delete_mandate(
        &self,
        actor: &Actor,
        id: MandateId,
        confirm_name: &str,
    ) -> ServiceResult<()> {
        self.hard_delete_mandate_expecting(actor, id, confirm_name, None)
            .await
    }

    /// [`Self::hard_delete_mandate`] only while the mandate is at the version the operator saw.
    pub async fn hard_delete_mandate_expecting(
        &self,
        actor: &Actor,
        id: MandateId,
        confirm_name: &str,
        expected: Option<Version>,
    ) -> ServiceResult<()> {
        self.require_sysadmin(actor, "deleting a mandate")?;
        self.ensure_writable("hard-delete mandate")?;
        super::approvals::gate(
            &self.settings,
            &crate::domain::approval::ChangeRequest::HardDelete { mandate: id },
        )?;
        let mut tx = self.db.begin().await?;
        authorize(
            &mut tx,
            actor,
            PermissionRef::CanAccessAdminPanel,
            "hard-deleting a mandate",
        )
        .await?;
        let m = store::lock(&mut tx, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        Self::check_mandate_version(&mut tx, &m, expected).await?;
        if confirm_name != m.name {
            return Err(ValidationError::Invalid {
                field: "confirm name",
                message: format!(
                    "hard delete requires the exact mandate name {}",
                    DisplayText::new(&m.name)
                ),
            }
            .into());
        }
        store::hard_delete(&mut tx, id).await?;
        insert_mandate_audit(
            &mut tx,
            &actor.audit(),
            id,
            &m.name,
            "MANDATE_HARD_DELETED",
            None,
            json!({"label": m.label, "was_soft_deleted_at": m.deleted_at}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes soft-deleted mandates past `mandates.retention_days` (one audit row each), or
    /// with `dry_run` only lists them.
    pub async fn purge_mandates(&self, actor: &Actor, dry_run: bool) -> ServiceResult<PurgeReport> {
        self.require_sysadmin(actor, "purging mandates")?;
        let days = self.settings.mandates.retention_days;
        if dry_run {
            self.fresh_read(
                actor,
                Some(PermissionRef::CanAccessAdminPanel),
                "purging mandates",
            )
            .await?;
            let mut conn = self.db.acquire().await?;
            let mandates = store::purgeable(&mut conn, days, false).await?;
            return Ok(PurgeReport {
                dry_run,
                retention_days: days,
                mandates,
            });
        }
        self.ensure_writable("purge mandates")?;
        let who = actor.audit();
        let mandates = retrying(|| async {
            let mut tx = self.db.begin().await?;
            authorize(
                &mut tx,
                actor,
                PermissionRef::CanAccessAdminPanel,
                "purging mandates",
            )
            .await?;
            let mandates = store::purgeable(&mut tx, days, true).await?;
            for m in &mandates {
                store::hard_delete(&mut tx, m.id).await?;
                insert_mandate_audit(
                    &mut tx,
                    &who,
                    m.id,
                    &m.name,
                    "MANDATE_PURGED",
                    None,
                    json!({"deleted_at": m.deleted_at, "retention_days": days}),
                )
                .await?;
            }
            tx.commit().await?;
            Ok(mandates)
        })
        .await?;
        Ok(PurgeReport {
            dry_run,
            retention_days: days,
            mandates,
        })
    }
}
