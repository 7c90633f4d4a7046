//! The values a filter picker offers for one column, under the other filters and the search.

use crate::store::Db;
use sqlx::{Postgres, QueryBuilder};

use super::{ListSql, PROBE_ROWS, Scope, SqlColumn};
use crate::domain::PageQueryError;
use crate::domain::page::PageQuery;
use crate::store::StoreResult;
use crate::store::estimates;

/// Distinct values of `column` honouring the other active filters and the search, ignoring the
/// column's own filter. At most `limit` values, sorted.
pub async fn filter_values(
    pool: &Db,
    list: &ListSql,
    column: &str,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
    limit: u32,
) -> StoreResult<Vec<String>> {
    q.validate(list.spec)?;
    match list.spec.column(column) {
        Some(c) if c.filterable => {}
        _ => {
            return Err(PageQueryError::UnknownFilterColumn {
                list: list.spec.name,
                column: crate::domain::DisplayText::new(column).into_string(),
                allowed: list
                    .spec
                    .columns
                    .iter()
                    .filter(|c| c.filterable)
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            }
            .into());
        }
    }
    let col = list.column(column)?;
    if col.indexed && list.has_search(q) && few_values(pool, list, col, q, scope).await? {
        return searched_values(pool, list, col, q, scope, limit).await;
    }
    let others_active = q.search_text().is_some() || q.filters.iter().any(|f| f.column != column);
    if col.indexed && !others_active {
        let mut qb = QueryBuilder::new("");
        push_distinct_values(&mut qb, list, col, q, scope)?;
        qb.push("SELECT v::text FROM hubdeck_v WHERE v IS NOT NULL LIMIT ")
            .push_bind(i64::from(limit));
        let values: Vec<String> = qb.build_query_scalar().fetch_all(pool).await?;
        return Ok(values);
    }
    let mut qb = QueryBuilder::new("SELECT DISTINCT (");
    qb.push(col.expr).push(")::text AS v FROM ").push(list.from);
    list.push_where(&mut qb, q, scope, Some(column))?;
    qb.push(" AND (")
        .push(col.expr)
        .push(") IS NOT NULL ORDER BY 1 LIMIT ")
        .push_bind(i64::from(limit));
    let values: Vec<String> = qb.build_query_scalar().fetch_all(pool).await?;
    Ok(values)
}

/// Pushes `WITH RECURSIVE hubdeck_v(v) AS (...) `: the distinct non-null values of `col` under
/// the query's other filters (its own filter and the search left out), ascending, by a loose
/// index scan — each step asks the index for the next larger value.
fn push_distinct_values(
    qb: &mut QueryBuilder<Postgres>,
    list: &ListSql,
    col: &SqlColumn,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
) -> StoreResult<()> {
    qb.push("WITH RECURSIVE hubdeck_v(v) AS ((SELECT ")
        .push(col.expr);
    qb.push(" FROM ").push(list.from);
    list.push_where_with(qb, q, scope, Some(col.name), false)?;
    qb.push(" AND (")
        .push(col.expr)
        .push(") IS NOT NULL ORDER BY 1 LIMIT 1) UNION ALL SELECT (SELECT ")
        .push(col.expr);
    qb.push(" FROM ").push(list.from);
    list.push_where_with(qb, q, scope, Some(col.name), false)?;
    qb.push(" AND (")
        .push(col.expr)
        .push(") > hubdeck_v.v ORDER BY 1 LIMIT 1) FROM hubdeck_v WHERE hubdeck_v.v IS NOT NULL) ");
    Ok(())
}

/// Below this many distinct values (the planner's estimate) a searched column's values are
/// read value by value ([`searched_values`]); above it, from the matches.
const FEW_VALUES: f64 = 1_000.0;

/// Whether `col` has few distinct values under the query's other filters (planner's estimate).
async fn few_values(
    pool: &Db,
    list: &ListSql,
    col: &SqlColumn,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
) -> StoreResult<bool> {
    let mut qb = QueryBuilder::new("EXPLAIN (FORMAT JSON) SELECT DISTINCT (");
    qb.push(col.expr).push(") FROM ").push(list.from);
    list.push_where_with(&mut qb, q, scope, Some(col.name), false)?;
    Ok(estimates::plan_rows(pool, qb).await? <= FEW_VALUES)
}

/// The values of an indexed column with few values that have a row matching the search: the
/// values come from a loose index scan (one index probe per distinct value, the search left
/// out), and each is kept if a walk of at most [`PROBE_ROWS`] of its rows finds a match — or,
/// when that walk found none, if the matches hold one (the planner's choice for that value
/// alone). A broad search never has its matches collected (at 1,000,000 mandates `leeds`
/// matches on nearly every heap page), a narrow one only for the values whose walk ran dry.
async fn searched_values(
    pool: &Db,
    list: &ListSql,
    col: &SqlColumn,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
    limit: u32,
) -> StoreResult<Vec<String>> {
    let unsearched = |qb: &mut QueryBuilder<Postgres>| -> StoreResult<()> {
        qb.push(" FROM ").push(list.from);
        list.push_where_with(qb, q, scope, Some(col.name), false)
    };
    let mut qb = QueryBuilder::new("");
    push_distinct_values(&mut qb, list, col, q, scope)?;
    // Per value: its rows in index order, numbered, kept when they match or at the bound.
    qb.push(
        "SELECT hubdeck_v.v::text FROM hubdeck_v LEFT JOIN LATERAL (SELECT hubdeck_hit, hubdeck_n \
         FROM (SELECT hubdeck_x.hubdeck_hit, row_number() OVER () AS hubdeck_n FROM \
         (SELECT COALESCE((TRUE",
    );
    list.push_search(&mut qb, q);
    qb.push("), FALSE) AS hubdeck_hit");
    unsearched(&mut qb)?;
    qb.push(" AND (")
        .push(col.expr)
        .push(") = hubdeck_v.v LIMIT ");
    qb.push_bind(PROBE_ROWS)
        .push(") hubdeck_x) hubdeck_y WHERE hubdeck_hit OR hubdeck_n = ")
        .push_bind(PROBE_ROWS)
        .push(" LIMIT 1) hubdeck_p ON TRUE WHERE hubdeck_v.v IS NOT NULL AND (hubdeck_p.hubdeck_hit OR (hubdeck_p.hubdeck_n = ")
        .push_bind(PROBE_ROWS)
        .push(" AND EXISTS (SELECT 1 FROM ")
        .push(list.from);
    list.push_where(&mut qb, q, scope, Some(col.name))?;
    qb.push(" AND (")
        .push(col.expr)
        .push(") = hubdeck_v.v))) LIMIT ")
        .push_bind(i64::from(limit));
    Ok(qb.build_query_scalar().fetch_all(pool).await?)
}
