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
    pool: &hubdeck::store::Db,
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

async fn baseline_filter_values(pool: &hubdeck::store::Db) -> anyhow::Result<Vec<String>> {
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
    pool: &hubdeck::store::Db,
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
async fn baseline_users_page(pool: &hubdeck::store::Db, search: &str) -> anyhow::Result<usize> {
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

    // -- every list page the console asks for, against the forced-plan reference -----------------
    console_pages(&mut r, &services, &actor, &pool, big, iters, base_iters).await?;

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
    use hubdeck::tui::action::ListSource;
    use hubdeck::tui::app::{App, AppConfig};
    use hubdeck::tui::keymap::Keymap;
    use hubdeck::tui::msg::{Msg, Request};
    use hubdeck::tui::screens::mandates::Reply as MandatesReply;
    use hubdeck::tui::screens::mandates::data::{MandateRow, Mandates};
    use hubdeck::tui::theme::Theme;
    use hubdeck::tui::widgets::table::Fetched;
    use hubdeck::tui::widgets::table::TableRow;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    // The console's own data source for the Mandates list (the same rows the TUI shows).
    let page = Mandates
        .page(services.clone(), sysadmin(), PageQuery::new(1, 50))
        .await?;
    let total = page.total;
    let rows: Vec<MandateRow> = page.items;
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
            idle: None,
        },
        Keymap::defaults(),
        Theme::default_for(false, "green"),
        Some(op),
    );
    for req in app.take_requests() {
        if let Request::Page {
            id, list, query, ..
        } = req
            && list == "mandates"
        {
            app.update(Msg::reply(
                id,
                MandatesReply::Page(Fetched {
                    want: query.want,
                    page: Ok(Page {
                        items: rows.clone(),
                        total,
                        page: query.page,
                        page_size: query.page_size,
                        next_cursor: None,
                        nav: Default::default(),
                    }),
                }),
            ));
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
            .is_some_and(|r| text.contains(r.cells()[0].as_str().split(' ').next().unwrap_or(""))),
        "the rendered screen shows the first mandate"
    );
    Ok(stats(samples))
}

/// The benchmarked lists never call the directory (they read the `directory_user` cache); this
/// stand-in refuses every call so a list that did would fail the benchmark loudly.
fn bench_directory(_pool: &hubdeck::store::Db) -> Arc<dyn hubdeck::directory::Directory> {
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
        ) -> DirectoryResult<AuthOutcome> {
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

// ---------------------------------------------------------------------------------------------
// Console pages (issue 13): each page the console can ask for, through the service layer with
// `Want::Rows` (the console never waits for a count), against the best hand-written statement for
// the same rows with its plan forced, measured in the same run on the same connection pool.
// ---------------------------------------------------------------------------------------------

/// Which list a case reads.
#[derive(Clone)]
enum Target {
    Mandates(PageQuery),
    Members(PageQuery),
    Users(PageQuery),
}

impl Target {
    fn query(&self) -> &PageQuery {
        match self {
            Target::Mandates(q) | Target::Members(q) | Target::Users(q) => q,
        }
    }
    fn with(&self, q: PageQuery) -> Target {
        match self {
            Target::Mandates(_) => Target::Mandates(q),
            Target::Members(_) => Target::Members(q),
            Target::Users(_) => Target::Users(q),
        }
    }
}

async fn run_target(
    services: &Services,
    actor: &Actor,
    big: uuid::Uuid,
    t: &Target,
) -> anyhow::Result<hubdeck::domain::page::PageNav> {
    Ok(match t {
        Target::Mandates(q) => services.list_mandates(actor, q).await?.nav,
        Target::Members(q) => {
            services
                .list_members(actor, hubdeck::domain::MandateId(big), q)
                .await?
                .nav
        }
        Target::Users(q) => services.list_users(actor, q).await?.nav,
    })
}

/// The hand-written reference: one statement, the plan forced with planner switches.
struct Reference {
    sql: String,
    binds: Vec<String>,
    forced: &'static [&'static str],
}

/// Walk the sort index (no bitmap, no sort).
const FORCE_WALK: &[&str] = &[
    "enable_seqscan = off",
    "enable_bitmapscan = off",
    "enable_sort = off",
];
/// The trigram bitmap for the matches, then a top-N sort of the matches only.
const FORCE_BITMAP: &[&str] = &["enable_seqscan = off", "enable_indexscan = off"];

/// Times `r` on one connection with the planner switches `forced` set (reset afterwards).
async fn measure_reference(
    pool: &hubdeck::store::Db,
    r: &Reference,
    forced: &[&str],
    iters: usize,
) -> anyhow::Result<Stats> {
    let mut conn = pool.pool().acquire().await?;
    for f in forced {
        sqlx::query(sqlx::AssertSqlSafe(format!("SET {f}")))
            .execute(&mut *conn)
            .await?;
    }
    let conn = std::sync::Arc::new(tokio::sync::Mutex::new(conn));
    let warmup = if iters > 1 { 3 } else { 0 };
    let st = measure(warmup, iters, |_| {
        let c = conn.clone();
        async move {
            let mut g = c.lock().await;
            run_reference(&mut g, r).await
        }
    })
    .await;
    let mut g = conn.lock().await;
    sqlx::query("RESET ALL").execute(&mut **g).await?;
    Ok(st)
}

async fn run_reference(conn: &mut sqlx::PgConnection, r: &Reference) -> anyhow::Result<usize> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(r.sql.clone()));
    for b in &r.binds {
        q = q.bind(b.clone());
    }
    Ok(q.fetch_all(&mut *conn).await?.len())
}

const MANDATE_SELECT: &str = "SELECT m.id, m.name, m.label, m.enabled, m.deleted_at, m.created_at, m.updated_at FROM mandate m WHERE m.deleted_at IS NULL";
const MEMBER_SELECT: &str = "SELECT um.id, um.user_id, um.mandate_id, du.username, du.email, up.name AS full_name, \
     COALESCE((SELECT array_agg(DISTINCT r.id) FROM user_mandate_role umr JOIN mandate_role r ON r.id = umr.mandate_role_id WHERE umr.user_mandate_id = um.id AND r.feature_instance_id IS NULL), '{}') AS role_ids, \
     um.role_labels, um.enabled, um.created_at \
     FROM user_mandate um LEFT JOIN directory_user du ON du.sub = um.user_id \
     LEFT JOIN user_profile up ON up.user_id = um.user_id WHERE um.mandate_id = $1::uuid";
const USER_SELECT: &str = "SELECT d.sub, d.username, d.email, d.enabled, d.status, d.synced_at, p.name, p.organisation, \
     ARRAY(SELECT r.name FROM user_role ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = d.sub ORDER BY r.name) AS roles \
     FROM directory_user d LEFT JOIN user_profile p ON p.user_id = d.sub WHERE d.gone_at IS NULL";

/// Reference for a case: `(key expr, tiebreak)` ordered `dir`; `cursor` = rows after (forward)
/// or before (backward) this row; `search` = the list's search condition with bind `$n`.
#[allow(clippy::too_many_arguments)]
fn reference(
    select: &str,
    mut binds: Vec<String>,
    key: &str,
    key_type: &str,
    tie: &str,
    dir: SortDir,
    backwards: bool,
    cursor: Option<&hubdeck::domain::page::Cursor>,
    search: Option<(&str, &str)>,
) -> Reference {
    let mut sql = select.to_string();
    let forced = if let Some((cond, term)) = search {
        binds.push(format!("%{}%", hubdeck::store::query::escape_like(term)));
        sql.push_str(&format!(
            " AND ({})",
            cond.replace("$S", &format!("${}", binds.len()))
        ));
        FORCE_BITMAP
    } else {
        FORCE_WALK
    };
    let forward = (dir == SortDir::Asc) != backwards;
    match cursor.map(|c| (c.keys[0].clone(), c)) {
        Some((Some(k), c)) => {
            binds.push(k);
            binds.push(c.id.clone());
            let n = binds.len();
            // A NULL key sorts after every value ascending (first descending).
            let nulls = if forward {
                format!(" OR {key} IS NULL")
            } else {
                String::new()
            };
            sql.push_str(&format!(
                " AND (({key}, {tie}) {} (${}::{key_type}, ${n}::uuid){nulls})",
                if forward { ">" } else { "<" },
                n - 1
            ));
        }
        Some((None, c)) => {
            binds.push(c.id.clone());
            let n = binds.len();
            sql.push_str(&if forward {
                format!(" AND {key} IS NULL AND {tie} > ${n}::uuid")
            } else {
                format!(" AND (({key} IS NULL AND {tie} < ${n}::uuid) OR {key} IS NOT NULL)")
            });
        }
        None => {}
    }
    let d = if forward { "ASC" } else { "DESC" };
    sql.push_str(&format!(" ORDER BY {key} {d}, {tie} {d} LIMIT 51"));
    Reference { sql, binds, forced }
}

#[allow(clippy::too_many_arguments)]
async fn console_pages(
    r: &mut Report,
    services: &Services,
    actor: &Actor,
    pool: &hubdeck::store::Db,
    big: uuid::Uuid,
    iters: usize,
    base_iters: usize,
) -> anyhow::Result<()> {
    use hubdeck::domain::page::{Position, Want};
    r.section(
        "Every list page the console asks for (50 rows, `Want::Rows`), through the service layer, against the forced-plan reference of the same run",
        "| list, page | hubdeck p50 | hubdeck p95 | n | reference p50 | reference p95 | reference plan | ratio to the reference (p95) | budget | result | seed pattern p50 | faster than the seed |\n|---|---|---|---|---|---|---|---|---|---|---|---|",
    );
    // Seed-pattern baselines, once per list (seconds each).
    let seed_mandates = measure(0, base_iters, |_| async {
        baseline_mandates_page(pool, "", None, None, 1, 50)
            .await
            .map(|x| x.0)
    })
    .await;
    let seed_leeds = measure(0, base_iters, |_| async {
        baseline_mandates_page(pool, "leeds", None, None, 1, 50)
            .await
            .map(|x| x.0)
    })
    .await;
    let seed_members = {
        let t = Instant::now();
        baseline_members_page(pool, big, 1, 50).await?;
        t.elapsed()
    };
    let seed_users = measure(0, base_iters, |_| async {
        baseline_users_page(pool, "turing").await
    })
    .await;

    let rows = PageQuery::new(1, 50).wanting(Want::Rows);
    const MS: &str = "m.name ILIKE $S OR m.label ILIKE $S";
    const US: &str = "(d.email ILIKE $S OR d.username ILIKE $S OR d.profile_name ILIKE $S \
                      OR d.profile_organisation ILIKE $S)";
    const MEMS: &str = "um.member_search ILIKE $S";
    // (label, target at page 1, reference select, key, key type, tie, dir, search, seed)
    type Family<'a> = (
        String,
        Target,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        SortDir,
        Option<(&'a str, &'a str)>,
        Duration,
    );
    let fams: Vec<Family> = vec![
        (
            "mandates, sort name".to_string(),
            Target::Mandates(rows.clone()),
            MANDATE_SELECT,
            "m.name",
            "text",
            "m.id",
            SortDir::Asc,
            None,
            seed_mandates.p50,
        ),
        (
            "mandates, sort created ▼".to_string(),
            Target::Mandates(rows.clone().sort("created_at", SortDir::Desc)),
            MANDATE_SELECT,
            "m.created_at",
            "timestamptz",
            "m.id",
            SortDir::Desc,
            None,
            seed_mandates.p50,
        ),
        (
            "mandates, `/leeds` (≈15,000 hits), sort name".to_string(),
            Target::Mandates(rows.clone().search("leeds")),
            MANDATE_SELECT,
            "m.name",
            "text",
            "m.id",
            SortDir::Asc,
            Some((MS, "leeds")),
            seed_leeds.p50,
        ),
        (
            "mandates, `/leeds cardiology`, sort name".to_string(),
            Target::Mandates(rows.clone().search("leeds cardiology")),
            MANDATE_SELECT,
            "m.name",
            "text",
            "m.id",
            SortDir::Asc,
            Some((MS, "leeds cardiology")),
            seed_leeds.p50,
        ),
        (
            "members of the 100,000-member mandate, default order".to_string(),
            Target::Members(rows.clone()),
            MEMBER_SELECT,
            "um.created_at",
            "timestamptz",
            "um.id",
            SortDir::Asc,
            None,
            seed_members,
        ),
        (
            "members, sort email ▲".to_string(),
            Target::Members(rows.clone().sort("email", SortDir::Asc)),
            MEMBER_SELECT,
            "lower(um.member_email)",
            "text",
            "um.id",
            SortDir::Asc,
            None,
            seed_members,
        ),
        (
            "members, sort email ▼".to_string(),
            Target::Members(rows.clone().sort("email", SortDir::Desc)),
            MEMBER_SELECT,
            "lower(um.member_email)",
            "text",
            "um.id",
            SortDir::Desc,
            None,
            seed_members,
        ),
        (
            "members, `/khan`".to_string(),
            Target::Members(rows.clone().search("khan")),
            MEMBER_SELECT,
            "um.created_at",
            "timestamptz",
            "um.id",
            SortDir::Asc,
            Some((MEMS, "khan")),
            seed_members,
        ),
        (
            "users (200,000), sort email".to_string(),
            Target::Users(rows.clone()),
            USER_SELECT,
            "lower(d.email)",
            "text",
            "d.sub",
            SortDir::Asc,
            None,
            seed_users.p50,
        ),
        (
            "users, `/turing`".to_string(),
            Target::Users(rows.clone().search("turing")),
            USER_SELECT,
            "lower(d.email)",
            "text",
            "d.sub",
            SortDir::Asc,
            Some((US, "turing")),
            seed_users.p50,
        ),
        (
            "users, `/khan`".to_string(),
            Target::Users(rows.clone().search("khan")),
            USER_SELECT,
            "lower(d.email)",
            "text",
            "d.sub",
            SortDir::Asc,
            Some((US, "khan")),
            seed_users.p50,
        ),
    ];
    // The other sorts the screens offer (`s` cycles every sortable column, ▲ then ▼).
    let mut fams = fams;
    let mut extra: Vec<Family> = Vec::new();
    for (col, key, ty, dirs) in [
        ("name", "m.name", "text", &[SortDir::Desc][..]),
        (
            "label",
            "m.label",
            "text",
            &[SortDir::Asc, SortDir::Desc][..],
        ),
        (
            "enabled",
            "m.enabled",
            "boolean",
            &[SortDir::Asc, SortDir::Desc][..],
        ),
        (
            "created_at",
            "m.created_at",
            "timestamptz",
            &[SortDir::Asc][..],
        ),
    ] {
        for d in dirs {
            extra.push((
                sort_label("mandates", col, *d),
                Target::Mandates(rows.clone().sort(col, *d)),
                MANDATE_SELECT,
                key,
                ty,
                "m.id",
                *d,
                None,
                seed_mandates.p50,
            ));
        }
    }
    for (col, key, ty) in [
        ("full_name", "lower(um.member_name)", "text"),
        ("roles", "um.role_labels", "text"),
        ("admin", "um.member_admin", "boolean"),
        ("enabled", "um.enabled", "boolean"),
    ] {
        for d in [SortDir::Asc, SortDir::Desc] {
            extra.push((
                sort_label("members", col, d),
                Target::Members(rows.clone().sort(col, d)),
                MEMBER_SELECT,
                key,
                ty,
                "um.id",
                d,
                None,
                seed_members,
            ));
        }
    }
    for (col, key, ty, dirs) in [
        ("email", "lower(d.email)", "text", &[SortDir::Desc][..]),
        (
            "name",
            "lower(d.profile_name)",
            "text",
            &[SortDir::Asc, SortDir::Desc][..],
        ),
        (
            "organisation",
            "lower(d.profile_organisation)",
            "text",
            &[SortDir::Asc, SortDir::Desc][..],
        ),
        (
            "enabled",
            "d.enabled",
            "boolean",
            &[SortDir::Asc, SortDir::Desc][..],
        ),
        (
            "status",
            "d.status",
            "text",
            &[SortDir::Asc, SortDir::Desc][..],
        ),
    ] {
        for d in dirs {
            extra.push((
                sort_label("users", col, *d),
                Target::Users(rows.clone().sort(col, *d)),
                USER_SELECT,
                key,
                ty,
                "d.sub",
                *d,
                None,
                seed_users.p50,
            ));
        }
    }
    fams.extend(extra);
    let mut misses = 0;
    let mut total_rows = 0;
    // `HUBDECK_BENCH_ONLY=members` re-measures only the cases whose label contains it.
    let only = std::env::var("HUBDECK_BENCH_ONLY").unwrap_or_default();
    for (label, first, select, key, key_type, tie, dir, search, seed) in fams {
        if !label.contains(only.as_str()) {
            continue;
        }
        let base_binds: Vec<String> = match first {
            Target::Members(_) => vec![big.to_string()],
            _ => Vec::new(),
        };
        // The positions: first, next (after page 1), previous (before page 3's first row:
        // page 2), PgUp from page 2 (the console asks for page 1 itself, the first page's
        // statement again), last, PgUp from the end.
        // The page after the one `nav` describes.
        let after = |nav: &hubdeck::domain::page::PageNav| {
            first.with(
                first.query().clone().at(Position::After(
                    nav.last
                        .clone()
                        .unwrap_or_else(|| nav.first.clone().unwrap_or_default_cursor()),
                )),
            )
        };
        let nav1 = run_target(services, actor, big, &first).await?;
        let next = after(&nav1);
        let nav2 = run_target(services, actor, big, &next).await?;
        let nav3 = run_target(services, actor, big, &after(&nav2)).await?;
        let prev = first.with(first.query().clone().at(Position::Before(
            nav3.first.clone().unwrap_or_default_cursor(),
        )));
        let last = first.with(first.query().clone().at(Position::Last));
        let navl = run_target(services, actor, big, &last).await?;
        let up = first.with(first.query().clone().at(Position::Before(
            navl.first.clone().unwrap_or_default_cursor(),
        )));
        let c2 = nav1.last.clone();
        let cp = nav3.first.clone();
        let cl = navl.first.clone();
        // The reference for the rows after (or, backwards, before) `cursor`.
        let refr = |backwards: bool, cursor: Option<&hubdeck::domain::page::Cursor>| {
            reference(
                select,
                base_binds.clone(),
                key,
                key_type,
                tie,
                dir,
                backwards,
                cursor,
                search,
            )
        };
        let cases: Vec<(&str, Target, Reference)> = vec![
            ("first", first.clone(), refr(false, None)),
            ("next", next, refr(false, c2.as_ref())),
            ("previous", prev, refr(true, cp.as_ref())),
            ("PgUp back to page 1", first.clone(), refr(false, None)),
            ("last (End)", last, refr(true, None)),
            ("PgUp from the end", up, refr(true, cl.as_ref())),
        ];
        for (pos, target, refr) in cases {
            let s = measure(3, iters, |_| async {
                // The first page of a query is planned from nothing remembered; the pages after
                // it re-use its estimates, as they do in the console (store::estimates).
                if pos == "first" {
                    hubdeck::store::estimates::forget(pool);
                }
                run_target(services, actor, big, &target)
                    .await
                    .map(|n| n.at_end)
            })
            .await;
            // The reference is the better of the forced plans: for a search both the trigram
            // bitmap (plus a top-N sort) and the sort-index walk (filtering as it goes) are
            // measured, the walk only when one probe of it is not already far slower.
            let mut rf = measure_reference(pool, &refr, refr.forced, iters).await?;
            let mut plan_used = if search.is_some() { "bitmap" } else { "walk" };
            if search.is_some() {
                let probe = measure_reference(pool, &refr, FORCE_WALK, 1).await?;
                if probe.p95 < rf.p95 * 3 {
                    let walk = measure_reference(pool, &refr, FORCE_WALK, iters).await?;
                    if walk.p95 < rf.p95 {
                        rf = walk;
                        plan_used = "walk";
                    }
                }
            }
            let limit = Duration::from_millis(10);
            let ok = s.p95 <= limit
                || (rf.p95 > limit && s.p95.as_secs_f64() <= 1.5 * rf.p95.as_secs_f64());
            misses += usize::from(!ok);
            total_rows += 1;
            r.row(format!(
                "| {label}: {pos} | {} | {} | {} | {} | {} | {plan_used} | {:.2}× | ≤ 10 ms, or ≤ 1.5× a reference above 10 ms | {} | {} | {} |",
                ms(s.p50),
                ms(s.p95),
                s.n,
                ms(rf.p50),
                ms(rf.p95),
                s.p95.as_secs_f64() / rf.p95.as_secs_f64().max(1e-9),
                verdict(ok),
                ms(seed),
                ratio(s.p50, seed)
            ));
        }
    }
    r.row(format!("\n{total_rows} pages, {misses} misses.\n"));

    // -- counts: separate requests, once per query change ----------------------------------------
    r.section(
        "Count requests (separate from the page; once per search/filter/sort change)",
        "| list, query | estimate p50 | capped count (≤ 100,001) p50 | exact count p50 (CLI `total`) |\n|---|---|---|---|",
    );
    for (label, t) in [
        (
            "mandates, no search",
            Target::Mandates(PageQuery::new(1, 50)),
        ),
        (
            "mandates, `/leeds`",
            Target::Mandates(PageQuery::new(1, 50).search("leeds")),
        ),
        (
            "members of the big mandate",
            Target::Members(PageQuery::new(1, 50)),
        ),
        (
            "members, `/khan`",
            Target::Members(PageQuery::new(1, 50).search("khan")),
        ),
        (
            "users, `/turing`",
            Target::Users(PageQuery::new(1, 50).search("turing")),
        ),
    ] {
        let mut out = Vec::new();
        for want in [Want::Estimate, Want::CappedCount, Want::RowsAndTotal] {
            let t = t.with(t.query().clone().wanting(want));
            let s = measure(1, iters.min(10), |_| async {
                // Asked once per query change: nothing remembered yet.
                hubdeck::store::estimates::forget(pool);
                run_target(services, actor, big, &t).await.map(|n| n.at_end)
            })
            .await;
            out.push(ms(s.p50));
        }
        r.row(format!(
            "| {label} | {} | {} | {} |",
            out[0], out[1], out[2]
        ));
    }

    // -- OFFSET: the CLI's explicit jump ----------------------------------------------------------
    r.section(
        "Explicit jump (CLI `--page`, OFFSET; the console never uses it)",
        "| query | p50 | p95 | n |\n|---|---|---|---|",
    );
    for page in [200u32, 10_000] {
        let t = Target::Mandates(PageQuery::new(page, 50).wanting(Want::Rows));
        let s = measure(1, iters.min(20), |_| async {
            run_target(services, actor, big, &t).await.map(|n| n.at_end)
        })
        .await;
        r.row(format!(
            "| mandates `--page {page}`, sort name | {} | {} | {} |",
            ms(s.p50),
            ms(s.p95),
            s.n
        ));
    }
    Ok(())
}

/// "mandates, sort label ▼"
fn sort_label(list: &str, col: &str, d: SortDir) -> String {
    let arrow = if d == SortDir::Asc { "▲" } else { "▼" };
    format!("{list}, sort {col} {arrow}")
}

trait OrDefaultCursor {
    fn unwrap_or_default_cursor(self) -> hubdeck::domain::page::Cursor;
}

impl OrDefaultCursor for Option<hubdeck::domain::page::Cursor> {
    fn unwrap_or_default_cursor(self) -> hubdeck::domain::page::Cursor {
        self.unwrap_or(hubdeck::domain::page::Cursor {
            keys: vec![None],
            id: uuid::Uuid::nil().to_string(),
        })
    }
}
