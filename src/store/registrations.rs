//! The registration saga journal (`registration`, SPEC §5.1): one row per attempt to register a
//! user, written BEFORE the directory is called, so a crash at any point leaves a visible,
//! resumable record.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::StoreResult;
use super::query::{ListSql, SqlColumn, fetch_page};
use crate::domain::page::{ColumnKind, ColumnSpec, ListSpec, SortDir};
use crate::domain::{Page, PageQuery, RegistrationId, UserSub};

/// The saga's states (the `registration.state` CHECK constraint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationState {
    /// Journal written; the directory has not (knowingly) created the identity yet.
    Pending,
    /// The identity exists and its `sub` is recorded; roles not written yet.
    IdentityCreated,
    /// A transient failure after creation: the identity is kept, roles can be completed later.
    RolesPending,
    Complete,
    /// A definitive failure: what this saga created was removed.
    RolledBack,
    /// The rollback itself failed: manual cleanup needed (both causes recorded).
    NeedsCleanup,
    /// An operator marked the row resolved with a note.
    Resolved,
}

impl RegistrationState {
    pub const STUCK: [RegistrationState; 4] = [
        Self::Pending,
        Self::IdentityCreated,
        Self::RolesPending,
        Self::NeedsCleanup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::IdentityCreated => "identity_created",
            Self::RolesPending => "roles_pending",
            Self::Complete => "complete",
            Self::RolledBack => "rolled_back",
            Self::NeedsCleanup => "needs_cleanup",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::IdentityCreated,
            Self::RolesPending,
            Self::Complete,
            Self::RolledBack,
            Self::NeedsCleanup,
            Self::Resolved,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    pub fn is_stuck(self) -> bool {
        Self::STUCK.contains(&self)
    }
}

impl std::fmt::Display for RegistrationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One journal row.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Registration {
    pub id: RegistrationId,
    pub email: String,
    pub name: String,
    pub organisation: String,
    pub requested_roles: Vec<Uuid>,
    pub suppress_invite: bool,
    pub state: String,
    pub sub: Option<UserSub>,
    pub identity_created: bool,
    pub last_error: Option<String>,
    pub rollback_error: Option<String>,
    pub note: Option<String>,
    pub actor_user_id: Option<UserSub>,
    pub via: String,
    pub os_user: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Registration {
    /// The state as an enum (unknown strings cannot exist: the column has a CHECK).
    pub fn state(&self) -> RegistrationState {
        RegistrationState::parse(&self.state).unwrap_or(RegistrationState::NeedsCleanup)
    }
}

/// What the saga journals before calling the directory.
#[derive(Clone, Debug)]
pub struct NewRegistration<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub organisation: &'a str,
    pub requested_roles: &'a [Uuid],
    pub suppress_invite: bool,
    pub actor: Option<UserSub>,
    pub via: &'a str,
    pub os_user: Option<&'a str>,
}

pub async fn insert_pending(db: &PgPool, r: &NewRegistration<'_>) -> StoreResult<Registration> {
    let row = sqlx::query_as::<_, Registration>(
        "INSERT INTO registration (email, name, organisation, requested_roles, suppress_invite, \
         state, actor_user_id, via, os_user) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8) \
         RETURNING id, email, name, organisation, requested_roles, suppress_invite, state, sub, \
         identity_created, last_error, rollback_error, note, actor_user_id, via, os_user, \
         created_at, updated_at",
    )
    .bind(r.email)
    .bind(r.name)
    .bind(r.organisation)
    .bind(r.requested_roles)
    .bind(r.suppress_invite)
    .bind(r.actor)
    .bind(r.via)
    .bind(r.os_user)
    .fetch_one(db)
    .await?;
    Ok(row)
}

pub async fn get(db: &PgPool, id: RegistrationId) -> StoreResult<Option<Registration>> {
    let sql = "SELECT id, email, name, organisation, requested_roles, suppress_invite, state, sub, \
     identity_created, last_error, rollback_error, note, actor_user_id, via, os_user, created_at, \
     updated_at FROM registration WHERE id = $1";
    Ok(sqlx::query_as::<_, Registration>(sql)
        .bind(id)
        .fetch_optional(db)
        .await?)
}

/// Locks the row for the rest of the transaction (one repair at a time per registration).
pub async fn lock(
    conn: &mut PgConnection,
    id: RegistrationId,
) -> StoreResult<Option<Registration>> {
    let sql = "SELECT id, email, name, organisation, requested_roles, suppress_invite, state, sub, \
     identity_created, last_error, rollback_error, note, actor_user_id, via, os_user, created_at, \
     updated_at FROM registration WHERE id = $1 FOR UPDATE";
    Ok(sqlx::query_as::<_, Registration>(sql)
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// Records the identity's sub (state `identity_created`).
pub async fn mark_identity_created(
    db: &PgPool,
    id: RegistrationId,
    sub: UserSub,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE registration SET state = 'identity_created', sub = $2, identity_created = true, \
         updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(sub)
    .execute(db)
    .await?;
    Ok(())
}

/// Sets the state and (when given) the error columns.
pub async fn set_state(
    conn: &mut PgConnection,
    id: RegistrationId,
    state: RegistrationState,
    last_error: Option<&str>,
    rollback_error: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE registration SET state = $2, last_error = COALESCE($3, last_error), \
         rollback_error = COALESCE($4, rollback_error), updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(last_error)
    .bind(rollback_error)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks the row resolved with an operator's note.
pub async fn resolve(conn: &mut PgConnection, id: RegistrationId, note: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE registration SET state = 'resolved', note = $2, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(note)
    .execute(conn)
    .await?;
    Ok(())
}

/// Stuck registrations (pending, identity_created, roles_pending, needs_cleanup), oldest first.
pub async fn list_stuck(db: &PgPool, limit: i64) -> StoreResult<Vec<Registration>> {
    let sql = "SELECT id, email, name, organisation, requested_roles, suppress_invite, state, sub, \
     identity_created, last_error, rollback_error, note, actor_user_id, via, os_user, created_at, \
     updated_at FROM registration \
     WHERE state IN ('pending', 'identity_created', 'roles_pending', 'needs_cleanup') \
     ORDER BY created_at, id LIMIT $1";
    Ok(sqlx::query_as::<_, Registration>(sql)
        .bind(limit)
        .fetch_all(db)
        .await?)
}

/// Whitelist of the registrations list (the repair screen: stuck rows).
pub static REGISTRATIONS_SPEC: ListSpec = ListSpec {
    name: "registrations",
    columns: &[
        ColumnSpec::sort_only("email", ColumnKind::Text),
        ColumnSpec::new("state", ColumnKind::Text),
        ColumnSpec::sort_only("created_at", ColumnKind::Timestamp),
    ],
    default_sort: &[("created_at", SortDir::Asc)],
};

/// Stuck registrations through the query builder (search: `registration_email_trgm`; sorts:
/// `registration_email_idx`, `registration_created_idx`; state filter:
/// `registration_state_created_idx`, migration 0900).
pub static STUCK_REGISTRATIONS: ListSql = ListSql {
    spec: &REGISTRATIONS_SPEC,
    select: "r.id, r.email, r.name, r.organisation, r.requested_roles, r.suppress_invite, r.state,              r.sub, r.identity_created, r.last_error, r.rollback_error, r.note, r.actor_user_id,              r.via, r.os_user, r.created_at, r.updated_at",
    from: "registration r",
    base_where: "r.state IN ('pending', 'identity_created', 'roles_pending', 'needs_cleanup')",
    columns: &[
        SqlColumn::sorted_by("email", "r.email", "lower(r.email)"),
        SqlColumn::new("state", "r.state"),
        SqlColumn::new("created_at", "r.created_at"),
    ],
    search: &["r.email"],
    search_with: None,
    tiebreak: "r.id",
    tiebreak_type: "uuid",
};

/// One page of stuck registrations.
pub async fn list_page(db: &PgPool, q: &PageQuery) -> StoreResult<Page<Registration>> {
    fetch_page(db, &STUCK_REGISTRATIONS, q, None).await
}

/// `pending` rows created more than `older_than_secs` seconds ago.
pub async fn pending_older_than(
    db: &PgPool,
    older_than_secs: i64,
) -> StoreResult<Vec<Registration>> {
    let sql = "SELECT id, email, name, organisation, requested_roles, suppress_invite, state, sub, \
     identity_created, last_error, rollback_error, note, actor_user_id, via, os_user, created_at, \
     updated_at FROM registration \
     WHERE state = 'pending' AND created_at < now() - make_interval(secs => $1) \
     ORDER BY created_at, id";
    Ok(sqlx::query_as::<_, Registration>(sql)
        .bind(older_than_secs as f64)
        .fetch_all(db)
        .await?)
}

/// The registrations that produced (or tried to produce) this user, newest first.
pub async fn for_user(db: &PgPool, sub: UserSub, email: &str) -> StoreResult<Vec<Registration>> {
    let sql = "SELECT id, email, name, organisation, requested_roles, suppress_invite, state, sub, \
     identity_created, last_error, rollback_error, note, actor_user_id, via, os_user, created_at, \
     updated_at FROM registration WHERE sub = $1 OR lower(email) = lower($2) \
     ORDER BY created_at DESC, id LIMIT 20";
    Ok(sqlx::query_as::<_, Registration>(sql)
        .bind(sub)
        .bind(email)
        .fetch_all(db)
        .await?)
}
