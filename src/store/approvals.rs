//! Pending changes of the two-person rule (table `pending_change`, migration 1520).

use crate::store::{Conn, Db};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreResult;
use super::audit::AuditActor;
use crate::domain::UserSub;

/// One pending change as stored.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct PendingRow {
    pub id: i64,
    pub action: String,
    pub request: serde_json::Value,
    pub preview: serde_json::Value,
    pub fingerprint: String,
    pub reason: String,
    pub proposer_sub: Option<UserSub>,
    pub proposer: String,
    pub proposer_via: String,
    pub proposer_os_user: Option<String>,
    pub proposed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub state: String,
    pub decided_by_sub: Option<UserSub>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    pub executed_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    /// The expiry has passed, by the database's clock.
    pub lapsed: bool,
}

const COLUMNS: &str = "id, action, request, preview, fingerprint, reason, proposer_sub, proposer, \
     proposer_via, proposer_os_user, proposed_at, expires_at, state, decided_by_sub, decided_by, \
     decided_at, decision_note, executed_at, outcome, (expires_at <= now()) AS lapsed";

/// What a proposal writes.
pub struct NewPending<'a> {
    pub action: &'a str,
    pub request: serde_json::Value,
    pub preview: serde_json::Value,
    pub fingerprint: &'a str,
    pub reason: &'a str,
    pub proposer: &'a str,
    pub who: AuditActor<'a>,
    pub expiry_hours: i32,
}

/// Inserts a proposal (expiry by the database's clock); returns its id.
pub async fn insert(conn: &mut Conn, p: &NewPending<'_>) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO pending_change (action, request, preview, fingerprint, reason, proposer_sub, \
         proposer, proposer_via, proposer_os_user, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(hours => $10)) \
         RETURNING id",
    )
    .bind(p.action)
    .bind(&p.request)
    .bind(&p.preview)
    .bind(p.fingerprint)
    .bind(p.reason)
    .bind(p.who.sub)
    .bind(p.proposer)
    .bind(p.who.via)
    .bind(p.who.os_user)
    .bind(p.expiry_hours)
    .fetch_one(conn)
    .await?)
}

/// The newest changes first; `open_only` keeps proposed and approved ones.
pub async fn list(db: &Db, open_only: bool, limit: i64) -> StoreResult<Vec<PendingRow>> {
    let q = format!(
        "SELECT {COLUMNS} FROM pending_change \
         WHERE NOT $1 OR state IN ('proposed', 'approved') ORDER BY id DESC LIMIT $2"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(open_only)
        .bind(limit)
        .fetch_all(db)
        .await?)
}

/// How many changes wait for a decision (the console's top bar).
pub async fn count_proposed(db: &Db) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM pending_change WHERE state = 'proposed' AND expires_at > now()",
    )
    .fetch_one(db)
    .await?)
}

pub async fn get(db: &Db, id: i64) -> StoreResult<Option<PendingRow>> {
    let q = format!("SELECT {COLUMNS} FROM pending_change WHERE id = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(id)
        .fetch_optional(db)
        .await?)
}

/// The change under its row lock (a decision's transaction).
pub async fn lock(conn: &mut Conn, id: i64) -> StoreResult<Option<PendingRow>> {
    let q = format!("SELECT {COLUMNS} FROM pending_change WHERE id = $1 FOR UPDATE");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// Open changes whose expiry has passed, locked (skipping any another decision holds).
pub async fn lock_due(conn: &mut Conn) -> StoreResult<Vec<PendingRow>> {
    let q = format!(
        "SELECT {COLUMNS} FROM pending_change WHERE state IN ('proposed', 'approved') AND expires_at <= now() \
         ORDER BY id FOR UPDATE SKIP LOCKED"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q))
        .fetch_all(conn)
        .await?)
}

/// Records a decision (approved, rejected, expired, void) on a locked change.
pub async fn decide(
    conn: &mut Conn,
    id: i64,
    state: &str,
    by: Option<(Option<UserSub>, &str)>,
    note: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE pending_change SET state = $2, decided_by_sub = $3, decided_by = $4, \
         decided_at = now(), decision_note = $5 WHERE id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(by.and_then(|b| b.0))
    .bind(by.map(|b| b.1))
    .bind(note)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the end of an approved change: executed (with its outcome) or void.
pub async fn finish(conn: &mut Conn, id: i64, state: &str, outcome: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE pending_change SET state = $2, outcome = $3, \
         executed_at = CASE WHEN $2 = 'executed' THEN now() END WHERE id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(outcome)
    .execute(conn)
    .await?;
    Ok(())
}
