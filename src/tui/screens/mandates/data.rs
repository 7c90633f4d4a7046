//! The mandates screen's data: typed rows of mandates and members, their list sources and
//! the operations the screen runs, all over service functions.

use chrono::{DateTime, Utc};

use crate::domain::{DisplayText, MandateId, MembershipId, Page, PageQuery, UserSub};
use crate::service::mandates::{MandateInput, MandatePatch};
use crate::service::members::MemberRef;
use crate::service::versions::Version;
use crate::service::{Actor, Services};
use crate::tui::action::{Job, JobFuture, ListSource, OpOutcome, Operation, Progress};
use crate::tui::screens::{opt, when, yes_no};
use crate::tui::widgets::table::TableRow;

/// One mandate as the list shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct MandateRow {
    pub id: MandateId,
    pub name: String,
    pub label: Option<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    /// The live subscription's plan.
    pub plan: Option<String>,
    /// Set for a soft-deleted mandate (the deleted view).
    pub deleted_at: Option<DateTime<Utc>>,
    /// The version shown: forms and confirmations opened on this row carry it, so their
    /// save is refused when somebody changed the mandate since.
    pub version: Version,
}

impl TableRow for MandateRow {
    fn key(&self) -> Option<String> {
        Some(self.id.to_string())
    }

    fn cells(&self) -> Vec<DisplayText> {
        vec![
            DisplayText::new(&self.name),
            opt(&self.label),
            opt(&self.plan),
            yes_no(self.enabled),
            DisplayText::new(
                &self
                    .deleted_at
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
            ),
            when(&self.created_at),
        ]
    }
}

/// One membership of the open mandate.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberRow {
    pub membership_id: MembershipId,
    pub user_id: UserSub,
    /// Email, else username, from the directory cache (None: not cached yet).
    pub who: Option<String>,
    pub full_name: Option<String>,
    pub role_labels: Vec<String>,
    pub is_admin: bool,
    pub enabled: bool,
    /// The membership's version shown (carried by the enable/disable confirmation).
    pub version: Version,
}

impl MemberRow {
    pub fn who(&self) -> &str {
        self.who.as_deref().unwrap_or("(not in directory cache)")
    }
}

impl TableRow for MemberRow {
    fn key(&self) -> Option<String> {
        Some(self.user_id.to_string())
    }

    fn cells(&self) -> Vec<DisplayText> {
        vec![
            DisplayText::new(self.who()),
            opt(&self.full_name),
            DisplayText::new(&self.role_labels.join(", ")),
            yes_no(self.is_admin),
            yes_no(self.enabled),
        ]
    }
}

/// The plan keys of the catalogue (the create form offers them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanKeys(pub Vec<String>);

/// Reads the plan catalogue.
#[derive(Debug)]
pub struct LoadPlans;

impl Job for LoadPlans {
    type Out = PlanKeys;
    fn run(self, s: Services, a: Actor) -> JobFuture<PlanKeys> {
        Box::pin(async move {
            let plans = s.plan_catalogue(&a).await?;
            Ok(PlanKeys(plans.into_iter().map(|p| p.key).collect()))
        })
    }
}

/// The pseudo-column of the mandates list that switches to the soft-deleted mandates.
pub const DELETED: &str = "deleted";

/// The mandates list: the live ones, or with the filter `deleted = yes` the soft-deleted ones
/// (restore candidates).
#[derive(Debug)]
pub struct Mandates;

/// Whether `q` asks for the deleted view, and the query without that pseudo-filter.
pub fn split_deleted(mut q: PageQuery) -> (bool, PageQuery) {
    let deleted = q
        .filters
        .iter()
        .any(|f| f.column == DELETED && f.values.iter().any(|v| v == "yes"));
    q.filters.retain(|f| f.column != DELETED);
    (deleted, q)
}

impl ListSource<MandateRow> for Mandates {
    fn page(&self, s: Services, a: Actor, q: PageQuery) -> JobFuture<Page<MandateRow>> {
        Box::pin(async move {
            let (deleted, q) = split_deleted(q);
            let page = if deleted {
                s.list_deleted_mandates(&a, &q).await?
            } else {
                s.list_mandates(&a, &q).await?
            };
            Ok(page.map(|m| MandateRow {
                id: m.id,
                name: m.name,
                label: m.label,
                enabled: m.enabled,
                created_at: m.created_at,
                plan: m.plan_key,
                deleted_at: m.deleted_at,
                version: Version(m.version),
            }))
        })
    }
    fn filter_values(
        &self,
        s: Services,
        a: Actor,
        column: String,
        q: PageQuery,
    ) -> JobFuture<Vec<String>> {
        Box::pin(async move {
            if column == DELETED {
                return Ok(vec!["no".to_string(), "yes".to_string()]);
            }
            let (_, q) = split_deleted(q);
            Ok(s.mandate_filter_values(&a, &column, &q).await?)
        })
    }
}

/// The members of one mandate.
#[derive(Debug)]
pub struct Members(pub MandateId);

impl ListSource<MemberRow> for Members {
    fn page(&self, s: Services, a: Actor, q: PageQuery) -> JobFuture<Page<MemberRow>> {
        let mandate = self.0;
        Box::pin(async move {
            let page = s.list_members(&a, mandate, &q).await?;
            Ok(page.map(|m| MemberRow {
                membership_id: m.membership_id,
                user_id: m.user_id,
                who: m.email.or(m.username),
                full_name: m.full_name,
                role_labels: m.role_labels,
                is_admin: m.is_admin,
                enabled: m.enabled,
                version: Version(m.version),
            }))
        })
    }
    fn filter_values(
        &self,
        s: Services,
        a: Actor,
        column: String,
        q: PageQuery,
    ) -> JobFuture<Vec<String>> {
        let mandate = self.0;
        Box::pin(async move { Ok(s.member_filter_values(&a, mandate, &column, &q).await?) })
    }
}

/// What the mandates screen changes.
#[derive(Clone, Debug)]
pub enum MandateOp {
    Create {
        name: String,
        label: String,
        enabled: bool,
        plan: String,
    },
    /// Only the fields the operator changed, conditional on the version the form showed.
    Update {
        id: MandateId,
        name: String,
        patch: MandatePatch,
        version: Version,
    },
    SoftDelete {
        id: MandateId,
        name: String,
        version: Version,
    },
    HardDelete {
        id: MandateId,
        name: String,
        version: Version,
    },
    Restore {
        id: MandateId,
        name: String,
        version: Version,
    },
    ChangePlan {
        id: MandateId,
        plan: String,
        version: Version,
    },
    AddMember {
        mandate_id: MandateId,
        /// The picked user (a sub, or an email the service resolves).
        user: String,
        roles: Vec<String>,
    },
    RemoveMember {
        mandate_id: MandateId,
        user_sub: UserSub,
        /// The membership's version the confirmation showed.
        version: Version,
    },
    /// Role ids ticked and unticked against the set the form showed; others stay.
    SetMemberRoles {
        mandate_id: MandateId,
        user_sub: UserSub,
        add: Vec<String>,
        remove: Vec<String>,
    },
    SetMemberEnabled {
        mandate_id: MandateId,
        user_sub: UserSub,
        enabled: bool,
        /// The membership's version the confirmation showed.
        version: Version,
    },
}

fn named(what: &str, name: &str, rest: &str) -> OpOutcome {
    OpOutcome::toast(format!("{what} {} {rest}", DisplayText::with_max(name, 60)))
}

impl Operation for MandateOp {
    fn describe(&self) -> &'static str {
        match self {
            MandateOp::Create { .. } => "create mandate",
            MandateOp::Update { .. } => "update mandate",
            MandateOp::SoftDelete { .. } => "delete mandate",
            MandateOp::HardDelete { .. } => "hard-delete mandate",
            MandateOp::Restore { .. } => "restore mandate",
            MandateOp::ChangePlan { .. } => "change plan",
            MandateOp::AddMember { .. } => "add member",
            MandateOp::RemoveMember { .. } => "remove member",
            MandateOp::SetMemberRoles { .. } => "set member roles",
            MandateOp::SetMemberEnabled { enabled: true, .. } => "enable membership",
            MandateOp::SetMemberEnabled { enabled: false, .. } => "disable membership",
        }
    }

    fn subject(&self) -> Option<String> {
        match self {
            MandateOp::Update { id, .. }
            | MandateOp::SoftDelete { id, .. }
            | MandateOp::HardDelete { id, .. }
            | MandateOp::Restore { id, .. }
            | MandateOp::ChangePlan { id, .. } => Some(id.to_string()),
            MandateOp::RemoveMember {
                mandate_id,
                user_sub,
                ..
            }
            | MandateOp::SetMemberRoles {
                mandate_id,
                user_sub,
                ..
            }
            | MandateOp::SetMemberEnabled {
                mandate_id,
                user_sub,
                ..
            } => Some(format!("{mandate_id}/{user_sub}")),
            MandateOp::Create { .. } | MandateOp::AddMember { .. } => None,
        }
    }

    fn run(self: Box<Self>, s: Services, a: Actor, _progress: Progress) -> JobFuture<OpOutcome> {
        Box::pin(async move {
            Ok(match *self {
                MandateOp::Create {
                    name,
                    label,
                    enabled,
                    plan,
                } => {
                    let input = MandateInput {
                        name,
                        label: Some(label),
                        enabled,
                    };
                    let d = s.create_mandate(&a, &input, Some(&plan)).await?;
                    named("mandate", &d.mandate.name, "created")
                }
                MandateOp::Update {
                    id,
                    name,
                    patch,
                    version,
                } => {
                    if patch == MandatePatch::default() {
                        return Ok(named("mandate", &name, "unchanged: nothing to save"));
                    }
                    let m = s.edit_mandate(&a, id, &patch, Some(version)).await?;
                    named("mandate", &m.name, "updated")
                }
                MandateOp::SoftDelete { id, name, version } => {
                    s.soft_delete_mandate_expecting(&a, id, Some(version))
                        .await?;
                    named("mandate", &name, "deleted (restorable until purged)")
                }
                MandateOp::HardDelete { id, name, version } => {
                    s.hard_delete_mandate_expecting(&a, id, &name, Some(version))
                        .await?;
                    named("mandate", &name, "permanently deleted")
                }
                MandateOp::Restore { id, name, version } => {
                    s.restore_mandate_expecting(&a, id, Some(version)).await?;
                    named("mandate", &name, "restored")
                }
                MandateOp::ChangePlan { id, plan, version } => {
                    let c = s.change_plan(&a, id, &plan, Some(version)).await?;
                    OpOutcome::toast(format!(
                        "mandate {} moved to plan {} ({}; {} members)",
                        DisplayText::with_max(&c.mandate.name, 60),
                        DisplayText::new(&c.after.plan_key),
                        DisplayText::new(&c.after.status),
                        c.members
                    ))
                }
                MandateOp::AddMember {
                    mandate_id,
                    user,
                    roles,
                } => {
                    let role_ids = s.resolve_member_roles(&a, mandate_id, &roles).await?;
                    let who = MemberRef::parse(&user)?;
                    s.add_member(&a, mandate_id, &who, &role_ids).await?;
                    OpOutcome::toast("member added")
                }
                MandateOp::RemoveMember {
                    mandate_id,
                    user_sub,
                    version,
                } => {
                    s.remove_member_expecting(&a, mandate_id, user_sub, Some(version))
                        .await?;
                    OpOutcome::toast("member removed")
                }
                MandateOp::SetMemberRoles {
                    mandate_id,
                    user_sub,
                    add,
                    remove,
                } => {
                    let add = s.resolve_member_roles(&a, mandate_id, &add).await?;
                    let remove = s.resolve_member_roles(&a, mandate_id, &remove).await?;
                    s.change_member_roles(&a, mandate_id, user_sub, &add, &remove, None)
                        .await?;
                    OpOutcome::toast("member roles updated")
                }
                MandateOp::SetMemberEnabled {
                    mandate_id,
                    user_sub,
                    enabled,
                    version,
                } => {
                    s.set_member_enabled_expecting(
                        &a,
                        mandate_id,
                        user_sub,
                        enabled,
                        Some(version),
                    )
                    .await?;
                    OpOutcome::toast(if enabled {
                        "membership enabled"
                    } else {
                        "membership disabled"
                    })
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_rows_render_the_cells_the_list_showed() {
        let m = MandateRow {
            id: MandateId(uuid::Uuid::from_u128(10)),
            name: "Acme Research".into(),
            label: None,
            enabled: false,
            created_at: "2026-11-01T09:00:00Z".parse().unwrap(),
            plan: Some("TEAM".into()),
            deleted_at: None,
            version: Version(1),
        };
        assert_eq!(
            m.texts(),
            ["Acme Research", "", "TEAM", "no", "", "2026-11-01 09:00"]
        );
        let member = MemberRow {
            membership_id: MembershipId(uuid::Uuid::from_u128(2)),
            user_id: UserSub(uuid::Uuid::from_u128(1)),
            who: None,
            full_name: Some("Alice".into()),
            role_labels: vec!["admin".into(), "member".into()],
            is_admin: true,
            enabled: true,
            version: Version(1),
        };
        assert_eq!(
            member.texts(),
            [
                "(not in directory cache)",
                "Alice",
                "admin, member",
                "yes",
                "yes"
            ]
        );
    }
}
