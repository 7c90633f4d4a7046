//! The audit seals at scale (see BENCHMARKS.md "Audit seals").

use crate::mandates::services;
use crate::support::pg;

use hubdeck::service::Actor;
use hubdeck::service::seal::{SealKey, public_key};

/// Seal and verify 1,000,000 audit rows (500,000 mandate, 300,000 users, 200,000 trusts rows):
/// the numbers in BENCHMARKS.md "Audit seals". A measurement, so it asserts only that the trail
/// verifies intact, and it is left out of the suite for its minute of run time.
#[tokio::test]
#[ignore = "a measurement (about a minute): cargo test --release --test it -- --ignored audit_seal_scale --nocapture"]
async fn seal_and_verify_a_million_rows() {
    let db = pg::fresh_db().await;
    let t = std::time::Instant::now();
    for (table, sql) in [
        (
            "mandate_audit",
            "INSERT INTO mandate_audit (action, mandate_id, mandate_name, details, created_at) SELECT 'MANDATE_UPDATED', gen_random_uuid(), 'Mandate ' || g, jsonb_build_object('n', g), now() - (g || ' minutes')::interval FROM generate_series(1, 500000) g",
        ),
        (
            "users_audit",
            "INSERT INTO users_audit (action, user_id, details) SELECT 'ROLES_SET', gen_random_uuid(), jsonb_build_object('n', g) FROM generate_series(1, 300000) g",
        ),
        (
            "trusts_audit",
            "INSERT INTO trusts_audit (trust_id, trust_name, action) SELECT gen_random_uuid(), 'Trust ' || g, 'REGISTERED' FROM generate_series(1, 200000) g",
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&db.pool)
            .await
            .unwrap();
        eprintln!("{table} filled");
    }
    sqlx::query("ANALYZE").execute(&db.pool).await.unwrap();
    eprintln!("fill {:?}", t.elapsed());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k");
    let public = SealKey::generate(&p).unwrap();
    let key = SealKey::load(&p).unwrap();
    let svc = services(&db);
    let t = std::time::Instant::now();
    let r = svc.seal_audit(&Actor::cli(), &key).await.unwrap();
    eprintln!("SEAL {:?} {:?}", t.elapsed(), r);
    let t = std::time::Instant::now();
    let v = svc
        .verify_audit(&Actor::cli(), &public_key(&public).unwrap())
        .await
        .unwrap();
    eprintln!(
        "VERIFY {:?} seals={} intact={} unsealed={}",
        t.elapsed(),
        v.seals.len(),
        v.intact(),
        v.unsealed_rows
    );
    assert!(v.intact());
}
