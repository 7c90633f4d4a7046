//! The demo dataset generator, the demo command's cluster lifecycle, and index use of the list
//! queries on a generated dataset.

use hubdeck::store::dataset::{self, DatasetSpec, Outcome};

use crate::support::pg;

fn quiet(_: dataset::ProgressEvent) {}

#[tokio::test]
async fn generator_is_deterministic_and_reuses_an_unchanged_dataset() {
    let a = pg::fresh_db().await;
    let b = pg::fresh_db().await;
    let spec = DatasetSpec::small();
    let steps = std::sync::Mutex::new(Vec::new());
    let record = |e: dataset::ProgressEvent| steps.lock().unwrap().push(e.step);
    assert_eq!(
        dataset::ensure(&a.pool, &spec, None, &record)
            .await
            .unwrap(),
        Outcome::Generated
    );
    assert!(!steps.lock().unwrap().is_empty(), "progress was reported");
    dataset::generate(&b.pool, &spec, None, &quiet)
        .await
        .unwrap();

    let ca = dataset::counts(&a.pool).await.unwrap();
    let cb = dataset::counts(&b.pool).await.unwrap();
    assert_eq!(ca, cb);
    assert_eq!(
        dataset::fingerprint(&a.pool).await.unwrap(),
        dataset::fingerprint(&b.pool).await.unwrap()
    );
    // The shape the spec asks for.
    assert_eq!(ca.mandates, i64::from(spec.mandates) + 1);
    assert!(
        ca.deleted_mandates > 0 && ca.disabled_mandates > 0,
        "{ca:?}"
    );
    assert_eq!(ca.users, i64::from(spec.users) + 5, "{ca:?}"); // + 5 stuck-saga identities
    assert_eq!(ca.big_mandate_members, i64::from(spec.big_mandate_members));
    assert_eq!(ca.trusts, 30);
    assert_eq!(ca.free_slots, i64::from(spec.free_slots));
    assert_eq!(ca.stuck_registrations, 5);
    assert!(ca.audit_rows > 0 && ca.grants > 0);

    // Every mandate has one or two enabled admins.
    let bad: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mandate m WHERE (SELECT count(*) FROM user_mandate um
           JOIN user_mandate_role r ON r.user_mandate_id = um.id
           WHERE um.mandate_id = m.id AND um.enabled
             AND r.mandate_role_id = '9e0c1a52-5d1f-4f7e-9a55-0a4a1c2d3e01') NOT IN (1, 2)",
    )
    .fetch_one(&a.pool)
    .await
    .unwrap();
    assert_eq!(bad, 0);

    // The labels and admin flag written with each membership are what the product's own
    // set-based refresh (migrations 0410/0910) computes: recomputing them changes no row.
    let before: Vec<(uuid::Uuid, String, bool)> =
        sqlx::query_as("SELECT id, role_labels, member_admin FROM user_mandate ORDER BY id")
            .fetch_all(&a.pool)
            .await
            .unwrap();
    assert!(before.iter().any(|r| r.2) && before.iter().any(|r| r.1.contains(' ')));
    sqlx::query("SELECT hubdeck_refresh_member_labels(ARRAY(SELECT id FROM user_mandate))")
        .execute(&a.pool)
        .await
        .unwrap();
    let after: Vec<(uuid::Uuid, String, bool)> =
        sqlx::query_as("SELECT id, role_labels, member_admin FROM user_mandate ORDER BY id")
            .fetch_all(&a.pool)
            .await
            .unwrap();
    assert!(
        before == after,
        "the generator's labels differ from the refresh's"
    );
    // The indexes dropped for the load are all back, exactly as the migrations define them.
    let fresh = pg::fresh_db().await;
    let index_defs = |pool: hubdeck::store::Db| async move {
        sqlx::query_scalar::<_, String>(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let migrated = index_defs(fresh.pool.clone()).await;
    assert!(migrated.iter().any(|d| d.contains("gin_trgm_ops")));
    assert_eq!(index_defs(a.pool.clone()).await, migrated);

    // The plan on each mandate row is its live subscription's, as migration 1100's trigger
    // keeps it (none for a soft-deleted mandate, whose subscription is canceled).
    let wrong_plan: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mandate m WHERE m.plan_key IS DISTINCT FROM
           (SELECT s.plan_key FROM mandate_subscription s WHERE s.mandate_id = m.id
               AND s.status IN ('trialing', 'active', 'past_due'))",
    )
    .fetch_one(&a.pool)
    .await
    .unwrap();
    assert_eq!(wrong_plan, 0);
    let with_plan: i64 =
        sqlx::query_scalar("SELECT count(*) FROM mandate WHERE plan_key IS NOT NULL")
            .fetch_one(&a.pool)
            .await
            .unwrap();
    assert!(with_plan > 0);

    // The same first page of the Mandates list (the product's own query) in both databases.
    let first = |pool: hubdeck::store::Db| async move {
        hubdeck::store::mandates::list(
            &pool,
            &hubdeck::domain::PageQuery::new(1, 50),
            hubdeck::store::mandates::MandateScope::All,
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|m| (m.id, m.name, m.label, m.enabled))
        .collect::<Vec<_>>()
    };
    let fa = first(a.pool.clone()).await;
    assert_eq!(fa, first(b.pool.clone()).await);
    assert_eq!(fa.len(), 50);

    // Unchanged: re-used, nothing regenerated.
    assert_eq!(
        dataset::ensure(&a.pool, &spec, None, &quiet).await.unwrap(),
        Outcome::Reused
    );
    assert_eq!(dataset::counts(&a.pool).await.unwrap(), ca);

    // A different seed gives different data; a different spec on a populated database is refused.
    let c = pg::fresh_db().await;
    let other = DatasetSpec {
        seed: spec.seed + 1,
        ..spec.clone()
    };
    dataset::generate(&c.pool, &other, None, &quiet)
        .await
        .unwrap();
    assert_ne!(
        dataset::fingerprint(&a.pool).await.unwrap(),
        dataset::fingerprint(&c.pool).await.unwrap()
    );
    assert!(
        dataset::ensure(&a.pool, &other, None, &quiet)
            .await
            .is_err()
    );
    assert!(
        dataset::generate(&a.pool, &spec, None, &quiet)
            .await
            .is_err()
    );
}

// ---------------------------------------------------------------------------------------------
// The `hubdeck demo` command (real binary, temporary data dir, small scale)
// ---------------------------------------------------------------------------------------------

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hubdeck(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hubdeck"))
        .args(args)
        .env("HUBDECK_DATA_DIR", data_dir)
        .env("HUBDECK_DEMO_SCALE", "small")
        .env_remove("HUBDECK_PG_BINDIR")
        .output()
        .expect("run hubdeck")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A data dir the unprivileged server account can reach (as root the server runs as `postgres`).
fn open_data_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// postgres processes whose command line names a path under `root`.
fn postgres_processes_under(root: &Path) -> Vec<String> {
    let needle = root.to_string_lossy().into_owned();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains("postgres") && cmd.contains(&needle) {
                out.push(cmd);
            }
        }
    }
    out
}

fn cluster_root_of(data_dir: &Path) -> PathBuf {
    let run_as = hubdeck::localpg::RunAs::resolve().unwrap();
    hubdeck::demo::cluster_root(data_dir, run_as).0
}

/// The printed URL works (hubdeck and psql), goes over the private socket, and nothing
/// listens on TCP: no other local user can reach the trust-authenticated cluster.
async fn assert_socket_only(root: &Path, url: &str) {
    use std::os::unix::fs::PermissionsExt;
    let sock = root.join("sock");
    assert!(url.contains(&format!("host={}", sock.display())), "{url}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&sock), 0o700);
    assert_eq!(mode(root), 0o700, "the cluster root is private");
    assert_eq!(
        mode(&root.join("postgres.log")),
        0o600,
        "the server log is private"
    );
    let port: u16 = url
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("port="))
        .expect("port in the URL")
        .parse()
        .unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the demo cluster must not listen on TCP 127.0.0.1:{port}"
    );
    let show: String = {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let v = sqlx::query_scalar("SHOW listen_addresses")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        v
    };
    assert_eq!(show, "");
    // The URL works for hubdeck itself and for psql.
    let out = crate::support::cli::infra()
        .args([
            "mandates",
            "list",
            "--page-size",
            "1",
            "--database-url",
            url,
        ])
        .env("HUBDECK_DIRECTORY__KIND", "local")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let psql = hubdeck::localpg::PgBinaries::locate().unwrap().bin("psql");
    let out = Command::new(psql)
        .args([url, "-Atc", "SELECT count(*) > 0 FROM mandate"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "t");
}

#[tokio::test]
async fn demo_reuses_its_data_regenerates_with_fresh_and_stop_leaves_no_server() {
    let dir = open_data_dir();
    let root = cluster_root_of(dir.path());
    assert!(root.starts_with(dir.path()), "{root:?}");

    let first = hubdeck(dir.path(), &["demo", "--no-console"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("generated dataset"),
        "{}",
        stderr(&first)
    );
    let url = String::from_utf8_lossy(&first.stdout).trim().to_string();
    assert!(url.starts_with("postgres://"), "{url}");
    assert_socket_only(&root, &url).await;

    // The database is populated and carries the marker of the small spec.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    assert_eq!(
        dataset::current_hash(&pool).await.unwrap(),
        Some(DatasetSpec::small().hash())
    );
    let counts = dataset::counts(&pool).await.unwrap();
    // A row only this run's generation wrote: a second run must not rewrite it.
    let generated_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT generated_at FROM demo_dataset")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;

    let second = hubdeck(dir.path(), &["demo", "--no-console"]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("re-using the dataset"),
        "{}",
        stderr(&second)
    );
    assert!(
        !stderr(&second).contains("generating"),
        "{}",
        stderr(&second)
    );
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    assert_eq!(dataset::counts(&pool).await.unwrap(), counts);
    let again: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT generated_at FROM demo_dataset")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(again, generated_at);
    pool.close().await;

    let fresh = hubdeck(dir.path(), &["demo", "--fresh", "--no-console"]);
    assert!(fresh.status.success(), "{}", stderr(&fresh));
    assert!(
        stderr(&fresh).contains("generated dataset"),
        "{}",
        stderr(&fresh)
    );
    let url = String::from_utf8_lossy(&fresh.stdout).trim().to_string();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    assert_eq!(dataset::counts(&pool).await.unwrap(), counts);
    let regenerated: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT generated_at FROM demo_dataset")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(regenerated > generated_at);
    pool.close().await;

    // Other settings on the same data: refused with the remedy, nothing regenerated.
    let other = Command::new(env!("CARGO_BIN_EXE_hubdeck"))
        .args(["demo", "--no-console"])
        .env("HUBDECK_DATA_DIR", dir.path())
        .env("HUBDECK_DEMO_SCALE", "demo")
        .env_remove("HUBDECK_PG_BINDIR")
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(1), "{}", stderr(&other));
    assert!(
        stderr(&other).contains("hubdeck demo --fresh"),
        "{}",
        stderr(&other)
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_hubdeck"))
        .args(["demo", "--no-console"])
        .env("HUBDECK_DATA_DIR", dir.path())
        .env("HUBDECK_DEMO_SCALE", "huge")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));

    assert!(!postgres_processes_under(&root).is_empty());
    let stop = hubdeck(dir.path(), &["demo", "--stop"]);
    assert!(stop.status.success(), "{}", stderr(&stop));
    assert!(stderr(&stop).contains("stopped"), "{}", stderr(&stop));
    assert_eq!(postgres_processes_under(&root), Vec::<String>::new());
    // Stopping again is harmless.
    let stop = hubdeck(dir.path(), &["demo", "--stop"]);
    assert!(stop.status.success());
    assert!(stderr(&stop).contains("not running"), "{}", stderr(&stop));
}

#[test]
fn demo_without_server_binaries_names_the_package_and_fails() {
    let dir = open_data_dir();
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hubdeck"))
        .args(["demo"])
        .env("HUBDECK_DATA_DIR", dir.path())
        .env("HUBDECK_PG_BINDIR", empty.path())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("apt-get install postgresql"), "{err}");
    assert!(err.contains(&empty.path().display().to_string()), "{err}");
    // Nothing was created.
    assert!(!dir.path().join("demo").exists());
}

#[test]
fn binaries_search_list_can_be_empty() {
    let e = hubdeck::localpg::PgBinaries::locate_in(&[]).unwrap_err();
    assert!(e.to_string().contains("apt-get install postgresql"), "{e}");
}

/// As root the server runs as `postgres`; a data dir that account cannot traverse (mode 700,
/// like /root) sends the cluster to /var/tmp/hubdeck-demo-<uid>/<hash> with a note.
#[tokio::test]
async fn unreachable_data_dir_falls_back_to_var_tmp_as_root() {
    let Some(_) = hubdeck::localpg::RunAs::resolve().unwrap() else {
        return; // not root: the server runs as ourselves and reaches any dir we own
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let root = cluster_root_of(dir.path());
    assert!(root.starts_with("/var/tmp"), "{root:?}");
    let out = hubdeck(dir.path(), &["demo", "--no-console"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("the demo cluster lives in /var/tmp/hubdeck-demo-"),
        "{err}"
    );
    assert!(root.join("data/PG_VERSION").exists());
    let stop = hubdeck(dir.path(), &["demo", "--stop"]);
    assert!(stop.status.success(), "{}", stderr(&stop));
    assert_eq!(postgres_processes_under(&root), Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&root);
    if let Some(parent) = root.parent() {
        let _ = std::fs::remove_dir(parent); // only when empty
    }
}

// ---------------------------------------------------------------------------------------------
// Index use of the list page queries on a generated dataset (demo scale: 5,000 mandates,
// 20,000 users) — the plans the benchmarks rely on at 1,000,000 mandates.
// ---------------------------------------------------------------------------------------------

use hubdeck::domain::{MandateId, PageQuery, SortDir};
use hubdeck::store::mandates::MandateScope;

/// Tables big enough in production that a sequential scan of them on a page query is a bug.
const BIG_TABLES: [&str; 6] = [
    "mandate",
    "directory_user",
    "user_profile",
    "user_mandate",
    "user_role",
    "mandate_subscription",
];

fn assert_index_plan(what: &str, plan: &[String]) {
    let text = plan.join("\n");
    for t in BIG_TABLES {
        assert!(
            !text.contains(&format!("Seq Scan on {t} ")),
            "{what}: sequential scan of {t}:\n{text}"
        );
    }
    assert!(
        text.contains("Index Scan using")
            || text.contains("Index Only Scan using")
            || text.contains("Bitmap Index Scan on"),
        "{what}: no index:\n{text}"
    );
}

/// EXPLAIN of the users page statement with its real binds (the planner sees the values).
async fn explain_users(pool: &hubdeck::store::Db, q: &PageQuery, _params: &[&str]) -> Vec<String> {
    hubdeck::store::users::explain_page(pool, q, &[])
        .await
        .unwrap()
}

#[tokio::test]
async fn list_page_queries_use_indexes_on_a_generated_dataset() {
    let db = pg::fresh_db().await;
    // Large enough that the planner prefers an index where one pays off at scale (at 5,000
    // mandates a sequential scan of the whole table is legitimately cheaper), small enough
    // for CI.
    let spec = DatasetSpec {
        mandates: 60_000,
        ..DatasetSpec::demo()
    };
    dataset::generate(&db.pool, &spec, None, &quiet)
        .await
        .unwrap();
    let big = MandateId(dataset::big_mandate_id(&db.pool).await.unwrap().unwrap());
    let small = MandateId(
        sqlx::query_scalar(
            "SELECT mandate_id FROM user_mandate GROUP BY mandate_id HAVING count(*) = 3 LIMIT 1",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap(),
    );

    // Realistic plans (the planner may choose sequential scans): selective searches and lists
    // scoped to one mandate must be index scans.
    let q = PageQuery::new(1, 50)
        .search("leeds cardiology")
        .filter("enabled", ["true"])
        .sort("name", SortDir::Asc);
    assert_index_plan(
        "mandates: search + filter + sort",
        &hubdeck::store::mandates::explain_page(&db.pool, &q, MandateScope::All)
            .await
            .unwrap(),
    );
    assert_index_plan(
        "members of a 3-member mandate",
        &hubdeck::store::members::explain_page(&db.pool, small, &PageQuery::new(1, 10))
            .await
            .unwrap(),
    );

    // Unselective pages (the whole mandate list, the 6,000-member mandate, every user) read
    // every matching row for the exact total, so a sequential scan is a legitimate plan on a
    // table this small. With enable_seqscan off we check only that an index path EXISTS for
    // them; the benchmarks measure what they cost at 1,000,000 rows.
    let noseq = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("SET enable_seqscan = off")
                    .execute(conn)
                    .await
                    .map(|_| ())
            })
        })
        .connect(&db.url)
        .await
        .unwrap();
    let noseq = hubdeck::store::Db::from(noseq);
    let q = PageQuery::new(1, 50)
        .filter("enabled", ["true"])
        .sort("name", SortDir::Asc);
    assert_index_plan(
        "mandates: no search (index path exists)",
        &hubdeck::store::mandates::explain_page(&noseq, &q, MandateScope::All)
            .await
            .unwrap(),
    );
    assert_index_plan(
        "members of the big mandate (index path exists)",
        &hubdeck::store::members::explain_page(&noseq, big, &PageQuery::new(1, 500))
            .await
            .unwrap(),
    );
    // The users search at 20,000 users: the planner legitimately scans the ~800-page tables
    // sequentially; that the trigram index paths exist is checked with seq scans off (the
    // benchmark measures the search at 200,000 users).
    // A dense term (`khan`, about one user in 30) is a walk of the email index bounded by
    // `PROBE_ROWS`; a rarer one (`khan1`) collects its matches through the trigram indexes.
    let p = "'%khan%'";
    let dense = explain_users(
        &noseq,
        &PageQuery::new(1, 50).search("khan"),
        &[p, p, p, p, p, "50", "0"],
    )
    .await;
    assert!(
        dense
            .join("\n")
            .contains("Scan using directory_user_email_idx"),
        "{}",
        dense.join("\n")
    );
    assert!(
        dense.iter().all(|l| !l.contains("actual rows=5000 ")),
        "the probe found its page before its bound:\n{}",
        dense.join("\n")
    );
    let p = "'%khan1%'";
    let plan = explain_users(
        &noseq,
        &PageQuery::new(1, 50).search("khan1"),
        &[p, p, p, p, p, "50", "0"],
    )
    .await
    .join("\n");
    for index in [
        "directory_user_email_trgm",
        "directory_user_profile_name_trgm",
    ] {
        assert!(
            plan.contains(index),
            "users search without {index}:\n{plan}"
        );
    }
    assert_index_plan(
        "users: no search (index path exists)",
        &explain_users(&noseq, &PageQuery::new(1, 50), &["50", "0"]).await,
    );
}

// ---------------------------------------------------------------------------------------------
// End to end: the README command in tmux (real binary, temporary data dir, small scale)
// ---------------------------------------------------------------------------------------------

/// The live mandates of the small spec: the total the Mandates screen must show.
async fn small_live_mandates() -> String {
    let db = pg::fresh_db().await;
    dataset::generate(&db.pool, &DatasetSpec::small(), None, &quiet)
        .await
        .unwrap();
    let n = dataset::counts(&db.pool).await.unwrap().live_mandates;
    format!("of {}", hubdeck::domain::page::thousands(n as u64))
}

#[tokio::test]
async fn demo_opens_a_populated_mandates_screen_then_reuses_the_data() {
    let total = small_live_mandates().await;
    let dir = open_data_dir();
    let root = cluster_root_of(dir.path());
    let data = dir.path().display().to_string();
    let env = [
        ("HUBDECK_DATA_DIR", data.as_str()),
        ("HUBDECK_DEMO_SCALE", "small"),
    ];

    // First run: creates the cluster, generates, opens the console signed in as the demo admin.
    let t = crate::tui_e2e::Tmux::start(&["demo"], &env);
    let screen = t.wait_for(&["Mandates", total.as_str(), "admin@hubdeck.example"]);
    assert!(!screen.contains("Sign in"), "{screen}");
    assert!(!postgres_processes_under(&root).is_empty());
    // The help screen shows the demo credentials.
    t.keys(&["?"]);
    t.wait_for(&["admin@hubdeck.example", "hubdeck-demo"]);
    t.keys(&["Escape"]);
    t.wait_gone(&["hubdeck-demo"]);
    t.keys(&["q"]);
    let after = t.wait_for(&["__EXIT:0", "stopped the demo cluster"]);
    assert!(after.contains("generated dataset"), "{after}");
    assert!(
        after.contains("hubdeck-demo"),
        "credentials printed: {after}"
    );
    // Exiting the console stopped the cluster.
    assert_eq!(postgres_processes_under(&root), Vec::<String>::new());
    drop(t);

    // Second run: the same data, not regenerated.
    let t = crate::tui_e2e::Tmux::start(&["demo"], &env);
    t.wait_for(&["Mandates", total.as_str()]);
    t.keys(&["q"]);
    let after = t.wait_for(&["__EXIT:0", "stopped the demo cluster"]);
    assert!(after.contains("re-using the dataset"), "{after}");
    assert!(!after.contains("generating"), "{after}");
    assert_eq!(postgres_processes_under(&root), Vec::<String>::new());
    drop(t);

    // A cluster `demo --no-console` started for other terminals outlives a console on it.
    let shared = hubdeck(dir.path(), &["demo", "--no-console"]);
    assert!(shared.status.success(), "{}", stderr(&shared));
    let t = crate::tui_e2e::Tmux::start(&["demo"], &env);
    t.wait_for(&["Mandates", total.as_str()]);
    t.keys(&["q"]);
    let after = t.wait_for(&["__EXIT:0", "left running"]);
    assert!(!after.contains("stopped the demo cluster"), "{after}");
    assert!(!postgres_processes_under(&root).is_empty(), "still serving");
    drop(t);
    let stop = hubdeck(dir.path(), &["demo", "--stop"]);
    assert!(stop.status.success(), "{}", stderr(&stop));
    assert_eq!(postgres_processes_under(&root), Vec::<String>::new());
}

/// List pages are planned with their values: a generic plan built for the average mandate
/// (2 members) cost 550 ms instead of 0.6 ms on the 100,000-member mandate (BENCHMARKS.md).
#[tokio::test]
async fn pools_plan_every_statement_with_its_values() {
    let db = pg::fresh_db().await;
    let pool = hubdeck::store::connect_with(
        db.url.parse().unwrap(),
        1,
        std::time::Duration::from_secs(10),
    )
    .await
    .unwrap();
    let mode: String = sqlx::query_scalar("SHOW plan_cache_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mode, "force_custom_plan");
}

// ---------------------------------------------------------------------------------------------
// A cluster directory someone else prepared is never adopted (as root the cluster may live in
// a shared /var/tmp; a local user must not be able to steer root's chown/log writes).
// ---------------------------------------------------------------------------------------------

use std::os::unix::fs::MetadataExt;

/// A file that stands for something root must never touch (e.g. /etc/sudoers).
fn victim(dir: &Path) -> (PathBuf, std::fs::Metadata) {
    let v = dir.join("victim");
    std::fs::write(&v, b"root-only content\n").unwrap();
    std::fs::set_permissions(&v, std::fs::Permissions::from_mode(0o640)).unwrap();
    let meta = std::fs::metadata(&v).unwrap();
    (v, meta)
}

fn assert_untouched(v: &Path, before: &std::fs::Metadata) {
    let after = std::fs::metadata(v).unwrap();
    assert_eq!(std::fs::read(v).unwrap(), b"root-only content\n");
    assert_eq!(
        (after.uid(), after.gid(), after.mode()),
        (before.uid(), before.gid(), before.mode()),
        "the symlink's target was chowned/chmodded"
    );
}

/// Stops whatever demo cluster the data dir has and removes a fallback root, even when an
/// assertion failed (a refused run starts nothing; a run that wrongly succeeded must not leak).
struct DemoCleanup {
    data_dir: PathBuf,
    root: PathBuf,
}

impl Drop for DemoCleanup {
    fn drop(&mut self) {
        let _ = hubdeck(&self.data_dir, &["demo", "--stop"]);
        if self.root.starts_with("/var/tmp") {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// As root with an unreachable data dir the cluster root is `/var/tmp/hubdeck-demo-0/<hash>`:
/// the place another local account can prepare before root runs the demo.
fn var_tmp_root() -> Option<(tempfile::TempDir, PathBuf)> {
    hubdeck::localpg::RunAs::resolve().unwrap()?;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let root = cluster_root_of(dir.path());
    assert!(root.starts_with("/var/tmp"), "{root:?}");
    Some((dir, root))
}

#[test]
fn demo_refuses_a_pre_planted_log_symlink_and_leaves_its_target_alone() {
    let Some((dir, root)) = var_tmp_root() else {
        return; // not root: no shared fallback location
    };
    let _cleanup = DemoCleanup {
        data_dir: dir.path().into(),
        root: root.clone(),
    };
    let elsewhere = tempfile::tempdir().unwrap();
    let (v, before) = victim(elsewhere.path());
    std::fs::create_dir_all(&root).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&v, root.join("postgres.log")).unwrap();

    let out = hubdeck(dir.path(), &["demo", "--no-console"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&root.display().to_string()), "{err}");
    assert!(err.contains("hubdeck demo did not create"), "{err}");
    assert_untouched(&v, &before);
    assert!(
        !root.join("data/PG_VERSION").exists(),
        "no cluster was made"
    );
    assert!(postgres_processes_under(&root).is_empty());
}

#[test]
fn demo_refuses_a_cluster_directory_owned_by_another_account() {
    let Some((dir, root)) = var_tmp_root() else {
        return;
    };
    let _cleanup = DemoCleanup {
        data_dir: dir.path().into(),
        root: root.clone(),
    };
    std::fs::create_dir_all(&root).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
    // `nobody` (65534) stands for any other local account.
    std::os::unix::fs::chown(&root, Some(65534), Some(65534)).unwrap();

    for args in [&["demo", "--no-console"][..], &["demo", "--stop"][..]] {
        let out = hubdeck(dir.path(), args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("owned by uid 65534"), "{err}");
    }
    assert_eq!(std::fs::metadata(&root).unwrap().uid(), 65534);
    assert_eq!(
        std::fs::read_dir(&root).unwrap().count(),
        0,
        "nothing written inside"
    );
}

/// A cluster hubdeck made itself is re-used, but a log swapped for a symlink afterwards is
/// refused (checked without following it), and its target stays untouched.
#[tokio::test]
async fn demo_refuses_a_log_swapped_for_a_symlink_in_its_own_cluster() {
    let dir = open_data_dir();
    let root = cluster_root_of(dir.path());
    let _cleanup = DemoCleanup {
        data_dir: dir.path().into(),
        root: root.clone(),
    };
    let first = hubdeck(dir.path(), &["demo", "--no-console"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let stop = hubdeck(dir.path(), &["demo", "--stop"]);
    assert!(stop.status.success(), "{}", stderr(&stop));

    let elsewhere = tempfile::tempdir().unwrap();
    let (v, before) = victim(elsewhere.path());
    std::fs::remove_file(root.join("postgres.log")).unwrap();
    std::os::unix::fs::symlink(&v, root.join("postgres.log")).unwrap();
    let again = hubdeck(dir.path(), &["demo", "--no-console"]);
    let err = stderr(&again);
    assert_eq!(again.status.code(), Some(1), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_untouched(&v, &before);
    assert!(postgres_processes_under(&root).is_empty());
}
