//! The audit trail: `mandate_audit` rows and the `notification` outbox (written inside the
//! caller's transaction), and one listing over every audit table (`audit_event` view).

use crate::store::{Conn, Db};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::StoreResult;
use super::query::{ListSql, SqlColumn, fetch_page};
use crate::domain::page::{ColumnKind, ColumnSpec, ListSpec, SortDir};
use crate::domain::{MandateId, Page, PageQuery, UserSub};

/// Who did it: the actor columns every audit table shares (`users_audit`, `trusts_audit`,
/// `mandate_audit`). The service builds it once, with `Actor::audit`.
#[derive(Clone, Copy, Debug)]
pub struct AuditActor<'a> {
    /// NULL for the CLI.
    pub sub: Option<UserSub>,
    pub via: &'static str,
    pub os_user: Option<&'a str>,
}

/// Appends one `mandate_audit` row (append-only; no FK, so it keeps the name after a hard delete).
pub async fn insert_mandate_audit(
    conn: &mut Conn,
    actor: &AuditActor<'_>,
    mandate: MandateId,
    mandate_name: &str,
    action: &str,
    target: Option<UserSub>,
    details: serde_json::Value,
) -> StoreResult<()> {
    insert_mandate_audits(
        conn,
        actor,
        mandate,
        mandate_name,
        action,
        &[target],
        &[details],
    )
    .await
}

/// One `mandate_audit` row per (target, details) pair, in one statement.
#[allow(clippy::too_many_arguments)]
pub async fn insert_mandate_audits(
    conn: &mut Conn,
    actor: &AuditActor<'_>,
    mandate: MandateId,
    mandate_name: &str,
    action: &str,
    targets: &[Option<UserSub>],
    details: &[serde_json::Value],
) -> StoreResult<()> {
    let targets: Vec<Option<Uuid>> = targets.iter().map(|t| t.map(|t| t.0)).collect();
    sqlx::query(
        "INSERT INTO mandate_audit (actor_user_id, via, os_user, mandate_id, mandate_name, action, \
         target_user_id, details) \
         SELECT $1, $2, $3, $4, $5, $6, t, d FROM unnest($7::uuid[], $8::jsonb[]) AS x(t, d)",
    )
    .bind(actor.sub)
    .bind(actor.via)
    .bind(actor.os_user)
    .bind(mandate)
    .bind(mandate_name)
    .bind(action)
    .bind(targets)
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}

/// One outbox notification, in English and German.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotificationText {
    pub kind: &'static str,
    pub title_en: String,
    pub message_en: String,
    pub title_de: String,
    pub message_de: String,
}

pub async fn insert_notification(
    conn: &mut Conn,
    user: UserSub,
    mandate: Option<MandateId>,
    text: &NotificationText,
) -> StoreResult<()> {
    insert_notifications(conn, &[user], mandate, text).await
}

/// The same notification to every user in `users`, in one statement.
pub async fn insert_notifications(
    conn: &mut Conn,
    users: &[UserSub],
    mandate: Option<MandateId>,
    text: &NotificationText,
) -> StoreResult<()> {
    let users: Vec<uuid::Uuid> = users.iter().map(|u| u.0).collect();
    sqlx::query(
        "INSERT INTO notification (user_id, mandate_id, kind, title_en, message_en, title_de, \
         message_de) SELECT u, $2, $3, $4, $5, $6, $7 FROM unnest($1::uuid[]) u",
    )
    .bind(users)
    .bind(mandate)
    .bind(text.kind)
    .bind(&text.title_en)
    .bind(&text.message_en)
    .bind(&text.title_de)
    .bind(&text.message_de)
    .execute(conn)
    .await?;
    Ok(())
}

/// One row of the combined audit trail.
#[derive(Clone, Debug, PartialEq, Serialize, sqlx::FromRow)]
pub struct AuditEvent {
    /// `users`, `trusts` or `mandates`.
    pub source: String,
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor_user_id: Option<Uuid>,
    pub via: String,
    pub os_user: Option<String>,
    pub action: String,
    pub subject_id: Option<Uuid>,
    pub subject_name: Option<String>,
    pub target_user_id: Option<Uuid>,
    pub details: serde_json::Value,
    /// The canonical event code over all three tables (`audit_event_code`, migration 1110);
    /// `action` stays as the row was written.
    pub event: String,
}

pub static AUDIT_SPEC: ListSpec = ListSpec {
    name: "audit",
    columns: &[
        ColumnSpec::new("occurred_at", ColumnKind::Timestamp),
        ColumnSpec::new("source", ColumnKind::Text),
        ColumnSpec::new("action", ColumnKind::Text),
        ColumnSpec::new("actor", ColumnKind::Uuid),
        ColumnSpec::new("subject", ColumnKind::Uuid),
        ColumnSpec::new("subject_name", ColumnKind::Text),
        ColumnSpec::new("target", ColumnKind::Uuid),
        ColumnSpec::new("via", ColumnKind::Text),
        ColumnSpec::filter_only("event", ColumnKind::Text),
    ],
    default_sort: &[("occurred_at", SortDir::Desc)],
};

pub static AUDIT_LIST: ListSql = ListSql {
    spec: &AUDIT_SPEC,
    select: "e.source, e.id, e.occurred_at, e.actor_user_id, e.via, e.os_user, e.action, \
             e.subject_id, e.subject_name, e.target_user_id, e.details, e.event",
    from: "audit_event e",
    base_where: "",
    columns: &[
        SqlColumn::new("occurred_at", "e.occurred_at"),
        SqlColumn::new("source", "e.source"),
        SqlColumn::new("action", "e.action"),
        SqlColumn::new("actor", "e.actor_user_id"),
        SqlColumn::new("subject", "e.subject_id"),
        SqlColumn::new("subject_name", "e.subject_name"),
        SqlColumn::new("target", "e.target_user_id"),
        SqlColumn::new("via", "e.via"),
        SqlColumn::new("event", "e.event"),
    ],
    search: &["e.action", "e.subject_name", "e.os_user"],
    search_with: None,
    tiebreak: "e.id",
    tiebreak_type: "uuid",
};

pub use super::query::TimeRange;

/// One page of the audit trail (one statement).
pub async fn list(db: &Db, q: &PageQuery, range: TimeRange) -> StoreResult<Page<AuditEvent>> {
    let scope = move |qb: &mut QueryBuilder<Postgres>| {
        super::query::push_time_range(qb, &range, "e.occurred_at")
    };
    fetch_page(db, &AUDIT_LIST, q, Some(&scope)).await
}

/// Distinct values of an audit column honouring the other filters and the time range.
pub async fn filter_values(
    db: &Db,
    column: &str,
    q: &PageQuery,
    range: TimeRange,
    limit: u32,
) -> StoreResult<Vec<String>> {
    let scope = move |qb: &mut QueryBuilder<Postgres>| {
        super::query::push_time_range(qb, &range, "e.occurred_at")
    };
    super::query::filter_values(db, &AUDIT_LIST, column, q, Some(&scope), limit).await
}

/// Where an export stands: the last row written, in export order (newest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportCursor {
    pub occurred_at: DateTime<Utc>,
    pub id: Uuid,
}

impl ExportCursor {
    pub fn of(e: &AuditEvent) -> Self {
        Self {
            occurred_at: e.occurred_at,
            id: e.id,
        }
    }
}

/// The next `limit` rows of an export after `after`, keyset-paged over `(occurred_at DESC,
/// id ASC)` — the order of the `*_time_idx` indexes — so rows written meanwhile neither shift
/// the pages (no repeats, no gaps, as OFFSET would) nor join this export (they are newer than
/// its first row). Search and filters of `q` apply; its sort and page are ignored.
pub async fn export_page(
    db: &Db,
    q: &PageQuery,
    range: TimeRange,
    after: Option<ExportCursor>,
    limit: u32,
) -> StoreResult<Vec<AuditEvent>> {
    q.validate(&AUDIT_SPEC)?;
    let scope = move |qb: &mut QueryBuilder<Postgres>| {
        super::query::push_time_range(qb, &range, "e.occurred_at");
        if let Some(c) = after {
            // `occurred_at <= $t` is an index condition; the OR only filters the ties.
            qb.push(" AND e.occurred_at <= ")
                .push_bind(c.occurred_at)
                .push(" AND (e.occurred_at < ")
                .push_bind(c.occurred_at)
                .push(" OR e.id > ")
                .push_bind(c.id)
                .push(")");
        }
    };
    let mut qb = QueryBuilder::new("SELECT ");
    qb.push(AUDIT_LIST.select)
        .push(" FROM ")
        .push(AUDIT_LIST.from);
    AUDIT_LIST.push_where(&mut qb, q, Some(&scope), None)?;
    qb.push(" ORDER BY e.occurred_at DESC, e.id ASC LIMIT ")
        .push_bind(i64::from(limit));
    Ok(qb.build_query_as::<AuditEvent>().fetch_all(db).await?)
}

/// A user as the audit shows them: email (from the directory cache, kept after deletion) and
/// profile name.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct KnownUser {
    pub sub: Uuid,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// Emails and names of `subs` (one statement; unknown subs are simply absent).
pub async fn known_users(db: &Db, subs: &[Uuid]) -> StoreResult<Vec<KnownUser>> {
    if subs.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as(
        "SELECT s.sub, d.email, p.name FROM unnest($1::uuid[]) AS s(sub) \
         LEFT JOIN directory_user d ON d.sub = s.sub \
         LEFT JOIN user_profile p ON p.user_id = s.sub \
         WHERE d.sub IS NOT NULL OR p.user_id IS NOT NULL",
    )
    .bind(subs)
    .fetch_all(db)
    .await?)
}

/// One audit row by id (any of the three tables).
pub async fn get(db: &Db, id: Uuid) -> StoreResult<Option<AuditEvent>> {
    let q = format!(
        "SELECT {} FROM {} WHERE e.id = $1",
        AUDIT_LIST.select, AUDIT_LIST.from
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(id)
        .fetch_optional(db)
        .await?)
}

// ---------------------------------------------------------------------------------------------
// Mutation ids: finding out whether a transaction whose COMMIT answer was lost committed
// ---------------------------------------------------------------------------------------------

/// Tags the caller's transaction with its mutation id: every audit row it writes takes the id
/// (the audit tables' `mutation_id` default reads the transaction-local setting), and the
/// id's transaction-scoped advisory lock is held until the transaction ends, so whoever asks
/// [`mutation_committed`] waits for the outcome instead of reading a half-finished one.
pub async fn tag_mutation(conn: &mut Conn, mutation_id: Uuid) -> StoreResult<()> {
    sqlx::query(
        "SELECT set_config('hubdeck.mutation_id', $1::text, true), \
                pg_advisory_xact_lock(hashtextextended('mutation:' || $1::text, 0))",
    )
    .bind(mutation_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// In a transaction on a connection of its own ([`super::Db::begin_apart`]): waits (up to
/// `wait`) for the transaction tagged `mutation_id` to end, then says whether it committed (an
/// audit row carries the id). None when it is still open after `wait` (its COMMIT may yet
/// arrive: the outcome is unknown).
pub async fn mutation_committed(
    tx: &mut Conn,
    mutation_id: Uuid,
    wait: std::time::Duration,
) -> StoreResult<Option<bool>> {
    sqlx::query("SELECT set_config('lock_timeout', $1, true)")
        .bind(format!("{}ms", wait.as_millis().max(1)))
        .execute(&mut *tx)
        .await?;
    let locked =
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('mutation:' || $1::text, 0))")
            .bind(mutation_id)
            .execute(&mut *tx)
            .await;
    if let Err(sqlx::Error::Database(e)) = &locked
        && e.code().as_deref() == Some("55P03")
    {
        return Ok(None);
    }
    locked?;
    let committed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM trusts_audit WHERE mutation_id = $1) \
             OR EXISTS (SELECT 1 FROM users_audit WHERE mutation_id = $1) \
             OR EXISTS (SELECT 1 FROM mandate_audit WHERE mutation_id = $1)",
    )
    .bind(mutation_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Some(committed))
}
