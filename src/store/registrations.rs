//! The registration saga journal (`registration`): one row per attempt to register a
//! user, written BEFORE the directory is called, so a crash at any point leaves a visible,
//! resumable record.
//!
//! State changes go only through [`transition`] (an edge of
//! [`crate::domain::registration::TRANSITIONS`], compare-and-set on the expected state) and
//! [`record`] (error/evidence columns of a row that must still be in the expected state).
//! One operation at a time per registration: [`try_lease`] takes a lease row for the whole
//! directory call + database write.

use crate::store::{Conn, Db};
use chrono::{DateTime, Utc};
use serde::Serialize;

use thiserror::Error;
use uuid::Uuid;

use super::query::{ListSql, SqlColumn, fetch_page};
pub use super::registration_lease::{
    LeaseHolder, RegistrationLease, live_lease, renew_lease, try_lease,
};
use super::{StoreError, StoreResult};
use crate::domain::page::{ColumnKind, ColumnSpec, ListSpec, SortDir};
use crate::domain::{Page, PageQuery, RegistrationId, UserSub};

pub use crate::domain::registration::RegistrationState;

/// The partial unique index allowing one open registration per normalised email.
pub const ONE_OPEN_PER_EMAIL: &str = "registration_one_open_per_email";

const COLUMNS: &str = "id, email, name, organisation, requested_roles, suppress_invite, state, \
     sub, identity_created, last_error, rollback_error, note, actor_user_id, via, os_user, \
     call_started_at, call_finished_at, evidence, created_at, updated_at, version";

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
    /// The directory create call window, from the database clock (evidence, not proof).
    pub call_started_at: Option<DateTime<Utc>>,
    pub call_finished_at: Option<DateTime<Utc>>,
    /// What the saga saw when it refused to adopt or delete an identity.
    pub evidence: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Moved on by every change of the row: a repair is conditional on the one its operator saw.
    pub version: i64,
}

impl Registration {
    /// The state as an enum (unknown strings cannot exist: the column has a CHECK).
    pub fn state(&self) -> RegistrationState {
        RegistrationState::parse(&self.state).unwrap_or(RegistrationState::NeedsCleanup)
    }
}

/// A refused state change.
#[derive(Debug, Error)]
pub enum TransitionError {
    /// Not an edge of the transition table (never sent to the database).
    #[error("registration {id}: {from} → {to} is not an allowed transition")]
    Forbidden {
        id: RegistrationId,
        from: RegistrationState,
        to: RegistrationState,
    },
    /// The row is no longer in the expected state (another actor moved it), or the recorded
    /// sub differs from the one given.
    #[error("registration {id} is no longer {expected} (it is {}); nothing was changed", .actual.map(|s| s.as_str()).unwrap_or("gone"))]
    Stale {
        id: RegistrationId,
        expected: RegistrationState,
        actual: Option<RegistrationState>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for TransitionError {
    fn from(e: sqlx::Error) -> Self {
        TransitionError::Store(e.into())
    }
}

/// Columns a transition or a record may set (None = keep).
#[derive(Clone, Debug, Default)]
pub struct Change<'a> {
    /// Recorded once; a different sub than the recorded one makes the change stale.
    pub sub: Option<UserSub>,
    pub last_error: Option<&'a str>,
    pub rollback_error: Option<&'a str>,
    pub evidence: Option<&'a serde_json::Value>,
    pub note: Option<&'a str>,
}

/// What the saga journals before calling the directory.
#[derive(Clone, Debug)]
pub struct NewRegistration<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub organisation: &'a str,
    pub requested_roles: &'a [Uuid],
    pub suppress_invite: bool,
    pub who: super::audit::AuditActor<'a>,
}

/// Inserts a `pending` row with a fresh id. A second open registration of the same email is
/// refused by the database: `StoreError::Unique { constraint: ONE_OPEN_PER_EMAIL }`.
pub async fn insert_pending(conn: &mut Conn, r: &NewRegistration<'_>) -> StoreResult<Registration> {
    insert_pending_with_id(conn, RegistrationId::new_v4(), r).await
}

pub async fn insert_pending_with_id(
    conn: &mut Conn,
    id: RegistrationId,
    r: &NewRegistration<'_>,
) -> StoreResult<Registration> {
    let sql = format!(
        "INSERT INTO registration (id, email, name, organisation, requested_roles, \
         suppress_invite, state, actor_user_id, via, os_user) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9) RETURNING {COLUMNS}"
    );
    let row = sqlx::query_as::<_, Registration>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(r.email)
        .bind(r.name)
        .bind(r.organisation)
        .bind(r.requested_roles)
        .bind(r.suppress_invite)
        .bind(r.who.sub)
        .bind(r.who.via)
        .bind(r.who.os_user)
        .fetch_one(conn)
        .await?;
    Ok(row)
}

pub async fn get(db: &Db, id: RegistrationId) -> StoreResult<Option<Registration>> {
    let sql = format!("SELECT {COLUMNS} FROM registration WHERE id = $1");
    Ok(sqlx::query_as::<_, Registration>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db)
        .await?)
}

/// The open registration of `email` (normalised), if any.
pub async fn open_for_email(db: &Db, email: &str) -> StoreResult<Option<Registration>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM registration WHERE lower(email) = lower($1) \
         AND state IN ('pending', 'identity_created', 'roles_pending', 'needs_cleanup')"
    );
    Ok(sqlx::query_as::<_, Registration>(sqlx::AssertSqlSafe(sql))
        .bind(email)
        .fetch_optional(db)
        .await?)
}

/// Locks the row for the rest of the transaction.
pub async fn lock_row(conn: &mut Conn, id: RegistrationId) -> StoreResult<Option<Registration>> {
    let sql = format!("SELECT {COLUMNS} FROM registration WHERE id = $1 FOR UPDATE");
    Ok(sqlx::query_as::<_, Registration>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// Moves the row `from → to` if and only if that edge is in the transition table AND the row is
/// still in `from` (compare-and-set). Zero rows → [`TransitionError::Stale`].
pub async fn transition(
    conn: &mut Conn,
    id: RegistrationId,
    from: RegistrationState,
    to: RegistrationState,
    change: &Change<'_>,
) -> Result<(), TransitionError> {
    if !from.can_move_to(to) {
        return Err(TransitionError::Forbidden { id, from, to });
    }
    update(conn, id, from, to, change).await
}

/// Updates the error/evidence/note columns of a row that must still be in `state`
/// (compare-and-set; the state itself does not change).
pub async fn record(
    conn: &mut Conn,
    id: RegistrationId,
    state: RegistrationState,
    change: &Change<'_>,
) -> Result<(), TransitionError> {
    update(conn, id, state, state, change).await
}

async fn update(
    conn: &mut Conn,
    id: RegistrationId,
    from: RegistrationState,
    to: RegistrationState,
    c: &Change<'_>,
) -> Result<(), TransitionError> {
    let r = sqlx::query(
        "UPDATE registration SET state = $3, sub = COALESCE(sub, $4), \
         identity_created = identity_created OR $4 IS NOT NULL, \
         last_error = COALESCE($5, last_error), rollback_error = COALESCE($6, rollback_error), \
         evidence = COALESCE($7, evidence), note = COALESCE($8, note), updated_at = now() \
         WHERE id = $1 AND state = $2 AND ($4::uuid IS NULL OR sub IS NULL OR sub = $4)",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(c.sub)
    .bind(c.last_error)
    .bind(c.rollback_error)
    .bind(c.evidence)
    .bind(c.note)
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() == 1 {
        return Ok(());
    }
    let actual: Option<String> = sqlx::query_scalar("SELECT state FROM registration WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Err(TransitionError::Stale {
        id,
        expected: from,
        actual: actual.as_deref().and_then(RegistrationState::parse),
    })
}

/// Marks the start of a directory create call (database clock; the first start is kept).
pub async fn call_started(db: &Db, id: RegistrationId) -> StoreResult<()> {
    sqlx::query(
        "UPDATE registration SET call_started_at = COALESCE(call_started_at, clock_timestamp()), \
         updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Marks the end of a directory create call (database clock; the last end is kept).
pub async fn call_finished(db: &Db, id: RegistrationId) -> StoreResult<()> {
    sqlx::query(
        "UPDATE registration SET call_finished_at = clock_timestamp(), updated_at = now() \
         WHERE id = $1",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
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
    select: "r.id, r.email, r.name, r.organisation, r.requested_roles, r.suppress_invite, r.state,              r.sub, r.identity_created, r.last_error, r.rollback_error, r.note, r.actor_user_id,              r.via, r.os_user, r.call_started_at, r.call_finished_at, r.evidence, r.created_at, \
             r.updated_at, r.version",
    from: "registration r",
    base_where: "r.state IN ('pending', 'identity_created', 'roles_pending', 'needs_cleanup', \
                 'conflict')",
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
pub async fn list_page(db: &Db, q: &PageQuery) -> StoreResult<Page<Registration>> {
    fetch_page(db, &STUCK_REGISTRATIONS, q, None).await
}

/// `pending` rows created more than `older_than_secs` seconds ago.
pub async fn pending_older_than(db: &Db, older_than_secs: i64) -> StoreResult<Vec<Registration>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM registration \
         WHERE state = 'pending' AND created_at < now() - make_interval(secs => $1) \
         ORDER BY created_at, id"
    );
    Ok(sqlx::query_as::<_, Registration>(sqlx::AssertSqlSafe(sql))
        .bind(older_than_secs as f64)
        .fetch_all(db)
        .await?)
}

/// The registrations that produced (or tried to produce) this user, newest first.
pub async fn for_user(db: &Db, sub: UserSub, email: &str) -> StoreResult<Vec<Registration>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM registration WHERE sub = $1 OR lower(email) = lower($2) \
         ORDER BY created_at DESC, id LIMIT 20"
    );
    Ok(sqlx::query_as::<_, Registration>(sqlx::AssertSqlSafe(sql))
        .bind(sub)
        .bind(email)
        .fetch_all(db)
        .await?)
}

/// The global grants the registration's roles write added, recorded in the same transaction
/// (a rollback revokes exactly these).
pub async fn record_granted(
    conn: &mut Conn,
    id: RegistrationId,
    roles: &[Uuid],
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE registration SET granted_roles = ARRAY(SELECT DISTINCT unnest(granted_roles || \
         $2::uuid[])) WHERE id = $1",
    )
    .bind(id)
    .bind(roles)
    .execute(conn)
    .await?;
    Ok(())
}

/// The global grants the registration itself wrote.
pub async fn granted_roles(conn: &mut Conn, id: RegistrationId) -> StoreResult<Vec<Uuid>> {
    Ok(
        sqlx::query_scalar("SELECT granted_roles FROM registration WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?
            .unwrap_or_default(),
    )
}
