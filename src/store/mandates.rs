//! Mandates (tenants): the paged list, create with billing settings and subscription, update,
//! soft delete / restore / purge, hard delete. Writes take the caller's transaction.

use crate::store::{Conn, Db};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Postgres, QueryBuilder};

use super::StoreResult;
use super::query::{ListSql, SqlColumn, fetch_page};
use crate::domain::page::{ColumnKind, ColumnSpec, ListSpec, SortDir};
use crate::domain::{MandateId, Page, PageQuery, UserSub};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Mandate {
    pub id: MandateId,
    pub name: String,
    pub label: Option<String>,
    pub enabled: bool,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The live subscription's plan (kept on the row by a trigger, migration 1100); read by
    /// the paged lists only (None elsewhere, and for a mandate without a live subscription).
    #[sqlx(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_key: Option<String>,
    /// Moved on by every committed change (migration 1410): what a form carries so its save
    /// is refused, not applied, when somebody changed the mandate since it was shown.
    #[sqlx(default)]
    pub version: i64,
}

impl Mandate {
    /// The label when set, otherwise the name (what notifications show).
    pub fn display_name(&self) -> &str {
        match self.label.as_deref() {
            Some(l) if !l.trim().is_empty() => l,
            _ => &self.name,
        }
    }
}

/// The live subscription of a mandate with its plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Subscription {
    pub plan_key: String,
    pub plan_name: String,
    pub status: String,
    pub max_members: i32,
    pub started_at: DateTime<Utc>,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub current_period_end: Option<DateTime<Utc>>,
}

pub static MANDATES_SPEC: ListSpec = ListSpec {
    name: "mandates",
    columns: &[
        ColumnSpec::new("name", ColumnKind::Text),
        ColumnSpec::new("label", ColumnKind::Text),
        ColumnSpec::new("enabled", ColumnKind::Bool),
        ColumnSpec::filter_only("plan", ColumnKind::Text),
        ColumnSpec::sort_only("created_at", ColumnKind::Timestamp),
        ColumnSpec::sort_only("deleted_at", ColumnKind::Timestamp),
    ],
    default_sort: &[("name", SortDir::Asc)],
};

const MANDATE_COLUMNS: &[SqlColumn] = &[
    SqlColumn::new("name", "m.name"),
    SqlColumn::new("label", "m.label"),
    SqlColumn::new("enabled", "m.enabled"),
    SqlColumn::new("plan", "m.plan_key"),
    SqlColumn::new("created_at", "m.created_at"),
    SqlColumn::new("deleted_at", "m.deleted_at"),
];

/// The live list's columns: name, label and enabled lead partial indexes on
/// `deleted_at IS NULL`, so their filter values come from a loose index scan.
const LIVE_MANDATE_COLUMNS: &[SqlColumn] = &[
    SqlColumn::new("name", "m.name").indexed(),
    SqlColumn::new("label", "m.label").indexed(),
    SqlColumn::new("enabled", "m.enabled").indexed(),
    // The live subscription's plan, kept on the row by a trigger (migration 1100).
    SqlColumn::new("plan", "m.plan_key").indexed(),
    SqlColumn::new("created_at", "m.created_at"),
    SqlColumn::new("deleted_at", "m.deleted_at"),
];

const MANDATE_SELECT: &str = "m.id, m.name, m.label, m.enabled, m.deleted_at, m.created_at, m.updated_at, m.plan_key, m.version";

/// Live (not soft-deleted) mandates.
pub static MANDATES: ListSql = ListSql {
    spec: &MANDATES_SPEC,
    select: MANDATE_SELECT,
    from: "mandate m",
    base_where: "m.deleted_at IS NULL",
    columns: LIVE_MANDATE_COLUMNS,
    search: &["m.name", "m.label"],
    search_with: None,
    tiebreak: "m.id",
    tiebreak_type: "uuid",
};

/// Soft-deleted mandates (restore candidates, purge preview).
pub static DELETED_MANDATES: ListSql = ListSql {
    spec: &MANDATES_SPEC,
    select: MANDATE_SELECT,
    from: "mandate m",
    base_where: "m.deleted_at IS NOT NULL",
    columns: MANDATE_COLUMNS,
    search: &["m.name", "m.label"],
    search_with: None,
    tiebreak: "m.id",
    tiebreak_type: "uuid",
};

/// SQL condition: membership `um` holds a mandate admin role (label `admin`, global or of the
/// membership's mandate, no feature instance).
pub const HOLDS_ADMIN_ROLE: &str = "EXISTS (SELECT 1 FROM user_mandate_role umr \
     JOIN mandate_role r ON r.id = umr.mandate_role_id \
     WHERE umr.user_mandate_id = um.id AND r.label = 'admin' AND r.feature_instance_id IS NULL \
     AND (r.mandate_id IS NULL OR r.mandate_id = um.mandate_id))";

/// Which mandates a list shows.
#[derive(Clone, Copy, Debug)]
pub enum MandateScope {
    All,
    /// Only the enabled mandates this user administers.
    AdministeredBy(UserSub),
}

fn push_scope(qb: &mut QueryBuilder<Postgres>, scope: MandateScope) {
    match scope {
        MandateScope::All => {
            qb.push("TRUE");
        }
        MandateScope::AdministeredBy(sub) => {
            qb.push("m.enabled AND m.id IN (SELECT um.mandate_id FROM user_mandate um WHERE um.user_id = ")
                .push_bind(sub)
                .push(" AND um.enabled AND ")
                .push(HOLDS_ADMIN_ROLE)
                .push(")");
        }
    }
}

/// One page of live mandates (one statement).
pub async fn list(db: &Db, q: &PageQuery, scope: MandateScope) -> StoreResult<Page<Mandate>> {
    let f = move |qb: &mut QueryBuilder<Postgres>| push_scope(qb, scope);
    fetch_page(db, &MANDATES, q, Some(&f)).await
}

/// EXPLAIN of the mandates page statement (for index-use tests).
pub async fn explain_page(db: &Db, q: &PageQuery, scope: MandateScope) -> StoreResult<Vec<String>> {
    let f = move |qb: &mut QueryBuilder<Postgres>| push_scope(qb, scope);
    super::query::explain_page(db, &MANDATES, q, Some(&f)).await
}

/// One page of soft-deleted mandates.
pub async fn list_deleted(db: &Db, q: &PageQuery) -> StoreResult<Page<Mandate>> {
    fetch_page(db, &DELETED_MANDATES, q, None).await
}

pub async fn filter_values(
    db: &Db,
    column: &str,
    q: &PageQuery,
    scope: MandateScope,
    limit: u32,
) -> StoreResult<Vec<String>> {
    let f = move |qb: &mut QueryBuilder<Postgres>| push_scope(qb, scope);
    super::query::filter_values(db, &MANDATES, column, q, Some(&f), limit).await
}

/// Is `sub` an admin of `mandate` (enabled membership holding an admin role) while the
/// mandate is live and enabled? The mandate admin's list hides a disabled or soft-deleted
/// mandate, so its admin may not reach it by id either.
pub async fn is_admin_of(db: &Db, sub: UserSub, mandate: MandateId) -> StoreResult<bool> {
    let q = format!(
        "SELECT EXISTS (SELECT 1 FROM user_mandate um JOIN mandate m ON m.id = um.mandate_id \
         WHERE um.user_id = $1 AND um.mandate_id = $2 AND um.enabled \
         AND m.enabled AND m.deleted_at IS NULL AND {HOLDS_ADMIN_ROLE})"
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(q))
        .bind(sub)
        .bind(mandate)
        .fetch_one(db)
        .await?)
}

/// Any mandate, deleted or not.
pub async fn get(db: &Db, id: MandateId) -> StoreResult<Option<Mandate>> {
    Ok(sqlx::query_as(
        "SELECT id, name, label, enabled, deleted_at, created_at, updated_at, version FROM mandate WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// Locks the mandate row (the first lock of every mandate or membership mutation, so all of
/// them on one mandate are serialized in the same order) and returns it.
pub async fn lock(conn: &mut Conn, id: MandateId) -> StoreResult<Option<Mandate>> {
    Ok(sqlx::query_as(
        "SELECT id, name, label, enabled, deleted_at, created_at, updated_at, version FROM mandate \
         WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Moves the mandate's version on (a change held in another table, such as its plan).
pub async fn bump_version(conn: &mut Conn, id: MandateId) -> StoreResult<Mandate> {
    Ok(sqlx::query_as(
        "UPDATE mandate SET version = version + 1, updated_at = now() WHERE id = $1 \
         RETURNING id, name, label, enabled, deleted_at, created_at, updated_at, version",
    )
    .bind(id)
    .fetch_one(conn)
    .await?)
}

pub async fn subscription(db: &Db, id: MandateId) -> StoreResult<Option<Subscription>> {
    Ok(sqlx::query_as(
        "SELECT s.plan_key, p.name AS plan_name, s.status, p.max_members, s.started_at, \
         s.trial_ends_at, s.current_period_end FROM mandate_subscription s \
         JOIN plan p ON p.key = s.plan_key \
         WHERE s.mandate_id = $1 AND s.status IN ('trialing', 'active', 'past_due')",
    )
    .bind(id)
    .fetch_optional(db)
    .await?)
}

pub async fn insert(
    conn: &mut Conn,
    name: &str,
    label: Option<&str>,
    enabled: bool,
) -> StoreResult<Mandate> {
    Ok(sqlx::query_as(
        "INSERT INTO mandate (name, label, enabled) VALUES ($1, $2, $3) \
         RETURNING id, name, label, enabled, deleted_at, created_at, updated_at, version",
    )
    .bind(name)
    .bind(label)
    .bind(enabled)
    .fetch_one(conn)
    .await?)
}

pub async fn insert_billing_settings(conn: &mut Conn, id: MandateId) -> StoreResult<()> {
    sqlx::query("INSERT INTO mandate_billing_settings (mandate_id) VALUES ($1)")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Starts the subscription on `plan_key`: trialing with trial end = now + trial days when the
/// plan has a trial, active otherwise. None when the plan does not exist (nothing inserted).
pub async fn insert_subscription(
    conn: &mut Conn,
    id: MandateId,
    plan_key: &str,
) -> StoreResult<Option<Subscription>> {
    Ok(sqlx::query_as(
        "WITH p AS (SELECT key, name, trial_days, max_members, auto_renew FROM plan WHERE key = $2), \
         s AS (INSERT INTO mandate_subscription (mandate_id, plan_key, status, recurring, \
                 started_at, current_period_start, current_period_end, trial_ends_at) \
               SELECT $1, p.key, CASE WHEN p.trial_days > 0 THEN 'trialing' ELSE 'active' END, \
                 p.auto_renew AND p.trial_days = 0, now(), now(), \
                 CASE WHEN p.trial_days > 0 THEN now() + make_interval(days => p.trial_days) END, \
                 CASE WHEN p.trial_days > 0 THEN now() + make_interval(days => p.trial_days) END \
               FROM p RETURNING plan_key, status, started_at, trial_ends_at, current_period_end) \
         SELECT s.plan_key, p.name AS plan_name, s.status, p.max_members, s.started_at, \
                s.trial_ends_at, s.current_period_end FROM s JOIN p ON p.key = s.plan_key",
    )
    .bind(id)
    .bind(plan_key)
    .fetch_optional(conn)
    .await?)
}

pub async fn update(
    conn: &mut Conn,
    id: MandateId,
    name: &str,
    label: Option<&str>,
    enabled: bool,
) -> StoreResult<Mandate> {
    Ok(sqlx::query_as(
        "UPDATE mandate SET name = $2, label = $3, enabled = $4, updated_at = now() WHERE id = $1 \
         RETURNING id, name, label, enabled, deleted_at, created_at, updated_at, version",
    )
    .bind(id)
    .bind(name)
    .bind(label)
    .bind(enabled)
    .fetch_one(conn)
    .await?)
}

/// Soft delete: disabled and `deleted_at`, remembering the enabled state for [`restore`].
pub async fn soft_delete(conn: &mut Conn, id: MandateId) -> StoreResult<()> {
    sqlx::query(
        "UPDATE mandate SET enabled_before_delete = enabled, enabled = false, deleted_at = now(), \
         updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Restores a soft-deleted mandate still inside the retention window, with the enabled state
/// it had when it was deleted (disabled when unknown), and returns that state; None when
/// outside the window. A live mandate holding the name (any case) makes this fail on
/// `mandate_name_live_key`.
pub async fn restore(
    conn: &mut Conn,
    id: MandateId,
    retention_days: u32,
) -> StoreResult<Option<bool>> {
    Ok(sqlx::query_scalar(
        "UPDATE mandate SET enabled = COALESCE(enabled_before_delete, false), \
         enabled_before_delete = NULL, deleted_at = NULL, updated_at = now() \
         WHERE id = $1 AND deleted_at IS NOT NULL \
         AND deleted_at >= now() - make_interval(days => $2) RETURNING enabled",
    )
    .bind(id)
    .bind(i32::try_from(retention_days).unwrap_or(i32::MAX))
    .fetch_optional(conn)
    .await?)
}

/// The unique index that keeps live mandate names unique case-insensitively (0700).
pub const NAME_LIVE_KEY: &str = "mandate_name_live_key";

/// The live mandate holding `name` (case-insensitive; index `mandate_name_live_key`).
pub async fn live_by_name(db: &Db, name: &str) -> StoreResult<Option<Mandate>> {
    Ok(sqlx::query_as(
        "SELECT id, name, label, enabled, deleted_at, created_at, updated_at, version FROM mandate \
         WHERE lower(name) = lower($1) AND deleted_at IS NULL",
    )
    .bind(name)
    .fetch_optional(db)
    .await?)
}

/// Deletes the mandate and everything hanging off it (billing, subscriptions, mandate roles,
/// memberships and their roles by cascade; outbox notifications explicitly). Audit rows stay.
pub async fn hard_delete(conn: &mut Conn, id: MandateId) -> StoreResult<()> {
    sqlx::query("DELETE FROM notification WHERE mandate_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM mandate WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Soft-deleted mandates whose retention has passed (oldest first).
pub async fn purgeable(
    db: &mut Conn,
    retention_days: u32,
    lock: bool,
) -> StoreResult<Vec<Mandate>> {
    let sql = if lock {
        "SELECT id, name, label, enabled, deleted_at, created_at, updated_at, version FROM mandate \
         WHERE deleted_at IS NOT NULL AND deleted_at < now() - make_interval(days => $1) \
         ORDER BY deleted_at, id FOR UPDATE"
    } else {
        "SELECT id, name, label, enabled, deleted_at, created_at, updated_at, version FROM mandate \
         WHERE deleted_at IS NOT NULL AND deleted_at < now() - make_interval(days => $1) \
         ORDER BY deleted_at, id"
    };
    Ok(sqlx::query_as(sql)
        .bind(i32::try_from(retention_days).unwrap_or(i32::MAX))
        .fetch_all(db)
        .await?)
}

/// Number of rows in each table that references `id` (used to prove a cascade is complete).
pub async fn dependent_rows(db: &Db, id: MandateId) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM mandate WHERE id = $1) \
         + (SELECT count(*) FROM mandate_billing_settings WHERE mandate_id = $1) \
         + (SELECT count(*) FROM mandate_subscription WHERE mandate_id = $1) \
         + (SELECT count(*) FROM mandate_role WHERE mandate_id = $1) \
         + (SELECT count(*) FROM user_mandate WHERE mandate_id = $1) \
         + (SELECT count(*) FROM user_mandate_role umr JOIN user_mandate um ON um.id = umr.user_mandate_id WHERE um.mandate_id = $1) \
         + (SELECT count(*) FROM notification WHERE mandate_id = $1)",
    )
    .bind(id)
    .fetch_one(db)
    .await?)
}
