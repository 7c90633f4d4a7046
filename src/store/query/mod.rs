//! The ONE list query builder: page, page size, search, filters, multi-column sort over
//! whitelisted columns; keyset paging (next/previous/last by cursor, OFFSET only for a jump to
//! page N); the count as a separate request (exact, capped, or the planner's estimate). Every list (mandates, members,
//! users, trusts, audit, ...) describes itself as a [`ListSql`] and calls [`fetch_page`] /
//! [`filter_values`]. Column names are looked up in the whitelist; user text only ever travels
//! as bind parameters.

use sqlx::postgres::{PgPool, PgRow};
use sqlx::{FromRow, Postgres, QueryBuilder, Row};

use super::estimates::{self, Keyed};
use super::{StoreError, StoreResult};
use crate::domain::page::{
    ColumnKind, Cursor, ListSpec, PageNav, PageQuery, Position, SortDir, TOTAL_CAP, Want,
    parse_bool,
};
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

    fn has_search(&self, q: &PageQuery) -> bool {
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

    fn push_where_with(
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
    fn push_search(&self, qb: &mut QueryBuilder<Postgres>, q: &PageQuery) {
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
    fn sort_keys(&self, q: &PageQuery) -> Result<Vec<SortExpr>, PageQueryError> {
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
struct SortExpr {
    expr: &'static str,
    dir: SortDir,
    sql_type: &'static str,
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

fn flip(d: SortDir) -> SortDir {
    match d {
        SortDir::Asc => SortDir::Desc,
        SortDir::Desc => SortDir::Asc,
    }
}

fn dir_sql(d: SortDir) -> &'static str {
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

/// How the page statement finds its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Walk the sort order (an index on the sort keys) and stop after the page.
    Walk,
    /// Collect the matching set first (a MATERIALIZED CTE: with a search term, the trigram
    /// bitmap), then sort only the matches.
    Materialize,
    /// Walk at most [`PROBE_ROWS`] rows of the sort order, keeping the matches: the page when
    /// they fill it (or the list ends inside the walk), else [`Plan::Materialize`] after all —
    /// a walk whose worst case is bounded, for searches whose matches are dense enough that a
    /// walk should find a page quickly (or sit right at the cursor, as when paging inside a
    /// cluster of matches).
    Probe,
    /// From a cursor, when the matches are too sparse for a [`Plan::Probe`]: walk at most
    /// [`near_rows`] rows next to the cursor, keeping the matches — the page when they fill it,
    /// else the plan chosen without it. The cursor's row is itself a match, and matches cluster
    /// in the sort order (names that share a word sort together: at 1,000,000 mandates the 639
    /// `leeds cardiology` matches are 639 consecutive rows by name), so inside a cluster the
    /// next page is the next rows, where the trigram bitmap would have re-read every match
    /// (12 ms); outside one the walk costs a few pages of index entries.
    Near,
}

impl Plan {
    /// A bounded walk that may give up ([`Plan::Probe`], [`Plan::Near`]).
    fn probes(self) -> bool {
        matches!(self, Plan::Probe | Plan::Near)
    }
}

/// How many rows a [`Plan::Near`] walks: four pages.
fn near_rows(q: &PageQuery) -> i64 {
    4 * (i64::from(q.page_size) + 1)
}

/// How many rows a probing plan walks per keyset segment before it gives up.
fn probe_bound(plan: Plan, q: &PageQuery) -> i64 {
    if plan == Plan::Near {
        near_rows(q)
    } else {
        PROBE_ROWS
    }
}

/// How many rows a [`Plan::Probe`] walks before it gives up (the page is then collected
/// through the bitmap). A probe that gives up costs about this many index rows.
pub const PROBE_ROWS: i64 = 5_000;

/// A probe is tried when an even spread of the matches would give it a page within this many
/// rows — twice its bound: the planner's estimate of a substring's matches is often low by half
/// (seen at 100,000 members: `khan` 951 estimated, 1,658 found), and a probe that gives up costs
/// about [`PROBE_ROWS`] index entries (an index-only walk for the default orders, migrations 1310
/// and 1320) where the collected set would have cost a bitmap over every match.
const PROBE_WITHIN: f64 = 2.0 * PROBE_ROWS as f64;

/// A term whose matches are below this many rows is always collected first: the walk's cost
/// depends on where the matches sit in the sort order (clustered matches make it read most
/// of the list), the bitmap's only on how many there are.
const ALWAYS_MATERIALIZE_BELOW: f64 = 20_000.0;
/// Safety factor for clustering: the walk is chosen only when it is expected to read this many
/// times fewer rows than the bitmap would visit.
const WALK_MARGIN: f64 = 20.0;

/// A walk from a cursor reads at most the rows between the cursor and the end of the list in
/// the scan direction, however the matches cluster. It is chosen when that bound is below this
/// many times the matches the bitmap would visit: even if it read all of them, a walk's row
/// costs about what a bitmap's does, and it usually stops after the page (the previous page of a
/// broad search: only a page of matches lies before the cursor, and so does little of the list).
const BOUNDED_WALK_RATIO: f64 = 2.0;

/// Decides [`Plan`] from the planner's own row estimates: with a search term, the walk reads
/// about `page × total / matches` rows, the bitmap about `matches`; from a cursor, the walk
/// reads no more than the rows on the cursor's far side. A probe and a near walk are bounded by
/// themselves, so when one is chosen nothing is asked about the cursor's range (each EXPLAIN is
/// a round trip and a planning pass: 1–2.5 ms at 100,000 members).
pub async fn choose_plan(
    pool: &PgPool,
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
) -> StoreResult<Plan> {
    choose(pool, list, q, scope, true).await
}

/// [`choose_plan`]; `near`: whether a [`Plan::Near`] may be chosen (not after one gave up).
async fn choose(
    pool: &PgPool,
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
    near: bool,
) -> StoreResult<Plan> {
    if !list.has_search(q) {
        return Ok(Plan::Walk);
    }
    let (matches, total) = matches_and_all(pool, list, q, scope).await?;
    let jump = matches!(q.position, Position::Offset) && q.page > 1;
    // Rows a walk reads for a page if the matches were spread evenly through the sort order.
    let walk = f64::from(q.page_size + 1) * total.max(1.0) / matches.max(1.0);
    if !jump && walk <= PROBE_WITHIN {
        return Ok(Plan::Probe);
    }
    if near && matches!(q.position, Position::After(_) | Position::Before(_)) {
        return Ok(Plan::Near);
    }
    if matches_cursor_range(list, q)? {
        let range = cursor_range(pool, list, q, scope).await?;
        if range < BOUNDED_WALK_RATIO * matches {
            return Ok(Plan::Walk);
        }
    }
    if matches < ALWAYS_MATERIALIZE_BELOW {
        return Ok(Plan::Materialize);
    }
    Ok(if walk * WALK_MARGIN < matches {
        Plan::Walk
    } else {
        Plan::Materialize
    })
}

/// Whether the query pages from a cursor whose first key bounds a range ([`cursor_range`]).
fn matches_cursor_range(list: &ListSql, q: &PageQuery) -> StoreResult<bool> {
    Ok(match &q.position {
        Position::After(c) | Position::Before(c) => {
            !list.sort_keys(q)?.is_empty() && c.keys.first().is_some_and(Option::is_some)
        }
        Position::Offset | Position::Last => false,
    })
}

/// The planner's estimates of the rows the query matches (search included) and of the list
/// under its filters without the search — one EXPLAIN of both as a `UNION ALL`.
async fn matches_and_all(
    pool: &PgPool,
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
) -> StoreResult<(f64, f64)> {
    let mut qb = QueryBuilder::new("EXPLAIN (FORMAT JSON) ");
    push_rows_of(&mut qb, list, q, scope, true)?;
    if !list.has_search(q) {
        let rows = estimates::plan_rows(pool, qb).await?;
        return Ok((rows, rows));
    }
    qb.push(" UNION ALL ");
    push_rows_of(&mut qb, list, q, scope, false)?;
    let rows = estimates::plan_rows_of(pool, qb, 2).await?;
    Ok((rows[0], rows[1]))
}

/// The planner's estimate, without the search, of the rows on the cursor's far side by the
/// first sort key (a superset of what a walk from the cursor can read).
async fn cursor_range(
    pool: &PgPool,
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
) -> StoreResult<f64> {
    let mut qb = QueryBuilder::new("EXPLAIN (FORMAT JSON) ");
    push_rows_of(&mut qb, list, q, scope, false)?;
    push_cursor_range(&mut qb, list, q)?;
    estimates::plan_rows(pool, qb).await
}

/// `SELECT 1 FROM <list> WHERE <base, scope, filters[, search]>`: the rows an estimate is
/// asked about.
fn push_rows_of(
    qb: &mut QueryBuilder<Postgres>,
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
    with_search: bool,
) -> StoreResult<()> {
    qb.push("SELECT 1 FROM ").push(list.from);
    list.push_where_with(qb, q, scope, None, with_search)
}

/// ` AND` the first sort key on the cursor's far side in scan direction (values after it, and
/// the nulls where they follow: ascending scans put them last).
fn push_cursor_range(
    qb: &mut QueryBuilder<Postgres>,
    list: &ListSql,
    q: &PageQuery,
) -> StoreResult<()> {
    let (cursor, backwards) = match &q.position {
        Position::After(c) => (c, false),
        Position::Before(c) => (c, true),
        Position::Offset | Position::Last => return Ok(()),
    };
    let keys = list.sort_keys(q)?;
    let (Some(key), Some(Some(value))) = (keys.first(), cursor.keys.first()) else {
        return Ok(());
    };
    let dir = if backwards { flip(key.dir) } else { key.dir };
    qb.push(" AND (").push(key.expr);
    qb.push(match dir {
        SortDir::Asc => " >= ",
        SortDir::Desc => " <= ",
    });
    qb.push_bind(value.clone()).push("::").push(key.sql_type);
    if dir == SortDir::Asc {
        qb.push(" OR ").push(key.expr).push(" IS NULL");
    }
    qb.push(")");
    Ok(())
}

/// The planner's estimate of the matching rows (the console's "of ≈N").
pub async fn estimate(
    pool: &PgPool,
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
) -> StoreResult<u64> {
    q.validate(list.spec)?;
    // The same question the page's plan asked (remembered: no second EXPLAIN).
    let (rows, _) = matches_and_all(pool, list, q, scope).await?;
    Ok(rows.max(0.0).round() as u64)
}

/// Builds the page statement (exposed for EXPLAIN tests and benchmarks). Rows only — the
/// count is a separate request.
pub fn page_statement(
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
    plan: Plan,
) -> StoreResult<QueryBuilder<Postgres>> {
    page_statement_with(list, q, scope, plan, "")
}

/// The plan PostgreSQL picks for the page statement (`EXPLAIN`, one line per row), with the
/// real bind values and the [`Plan`] the store would choose. For EXPLAIN tests proving index
/// use; `analyze` adds real row counts (`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)`).
pub async fn explain_page(
    pool: &PgPool,
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
) -> StoreResult<Vec<String>> {
    let (plan, _) = run_plan(pool, list, q, scope).await?;
    let mut qb = page_statement_with(list, q, scope, plan, "EXPLAIN (ANALYZE, TIMING OFF) ")?;
    let lines: Vec<String> = qb.build_query_scalar().fetch_all(pool).await?;
    Ok(lines)
}

async fn fetch_rows(
    pool: &PgPool,
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
    plan: Plan,
) -> StoreResult<Vec<PgRow>> {
    let mut qb = page_statement(list, q, scope, plan)?;
    Ok(qb.build().fetch_all(pool).await?)
}

/// The rows of the page and the plan that found them: a probing plan that gives up (or gave up
/// on the same statement a moment ago, [`estimates::probe_gave_up`]) hands over to the next —
/// a [`Plan::Near`] to the plan chosen without it, a [`Plan::Probe`] to the collected set.
async fn run_plan(
    pool: &PgPool,
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
) -> StoreResult<(Plan, Vec<PgRow>)> {
    let mut plan = choose_plan(pool, list, q, scope).await?;
    while plan.probes() {
        let probe = Keyed::new(pool, page_statement(list, q, scope, plan)?)?;
        if !estimates::probe_gave_up(pool, &probe) {
            if let Some(page) = probe_page(probe.fetch_all(pool).await?, q, plan)? {
                return Ok((plan, page));
            }
            estimates::remember_probe_gave_up(&probe);
        }
        plan = match plan {
            Plan::Near => choose(pool, list, q, scope, false).await?,
            _ => Plan::Materialize,
        };
    }
    Ok((plan, fetch_rows(pool, list, q, scope, plan).await?))
}

/// The page a probing plan found, or None when its walk ended before it could tell. Its rows
/// come segment by segment in scan order; a segment's matches count only while every segment
/// before it was walked to its end.
fn probe_page(rows: Vec<PgRow>, q: &PageQuery, plan: Plan) -> StoreResult<Option<Vec<PgRow>>> {
    let bound = probe_bound(plan, q);
    let limit = q.page_size as usize + 1;
    let mut page = Vec::with_capacity(limit);
    let mut seg: Option<i32> = None;
    let mut cut = false;
    for row in rows {
        let this: i32 = row.try_get("hubdeck_seg")?;
        if seg != Some(this) {
            if cut {
                // The segment before this one stopped at its bound with room left on the page.
                return Ok(None);
            }
            seg = Some(this);
        }
        if row.try_get::<i64, _>("hubdeck_n")? >= bound {
            cut = true;
        }
        if row.try_get::<bool, _>("hubdeck_hit")? {
            page.push(row);
            if page.len() == limit {
                return Ok(Some(page));
            }
        }
    }
    Ok(if cut { None } else { Some(page) })
}

/// Segment of the keyset: rows whose first `prefix` keys equal the cursor's, then `tail`.
#[derive(Clone, Copy, Debug)]
enum Tail {
    /// Key `i` strictly after the cursor's value in scan direction.
    Range(usize),
    /// Key `i` IS NULL (nulls after every value: ascending scans).
    IsNull(usize),
    /// Key `i` IS NOT NULL (after a NULL in a descending scan, where nulls come first).
    NotNull(usize),
    /// Every key equal; the tie-breaker after the cursor's.
    Tie,
}

/// The rows after `cursor` in the scan order, as disjoint segments in that order. Each segment
/// is an equality prefix plus one range/null test — an index condition on `(keys…, tiebreak)`.
fn segments(dirs: &[SortDir], cursor: &Cursor) -> Vec<(usize, Tail)> {
    let mut out = vec![(dirs.len(), Tail::Tie)];
    for i in (0..dirs.len()).rev() {
        match (dirs[i], cursor.keys[i].is_some()) {
            (SortDir::Asc, true) => {
                out.push((i, Tail::Range(i)));
                out.push((i, Tail::IsNull(i)));
            }
            (SortDir::Asc, false) => {}
            (SortDir::Desc, true) => out.push((i, Tail::Range(i))),
            (SortDir::Desc, false) => out.push((i, Tail::NotNull(i))),
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn push_segment_cond(
    qb: &mut QueryBuilder<Postgres>,
    exprs: &[&str],
    keys: &[SortExpr],
    dirs: &[SortDir],
    tie: (&str, &str, SortDir),
    cursor: &Cursor,
    prefix: usize,
    tail: Tail,
) {
    for i in 0..prefix {
        match &cursor.keys[i] {
            Some(v) => {
                qb.push(" AND ")
                    .push(exprs[i])
                    .push(" = ")
                    .push_bind(v.clone())
                    .push("::")
                    .push(keys[i].sql_type);
            }
            None => {
                qb.push(" AND ").push(exprs[i]).push(" IS NULL");
            }
        }
    }
    let op = |d: SortDir| match d {
        SortDir::Asc => " > ",
        SortDir::Desc => " < ",
    };
    match tail {
        Tail::Range(i) => {
            qb.push(" AND ")
                .push(exprs[i])
                .push(op(dirs[i]))
                .push_bind(cursor.keys[i].clone().unwrap_or_default())
                .push("::")
                .push(keys[i].sql_type);
        }
        Tail::IsNull(i) => {
            qb.push(" AND ").push(exprs[i]).push(" IS NULL");
        }
        Tail::NotNull(i) => {
            qb.push(" AND ").push(exprs[i]).push(" IS NOT NULL");
        }
        Tail::Tie => {
            let (expr, ty, dir) = tie;
            qb.push(" AND ")
                .push(expr)
                .push(op(dir))
                .push_bind(cursor.id.clone())
                .push("::")
                .push(ty);
        }
    }
}

fn page_statement_with(
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
    plan: Plan,
    head: &'static str,
) -> StoreResult<QueryBuilder<Postgres>> {
    q.validate(list.spec)?;
    let keys = list.sort_keys(q)?;
    // The tie-breaker follows the last key's direction, so the whole ORDER BY is one btree
    // scanned forwards or backwards. PostgreSQL's default null placement (ASC NULLS LAST, DESC
    // NULLS FIRST) is what such a scan yields; the keyset segments follow the same rule.
    let tie_dir = keys.last().map(|k| k.dir).unwrap_or(SortDir::Asc);
    let backwards = matches!(q.position, Position::Before(_) | Position::Last);
    let orient = |d: SortDir| if backwards { flip(d) } else { d };
    let dirs: Vec<SortDir> = keys.iter().map(|k| orient(k.dir)).collect();
    let tie_dir = orient(tie_dir);
    let cursor = match &q.position {
        Position::After(c) | Position::Before(c) => {
            if c.keys.len() != keys.len() {
                return Err(PageQueryError::BadCursor.into());
            }
            Some(c)
        }
        Position::Offset | Position::Last => None,
    };
    let limit = i64::from(q.page_size) + 1;
    let materialize = plan == Plan::Materialize;
    let key_cols: Vec<String> = (0..keys.len()).map(|i| format!("hubdeck_k{i}")).collect();
    let m_exprs: Vec<String> = key_cols.iter().map(|c| format!("hubdeck_m.{c}")).collect();
    let exprs: Vec<&str> = if materialize {
        m_exprs.iter().map(String::as_str).collect()
    } else {
        keys.iter().map(|k| k.expr).collect()
    };
    let tie_expr = if materialize {
        "hubdeck_m.hubdeck_id"
    } else {
        list.tiebreak
    };

    let probe = plan.probes();
    let bound = probe_bound(plan, q);
    let mut qb = QueryBuilder::new(head);
    if materialize {
        // The matching set once (the planner picks the trigram bitmap for it: no ORDER BY or
        // LIMIT inside to tempt it into walking the sort index), keys and ids only.
        qb.push("WITH hubdeck_m AS MATERIALIZED (SELECT ")
            .push(list.tiebreak)
            .push(" AS hubdeck_id");
        for (k, col) in keys.iter().zip(&key_cols) {
            qb.push(", ").push(k.expr).push(" AS ").push(col);
        }
        qb.push(" FROM ").push(list.from);
        list.push_where(&mut qb, q, scope, None)?;
        qb.push(") ");
    }
    let select_page = |qb: &mut QueryBuilder<Postgres>| {
        qb.push("SELECT hubdeck_r.*");
        for (i, col) in key_cols.iter().enumerate() {
            qb.push(format!(", hubdeck_p.{col}::text AS hubdeck_c{i}"));
        }
        qb.push(", hubdeck_p.hubdeck_id::text AS hubdeck_cid");
    };
    select_page(&mut qb);
    if probe {
        qb.push(", hubdeck_p.hubdeck_seg, hubdeck_p.hubdeck_hit, hubdeck_p.hubdeck_n");
    }
    qb.push(" FROM (SELECT * FROM (");
    let segs = match cursor {
        Some(c) => segments(&dirs, c),
        None => vec![(0, Tail::Tie)],
    };
    for (si, (prefix, tail)) in segs.iter().enumerate() {
        if si > 0 {
            qb.push(" UNION ALL ");
        }
        if probe {
            // Each segment walks at most `bound` rows in scan order (the search is not a
            // condition of the walk: an index walk that stops), numbered as they come; kept are
            // the matches, up to a page and one, and the `bound`-th row if the walk got that
            // far (then the segment may hold matches beyond it).
            qb.push("(SELECT * FROM (SELECT hubdeck_x.*, row_number() OVER () AS hubdeck_n FROM ");
        }
        qb.push(format!("(SELECT {si} AS hubdeck_seg"));
        for (e, col) in exprs.iter().zip(&key_cols) {
            qb.push(", ").push(*e).push(" AS ").push(col);
        }
        qb.push(", ").push(tie_expr).push(" AS hubdeck_id");
        if probe {
            // (A NULL column makes the OR NULL, not false.)
            qb.push(", COALESCE((TRUE");
            list.push_search(&mut qb, q);
            qb.push("), FALSE) AS hubdeck_hit");
        }
        qb.push(" FROM ");
        if materialize {
            qb.push("hubdeck_m WHERE TRUE");
        } else {
            qb.push(list.from);
            list.push_where_with(&mut qb, q, scope, None, !probe)?;
        }
        if let Some(c) = cursor {
            push_segment_cond(
                &mut qb,
                &exprs,
                &keys,
                &dirs,
                (tie_expr, list.tiebreak_type, tie_dir),
                c,
                *prefix,
                *tail,
            );
        }
        qb.push(" ORDER BY ");
        for (e, d) in exprs.iter().zip(&dirs) {
            qb.push(*e).push(dir_sql(*d)).push(", ");
        }
        qb.push(tie_expr).push(dir_sql(tie_dir));
        qb.push(" LIMIT ")
            .push_bind(if probe { bound } else { limit });
        if matches!(q.position, Position::Offset) && q.page > 1 {
            qb.push(" OFFSET ")
                .push_bind(i64::try_from(q.offset()).unwrap_or(i64::MAX));
        }
        qb.push(")");
        if probe {
            qb.push(" hubdeck_x) hubdeck_y WHERE hubdeck_hit OR hubdeck_n = ")
                .push_bind(bound)
                .push(" LIMIT ")
                .push_bind(limit + 1)
                .push(")");
        }
    }
    // Segments are disjoint and in scan order: at most (segments × page) key tuples are sorted
    // here, never the list.
    let order = |qb: &mut QueryBuilder<Postgres>, alias: &str| {
        qb.push(format!("{alias}.hubdeck_seg"));
        for (col, d) in key_cols.iter().zip(&dirs) {
            qb.push(format!(", {alias}.{col}")).push(dir_sql(*d));
        }
        qb.push(format!(", {alias}.hubdeck_id"))
            .push(dir_sql(tie_dir));
    };
    qb.push(") hubdeck_u ORDER BY ");
    order(&mut qb, "hubdeck_u");
    if !probe {
        qb.push(" LIMIT ").push_bind(limit);
    }
    // The page's rows are fetched one by one by their unique key (LIMIT 1 keeps the lateral
    // subquery a parameterised index probe: the select list — joins, role subqueries — is
    // evaluated for the page only, whatever the planner thinks of the list's size). A probe's
    // end-of-walk rows that do not match keep their place with nothing joined.
    qb.push(if probe {
        ") hubdeck_p LEFT JOIN LATERAL (SELECT "
    } else {
        ") hubdeck_p CROSS JOIN LATERAL (SELECT "
    })
    .push(list.select)
    .push(" FROM ")
    .push(list.from)
    .push(" WHERE ")
    .push(list.tiebreak)
    .push(" = hubdeck_p.hubdeck_id");
    if probe {
        qb.push(" AND hubdeck_p.hubdeck_hit");
    }
    qb.push(" LIMIT 1) hubdeck_r");
    if probe {
        qb.push(" ON TRUE");
    }
    qb.push(" ORDER BY ");
    order(&mut qb, "hubdeck_p");
    Ok(qb)
}

fn cursor_of(row: &PgRow, keys: usize) -> StoreResult<Cursor> {
    let mut out = Vec::with_capacity(keys);
    for i in 0..keys {
        out.push(row.try_get::<Option<String>, _>(format!("hubdeck_c{i}").as_str())?);
    }
    Ok(Cursor {
        keys: out,
        id: row.try_get::<String, _>("hubdeck_cid")?,
    })
}

/// Fetches what `q.want` asks for: one page of rows (rows only — the page never waits for a
/// count), plus the exact total for [`Want::RowsAndTotal`] (a second statement, the CLI's),
/// or only an estimate or a capped count.
pub async fn fetch_page<T>(
    pool: &PgPool,
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
) -> StoreResult<Page<T>>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    q.validate(list.spec)?;
    match q.want {
        Want::Estimate => {
            let mut p = Page::empty(q);
            p.total = estimate(pool, list, q, scope).await?;
            return Ok(p);
        }
        Want::CappedCount => {
            let mut p = Page::empty(q);
            p.total = count_capped(pool, list, q, scope, TOTAL_CAP).await?;
            return Ok(p);
        }
        Want::Rows | Want::RowsAndTotal => {}
    }
    let keys = list.sort_keys(q)?.len();
    let (_, rows) = run_plan(pool, list, q, scope).await?;
    let more = rows.len() > q.page_size as usize;
    let mut items = Vec::with_capacity(rows.len());
    let mut cursors = Vec::with_capacity(rows.len());
    for row in rows.iter().take(q.page_size as usize) {
        items.push(T::from_row(row)?);
        cursors.push(cursor_of(row, keys)?);
    }
    let backwards = matches!(q.position, Position::Before(_) | Position::Last);
    if backwards {
        items.reverse();
        cursors.reverse();
    }
    let (at_start, at_end) = match q.position {
        Position::Offset => (q.page <= 1, !more),
        Position::After(_) => (false, !more),
        Position::Before(_) => (!more, false),
        Position::Last => (!more, true),
    };
    let total = if q.want == Want::RowsAndTotal {
        count(pool, list, q, scope).await?
    } else {
        0
    };
    let nav = PageNav {
        first: cursors.first().cloned(),
        last: cursors.last().cloned(),
        at_start,
        at_end,
    };
    Ok(Page {
        items,
        total,
        page: q.page,
        page_size: q.page_size,
        next_cursor: if nav.at_end {
            None
        } else {
            nav.last.as_ref().map(Cursor::encode)
        },
        nav,
    })
}

/// Number of rows matching the query (search, filters, scope) — exact.
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

/// Matching rows counted up to `cap`; `cap + 1` means "more than `cap`" (a display choice).
pub async fn count_capped(
    pool: &PgPool,
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
    cap: u64,
) -> StoreResult<u64> {
    q.validate(list.spec)?;
    let mut qb = QueryBuilder::new("SELECT count(*) FROM (SELECT 1 FROM ");
    qb.push(list.from);
    list.push_where(&mut qb, q, scope, None)?;
    qb.push(" LIMIT ")
        .push_bind(i64::try_from(cap.saturating_add(1)).unwrap_or(i64::MAX))
        .push(") hubdeck_counted");
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
    pool: &PgPool,
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
    pool: &PgPool,
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
