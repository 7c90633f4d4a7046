//! The list shapes the benchmarks measure (and tests/it/demo.rs EXPLAINs), through the one query
//! builder. The Users list is the product's own (`Services::list_users`); the mandates and members
//! shapes mirror the console's columns (Mandates: name, label, enabled, plan, members, created;
//! Members: email, name, roles, enabled).
#![allow(dead_code)]

use hubdeck::domain::page::{ColumnKind, ColumnSpec, ListSpec, SortDir};
use hubdeck::domain::{Page, PageQuery};
use hubdeck::store::query::{ListSql, SqlColumn, fetch_page};
use sqlx::{PgPool, Postgres, QueryBuilder};

// ---------------------------------------------------------------------------------------------
// List shapes. The mandates and members lists go through the one query builder
// (`store::query::fetch_page`) with the shapes below, which mirror the console's columns.
// ---------------------------------------------------------------------------------------------

pub static MANDATES_SPEC: ListSpec = ListSpec {
    name: "mandates",
    columns: &[
        ColumnSpec::new("name", ColumnKind::Text),
        ColumnSpec::new("label", ColumnKind::Text),
        ColumnSpec::new("enabled", ColumnKind::Bool),
        ColumnSpec::new("plan", ColumnKind::Text),
        ColumnSpec::sort_only("created_at", ColumnKind::Timestamp),
    ],
    default_sort: &[("name", SortDir::Asc)],
};

pub static MANDATES_SQL: ListSql = ListSql {
    spec: &MANDATES_SPEC,
    // The plan is a correlated lookup rather than a join: it then runs for the 50 rows shown,
    // not for every matching row (measured: a LEFT JOIN cost ~40 ms of 100 ms at 15,000 hits).
    select: "m.id, m.name, m.label, m.enabled, (SELECT s.plan_key FROM mandate_subscription s \
             WHERE s.mandate_id = m.id AND s.status IN ('trialing', 'active', 'past_due')) AS plan, \
             (SELECT count(*) FROM user_mandate c WHERE c.mandate_id = m.id) AS members, m.created_at",
    from: "mandate m",
    base_where: "m.deleted_at IS NULL",
    columns: &[
        SqlColumn::new("name", "m.name"),
        SqlColumn::new("label", "m.label"),
        SqlColumn::new("enabled", "m.enabled"),
        SqlColumn::new(
            "plan",
            "(SELECT s.plan_key FROM mandate_subscription s WHERE s.mandate_id = m.id \
             AND s.status IN ('trialing', 'active', 'past_due'))",
        ),
        SqlColumn::new("created_at", "m.created_at"),
    ],
    search: &["m.name", "m.label"],
    tiebreak: "m.id",
};

#[derive(Debug, sqlx::FromRow)]
#[allow(dead_code)]
pub struct MandateRow {
    pub id: uuid::Uuid,
    pub name: String,
    pub label: Option<String>,
    pub enabled: bool,
    pub plan: Option<String>,
    pub members: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

pub static MEMBERS_SPEC: ListSpec = ListSpec {
    name: "members",
    columns: &[
        ColumnSpec::new("email", ColumnKind::Text),
        ColumnSpec::new("full_name", ColumnKind::Text),
        ColumnSpec::new("enabled", ColumnKind::Bool),
    ],
    default_sort: &[("email", SortDir::Asc)],
};

pub static MEMBERS_SQL: ListSql = ListSql {
    spec: &MEMBERS_SPEC,
    select: "um.id, d.email, d.username, p.name AS full_name, \
             ARRAY(SELECT DISTINCT r.label FROM user_mandate_role umr \
                   JOIN mandate_role r ON r.id = umr.mandate_role_id \
                   WHERE umr.user_mandate_id = um.id AND r.feature_instance_id IS NULL ORDER BY 1) AS roles, \
             um.enabled",
    from: "user_mandate um JOIN directory_user d ON d.sub = um.user_id \
           LEFT JOIN user_profile p ON p.user_id = um.user_id",
    base_where: "d.gone_at IS NULL",
    columns: &[
        SqlColumn::sorted_by("email", "d.email", "lower(d.email)"),
        SqlColumn::new("full_name", "p.name"),
        SqlColumn::new("enabled", "um.enabled"),
    ],
    search: &["d.email", "d.username", "p.name"],
    tiebreak: "um.id",
};

#[derive(Debug, sqlx::FromRow)]
#[allow(dead_code)]
pub struct MemberRow {
    pub id: uuid::Uuid,
    pub email: String,
    pub username: String,
    pub full_name: Option<String>,
    pub roles: Vec<String>,
    pub enabled: bool,
}

pub async fn members_page(
    pool: &PgPool,
    mandate: uuid::Uuid,
    q: &PageQuery,
) -> anyhow::Result<Page<MemberRow>> {
    let scope = move |qb: &mut QueryBuilder<Postgres>| {
        qb.push("um.mandate_id = ").push_bind(mandate);
    };
    Ok(fetch_page(pool, &MEMBERS_SQL, q, Some(&scope)).await?)
}
