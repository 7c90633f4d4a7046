//! Mandates: list, get, create, update, soft delete, restore, hard delete, purge.
//! Create/update/delete are SysAdmin-only; listing shows a mandate admin only the enabled
//! mandates they administer.

use crate::store::Conn;
use serde::Serialize;
use serde_json::json;

use super::actor::authorize;
use super::outcome::mutate;
use super::versions::{self, Version};
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::domain::error::bounded_text;
use crate::domain::{DisplayText, MandateId, Page, PageQuery, PermissionRef, ValidationError};
use crate::store::StoreError;
use crate::store::audit::insert_mandate_audit;
pub use crate::store::mandates::Mandate;
use crate::store::mandates::{self as store, MandateScope, Subscription};
use crate::store::versions as versions_store;

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

/// An edit of a mandate: only the fields the operator changed are Some (a label edit leaves
/// enabled as it is now, whoever set it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MandatePatch {
    pub name: Option<String>,
    /// Some(None) clears the label.
    pub label: Option<Option<String>>,
    pub enabled: Option<bool>,
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
    pub(super) async fn name_taken(&self, e: StoreError, name: &str, doing: &str) -> ServiceError {
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

pub(super) fn not_found(id: MandateId) -> ServiceError {
    ServiceError::NotFound(format!("mandate {id} not found"))
}

impl Services {
    pub(super) fn require_sysadmin(&self, actor: &Actor, what: &str) -> ServiceResult<()> {
        if actor.is_sysadmin() {
            Ok(())
        } else {
            Err(ServiceError::Denied(format!("{what} requires a SysAdmin")))
        }
    }

    /// Which mandates the actor may list: SysAdmin all, a mandate admin theirs, others Denied.
    async fn mandate_scope(&self, actor: &Actor) -> ServiceResult<MandateScope> {
        let now = self.fresh_read(actor, None, "listing mandates").await?;
        if now.is_sysadmin() {
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
        self.fresh_read(
            actor,
            Some(PermissionRef::CanAccessAdminPanel),
            "listing deleted mandates",
        )
        .await?;
        Ok(store::list_deleted(&self.db, q).await?)
    }

    /// Whether the actor may manage the members of `mandate` (SysAdmin or its admin).
    pub async fn can_manage_members(
        &self,
        actor: &Actor,
        mandate: MandateId,
    ) -> ServiceResult<bool> {
        // Fresh: a SysAdmin demoted since signing in manages only what they administer.
        let now = self.fresh_read(actor, None, "managing members").await?;
        if now.is_sysadmin() {
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

    /// Updates name, label and enabled of a live mandate (all three, whatever they are now).
    pub async fn update_mandate(
        &self,
        actor: &Actor,
        id: MandateId,
        input: &MandateInput,
    ) -> ServiceResult<Mandate> {
        let patch = MandatePatch {
            name: Some(input.name.clone()),
            label: Some(input.label.clone()),
            enabled: Some(input.enabled),
        };
        self.edit_mandate(actor, id, &patch, None).await
    }

    /// Changes only the fields the operator changed, and only when the mandate is still at the
    /// version the operator saw (`expected`; None applies to whatever is there now): a label
    /// edit from a stale form must not re-enable a mandate somebody disabled meanwhile.
    pub async fn edit_mandate(
        &self,
        actor: &Actor,
        id: MandateId,
        patch: &MandatePatch,
        expected: Option<Version>,
    ) -> ServiceResult<Mandate> {
        self.require_sysadmin(actor, "updating a mandate")?;
        self.ensure_writable("update mandate")?;
        // A lost COMMIT answer is found out by the mutation id (`outcome::mutate`).
        let updated = mutate(&self.db, async |tx| {
            authorize(
                tx,
                actor,
                PermissionRef::CanAccessAdminPanel,
                "updating a mandate",
            )
            .await?;
            let before = store::lock(tx, id).await?.ok_or_else(|| not_found(id))?;
            Self::check_mandate_version(tx, &before, expected).await?;
            if before.deleted_at.is_some() {
                return Err(ServiceError::Conflict(format!(
                    "mandate {} is deleted; restore it first",
                    DisplayText::new(&before.name)
                )));
            }
            let input = MandateInput {
                name: patch.name.clone().unwrap_or_else(|| before.name.clone()),
                label: patch.label.clone().unwrap_or_else(|| before.label.clone()),
                enabled: patch.enabled.unwrap_or(before.enabled),
            };
            let (name, label) = input.validate()?;
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
                let name = patch.name.clone().unwrap_or_default();
                Err(self.name_taken(e, &name, "rename the mandate to").await)
            }
            other => other,
        }
    }

    /// Refuses, under the mandate's row lock, a write based on another version than the
    /// locked row's, naming the change from the audit.
    pub(super) async fn check_mandate_version(
        conn: &mut Conn,
        m: &Mandate,
        expected: Option<Version>,
    ) -> ServiceResult<()> {
        if expected.is_none_or(|v| v.0 == m.version) {
            return Ok(());
        }
        let last = versions_store::last_mandate_change(conn, m.id).await?;
        versions::check(
            expected,
            m.version,
            &format!("mandate «{}»", DisplayText::new(&m.name)),
            last,
        )
    }
}
