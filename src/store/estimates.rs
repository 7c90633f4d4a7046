//! The planner's row estimates behind [`super::query::choose_plan`], remembered for a short
//! while per statement and bind values: the next, previous and last pages of a query ask the
//! same questions as its first page (only the cursor's range is new), and each EXPLAIN costs a
//! round trip and a planning pass. An estimate only steers which plan finds the rows (every
//! plan returns the same rows), so a stale one can cost time, never a row. The same holds for
//! the other fact remembered here: that a probe of a given page statement gave up (the page was
//! then collected through the bitmap), so the same page asked again — the console's page 1 after
//! PgUp from page 2 — goes straight to the collected set.

use crate::store::Db;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{Execute, Postgres, QueryBuilder, SqlStr};

use super::StoreResult;

/// How long an estimate is re-used: long enough for an operator paging through one query,
/// short enough that a list that grew or shrank is soon planned from fresh statistics.
const KEEP: Duration = Duration::from_secs(30);
/// Statements remembered at most (past it the expired ones go, then all).
const CAPACITY: usize = 512;

#[derive(Default)]
struct Remembered {
    /// Statement key → when it was asked and what the planner said.
    rows: HashMap<String, (Instant, Vec<f64>)>,
    /// Page statement key → when its probe gave up.
    gave_up: HashMap<String, Instant>,
    /// EXPLAINs sent, per database.
    asked: HashMap<String, u64>,
    /// Probes sent, per database.
    probes: HashMap<String, u64>,
}

/// A built statement with its key (database, SQL text, bind values).
pub(super) struct Keyed {
    key: String,
    sql: SqlStr,
    args: Option<PgArguments>,
}

impl Keyed {
    pub(super) fn new(pool: &Db, mut qb: QueryBuilder<Postgres>) -> StoreResult<Self> {
        let sql = qb.sql();
        let args = qb.build().take_arguments().map_err(sqlx::Error::Encode)?;
        let key = format!("{}\n{}\n{args:?}", database(pool), sql.as_str());
        Ok(Self { key, sql, args })
    }

    pub(super) async fn fetch_all(&self, pool: &Db) -> StoreResult<Vec<PgRow>> {
        let sql = self.sql.clone();
        Ok(match self.args.clone() {
            Some(args) => sqlx::query_with(sql, args).fetch_all(pool).await?,
            None => sqlx::query(sql).fetch_all(pool).await?,
        })
    }
}

/// Whether a probe of this page statement gave up within [`KEEP`]; if not, it is counted as
/// sent (see [`probes`]).
pub(super) fn probe_gave_up(pool: &Db, statement: &Keyed) -> bool {
    let mut r = remembered();
    if r.gave_up
        .get(&statement.key)
        .is_some_and(|at| at.elapsed() < KEEP)
    {
        return true;
    }
    *r.probes.entry(database(pool)).or_default() += 1;
    false
}

/// How many probes have been sent to `pool`'s database (tests: which pages probe).
pub fn probes(pool: &Db) -> u64 {
    remembered()
        .probes
        .get(&database(pool))
        .copied()
        .unwrap_or(0)
}

/// Remembers that a probe of this page statement gave up.
pub(super) fn remember_probe_gave_up(statement: &Keyed) {
    let mut r = remembered();
    let now = Instant::now();
    if r.gave_up.len() >= CAPACITY {
        r.gave_up.retain(|_, at| now.duration_since(*at) < KEEP);
        if r.gave_up.len() >= CAPACITY {
            r.gave_up.clear();
        }
    }
    r.gave_up.insert(statement.key.clone(), now);
}

static REMEMBERED: LazyLock<Mutex<Remembered>> = LazyLock::new(Mutex::default);

fn remembered() -> std::sync::MutexGuard<'static, Remembered> {
    // A panic while holding the lock leaves plain data behind; keep using it.
    REMEMBERED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Forgets what is remembered about `pool`'s database (benchmarks measure a query's first page
/// as an operator meets it: nothing remembered).
pub fn forget(pool: &Db) {
    let prefix = format!("{}\n", database(pool));
    let mut r = remembered();
    r.rows.retain(|k, _| !k.starts_with(&prefix));
    r.gave_up.retain(|k, _| !k.starts_with(&prefix));
}

/// How many EXPLAINs for estimates have been sent to `pool`'s database (tests: which pages ask).
pub fn asked(pool: &Db) -> u64 {
    remembered()
        .asked
        .get(&database(pool))
        .copied()
        .unwrap_or(0)
}

fn database(pool: &Db) -> String {
    let opts = pool.connect_options();
    format!(
        "{:?}|{}|{}|{}|{}",
        opts.get_socket(),
        opts.get_host(),
        opts.get_port(),
        opts.get_database().unwrap_or_default(),
        opts.get_username()
    )
}

/// `Plan Rows` of the top node of `EXPLAIN (FORMAT JSON) <statement>` (built by the caller into
/// `qb`, starting with the EXPLAIN), remembered per database, statement and bind values.
pub(super) async fn plan_rows(pool: &Db, qb: QueryBuilder<Postgres>) -> StoreResult<f64> {
    Ok(plan_rows_of(pool, qb, 1)
        .await?
        .first()
        .copied()
        .unwrap_or(0.0))
}

/// The planner's row estimates of the `parts` branches of a `UNION ALL` in one EXPLAIN (one
/// round trip and one planning pass for several questions): `Plan Rows` of each child of the
/// top Append node — or of the top node itself for one part. When the plan does not have that
/// shape (a branch the planner proved empty drops out of the Append), the top node's estimate is
/// given for every part: it bounds each of them. Remembered as [`plan_rows`] is.
pub(super) async fn plan_rows_of(
    pool: &Db,
    qb: QueryBuilder<Postgres>,
    parts: usize,
) -> StoreResult<Vec<f64>> {
    let Keyed { key, sql, args } = Keyed::new(pool, qb)?;
    let now = Instant::now();
    if let Some((at, rows)) = remembered().rows.get(&key)
        && now.duration_since(*at) < KEEP
    {
        return Ok(rows.clone());
    }
    let plan: serde_json::Value = match args {
        Some(args) => sqlx::query_scalar_with(sql, args).fetch_one(pool).await?,
        None => sqlx::query_scalar(sql).fetch_one(pool).await?,
    };
    let rows = branch_rows(&plan, parts);
    let mut r = remembered();
    *r.asked.entry(database(pool)).or_default() += 1;
    if r.rows.len() >= CAPACITY {
        r.rows.retain(|_, (at, _)| now.duration_since(*at) < KEEP);
        if r.rows.len() >= CAPACITY {
            r.rows.clear();
        }
    }
    r.rows.insert(key, (now, rows.clone()));
    Ok(rows)
}

/// See [`plan_rows_of`].
fn branch_rows(plan: &serde_json::Value, parts: usize) -> Vec<f64> {
    let rows = |node: &serde_json::Value| {
        node.get("Plan Rows")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0)
    };
    let top = plan.get(0).and_then(|p| p.get("Plan"));
    let children = top
        .filter(|t| t.get("Node Type").and_then(serde_json::Value::as_str) == Some("Append"))
        .and_then(|t| t.get("Plans"))
        .and_then(serde_json::Value::as_array)
        .filter(|c| parts > 1 && c.len() == parts);
    match (children, top) {
        (Some(c), _) => c.iter().map(rows).collect(),
        (None, Some(t)) => vec![rows(t); parts],
        (None, None) => vec![0.0; parts],
    }
}

#[cfg(test)]
mod tests {
    use super::branch_rows;
    use serde_json::json;

    #[test]
    fn branch_rows_reads_each_child_of_the_append() {
        let plan = json!([{"Plan": {"Node Type": "Append", "Plan Rows": 30.0, "Plans": [
            {"Node Type": "Bitmap Heap Scan", "Plan Rows": 10.0},
            {"Node Type": "Seq Scan", "Plan Rows": 20.0}
        ]}}]);
        assert_eq!(branch_rows(&plan, 2), vec![10.0, 20.0]);
        assert_eq!(branch_rows(&plan, 1), vec![30.0]);
        // A branch dropped out: the top node bounds both.
        let plan = json!([{"Plan": {"Node Type": "Seq Scan", "Plan Rows": 20.0}}]);
        assert_eq!(branch_rows(&plan, 2), vec![20.0, 20.0]);
        assert_eq!(branch_rows(&json!([]), 2), vec![0.0, 0.0]);
    }
}
