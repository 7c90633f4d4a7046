//! The demo dataset generator, the demo command's cluster lifecycle, and index use of the list
//! queries on a generated dataset.

use hubdeck::store::dataset::{self, DatasetSpec, Outcome};

use crate::support::pg;

fn quiet(_: dataset::ProgressEvent) {}

#[tokio::test]
async fn generator_is_deterministic_and_reuses_an_unchanged_dataset() {
    let a = pg::fresh_db().await;
    let b = pg::fresh_db().await;
    let spec = DatasetSpec::small();
    let steps = std::sync::Mutex::new(Vec::new());
    let record = |e: dataset::ProgressEvent| steps.lock().unwrap().push(e.step);
    assert_eq!(
        dataset::ensure(&a.pool, &spec, None, &record)
            .await
            .unwrap(),
        Outcome::Generated
    );
    assert!(!steps.lock().unwrap().is_empty(), "progress was reported");
    dataset::generate(&b.pool, &spec, None, &quiet)
        .await
        .unwrap();

    let ca = dataset::counts(&a.pool).await.unwrap();
    let cb = dataset::counts(&b.pool).await.unwrap();
    assert_eq!(ca, cb);
    assert_eq!(
        dataset::fingerprint(&a.pool).await.unwrap(),
        dataset::fingerprint(&b.pool).await.unwrap()
    );
    // The shape the spec asks for.
    assert_eq!(ca.mandates, i64::from(spec.mandates) + 1);
    assert!(
        ca.deleted_mandates > 0 && ca.disabled_mandates > 0,
        "{ca:?}"
    );
    assert_eq!(ca.users, i64::from(spec.users) + 5, "{ca:?}"); // + 5 stuck-saga identities
    assert_eq!(ca.big_mandate_members, i64::from(spec.big_mandate_members));
    assert_eq!(ca.trusts, 30);
    assert_eq!(ca.free_slots, i64::from(spec.free_slots));
    assert_eq!(ca.stuck_registrations, 5);
    assert!(ca.audit_rows > 0 && ca.grants > 0);

    // Every mandate has one or two enabled admins.
    let bad: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mandate m WHERE (SELECT count(*) FROM user_mandate um
           JOIN user_mandate_role r ON r.user_mandate_id = um.id
           WHERE um.mandate_id = m.id AND um.enabled
             AND r.mandate_role_id = '9e0c1a52-5d1f-4f7e-9a55-0a4a1c2d3e01') NOT IN (1, 2)",
    )
    .fetch_one(&a.pool)
    .await
    .unwrap();
    assert_eq!(bad, 0);

    // The same first page of mandates (name order) in both databases.
    let first = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, String>(
            "SELECT name FROM mandate WHERE deleted_at IS NULL ORDER BY name, id LIMIT 50",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let fa = first(a.pool.clone()).await;
    assert_eq!(fa, first(b.pool.clone()).await);
    assert_eq!(fa.len(), 50);

    // Unchanged: re-used, nothing regenerated.
    assert_eq!(
        dataset::ensure(&a.pool, &spec, None, &quiet).await.unwrap(),
        Outcome::Reused
    );
    assert_eq!(dataset::counts(&a.pool).await.unwrap(), ca);

    // A different seed gives different data; a different spec on a populated database is refused.
    let c = pg::fresh_db().await;
    let other = DatasetSpec {
        seed: spec.seed + 1,
        ..spec.clone()
    };
    dataset::generate(&c.pool, &other, None, &quiet)
        .await
        .unwrap();
    assert_ne!(
        dataset::fingerprint(&a.pool).await.unwrap(),
        dataset::fingerprint(&c.pool).await.unwrap()
    );
    assert!(
        dataset::ensure(&a.pool, &other, None, &quiet)
            .await
            .is_err()
    );
    assert!(
        dataset::generate(&a.pool, &spec, None, &quiet)
            .await
            .is_err()
    );
}
