//! The ONE list query builder: page, page size, search, filters, multi-column sort over
//! whitelisted columns, and the total — in a single statement. Every list (mandates, members,
//! users, trusts, audit, ...) describes itself as a [`ListSql`] and calls [`fetch_page`] /
//! [`filter_values`]. Column names are looked up in the whitelist; user text only ever travels
//! as bind parameters.

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{FromRow, Postgres, QueryBuilder, Row};

use super::{StoreError, StoreResult};
use crate::domain::page::TOTAL_CAP;
use crate::domain::page::{ColumnKind, ListSpec, PageQuery, SortDir, parse_bool};
use crate::domain::{Page, PageQueryError};

/// How one whitelisted column maps to SQL.
#[derive(Clone, Copy, Debug)]
pub struct SqlColumn {
    /// Must match a [`crate::domain::ColumnSpec::name`] of the list.
    pub name: &'static str,
    /// SQL expression, e.g. `m.name` or `lower(m.name)`.
    pub expr: &'static str,
    /// Expression used for ORDER BY (defaults to `expr` when None).
    pub sort_expr: Option<&'static str>,
    /// A btree index (matching the list's base condition) leads with `expr`: filter values are
    /// then read with a loose index scan (one index probe per distinct value) instead of a
    /// DISTINCT over every row.
    pub indexed: bool,
}

impl SqlColumn {
    pub const fn new(name: &'static str, expr: &'static str) -> Self {
        Self {
            name,
            expr,
            sort_expr: None,
            indexed: false,
        }
    }
    pub const fn sorted_by(
        name: &'static str,
        expr: &'static str,
        sort_expr: &'static str,
    ) -> Self {
        Self {
            name,
            expr,
            sort_expr: Some(sort_expr),
            indexed: false,
        }
    }
    /// Marks the column as leading a btree index (see [`SqlColumn::indexed`]).
    pub const fn indexed(mut self) -> Self {
        self.indexed = true;
        self
    }
}

/// A list's SQL shape.
#[derive(Clone, Copy, Debug)]
pub struct ListSql {
    pub spec: &'static ListSpec,
    /// The select list (without `SELECT`).
    pub select: &'static str,
    /// `FROM ...` including joins (without the word `FROM`).
    pub from: &'static str,
    /// Always-on condition, e.g. `m.deleted_at IS NULL` (may be empty).
    pub base_where: &'static str,
    pub columns: &'static [SqlColumn],
    /// Expressions the search text is matched against (ILIKE '%text%', trigram-indexed).
    pub search: &'static [&'static str],
    /// Unique tie-breaker appended to every ORDER BY, e.g. `m.id`.
    pub tiebreak: &'static str,
}

/// Extra, caller-supplied conditions (scoping such as `mandate_id = $n`), pushed with binds.
pub type Scope<'a> = &'a (dyn Fn(&mut QueryBuilder<Postgres>) + Sync);

impl ListSql {
    fn column(&self, name: &str) -> Result<&'static SqlColumn, PageQueryError> {
        self.columns.iter().find(|c| c.name == name).ok_or_else(|| {
            PageQueryError::UnknownFilterColumn {
                list: self.spec.name,
                column: crate::domain::DisplayText::new(name).into_string(),
                allowed: self
                    .columns
                    .iter()
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })
    }

    /// Pushes ` WHERE ...` for base, scope, search and filters (skipping `skip_filter`).
    pub(crate) fn push_where(
        &self,
        qb: &mut QueryBuilder<Postgres>,
        q: &PageQuery,
        scope: Option<Scope<'_>>,
        skip_filter: Option<&str>,
    ) -> Result<(), StoreError> {
        qb.push(" WHERE TRUE");
        if !self.base_where.is_empty() {
            qb.push(" AND (").push(self.base_where).push(")");
        }
        if let Some(scope) = scope {
            qb.push(" AND (");
            scope(qb);
            qb.push(")");
        }
        if let Some(text) = q.search_text()
            && !self.search.is_empty()
        {
            let pattern = format!("%{}%", escape_like(text));
            qb.push(" AND (");
            for (i, expr) in self.search.iter().enumerate() {
                if i > 0 {
                    qb.push(" OR ");
                }
                qb.push(*expr).push(" ILIKE ").push_bind(pattern.clone());
            }
            qb.push(")");
        }
        for f in &q.filters {
            if Some(f.column.as_str()) == skip_filter {
                continue;
            }
            let spec =
                self.spec
                    .column(&f.column)
                    .ok_or_else(|| PageQueryError::UnknownFilterColumn {
                        list: self.spec.name,
                        column: crate::domain::DisplayText::new(&f.column).into_string(),
                        allowed: String::new(),
                    })?;
            let col = self.column(&f.column)?;
            push_filter(qb, col.expr, spec.kind, &f.values);
        }
        Ok(())
    }
}

fn push_filter(qb: &mut QueryBuilder<Postgres>, expr: &str, kind: ColumnKind, values: &[String]) {
    qb.push(" AND ").push(expr);
    match kind {
        ColumnKind::Text => {
            qb.push(" = ANY(").push_bind(values.to_vec()).push(")");
        }
        ColumnKind::Bool => {
            let v: Vec<bool> = values.iter().filter_map(|v| parse_bool(v)).collect();
            qb.push(" = ANY(").push_bind(v).push(")");
        }
        ColumnKind::Uuid => {
            let v: Vec<uuid::Uuid> = values
                .iter()
                .filter_map(|v| uuid::Uuid::parse_str(v.trim()).ok())
                .collect();
            qb.push(" = ANY(").push_bind(v).push(")");
        }
        ColumnKind::Int => {
            let v: Vec<i64> = values
                .iter()
                .filter_map(|v| v.trim().parse().ok())
                .collect();
            qb.push(" = ANY(").push_bind(v).push(")");
        }
        ColumnKind::Timestamp => {
            let v: Vec<chrono::DateTime<chrono::Utc>> = values
                .iter()
                .filter_map(|v| chrono::DateTime::parse_from_rfc3339(v.trim()).ok())
                .map(|d| d.with_timezone(&chrono::Utc))
                .collect();
            qb.push(" = ANY(").push_bind(v).push(")");
        }
    }
}

/// Escapes `%`, `_` and `\` for a LIKE pattern.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Builds the page statement (exposed for EXPLAIN tests and benchmarks).
pub fn page_statement(
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
) -> StoreResult<QueryBuilder<Postgres>> {
    page_statement_with(list, q, scope, "SELECT ")
}

/// The plan PostgreSQL picks for the page statement (`EXPLAIN`, one line per row), with the
/// real bind values. For EXPLAIN tests proving index use.
pub async fn explain_page(
    pool: &PgPool,
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
) -> StoreResult<Vec<String>> {
    let mut qb = page_statement_with(list, q, scope, "EXPLAIN SELECT ")?;
    let lines: Vec<String> = qb.build_query_scalar().fetch_all(pool).await?;
    Ok(lines)
}

fn page_statement_with(
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
    head: &'static str,
) -> StoreResult<QueryBuilder<Postgres>> {
    q.validate(list.spec)?;
    // Shape: the page is a LIMIT/OFFSET subquery (so PostgreSQL can walk an index in sort order
    // and postpone expensive select expressions until after the limit), and the total is a
    // scalar subquery counting matching rows up to TOTAL_CAP + 1 — one statement, one round trip,
    // and never a full pass over a million rows just to print "of N".
    let mut qb = QueryBuilder::new(head);
    qb.push("hubdeck_page.*, (SELECT count(*) FROM (SELECT 1 FROM ")
        .push(list.from);
    list.push_where(&mut qb, q, scope, None)?;
    qb.push(" LIMIT ")
        .push_bind(i64::try_from(TOTAL_CAP + 1).unwrap_or(i64::MAX))
        .push(") hubdeck_counted) AS hubdeck_total FROM (SELECT ")
        .push(list.select)
        .push(" FROM ")
        .push(list.from);
    list.push_where(&mut qb, q, scope, None)?;
    qb.push(" ORDER BY ");
    let sort: Vec<(&str, SortDir)> = if q.sort.is_empty() {
        list.spec.default_sort.to_vec()
    } else {
        q.sort.iter().map(|s| (s.column.as_str(), s.dir)).collect()
    };
    // PostgreSQL's default null placement (ASC NULLS LAST, DESC NULLS FIRST) is what a plain
    // btree index yields scanned forwards or backwards, so a sort on an indexed column can be
    // an index scan; the tie-breaker follows the last key's direction for the same reason.
    let mut last = SortDir::Asc;
    for (column, dir) in sort {
        let col = list.column(column)?;
        qb.push(col.sort_expr.unwrap_or(col.expr));
        qb.push(match dir {
            SortDir::Asc => " ASC, ",
            SortDir::Desc => " DESC, ",
        });
        last = dir;
    }
    qb.push(list.tiebreak).push(match last {
        SortDir::Asc => " ASC",
        SortDir::Desc => " DESC",
    });
    qb.push(" LIMIT ").push_bind(i64::from(q.page_size));
    qb.push(" OFFSET ")
        .push_bind(i64::try_from(q.offset()).unwrap_or(i64::MAX));
    // A LIMIT subquery is never flattened; its scan order is the page order.
    qb.push(") hubdeck_page");
    Ok(qb)
}

/// Fetches one page and the total in ONE statement. The total is exact up to
/// [`TOTAL_CAP`]; above it the page reports `TOTAL_CAP + 1` ("more than 100,000", see
/// [`Page::total_is_capped`]). Only when the page is past the end (no rows, so no total) is a
/// second, capped count issued.
pub async fn fetch_page<T>(
    pool: &PgPool,
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
) -> StoreResult<Page<T>>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    let mut qb = page_statement(list, q, scope)?;
    let rows = qb.build().fetch_all(pool).await?;
    let mut total = 0u64;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        total = u64::try_from(row.try_get::<i64, _>("hubdeck_total")?).unwrap_or(0);
        items.push(T::from_row(row)?);
    }
    if rows.is_empty() && q.page > 1 {
        total = count(pool, list, q, scope).await?.min(TOTAL_CAP + 1);
    }
    Ok(Page {
        items,
        total,
        page: q.page,
        page_size: q.page_size,
    })
}

/// Number of rows matching the query (search, filters, scope).
pub async fn count(
    pool: &PgPool,
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
) -> StoreResult<u64> {
    q.validate(list.spec)?;
    let mut qb = QueryBuilder::new("SELECT count(*) FROM ");
    qb.push(list.from);
    list.push_where(&mut qb, q, scope, None)?;
    let n: i64 = qb.build_query_scalar().fetch_one(pool).await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Distinct values of `column` honouring the other active filters and the search, ignoring the
/// column's own filter. At most `limit` values, sorted.
pub async fn filter_values(
    pool: &PgPool,
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
    let others_active = q.search_text().is_some() || q.filters.iter().any(|f| f.column != column);
    if col.indexed && !others_active {
        // Loose index scan: each step asks the index for the next larger value.
        let mut qb = QueryBuilder::new("WITH RECURSIVE hubdeck_v(v) AS ((SELECT ");
        qb.push(col.expr).push(" FROM ").push(list.from);
        list.push_where(&mut qb, q, scope, Some(column))?;
        qb.push(" AND (")
            .push(col.expr)
            .push(") IS NOT NULL ORDER BY 1 LIMIT 1) UNION ALL SELECT (SELECT ");
        qb.push(col.expr).push(" FROM ").push(list.from);
        list.push_where(&mut qb, q, scope, Some(column))?;
        qb.push(" AND (").push(col.expr).push(
            ") > hubdeck_v.v ORDER BY 1 LIMIT 1) FROM hubdeck_v WHERE hubdeck_v.v IS NOT NULL) ",
        );
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

/// A half-open time range `[from, to)`; either end may be open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// Pushes the range condition on `expr` (always a valid boolean expression).
    /// Use it inside a [`Scope`] closure for time-range filters (audit, registrations, ...).
    pub fn push(&self, qb: &mut QueryBuilder<Postgres>, expr: &'static str) {
        qb.push("TRUE");
        if let Some(from) = self.from {
            qb.push(" AND ").push(expr).push(" >= ").push_bind(from);
        }
        if let Some(to) = self.to {
            qb.push(" AND ").push(expr).push(" < ").push_bind(to);
        }
    }
}
