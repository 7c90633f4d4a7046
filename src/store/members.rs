//! Members of a mandate: the paged list (ONE statement per page: directory cache, profile and
//! de-duplicated role labels joined in SQL), and the membership writes with the locks that keep
//! the last-admin invariant and the plan capacity under concurrency.

use crate::store::{Conn, Db};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::StoreResult;
use super::mandates::HOLDS_ADMIN_ROLE;
use super::query::{ListSql, SqlColumn, fetch_page};
use crate::domain::page::{ColumnKind, ColumnSpec, ListSpec, SortDir};
use crate::domain::{MandateId, MandateRoleId, MembershipId, Page, PageQuery, UserSub};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Member {
    pub membership_id: MembershipId,
    pub user_id: UserSub,
    pub mandate_id: MandateId,
    /// From the directory cache (None when the identity is not cached yet).
    pub username: Option<String>,
    pub email: Option<String>,
    pub full_name: Option<String>,
    /// Mandate-level roles only (feature-instance roles excluded).
    pub role_ids: Vec<Uuid>,
    /// De-duplicated, sorted.
    pub role_labels: Vec<String>,
    pub is_admin: bool,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    /// The membership's version (migration 1410): what a confirmation opened on it carries.
    #[sqlx(default)]
    pub version: i64,
}

pub static MEMBERS_SPEC: ListSpec = ListSpec {
    name: "members",
    columns: &[
        ColumnSpec::sort_only("username", ColumnKind::Text),
        ColumnSpec::sort_only("email", ColumnKind::Text),
        ColumnSpec::sort_only("full_name", ColumnKind::Text),
        ColumnSpec::sort_only("roles", ColumnKind::Text),
        ColumnSpec::new("enabled", ColumnKind::Bool),
        ColumnSpec::new("admin", ColumnKind::Bool),
        ColumnSpec::new("status", ColumnKind::Text),
        ColumnSpec::sort_only("created_at", ColumnKind::Timestamp),
    ],
    default_sort: &[("created_at", SortDir::Asc)],
};

/// The membership `um`'s mandate-level roles (feature-instance roles excluded).
macro_rules! roles_of_um {
    () => {
        "FROM user_mandate_role umr JOIN mandate_role r ON r.id = umr.mandate_role_id \
         WHERE umr.user_mandate_id = um.id AND r.feature_instance_id IS NULL"
    };
}

/// The members page: one statement. Role ids and labels (de-duplicated) are correlated
/// subqueries in the select list (the admin flag is the membership's own column), which
/// PostgreSQL evaluates only for the rows of the page (after sort and limit) — not for every member of a 100,000-member mandate. Search
/// and sort over labels use `user_mandate.role_labels`, kept current by triggers (0410); the
/// other sort keys and the search text are membership columns too (0900).
pub static MEMBERS: ListSql = ListSql {
    spec: &MEMBERS_SPEC,
    select: concat!(
        "um.id AS membership_id, um.user_id, um.mandate_id, du.username, du.email, \
         up.name AS full_name, \
         COALESCE((SELECT array_agg(DISTINCT r.id) ",
        roles_of_um!(),
        "), '{}') AS role_ids, COALESCE((SELECT array_agg(DISTINCT r.label ORDER BY r.label) ",
        roles_of_um!(),
        "), '{}') AS role_labels, ",
        // The admin flag as 0910's refresh keeps it (the same rule over the same roles, in the
        // transaction that changes them): one correlated subquery fewer per row.
        "um.member_admin AS is_admin, um.enabled, um.created_at, um.version"
    ),
    from: "user_mandate um \
           LEFT JOIN directory_user du ON du.sub = um.user_id \
           LEFT JOIN user_profile up ON up.user_id = um.user_id",
    base_where: "",
    columns: &[
        // Sort keys and the search text live on the membership (migration 0900), indexed as
        // (mandate_id, lower(key), id): a page is an index walk inside the mandate.
        SqlColumn::sorted_by(
            "username",
            "um.member_username",
            "lower(um.member_username)",
        ),
        SqlColumn::sorted_by("email", "um.member_email", "lower(um.member_email)"),
        SqlColumn::sorted_by("full_name", "um.member_name", "lower(um.member_name)"),
        SqlColumn::new("roles", "um.role_labels"),
        SqlColumn::new("enabled", "um.enabled"),
        // The admin flag kept by 0910 next to the labels (the same rule as `is_admin`).
        SqlColumn::new("admin", "um.member_admin"),
        SqlColumn::new("status", "du.status"),
        SqlColumn::new("created_at", "um.created_at"),
    ],
    search: &["um.member_search"],
    search_with: None,
    tiebreak: "um.id",
    tiebreak_type: "uuid",
};

fn mandate_scope(mandate: MandateId) -> impl Fn(&mut QueryBuilder<Postgres>) + Sync {
    move |qb: &mut QueryBuilder<Postgres>| {
        qb.push("um.mandate_id = ").push_bind(mandate);
    }
}

/// One page of a mandate's members — exactly one statement whatever the page size.
pub async fn list(db: &Db, mandate: MandateId, q: &PageQuery) -> StoreResult<Page<Member>> {
    let scope = mandate_scope(mandate);
    fetch_page(db, &MEMBERS, q, Some(&scope)).await
}

/// EXPLAIN of the members page statement (for index-use tests).
pub async fn explain_page(db: &Db, mandate: MandateId, q: &PageQuery) -> StoreResult<Vec<String>> {
    let scope = mandate_scope(mandate);
    super::query::explain_page(db, &MEMBERS, q, Some(&scope)).await
}

pub async fn filter_values(
    db: &Db,
    mandate: MandateId,
    column: &str,
    q: &PageQuery,
    limit: u32,
) -> StoreResult<Vec<String>> {
    let scope = mandate_scope(mandate);
    super::query::filter_values(db, &MEMBERS, column, q, Some(&scope), limit).await
}

/// One membership (no lock).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Membership {
    pub id: MembershipId,
    pub user_id: UserSub,
    pub mandate_id: MandateId,
    pub enabled: bool,
    /// Moved on by every change of the membership or its roles (migration 1410).
    #[sqlx(default)]
    pub version: i64,
}

/// SQL condition: the member `um` is not a disabled or deleted user. The last-admin invariant
/// counts only admins who can still act: a disabled user's admin membership is no admin.
const ACTIVE_MEMBER: &str = super::grants::active_identity!("um.user_id");

/// Locks the mandate's enabled admin memberships of active users in id order (after the
/// mandate row lock), so concurrent demotions/removals/disables of admins queue behind each
/// other.
pub async fn lock_admins(conn: &mut Conn, mandate: MandateId) -> StoreResult<Vec<MembershipId>> {
    let q = format!(
        "SELECT um.id FROM user_mandate um WHERE um.mandate_id = $1 AND um.enabled \
         AND {HOLDS_ADMIN_ROLE} AND {ACTIVE_MEMBER} ORDER BY um.id FOR UPDATE OF um"
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(q))
        .bind(mandate)
        .fetch_all(conn)
        .await?)
}

/// Number of enabled admins (active users) of the mandate (inside the caller's transaction).
pub async fn count_admins(conn: &mut Conn, mandate: MandateId) -> StoreResult<i64> {
    let q = format!(
        "SELECT count(*) FROM user_mandate um WHERE um.mandate_id = $1 AND um.enabled \
         AND {HOLDS_ADMIN_ROLE} AND {ACTIVE_MEMBER}"
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(q))
        .bind(mandate)
        .fetch_one(conn)
        .await?)
}

pub async fn find(
    conn: &mut Conn,
    mandate: MandateId,
    user: UserSub,
) -> StoreResult<Option<Membership>> {
    Ok(sqlx::query_as(
        "SELECT id, user_id, mandate_id, enabled, version FROM user_mandate \
         WHERE mandate_id = $1 AND user_id = $2 FOR UPDATE",
    )
    .bind(mandate)
    .bind(user)
    .fetch_optional(conn)
    .await?)
}

pub async fn count_members(conn: &mut Conn, mandate: MandateId) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM user_mandate WHERE mandate_id = $1")
            .bind(mandate)
            .fetch_one(conn)
            .await?,
    )
}

/// max_members of the mandate's live plan (None when it has no live subscription).
pub async fn capacity(conn: &mut Conn, mandate: MandateId) -> StoreResult<Option<(String, i32)>> {
    Ok(sqlx::query_as(
        "SELECT p.key, p.max_members FROM mandate_subscription s JOIN plan p ON p.key = s.plan_key \
         WHERE s.mandate_id = $1 AND s.status IN ('trialing', 'active', 'past_due')",
    )
    .bind(mandate)
    .fetch_optional(conn)
    .await?)
}

/// A mandate role as the member forms need it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct MandateRole {
    pub id: MandateRoleId,
    pub label: String,
    pub description: Option<String>,
    pub mandate_id: Option<MandateId>,
    pub feature_instance_id: Option<Uuid>,
}

/// The roles assignable in `mandate`: global templates and the mandate's own, without
/// feature-instance roles.
pub async fn assignable_roles(db: &Db, mandate: MandateId) -> StoreResult<Vec<MandateRole>> {
    Ok(sqlx::query_as(
        "SELECT id, label, description, mandate_id, feature_instance_id FROM mandate_role \
         WHERE (mandate_id IS NULL OR mandate_id = $1) AND feature_instance_id IS NULL \
         ORDER BY mandate_id NULLS FIRST, label, id",
    )
    .bind(mandate)
    .fetch_all(db)
    .await?)
}

/// The subset of `roles` that may be assigned in `mandate` (exist, global or this mandate's,
/// no feature instance).
pub async fn valid_roles(
    conn: &mut Conn,
    mandate: MandateId,
    roles: &[MandateRoleId],
) -> StoreResult<Vec<MandateRoleId>> {
    let ids: Vec<Uuid> = roles.iter().map(|r| r.0).collect();
    Ok(sqlx::query_scalar(
        "SELECT id FROM mandate_role WHERE id = ANY($2) \
         AND (mandate_id IS NULL OR mandate_id = $1) AND feature_instance_id IS NULL",
    )
    .bind(mandate)
    .bind(ids)
    .fetch_all(conn)
    .await?)
}

pub async fn insert(
    conn: &mut Conn,
    mandate: MandateId,
    user: UserSub,
    enabled: bool,
) -> StoreResult<MembershipId> {
    Ok(sqlx::query_scalar(
        "INSERT INTO user_mandate (user_id, mandate_id, enabled) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(user)
    .bind(mandate)
    .bind(enabled)
    .fetch_one(conn)
    .await?)
}

/// Replaces the membership's mandate-level roles (feature-instance roles are left alone).
pub async fn replace_roles(
    conn: &mut Conn,
    membership: MembershipId,
    roles: &[MandateRoleId],
) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM user_mandate_role umr USING mandate_role r \
         WHERE umr.user_mandate_id = $1 AND r.id = umr.mandate_role_id \
         AND r.feature_instance_id IS NULL",
    )
    .bind(membership)
    .execute(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = roles.iter().map(|r| r.0).collect();
    sqlx::query(
        "INSERT INTO user_mandate_role (user_mandate_id, mandate_role_id) \
         SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING",
    )
    .bind(membership)
    .bind(ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut Conn, membership: MembershipId) -> StoreResult<()> {
    sqlx::query("DELETE FROM user_mandate WHERE id = $1")
        .bind(membership)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_enabled(
    conn: &mut Conn,
    membership: MembershipId,
    enabled: bool,
) -> StoreResult<()> {
    sqlx::query("UPDATE user_mandate SET enabled = $2, updated_at = now() WHERE id = $1")
        .bind(membership)
        .bind(enabled)
        .execute(conn)
        .await?;
    Ok(())
}

/// Role ids (mandate-level) a membership holds, sorted.
pub async fn role_ids(conn: &mut Conn, membership: MembershipId) -> StoreResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "SELECT umr.mandate_role_id FROM user_mandate_role umr \
         JOIN mandate_role r ON r.id = umr.mandate_role_id \
         WHERE umr.user_mandate_id = $1 AND r.feature_instance_id IS NULL ORDER BY 1",
    )
    .bind(membership)
    .fetch_all(conn)
    .await?)
}

/// Whether `roles` include a mandate admin role for `mandate`.
pub async fn grants_admin(
    conn: &mut Conn,
    mandate: MandateId,
    roles: &[MandateRoleId],
) -> StoreResult<bool> {
    let ids: Vec<Uuid> = roles.iter().map(|r| r.0).collect();
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM mandate_role r WHERE r.id = ANY($2) AND r.label = 'admin' \
         AND r.feature_instance_id IS NULL AND (r.mandate_id IS NULL OR r.mandate_id = $1))",
    )
    .bind(mandate)
    .bind(ids)
    .fetch_one(conn)
    .await?)
}

/// Is `sub` an admin of `mandate`, as seen inside the caller's transaction?
pub async fn is_admin(conn: &mut Conn, mandate: MandateId, sub: UserSub) -> StoreResult<bool> {
    let q = format!(
        "SELECT EXISTS (SELECT 1 FROM user_mandate um WHERE um.user_id = $1 \
         AND um.mandate_id = $2 AND um.enabled AND {HOLDS_ADMIN_ROLE})"
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(q))
        .bind(sub)
        .bind(mandate)
        .fetch_one(conn)
        .await?)
}

/// Locks every mandate `user` is a member of (live or soft-deleted) in id order and returns
/// them: the first locks of a user disable or delete, taken in the same order as every
/// membership change (mandate row, then its admin memberships).
pub async fn lock_mandates_of_user(
    conn: &mut Conn,
    user: UserSub,
) -> StoreResult<Vec<super::mandates::Mandate>> {
    Ok(sqlx::query_as(
        "SELECT m.id, m.name, m.label, m.enabled, m.deleted_at, m.created_at, m.updated_at, m.version \
         FROM mandate m WHERE m.id IN (SELECT um.mandate_id FROM user_mandate um \
         WHERE um.user_id = $1) ORDER BY m.id FOR UPDATE OF m",
    )
    .bind(user)
    .fetch_all(conn)
    .await?)
}

/// One membership of a user with its mandate-level roles.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct UserMembership {
    pub id: MembershipId,
    pub mandate_id: MandateId,
    pub enabled: bool,
    pub role_ids: Vec<Uuid>,
}

/// The user's memberships (ordered by mandate id), locked.
pub async fn memberships_of_user(
    conn: &mut Conn,
    user: UserSub,
) -> StoreResult<Vec<UserMembership>> {
    Ok(sqlx::query_as(concat!(
        "SELECT um.id, um.mandate_id, um.enabled, \
         COALESCE((SELECT array_agg(DISTINCT r.id ORDER BY r.id) ",
        roles_of_um!(),
        "), '{}') AS role_ids FROM user_mandate um WHERE um.user_id = $1 \
         ORDER BY um.mandate_id FOR UPDATE OF um"
    ))
    .bind(user)
    .fetch_all(conn)
    .await?)
}

/// The mandate-level roles (no feature instance) `user` holds in `mandate` — whatever mandate
/// they belong to, so a form can show every role it would otherwise drop. Empty when `user` is
/// not a member.
pub async fn held_roles(
    db: &Db,
    mandate: MandateId,
    user: UserSub,
) -> StoreResult<Vec<MandateRole>> {
    Ok(sqlx::query_as(
        "SELECT r.id, r.label, r.description, r.mandate_id, r.feature_instance_id \
         FROM user_mandate um JOIN user_mandate_role umr ON umr.user_mandate_id = um.id \
         JOIN mandate_role r ON r.id = umr.mandate_role_id \
         WHERE um.mandate_id = $1 AND um.user_id = $2 AND r.feature_instance_id IS NULL \
         ORDER BY r.mandate_id NULLS FIRST, r.label, r.id",
    )
    .bind(mandate)
    .bind(user)
    .fetch_all(db)
    .await?)
}
