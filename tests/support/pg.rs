//! The ephemeral PostgreSQL cluster and per-test databases.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::Duration;

use hubdeck::localpg::{LocalCluster, PgBinaries, free_port};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub struct Cluster {
    pub cluster: LocalCluster,
    pub root: PathBuf,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static PG_PID: AtomicI32 = AtomicI32::new(0);
static COUNTER: AtomicUsize = AtomicUsize::new(0);
static ROOT: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn cleanup_at_exit() {
    let pid = PG_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: plain syscalls on a child pid we started.
        unsafe {
            libc::kill(pid, libc::SIGQUIT);
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
        }
    }
    if let Some(root) = ROOT.get() {
        let _ = std::fs::remove_dir_all(root);
    }
}

const TEMPLATE: &str = "hubdeck_template";

/// Starts (once per test process) the cluster and the migrated template database.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| {
        let bins = PgBinaries::locate()
            .unwrap_or_else(|e| super::fail_missing("the PostgreSQL server", &e.to_string()));
        let root = std::env::temp_dir().join(format!("hubdeck-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("create cluster root");
        let _ = ROOT.set(root.clone());
        let port = free_port().expect("free port");
        let mut cluster = LocalCluster::new(bins, &root, port).expect("cluster");
        cluster.unsafe_fast = true;
        cluster.init().unwrap_or_else(|e| panic!("initdb: {e}"));
        let c2 = cluster.clone();
        let child = super::on_keeper(move || c2.spawn_attached(true))
            .unwrap_or_else(|e| panic!("start postgres: {e}"));
        PG_PID.store(child.id() as i32, Ordering::SeqCst);
        std::mem::forget(child);
        // SAFETY: registering a plain extern "C" fn.
        unsafe {
            libc::atexit(cleanup_at_exit);
        }
        let c3 = cluster.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("rt");
            rt.block_on(async {
                c3.wait_ready(Duration::from_secs(30))
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                let admin = PgPool::connect(&c3.url("postgres"))
                    .await
                    .expect("connect postgres");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {TEMPLATE}")))
                    .execute(&admin)
                    .await
                    .expect("create template");
                let tpl = PgPool::connect(&c3.url(TEMPLATE))
                    .await
                    .expect("connect template");
                hubdeck::store::migrate(&tpl.clone().into())
                    .await
                    .expect("migrate template");
                tpl.close().await;
                admin.close().await;
            })
        })
        .join()
        .expect("template setup");
        Cluster { cluster, root }
    })
}

/// A fresh, migrated database for one test.
pub struct TestDb {
    /// hubdeck's handle (a plain pool: straight to the server); an sqlx executor like the pool.
    pub pool: hubdeck::store::Db,
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// Another pool on the same database (e.g. with more connections for a concurrency test).
    pub async fn pool_with(&self, max_connections: u32) -> hubdeck::store::Db {
        let opts: PgConnectOptions = self.url.parse().expect("url");
        PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(opts)
            .await
            .expect("connect")
            .into()
    }

    /// Settings pointing at this database (LocalDirectory, test-friendly defaults).
    pub fn settings(&self) -> hubdeck::config::Settings {
        let mut s = hubdeck::config::Settings::default();
        s.database.url = hubdeck::config::DatabaseUrl::new(self.url.clone());
        s.directory.kind = hubdeck::config::DirectoryKind::Local;
        s.ui.environment = "test".into();
        s
    }
}

/// Creates `tNNN` from the migrated template.
pub async fn fresh_db() -> TestDb {
    let c = cluster();
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!("t{}_{}", std::process::id(), n);
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&c.cluster.url("postgres"))
        .await
        .expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name} TEMPLATE {TEMPLATE}"
    )))
    .execute(&mut admin)
    .await
    .expect("create test database");
    let _ = sqlx::Connection::close(admin).await;
    let url = c.cluster.url(&name);
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(60))
        .connect(&url)
        .await
        .expect("connect test database")
        .into();
    TestDb { pool, name, url }
}

/// An empty database (no migrations) for migration tests.
pub async fn empty_db() -> TestDb {
    let c = cluster();
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!("e{}_{}", std::process::id(), n);
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&c.cluster.url("postgres"))
        .await
        .expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create db");
    let _ = sqlx::Connection::close(admin).await;
    let url = c.cluster.url(&name);
    let pool = PgPool::connect(&url).await.expect("connect").into();
    TestDb { pool, name, url }
}
