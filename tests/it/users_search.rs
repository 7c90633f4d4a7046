//! Users search (issue 14): email, username, name and organisation by default; the sub only
//! when the term looks like the start of an id — so `cafe` no longer finds users whose id
//! merely contains "cafe" — and the id-prefix search keeps the collected-matches plan.

use hubdeck::domain::PageQuery;
use hubdeck::domain::page::Want;
use hubdeck::store::users as ustore;

use crate::mandates::{services, sysadmin};
use crate::support::pg;

#[tokio::test]
async fn words_never_match_ids_and_an_id_prefix_does() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    let rows = [
        (
            "0000cafe-0000-4000-8000-000000000001",
            "ann@example.org",
            "Ann",
            "Org",
        ),
        (
            "5f0c9a1e-1111-4000-8000-000000000002",
            "bob@example.org",
            "Bob",
            "Cafe Society",
        ),
        (
            "77777777-2222-4000-8000-000000000003",
            "carol@cafe.example",
            "Carol",
            "Org",
        ),
    ];
    for (sub, email, name, org) in rows {
        sqlx::query(
            "INSERT INTO directory_user (sub, username, email, enabled, status) \
             VALUES ($1::uuid, $2, $2, true, 'CONFIRMED')",
        )
        .bind(sub)
        .bind(email)
        .execute(&db.pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO user_profile (user_id, name, organisation) VALUES ($1::uuid, $2, $3)",
        )
        .bind(sub)
        .bind(name)
        .bind(org)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let found = |term: &str| {
        let svc = svc.clone();
        let root = root.clone();
        let q = PageQuery::new(1, 50).search(term.to_string());
        async move {
            let mut e: Vec<String> = svc
                .list_users(&root, &q)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|u| u.email)
                .collect();
            e.sort();
            e
        }
    };
    // "cafe": the organisation and the email, not Ann's id.
    assert_eq!(
        found("cafe").await,
        ["bob@example.org", "carol@cafe.example"]
    );
    // An id prefix (any case) finds its user; a fragment from the middle of an id does not.
    assert_eq!(found("5F0C9A1E").await, ["bob@example.org"]);
    assert_eq!(found("5f0c9a1e-1111").await, ["bob@example.org"]);
    assert!(found("1111-4000").await.is_empty());
    assert!(
        found("5f0c9a1").await.is_empty(),
        "7 characters are not an id prefix"
    );
    // Name and username still match.
    assert_eq!(found("carol").await, ["carol@cafe.example"]);
}

#[tokio::test]
async fn an_id_prefix_search_collects_the_matches_through_the_indexes() {
    let db = pg::fresh_db().await;
    let pool = &db.pool;
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status) \
         SELECT md5('u' || g)::uuid, 'user' || g, 'user' || g || '@example.org', true, 'CONFIRMED' \
         FROM generate_series(1, 20000) g",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("VACUUM (ANALYZE)").execute(pool).await.unwrap();
    let sub: String = sqlx::query_scalar("SELECT md5('u7')")
        .fetch_one(pool)
        .await
        .unwrap();
    let q = PageQuery::new(1, 50)
        .wanting(Want::Rows)
        .search(sub[..10].to_string());
    let plan = ustore::explain_page(pool, &q, &[])
        .await
        .unwrap()
        .join("\n");
    assert!(plan.contains("directory_user_sub_text_trgm"), "{plan}");
    assert!(!plan.contains("Seq Scan on directory_user"), "{plan}");
}
