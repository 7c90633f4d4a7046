//! Drift at a few thousand rows: the totals are true counts (never the listing's limit), the
//! list pages like every other list, and a whole class is repaired — in batches, each row
//! re-checked and audited — from the CLI, through the real binary.

use std::collections::HashSet;

use hubdeck::domain::page::{Position, Want};
use hubdeck::domain::{MandateId, PageQuery, RoleRef};
use sqlx::PgPool;

use crate::env::cli_local as hubdeck;
use crate::mandates::create;
use crate::registration::{cli, local_services};
use crate::support::pg;

/// Fixture drift straight in SQL: `members` broken memberships (disabled identities in
/// `mandate`), `disabled` disabled identities holding a global role, `orphans` global roles
/// of subs the cache never saw, `idle` identities without any grant.
async fn seed(
    pool: &PgPool,
    mandate: MandateId,
    members: i32,
    disabled: i32,
    orphans: i32,
    idle: i32,
) {
    let q = [
        "INSERT INTO directory_user (sub, username, email, enabled, status) \
         SELECT gen_random_uuid(), 'm' || g || '@drift.example', 'm' || g || '@drift.example', \
                false, 'CONFIRMED' FROM generate_series(1, $1) g",
        "INSERT INTO user_mandate (user_id, mandate_id) SELECT sub, $2 FROM directory_user \
         WHERE email LIKE 'm%@drift.example'",
        "INSERT INTO directory_user (sub, username, email, enabled, status) \
         SELECT gen_random_uuid(), 'd' || g || '@drift.example', 'd' || g || '@drift.example', \
                false, 'CONFIRMED' FROM generate_series(1, $3) g",
        "INSERT INTO user_role (user_id, role_id) SELECT sub, $6 FROM directory_user \
         WHERE email LIKE 'd%@drift.example'",
        "INSERT INTO user_role (user_id, role_id) SELECT gen_random_uuid(), $6 \
         FROM generate_series(1, $4) g",
        "INSERT INTO directory_user (sub, username, email, enabled, status) \
         SELECT gen_random_uuid(), 'i' || g || '@drift.example', 'i' || g || '@drift.example', \
                true, 'CONFIRMED' FROM generate_series(1, $5) g",
    ];
    for sql in q {
        // Each statement uses some of the binds; PostgreSQL needs every one typed.
        let sql = format!(
            "WITH hubdeck_args AS (SELECT $1::int, $2::uuid, $3::int, $4::int, $5::int, $6::uuid) \
             {sql}"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(members)
            .bind(mandate)
            .bind(disabled)
            .bind(orphans)
            .bind(idle)
            .bind(RoleRef::Viewer.id())
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::query("ANALYZE").execute(pool).await.unwrap();
}

async fn count(pool: &PgPool, sql: &str) -> u64 {
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(pool)
        .await
        .unwrap();
    n as u64
}

/// The classes counted straight in SQL, the way an operator would check them in psql.
async fn direct_counts(pool: &PgPool) -> [u64; 4] {
    [
        count(
            pool,
            "SELECT count(*) FROM user_mandate um JOIN mandate m ON m.id = um.mandate_id \
             AND m.deleted_at IS NULL LEFT JOIN directory_user d ON d.sub = um.user_id \
             WHERE d.sub IS NULL OR d.gone_at IS NOT NULL OR NOT d.enabled",
        )
        .await,
        count(
            pool,
            "SELECT count(DISTINCT ur.user_id) FROM user_role ur \
             LEFT JOIN directory_user d ON d.sub = ur.user_id \
             WHERE d.sub IS NULL OR d.gone_at IS NOT NULL",
        )
        .await,
        count(
            pool,
            "SELECT count(DISTINCT d.sub) FROM directory_user d JOIN user_role ur \
             ON ur.user_id = d.sub WHERE d.gone_at IS NULL AND NOT d.enabled",
        )
        .await,
        count(
            pool,
            "SELECT count(*) FROM directory_user d WHERE d.gone_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM user_role ur WHERE ur.user_id = d.sub) \
             AND NOT EXISTS (SELECT 1 FROM user_mandate um WHERE um.user_id = d.sub)",
        )
        .await,
    ]
}

#[tokio::test]
async fn drift_totals_are_true_counts_and_the_list_pages_through_every_row() {
    let t = pg::fresh_db().await;
    let svc = local_services(&t).await;
    let m = create(&svc, "drifting").await;
    seed(&t.pool, m, 845, 503, 130, 1_200).await;
    let direct = direct_counts(&t.pool).await;
    assert_eq!(direct, [845, 130, 503, 1_200], "the fixture");

    // The CLI's report: totals, not the --limit.
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = hubdeck(home.path(), &t.url, &["users", "drift"]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "memberships whose identity is gone or disabled: 845",
        "grants whose identity is gone: 130",
        "disabled users still holding grants: 503",
        "identities without grants: 1,200",
    ] {
        assert!(out.contains(line), "{line:?} missing in\n{out}");
    }
    let (code, out, err) = hubdeck(
        home.path(),
        &t.url,
        &["users", "drift", "--output", "json", "--limit", "10"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["totals"]["memberships"], 845);
    assert_eq!(v["totals"]["no_grants"], 1_200);
    assert_eq!(v["memberships"].as_array().unwrap().len(), 10);

    // The console's list: PgDn walks every row once, in class order; End and PgUp agree.
    let total: u64 = direct.iter().sum();
    let q = PageQuery::new(1, 50).wanting(Want::Rows);
    let counted = svc
        .drift_page(&cli(), &q.clone().wanting(Want::CappedCount))
        .await
        .unwrap();
    assert_eq!(counted.total, total);
    let mut page = svc.drift_page(&cli(), &q).await.unwrap();
    let mut seen = Vec::new();
    let mut pages = 1;
    loop {
        seen.extend(page.items.iter().map(|e| (e.class.clone(), e.id)));
        if page.nav.at_end {
            break;
        }
        let next = q
            .clone()
            .at(Position::After(page.nav.last.clone().unwrap()));
        page = svc.drift_page(&cli(), &next).await.unwrap();
        pages += 1;
    }
    assert_eq!(seen.len() as u64, total);
    assert_eq!(pages, total.div_ceil(50));
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no row twice");
    let classes: Vec<&str> = seen.iter().map(|(c, _)| c.as_str()).collect();
    let mut in_order = classes.clone();
    in_order.dedup();
    assert_eq!(
        in_order,
        [
            "memberships",
            "orphan-grants",
            "disabled-with-grants",
            "no-grants"
        ]
    );
    let last = svc
        .drift_page(&cli(), &q.clone().at(Position::Last))
        .await
        .unwrap();
    let tail: Vec<_> = last.items.iter().map(|e| (e.class.clone(), e.id)).collect();
    assert_eq!(tail[..], seen[seen.len() - tail.len()..]);
    let before = svc
        .drift_page(
            &cli(),
            &q.clone()
                .at(Position::Before(last.nav.first.clone().unwrap())),
        )
        .await
        .unwrap();
    let back: Vec<_> = before
        .items
        .iter()
        .map(|e| (e.class.clone(), e.id))
        .collect();
    let end = seen.len() - tail.len();
    assert_eq!(back[..], seen[end - 50..end]);
    // A jump to page 20 (an offset across classes) shows the rows the walk found there.
    let mut jump = q.clone();
    jump.page = 20;
    let p20 = svc.drift_page(&cli(), &jump).await.unwrap();
    let rows: Vec<_> = p20.items.iter().map(|e| (e.class.clone(), e.id)).collect();
    assert_eq!(rows[..], seen[19 * 50..20 * 50]);

    // The class filter and the search count what they show.
    let only = q.clone().filter("class", ["disabled-with-grants"]);
    let n = svc
        .drift_page(&cli(), &only.clone().wanting(Want::CappedCount))
        .await
        .unwrap();
    assert_eq!(n.total, 503);
    let searched = q.clone().search("12@Drift");
    let n = svc
        .drift_page(&cli(), &searched.clone().wanting(Want::CappedCount))
        .await
        .unwrap();
    let direct = count(
        &t.pool,
        "SELECT count(*) FROM directory_user WHERE email ILIKE '%12@drift%'",
    )
    .await;
    assert_eq!(n.total, direct);
    let rows = svc.drift_page(&cli(), &searched).await.unwrap();
    assert!(
        direct > 10,
        "the fixture has such emails in several classes"
    );
    assert!(
        rows.items
            .iter()
            .all(|e| e.email.as_deref().unwrap().contains("12@drift"))
    );
    assert_eq!(rows.items.len() as u64, direct);
}

#[tokio::test]
async fn a_whole_class_is_repaired_in_batches_with_an_audit_row_each() {
    let t = pg::fresh_db().await;
    let svc = local_services(&t).await;
    let m = create(&svc, "drifting").await;
    // 230 grants of subs the directory does not have: more than two batches of 100.
    seed(&t.pool, m, 0, 0, 230, 40).await;
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| hubdeck(home.path(), &t.url, args);

    // The preview: the count up front, nothing changed.
    let (code, out, err) = run(&["users", "drift", "--repair", "orphan-grants"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("orphan-grants: 230 rows to repair"),
        "count up front:\n{out}"
    );
    assert!(out.contains("add --yes to repair all 230"), "{out}");
    assert_eq!(
        direct_counts(&t.pool).await[1],
        230,
        "a preview changes nothing"
    );

    let (code, out, err) = run(&[
        "users",
        "drift",
        "--repair",
        "orphan-grants",
        "--yes",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["classes"][0]["class"], "orphan-grants");
    assert_eq!(v["classes"][0]["repaired"], 230);
    assert_eq!(v["classes"][0]["total"], 230);
    assert!(err.contains("230/230"), "progress on stderr: {err}");
    assert_eq!(direct_counts(&t.pool).await[1], 0, "the whole class");
    assert_eq!(
        count(
            &t.pool,
            "SELECT count(*) FROM users_audit WHERE action = 'Deleted user'"
        )
        .await,
        230,
        "one audit row per repair"
    );
    // Another class was left alone.
    assert_eq!(direct_counts(&t.pool).await[3], 40);
}
