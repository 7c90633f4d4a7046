//! Users: profiles (`user_profile`), the users audit trail (`users_audit`), the users list over
//! the directory cache (`directory_user`) joined with profiles and grants, and user detail.

use crate::store::{Conn, Db};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::StoreResult;
use super::query::{ListSql, SqlColumn, fetch_page};
use crate::domain::page::{ColumnKind, ColumnSpec, ListSpec, SortDir};
use crate::domain::{Page, PageQuery, UserSub};

// ---------------------------------------------------------------------------------------------
// Profiles
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Profile {
    pub user_id: UserSub,
    pub name: String,
    pub organisation: String,
}

pub async fn profile(conn: &mut Conn, sub: UserSub) -> StoreResult<Option<Profile>> {
    Ok(sqlx::query_as::<_, Profile>(
        "SELECT user_id, name, organisation FROM user_profile WHERE user_id = $1",
    )
    .bind(sub)
    .fetch_optional(conn)
    .await?)
}

/// Creates or overwrites the profile.
pub async fn upsert_profile(
    conn: &mut Conn,
    sub: UserSub,
    name: &str,
    organisation: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO user_profile (user_id, name, organisation) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET name = EXCLUDED.name, \
         organisation = EXCLUDED.organisation, updated_at = now()",
    )
    .bind(sub)
    .bind(name)
    .bind(organisation)
    .execute(conn)
    .await?;
    Ok(())
}

/// Creates the profile only if there is none; returns whether it was created.
pub async fn insert_profile_if_missing(
    conn: &mut Conn,
    sub: UserSub,
    name: &str,
    organisation: &str,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "INSERT INTO user_profile (user_id, name, organisation) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(sub)
    .bind(name)
    .bind(organisation)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete_profile(conn: &mut Conn, sub: UserSub) -> StoreResult<u64> {
    let r = sqlx::query("DELETE FROM user_profile WHERE user_id = $1")
        .bind(sub)
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}

// ---------------------------------------------------------------------------------------------
// Audit
// ---------------------------------------------------------------------------------------------

/// One `users_audit` row (always written in the transaction of the change it records).
#[derive(Clone, Debug)]
pub struct AuditEntry<'a> {
    pub action: &'a str,
    pub user_id: UserSub,
    pub who: super::audit::AuditActor<'a>,
    pub details: serde_json::Value,
}

pub async fn insert_audit(conn: &mut Conn, a: &AuditEntry<'_>) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO users_audit (action, user_id, modified_by_user_id, via, os_user, details) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(a.action)
    .bind(a.user_id)
    .bind(a.who.sub)
    .bind(a.who.via)
    .bind(a.who.os_user)
    .bind(&a.details)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct AuditRow {
    pub action: String,
    pub modified_by_user_id: Option<UserSub>,
    pub via: String,
    pub os_user: Option<String>,
    pub details: serde_json::Value,
    pub timestamp: DateTime<Utc>,
}

/// The user's audit history, newest first (index `users_audit_subject_idx`).
pub async fn audit_history(db: &Db, sub: UserSub, limit: i64) -> StoreResult<Vec<AuditRow>> {
    Ok(sqlx::query_as::<_, AuditRow>(
        "SELECT action, modified_by_user_id, via, os_user, details, \"timestamp\" FROM users_audit \
         WHERE user_id = $1 ORDER BY \"timestamp\" DESC, id LIMIT $2",
    )
    .bind(sub)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

// ---------------------------------------------------------------------------------------------
// Directory cache reads (writes: `store::directory_cache`)
// ---------------------------------------------------------------------------------------------

/// Records a successful sign-in on the cached row: the directory has just authenticated `sub`,
/// so the identity exists and is enabled — a stale disabled/gone mark is cleared (fresh
/// authority reads these marks; see `service::actor::fresh_authority`). No row: nothing.
pub async fn mark_authenticated(db: &Db, sub: UserSub) -> StoreResult<()> {
    sqlx::query(
        "UPDATE directory_user SET enabled = true, gone_at = NULL, updated_at = now() \
         WHERE sub = $1 AND (NOT enabled OR gone_at IS NOT NULL)",
    )
    .bind(sub)
    .execute(db)
    .await?;
    Ok(())
}

/// The cached sub of an email (for deleting an identity the directory no longer has).
pub async fn cached_sub_by_email(db: &Db, email: &str) -> StoreResult<Option<UserSub>> {
    Ok(sqlx::query_scalar(
        "SELECT sub FROM directory_user WHERE lower(email) = lower($1) \
         ORDER BY gone_at NULLS FIRST LIMIT 1",
    )
    .bind(email)
    .fetch_optional(db)
    .await?)
}

// ---------------------------------------------------------------------------------------------
// The users list
// ---------------------------------------------------------------------------------------------

pub static USERS_SPEC: ListSpec = ListSpec {
    name: "users",
    columns: &[
        ColumnSpec::new("email", ColumnKind::Text),
        ColumnSpec::new("name", ColumnKind::Text),
        ColumnSpec::new("organisation", ColumnKind::Text),
        ColumnSpec::new("status", ColumnKind::Text),
        ColumnSpec::new("enabled", ColumnKind::Bool),
        ColumnSpec::new("sub", ColumnKind::Uuid),
        ColumnSpec::filter_only("has_roles", ColumnKind::Bool),
        // Applied by `list_page` as a scope (a user holds several roles).
        ColumnSpec::filter_only("role", ColumnKind::Text),
        ColumnSpec::sort_only("synced_at", ColumnKind::Timestamp),
    ],
    default_sort: &[("email", SortDir::Asc)],
};

/// Roles are aggregated in the same statement (a correlated ARRAY over the unique
/// `user_role_grant_key` index); search runs in a scope (see [`list_page`]).
static USERS_SQL: ListSql = ListSql {
    spec: &USERS_SPEC,
    select: "d.sub, d.username, d.email, d.enabled, d.status, d.synced_at, p.name, \
             p.organisation, ARRAY(SELECT r.name FROM user_role ur JOIN roles r ON r.id = ur.role_id \
             WHERE ur.user_id = d.sub ORDER BY r.name) AS roles, \
             COALESCE((SELECT uv.version FROM user_version uv WHERE uv.user_id = d.sub), 0) \
             AS version",
    from: "directory_user d LEFT JOIN user_profile p ON p.user_id = d.sub",
    base_where: "d.gone_at IS NULL",
    columns: &[
        SqlColumn::sorted_by("email", "d.email", "lower(d.email)"),
        // Sorted on the profile fields kept on the directory row (0910): an index walk on
        // `directory_user`, not a sort of every user joined to its profile.
        SqlColumn::sorted_by("name", "p.name", "lower(d.profile_name)"),
        SqlColumn::sorted_by(
            "organisation",
            "p.organisation",
            "lower(d.profile_organisation)",
        ),
        SqlColumn::new("status", "d.status"),
        SqlColumn::new("enabled", "d.enabled"),
        SqlColumn::new("sub", "d.sub"),
        SqlColumn::new(
            "has_roles",
            "EXISTS (SELECT 1 FROM user_role hr WHERE hr.user_id = d.sub)",
        ),
        SqlColumn::new("role", "NULL"),
        SqlColumn::new("synced_at", "d.synced_at"),
    ],
    search: &[],
    search_with: Some(push_search),
    tiebreak: "d.sub",
    tiebreak_type: "uuid",
};

#[derive(Clone, Debug, PartialEq, Serialize, sqlx::FromRow)]
pub struct UserRow {
    pub sub: UserSub,
    pub username: String,
    pub email: String,
    pub enabled: bool,
    pub status: String,
    pub synced_at: DateTime<Utc>,
    pub name: Option<String>,
    pub organisation: Option<String>,
    /// Role names (`roles.name`), sorted.
    pub roles: Vec<String>,
    /// The user's version (migration 1410; 0 before the first change): what a form or
    /// confirmation opened on this row carries.
    #[sqlx(default)]
    pub version: i64,
}

/// One page of users in ONE statement. The search text (email, username, name, organisation,
/// an id prefix) is matched on the directory row's own trigram indexes; role filters become an
/// EXISTS over `user_role`.
pub async fn list_page(db: &Db, q: &PageQuery, role_ids: &[Uuid]) -> StoreResult<Page<UserRow>> {
    let (q, scope) = users_scope(q, role_ids)?;
    fetch_page(db, &USERS_SQL, &q, Some(&scope)).await
}

/// Distinct values of one filterable column under the other active filters and the search.
pub async fn filter_values(
    db: &Db,
    column: &str,
    q: &PageQuery,
    role_ids: &[Uuid],
    limit: u32,
) -> StoreResult<Vec<String>> {
    let (q, scope) = users_scope(q, role_ids)?;
    super::query::filter_values(db, &USERS_SQL, column, &q, Some(&scope), limit).await
}

/// The page statement's SQL text (same builder as [`list_page`]), for EXPLAIN tests.
/// Binds, in order: the search pattern four times (five when the term looks like an id prefix), the role ids (when
/// filtering by role), then the other filters, LIMIT and OFFSET.
/// EXPLAIN of the users page statement with its real binds (for index-use tests).
pub async fn explain_page(db: &Db, q: &PageQuery, role_ids: &[Uuid]) -> StoreResult<Vec<String>> {
    let (q, scope) = users_scope(q, role_ids)?;
    super::query::explain_page(db, &USERS_SQL, &q, Some(&scope)).await
}

pub fn list_page_sql(q: &PageQuery, role_ids: &[Uuid]) -> StoreResult<String> {
    let (q, scope) = users_scope(q, role_ids)?;
    let qb = super::query::page_statement(
        &USERS_SQL,
        &q,
        Some(&scope),
        super::query::Plan::Materialize,
    )?;
    Ok(qb.sql().as_str().to_string())
}

type ScopeFn = Box<dyn Fn(&mut QueryBuilder<Postgres>) + Send + Sync>;

fn users_scope(q: &PageQuery, role_ids: &[Uuid]) -> StoreResult<(PageQuery, ScopeFn)> {
    q.validate(&USERS_SPEC)?;
    let mut q = q.clone();
    q.filters.retain(|f| f.column != "role");
    let roles = role_ids.to_vec();
    let scope = move |qb: &mut QueryBuilder<Postgres>| {
        qb.push("TRUE");
        if !roles.is_empty() {
            qb.push(
                " AND EXISTS (SELECT 1 FROM user_role fr WHERE fr.user_id = d.sub \
                 AND fr.role_id = ANY(",
            )
            .push_bind(roles.clone())
            .push("))");
        }
    };
    Ok((q, Box::new(scope)))
}

/// The search over email, username, name and organisation; the sub is matched only when the
/// term looks like the start of an id (see [`sub_prefix`]) — and then as a prefix, so a word
/// such as "cafe" never finds users whose id happens to contain it.
fn push_search(qb: &mut QueryBuilder<Postgres>, pattern: &str) {
    // One table (migration 1300): the profile's fields are kept on the directory row, so the
    // matches come from one BitmapOr over `directory_user`'s trigram indexes and carry their
    // sort keys — no union, no join back for the key.
    qb.push(" AND (");
    for (i, column) in SEARCHED.iter().enumerate() {
        if i > 0 {
            qb.push(" OR ");
        }
        qb.push(*column)
            .push(" ILIKE ")
            .push_bind(pattern.to_string());
    }
    if let Some(prefix) = sub_prefix(pattern) {
        qb.push(" OR (d.sub::text) LIKE ")
            .push_bind(format!("{prefix}%"));
    }
    qb.push(")");
}

/// What the users search matches (each has a trigram index on `directory_user`).
const SEARCHED: [&str; 4] = [
    "d.email",
    "d.username",
    "d.profile_name",
    "d.profile_organisation",
];

/// Fewest characters of an id prefix the search matches against subs.
pub const SUB_PREFIX_MIN: usize = 8;

/// The lower-cased id prefix when the search term (the builder's `%term%`, LIKE-escaped) is
/// only hex digits and dashes, at least [`SUB_PREFIX_MIN`] long and holding a digit or a
/// dash — `deadbeef-12`, `5f0c9a1e`; never a word such as `cafe` or `facade`.
pub fn sub_prefix(pattern: &str) -> Option<String> {
    let term = pattern.strip_prefix('%')?.strip_suffix('%')?.trim();
    let looks_like_id = term.len() >= SUB_PREFIX_MIN
        && term.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        && term.chars().any(|c| c.is_ascii_digit() || c == '-');
    looks_like_id.then(|| term.to_ascii_lowercase())
}

#[cfg(test)]
mod search_tests {
    use super::sub_prefix;

    #[test]
    fn only_id_like_terms_match_subs() {
        assert_eq!(sub_prefix("%5F0C9A1E%").as_deref(), Some("5f0c9a1e"));
        assert_eq!(sub_prefix("%deadbeef-12%").as_deref(), Some("deadbeef-12"));
        for word in [
            "%cafe%",
            "%facade%",
            "%5f0c9a1%",
            "%acceded%",
            "%bob@x%",
            "%dead\\_beef1%",
        ] {
            assert_eq!(sub_prefix(word), None, "{word}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Detail
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct MandateMembership {
    pub mandate_id: crate::domain::MandateId,
    pub mandate_name: String,
    pub enabled: bool,
    pub roles: Vec<String>,
}

/// The user's mandate memberships with their role labels (one statement).
pub async fn mandates_of(db: &Db, sub: UserSub) -> StoreResult<Vec<MandateMembership>> {
    Ok(sqlx::query_as::<_, MandateMembership>(
        "SELECT m.id AS mandate_id, m.name AS mandate_name, um.enabled, \
         ARRAY(SELECT mr.label FROM user_mandate_role umr JOIN mandate_role mr \
               ON mr.id = umr.mandate_role_id WHERE umr.user_mandate_id = um.id ORDER BY mr.label) AS roles \
         FROM user_mandate um JOIN mandate m ON m.id = um.mandate_id \
         WHERE um.user_id = $1 AND m.deleted_at IS NULL ORDER BY m.name, m.id",
    )
    .bind(sub)
    .fetch_all(db)
    .await?)
}

/// Role names granted to the user.
pub async fn role_names(db: &Db, sub: UserSub) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT r.name FROM user_role ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.user_id = $1 ORDER BY r.name",
    )
    .bind(sub)
    .fetch_all(db)
    .await?)
}

/// The cached row of one user (even when marked gone).
pub async fn cached(db: &Db, sub: UserSub) -> StoreResult<Option<UserRow>> {
    Ok(sqlx::query_as::<_, UserRow>(
        "SELECT d.sub, d.username, d.email, d.enabled, d.status, d.synced_at, p.name, \
         p.organisation, ARRAY(SELECT r.name FROM user_role ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.user_id = d.sub ORDER BY r.name) AS roles \
         FROM directory_user d LEFT JOIN user_profile p ON p.user_id = d.sub WHERE d.sub = $1",
    )
    .bind(sub)
    .fetch_optional(db)
    .await?)
}
