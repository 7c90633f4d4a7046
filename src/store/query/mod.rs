//! The ONE list query builder: page, page size, search, filters, multi-column sort over
//! whitelisted columns; keyset paging (next/previous/last by cursor, OFFSET only for a jump to
//! page N); the count as a separate request (exact, capped, or the planner's estimate). Every list (mandates, members,
//! users, trusts, audit, ...) describes itself as a [`ListSql`] and calls [`fetch_page`] /
//! [`filter_values`]. Column names are looked up in the whitelist; user text only ever travels
//! as bind parameters.

//!
//! The folder, in the order a page is made: this file holds a list's description ([`ListSql`])
//! and the WHERE/ORDER BY pieces every statement shares; [`plan`] decides how the rows are
//! found from the planner's estimates; [`statement`] writes the page statement of each plan;
//! [`paging`] runs it (handing a bounded walk that gave up to the next plan) and turns rows
//! into a [`Page`](crate::domain::Page); [`values`] answers the filter pickers.

mod paging;
mod plan;
mod statement;
mod values;

pub use paging::{count, count_capped, explain_page, fetch_page};
pub use plan::{PROBE_ROWS, Plan, choose_plan, estimate};
pub use statement::page_statement;
pub use values::filter_values;

use sqlx::{Postgres, QueryBuilder};

use super::StoreError;
use crate::domain::PageQueryError;
use crate::domain::page::{ColumnKind, ListSpec, PageQuery, SortDir, parse_bool};

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
    /// A list whose search is not a plain OR over `search` pushes it itself (` AND ...` with the
    /// escaped `%pattern%`), e.g. users: one subquery per table so each trigram index serves.
    pub search_with: Option<fn(&mut QueryBuilder<Postgres>, &str)>,
    /// Unique, NOT NULL tie-breaker appended to every ORDER BY, e.g. `m.id`; the page is joined
    /// back to `from` on it.
    pub tiebreak: &'static str,
    /// SQL type of the tie-breaker (cursor values are cast back to it).
    pub tiebreak_type: &'static str,
}

/// Extra, caller-supplied conditions (scoping such as `mandate_id = $n`), pushed with binds.
pub type Scope<'a> = &'a (dyn Fn(&mut QueryBuilder<Postgres>) + Sync);

impl ListSql {
    pub(super) fn column(&self, name: &str) -> Result<&'static SqlColumn, PageQueryError> {
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

    pub(super) fn has_search(&self, q: &PageQuery) -> bool {
        q.search_text().is_some() && (!self.search.is_empty() || self.search_with.is_some())
    }

    /// Pushes ` WHERE ...` for base, scope, search and filters (skipping `skip_filter`).
    pub(crate) fn push_where(
        &self,
        qb: &mut QueryBuilder<Postgres>,
        q: &PageQuery,
        scope: Option<Scope<'_>>,
        skip_filter: Option<&str>,
    ) -> Result<(), StoreError> {
        self.push_where_with(qb, q, scope, skip_filter, true)
    }

    pub(super) fn push_where_with(
        &self,
        qb: &mut QueryBuilder<Postgres>,
        q: &PageQuery,
        scope: Option<Scope<'_>>,
        skip_filter: Option<&str>,
        with_search: bool,
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
        if with_search {
            self.push_search(qb, q);
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

    /// Pushes ` AND (...)` for the search text, when there is one.
    pub(super) fn push_search(&self, qb: &mut QueryBuilder<Postgres>, q: &PageQuery) {
        let Some(text) = q.search_text() else {
            return;
        };
        let pattern = format!("%{}%", escape_like(text));
        if let Some(push) = self.search_with {
            push(qb, &pattern);
        } else if !self.search.is_empty() {
            qb.push(" AND (");
            for (i, expr) in self.search.iter().enumerate() {
                if i > 0 {
                    qb.push(" OR ");
                }
                qb.push(*expr).push(" ILIKE ").push_bind(pattern.clone());
            }
            qb.push(")");
        }
    }

    /// The sort keys of the query (default sort when none), without the tie-breaker.
    pub(super) fn sort_keys(&self, q: &PageQuery) -> Result<Vec<SortExpr>, PageQueryError> {
        let sort: Vec<(&str, SortDir)> = if q.sort.is_empty() {
            self.spec.default_sort.to_vec()
        } else {
            q.sort.iter().map(|s| (s.column.as_str(), s.dir)).collect()
        };
        sort.into_iter()
            .map(|(name, dir)| {
                let col = self.column(name)?;
                let kind = self
                    .spec
                    .column(name)
                    .map(|c| c.kind)
                    .unwrap_or(ColumnKind::Text);
                Ok(SortExpr {
                    expr: col.sort_expr.unwrap_or(col.expr),
                    dir,
                    sql_type: sql_type(kind),
                })
            })
            .collect()
    }
}

/// One ORDER BY key.
#[derive(Clone, Copy, Debug)]
pub(super) struct SortExpr {
    pub(super) expr: &'static str,
    pub(super) dir: SortDir,
    pub(super) sql_type: &'static str,
}

fn sql_type(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Text => "text",
        ColumnKind::Bool => "boolean",
        ColumnKind::Uuid => "uuid",
        ColumnKind::Int => "bigint",
        ColumnKind::Timestamp => "timestamptz",
    }
}

pub(super) fn flip(d: SortDir) -> SortDir {
    match d {
        SortDir::Asc => SortDir::Desc,
        SortDir::Desc => SortDir::Asc,
    }
}

pub(super) fn dir_sql(d: SortDir) -> &'static str {
    match d {
        SortDir::Asc => " ASC",
        SortDir::Desc => " DESC",
    }
}

fn push_filter(qb: &mut QueryBuilder<Postgres>, expr: &str, kind: ColumnKind, values: &[String]) {
    qb.push(" AND ").push(expr);
    // One value is an equality (a btree can then serve the sort on the next index column; an
    // `= ANY(array)` on a leading column cannot yield the index order before PostgreSQL 17).
    fn push_values<T>(qb: &mut QueryBuilder<Postgres>, mut v: Vec<T>)
    where
        T: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send + 'static,
        Vec<T>: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>,
    {
        if v.len() == 1 {
            qb.push(" = ").push_bind(v.remove(0));
        } else {
            qb.push(" = ANY(").push_bind(v).push(")");
        }
    }
    match kind {
        ColumnKind::Text => push_values(qb, values.to_vec()),
        ColumnKind::Bool => {
            let v: Vec<bool> = values.iter().filter_map(|v| parse_bool(v)).collect();
            push_values(qb, v);
        }
        ColumnKind::Uuid => {
            let v: Vec<uuid::Uuid> = values
                .iter()
                .filter_map(|v| uuid::Uuid::parse_str(v.trim()).ok())
                .collect();
            push_values(qb, v);
        }
        ColumnKind::Int => {
            let v: Vec<i64> = values
                .iter()
                .filter_map(|v| v.trim().parse().ok())
                .collect();
            push_values(qb, v);
        }
        ColumnKind::Timestamp => {
            let v: Vec<chrono::DateTime<chrono::Utc>> = values
                .iter()
                .filter_map(|v| chrono::DateTime::parse_from_rfc3339(v.trim()).ok())
                .map(|d| d.with_timezone(&chrono::Utc))
                .collect();
            push_values(qb, v);
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

pub use crate::domain::audit::TimeRange;

/// Pushes the condition "`expr` lies in `range`" (always a valid boolean expression).
/// Use it inside a [`Scope`] closure for time-range filters (audit, registrations, ...).
pub fn push_time_range(qb: &mut QueryBuilder<Postgres>, range: &TimeRange, expr: &'static str) {
    qb.push("TRUE");
    if let Some(from) = range.from {
        qb.push(" AND ").push(expr).push(" >= ").push_bind(from);
    }
    if let Some(to) = range.to {
        qb.push(" AND ").push(expr).push(" < ").push_bind(to);
    }
}

#[cfg(test)]
mod golden_tests;
