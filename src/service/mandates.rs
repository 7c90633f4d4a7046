//! Mandates (SPEC §5.5): list, get, create, update, soft delete, restore, hard delete, purge.
//! Create/update/delete are SysAdmin-only; listing shows a mandate admin only the enabled
//! mandates they administer.

use serde::Serialize;
use serde_json::json;

use super::actor::authorize;
use super::outcome::mutate;
use super::retry::retrying;
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::domain::error::bounded_text;
use crate::domain::{DisplayText, MandateId, Page, PageQuery, PermissionRef, ValidationError};
use crate::store::StoreError;
use crate::store::audit::insert_mandate_audit;
pub use crate::store::mandates::Mandate;
use crate::store::mandates::{self as store, MandateScope, Subscription};

pub const MAX_NAME_CHARS: usize = 255;
/// Input of create and update.
#[derive(Clone, Debug, Default)]
pub struct MandateInput {
    pub name: String,
    pub label: Option<String>,
    pub enabled: bool,
}

impl MandateInput {
    fn validate(&self) -> Result<(String, Option<String>), ValidationError> {
        let name = bounded_text("mandate name", &self.name, MAX_NAME_CHARS)?;
        let label = match self.label.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(l) => Some(bounded_text("mandate label", l, MAX_NAME_CHARS)?),
        };
        Ok((name, label))
    }
}

/// A mandate with its live subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MandateDetail {
    pub mandate: Mandate,
    pub subscription: Option<Subscription>,
}

/// What purge removed (or, for a dry run, would remove).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    pub dry_run: bool,
    pub retention_days: u32,
    pub mandates: Vec<Mandate>,
}

impl Services {
    /// Maps a violation of the live-name index to a conflict naming the live mandate that holds
    /// the name (looked up after the failed transaction); any other error passes through.
    async fn name_taken(&self, e: StoreError, name: &str, doing: &str) -> ServiceError {
        if e.unique_constraint() != Some(store::NAME_LIVE_KEY) {
            return e.into();
        }
        let holder = match store::live_by_name(&self.db, name).await {
            Ok(Some(m)) => format!(
                "the live mandate {} ({}) already has that name",
                DisplayText::new(&m.name),
                m.id
            ),
            _ => "a live mandate already has that name".to_string(),
        };
        ServiceError::Conflict(format!(
            "cannot {doing} {}: {holder} — mandate names are unique regardless of case",
            DisplayText::new(name)
        ))
    }
}

fn not_found(id: MandateId) -> ServiceError {
    ServiceError::NotFound(format!("mandate {id} not found"))
}

impl Services {
    fn require_sysadmin(&self, actor: &Actor, what: &str) -> ServiceResult<()> {
        if actor.is_sysadmin() {
            Ok(())
        } else {
            Err(ServiceError::Denied(format!("{what} requires a SysAdmin")))
        }
    }

    /// Which mandates the actor may list: SysAdmin all, a mandate admin theirs, others Denied.
    async fn mandate_scope(&self, actor: &Actor) -> ServiceResult<MandateScope> {
        if actor.is_sysadmin() {
            return Ok(MandateScope::All);
        }
        match actor.audit_sub() {
            Some(sub) => {
                let page = store::list(
                    &self.db,
                    &PageQuery::new(1, 1),
                    MandateScope::AdministeredBy(sub),
                )
                .await?;
                if page.total == 0 {
                    Err(ServiceError::Denied(
                        "listing mandates requires a SysAdmin or a mandate admin".into(),
                    ))
                } else {
                    Ok(MandateScope::AdministeredBy(sub))
                }
            }
            None => Err(ServiceError::Denied(
                "listing mandates requires an operator".into(),
            )),
        }
    }

    /// One page of live mandates.
    pub async fn list_mandates(
        &self,
        actor: &Actor,
        q: &PageQuery,
    ) -> ServiceResult<Page<Mandate>> {
        let scope = self.mandate_scope(actor).await?;
        Ok(store::list(&self.db, q, scope).await?)
    }

    /// Distinct values of a mandates column (other filters honoured, its own ignored).
    pub async fn mandate_filter_values(
        &self,
        actor: &Actor,
        column: &str,
        q: &PageQuery,
    ) -> ServiceResult<Vec<String>> {
        let scope = self.mandate_scope(actor).await?;
        Ok(store::filter_values(&self.db, column, q, scope, 200).await?)
    }

    /// One page of soft-deleted mandates (SysAdmin).
    pub async fn list_deleted_mandates(
        &self,
        actor: &Actor,
        q: &PageQuery,
    ) -> ServiceResult<Page<Mandate>> {
        self.require_sysadmin(actor, "listing deleted mandates")?;
        Ok(store::list_deleted(&self.db, q).await?)
    }

    /// Whether the actor may manage the members of `mandate` (SysAdmin or its admin).
    pub async fn can_manage_members(
        &self,
        actor: &Actor,
        mandate: MandateId,
    ) -> ServiceResult<bool> {
        if actor.is_sysadmin() {
            return Ok(true);
        }
        match actor.audit_sub() {
            Some(sub) => Ok(store::is_admin_of(&self.db, sub, mandate).await?),
            None => Ok(false),
        }
    }

    pub async fn get_mandate(&self, actor: &Actor, id: MandateId) -> ServiceResult<MandateDetail> {
        if !self.can_manage_members(actor, id).await? {
            return Err(ServiceError::Denied(
                "viewing a mandate requires a SysAdmin or that mandate's admin".into(),
            ));
        }
        let mandate = store::get(&self.db, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let subscription = store::subscription(&self.db, id).await?;
        Ok(MandateDetail {
            mandate,
            subscription,
        })
    }

    /// Creates a mandate with its billing settings and subscription (plan default
    /// `mandates.default_plan`) in ONE transaction.
    pub async fn create_mandate(
        &self,
        actor: &Actor,
        input: &MandateInput,
        plan: Option<&str>,
    ) -> ServiceResult<MandateDetail> {
        self.require_sysadmin(actor, "creating a mandate")?;
        self.ensure_writable("create mandate")?;
        let (name, label) = input.validate()?;
        let plan = plan
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .unwrap_or(&self.settings.mandates.default_plan)
            .to_string();
        let created = mutate(&self.db, async |tx| {
            authorize(
                tx,
                actor,
                PermissionRef::CanAccessAdminPanel,
                "creating a mandate",
            )
            .await?;
            let mandate = store::insert(tx, &name, label.as_deref(), input.enabled).await?;
            store::insert_billing_settings(tx, mandate.id).await?;
            let Some(subscription) = store::insert_subscription(tx, mandate.id, &plan).await?
            else {
                // Not committing rolls back the mandate and its billing settings.
                return Err(ValidationError::Invalid {
                    field: "plan",
                    message: format!("unknown plan {}", DisplayText::new(&plan)),
                }
                .into());
            };
            insert_mandate_audit(
                tx,
                &actor.audit(),
                mandate.id,
                &mandate.name,
                "MANDATE_CREATED",
                None,
                json!({"label": mandate.label, "enabled": mandate.enabled, "plan": subscription.plan_key,
                       "status": subscription.status, "trial_ends_at": subscription.trial_ends_at}),
            )
            .await?;
            Ok(MandateDetail {
                mandate,
                subscription: Some(subscription),
            })
        })
        .await;
        match created {
            Err(ServiceError::Store(e)) => Err(self.name_taken(e, &name, "create mandate").await),
            other => other,
        }
    }

    /// Updates name, label and enabled of a live mandate.
    pub async fn update_mandate(
        &self,
        actor: &Actor,
        id: MandateId,
        input: &MandateInput,
    ) -> ServiceResult<Mandate> {
        self.require_sysadmin(actor, "updating a mandate")?;
        self.ensure_writable("update mandate")?;
        let (name, label) = input.validate()?;
        let updated = mutate(&self.db, async |tx| {
            authorize(
                tx,
                actor,
                PermissionRef::CanAccessAdminPanel,
                "updating a mandate",
            )
            .await?;
            let before = store::lock(tx, id).await?.ok_or_else(|| not_found(id))?;
            if before.deleted_at.is_some() {
                return Err(ServiceError::Conflict(format!(
                    "mandate {} is deleted; restore it first",
                    DisplayText::new(&before.name)
                )));
            }
            let after = store::update(tx, id, &name, label.as_deref(), input.enabled).await?;
            insert_mandate_audit(
                tx,
                &actor.audit(),
                id,
                &after.name,
                "MANDATE_UPDATED",
                None,
                json!({"before": {"name": before.name, "label": before.label, "enabled": before.enabled},
                       "after": {"name": after.name, "label": after.label, "enabled": after.enabled}}),
            )
            .await?;
            Ok(after)
        })
        .await;
        match updated {
            Err(ServiceError::Store(e)) => {
                Err(self.name_taken(e, &name, "rename the mandate to").await)
            }
            other => other,
        }
    }

    /// Soft delete: disabled + `deleted_at` (the enabled state is remembered for restore);
    /// hidden from lists; purged after the retention.
    pub async fn soft_delete_mandate(&self, actor: &Actor, id: MandateId) -> ServiceResult<()> {
        self.require_sysadmin(actor, "deleting a mandate")?;
        self.ensure_writable("delete mandate")?;
        mutate(&self.db, async |tx| {
            authorize(
                tx,
                actor,
                PermissionRef::CanAccessAdminPanel,
                "deleting a mandate",
            )
            .await?;
            let m = store::lock(tx, id).await?.ok_or_else(|| not_found(id))?;
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
        self.require_sysadmin(actor, "deleting a mandate")?;
        self.ensure_writable("hard-delete mandate")?;
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
