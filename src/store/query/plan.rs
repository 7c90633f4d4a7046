//! How a page finds its rows: walk the sort index, collect the matches first, or a bounded walk
//! that may give up — decided from the planner's own row estimates, asked once per query.

use crate::store::Db;
use sqlx::{Postgres, QueryBuilder};

use super::{ListSql, Scope};
use crate::domain::page::{PageQuery, Position, SortDir};
use crate::store::StoreResult;
use crate::store::estimates;

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
    pub(super) fn probes(self) -> bool {
        matches!(self, Plan::Probe | Plan::Near)
    }
}

/// How many rows a [`Plan::Near`] walks: four pages.
pub(super) fn near_rows(q: &PageQuery) -> i64 {
    4 * (i64::from(q.page_size) + 1)
}

/// How many rows a probing plan walks per keyset segment before it gives up.
pub(super) fn probe_bound(plan: Plan, q: &PageQuery) -> i64 {
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
    pool: &Db,
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
) -> StoreResult<Plan> {
    choose(pool, list, q, scope, true).await
}

/// [`choose_plan`]; `near`: whether a [`Plan::Near`] may be chosen (not after one gave up).
pub(super) async fn choose(
    pool: &Db,
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
    pool: &Db,
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
    pool: &Db,
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
    let dir = if backwards {
        super::flip(key.dir)
    } else {
        key.dir
    };
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
    pool: &Db,
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
) -> StoreResult<u64> {
    q.validate(list.spec)?;
    // The same question the page's plan asked (remembered: no second EXPLAIN).
    let (rows, _) = matches_and_all(pool, list, q, scope).await?;
    Ok(rows.max(0.0).round() as u64)
}
