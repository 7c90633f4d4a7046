//! SPEC §8 budgets at scale, side by side with the seed's pattern (fetch everything, then
//! search / filter / sort / paginate in memory; per-member lookups), on the same data.
//!
//! Run: `cargo bench --bench budgets` (part of `cargo bench`). The dataset (1,000,000 mandates,
//! 200,000 users, one mandate with 100,000 members) is generated on the first run into a private
//! cluster under `target/bench-data` and re-used while the generator's spec is unchanged.
//! `HUBDECK_BENCH_SCALE=small` runs everything on the small dataset (a smoke test).
//! Results are printed and written to `target/bench-results.md`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubdeck::demo::{DemoOptions, Reporter};
use hubdeck::domain::page::SortDir;
use hubdeck::domain::{Page, PageQuery, PermissionRef};
use hubdeck::service::{Actor, Operator, Services};
use hubdeck::store::dataset::{self, DatasetSpec};
use sqlx::PgPool;

// ---------------------------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Stats {
    n: usize,
    p50: Duration,
    p95: Duration,
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    Stats {
        n: v.len(),
        p50: at(0.50),
        p95: at(0.95),
    }
}

async fn measure<F, Fut, T>(warmup: usize, iters: usize, mut f: F) -> Stats
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    for i in 0..warmup {
        std::hint::black_box(f(i).await);
    }
    // At most `iters` samples, and no more than ~6 s per benchmark (at least 5 samples).
    let mut v = Vec::with_capacity(iters);
    let start = Instant::now();
    for i in 0..iters {
        let t = Instant::now();
        std::hint::black_box(f(i).await);
        v.push(t.elapsed());
        if v.len() >= 5 && start.elapsed() > Duration::from_secs(6) {
            break;
        }
    }
    stats(v)
}

fn ms(d: Duration) -> String {
    let m = d.as_secs_f64() * 1000.0;
    if m >= 100.0 {
        format!("{m:.0} ms")
    } else if m >= 10.0 {
        format!("{m:.1} ms")
    } else {
        format!("{m:.2} ms")
    }
}

struct Report {
    md: String,
}

impl Report {
    fn section(&mut self, title: &str, header: &str) {
        let _ = writeln!(self.md, "\n### {title}\n\n{header}");
        println!("\n== {title}");
    }
    fn row(&mut self, line: String) {
        println!("{line}");
        let _ = writeln!(self.md, "{line}");
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "pass" } else { "**miss**" }
}

/// How many times faster than the seed's pattern (below 1: slower).
fn ratio(hub: Duration, base: Duration) -> String {
    let r = base.as_secs_f64() / hub.as_secs_f64().max(1e-9);
    if r >= 10.0 {
        format!("{r:.0}×")
    } else if r >= 1.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}× (slower)")
    }
}

// ---------------------------------------------------------------------------------------------
// The seed's pattern, faithfully: fetch every row, then work in memory; per-member lookups.
// ---------------------------------------------------------------------------------------------

#[derive(sqlx::FromRow, Clone)]
struct AllMandate {
    id: uuid::Uuid,
    name: String,
    label: Option<String>,
    enabled: bool,
    plan: Option<String>,
}

async fn baseline_mandates_page(
    pool: &PgPool,
    search: &str,
    enabled: Option<bool>,
    label: Option<&str>,
    page: usize,
    size: usize,
) -> anyhow::Result<(usize, Vec<AllMandate>)> {
    let all: Vec<AllMandate> = sqlx::query_as(
        "SELECT m.id, m.name, m.label, m.enabled, s.plan_key AS plan FROM mandate m
         LEFT JOIN mandate_subscription s ON s.mandate_id = m.id
              AND s.status IN ('trialing', 'active', 'past_due')
         WHERE m.deleted_at IS NULL",
    )
    .fetch_all(pool)
    .await?;
    let needle = search.to_lowercase();
    let mut hits: Vec<AllMandate> = all
        .into_iter()
        .filter(|m| {
            m.name.to_lowercase().contains(&needle)
                || m.label
                    .as_deref()
                    .is_some_and(|l| l.to_lowercase().contains(&needle))
        })
        .filter(|m| enabled.is_none_or(|e| m.enabled == e))
        .filter(|m| label.is_none_or(|l| m.label.as_deref() == Some(l)))
        .collect();
    hits.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let total = hits.len();
    let items = hits
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    Ok((total, items))
}

async fn baseline_filter_values(pool: &PgPool) -> anyhow::Result<Vec<String>> {
    let all: Vec<AllMandate> = sqlx::query_as(
        "SELECT m.id, m.name, m.label, m.enabled, s.plan_key AS plan FROM mandate m
         LEFT JOIN mandate_subscription s ON s.mandate_id = m.id
              AND s.status IN ('trialing', 'active', 'past_due')
         WHERE m.deleted_at IS NULL",
    )
    .fetch_all(pool)
    .await?;
    let set: BTreeSet<String> = all.into_iter().filter_map(|m| m.plan).collect();
    Ok(set.into_iter().collect())
}

/// Seed 004's member list: the memberships, then for each member its user, profile and roles.
async fn baseline_members_page(
    pool: &PgPool,
    mandate: uuid::Uuid,
    page: usize,
    size: usize,
) -> anyhow::Result<(usize, usize)> {
    let memberships: Vec<(uuid::Uuid, uuid::Uuid, bool)> =
        sqlx::query_as("SELECT id, user_id, enabled FROM user_mandate WHERE mandate_id = $1")
            .bind(mandate)
            .fetch_all(pool)
            .await?;
    let mut queries = 1;
    let mut rows = Vec::with_capacity(memberships.len());
    for (um, user, enabled) in memberships {
        let u: Option<(String, String)> =
            sqlx::query_as("SELECT email, username FROM directory_user WHERE sub = $1")
                .bind(user)
                .fetch_optional(pool)
                .await?;
        let p: Option<String> =
            sqlx::query_scalar("SELECT name FROM user_profile WHERE user_id = $1")
                .bind(user)
                .fetch_optional(pool)
                .await?;
        let roles: Vec<String> = sqlx::query_scalar(
            "SELECT r.label FROM user_mandate_role umr JOIN mandate_role r ON r.id = umr.mandate_role_id
             WHERE umr.user_mandate_id = $1 AND r.feature_instance_id IS NULL",
        )
        .bind(um)
        .fetch_all(pool)
        .await?;
        queries += 3;
        let roles: BTreeSet<String> = roles.into_iter().collect();
        if let Some((email, _)) = u {
            rows.push((email, p, roles, enabled));
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let page: Vec<_> = rows
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    std::hint::black_box(page);
    Ok((queries, 0))
}

#[derive(sqlx::FromRow)]
struct AllUser {
    email: String,
    username: String,
    name: Option<String>,
    organisation: Option<String>,
}

/// The users list: every cached identity with its profile, filtered and paged in memory.
/// (Generous to the seed: profiles come in the same query rather than one lookup per user.)
async fn baseline_users_page(pool: &PgPool, search: &str) -> anyhow::Result<usize> {
    let all: Vec<AllUser> = sqlx::query_as(
        "SELECT d.email, d.username, p.name, p.organisation FROM directory_user d
         LEFT JOIN user_profile p ON p.user_id = d.sub WHERE d.gone_at IS NULL",
    )
    .fetch_all(pool)
    .await?;
    let needle = search.to_lowercase();
    let mut hits: Vec<&AllUser> = all
        .iter()
        .filter(|u| {
            u.email.to_lowercase().contains(&needle)
                || u.username.to_lowercase().contains(&needle)
                || u.name
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase().contains(&needle))
                || u.organisation
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase().contains(&needle))
        })
        .collect();
    hits.sort_by_key(|u| u.email.to_lowercase());
    Ok(hits.into_iter().take(50).count())
}

// ---------------------------------------------------------------------------------------------
// The proposed shape (not what the builder does today): the page without `count(*) OVER ()`,
// ordered by an index, plus a separate total capped at 10,001 ("10,000+ rows").
// ---------------------------------------------------------------------------------------------

const CAP: i64 = 10_001;

#[derive(sqlx::FromRow)]
#[allow(dead_code)]
struct MandateRow {
    id: uuid::Uuid,
    name: String,
    label: Option<String>,
    enabled: bool,
    created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(sqlx::FromRow)]
#[allow(dead_code)]
struct MemberRow {
    id: uuid::Uuid,
    email: String,
    full_name: Option<String>,
    roles: Vec<String>,
    enabled: bool,
}

async fn proposed_mandates(
    pool: &PgPool,
    search: Option<&str>,
    page: i64,
) -> anyhow::Result<(usize, i64)> {
    const COLS: &str = "SELECT m.id, m.name, m.label, m.enabled, m.created_at
                FROM mandate m WHERE m.deleted_at IS NULL AND m.enabled";
    let (rows, total): (Vec<MandateRow>, i64) = match search {
        Some(s) => {
            let pattern = format!("%{}%", hubdeck::store::query::escape_like(s));
            let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{COLS} AND (m.name ILIKE $1 OR m.label ILIKE $1)
                 ORDER BY m.name, m.id LIMIT 50 OFFSET $2"
            )))
            .bind(&pattern)
            .bind((page - 1) * 50)
            .fetch_all(pool)
            .await?;
            let total = sqlx::query_scalar(
                "SELECT count(*) FROM (SELECT 1 FROM mandate m WHERE m.deleted_at IS NULL
                   AND m.enabled AND (m.name ILIKE $1 OR m.label ILIKE $1) LIMIT $2) t",
            )
            .bind(&pattern)
            .bind(CAP)
            .fetch_one(pool)
            .await?;
            (rows, total)
        }
        None => {
            let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{COLS} ORDER BY m.name, m.id LIMIT 50 OFFSET $1"
            )))
            .bind((page - 1) * 50)
            .fetch_all(pool)
            .await?;
            let total = sqlx::query_scalar(
                "SELECT count(*) FROM (SELECT 1 FROM mandate m WHERE m.deleted_at IS NULL
                   AND m.enabled LIMIT $1) t",
            )
            .bind(CAP)
            .fetch_one(pool)
            .await?;
            (rows, total)
        }
    };
    Ok((rows.len(), total))
}

async fn proposed_members(
    pool: &PgPool,
    mandate: uuid::Uuid,
    page: i64,
    size: i64,
) -> anyhow::Result<(usize, i64)> {
    let rows: Vec<MemberRow> = sqlx::query_as(
        "SELECT um.id, d.email, p.name AS full_name,
                ARRAY(SELECT DISTINCT r.label FROM user_mandate_role umr
                      JOIN mandate_role r ON r.id = umr.mandate_role_id
                      WHERE umr.user_mandate_id = um.id AND r.feature_instance_id IS NULL
                      ORDER BY 1) AS roles,
                um.enabled
         FROM user_mandate um JOIN directory_user d ON d.sub = um.user_id
         LEFT JOIN user_profile p ON p.user_id = um.user_id
         WHERE um.mandate_id = $1 AND d.gone_at IS NULL
         ORDER BY lower(d.email), d.sub LIMIT $2 OFFSET $3",
    )
    .bind(mandate)
    .bind(size)
    .bind((page - 1) * size)
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT 1 FROM user_mandate WHERE mandate_id = $1 LIMIT $2) t",
    )
    .bind(mandate)
    .bind(CAP)
    .fetch_one(pool)
    .await?;
    Ok((rows.len(), total))
}

// ---------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------

fn bench_dir() -> PathBuf {
    std::env::var_os("HUBDECK_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data"))
}

fn sysadmin() -> Actor {
    Actor::Operator(Operator {
        sub: dataset::DEMO_ADMIN_SUB.into(),
        email: hubdeck::demo::DEMO_ADMIN_EMAIL.into(),
        permissions: PermissionRef::ALL.into_iter().collect(),
    })
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cores} cores ({cpu}), {mem} RAM")
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; a filter argument selects nothing here.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it:
    // then a quick smoke run on the small dataset in a temporary directory.
    let full = std::env::args().any(|a| a == "--bench");
    let scale = if full {
        std::env::var("HUBDECK_BENCH_SCALE").unwrap_or_else(|_| "bench".into())
    } else {
        "small".into()
    };
    let spec = DatasetSpec::named(&scale)
        .ok_or_else(|| anyhow::anyhow!("HUBDECK_BENCH_SCALE must be small, demo or bench"))?;
    let smoke_dir = if full {
        None
    } else {
        let d = tempfile::tempdir()?;
        std::fs::set_permissions(
            d.path(),
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
        )?;
        Some(d)
    };
    let data_dir = smoke_dir
        .as_ref()
        .map(|d| d.path().to_path_buf())
        .unwrap_or_else(bench_dir);
    std::fs::create_dir_all(&data_dir)?;
    let settings = hubdeck::config::Settings::default();
    let report = Reporter::new();
    let t = Instant::now();
    let prepared = hubdeck::demo::prepare(
        &settings,
        &data_dir,
        &DemoOptions {
            keep_running: true,
            ..DemoOptions::default()
        },
        &spec,
        &report,
    )
    .await?;
    report.finish();
    let setup = t.elapsed();
    let pool = hubdeck::store::connect_with(
        prepared.settings.database.url.expose().parse()?,
        4,
        Duration::from_secs(10),
    )
    .await?;
    let counts = dataset::counts(&pool).await?;
    let pg_version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await?;
    let big = dataset::big_mandate_id(&pool)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no big mandate"))?;

    let mut r = Report { md: String::new() };
    let _ = writeln!(
        r.md,
        "Machine: {}; PostgreSQL {pg_version}; dataset `{scale}`: {} live mandates ({} in total), \
         {} users, {} memberships ({} in the big mandate); dataset {} in {:.1} s.",
        machine(),
        counts.live_mandates,
        counts.mandates,
        counts.users,
        counts.memberships,
        counts.big_mandate_members,
        match prepared.outcome {
            dataset::Outcome::Generated => "generated",
            dataset::Outcome::Reused => "re-used",
        },
        setup.as_secs_f64()
    );
    println!("{}", r.md);

    let iters: usize = std::env::var("HUBDECK_BENCH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if full { 60 } else { 3 });
    let base_iters: usize = if full { 3 } else { 1 };

    let services = Services::new(
        pool.clone(),
        bench_directory(&pool),
        Arc::new(prepared.settings.clone()),
    );
    let actor = sysadmin();

    // -- mandates page --------------------------------------------------------------------------
    r.section(
        "Mandates page (50 rows): search + filter + sort, through `Services::list_mandates`",
        "| query | hubdeck p50 | hubdeck p95 | n | budget p95 | result | seed pattern p50 | ratio |\n|---|---|---|---|---|---|---|---|",
    );
    let cases: Vec<(&str, PageQuery, &str)> = vec![
        (
            "first page: search `leeds cardiology` (≈650 hits), enabled = yes, sort name",
            PageQuery::new(1, 50)
                .search("leeds cardiology")
                .filter("enabled", ["true"])
                .sort("name", SortDir::Asc),
            "leeds cardiology",
        ),
        (
            "page 10: search `leeds cardiology`, enabled = yes, sort name",
            PageQuery::new(10, 50)
                .search("leeds cardiology")
                .filter("enabled", ["true"])
                .sort("name", SortDir::Asc),
            "leeds cardiology",
        ),
        (
            "first page: search `leeds` (≈15,000 hits), enabled = yes, sort name",
            PageQuery::new(1, 50)
                .search("leeds")
                .filter("enabled", ["true"])
                .sort("name", SortDir::Asc),
            "leeds",
        ),
        (
            "page 200: search `leeds`, enabled = yes, sort name",
            PageQuery::new(200, 50)
                .search("leeds")
                .filter("enabled", ["true"])
                .sort("name", SortDir::Asc),
            "leeds",
        ),
        (
            "first page: search `imaging net`, label = research, sort created desc",
            PageQuery::new(1, 50)
                .search("imaging net")
                .filter("label", ["research"])
                .sort("created_at", SortDir::Desc),
            "imaging net",
        ),
        (
            "first page, no search: enabled = yes, sort name (≈930,000 hits)",
            PageQuery::new(1, 50)
                .filter("enabled", ["true"])
                .sort("name", SortDir::Asc),
            "",
        ),
        (
            "page 10,000, no search: enabled = yes, sort name",
            PageQuery::new(10_000, 50)
                .filter("enabled", ["true"])
                .sort("name", SortDir::Asc),
            "",
        ),
    ];
    for (name, q, search) in &cases {
        let s = measure(3, iters, |_| async {
            services.list_mandates(&actor, q).await.map(|p| p.total)
        })
        .await;
        let b = measure(1, base_iters, |_| async {
            let enabled = q
                .filters
                .iter()
                .any(|f| f.column == "enabled")
                .then_some(true);
            let label = q
                .filters
                .iter()
                .find(|f| f.column == "label")
                .and_then(|f| f.values.first())
                .map(String::as_str);
            baseline_mandates_page(&pool, search, enabled, label, q.page as usize, 50)
                .await
                .map(|x| x.0)
        })
        .await;
        r.row(format!(
            "| {name} | {} | {} | {} | ≤ 10 ms | {} | {} | {} |",
            ms(s.p50),
            ms(s.p95),
            s.n,
            verdict(s.p95 <= Duration::from_millis(10)),
            ms(b.p50),
            ratio(s.p50, b.p50)
        ));
    }

    // -- filter values --------------------------------------------------------------------------
    r.section(
        "Filter values (mandates), through `Services::mandate_filter_values`",
        "| column, other filters | hubdeck p50 | hubdeck p95 | n | budget p95 | result | seed pattern p50 | ratio |\n|---|---|---|---|---|---|---|---|",
    );
    let b = measure(1, base_iters, |_| async {
        baseline_filter_values(&pool).await.map(|v| v.len())
    })
    .await;
    for (name, column, q) in [
        ("label, no other filter", "label", PageQuery::new(1, 50)),
        ("enabled, no other filter", "enabled", PageQuery::new(1, 50)),
        (
            "label, with search `leeds` and enabled = yes",
            "label",
            PageQuery::new(1, 50)
                .search("leeds")
                .filter("enabled", ["true"]),
        ),
    ] {
        let s = measure(2, iters, |_| async {
            services
                .mandate_filter_values(&actor, column, &q)
                .await
                .map(|v| v.len())
        })
        .await;
        r.row(format!(
            "| {name} | {} | {} | {} | ≤ 20 ms | {} | {} | {} |",
            ms(s.p50),
            ms(s.p95),
            s.n,
            verdict(s.p95 <= Duration::from_millis(20)),
            ms(b.p50),
            ratio(s.p50, b.p50)
        ));
    }

    // -- members page ---------------------------------------------------------------------------
    r.section(
        "Members page of the 100,000-member mandate, through `Services::list_members`",
        "| page | hubdeck p50 | hubdeck p95 | n | statements | budget p95 | result | seed pattern | ratio |\n|---|---|---|---|---|---|---|---|---|",
    );
    let base_members = {
        let t = Instant::now();
        let (queries, _) = baseline_members_page(&pool, big, 1, 10).await?;
        (t.elapsed(), queries)
    };
    let big_id = hubdeck::domain::MandateId(big);
    for (name, q) in [
        (
            "page 1, 10 rows (default sort: joined)",
            PageQuery::new(1, 10),
        ),
        (
            "page 1, 500 rows (default sort: joined)",
            PageQuery::new(1, 500),
        ),
        (
            "page 1, 10 rows, sort email",
            PageQuery::new(1, 10).sort("email", SortDir::Asc),
        ),
        (
            "page 1, 500 rows, sort email",
            PageQuery::new(1, 500).sort("email", SortDir::Asc),
        ),
        ("page 100, 500 rows", PageQuery::new(100, 500)),
        (
            "search `khan`, 10 rows",
            PageQuery::new(1, 10).search("khan"),
        ),
    ] {
        let s = measure(2, iters, |_| async {
            services
                .list_members(&actor, big_id, &q)
                .await
                .map(|p| p.total)
        })
        .await;
        r.row(format!(
            "| {name} | {} | {} | {} | 1 | ≤ 15 ms | {} | {} ({} statements) | {} |",
            ms(s.p50),
            ms(s.p95),
            s.n,
            verdict(s.p95 <= Duration::from_millis(15)),
            ms(base_members.0),
            base_members.1,
            ratio(s.p50, base_members.0)
        ));
    }

    // -- proposed shape ---------------------------------------------------------------------------
    r.section(
        "Reference shape (hand-written SQL in the bench, for comparison): page without a total subquery + total capped at 10,001",
        "| query | p50 | p95 | n | budget p95 | result |\n|---|---|---|---|---|---|",
    );
    for (name, search, page, budget) in [
        (
            "mandates: no search, enabled = yes, sort name, first page",
            None,
            1i64,
            10u64,
        ),
        (
            "mandates: search `leeds`, enabled = yes, sort name, first page",
            Some("leeds"),
            1,
            10,
        ),
        (
            "mandates: search `leeds cardiology`, enabled = yes, first page",
            Some("leeds cardiology"),
            1,
            10,
        ),
    ] {
        let s = measure(2, iters, |_| async {
            proposed_mandates(&pool, search, page).await.map(|x| x.1)
        })
        .await;
        r.row(format!(
            "| {name} | {} | {} | {} | ≤ {budget} ms | {} |",
            ms(s.p50),
            ms(s.p95),
            s.n,
            verdict(s.p95 <= Duration::from_millis(budget))
        ));
    }
    for (name, page, size) in [
        (
            "members of the big mandate: page 1, 10 rows, sort email",
            1i64,
            10i64,
        ),
        (
            "members of the big mandate: page 1, 500 rows, sort email",
            1,
            500,
        ),
        (
            "members of the big mandate: page 100, 10 rows, sort email",
            100,
            10,
        ),
    ] {
        let s = measure(2, iters, |_| async {
            proposed_members(&pool, big, page, size).await.map(|x| x.1)
        })
        .await;
        r.row(format!(
            "| {name} | {} | {} | {} | ≤ 15 ms | {} |",
            ms(s.p50),
            ms(s.p95),
            s.n,
            verdict(s.p95 <= Duration::from_millis(15))
        ));
    }

    // -- users page -----------------------------------------------------------------------------
    r.section(
        "Users page (50 rows) with substring search, through `Services::list_users`",
        "| query | hubdeck p50 | hubdeck p95 | budget p95 | result | seed pattern p50 | ratio |\n|---|---|---|---|---|---|---|",
    );
    for search in ["khan", "amelia.patel", "turing"] {
        let q = PageQuery::new(1, 50).search(search);
        let s = measure(2, iters, |_| async {
            services.list_users(&actor, &q).await.map(|p| p.total)
        })
        .await;
        let b = measure(1, base_iters, |_| async {
            baseline_users_page(&pool, search).await
        })
        .await;
        r.row(format!(
            "| search `{search}` | {} | {} | ≤ 15 ms | {} | {} | {} |",
            ms(s.p50),
            ms(s.p95),
            verdict(s.p95 <= Duration::from_millis(15)),
            ms(b.p50),
            ratio(s.p50, b.p50)
        ));
    }

    // -- render -----------------------------------------------------------------------------------
    r.section(
        "Full redraw of a 200×60 table screen (TestBackend)",
        "| screen | median | p95 | budget median | result |\n|---|---|---|---|---|",
    );
    let render = render_bench(&services, iters.max(200)).await?;
    r.row(format!(
        "| Mandates, 50 rows of real data | {} | {} | ≤ 2 ms | {} |",
        ms(render.p50),
        ms(render.p95),
        verdict(render.p50 <= Duration::from_millis(2))
    ));

    let _ = writeln!(r.md);
    if full {
        let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-results.md");
        std::fs::write(&out, &r.md)?;
        println!("\nwritten to {}", out.display());
    }

    pool.close().await;
    prepared.db.close().await;
    if prepared.started {
        prepared.cluster.stop()?;
    }
    Ok(())
}

/// Renders the console's Mandates screen with a real page, 200×60, clearing before each draw so
/// every draw is a full redraw.
async fn render_bench(services: &Services, iters: usize) -> anyhow::Result<Stats> {
    use hubdeck::tui::action::{ListKey, Msg, Request, Row};
    use hubdeck::tui::app::{App, AppConfig};
    use hubdeck::tui::keymap::Keymap;
    use hubdeck::tui::theme::Theme;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    // The console's own data source for the Mandates list (the same rows the TUI shows).
    let source = hubdeck::tui::backend::source(services, &sysadmin(), &ListKey::Mandates);
    let page = source(PageQuery::new(1, 50)).await?;
    let total = page.total;
    let rows: Vec<Row> = page.items;
    let Actor::Operator(op) = sysadmin() else {
        anyhow::bail!("operator")
    };
    let mut app = App::new(
        AppConfig {
            environment: "demo".into(),
            environment_color: "green".into(),
            read_only: false,
            directory_kind: "local".into(),
            search_debounce_ms: 250,
            demo_credentials: None,
        },
        Keymap::defaults(),
        Theme::default_for(false, "green"),
        Some(op),
    );
    for req in app.take_requests() {
        if let Request::Page { id, list, query } = req
            && list == ListKey::Mandates
        {
            app.update(Msg::Page {
                id,
                list,
                result: Ok(Page {
                    items: rows.clone(),
                    total,
                    page: query.page,
                    page_size: query.page_size,
                    next_cursor: None,
                    nav: Default::default(),
                }),
            });
        }
    }
    let mut terminal = Terminal::new(TestBackend::new(200, 60))?;
    let mut samples = Vec::with_capacity(iters);
    for i in 0..iters + 20 {
        terminal.clear()?;
        let t = Instant::now();
        terminal.draw(|f| app.draw(f))?;
        if i >= 20 {
            samples.push(t.elapsed());
        }
    }
    let text = format!("{:?}", terminal.backend().buffer());
    anyhow::ensure!(
        rows.first()
            .is_some_and(|r| text.contains(r.cells[0].as_str().split(' ').next().unwrap_or(""))),
        "the rendered screen shows the first mandate"
    );
    Ok(stats(samples))
}

/// The benchmarked lists never call the directory (they read the `directory_user` cache); this
/// stand-in refuses every call so a list that did would fail the benchmark loudly.
fn bench_directory(_pool: &PgPool) -> Arc<dyn hubdeck::directory::Directory> {
    Arc::new(NoDirectory)
}

struct NoDirectory;

mod no_directory {
    use super::NoDirectory;
    use hubdeck::directory::*;
    use hubdeck::domain::{Email, Secret, UserSub};

    fn refused<T>() -> DirectoryResult<T> {
        Err(DirectoryError::Unavailable(
            "the benchmark does not call the directory".into(),
        ))
    }

    #[async_trait::async_trait]
    impl Directory for NoDirectory {
        fn kind(&self) -> &'static str {
            "none"
        }
        async fn create_user(&self, _: &NewIdentity) -> DirectoryResult<Identity> {
            refused()
        }
        async fn get_user(&self, _: &UserKey) -> DirectoryResult<Identity> {
            refused()
        }
        async fn find_by_sub(&self, _: UserSub) -> DirectoryResult<Identity> {
            refused()
        }
        async fn list_page(&self, _: Option<&str>) -> DirectoryResult<IdentityPage> {
            refused()
        }
        async fn set_enabled(&self, _: &str, _: bool) -> DirectoryResult<()> {
            refused()
        }
        async fn delete_user(&self, _: &str) -> DirectoryResult<()> {
            refused()
        }
        async fn resend_invite(&self, _: &str) -> DirectoryResult<()> {
            refused()
        }
        async fn authenticate(&self, _: &Email, _: &Secret) -> DirectoryResult<AuthOutcome> {
            refused()
        }
        async fn respond_new_password(
            &self,
            _: &NewPasswordChallenge,
            _: &Secret,
        ) -> DirectoryResult<UserSub> {
            refused()
        }
        async fn set_password(&self, _: &str, _: &Secret, _: bool) -> DirectoryResult<()> {
            refused()
        }
        async fn health(&self) -> DirectoryResult<()> {
            refused()
        }
    }
}
