//! Outcomes are found out, never guessed (issue 27): a mutation whose COMMIT answer is lost asks
//! the database whether it committed; keys are handed over once or the trust is flagged.
//! Real PostgreSQL behind a wire-protocol proxy that loses answers or drops connections, and
//! the real binary.

use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::support::pg::fresh_db;
use crate::support::pg_proxy::{Fault, PgProxy};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()).as_slice())
}

/// `hubdeck` with a private config (two kit slots, debug logs) and no HUBDECK_* from the
/// environment, against `url`.
pub fn command(url: &str, dir: &std::path::Path, args: &[&str]) -> Command {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        "[trusts]\nkit_slot_names = [\"Kit_1\", \"Kit_2\", \"Kit_3\"]\nkey_prefix = \"hubk\"\n\n[log]\nlevel = \"debug\"\n",
    )
    .expect("config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hubdeck"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HUBDECK_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    // These commands run unattended: the explicit infrastructure route (see support::cli).
    crate::support::cli::as_infrastructure(&mut cmd);
    cmd.env("HUBDECK_DATA_DIR", dir)
        .arg("--config")
        .arg(&config)
        .arg("--database-url")
        .arg(url)
        .args(args);
    cmd
}

pub async fn run(url: &str, dir: &std::path::Path, args: &[&str]) -> Run {
    let mut cmd = command(url, dir, args);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run hubdeck"))
        .await
        .expect("join");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            r.stdout, r.stderr
        )
    })
}

async fn trust_hash(pool: &hubdeck::store::Db, code: &str) -> Option<String> {
    sqlx::query_scalar("SELECT api_key_hash FROM trust WHERE code = $1")
        .bind(code)
        .fetch_optional(pool)
        .await
        .expect("read trust")
}

async fn audit_count(pool: &hubdeck::store::Db, code: &str, action: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM trusts_audit a JOIN trust t ON t.id = a.trust_id \
         WHERE t.code = $1 AND a.action = $2",
    )
    .bind(code)
    .bind(action)
    .fetch_one(pool)
    .await
    .expect("count audit")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_trust_whose_commit_answer_is_lost_hands_over_the_keys() {
    let db = fresh_db().await;
    let proxy = PgProxy::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    proxy.once("INSERT INTO trusts_audit", "COMMIT", Fault::LoseAnswer);
    let r = run(
        &proxy.url(&db.name),
        dir.path(),
        &["register-trust", "--name", "Lost Commit", "--code", "LOSTC"],
    )
    .await;
    assert_eq!(proxy.fired(), 1, "the COMMIT answer was lost once");
    assert_eq!(r.code, 0, "committed → success; stderr: {}", r.stderr);
    let v = json(&r);
    let kit = &v.as_array().expect("array")[0];
    let key = kit["trust_api_key"].as_str().expect("api key handed over");
    assert!(kit["trust_internal_service_key"].as_str().is_some());
    assert_eq!(
        trust_hash(&db.pool, "LOSTC").await.as_deref(),
        Some(sha256_hex(key).as_str()),
        "the trust committed with the hash of the key printed"
    );
    assert_eq!(audit_count(&db.pool, "LOSTC", "REGISTERED").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_key_whose_commit_answer_is_lost_hands_over_the_new_key() {
    let db = fresh_db().await;
    let proxy = PgProxy::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let first = run(
        &db.url,
        dir.path(),
        &["register-trust", "--name", "Rotated", "--code", "ROTC"],
    )
    .await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let old_hash = trust_hash(&db.pool, "ROTC").await.expect("registered");

    proxy.once("UPDATE trust SET api_key_hash", "COMMIT", Fault::LoseAnswer);
    let r = run(
        &proxy.url(&db.name),
        dir.path(),
        &["trusts", "rotate-key", "ROTC", "--internal"],
    )
    .await;
    assert_eq!(proxy.fired(), 1);
    assert_eq!(r.code, 0, "committed → success; stderr: {}", r.stderr);
    let v = json(&r);
    let key = v[0]["trust_api_key"].as_str().expect("new key handed over");
    assert!(v[0]["trust_internal_service_key"].as_str().is_some());
    let new_hash = trust_hash(&db.pool, "ROTC").await.expect("trust");
    assert_ne!(new_hash, old_hash);
    assert_eq!(
        new_hash,
        sha256_hex(key),
        "the live hash is the printed key's"
    );
    assert_eq!(audit_count(&db.pool, "ROTC", "KEY_ROTATED").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_internal_key_whose_commit_answer_is_lost_hands_over_the_key() {
    let db = fresh_db().await;
    let proxy = PgProxy::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let first = run(
        &db.url,
        dir.path(),
        &["register-trust", "--name", "Internal", "--code", "INTC"],
    )
    .await;
    assert_eq!(first.code, 0, "{}", first.stderr);

    proxy.once(
        "internal_key_rotated_at = CASE",
        "COMMIT",
        Fault::LoseAnswer,
    );
    let r = run(
        &proxy.url(&db.name),
        dir.path(),
        &["trusts", "rotate-internal-key", "INTC"],
    )
    .await;
    assert_eq!(proxy.fired(), 1);
    assert_eq!(r.code, 0, "committed → success; stderr: {}", r.stderr);
    let v = json(&r);
    assert!(
        v.to_string().contains("hubk"),
        "the internal key is on stdout: {v}"
    );
    assert_eq!(
        audit_count(&db.pool, "INTC", "INTERNAL_KEY_ROTATED").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_before_commit_says_nothing_was_changed() {
    let db = fresh_db().await;
    let proxy = PgProxy::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    proxy.once("INSERT INTO trusts_audit", "COMMIT", Fault::Drop);
    let r = run(
        &proxy.url(&db.name),
        dir.path(),
        &["register-trust", "--name", "Never There", "--code", "NEVER"],
    )
    .await;
    assert_eq!(proxy.fired(), 1);
    assert_ne!(r.code, 0, "not committed → a failure");
    assert_eq!(r.stdout.trim(), "[]", "no keys: {}", r.stdout);
    assert!(
        r.stderr.contains("nothing was changed"),
        "the operator is told nothing changed: {}",
        r.stderr
    );
    assert_eq!(trust_hash(&db.pool, "NEVER").await, None, "no trust row");
    let audits: i64 =
        sqlx::query_scalar("SELECT count(*) FROM trusts_audit WHERE trust_name = 'Never There'")
            .fetch_one(&db.pool)
            .await
            .expect("count");
    assert_eq!(audits, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_mid_statement_says_nothing_was_changed() {
    let db = fresh_db().await;
    let proxy = PgProxy::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    proxy.once(
        "INSERT INTO trust ",
        "INSERT INTO trusts_audit",
        Fault::Drop,
    );
    let r = run(
        &proxy.url(&db.name),
        dir.path(),
        &["register-trust", "--name", "Half Way", "--code", "HALFW"],
    )
    .await;
    assert_eq!(proxy.fired(), 1);
    assert_ne!(r.code, 0);
    assert_eq!(r.stdout.trim(), "[]");
    assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
    assert_eq!(trust_hash(&db.pool, "HALFW").await, None);
}

// ---------------------------------------------------------------------------------------------
// Keys are handed over exactly once, or flagged
// ---------------------------------------------------------------------------------------------

async fn unconfirmed_since(
    pool: &hubdeck::store::Db,
    code: &str,
) -> Option<chrono::DateTime<chrono::Utc>> {
    sqlx::query_scalar("SELECT keys_unconfirmed_since FROM trust WHERE code = $1")
        .bind(code)
        .fetch_one(pool)
        .await
        .expect("read trust")
}

/// Runs `hubdeck` with stdout a pipe whose reading end is already closed.
async fn run_closed_stdout(url: &str, dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let mut cmd = command(url, dir, args);
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        drop(child.stdout.take());
        child.wait_with_output().expect("wait")
    })
    .await
    .expect("join");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `hubdeck` with stdout on /dev/full (every write fails: no space left).
async fn run_full_stdout(url: &str, dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let mut cmd = command(url, dir, args);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = tokio::task::spawn_blocking(move || {
        cmd.stdout(Stdio::from(full))
            .stderr(Stdio::piped())
            .output()
            .expect("run")
    })
    .await
    .expect("join");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_written_to_stdout_are_confirmed_and_audited_without_key_material() {
    let db = fresh_db().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run(
        &db.url,
        dir.path(),
        &["register-trust", "--name", "Handed Over", "--code", "HANDO"],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let key = json(&r)[0]["trust_api_key"]
        .as_str()
        .expect("key")
        .to_string();
    assert_eq!(unconfirmed_since(&db.pool, "HANDO").await, None);
    assert_eq!(audit_count(&db.pool, "HANDO", "KEYS_HANDED_OVER").await, 1);
    let details: String = sqlx::query_scalar(
        "SELECT string_agg(details::text, ' ') FROM trusts_audit WHERE trust_name = 'Handed Over'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("details");
    assert!(!details.contains(&key), "no key material in the audit");

    let shown = run(
        &db.url,
        dir.path(),
        &["--output", "json", "trusts", "show", "HANDO"],
    )
    .await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        json(&shown)["trust"]["keys_unconfirmed_since"].is_null(),
        "{}",
        shown.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_that_cannot_be_written_leave_the_trust_flagged_until_rotated() {
    let db = fresh_db().await;
    let dir = tempfile::tempdir().expect("tempdir");

    // A closed pipe: the registration committed, the keys never left the process.
    let (code, stderr) = run_closed_stdout(
        &db.url,
        dir.path(),
        &["register-trust", "--name", "Closed Pipe", "--code", "PIPED"],
    )
    .await;
    assert_eq!(code, 1, "the keys were not handed over: {stderr}");
    assert!(stderr.contains("keys not confirmed"), "{stderr}");
    assert!(unconfirmed_since(&db.pool, "PIPED").await.is_some());
    assert_eq!(audit_count(&db.pool, "PIPED", "KEYS_HANDED_OVER").await, 0);
    // A re-run mints nothing (the trust exists) and says its keys were never confirmed.
    let again = run(
        &db.url,
        dir.path(),
        &["register-trust", "--name", "Closed Pipe", "--code", "PIPED"],
    )
    .await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("never confirmed handed over"),
        "{}",
        again.stderr
    );

    // A full disk: a rotation whose keys cannot be written flags its trust too.
    let ok = run(
        &db.url,
        dir.path(),
        &["register-trust", "--name", "Full Disk", "--code", "FULLD"],
    )
    .await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(unconfirmed_since(&db.pool, "FULLD").await, None);
    let (code, stderr) =
        run_full_stdout(&db.url, dir.path(), &["trusts", "rotate-key", "FULLD"]).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("keys not confirmed"), "{stderr}");
    assert!(unconfirmed_since(&db.pool, "FULLD").await.is_some());

    // The flag shows in `trusts list` / `trusts show` JSON and as a doctor line.
    let list = run(&db.url, dir.path(), &["--output", "json", "trusts", "list"]).await;
    assert_eq!(list.code, 0, "{}", list.stderr);
    let v = json(&list);
    let flagged: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|t| !t["keys_unconfirmed_since"].is_null())
        .map(|t| t["code"].as_str().expect("code"))
        .collect();
    assert_eq!(
        flagged,
        ["PIPED", "FULLD"],
        "by name: Closed Pipe, Full Disk"
    );
    let table = run(&db.url, dir.path(), &["trusts", "list"]).await;
    let piped = table
        .stdout
        .lines()
        .find(|l| l.contains("PIPED"))
        .unwrap_or_else(|| panic!("{}", table.stdout));
    assert!(piped.trim_end().ends_with("not confirmed"), "{piped}");
    let shown = run(&db.url, dir.path(), &["trusts", "show", "PIPED"]).await;
    assert!(
        shown.stdout.contains("NOT CONFIRMED since"),
        "{}",
        shown.stdout
    );
    let shown = run(
        &db.url,
        dir.path(),
        &["--output", "json", "trusts", "show", "PIPED"],
    )
    .await;
    assert!(!json(&shown)["trust"]["keys_unconfirmed_since"].is_null());
    let doctor = run(&db.url, dir.path(), &["--output", "json", "doctor"]).await;
    let checks = json(&doctor)["checks"].clone();
    let line = checks
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "trusts.keys")
        .unwrap_or_else(|| panic!("a trusts.keys line: {checks}"))
        .clone();
    assert_eq!(line["status"], "warn", "{line}");
    assert!(
        line["detail"]
            .as_str()
            .expect("detail")
            .starts_with("2 trust(s) with keys not confirmed"),
        "{line}"
    );

    // A rotation that is handed over clears the flag.
    let rotated = run(
        &db.url,
        dir.path(),
        &["trusts", "rotate-key", "PIPED", "--internal"],
    )
    .await;
    assert_eq!(rotated.code, 0, "{}", rotated.stderr);
    assert_eq!(unconfirmed_since(&db.pool, "PIPED").await, None);
    assert_eq!(audit_count(&db.pool, "PIPED", "KEYS_HANDED_OVER").await, 1);
    assert!(
        unconfirmed_since(&db.pool, "FULLD").await.is_some(),
        "the other stays flagged"
    );
}

/// Polls until `sql` (one bool) is true; panics with `what` after a minute (a hang is a
/// failure, never a timing assertion on success).
async fn eventually(pool: &hubdeck::store::Db, sql: &'static str, what: &str) {
    for _ in 0..600 {
        let done: bool = sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql);
        if done {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

/// In the console: keys shown but never acknowledged (the session ends) leave the trust
/// marked, and the Trusts table says "not confirmed"; acknowledging a rotation's keys records
/// the hand-over (KEYS_HANDED_OVER via "reveal") and clears the mark.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_records_the_hand_over_only_when_the_keys_are_acknowledged() {
    use crate::tui_e2e::{key_on_screen, seed_operator, services, start_signed_in};
    let db = fresh_db().await;
    let s = services(&db).await;
    seed_operator(&s).await;
    let t = start_signed_in(&db, &[]);
    t.keys(&["4"]);
    t.wait_for(&["Trusts", "rows"]);
    t.keys(&["n"]);
    t.wait_for(&["Register trust"]);
    t.text("Leeds Teaching");
    t.keys(&["Tab"]);
    t.text("leeds");
    t.keys(&["Enter"]);
    t.wait_for(&["shown once", "Trust API key"]);
    assert!(unconfirmed_since(&db.pool, "LEEDS").await.is_some());
    // The reveal is audited (never the keys) before the operator sees them.
    assert_eq!(audit_count(&db.pool, "LEEDS", "KEYS_REVEALED").await, 1);
    // The session ends with the keys on screen, never acknowledged.
    drop(t);
    assert!(
        unconfirmed_since(&db.pool, "LEEDS").await.is_some(),
        "nobody confirmed the keys"
    );
    assert_eq!(audit_count(&db.pool, "LEEDS", "KEYS_HANDED_OVER").await, 0);

    // A new session shows the mark in the Trusts table, then rotates and acknowledges.
    let t = start_signed_in(&db, &[]);
    t.keys(&["4"]);
    t.wait_for(&["Leeds Teaching", "not confirmed"]);
    t.keys(&["O"]);
    t.wait_for(&["Rotate API and internal-service keys"]);
    t.settle();
    t.keys(&["y"]);
    let cap = t.wait_for(&["Keys rotated", "Trust API key"]);
    let key = key_on_screen(&cap, "hubk").unwrap_or_else(|| panic!("no key on screen:\n{cap}"));
    assert_eq!(audit_count(&db.pool, "LEEDS", "KEYS_REVEALED").await, 2);
    t.keys(&["Enter"]);
    t.wait_for(&["last four characters"]);
    let last4: String = key.chars().skip(key.chars().count() - 4).collect();
    t.text(&last4);
    t.keys(&["Enter"]);
    t.wait_gone(&["shown once"]);
    eventually(
        &db.pool,
        "SELECT keys_unconfirmed_since IS NULL FROM trust WHERE code = 'LEEDS'",
        "the acknowledged keys are recorded as handed over",
    )
    .await;
    let via: String = sqlx::query_scalar(
        "SELECT details->>'via' FROM trusts_audit WHERE action = 'KEYS_HANDED_OVER'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("one KEYS_HANDED_OVER row");
    assert_eq!(via, "reveal");
    t.wait_gone(&["not confirmed"]);
    t.keys(&["q"]);
    t.wait_for(&["__EXIT:0"]);
}

// ---------------------------------------------------------------------------------------------
// Through a connection pooler (PgBouncer), session and transaction pooling
// ---------------------------------------------------------------------------------------------

/// A handful of real CLI commands, reads and mutations, through PgBouncer in `mode`.
async fn cli_suite_through(mode: crate::support::pgbouncer::PoolMode) {
    use crate::support::pgbouncer::PgBouncer;
    let db = fresh_db().await;
    let bouncer = PgBouncer::start(mode);
    let url = bouncer.url(&db.name);
    let dir = tempfile::tempdir().expect("tempdir");
    let run_ok = async |args: &[&str]| -> Run {
        let mut cmd = command(&url, dir.path(), args);
        cmd.env("HUBDECK_DIRECTORY__KIND", "local")
            .env("HUBDECK_DATABASE__POOLER", mode.as_str());
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("run hubdeck"))
            .await
            .expect("join");
        let r = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert_eq!(
            r.code,
            0,
            "{args:?} through PgBouncer ({}):\n{}\n{}",
            mode.as_str(),
            r.stderr
                .lines()
                .filter(|l| !l.contains(" DEBUG "))
                .collect::<Vec<_>>()
                .join("\n"),
            bouncer.log()
        );
        r
    };
    // Several times each: a pooler hands later statements to server connections that earlier
    // clients used (a statement name left behind there collides).
    for round in 0..3 {
        let users = run_ok(&["--output", "json", "users", "list"]).await;
        assert!(json(&users)["items"].is_array(), "{}", users.stdout);
        let name = format!("Pooled {round}");
        let created = run_ok(&["mandates", "create", "--name", &name, "--output", "json"]).await;
        let id = json(&created)["mandate"]["id"]
            .as_str()
            .expect("mandate id")
            .to_string();
        run_ok(&["mandates", "update", &id, "--enabled", "false"]).await;
        let code = format!("POOL{round}");
        let reg = run_ok(&["register-trust", "--name", &name, "--code", &code]).await;
        assert!(json(&reg)[0]["trust_api_key"].is_string(), "{}", reg.stdout);
        let list = run_ok(&["--output", "json", "trusts", "list"]).await;
        assert_eq!(
            json(&list)["items"].as_array().expect("items").len(),
            round + 1
        );
    }
    let enabled: Vec<bool> =
        sqlx::query_scalar("SELECT enabled FROM mandate WHERE name LIKE 'Pooled %'")
            .fetch_all(&db.pool)
            .await
            .expect("mandates");
    assert_eq!(enabled, [false, false, false]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_works_through_pgbouncer_session_pooling() {
    cli_suite_through(crate::support::pgbouncer::PoolMode::Session).await;
}

/// Through a transaction pooler (Debian 12's PgBouncer 1.18, which carries no prepared
/// statements across server connections): hubdeck sends every statement unnamed and inside a
/// transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_works_through_pgbouncer_transaction_pooling() {
    cli_suite_through(crate::support::pgbouncer::PoolMode::Transaction).await;
}

/// The `database.pooler` doctor line for one path and configuration.
async fn pooler_line(url: &str, pooler: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = command(url, dir.path(), &["--output", "json", "doctor"]);
    cmd.env("HUBDECK_DIRECTORY__KIND", "local")
        .env("HUBDECK_DATABASE__POOLER", pooler);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run"))
        .await
        .expect("join");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "database.pooler")
        .unwrap_or_else(|| panic!("a database.pooler line: {v}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_the_pooler_mode_it_detects() {
    use crate::support::pgbouncer::{PgBouncer, PoolMode};
    let db = fresh_db().await;

    let direct = pooler_line(&db.url, "none").await;
    assert_eq!(direct["status"], "pass", "{direct}");
    assert!(
        direct["detail"]
            .as_str()
            .unwrap()
            .contains("keeps its own backend"),
        "{direct}"
    );

    let session = PgBouncer::start(PoolMode::Session);
    let line = pooler_line(&session.url(&db.name), "session").await;
    assert_eq!(line["status"], "pass", "{line}");
    assert!(
        line["detail"]
            .as_str()
            .unwrap()
            .contains("pooler or proxy is in between"),
        "{line}"
    );
    let line = pooler_line(&session.url(&db.name), "none").await;
    assert_eq!(line["status"], "fail", "a pooler not configured: {line}");
    assert!(
        line["remedy"].as_str().unwrap().contains("database.pooler"),
        "{line}"
    );

    let transaction = PgBouncer::start(PoolMode::Transaction);
    let line = pooler_line(&transaction.url(&db.name), "transaction").await;
    assert!(
        line["detail"]
            .as_str()
            .unwrap()
            .contains("transaction pooling detected"),
        "{line}"
    );
    assert_eq!(line["status"], "pass", "handled by hubdeck: {line}");
    assert!(
        line["detail"].as_str().unwrap().contains("unnamed"),
        "{line}"
    );
    let line = pooler_line(&transaction.url(&db.name), "session").await;
    assert!(
        line["detail"]
            .as_str()
            .unwrap()
            .contains("transaction pooling detected"),
        "{line}"
    );
    assert_eq!(line["status"], "fail", "configured otherwise: {line}");
    assert!(
        line["remedy"]
            .as_str()
            .unwrap()
            .contains("database.pooler = \"transaction\""),
        "{line}"
    );
}

/// The migrator holds a session lock across its transactions, which a transaction pooler
/// cannot keep: `migrate` through one refuses and says to connect directly; nothing is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_through_a_transaction_pooler_refuses_and_says_why() {
    use crate::support::pgbouncer::{PgBouncer, PoolMode};
    let db = crate::support::pg::empty_db().await;
    let bouncer = PgBouncer::start(PoolMode::Transaction);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = command(&bouncer.url(&db.name), dir.path(), &["migrate"]);
    cmd.env("HUBDECK_DIRECTORY__KIND", "local")
        .env("HUBDECK_DATABASE__POOLER", "transaction");
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run"))
        .await
        .expect("join");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("cannot run through a transaction pooler") && stderr.contains("directly"),
        "{stderr}"
    );
    let applied: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&db.pool)
        .await
        .expect("ask");
    assert!(!applied, "nothing was applied");
}

// ---------------------------------------------------------------------------------------------
// Other mutations: mandates
// ---------------------------------------------------------------------------------------------

async fn mandate_cli(url: &str, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = command(url, dir.path(), args);
    cmd.env("HUBDECK_DIRECTORY__KIND", "local");
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run"))
        .await
        .expect("join");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mandate_create_and_update_whose_commit_answers_are_lost_report_success() {
    let db = fresh_db().await;
    let proxy = PgProxy::start().await;
    proxy.once("INSERT INTO mandate_audit", "COMMIT", Fault::LoseAnswer);
    let r = mandate_cli(
        &proxy.url(&db.name),
        &[
            "mandates",
            "create",
            "--name",
            "Lost Answer",
            "--output",
            "json",
        ],
    )
    .await;
    assert_eq!(proxy.fired(), 1);
    assert_eq!(r.code, 0, "committed → success: {}", r.stderr);
    let id = json(&r)["mandate"]["id"]
        .as_str()
        .expect("the created mandate is reported")
        .to_string();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM mandate WHERE name = 'Lost Answer'")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(n, 1);

    proxy.once("UPDATE mandate SET", "COMMIT", Fault::LoseAnswer);
    let r = mandate_cli(
        &proxy.url(&db.name),
        &["mandates", "update", &id, "--enabled", "false"],
    )
    .await;
    assert_eq!(proxy.fired(), 2);
    assert_eq!(r.code, 0, "committed → success: {}", r.stderr);

    proxy.once("UPDATE mandate SET", "COMMIT", Fault::Drop);
    let r = mandate_cli(
        &proxy.url(&db.name),
        &["mandates", "update", &id, "--enabled", "true"],
    )
    .await;
    assert_eq!(proxy.fired(), 3);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
    let enabled: bool =
        sqlx::query_scalar("SELECT enabled FROM mandate WHERE name = 'Lost Answer'")
            .fetch_one(&db.pool)
            .await
            .expect("mandate");
    assert!(
        !enabled,
        "the lost update committed, the dropped one did not"
    );
}
