//! Users: the users page (one statement per page, totals, filters, index use), account
//! management (set roles, enable/disable, profile, delete), authorization, seed-users.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hubdeck::domain::{PageQuery, RoleRef, SortDir, UserSub};
use hubdeck::store::users as ustore;
use sqlx::PgPool;
use tracing_subscriber::layer::SubscriberExt;
use uuid::Uuid;

/// Counts the statements sqlx executes (its `sqlx::query` log events) while installed.
#[derive(Clone, Default)]
pub struct QueryCounter(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for QueryCounter {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl QueryCounter {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
    /// Installs the counter for the current thread (tests run on a current-thread runtime).
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let sub = tracing_subscriber::registry().with(self.clone());
        tracing::subscriber::set_default(sub)
    }
}

/// Inserts `n` cached identities with profiles; user i gets roles by i % 4:
/// 0 → none, 1 → admin, 2 → researcher, 3 → researcher + viewer. Every 5th is disabled.
pub async fn seed_users(db: &PgPool, n: i64) {
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status) \
         SELECT md5('u' || i)::uuid, 'user' || lpad(i::text, 6, '0') || '@example.org', \
                'user' || lpad(i::text, 6, '0') || '@example.org', i % 5 <> 0, \
                CASE WHEN i % 3 = 0 THEN 'FORCE_CHANGE_PASSWORD' ELSE 'CONFIRMED' END \
         FROM generate_series(1, $1) AS i",
    )
    .bind(n)
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO user_profile (user_id, name, organisation) \
         SELECT md5('u' || i)::uuid, 'Person ' || i, 'Org ' || (i % 10) FROM generate_series(1, $1) AS i",
    )
    .bind(n)
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO user_role (user_id, role_id) \
         SELECT md5('u' || i)::uuid, $2::uuid FROM generate_series(1, $1) AS i WHERE i % 4 = 1 \
         UNION ALL SELECT md5('u' || i)::uuid, $3::uuid FROM generate_series(1, $1) AS i WHERE i % 4 IN (2, 3) \
         UNION ALL SELECT md5('u' || i)::uuid, $4::uuid FROM generate_series(1, $1) AS i WHERE i % 4 = 3",
    )
    .bind(n)
    .bind(RoleRef::Admin.id())
    .bind(RoleRef::Researcher.id())
    .bind(RoleRef::Viewer.id())
    .execute(db)
    .await
    .unwrap();
    for t in ["directory_user", "user_profile", "user_role", "roles"] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {t}")))
            .execute(db)
            .await
            .unwrap();
    }
}

async fn scalar(db: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

#[tokio::test]
async fn users_page_is_one_statement_regardless_of_page_size_and_totals_are_right() {
    let t = crate::support::pg::fresh_db().await;
    seed_users(&t.pool, 400).await;
    let counter = QueryCounter::default();
    let _g = counter.install();

    for size in [5u32, 50, 400] {
        let before = counter.get();
        let page = ustore::list_page(&t.pool, &PageQuery::new(1, size), &[])
            .await
            .unwrap();
        assert_eq!(counter.get() - before, 1, "page size {size}: one statement");
        assert_eq!(page.total, 400);
        assert_eq!(page.items.len(), size as usize);
    }

    // Filtered totals match an independent count.
    let q = PageQuery::new(1, 7).filter("enabled", ["false"]);
    let page = ustore::list_page(&t.pool, &q, &[]).await.unwrap();
    assert_eq!(page.total, 80);
    assert!(page.items.iter().all(|u| !u.enabled));

    let q = PageQuery::new(2, 10).filter("has_roles", ["false"]);
    let before = counter.get();
    let page = ustore::list_page(&t.pool, &q, &[]).await.unwrap();
    assert_eq!(counter.get() - before, 1);
    assert_eq!(page.total, 100);
    assert!(page.items.iter().all(|u| u.roles.is_empty()));

    // Role filter (any of): researcher = i % 4 in (2, 3).
    let page = ustore::list_page(&t.pool, &PageQuery::new(1, 3), &[RoleRef::Researcher.id()])
        .await
        .unwrap();
    assert_eq!(page.total, 200);
    assert!(
        page.items
            .iter()
            .all(|u| u.roles.iter().any(|r| r == "Researcher"))
    );
    // Roles are aggregated in the same statement.
    let both = ustore::list_page(&t.pool, &PageQuery::new(1, 1).search("user000003@"), &[])
        .await
        .unwrap();
    assert_eq!(both.total, 1);
    assert_eq!(both.items[0].roles, vec!["Researcher", "Viewer"]);

    // Role + enabled + status combine; total equals a direct count.
    let q = PageQuery::new(1, 2)
        .filter("enabled", ["true"])
        .filter("status", ["CONFIRMED"]);
    let page = ustore::list_page(&t.pool, &q, &[RoleRef::Admin.id()])
        .await
        .unwrap();
    let expected: i64 = (1..=400)
        .filter(|i| i % 4 == 1 && i % 5 != 0 && i % 3 != 0)
        .count() as i64;
    assert_eq!(page.total as i64, expected);

    // Search matches email, name, organisation and sub.
    let page = ustore::list_page(&t.pool, &PageQuery::new(1, 50).search("Person 12"), &[])
        .await
        .unwrap();
    // Person 12, 120..129 → 11
    assert_eq!(page.total, 11);
    let page = ustore::list_page(&t.pool, &PageQuery::new(1, 50).search("org 7"), &[])
        .await
        .unwrap();
    assert_eq!(page.total, 40);
    let sub: Uuid = sqlx::query_scalar("SELECT md5('u42')::uuid")
        .fetch_one(&t.pool)
        .await
        .unwrap();
    let page = ustore::list_page(
        &t.pool,
        &PageQuery::new(1, 50).search(&sub.to_string()[..13]),
        &[],
    )
    .await
    .unwrap();
    assert!(page.items.iter().any(|u| u.sub == UserSub(sub)));
    // LIKE metacharacters are literal.
    let page = ustore::list_page(&t.pool, &PageQuery::new(1, 50).search("%"), &[])
        .await
        .unwrap();
    assert_eq!(page.total, 0);

    // Sort by name descending (lower(name)), stable tiebreak.
    let page = ustore::list_page(
        &t.pool,
        &PageQuery::new(1, 3).sort("name", SortDir::Desc),
        &[],
    )
    .await
    .unwrap();
    let names: Vec<_> = page.items.iter().map(|u| u.name.clone().unwrap()).collect();
    assert_eq!(names, vec!["Person 99", "Person 98", "Person 97"]);

    // Past the end: empty page, total still right.
    let page = ustore::list_page(&t.pool, &PageQuery::new(99, 50), &[])
        .await
        .unwrap();
    assert!(page.items.is_empty());
    assert_eq!(page.total, 400);

    // Unknown sort column → a clear error, no query text from the user.
    let err = ustore::list_page(
        &t.pool,
        &PageQuery::new(1, 5).sort("password; drop", SortDir::Asc),
        &[],
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("cannot sort"), "{err}");
    assert_eq!(
        scalar(&t.pool, "SELECT count(*) FROM directory_user").await,
        400
    );
}

/// Index use for the substring search, proven on a realistic small dataset (20,000 users with varied emails and names,
/// ANALYZEd, default planner settings — no `enable_seqscan = off`): the plan names the
/// trigram indexes.
#[tokio::test]
async fn users_substring_search_uses_trigram_indexes() {
    let t = crate::support::pg::fresh_db().await;
    // Varied emails, names and organisations (md5-derived), not one shared prefix.
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status) \
         SELECT md5('u' || i)::uuid, e, e, true, 'CONFIRMED' FROM ( \
           SELECT i, substr(md5('e' || i), 1, 6) || '.' || substr(md5('f' || i), 1, 7) || '@' || \
             (ARRAY['nhs.uk', 'example.org', 'hospital.net', 'uni.ac.uk'])[i % 4 + 1] AS e \
           FROM generate_series(1, 20000) AS i) x",
    )
    .execute(&t.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO user_profile (user_id, name, organisation) \
         SELECT md5('u' || i)::uuid, initcap(substr(md5('n' || i), 1, 8)), \
                'Trust ' || substr(md5('o' || i), 1, 5) FROM generate_series(1, 20000) AS i",
    )
    .execute(&t.pool)
    .await
    .unwrap();
    // VACUUM flushes the GIN pending lists (as autovacuum does in production); freshly bulk-loaded
    // rows sitting in a pending list make any GIN scan look expensive to the planner.
    for table in ["directory_user", "user_profile"] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {table}")))
            .execute(&t.pool)
            .await
            .unwrap();
    }
    let needle: String = sqlx::query_scalar("SELECT substr(md5('f4217'), 1, 7)")
        .fetch_one(&t.pool)
        .await
        .unwrap();
    let q = PageQuery::new(1, 50).search(needle.clone());
    let sql = ustore::list_page_sql(&q, &[]).unwrap();
    let pattern = format!("%{needle}%");
    let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")));
    for _ in 0..5 {
        query = query.bind(pattern.clone());
    }
    let plan: Vec<String> = query
        .bind(50i64)
        .bind(0i64)
        .fetch_all(&t.pool)
        .await
        .unwrap();
    let plan = plan.join("\n");
    assert!(
        plan.contains("directory_user_email_trgm"),
        "email search must use the trigram index:\n{plan}"
    );
    assert!(
        plan.contains("user_profile_name_trgm"),
        "name search must use the trigram index:\n{plan}"
    );
    // And the service returns the one match.
    let page = ustore::list_page(&t.pool, &q, &[]).await.unwrap();
    assert!(page.total >= 1);
    assert!(page.items.iter().all(|u| {
        u.email.contains(&needle)
            || u.name
                .as_deref()
                .is_some_and(|n| n.to_lowercase().contains(&needle))
            || u.organisation
                .as_deref()
                .is_some_and(|n| n.to_lowercase().contains(&needle))
            || u.sub.to_string().contains(&needle)
    }));
}
