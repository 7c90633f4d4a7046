//! Mandate plans: the catalogue for the picker (trial days, member limit), a
//! mandate's detail (plan, subscription status, trial end, members against capacity, admins),
//! and the plan change — capacity checked against the current members under the mandate lock
//! every membership change takes, audited, in one transaction.

use serde::Serialize;
use serde_json::json;

use super::actor::authorize;
use super::retry::retrying;
use super::versions::Version;
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::domain::{DisplayText, MandateId, PermissionRef, ValidationError};
use crate::store::audit::insert_mandate_audit;
use crate::store::mandates::{self as mandates_store, Mandate, Subscription};
use crate::store::plans as store;

/// A count as the operator reads it everywhere: "6,000", never "6000".
fn n(count: i64) -> String {
    crate::domain::page::thousands(u64::try_from(count).unwrap_or(0))
}
/// The catalogue and admin rows (the console's plan picker and mandate detail show them).
pub use crate::store::plans::{MandateAdmin, Plan};

/// Everything the mandate detail shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MandateOverview {
    pub mandate: Mandate,
    /// The live subscription (None: the mandate has none, e.g. cancelled).
    pub subscription: Option<Subscription>,
    /// Every membership holds a place in the plan.
    pub members: i64,
    /// The plan's member limit (None without a live subscription).
    pub capacity: Option<i32>,
    /// Enabled admin memberships; `working` is false for a disabled or gone identity.
    pub admins: Vec<MandateAdmin>,
}

impl MandateOverview {
    /// Admins whose identity is active.
    pub fn working_admins(&self) -> usize {
        self.admins.iter().filter(|a| a.working).count()
    }

    /// "12 of 25" (or "12" without a plan).
    pub fn members_label(&self) -> String {
        match self.capacity {
            Some(c) => format!("{} of {}", n(self.members), n(c.into())),
            None => n(self.members),
        }
    }
}

/// What a plan change did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanChange {
    pub mandate: Mandate,
    pub before: Option<Subscription>,
    pub after: Subscription,
    pub members: i64,
}

impl Plan {
    /// The picker's text: "Team (TEAM) — up to 500 members, no trial".
    pub fn describe(&self) -> String {
        let trial = match self.trial_days {
            0 => "no trial".to_string(),
            1 => "1-day trial".to_string(),
            d => format!("{d}-day trial"),
        };
        format!(
            "{} ({}) — up to {} members, {trial}",
            DisplayText::new(&self.name),
            DisplayText::new(&self.key),
            n(self.max_members.into())
        )
    }
}

impl Services {
    /// The plan catalogue, smallest first (for the create form and the plan picker).
    /// Only a SysAdmin creates mandates or changes plans, so only a SysAdmin (now) reads it.
    pub async fn plan_catalogue(&self, actor: &Actor) -> ServiceResult<Vec<Plan>> {
        self.fresh_read(
            actor,
            Some(PermissionRef::CanAccessAdminPanel),
            "reading the plan catalogue",
        )
        .await?;
        Ok(store::catalogue(&self.db).await?)
    }

    /// The detail of one mandate (deleted ones too, for the deleted view): SysAdmin or that
    /// mandate's admin.
    pub async fn mandate_overview(
        &self,
        actor: &Actor,
        id: MandateId,
    ) -> ServiceResult<MandateOverview> {
        let d = self.get_mandate(actor, id).await?;
        let members = store::member_count(&self.db, id).await?;
        let admins = store::admins(&self.db, id).await?;
        Ok(MandateOverview {
            capacity: d.subscription.as_ref().map(|s| s.max_members),
            mandate: d.mandate,
            subscription: d.subscription,
            members,
            admins,
        })
    }

    /// Moves a live mandate to another plan (SysAdmin): ends the live subscription and starts
    /// one on `plan` (trialing when the plan has trial days). Refused when the mandate has
    /// more members than the plan allows, or is already on it. One transaction with its
    /// `MANDATE_PLAN_CHANGED` audit row; the mandate row lock serializes it with member adds.
    pub async fn change_plan(
        &self,
        actor: &Actor,
        id: MandateId,
        plan: &str,
        expected: Option<Version>,
    ) -> ServiceResult<PlanChange> {
        if !actor.is_sysadmin() {
            return Err(ServiceError::Denied(
                "changing a mandate's plan requires a SysAdmin".into(),
            ));
        }
        self.ensure_writable("change plan")?;
        let key = plan.trim().to_ascii_uppercase();
        if key.is_empty() {
            return Err(ValidationError::Invalid {
                field: "plan",
                message: "a plan key is required".into(),
            }
            .into());
        }
        let who = actor.audit();
        retrying(|| async {
            let mut tx = self.db.begin().await?;
            authorize(
                &mut tx,
                actor,
                PermissionRef::CanAccessAdminPanel,
                "changing a mandate's plan",
            )
            .await?;
            let m = mandates_store::lock(&mut tx, id)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("mandate {id} not found")))?;
            // The picker showed the plan of this version; a change since (another plan
            // change, a disable, a rename) refuses rather than acting on what nobody saw.
            Self::check_mandate_version(&mut tx, &m, expected).await?;
            let name = DisplayText::new(&m.name).into_string();
            if m.deleted_at.is_some() {
                return Err(ServiceError::Conflict(format!(
                    "mandate «{name}» is deleted; restore it first"
                )));
            }
            let Some(target) = store::plan(&mut tx, &key).await? else {
                drop(tx);
                let known = store::catalogue(&self.db).await?;
                return Err(ValidationError::Invalid {
                    field: "plan",
                    message: format!(
                        "unknown plan {} (known: {})",
                        DisplayText::new(&key),
                        known
                            .iter()
                            .map(|p| p.key.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
                .into());
            };
            let before = store::lock_subscription(&mut tx, id).await?;
            if before.as_ref().is_some_and(|s| s.plan_key == target.key) {
                return Err(ServiceError::Conflict(format!(
                    "mandate «{name}» is already on plan {}",
                    DisplayText::new(&target.key)
                )));
            }
            let members = store::member_count(&mut tx, id).await?;
            if members > i64::from(target.max_members) {
                return Err(ServiceError::CapacityExceeded(format!(
                    "cannot move «{name}» to plan {}: it has {} members and the plan allows \
                     {}. Remove members first or choose a larger plan.",
                    DisplayText::new(&target.key),
                    n(members),
                    n(target.max_members.into())
                )));
            }
            store::cancel_live_subscription(&mut tx, id).await?;
            // The subscription is another table: the mandate's version moves explicitly, so
            // a picker or form opened before this change conflicts.
            let m = mandates_store::bump_version(&mut tx, id).await?;
            let after = mandates_store::insert_subscription(&mut tx, id, &target.key)
                .await?
                .ok_or_else(|| ServiceError::Internal("the plan vanished mid-change".into()))?;
            let sub_json = |s: &Subscription| {
                json!({"plan": s.plan_key, "status": s.status, "max_members": s.max_members,
                       "trial_ends_at": s.trial_ends_at})
            };
            insert_mandate_audit(
                &mut tx,
                &who,
                id,
                &m.name,
                "MANDATE_PLAN_CHANGED",
                None,
                json!({"before": before.as_ref().map(sub_json), "after": sub_json(&after),
                       "members": members}),
            )
            .await?;
            tx.commit().await?;
            Ok(PlanChange {
                mandate: m,
                before,
                after,
                members,
            })
        })
        .await
    }
}
