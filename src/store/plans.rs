//! The plan catalogue and a mandate's plan: the picker's rows, the detail's members
//! against capacity and admins, and the plan change (cancel the live subscription, start the
//! new one) inside the caller's transaction.

use crate::store::{Conn, Db};
use serde::Serialize;

use super::StoreResult;
use super::mandates::{HOLDS_ADMIN_ROLE, Subscription};
use crate::domain::{MandateId, UserSub};

/// One plan of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Plan {
    pub key: String,
    pub name: String,
    pub trial_days: i32,
    pub max_members: i32,
    pub monthly_price_cents: i32,
    pub auto_renew: bool,
}

/// One admin of a mandate (an enabled membership holding an admin role).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct MandateAdmin {
    pub user_id: UserSub,
    pub email: Option<String>,
    pub full_name: Option<String>,
    /// The identity is disabled or gone in the directory cache (no working admin).
    pub working: bool,
}

const PLAN_COLUMNS: &str = "key, name, trial_days, max_members, monthly_price_cents, auto_renew";

/// The whole catalogue, smallest plan first.
pub async fn catalogue(db: &Db) -> StoreResult<Vec<Plan>> {
    let q = format!("SELECT {PLAN_COLUMNS} FROM plan ORDER BY max_members, key");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q)).fetch_all(db).await?)
}

/// One plan by key (exact, as stored).
pub async fn plan(conn: &mut Conn, key: &str) -> StoreResult<Option<Plan>> {
    let q = format!("SELECT {PLAN_COLUMNS} FROM plan WHERE key = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(key)
        .fetch_optional(conn)
        .await?)
}

/// Members of a mandate (every membership, enabled or not: each holds a place in the plan).
pub async fn member_count<'e, E: sqlx::PgExecutor<'e>>(
    exec: E,
    mandate: MandateId,
) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM user_mandate WHERE mandate_id = $1")
            .bind(mandate)
            .fetch_one(exec)
            .await?,
    )
}

/// The admins of a mandate, by email.
pub async fn admins(db: &Db, mandate: MandateId) -> StoreResult<Vec<MandateAdmin>> {
    let q = format!(
        "SELECT um.user_id, d.email, p.name AS full_name, \
                COALESCE(d.enabled AND d.gone_at IS NULL, true) AS working \
         FROM user_mandate um \
         LEFT JOIN directory_user d ON d.sub = um.user_id \
         LEFT JOIN user_profile p ON p.user_id = um.user_id \
         WHERE um.mandate_id = $1 AND um.enabled AND {HOLDS_ADMIN_ROLE} \
         ORDER BY lower(d.email) NULLS LAST, um.user_id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(mandate)
        .fetch_all(db)
        .await?)
}

/// The live subscription inside the caller's transaction (locked).
pub async fn lock_subscription(
    conn: &mut Conn,
    mandate: MandateId,
) -> StoreResult<Option<Subscription>> {
    Ok(sqlx::query_as(
        "SELECT s.plan_key, p.name AS plan_name, s.status, p.max_members, s.started_at, \
         s.trial_ends_at, s.current_period_end FROM mandate_subscription s \
         JOIN plan p ON p.key = s.plan_key \
         WHERE s.mandate_id = $1 AND s.status IN ('trialing', 'active', 'past_due') \
         FOR UPDATE OF s",
    )
    .bind(mandate)
    .fetch_optional(conn)
    .await?)
}

/// Ends the live subscription (status `canceled`); returns whether there was one.
pub async fn cancel_live_subscription(conn: &mut Conn, mandate: MandateId) -> StoreResult<bool> {
    // The database's clock, as the new subscription's start (same transaction, same now()):
    // the old period ends exactly when the new one starts, whatever the client's clock says.
    let r = sqlx::query(
        "UPDATE mandate_subscription SET status = 'canceled', current_period_end = now(), \
         updated_at = now() \
         WHERE mandate_id = $1 AND status IN ('trialing', 'active', 'past_due')",
    )
    .bind(mandate)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// The mandate's plan key as the list filter sees it (kept by the migration 1100 trigger).
pub async fn listed_plan(db: &Db, mandate: MandateId) -> StoreResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT plan_key FROM mandate WHERE id = $1")
            .bind(mandate)
            .fetch_optional(db)
            .await?
            .flatten(),
    )
}
