//! Row versions (migration 1410): what a write compares with what its operator saw, and the
//! audit row that explains a mismatch. Triggers move the versions; nothing here writes them.

use crate::store::Conn;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{MandateId, MembershipId, TrustId, UserSub};

/// The version of a user (profile, grants, directory state); 0 before the first change.
pub async fn user_version(conn: &mut Conn, sub: UserSub) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE((SELECT version FROM user_version WHERE user_id = $1), 0)",
    )
    .bind(sub)
    .fetch_one(conn)
    .await?)
}

/// The versions of many users at once (the users list); users without a row are absent (0).
pub async fn user_versions(
    db: impl sqlx::PgExecutor<'_>,
    subs: &[uuid::Uuid],
) -> StoreResult<Vec<(uuid::Uuid, i64)>> {
    Ok(
        sqlx::query_as("SELECT user_id, version FROM user_version WHERE user_id = ANY($1)")
            .bind(subs)
            .fetch_all(db)
            .await?,
    )
}

/// The version of a membership (its row and its roles), None when it is gone.
pub async fn membership_version(conn: &mut Conn, id: MembershipId) -> StoreResult<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT version FROM user_mandate WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

/// The latest audit row of a change: who (email from the directory cache, else the CLI's OS
/// user), how, what and how long ago by the database's clock.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct LastChange {
    pub who: Option<String>,
    pub via: String,
    pub action: String,
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
    pub seconds_ago: f64,
}

const WHO: &str = "COALESCE((SELECT d.email FROM directory_user d WHERE d.sub = a.actor), \
                   a.os_user)";

/// The latest change of a mandate itself (not of its members).
pub async fn last_mandate_change(
    conn: &mut Conn,
    id: MandateId,
) -> StoreResult<Option<LastChange>> {
    let q = format!(
        "SELECT {WHO} AS who, a.via, a.action, a.details, a.created_at AS at, \
         EXTRACT(EPOCH FROM now() - a.created_at)::float8 AS seconds_ago \
         FROM (SELECT actor_user_id AS actor, * FROM mandate_audit \
               WHERE mandate_id = $1 AND target_user_id IS NULL \
               ORDER BY created_at DESC LIMIT 1) a"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// The latest change of one membership (`target` in `mandate`).
pub async fn last_membership_change(
    conn: &mut Conn,
    mandate: MandateId,
    target: UserSub,
) -> StoreResult<Option<LastChange>> {
    let q = format!(
        "SELECT {WHO} AS who, a.via, a.action, a.details, a.created_at AS at, \
         EXTRACT(EPOCH FROM now() - a.created_at)::float8 AS seconds_ago \
         FROM (SELECT actor_user_id AS actor, * FROM mandate_audit \
               WHERE mandate_id = $1 AND target_user_id = $2 \
               ORDER BY created_at DESC LIMIT 1) a"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(mandate)
        .bind(target)
        .fetch_optional(conn)
        .await?)
}

/// The latest change of a user.
pub async fn last_user_change(conn: &mut Conn, sub: UserSub) -> StoreResult<Option<LastChange>> {
    let q = format!(
        "SELECT {WHO} AS who, a.via, a.action, a.details, a.\"timestamp\" AS at, \
         EXTRACT(EPOCH FROM now() - a.\"timestamp\")::float8 AS seconds_ago \
         FROM (SELECT modified_by_user_id AS actor, * FROM users_audit \
               WHERE user_id = $1 ORDER BY \"timestamp\" DESC LIMIT 1) a"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(sub)
        .fetch_optional(conn)
        .await?)
}

/// The latest change of a trust (its deletion included: the audit outlives the row).
pub async fn last_trust_change(conn: &mut Conn, id: TrustId) -> StoreResult<Option<LastChange>> {
    let q = format!(
        "SELECT {WHO} AS who, a.via, a.action, a.details, a.audit_date AS at, \
         EXTRACT(EPOCH FROM now() - a.audit_date)::float8 AS seconds_ago \
         FROM (SELECT modified_by_user_id AS actor, * FROM trusts_audit \
               WHERE trust_id = $1 ORDER BY audit_date DESC LIMIT 1) a"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// The latest change of any membership of `mandate`, with the member's email (or id).
pub async fn last_members_change(
    conn: &mut Conn,
    mandate: MandateId,
) -> StoreResult<Option<(String, LastChange)>> {
    let q = format!(
        "SELECT COALESCE((SELECT d.email FROM directory_user d WHERE d.sub = a.target_user_id), \
         a.target_user_id::text) AS member, {WHO} AS who, a.via, a.action, a.details, \
         a.created_at AS at, EXTRACT(EPOCH FROM now() - a.created_at)::float8 AS seconds_ago \
         FROM (SELECT actor_user_id AS actor, * FROM mandate_audit \
               WHERE mandate_id = $1 AND target_user_id IS NOT NULL \
               ORDER BY created_at DESC LIMIT 1) a"
    );
    #[derive(sqlx::FromRow)]
    struct Row {
        member: String,
        #[sqlx(flatten)]
        change: LastChange,
    }
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(mandate)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| (r.member, r.change)))
}
