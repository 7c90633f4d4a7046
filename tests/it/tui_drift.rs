//! The Drift tab at more rows than a page: the title carries every class's true total, PgDn
//! pages, and `A` repairs the selected row's whole class after the count, the first row's
//! preview and the typed name — the real binary in tmux over a real PostgreSQL.

use hubdeck::domain::RoleRef;

use crate::support::pg::fresh_db;
use crate::tui_e2e::{seed_operator, services, start_signed_in};

async fn scalar(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(pool)
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_pages_with_true_totals_and_repairs_a_whole_class_from_the_console() {
    let db = fresh_db().await;
    let s = services(&db).await;
    seed_operator(&s).await;
    let own = scalar(&db.pool, "SELECT count(*) FROM user_role").await;
    // 120 global grants of subs the directory never had: more than two pages of 50.
    sqlx::query(
        "INSERT INTO user_role (user_id, role_id) SELECT gen_random_uuid(), $1 \
         FROM generate_series(1, 120)",
    )
    .bind(RoleRef::Viewer.id())
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(&db.pool).await.unwrap();

    let t = start_signed_in(&db, &[]);
    t.keys(&["7"]);
    t.wait_for(&["orphan-grants 120", "rows 1–50 of 120", "A repair class"]);
    t.keys(&["PageDown"]);
    t.wait_for(&["rows 51–100 of 120"]);
    t.keys(&["PageDown"]);
    t.wait_for(&["rows 101–120 of 120"]);

    t.keys(&["A"]);
    t.wait_for(&[
        "Repair all orphan-grants",
        "120 rows of orphan-grants",
        "The first, for example",
        "users_audit \"Deleted user\"",
    ]);
    assert_eq!(
        scalar(&db.pool, "SELECT count(*) FROM user_role").await,
        own + 120,
        "nothing changed before the confirmation"
    );
    t.settle();
    t.text("repair");
    t.keys(&["Enter"]);
    t.wait_for(&["orphan-grants: repaired 120 of 120"]);
    t.wait_for(&["orphan-grants 0"]);
    assert_eq!(
        scalar(&db.pool, "SELECT count(*) FROM user_role").await,
        own,
        "the operator's own grants stay"
    );
    assert_eq!(
        scalar(
            &db.pool,
            "SELECT count(*) FROM users_audit WHERE action = 'Deleted user'"
        )
        .await,
        120
    );
}
