//! The planner's row estimates behind [`super::query::choose_plan`], remembered for a short
//! while per statement and bind values: the next, previous and last pages of a query ask the
//! same questions as its first page (only the cursor's range is new), and each EXPLAIN costs a
//! round trip and a planning pass. An estimate only steers which plan finds the rows (every
//! plan returns the same rows), so a stale one can cost time, never a row.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use sqlx::postgres::PgPool;
use sqlx::{Execute, Postgres, QueryBuilder};

use super::StoreResult;

/// How long an estimate is re-used: long enough for an operator paging through one query,
/// short enough that a list that grew or shrank is soon planned from fresh statistics.
const KEEP: Duration = Duration::from_secs(30);
/// Statements remembered at most (past it the expired ones go, then all).
const CAPACITY: usize = 512;

#[derive(Default)]
struct Remembered {
    /// Statement key → when it was asked and what the planner said.
    rows: HashMap<String, (Instant, f64)>,
    /// EXPLAINs sent, per database.
    asked: HashMap<String, u64>,
}

static REMEMBERED: LazyLock<Mutex<Remembered>> = LazyLock::new(Mutex::default);

fn remembered() -> std::sync::MutexGuard<'static, Remembered> {
    // A panic while holding the lock leaves plain data behind; keep using it.
    REMEMBERED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Forgets every remembered estimate (benchmarks measure a query's first page as an operator
/// meets it: nothing remembered).
pub fn forget() {
    remembered().rows.clear();
}

/// How many EXPLAINs for estimates have been sent to `pool`'s database (tests: which pages ask).
pub fn asked(pool: &PgPool) -> u64 {
    remembered()
        .asked
        .get(&database(pool))
        .copied()
        .unwrap_or(0)
}

fn database(pool: &PgPool) -> String {
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
pub(super) async fn plan_rows(pool: &PgPool, mut qb: QueryBuilder<Postgres>) -> StoreResult<f64> {
    let sql = qb.sql();
    let args = qb.build().take_arguments().map_err(sqlx::Error::Encode)?;
    let db = database(pool);
    let key = format!("{db}\n{}\n{args:?}", sql.as_str());
    let now = Instant::now();
    if let Some((at, rows)) = remembered().rows.get(&key) {
        if now.duration_since(*at) < KEEP {
            return Ok(*rows);
        }
    }
    let plan: serde_json::Value = match args {
        Some(args) => sqlx::query_scalar_with(sql, args).fetch_one(pool).await?,
        None => sqlx::query_scalar(sql).fetch_one(pool).await?,
    };
    let rows = plan
        .get(0)
        .and_then(|p| p.get("Plan"))
        .and_then(|p| p.get("Plan Rows"))
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0);
    let mut r = remembered();
    *r.asked.entry(db).or_default() += 1;
    if r.rows.len() >= CAPACITY {
        r.rows.retain(|_, (at, _)| now.duration_since(*at) < KEEP);
        if r.rows.len() >= CAPACITY {
            r.rows.clear();
        }
    }
    r.rows.insert(key, (now, rows));
    Ok(rows)
}
