//! Trust keys (issue 14): the internal-service key rotated on its own (the API key and its
//! hash untouched, audited in the same transaction, returned once), and the trust detail with
//! the last heartbeat and each key's age; CLI twins `trusts rotate-internal-key` and `trusts
//! show --output json`.

use std::sync::Arc;

use hubdeck::service::{Actor, Services};
use uuid::Uuid;

use crate::support::pg;

fn services(db: &pg::TestDb) -> Services {
    let mut s = db.settings();
    s.trusts.kit_slot_names = vec!["Trust_001".into(), "Trust_002".into()];
    Services::new(
        db.pool.clone(),
        Arc::new(hubdeck::directory::local::LocalDirectory::new(
            db.pool.clone(),
        )),
        Arc::new(s),
    )
}

async fn audits(db: &pg::TestDb, trust: Uuid, action: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM trusts_audit WHERE trust_id = $1 AND action = $2")
        .bind(trust)
        .bind(action)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_internal_key_rotates_alone_and_the_detail_shows_heartbeat_and_key_ages() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = Actor::cli();
    let reg = svc
        .register_trust(&root, "Leeds Teaching", "LDS", None)
        .await
        .unwrap();
    let id = reg.trust.id;
    let hash_before: String = sqlx::query_scalar("SELECT api_key_hash FROM trust WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    // A year-old trust whose kit last reported 3 hours ago.
    sqlx::query(
        "UPDATE trust SET api_key_rotated_at = now() - interval '400 days', \
         internal_key_rotated_at = now() - interval '400 days', \
         last_heartbeat = now() - interval '3 hours' WHERE id = $1",
    )
    .bind(id)
    .execute(&db.pool)
    .await
    .unwrap();
    let d = svc.trust_detail(&root, id).await.unwrap();
    assert_eq!(d.api_key_age_days, 400);
    assert_eq!(d.internal_key_age_days, 400);
    assert_eq!(d.heartbeat_label(chrono::Utc::now()), "3 h ago");

    let r = svc
        .rotate_trust_internal_key(&root, id, None)
        .await
        .unwrap();
    let key = r.internal_service_key.expose().to_string();
    assert!(key.starts_with("hubk"), "the configured prefix");
    assert_ne!(key, reg.internal_service_key.expose());
    assert_ne!(key, reg.api_key.expose());
    let hash_after: String = sqlx::query_scalar("SELECT api_key_hash FROM trust WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(hash_before, hash_after, "the API key is untouched");
    assert_eq!(audits(&db, id.0, "INTERNAL_KEY_ROTATED").await, 1);
    let d = svc.trust_detail(&root, id).await.unwrap();
    assert_eq!(d.internal_key_age_days, 0);
    assert_eq!(d.api_key_age_days, 400);
    // The key is never stored: no column or audit row holds it.
    let leaked: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM trusts_audit WHERE details::text LIKE '%' || $1 || '%') \
              + (SELECT count(*) FROM trust t WHERE row_to_json(t)::text LIKE '%' || $1 || '%')",
    )
    .bind(&key)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(leaked, 0);
    // The full rotation moves the API key's age too; the audit reads in the one vocabulary.
    svc.rotate_trust_keys(&root, id, false, None).await.unwrap();
    let d = svc.trust_detail(&root, id).await.unwrap();
    assert_eq!(d.api_key_age_days, 0);
    let event: String = sqlx::query_scalar(
        "SELECT event FROM audit_event WHERE subject_id = $1 AND action = 'INTERNAL_KEY_ROTATED'",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(event, "TRUST_INTERNAL_KEY_ROTATED");
    // Unknown trust: not found; without the permission: denied.
    let err = svc
        .rotate_trust_internal_key(&root, hubdeck::domain::TrustId(Uuid::new_v4()), None)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 4);
    let nobody = crate::mandates::operator(hubdeck::domain::UserSub::new_v4());
    assert_eq!(
        svc.rotate_trust_internal_key(&nobody, id, None)
            .await
            .unwrap_err()
            .exit_code(),
        4
    );
    assert_eq!(audits(&db, id.0, "INTERNAL_KEY_ROTATED").await, 1);
}

/// A fresh database with one registered trust, York District (YRK).
async fn york() -> (pg::TestDb, hubdeck::domain::trust::RegisteredTrust) {
    let db = pg::fresh_db().await;
    let reg = services(&db)
        .register_trust(&Actor::cli(), "York District", "YRK", None)
        .await
        .unwrap();
    (db, reg)
}

#[tokio::test]
async fn cli_rotates_the_internal_key_once_into_a_pipe_and_shows_the_detail() {
    let (db, reg) = york().await;
    let run = |args: &[&str]| {
        crate::support::cli::infra()
            .args(args)
            .args(["--database-url", &db.url])
            .env("HUBDECK_DIRECTORY__KIND", "local")
            .env("HUBDECK_DATA_DIR", std::env::temp_dir())
            .env("HUBDECK_TRUSTS__KEY_PREFIX", "hubk")
            .output()
            .unwrap()
    };
    let out = run(&["trusts", "rotate-internal-key", "YRK"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = v[0]["trust_internal_service_key"].as_str().unwrap();
    assert!(key.starts_with("hubk"));
    assert_eq!(v[0]["trust_id"], reg.trust.id.to_string());
    assert!(v[0].get("trust_api_key").is_none());
    assert_eq!(audits(&db, reg.trust.id.0, "INTERNAL_KEY_ROTATED").await, 1);

    let out = run(&["trusts", "show", "YRK", "--output", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["trust"]["code"], "YRK");
    assert_eq!(v["last_heartbeat"], serde_json::Value::Null);
    assert_eq!(v["internal_key_age_days"], 0);
    let out = run(&["trusts", "rotate-internal-key", "NOPE"]);
    assert_eq!(out.status.code(), Some(4));
}

/// With stdout on a terminal the internal key is never printed into the scrollback: nothing is
/// rotated, and the message names the command that shows keys once on the alternate screen.
#[tokio::test(flavor = "multi_thread")]
async fn rotate_internal_key_on_a_terminal_rotates_nothing_and_names_the_way() {
    let (db, reg) = york().await;
    let rotated_at = || async {
        sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>(
            "SELECT internal_key_rotated_at FROM trust WHERE id = $1",
        )
        .bind(reg.trust.id.0)
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    let before = rotated_at().await;
    let t = crate::tui_e2e::Tmux::start(
        &[
            crate::support::cli::INFRA_FLAG,
            "trusts",
            "rotate-internal-key",
            "YRK",
            "--database-url",
            &db.url,
        ],
        &[crate::support::cli::INFRA_ENV],
    );
    t.wait_for(&[
        "nothing was rotated",
        "hubdeck trusts rotate-key TRUST --internal",
        "__EXIT:2",
    ]);
    assert_eq!(rotated_at().await, before);
    assert_eq!(audits(&db, reg.trust.id.0, "INTERNAL_KEY_ROTATED").await, 0);
}
