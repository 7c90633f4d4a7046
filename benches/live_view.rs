//! The live view's costs and latency (see README "Live view"):
//!
//! 1. Trust registrations/s with no console polling and with 50 consoles polling the change
//!    feed every 500 ms (each its own connection pool, as 50 consoles would be), alternated
//!    over several rounds on the same database so drift of the shared machine hits both.
//! 2. Commit → screen in tmux: the real binary signed in on the Mandates tab; a script-side
//!    commit changes a visible mandate's label ~20 times; each time the pane is captured until
//!    the new label shows, without a key press. p50/p95/max.
//!
//! A private PostgreSQL cluster (fsync off) as the test harness makes. `cargo bench --bench
//! live_view` runs the full measurement; without `--bench` a short smoke run of the same code.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hubdeck::config::{DirectoryKind, Settings};
use hubdeck::directory::{Invite, NewIdentity};
use hubdeck::domain::{Email, RoleRef, Secret};
use hubdeck::localpg::{LocalCluster, PgBinaries, free_port};
use hubdeck::service::trusts::Trusts;
use hubdeck::service::{Actor, Services};
use sqlx::postgres::PgPoolOptions;

const WORKERS: usize = 16;
const POLLERS: usize = 50;
const POLL_EVERY: Duration = Duration::from_millis(500);
const OPERATOR: &str = "bench-ops@hub.example";
const PASSWORD: &str = "Correct-Horse-42";

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    if let Err(e) = run(full) {
        eprintln!("live_view: {e:#}");
        std::process::exit(1);
    }
}

fn run(full: bool) -> anyhow::Result<()> {
    let root = tempfile::Builder::new()
        .prefix("hubdeck-bench-live-")
        .tempdir()?;
    let bins = PgBinaries::locate()?;
    let mut cluster = LocalCluster::new(bins, root.path(), free_port()?)?;
    cluster.unsafe_fast = true;
    cluster.init()?;
    let mut server = cluster.spawn_attached(true)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(measure(&cluster, root.path().to_path_buf(), full));
    // SAFETY: a plain signal to the child we spawned.
    unsafe {
        libc::kill(server.id() as i32, libc::SIGINT);
    }
    let _ = server.wait();
    result
}

fn settings(url: &str, slots: Vec<String>) -> Settings {
    let mut s = Settings::default();
    s.database.url = hubdeck::config::DatabaseUrl::new(url.to_string());
    s.directory.kind = DirectoryKind::Local;
    s.trusts.kit_slot_names = slots;
    s
}

async fn measure(cluster: &LocalCluster, root: PathBuf, full: bool) -> anyhow::Result<()> {
    cluster.wait_ready(Duration::from_secs(30)).await?;
    let admin = sqlx::PgPool::connect(&cluster.url("postgres")).await?;
    sqlx::query("CREATE DATABASE bench").execute(&admin).await?;
    admin.close().await;
    let url = cluster.url("bench");
    let pool = PgPoolOptions::new()
        .max_connections(WORKERS as u32 + 4)
        .connect(&url)
        .await?;
    let pool = hubdeck::store::Db::from(pool);
    hubdeck::store::migrate(&pool).await?;

    let (rounds, per_round, changes) = if full { (6, 1_000, 20) } else { (2, 50, 3) };
    let names: Vec<String> = (1..=rounds * per_round + 10)
        .map(|i| format!("Kit_{i:05}"))
        .collect();
    let mut conn = pool.acquire().await?;
    hubdeck::store::trusts::insert_missing_slots(
        &mut conn,
        &hubdeck::domain::trust::configured_slots(&names),
    )
    .await?;
    drop(conn);
    sqlx::query("ANALYZE").execute(&pool).await?;
    let settings = Arc::new(settings(&url, names));

    // ---- 1. registrations/s, 0 vs 50 polling consoles, alternated ----
    let trusts = Trusts::new(pool.clone(), settings.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let mut without = Vec::new();
    let mut with = Vec::new();
    let mut polls_done = 0usize;
    for round in 0..rounds {
        let polling = round % 2 == 1;
        let stop = Arc::new(AtomicBool::new(false));
        let polls = Arc::new(AtomicUsize::new(0));
        let mut pollers = Vec::new();
        if polling {
            for _ in 0..POLLERS {
                let p = PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&url)
                    .await?;
                let p = hubdeck::store::Db::from(p);
                let directory = hubdeck::directory::connect(&settings, &p).await?;
                let s = Services::new(p, directory, settings.clone());
                let (stop, polls) = (stop.clone(), polls.clone());
                pollers.push(tokio::spawn(async move {
                    let actor = Actor::cli();
                    let mut cursor = None;
                    while !stop.load(Ordering::SeqCst) {
                        let b = s.poll_changes(&actor, cursor.take()).await?;
                        cursor = Some(b.cursor);
                        polls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(POLL_EVERY).await;
                    }
                    Ok::<_, hubdeck::service::ServiceError>(())
                }));
            }
            // Every console has taken its starting mark.
            tokio::time::sleep(POLL_EVERY).await;
        }
        let end = (round + 1) * per_round;
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..WORKERS {
            let trusts = trusts.clone();
            let next = next.clone();
            workers.push(tokio::spawn(async move {
                let actor = Actor::cli();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= end {
                        break;
                    }
                    trusts
                        .register(
                            &actor,
                            &format!("Bench Trust {i}"),
                            &format!("L{i:05}"),
                            None,
                        )
                        .await?;
                }
                Ok::<_, hubdeck::service::ServiceError>(())
            }));
        }
        for w in workers {
            w.await??;
        }
        let rate = per_round as f64 / started.elapsed().as_secs_f64();
        next.store(end, Ordering::SeqCst);
        stop.store(true, Ordering::SeqCst);
        for p in pollers {
            p.await??;
        }
        polls_done += polls.load(Ordering::SeqCst);
        println!(
            "live_view: round {} ({} polling consoles): {per_round} registrations at {rate:.0}/s",
            round + 1,
            if polling { POLLERS } else { 0 }
        );
        if polling {
            with.push(rate);
        } else {
            without.push(rate);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (m0, m50) = (median(&mut without), median(&mut with));
    println!(
        "live_view: trust registrations/s, median of {} rounds each: {m0:.0} with 0 polling consoles, \
         {m50:.0} with {POLLERS} ({:.0} % of none; {polls_done} polls answered during the runs)",
        without.len(),
        100.0 * m50 / m0
    );

    // ---- 2. commit → screen in tmux ----
    let s = Services::new(
        pool.clone(),
        hubdeck::directory::connect(&settings, &pool).await?,
        settings.clone(),
    );
    seed_operator(&s).await?;
    let mandate: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO mandate (name, label, enabled) VALUES ('Live Bench Mandate', 'lbl-start', true) RETURNING id",
    )
    .fetch_one(&pool)
    .await?;
    let t = Tmux::start(&root, &url)?;
    t.wait_for(&["Sign in", "Password"])?;
    t.send(&["-l", OPERATOR])?;
    t.send(&["Tab"])?;
    t.send(&["-l", PASSWORD])?;
    t.send(&["Enter"])?;
    t.wait_for(&["Live Bench Mandate", "lbl-start"])?;
    let cli = Actor::cli();
    let mut latencies = Vec::new();
    for i in 0..changes {
        let label = format!("lbl-{i:03}-live");
        // The console is left alone between changes (no key), as an operator watching.
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.update_mandate(
            &cli,
            mandate.into(),
            &hubdeck::service::mandates::MandateInput {
                name: "Live Bench Mandate".into(),
                label: Some(label.clone()),
                enabled: true,
            },
        )
        .await?;
        let committed = Instant::now();
        t.wait_for(&[&label])?;
        latencies.push(committed.elapsed());
    }
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3
    };
    println!(
        "live_view: commit → screen in tmux over {changes} changes: p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms (budget p95 ≤ 1000 ms: {})",
        pct(0.5),
        pct(0.95),
        pct(1.0),
        if pct(0.95) <= 1000.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    pool.close().await;
    Ok(())
}

async fn seed_operator(s: &Services) -> anyhow::Result<()> {
    let ident = s
        .directory
        .create_user(&NewIdentity {
            email: Email::parse(OPERATOR)?,
            email_verified: true,
            invite: Invite::Suppress,
            temporary_password: None,
        })
        .await?;
    s.directory
        .set_password(&ident.username, &Secret::new(PASSWORD), true)
        .await?;
    sqlx::query("INSERT INTO user_role (user_id, role_id) VALUES ($1, $2)")
        .bind(ident.sub)
        .bind(RoleRef::Admin.id())
        .execute(&s.db)
        .await?;
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status) VALUES ($1, $2, $3, true, 'CONFIRMED')",
    )
    .bind(ident.sub)
    .bind(&ident.username)
    .bind(&ident.email)
    .execute(&s.db)
    .await?;
    Ok(())
}

/// The console in a private tmux server (120×40).
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket).arg("-f").arg("/dev/null");
        c
    }

    fn start(root: &std::path::Path, url: &str) -> anyhow::Result<Self> {
        let t = Tmux {
            socket: root.join("tmux.sock"),
        };
        let data = root.join("data");
        let config = root.join("config");
        std::fs::create_dir_all(&data)?;
        std::fs::create_dir_all(config.join("hubdeck"))?;
        let mut c = t.cmd();
        c.args(["new-session", "-d", "-x", "120", "-y", "40"]);
        for (k, v) in [
            ("HUBDECK_DATA_DIR", data.display().to_string()),
            ("XDG_CONFIG_HOME", config.display().to_string()),
            ("HUBDECK_DIRECTORY__KIND", "local".into()),
            ("HUBDECK_UI__ENVIRONMENT", "bench".into()),
            ("TERM", "xterm-256color".into()),
            ("NO_COLOR", String::new()),
        ] {
            c.arg("-e").arg(format!("{k}={v}"));
        }
        c.arg(env!("CARGO_BIN_EXE_hubdeck"))
            .args(["--database-url", url]);
        anyhow::ensure!(
            c.status()?.success(),
            "tmux new-session failed (is tmux installed?)"
        );
        Ok(t)
    }

    fn send(&self, keys: &[&str]) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.cmd().arg("send-keys").args(keys).status()?.success(),
            "send-keys"
        );
        Ok(())
    }

    fn wait_for(&self, all: &[&str]) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.cmd().args(["capture-pane", "-p", "-J"]).output()?;
            let cap = String::from_utf8_lossy(&out.stdout);
            if all.iter().all(|s| cap.contains(s)) {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "timed out waiting for {all:?}:\n{cap}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}
