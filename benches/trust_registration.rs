//! Trust registration throughput (SPEC §8: 1,000 registrations by 16 concurrent workers, no
//! slot claimed twice, ≥ 300/s).
//!
//! Starts a private PostgreSQL cluster in a temporary directory the way the test harness does
//! (fsync off), migrates, seeds 1,100 FL kit slots, then runs the registrations through the
//! service layer and verifies the pool afterwards. `cargo bench --bench trust_registration`
//! runs the full measurement; without `--bench` (as `cargo test --all-targets` runs it) it does
//! a short smoke run of the same code.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hubdeck::config::Settings;
use hubdeck::localpg::{LocalCluster, PgBinaries, free_port};
use hubdeck::service::Actor;
use hubdeck::service::trusts::Trusts;
use sqlx::postgres::PgPoolOptions;

const WORKERS: usize = 16;
const SLOTS: usize = 1_100;
const BUDGET_PER_SEC: f64 = 300.0;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let total = if full { 1_000 } else { 64 };
    if let Err(e) = run(total) {
        eprintln!("trust_registration: {e:#}");
        std::process::exit(1);
    }
}

fn run(total: usize) -> anyhow::Result<()> {
    let root = tempfile::Builder::new()
        .prefix("hubdeck-bench-trusts-")
        .tempdir()?;
    let bins = PgBinaries::locate()?;
    let mut cluster = LocalCluster::new(bins, root.path(), free_port()?)?;
    cluster.unsafe_fast = true;
    cluster.init()?;
    let mut server = cluster.spawn_attached(true)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(measure(&cluster, total));
    // Fast shutdown of the private server, then the temporary directory goes.
    // SAFETY: a plain signal to the child we spawned.
    unsafe {
        libc::kill(server.id() as i32, libc::SIGINT);
    }
    let _ = server.wait();
    result
}

async fn measure(cluster: &LocalCluster, total: usize) -> anyhow::Result<()> {
    cluster.wait_ready(Duration::from_secs(30)).await?;
    let admin = sqlx::PgPool::connect(&cluster.url("postgres")).await?;
    sqlx::query("CREATE DATABASE bench").execute(&admin).await?;
    admin.close().await;
    let pool = PgPoolOptions::new()
        .max_connections(WORKERS as u32 + 4)
        .connect(&cluster.url("bench"))
        .await?;
    let pool = hubdeck::store::Db::from(pool);
    hubdeck::store::migrate(&pool).await?;

    let names: Vec<String> = (1..=SLOTS).map(|i| format!("Kit_{i:04}")).collect();
    let mut conn = pool.acquire().await?;
    hubdeck::store::trusts::insert_missing_slots(
        &mut conn,
        &hubdeck::domain::trust::configured_slots(&names),
    )
    .await?;
    drop(conn);
    sqlx::query("ANALYZE").execute(&pool).await?;

    let mut settings = Settings::default();
    settings.trusts.kit_slot_names = names;
    let trusts = Trusts::new(pool.clone(), Arc::new(settings));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let trusts = trusts.clone();
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            let actor = Actor::cli();
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    break;
                }
                let t0 = Instant::now();
                let r = trusts
                    .register(
                        &actor,
                        &format!("Bench Trust {i}"),
                        &format!("B{i:05}"),
                        None,
                    )
                    .await?;
                done.push((r.fl_kit_slot.clone(), t0.elapsed()));
            }
            Ok::<_, hubdeck::service::ServiceError>(done)
        }));
    }
    let mut slots = HashSet::new();
    let mut latencies = Vec::new();
    let mut duplicates = 0usize;
    for w in workers {
        for (slot, latency) in w.await?? {
            if !slots.insert(slot) {
                duplicates += 1;
            }
            latencies.push(latency);
        }
    }
    let elapsed = started.elapsed();

    let assigned: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT slot_name) FROM fl_kit_slot WHERE assigned_to_trust_id IS NOT NULL",
    )
    .fetch_one(&pool)
    .await?;
    let trusts_n: i64 = sqlx::query_scalar("SELECT count(*) FROM trust")
        .fetch_one(&pool)
        .await?;
    let audits: i64 =
        sqlx::query_scalar("SELECT count(*) FROM trusts_audit WHERE action = 'REGISTERED'")
            .fetch_one(&pool)
            .await?;
    pool.close().await;

    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or_default()
    };
    let rate = total as f64 / elapsed.as_secs_f64();
    println!(
        "trust_registration: {total} registrations by {WORKERS} workers in {:.3} s = {rate:.0} registrations/s \
         (latency p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms)",
        elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.95).as_secs_f64() * 1e3,
        pct(1.0).as_secs_f64() * 1e3,
    );
    let ok = duplicates == 0
        && slots.len() == total
        && assigned == total as i64
        && trusts_n == total as i64
        && audits == total as i64;
    println!(
        "trust_registration: distinct slots {} / claimed slots in the database {assigned} / trusts {trusts_n} / REGISTERED audit rows {audits} / duplicate claims {duplicates}: {}",
        slots.len(),
        if ok {
            "no slot claimed twice"
        } else {
            "INCONSISTENT"
        }
    );
    println!(
        "trust_registration: budget >= {BUDGET_PER_SEC:.0}/s: {}",
        if rate >= BUDGET_PER_SEC {
            "met"
        } else {
            "NOT met"
        }
    );
    anyhow::ensure!(ok, "the slot pool is inconsistent after the run");
    Ok(())
}
