//! Running a page: the chosen plan's statement (a bounded walk that gives up hands over to the
//! next plan), the rows turned into a [`Page`] with its cursors, and the counts.

use crate::store::Db;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, QueryBuilder, Row};

use super::plan::{choose, probe_bound};
use super::statement::page_statement_with;
use super::{ListSql, Plan, Scope, choose_plan, estimate, page_statement};
use crate::domain::Page;
use crate::domain::page::{Cursor, PageNav, PageQuery, Position, TOTAL_CAP, Want};
use crate::store::StoreResult;
use crate::store::estimates::{self, Keyed};

/// The plan PostgreSQL picks for the page statement (`EXPLAIN`, one line per row), with the
/// real bind values and the [`Plan`] the store would choose. For EXPLAIN tests proving index
/// use; `analyze` adds real row counts (`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)`).
pub async fn explain_page(
    pool: &Db,
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
    pool: &Db,
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
    pool: &Db,
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
    pool: &Db,
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
    pool: &Db,
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
    pool: &Db,
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
