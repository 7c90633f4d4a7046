//! The sealed audit trail against real PostgreSQL: seal, verify, and every kind of tampering a
//! superuser can do with the triggers switched off — each named by `verify`; a transaction held
//! open across a seal neither raises a false alarm nor stays unsealed; the CLI end to end.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use hubdeck::service::Actor;
use hubdeck::service::seal::{SealKey, VerifyReport, public_key};
use uuid::Uuid;

use crate::mandates::{create, services};
use crate::support::pg::{self, TestDb};

struct Keys {
    _dir: tempfile::TempDir,
    path: PathBuf,
    public: String,
}

fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seal.key");
    let public = SealKey::generate(&path).unwrap();
    Keys {
        _dir: dir,
        path,
        public,
    }
}

/// Seals what this database has finished writing. The horizon is conservative: a transaction
/// of another test's database (the suite shares one cluster) that commits while a seal reads
/// its snapshot counts as ours and holds sealing back for that run. So this seals again (a
/// few times, briefly) until nothing finished is left unsealed, and reports the runs together;
/// a row still behind a transaction open in this database stays unsealed, as it must.
async fn seal(db: &TestDb, k: &Keys) -> hubdeck::service::seal::SealReport {
    let key = SealKey::load(&k.path).unwrap();
    let s = services(db);
    let mut total = s.seal_audit(&Actor::cli(), &key).await.unwrap();
    for _ in 0..20 {
        if verify(db, k).await.unsealed_rows == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let more = s.seal_audit(&Actor::cli(), &key).await.unwrap();
        total.seals_written += more.seals_written;
        total.rows_sealed += more.rows_sealed;
        total.last_seq = more.last_seq;
    }
    total
}

async fn verify(db: &TestDb, k: &Keys) -> VerifyReport {
    services(db)
        .verify_audit(&Actor::cli(), &public_key(&k.public).unwrap())
        .await
        .unwrap()
}

/// Everything the report says is wrong, one string per finding.
fn findings(r: &VerifyReport) -> Vec<String> {
    r.seals
        .iter()
        .flat_map(|s| s.seal_problems.iter().chain(&s.rows_changed).cloned())
        .collect()
}

/// Three mandates (three mandate_audit rows each way they are written) plus a users_audit and a
/// trusts_audit row.
async fn some_history(db: &TestDb) -> Uuid {
    let svc = services(db);
    for name in ["Sealed A", "Sealed B", "Sealed C"] {
        create(&svc, name).await;
    }
    let user = Uuid::new_v4();
    sqlx::query("INSERT INTO users_audit (action, user_id) VALUES ('ROLES_SET', $1)")
        .bind(user)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO trusts_audit (trust_id, trust_name, action) VALUES ($1, 'York', 'REGISTERED')",
    )
    .bind(Uuid::new_v4())
    .execute(&db.pool)
    .await
    .unwrap();
    user
}

/// Runs `sql` as a superuser with every trigger off (what an attacker with that power does).
async fn tamper(pool: &hubdeck::store::Db, sql: &str) {
    let mut c = pool.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query("RESET session_replication_role")
        .execute(&mut c)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_sealed_trail_verifies_and_later_rows_count_as_unsealed() {
    let db = pg::fresh_db().await;
    let k = keys();
    some_history(&db).await;
    let first = seal(&db, &k).await;
    assert_eq!(first.seals_written, 1);
    assert!(first.rows_sealed >= 5, "{first:?}");
    let r = verify(&db, &k).await;
    assert!(r.intact(), "{:?}", findings(&r));
    assert_eq!(r.unsealed_rows, 0);

    create(&services(&db), "Later").await;
    let r = verify(&db, &k).await;
    assert!(r.intact(), "{:?}", findings(&r));
    assert!(r.unsealed_rows >= 1, "{r:?}");
    let second = seal(&db, &k).await;
    assert_eq!(second.seals_written, 1);
    assert_eq!(second.rows_sealed, r.unsealed_rows as u64);
    let r = verify(&db, &k).await;
    assert!(r.intact(), "{:?}", findings(&r));
    assert_eq!((r.seals.len(), r.unsealed_rows), (2, 0));
    // Nothing new: nothing to seal.
    assert_eq!(seal(&db, &k).await.seals_written, 0);
}

#[tokio::test]
async fn every_kind_of_tampering_is_named() {
    let db = pg::fresh_db().await;
    let k = keys();
    let user = some_history(&db).await;
    seal(&db, &k).await;
    let ids: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM mandate_audit ORDER BY change_xid, id LIMIT 3")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(ids.len(), 3);

    // Edit one row's details.
    tamper(
        &db.pool,
        &format!(
            "UPDATE mandate_audit SET details = '{{\"forged\": true}}' WHERE id = '{}'",
            ids[0]
        ),
    )
    .await;
    // Remove another.
    tamper(
        &db.pool,
        &format!("DELETE FROM mandate_audit WHERE id = '{}'", ids[1]),
    )
    .await;
    // Reorder a third (move it to another transaction's place).
    tamper(
        &db.pool,
        &format!(
            "UPDATE mandate_audit SET change_xid = (change_xid::text::bigint - 1)::text::xid8 WHERE id = '{}'",
            ids[2]
        ),
    )
    .await;
    // Insert a backdated row into the sealed period.
    let forged = Uuid::new_v4();
    tamper(
        &db.pool,
        &format!(
            "INSERT INTO users_audit (id, action, user_id, \"timestamp\", change_xid) \
             VALUES ('{forged}', 'DISABLED', '{user}', now() - interval '30 days', '0')"
        ),
    )
    .await;

    let r = verify(&db, &k).await;
    assert!(!r.intact());
    let f = findings(&r).join("\n");
    assert!(
        f.contains(&format!("edited: mandate_audit {}", ids[0])),
        "{f}"
    );
    assert!(
        f.contains(&format!("removed: mandate_audit {}", ids[1])),
        "{f}"
    );
    assert!(
        f.contains(&format!("reordered: mandate_audit {}", ids[2])),
        "{f}"
    );
    assert!(
        f.contains(&format!(
            "inserted into a sealed period: users_audit {forged}"
        )),
        "{f}"
    );
    assert_eq!(findings(&r).len(), 4, "{f}");
}

#[tokio::test]
async fn a_forged_or_dropped_seal_breaks_the_chain() {
    let db = pg::fresh_db().await;
    let k = keys();
    some_history(&db).await;
    seal(&db, &k).await;
    create(&services(&db), "Second period").await;
    seal(&db, &k).await;
    assert!(verify(&db, &k).await.intact());

    // A seal signed by another key (the attacker's) is refused by name.
    let other = keys();
    let r = services(&db)
        .verify_audit(&Actor::cli(), &public_key(&other.public).unwrap())
        .await
        .unwrap();
    let f = findings(&r).join("\n");
    assert!(f.contains("not the configured seal key"), "{f}");

    // Dropping the first seal leaves the second unchained.
    tamper(&db.pool, "DELETE FROM audit_seal WHERE seq = 1").await;
    let f = findings(&verify(&db, &k).await).join("\n");
    assert!(f.contains("a seal is missing"), "{f}");
    assert!(f.contains("does not chain"), "{f}");
}

#[tokio::test]
async fn a_transaction_open_across_a_seal_is_sealed_next_time_without_an_alarm() {
    let db = pg::fresh_db().await;
    let k = keys();
    some_history(&db).await;
    // A writer that began before the seal and commits after it, with an older timestamp.
    let mut open = db.pool.begin().await.unwrap();
    let late = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO mandate_audit (id, action, created_at) \
         VALUES ($1, 'MANDATE_CREATED', now() - interval '1 day')",
    )
    .bind(late)
    .execute(&mut open)
    .await
    .unwrap();
    let first = seal(&db, &k).await;
    assert!(first.rows_sealed >= 5);
    open.commit().await.unwrap();

    let r = verify(&db, &k).await;
    assert!(r.intact(), "{:?}", findings(&r));
    assert_eq!(r.unsealed_rows, 1, "the late row waits for the next seal");
    assert_eq!(seal(&db, &k).await.rows_sealed, 1);
    let r = verify(&db, &k).await;
    assert!(r.intact(), "{:?}", findings(&r));
    assert_eq!(r.unsealed_rows, 0);
}

fn hubdeck(db: &TestDb, args: &[&str]) -> std::process::Output {
    crate::support::cli::infra()
        .args(args)
        .args(["--database-url", &db.url])
        .env("HUBDECK_DIRECTORY__KIND", "local")
        .env("HUBDECK_DATA_DIR", std::env::temp_dir())
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_cli_seals_and_verifies_and_refuses_a_readable_key() {
    let db = pg::fresh_db().await;
    some_history(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    let key_arg = key.display().to_string();
    let out = hubdeck(&db, &["audit", "seal-key", "--out", &key_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(public.len(), 64, "{public}");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A second seal-key at the same path never overwrites the key.
    let again = hubdeck(&db, &["audit", "seal-key", "--out", &key_arg]);
    assert!(!again.status.success());

    let out = hubdeck(&db, &["audit", "seal", "--key-file", &key_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("sealed"),
        "{out:?}"
    );

    let out = hubdeck(&db, &["audit", "verify", "--public-key", &public]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("all intact"));

    assert_eq!(
        seal_line(&db, &public),
        (
            "pass".to_string(),
            "1 seals intact; 0 audit rows not sealed yet".to_string()
        )
    );

    tamper(&db.pool, "DELETE FROM trusts_audit").await;
    assert_eq!(
        seal_line(&db, &public).0,
        "fail",
        "doctor names the tampering"
    );
    let out = hubdeck(&db, &["audit", "verify", "--public-key", &public]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed: trusts_audit"));

    // The key file must be private.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = hubdeck(&db, &["audit", "seal", "--key-file", &key_arg]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
        "{out:?}"
    );
}

/// The `audit.seal` line of `hubdeck doctor --output json`: (status, detail).
fn seal_line(db: &TestDb, public: &str) -> (String, String) {
    let out = crate::support::cli::infra()
        .args(["doctor", "--output", "json", "--database-url", &db.url])
        .env("HUBDECK_DIRECTORY__KIND", "local")
        .env("HUBDECK_DATA_DIR", std::env::temp_dir())
        .env("HUBDECK_AUDIT__SEAL_PUBLIC_KEY", public)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let line = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "audit.seal")
        .unwrap_or_else(|| panic!("no audit.seal line: {report}"))
        .clone();
    (
        line["status"].as_str().unwrap().to_string(),
        line["detail"].as_str().unwrap().to_string(),
    )
}
