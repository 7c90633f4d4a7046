//! Bulk member actions with a preview: set roles / add a role / remove a role /
//! remove / enable / disable for a set of memberships — named by id, by email, or "all matching
//! this search and these filters" (resolved here, server-side).
//!
//! [`Services::bulk_preview`] evaluates every row against the locked state and lists what
//! changes, what is already so, and what is refused (the last admin; a name that is not a
//! member) — nothing is written. [`Services::bulk_apply`] evaluates again inside its own
//! transaction and writes.
//!
//! **One transaction, refused rows skipped.** The apply is ONE transaction: the accepted rows
//! commit together with their audit and notification rows, or none do; refused rows are left
//! untouched and reported. Why not per-row: the operator approved one preview, and a crash or
//! a lost connection halfway would leave a state nobody previewed; every membership change
//! holds the mandate's row lock anyway (the last-admin invariant), so per-row transactions would
//! buy no concurrency, only re-locking. The size is bounded ([`BULK_MAX`]). When the caller
//! passes the preview's fingerprint and the re-evaluation differs (someone changed the members
//! since), nothing is applied and the refusal says to preview again.
//!
//! The last-admin rule is applied cumulatively in membership-id order: of rows that would each
//! be fine alone, the one that would remove the mandate's last admin is refused. Capacity
//! (`max_members`) cannot be exceeded by these actions (none adds a member). Each written row
//! gets one `mandate_audit` row — the same action and `before`/`after` details as the single
//! change (so [`Services::undo`] can undo it), plus `"bulk": <id>` — and one notification.
//!
//! Cancelling (dropping the apply's future, the console's cancel key) is safe at any await
//! point: the one transaction is rolled back when it is dropped uncommitted, so a cancelled
//! bulk action wrote nothing; once `commit` has returned the whole action stands.

mod resolve;
use resolve::refused_input;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::actor::fresh_authority;
use super::members::{AccessChange, authorize_member_manager, last_admin_message};
use super::retry::retrying;
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::domain::{MandateId, MandateRoleId, MembershipId, PageQuery, UserSub};
use crate::store::bulk as store;
use crate::store::members as members_store;

/// The most memberships one bulk action may touch.
pub const BULK_MAX: usize = 10_000;

/// What to do to every membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BulkAction {
    /// Replace the mandate-level roles.
    SetRoles(Vec<MandateRoleId>),
    AddRole(MandateRoleId),
    RemoveRole(MandateRoleId),
    Remove,
    Enable,
    Disable,
}

impl BulkAction {
    pub fn name(&self) -> &'static str {
        match self {
            Self::SetRoles(_) => "set-roles",
            Self::AddRole(_) => "add-role",
            Self::RemoveRole(_) => "remove-role",
            Self::Remove => "remove",
            Self::Enable => "enable",
            Self::Disable => "disable",
        }
    }

    fn change(&self) -> AccessChange {
        match self {
            Self::SetRoles(_) | Self::AddRole(_) | Self::RemoveRole(_) => {
                AccessChange::RolesChanged
            }
            Self::Remove => AccessChange::Removed,
            Self::Enable => AccessChange::Enabled,
            Self::Disable => AccessChange::Disabled,
        }
    }

    fn roles(&self) -> Vec<MandateRoleId> {
        match self {
            Self::SetRoles(r) => r.clone(),
            Self::AddRole(r) | Self::RemoveRole(r) => vec![*r],
            _ => Vec::new(),
        }
    }
}

/// Which memberships.
#[derive(Clone, Debug)]
pub enum BulkTarget {
    /// Member emails (a CLI file or stdin); one row per email, unknown ones refused.
    Emails(Vec<String>),
    /// Membership ids (rows marked in the console).
    Memberships(Vec<MembershipId>),
    /// Every member matching the search and filters (sort and paging are ignored).
    Matching(PageQuery),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowOutcome {
    /// Will change (preview) / changed (apply).
    Change,
    /// Already in the wanted state: nothing written.
    Unchanged,
    /// Not applied; `reason` says why.
    Refused,
}

/// One row of the preview (or of the applied result).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BulkRow {
    /// What the operator named (an email from the file), when given by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    pub membership_id: Option<MembershipId>,
    pub user_id: Option<UserSub>,
    pub email: Option<String>,
    pub outcome: RowOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub roles_before: Vec<String>,
    pub roles_after: Vec<String>,
    pub enabled_before: Option<bool>,
    pub enabled_after: Option<bool>,
    /// The membership is (to be) removed.
    pub removed: bool,
}

/// The preview, or the result of an apply (`applied`).
#[derive(Clone, Debug, Serialize)]
pub struct BulkPreview {
    pub mandate_id: MandateId,
    pub mandate_name: String,
    pub action: &'static str,
    pub rows: Vec<BulkRow>,
    pub changes: usize,
    pub unchanged: usize,
    pub refused: usize,
    /// Identifies exactly this plan: pass it to [`Services::bulk_apply`] to apply only what was
    /// previewed.
    pub fingerprint: String,
    pub applied: bool,
    /// The id shared by the audit rows of an applied bulk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bulk_id: Option<Uuid>,
}

fn fingerprint(rows: &[BulkRow]) -> String {
    let mut h = Sha256::new();
    for r in rows {
        h.update(
            serde_json::to_vec(&(
                &r.input,
                r.membership_id,
                r.outcome,
                &r.roles_before,
                &r.roles_after,
                r.enabled_before,
                r.enabled_after,
                r.removed,
            ))
            .unwrap_or_default(),
        );
    }
    hex::encode(h.finalize())
}

impl Services {
    /// Evaluates (and with `write`, applies) the action in one transaction. Returns the rows.
    async fn bulk_run(
        &self,
        actor: &Actor,
        mandate: MandateId,
        target: &BulkTarget,
        action: &BulkAction,
        write: Option<Option<&str>>,
    ) -> ServiceResult<BulkPreview> {
        self.require_member_manager(actor, mandate).await?;
        if write.is_some() {
            self.ensure_writable("bulk member action")?;
        }
        let resolved = self.bulk_resolve(mandate, target).await?;
        let labels: BTreeMap<Uuid, String> = members_store::assignable_roles(&self.db, mandate)
            .await?
            .into_iter()
            .map(|r| (r.id.0, r.label))
            .collect();
        let label_of = |ids: &[Uuid]| -> Vec<String> {
            let mut v: Vec<String> = ids
                .iter()
                .map(|id| labels.get(id).cloned().unwrap_or_else(|| id.to_string()))
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let who = actor.audit();
        let bulk_id = Uuid::new_v4();
        retrying(|| async {
            let mut tx = self.db.begin().await?;
            let now = fresh_authority(&mut tx, actor).await?;
            let m = Self::lock_live(&mut tx, mandate).await?;
            let mut admins: BTreeSet<MembershipId> = members_store::lock_admins(&mut tx, mandate)
                .await?
                .into_iter()
                .collect();
            let had_admins = !admins.is_empty();
            authorize_member_manager(&mut tx, actor, &now, mandate).await?;
            let wanted = Self::check_roles(&mut tx, mandate, &action.roles()).await?;
            let wanted: Vec<Uuid> = wanted.iter().map(|r| r.0).collect();
            let admin_roles: BTreeSet<Uuid> = store::admin_role_ids(&mut tx, mandate)
                .await?
                .into_iter()
                .collect();
            let members = store::lock_memberships(&mut tx, mandate, &resolved.ids).await?;
            let mut rows = resolved.unresolved.clone();
            let found: BTreeSet<MembershipId> = members.iter().map(|b| b.id).collect();
            for id in resolved.ids.iter().filter(|id| !found.contains(id)) {
                let mut r = refused_input(
                    resolved.inputs.get(id).map_or("", String::as_str),
                    "no longer a member of this mandate".into(),
                );
                r.input = resolved.inputs.get(id).cloned();
                r.membership_id = Some(*id);
                rows.push(r);
            }
            let mut writes = Vec::new();
            for b in &members {
                let before: BTreeSet<Uuid> = b.role_ids.iter().copied().collect();
                let (after, enabled_after, removed) = match action {
                    BulkAction::SetRoles(_) => (wanted.iter().copied().collect(), b.enabled, false),
                    BulkAction::AddRole(_) => {
                        let mut a = before.clone();
                        a.extend(wanted.iter().copied());
                        (a, b.enabled, false)
                    }
                    BulkAction::RemoveRole(_) => {
                        let mut a = before.clone();
                        for w in &wanted {
                            a.remove(w);
                        }
                        (a, b.enabled, false)
                    }
                    BulkAction::Remove => (BTreeSet::new(), false, true),
                    BulkAction::Enable => (before.clone(), true, false),
                    BulkAction::Disable => (before.clone(), false, false),
                };
                let changed = removed || after != before || enabled_after != b.enabled;
                let admin_after = !removed
                    && enabled_after
                    && b.active
                    && after.iter().any(|r| admin_roles.contains(r));
                let was_admin = admins.contains(&b.id);
                let before_v: Vec<Uuid> = before.iter().copied().collect();
                let after_v: Vec<Uuid> = after.iter().copied().collect();
                let mut row = BulkRow {
                    input: resolved.inputs.get(&b.id).cloned(),
                    membership_id: Some(b.id),
                    user_id: Some(b.user_id),
                    email: b.email.clone(),
                    outcome: RowOutcome::Change,
                    reason: None,
                    roles_before: label_of(&before_v),
                    roles_after: if removed {
                        Vec::new()
                    } else {
                        label_of(&after_v)
                    },
                    enabled_before: Some(b.enabled),
                    enabled_after: (!removed).then_some(enabled_after),
                    removed,
                };
                if !changed {
                    row.outcome = RowOutcome::Unchanged;
                } else if was_admin && !admin_after && admins.len() == 1 {
                    row.outcome = RowOutcome::Refused;
                    row.reason = Some(last_admin_message(&m));
                } else {
                    if was_admin && !admin_after {
                        admins.remove(&b.id);
                    } else if admin_after {
                        admins.insert(b.id);
                    }
                    writes.push((b.clone(), before_v, after_v, enabled_after));
                }
                rows.push(row);
            }
            let fp = fingerprint(&rows);
            let mut preview = BulkPreview {
                mandate_id: mandate,
                mandate_name: m.name.clone(),
                action: action.name(),
                changes: rows
                    .iter()
                    .filter(|r| r.outcome == RowOutcome::Change)
                    .count(),
                unchanged: rows
                    .iter()
                    .filter(|r| r.outcome == RowOutcome::Unchanged)
                    .count(),
                refused: rows
                    .iter()
                    .filter(|r| r.outcome == RowOutcome::Refused)
                    .count(),
                rows,
                fingerprint: fp,
                applied: false,
                bulk_id: None,
            };
            let Some(expected) = write else {
                // Preview: nothing written; the transaction only held the locks.
                tx.rollback().await?;
                return Ok(preview);
            };
            if let Some(expected) = expected
                && expected != preview.fingerprint
            {
                return Err(Self::members_changed(&mut tx, &m).await);
            }
            let change = action.change();
            let ids: Vec<MembershipId> = writes.iter().map(|w| w.0.id).collect();
            let users: Vec<UserSub> = writes.iter().map(|w| w.0.user_id).collect();
            if !ids.is_empty() {
                // Set-based: one statement per kind whatever the number of rows.
                match action {
                    BulkAction::SetRoles(_) => {
                        store::replace_roles_many(&mut tx, &ids, &wanted).await?
                    }
                    BulkAction::AddRole(_) => store::add_role_many(&mut tx, &ids, &wanted).await?,
                    BulkAction::RemoveRole(_) => {
                        store::remove_role_many(&mut tx, &ids, &wanted).await?
                    }
                    BulkAction::Remove => store::delete_many(&mut tx, &ids).await?,
                    BulkAction::Enable => store::set_enabled_many(&mut tx, &ids, true).await?,
                    BulkAction::Disable => store::set_enabled_many(&mut tx, &ids, false).await?,
                }
                let details: Vec<serde_json::Value> = writes
                    .iter()
                    .map(|(b, before_v, after_v, enabled_after)| match change {
                        AccessChange::Removed => json!({"roles": before_v, "bulk": bulk_id}),
                        AccessChange::RolesChanged => {
                            json!({"before": before_v, "after": after_v, "bulk": bulk_id})
                        }
                        _ => json!({"before": b.enabled, "after": enabled_after, "bulk": bulk_id}),
                    })
                    .collect();
                let targets: Vec<Option<UserSub>> = users.iter().copied().map(Some).collect();
                crate::store::audit::insert_mandate_audits(
                    &mut tx,
                    &who,
                    mandate,
                    &m.name,
                    change.action(),
                    &targets,
                    &details,
                )
                .await?;
                store::insert_notifications(&mut tx, &users, mandate, &change.notification(&m))
                    .await?;
            }
            // Belt and braces: the locked count must agree.
            if had_admins && members_store::count_admins(&mut tx, mandate).await? == 0 {
                return Err(ServiceError::Conflict(last_admin_message(&m)));
            }
            tx.commit().await?;
            preview.applied = true;
            preview.bulk_id = Some(bulk_id);
            Ok(preview)
        })
        .await
    }

    /// Lists each membership of `target` and what `action` would do to it, with per-row
    /// refusals. Nothing is written.
    pub async fn bulk_preview(
        &self,
        actor: &Actor,
        mandate: MandateId,
        target: &BulkTarget,
        action: &BulkAction,
    ) -> ServiceResult<BulkPreview> {
        self.bulk_run(actor, mandate, target, action, None).await
    }

    /// Re-evaluates and applies `action` in ONE transaction (refused rows skipped). With
    /// `expected` = a preview's fingerprint, refuses (nothing applied) when the plan changed.
    pub async fn bulk_apply(
        &self,
        actor: &Actor,
        mandate: MandateId,
        target: &BulkTarget,
        action: &BulkAction,
        expected: Option<&str>,
    ) -> ServiceResult<BulkPreview> {
        self.bulk_run(actor, mandate, target, action, Some(expected))
            .await
    }
}
