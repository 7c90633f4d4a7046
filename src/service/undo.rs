//! Undo of a reversible grant change, from its audit row: member roles
//! (`MEMBER_ROLES_SET`), member enable/disable (`MEMBER_ENABLED`/`MEMBER_DISABLED`), user roles
//! (`Updated user roles`) and user enable/disable (`Enabled user`/`Disabled user`).
//!
//! [`Services::undo_preview`] shows the state the row recorded before the change (what undo
//! restores) next to the current state, or why it cannot be undone: the grant changed since
//! (its current state is not the row's `after` state, or a later audit row changed it again), or
//! the row was already undone. [`Services::undo`] applies it through the same use case as the
//! original change (same locks, re-authorisation, last-admin rules, notification), re-checking
//! the state inside that transaction ([`UndoGuard`]); the audit row it writes carries
//! `"undoes": <id>` (column `undoes`, unique: a row is undone at most once).

use crate::store::Conn;
use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::members::AccessChange;
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::domain::{MandateId, MandateRoleId, RoleRef, UserSub};
use crate::store::undo::{self as store, AuditRecord, AuditSource};

/// What kind of grant change an audit row records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UndoKind {
    MemberRoles,
    MemberEnabled,
    UserRoles,
    UserEnabled,
}

impl UndoKind {
    fn of(r: &AuditRecord) -> Option<Self> {
        match (r.source, r.action.as_str()) {
            (AuditSource::Mandates, "MEMBER_ROLES_SET") => Some(Self::MemberRoles),
            (AuditSource::Mandates, "MEMBER_ENABLED" | "MEMBER_DISABLED") => {
                Some(Self::MemberEnabled)
            }
            (AuditSource::Users, "Updated user roles") => Some(Self::UserRoles),
            (AuditSource::Users, "Enabled user" | "Disabled user") => Some(Self::UserEnabled),
            _ => None,
        }
    }

    /// Audit actions that change the same grant (a later one means "changed since").
    fn family(self) -> &'static [&'static str] {
        match self {
            Self::MemberRoles => &["MEMBER_ROLES_SET", "MEMBER_ADDED", "MEMBER_REMOVED"],
            Self::MemberEnabled => &[
                "MEMBER_ENABLED",
                "MEMBER_DISABLED",
                "MEMBER_ADDED",
                "MEMBER_REMOVED",
            ],
            Self::UserRoles => &["Updated user roles", "Deleted user"],
            Self::UserEnabled => &["Enabled user", "Disabled user", "Deleted user"],
        }
    }
}

/// A state a grant is in (or is restored to).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrantState {
    /// Mandate role ids, or global role keys (admin, researcher, viewer).
    Roles(BTreeSet<String>),
    Enabled(bool),
}

impl GrantState {
    fn json(&self) -> Value {
        match self {
            Self::Roles(r) => json!(r),
            Self::Enabled(e) => json!(e),
        }
    }
}

/// What an undo would do (or did).
#[derive(Clone, Debug, Serialize)]
pub struct UndoPlan {
    pub audit_id: Uuid,
    pub source: &'static str,
    pub action: String,
    pub kind: UndoKind,
    pub user_id: Option<UserSub>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mandate_id: Option<MandateId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mandate_name: Option<String>,
    /// The state the audit row recorded after its change (what must still hold).
    pub recorded_after: Value,
    /// The current state.
    pub current: Value,
    /// The state undo restores (the row's `before`).
    pub restore: Value,
    /// Why it cannot be undone (None = it can).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    pub applied: bool,
}

/// Passed into the original use case's transaction: the state that must still hold (checked
/// under that transaction's locks) and the link its audit row records.
#[derive(Clone, Debug)]
pub struct UndoGuard {
    pub(super) record: AuditRecord,
    pub(super) kind: UndoKind,
    pub(super) after: GrantState,
}

fn roles_set<T: ToString>(v: &[T]) -> BTreeSet<String> {
    v.iter().map(ToString::to_string).collect()
}

fn json_strings(v: &Value) -> Option<BTreeSet<String>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn not_reversible(r: &AuditRecord) -> ServiceError {
    ServiceError::Conflict(format!(
        "audit row {} ({}) is not a reversible grant change: only member roles, member \
         enable/disable, user roles and user enable/disable can be undone",
        r.id,
        crate::domain::DisplayText::new(&r.action)
    ))
}

/// (after, before) recorded by the row.
fn recorded(kind: UndoKind, r: &AuditRecord) -> ServiceResult<(GrantState, GrantState)> {
    let d = &r.details;
    let bad = || {
        ServiceError::Conflict(format!(
            "audit row {} does not record the state before its change, so it cannot be undone",
            r.id
        ))
    };
    Ok(match kind {
        UndoKind::MemberRoles | UndoKind::UserRoles => (
            GrantState::Roles(json_strings(&d["after"]).ok_or_else(bad)?),
            GrantState::Roles(json_strings(&d["before"]).ok_or_else(bad)?),
        ),
        UndoKind::MemberEnabled => (
            GrantState::Enabled(d["after"].as_bool().ok_or_else(bad)?),
            GrantState::Enabled(d["before"].as_bool().ok_or_else(bad)?),
        ),
        UndoKind::UserEnabled => {
            let enabled = r.action == "Enabled user";
            (GrantState::Enabled(enabled), GrantState::Enabled(!enabled))
        }
    })
}

impl UndoGuard {
    /// Adds the link to the audit details of the undoing change.
    pub(super) fn link(&self, mut details: Value) -> Value {
        if let Some(o) = details.as_object_mut() {
            o.insert("undoes".into(), json!(self.record.id));
        }
        details
    }

    /// Refuses when the grant is no longer in the state the row recorded, was changed again
    /// by a later audited change, or was already undone (inside the caller's transaction,
    /// after its locks).
    pub(super) async fn check(&self, conn: &mut Conn, current: &GrantState) -> ServiceResult<()> {
        if let Some(reason) = refusal(conn, &self.record, self.kind, &self.after, current).await? {
            return Err(ServiceError::Conflict(reason));
        }
        Ok(())
    }

    pub(super) fn roles_state(ids: &[Uuid]) -> GrantState {
        GrantState::Roles(roles_set(ids))
    }

    pub(super) fn user_roles_state(ids: &[Uuid]) -> GrantState {
        GrantState::Roles(
            ids.iter()
                .filter_map(|id| RoleRef::from_id(*id))
                .map(|r| r.key().to_string())
                .collect(),
        )
    }
}

/// " — changed by bob@x (cli) 4 s ago: …": who made the grant's latest change, and when.
async fn later_change(conn: &mut Conn, r: &AuditRecord) -> ServiceResult<String> {
    use crate::store::versions as v;
    let Some(user) = r.user_id else {
        return Ok(String::new());
    };
    let last = match (r.source, r.mandate_id) {
        (AuditSource::Mandates, Some(m)) => v::last_membership_change(conn, m, user).await?,
        (AuditSource::Mandates, None) => None,
        (AuditSource::Users, _) => v::last_user_change(conn, user).await?,
    };
    Ok(last
        .map(|c| format!(" — {}", super::versions::describe(&c)))
        .unwrap_or_default())
}

async fn refusal(
    conn: &mut Conn,
    r: &AuditRecord,
    kind: UndoKind,
    after: &GrantState,
    current: &GrantState,
) -> ServiceResult<Option<String>> {
    if let Some(by) = store::undone_by(conn, r.id).await? {
        return Ok(Some(format!(
            "audit row {} was already undone (by audit row {by})",
            r.id
        )));
    }
    let later = store::later_changes(conn, r, kind.family()).await?;
    if let Some((id, action)) = later.last() {
        let who = later_change(conn, r).await?;
        return Ok(Some(format!(
            "changed since: audit row {id} ({}) changed it again{who}; undo that one instead",
            crate::domain::DisplayText::new(action)
        )));
    }
    if current != after {
        return Ok(Some(format!(
            "changed since: it is now {} but audit row {} left it {}",
            current.json(),
            r.id,
            after.json()
        )));
    }
    Ok(None)
}

impl Services {
    async fn undo_load(&self, audit_id: Uuid) -> ServiceResult<(AuditRecord, UndoKind)> {
        let r = store::find(&self.db, audit_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no audit row {audit_id}")))?;
        let kind = UndoKind::of(&r).ok_or_else(|| not_reversible(&r))?;
        if r.user_id.is_none() || (r.source == AuditSource::Mandates && r.mandate_id.is_none()) {
            return Err(not_reversible(&r));
        }
        Ok((r, kind))
    }

    /// The grant's current state (no locks; the apply re-reads under its locks).
    async fn undo_current(&self, r: &AuditRecord, kind: UndoKind) -> ServiceResult<GrantState> {
        let user = r.user_id.ok_or_else(|| not_reversible(r))?;
        Ok(match kind {
            UndoKind::MemberRoles | UndoKind::MemberEnabled => {
                let mandate = r.mandate_id.ok_or_else(|| not_reversible(r))?;
                let mut tx = self.db.begin().await?;
                let ms = crate::store::members::find(&mut tx, mandate, user)
                    .await?
                    .ok_or_else(|| {
                        ServiceError::Conflict(format!(
                            "changed since: the user is no longer a member of {}",
                            crate::domain::DisplayText::new(
                                r.mandate_name.as_deref().unwrap_or("the mandate")
                            )
                        ))
                    })?;
                let state = if kind == UndoKind::MemberRoles {
                    UndoGuard::roles_state(&crate::store::members::role_ids(&mut tx, ms.id).await?)
                } else {
                    GrantState::Enabled(ms.enabled)
                };
                tx.rollback().await?;
                state
            }
            UndoKind::UserRoles => {
                UndoGuard::user_roles_state(&crate::store::grants::roles_of(&self.db, user).await?)
            }
            UndoKind::UserEnabled => {
                GrantState::Enabled(self.directory.find_by_sub(user).await?.enabled)
            }
        })
    }

    /// The newest reversible change of a member's roles or enabled state (what the console's
    /// `z` on a member row offers to undo), as its preview; None when there is none.
    pub async fn member_undo_candidate(
        &self,
        actor: &Actor,
        mandate: MandateId,
        user: UserSub,
    ) -> ServiceResult<Option<UndoPlan>> {
        self.require_member_manager(actor, mandate).await?;
        let id = store::latest_member_change(
            &self.db,
            mandate,
            user,
            &["MEMBER_ROLES_SET", "MEMBER_ENABLED", "MEMBER_DISABLED"],
        )
        .await?;
        match id {
            Some(id) => Ok(Some(self.undo_preview(actor, id).await?)),
            None => Ok(None),
        }
    }

    /// The newest reversible change of a user's global roles or enabled state, as its preview.
    pub async fn user_undo_candidate(
        &self,
        actor: &Actor,
        user: UserSub,
    ) -> ServiceResult<Option<UndoPlan>> {
        self.fresh_read(
            actor,
            Some(crate::domain::PermissionRef::CanManageUsers),
            "undoing a user change",
        )
        .await?;
        let id = store::latest_user_change(
            &self.db,
            user,
            &["Updated user roles", "Enabled user", "Disabled user"],
        )
        .await?;
        match id {
            Some(id) => Ok(Some(self.undo_preview(actor, id).await?)),
            None => Ok(None),
        }
    }

    /// What undoing audit row `audit_id` would restore, or why it cannot. Nothing is written.
    /// Needs the right to make the change itself (member management, or CAN_MANAGE_USERS).
    pub async fn undo_preview(&self, actor: &Actor, audit_id: Uuid) -> ServiceResult<UndoPlan> {
        let (r, kind) = self.undo_load(audit_id).await?;
        match kind {
            UndoKind::MemberRoles | UndoKind::MemberEnabled => {
                let mandate = r.mandate_id.ok_or_else(|| not_reversible(&r))?;
                self.require_member_manager(actor, mandate).await?;
            }
            UndoKind::UserRoles | UndoKind::UserEnabled => {
                self.fresh_read(
                    actor,
                    Some(crate::domain::PermissionRef::CanManageUsers),
                    "undoing a user change",
                )
                .await?;
            }
        }
        let (after, before) = recorded(kind, &r)?;
        let (current, refusal) = match self.undo_current(&r, kind).await {
            Ok(current) => {
                let mut conn = self.db.acquire().await?;
                let why = refusal(&mut conn, &r, kind, &after, &current).await?;
                (current.json(), why)
            }
            Err(ServiceError::Conflict(why)) => (Value::Null, Some(why)),
            Err(e) => return Err(e),
        };
        Ok(UndoPlan {
            audit_id: r.id,
            source: r.source.as_str(),
            action: r.action.clone(),
            kind,
            user_id: r.user_id,
            mandate_id: r.mandate_id,
            mandate_name: r.mandate_name.clone(),
            recorded_after: after.json(),
            current,
            restore: before.json(),
            refusal,
            applied: false,
        })
    }

    /// Undoes audit row `audit_id`: restores its `before` state through the original use case,
    /// refused (nothing written) when the grant changed since. Returns the plan, applied.
    pub async fn undo(&self, actor: &Actor, audit_id: Uuid) -> ServiceResult<UndoPlan> {
        let mut plan = self.undo_preview(actor, audit_id).await?;
        if let Some(why) = &plan.refusal {
            return Err(ServiceError::Conflict(format!(
                "cannot undo audit row {audit_id}: {why}"
            )));
        }
        let (r, kind) = self.undo_load(audit_id).await?;
        let (after, before) = recorded(kind, &r)?;
        let user = r.user_id.ok_or_else(|| not_reversible(&r))?;
        let guard = UndoGuard {
            record: r.clone(),
            kind,
            after,
        };
        let result = match (kind, &before) {
            (UndoKind::MemberRoles, GrantState::Roles(roles)) => {
                let ids = roles
                    .iter()
                    .map(|s| s.parse::<MandateRoleId>())
                    .collect::<Result<Vec<_>, _>>()?;
                self.change_membership_guarded(
                    actor,
                    r.mandate_id.ok_or_else(|| not_reversible(&r))?,
                    user,
                    AccessChange::RolesChanged,
                    &ids,
                    &Default::default(),
                    Some(&guard),
                )
                .await
            }
            (UndoKind::MemberEnabled, GrantState::Enabled(e)) => {
                self.change_membership_guarded(
                    actor,
                    r.mandate_id.ok_or_else(|| not_reversible(&r))?,
                    user,
                    if *e {
                        AccessChange::Enabled
                    } else {
                        AccessChange::Disabled
                    },
                    &[],
                    &Default::default(),
                    Some(&guard),
                )
                .await
            }
            (UndoKind::UserRoles, GrantState::Roles(keys)) => {
                let roles = keys
                    .iter()
                    .map(|k| RoleRef::parse(k))
                    .collect::<Result<Vec<_>, _>>()?;
                self.set_roles_guarded(actor, user, &roles, Some(&guard))
                    .await
                    .map(|_| ())
            }
            (UndoKind::UserEnabled, GrantState::Enabled(e)) => {
                self.set_enabled_guarded(actor, user, *e, None, Some(&guard))
                    .await
            }
            _ => Err(not_reversible(&r)),
        };
        match result {
            Ok(()) => {
                plan.applied = true;
                Ok(plan)
            }
            // Two undos of one row at the same moment: the unique link refuses the second.
            Err(ServiceError::Store(crate::store::StoreError::Unique { constraint }))
                if constraint.ends_with("_undoes_key") =>
            {
                Err(ServiceError::Conflict(format!(
                    "cannot undo audit row {audit_id}: it was already undone"
                )))
            }
            Err(e) => Err(e),
        }
    }
}
