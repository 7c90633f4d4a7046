//! The shared list query builder at a size where its shortcuts matter: totals capped above
//! TOTAL_CAP, exact below it; loose-index-scan filter values equal a plain DISTINCT; the page
//! order survives the subquery shape.

use hubdeck::domain::PageQuery;
use hubdeck::domain::page::{SortDir, TOTAL_CAP};
use hubdeck::store::mandates::{self, MandateScope};

use crate::support::pg;

#[tokio::test]
async fn totals_are_exact_up_to_the_cap_and_flagged_above_it() {
    let db = pg::fresh_db().await;
    let n = TOTAL_CAP + 5;
    sqlx::query(
        "INSERT INTO mandate (name, label, enabled) \
         SELECT 'Mandate ' || lpad(g::text, 7, '0'), 'label-' || (g % 7), g % 3 <> 0 \
         FROM generate_series(1, $1) g",
    )
    .bind(n as i64)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE mandate")
        .execute(&db.pool)
        .await
        .unwrap();

    let all = mandates::list(&db.pool, &PageQuery::new(1, 50), MandateScope::All)
        .await
        .unwrap();
    assert_eq!(all.items.len(), 50);
    assert!(all.total_is_capped(), "total {}", all.total);
    assert_eq!(all.total, TOTAL_CAP + 1);
    assert_eq!(all.range_label(), "rows 1–50 of more than 100,000");
    assert_eq!(all.items[0].name, "Mandate 0000001");

    // A narrower query is counted exactly: label-3 and enabled = g % 7 = 3 and g % 3 <> 0.
    let q = PageQuery::new(3, 20)
        .filter("label", ["label-3"])
        .filter("enabled", ["true"])
        .sort("name", SortDir::Desc);
    let page = mandates::list(&db.pool, &q, MandateScope::All)
        .await
        .unwrap();
    let expected: i64 =
        sqlx::query_scalar("SELECT count(*) FROM mandate WHERE label = 'label-3' AND enabled")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(!page.total_is_capped());
    assert_eq!(page.total, expected as u64);
    // Page order survives the subquery: strictly descending names, starting after 40 rows.
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM mandate WHERE label = 'label-3' AND enabled ORDER BY name DESC OFFSET 40 LIMIT 20",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|m| m.name.clone())
            .collect::<Vec<_>>(),
        names
    );

    // Past the end: no rows, and the total still comes back (capped).
    let far = mandates::list(&db.pool, &PageQuery::new(100_000, 50), MandateScope::All)
        .await
        .unwrap();
    assert!(far.items.is_empty());
    assert_eq!(far.total, TOTAL_CAP + 1);

    // Loose index scan (indexed column, no other filter) gives exactly the DISTINCT values.
    let labels = mandates::filter_values(
        &db.pool,
        "label",
        &PageQuery::new(1, 50),
        MandateScope::All,
        100,
    )
    .await
    .unwrap();
    let distinct: Vec<String> = sqlx::query_scalar("SELECT DISTINCT label FROM mandate ORDER BY 1")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(labels, distinct);
    let enabled = mandates::filter_values(
        &db.pool,
        "enabled",
        &PageQuery::new(1, 50),
        MandateScope::All,
        100,
    )
    .await
    .unwrap();
    assert_eq!(enabled, ["false", "true"]);
    // With another filter active the values honour it (plain DISTINCT path).
    let only_disabled = mandates::filter_values(
        &db.pool,
        "label",
        &PageQuery::new(1, 50)
            .filter("enabled", ["false"])
            .filter("label", ["label-1"]),
        MandateScope::All,
        100,
    )
    .await
    .unwrap();
    assert_eq!(
        only_disabled, distinct,
        "every label has disabled mandates; own filter ignored"
    );
}
