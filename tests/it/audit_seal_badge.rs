//! The Audit tab's seal badge, in the real console: verified once per session, then only the
//! unsealed rows counted on refresh; tampering named by the next session's verification.

use hubdeck::service::Actor;
use hubdeck::service::seal::SealKey;

use crate::support::pg;
use crate::tui_e2e::{seed_operator, services, start_signed_in};

async fn audit_row(db: &pg::TestDb) -> uuid::Uuid {
    sqlx::query_scalar(
        "INSERT INTO users_audit (action, user_id) VALUES ('ROLES_SET', gen_random_uuid()) \
         RETURNING id",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_tab_verifies_the_seals_once_then_counts_and_a_new_session_names_tampering() {
    let db = pg::fresh_db().await;
    let s = services(&db).await;
    seed_operator(&s).await;
    let sealed = audit_row(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seal.key");
    let public = SealKey::generate(&path).unwrap();
    s.seal_audit(&Actor::cli(), &SealKey::load(&path).unwrap())
        .await
        .unwrap();
    let env = [("HUBDECK_AUDIT__SEAL_PUBLIC_KEY", public.as_str())];

    let t = start_signed_in(&db, &env);
    t.keys(&["6"]);
    t.wait_for(&["seal: verified ✓"]);
    audit_row(&db).await;
    t.keys(&["C-r"]);
    t.wait_for(&["seal: verified ✓ ·", "unsealed"]);
    t.quit();

    // A superuser edits a sealed row with the triggers off.
    let mut c = db.pool.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query("UPDATE users_audit SET action = 'ENABLED' WHERE id = $1")
        .bind(sealed)
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query("RESET session_replication_role")
        .execute(&mut c)
        .await
        .unwrap();
    drop(c);
    let t = start_signed_in(&db, &env);
    t.keys(&["6"]);
    t.wait_for(&["seal: tampered ✗ (1 seal"]);
    t.quit();
}
