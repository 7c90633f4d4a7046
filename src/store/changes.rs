//! The change feed: the audit rows written since a mark, read by the id of the transaction
//! that wrote them (`change_xid`, migration 1450). Two statements, both index range scans on
//! `change_xid`; no lock, no session state (works through a transaction-mode pooler).

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::StoreResult;

/// One audit row as a change notice: which record, what happened, who did it and when.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ChangeRow {
    /// `users`, `trusts` or `mandates` (the audit table).
    pub source: String,
    pub id: Uuid,
    /// The record changed: the user, trust or mandate.
    pub subject_id: Option<Uuid>,
    /// The user a membership change is about (mandate members), if any.
    pub target_user_id: Option<Uuid>,
    pub action: String,
    pub actor_user_id: Option<Uuid>,
    /// The actor's email from the directory cache, when known.
    pub actor_email: Option<String>,
    pub via: String,
    pub os_user: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// The writing transaction's id (xid8 as a number).
    pub xid: i64,
}

/// The oldest transaction still running now (every transaction below it has ended): the mark
/// a poll may move forward to.
pub async fn horizon(db: impl PgExecutor<'_>) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            .fetch_one(db)
            .await?,
    )
}

/// The oldest writing transaction among the audit rows stamped within the last `secs` seconds
/// (None: there are none).
pub async fn recent_mark(db: impl PgExecutor<'_>, secs: i64) -> StoreResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT min(x)::text::bigint FROM ( \
           SELECT min(change_xid) AS x FROM mandate_audit \
            WHERE created_at >= now() - make_interval(secs => $1) \
           UNION ALL SELECT min(change_xid) FROM users_audit \
            WHERE \"timestamp\" >= now() - make_interval(secs => $1) \
           UNION ALL SELECT min(change_xid) FROM trusts_audit \
            WHERE audit_date >= now() - make_interval(secs => $1)) hubdeck_recent",
    )
    .bind(secs as f64)
    .fetch_one(db)
    .await?)
}

/// The audit rows of transactions `>= from` visible now, in transaction order, at most
/// `limit` of them.
pub async fn since(db: impl PgExecutor<'_>, from: i64, limit: i64) -> StoreResult<Vec<ChangeRow>> {
    Ok(sqlx::query_as::<_, ChangeRow>(
        r#"
        SELECT e.source, e.id, e.subject_id, e.target_user_id, e.action, e.actor_user_id,
               du.email AS actor_email, e.via, e.os_user, e.occurred_at, e.xid
          FROM (
                SELECT 'users'::text AS source, a.id, a.user_id AS subject_id,
                       a.user_id AS target_user_id, a.action,
                       a.modified_by_user_id AS actor_user_id, a.via, a.os_user,
                       a."timestamp" AS occurred_at, a.change_xid::text::bigint AS xid
                  FROM users_audit a
                 WHERE a.change_xid >= $1::text::xid8
                UNION ALL
                SELECT 'trusts', t.id, t.trust_id, t.subject_user_id, t.action,
                       t.modified_by_user_id, t.via, t.os_user, t.audit_date,
                       t.change_xid::text::bigint
                  FROM trusts_audit t
                 WHERE t.change_xid >= $1::text::xid8
                UNION ALL
                SELECT 'mandates', m.id, m.mandate_id, m.target_user_id, m.action,
                       m.actor_user_id, m.via, m.os_user, m.created_at,
                       m.change_xid::text::bigint
                  FROM mandate_audit m
                 WHERE m.change_xid >= $1::text::xid8
               ) e
          LEFT JOIN directory_user du ON du.sub = e.actor_user_id
         ORDER BY e.xid, e.occurred_at, e.id
         LIMIT $2
        "#,
    )
    .bind(from.to_string())
    .bind(limit)
    .fetch_all(db)
    .await?)
}
