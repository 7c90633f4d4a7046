//! Users: the users page (one statement per page, totals, filters, index use), account
//! management (set roles, enable/disable, profile, delete), authorization, seed-users.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hubdeck::domain::{PageQuery, RoleRef, SortDir, UserSub};
use hubdeck::store::users as ustore;
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
pub async fn seed_users(db: &hubdeck::store::Db, n: i64) {
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

async fn scalar(db: &hubdeck::store::Db, sql: &'static str) -> i64 {
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
        // The page (rows only) and the exact total: two statements whatever the size.
        assert_eq!(
            counter.get() - before,
            2,
            "page size {size}: two statements"
        );
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
    assert_eq!(counter.get() - before, 2);
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

    // Filter values ignore the column's own filter but honour the others.
    let q = PageQuery::new(1, 10)
        .filter("status", ["CONFIRMED"])
        .filter("enabled", ["true"]);
    let values = ustore::filter_values(&t.pool, "status", &q, &[], 10)
        .await
        .unwrap();
    assert_eq!(values, vec!["CONFIRMED", "FORCE_CHANGE_PASSWORD"]);
    let values = ustore::filter_values(&t.pool, "enabled", &q, &[], 10)
        .await
        .unwrap();
    assert_eq!(values, vec!["false", "true"]);

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
    let plan: Vec<String> = ustore::explain_page(&t.pool, &q, &[]).await.unwrap();
    let plan = plan.join("\n");
    assert!(
        plan.contains("directory_user_email_trgm"),
        "email search must use the trigram index:\n{plan}"
    );
    assert!(
        plan.contains("directory_user_profile_name_trgm"),
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

// ---------------------------------------------------------------------------------------------
// Account management on LocalDirectory
// ---------------------------------------------------------------------------------------------

use crate::registration::{cli, count, local_services, operator, req, rows_of};
use hubdeck::domain::PermissionRef;
use hubdeck::service::ServiceError;

/// Another active holder of the global ADMIN role (cached identity, profile, grant), so the
/// user under test is not the last one (the last is protected; see `last_global_admin_*`).
async fn spare_admin(pool: &hubdeck::store::Db) -> UserSub {
    let sub = crate::mandates::cached_user(pool, "spare-admin@example.org", "Spare Admin").await;
    crate::mandates::grant(pool, sub, RoleRef::Admin).await;
    sub
}

/// A signed-in operator whose grants give exactly `perms` (through a role made for the test),
/// with a cached identity — what fresh authority re-reads on every mutation.
pub(crate) async fn signed_in_with(
    pool: &hubdeck::store::Db,
    email: &str,
    perms: &[PermissionRef],
) -> hubdeck::service::Actor {
    let sub = crate::mandates::cached_user(pool, email, "Operator").await;
    let role = Uuid::new_v4();
    sqlx::query("INSERT INTO roles (id, name, description) VALUES ($1, $2, 'test role')")
        .bind(role)
        .bind(format!("role-{role}"))
        .execute(pool)
        .await
        .unwrap();
    for p in perms {
        sqlx::query("INSERT INTO role_permission (role_id, permission_id) VALUES ($1, $2)")
            .bind(role)
            .bind(p.id())
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::query("INSERT INTO user_role (user_id, role_id) VALUES ($1, $2)")
        .bind(sub)
        .bind(role)
        .execute(pool)
        .await
        .unwrap();
    let op = hubdeck::service::actor::load_operator(pool, sub, email)
        .await
        .unwrap();
    assert_eq!(op.permissions.len(), perms.len());
    hubdeck::service::Actor::Operator(op)
}

async fn registered(svc: &hubdeck::service::Services, email: &str, roles: &[RoleRef]) -> UserSub {
    svc.register_user(&cli(), &req(email, roles))
        .await
        .unwrap()
        .sub
        .unwrap()
}

#[tokio::test]
async fn concurrent_set_roles_end_in_exactly_one_requested_state() {
    let t = crate::support::pg::fresh_db().await;
    let pool = t.pool_with(8).await;
    let mut svc = local_services(&t).await;
    svc.db = pool.clone();
    let sub = registered(&svc, "conc@example.org", &[RoleRef::Viewer]).await;
    spare_admin(&pool).await;
    let a = vec![RoleRef::Admin, RoleRef::Researcher];
    let b = vec![RoleRef::Viewer];
    for round in 0..10 {
        let actor = cli();
        let (ra, rb) = tokio::join!(
            svc.set_roles(&actor, sub, &a),
            svc.set_roles(&actor, sub, &b)
        );
        ra.unwrap_or_else(|e| panic!("round {round}: {e:?}"));
        rb.unwrap_or_else(|e| panic!("round {round}: {e:?}"));
        let held = crate::support::readback::global_role_ids(&pool, sub).await;
        let ids = |v: &[RoleRef]| {
            let mut x: Vec<Uuid> = v.iter().map(|r| r.id()).collect();
            x.sort();
            x
        };
        assert!(
            held == ids(&a) || held == ids(&b),
            "round {round}: {held:?}"
        );
    }
    // One audit row per change (+1 for the registration).
    assert_eq!(rows_of(&pool, sub).await.audits, 21);
}

#[tokio::test]
async fn operator_without_manage_users_is_refused_everything_and_nothing_reaches_the_directory() {
    let t = crate::support::pg::fresh_db().await;
    let svc = local_services(&t).await;
    let sub = registered(&svc, "victim@example.org", &[RoleRef::Viewer]).await;
    let before_ids = count(&t.pool, "SELECT count(*) FROM local_identity", None).await;
    let before_audit = count(&t.pool, "SELECT count(*) FROM users_audit", None).await;
    let before_journal = count(&t.pool, "SELECT count(*) FROM registration", None).await;
    let before_inv = count(&t.pool, "SELECT count(*) FROM local_invitation", None).await;
    // Everything except CAN_MANAGE_USERS.
    let perms: Vec<PermissionRef> = PermissionRef::ALL
        .into_iter()
        .filter(|p| *p != PermissionRef::CanManageUsers)
        .collect();
    for actor in [operator(&[]), operator(&perms)] {
        let denied = |r: Result<(), ServiceError>| match r {
            Err(ServiceError::Denied(m)) => assert!(m.contains("CAN_MANAGE_USERS"), "{m}"),
            other => panic!("expected Denied, got {other:?}"),
        };
        denied(
            svc.register_user(&actor, &req("new@example.org", &[]))
                .await
                .map(|_| ()),
        );
        denied(
            svc.set_roles(&actor, sub, &[RoleRef::Admin])
                .await
                .map(|_| ()),
        );
        denied(svc.set_enabled(&actor, sub, false).await);
        denied(svc.edit_profile(&actor, sub, "X", "Y").await);
        denied(svc.resend_invite(&actor, sub).await);
        denied(svc.delete_user(&actor, sub).await.map(|_| ()));
        denied(svc.seed_users(&actor).await.map(|_| ()));
        denied(svc.stuck_registrations(&actor).await.map(|_| ()));
        let id = hubdeck::domain::RegistrationId::new_v4();
        denied(svc.retry_registration(&actor, id).await.map(|_| ()));
        denied(svc.rollback_registration(&actor, id).await.map(|_| ()));
        denied(svc.resolve_registration(&actor, id, "n").await.map(|_| ()));
        denied(svc.reconcile_pending(&actor, 0).await.map(|_| ()));
        denied(
            svc.list_users(&actor, &PageQuery::new(1, 10))
                .await
                .map(|_| ()),
        );
        denied(svc.user_detail(&actor, sub).await.map(|_| ()));
        denied(
            svc.resolve_user(&actor, "victim@example.org")
                .await
                .map(|_| ()),
        );
    }
    // A holder of CAN_MANAGE_USERS alone cannot grant Admin (it does not hold every permission).
    let manager = signed_in_with(
        &t.pool,
        "manager@example.org",
        &[PermissionRef::CanManageUsers],
    )
    .await;
    let err = svc
        .set_roles(&manager, sub, &[RoleRef::Admin])
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Denied(_)), "{err:?}");
    svc.set_roles(&manager, sub, &[RoleRef::Viewer])
        .await
        .unwrap();

    assert_eq!(
        count(&t.pool, "SELECT count(*) FROM local_identity", None).await,
        before_ids
    );
    assert_eq!(
        count(&t.pool, "SELECT count(*) FROM users_audit", None).await,
        before_audit + 1
    );
    assert_eq!(
        count(&t.pool, "SELECT count(*) FROM registration", None).await,
        before_journal
    );
    assert_eq!(
        count(&t.pool, "SELECT count(*) FROM local_invitation", None).await,
        before_inv
    );
    let enabled: bool = sqlx::query_scalar("SELECT enabled FROM local_identity WHERE sub = $1")
        .bind(sub)
        .fetch_one(&t.pool)
        .await
        .unwrap();
    assert!(enabled);
}

#[tokio::test]
async fn read_only_mode_refuses_mutations_before_the_directory() {
    let t = crate::support::pg::fresh_db().await;
    let mut svc = local_services(&t).await;
    let sub = registered(&svc, "ro@example.org", &[]).await;
    let mut s = t.settings();
    s.ui.read_only = true;
    svc.settings = std::sync::Arc::new(s);
    assert!(matches!(
        svc.register_user(&cli(), &req("x@example.org", &[])).await,
        Err(ServiceError::ReadOnly(_))
    ));
    assert!(matches!(
        svc.delete_user(&cli(), sub).await,
        Err(ServiceError::ReadOnly(_))
    ));
    assert_eq!(
        count(&t.pool, "SELECT count(*) FROM local_identity", None).await,
        1
    );
}

#[tokio::test]
async fn enable_disable_profile_invite_and_detail() {
    let t = crate::support::pg::fresh_db().await;
    let svc = local_services(&t).await;
    let sub = registered(&svc, "flip@example.org", &[RoleRef::Researcher]).await;
    svc.set_enabled(&cli(), sub, false).await.unwrap();
    let enabled: bool = sqlx::query_scalar("SELECT enabled FROM local_identity WHERE sub = $1")
        .bind(sub)
        .fetch_one(&t.pool)
        .await
        .unwrap();
    assert!(!enabled);
    let page = svc
        .list_users(&cli(), &PageQuery::new(1, 10).filter("enabled", ["false"]))
        .await
        .unwrap();
    assert_eq!(
        page.total, 1,
        "cache updated right after the directory write"
    );
    svc.set_enabled(&cli(), sub, true).await.unwrap();

    let err = svc.edit_profile(&cli(), sub, "", "Org").await.unwrap_err();
    assert!(matches!(err, ServiceError::Invalid(_)));
    let err = svc
        .edit_profile(&cli(), sub, "ok", &"o".repeat(256))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Invalid(_)));
    svc.edit_profile(&cli(), sub, "Renamed", "New Org")
        .await
        .unwrap();
    svc.resend_invite(&cli(), sub).await.unwrap();

    // A mandate membership shows in the detail with its role labels.
    sqlx::query(
        "WITH m AS (INSERT INTO mandate (name) VALUES ('Acme') RETURNING id), \
         um AS (INSERT INTO user_mandate (user_id, mandate_id) SELECT $1, id FROM m RETURNING id) \
         INSERT INTO user_mandate_role (user_mandate_id, mandate_role_id) SELECT id, $2 FROM um",
    )
    .bind(sub)
    .bind(hubdeck::domain::roles::mandate_roles::ADMIN)
    .execute(&t.pool)
    .await
    .unwrap();
    let d = svc.user_detail(&cli(), sub).await.unwrap();
    assert_eq!(d.mandates.len(), 1);
    assert_eq!(d.mandates[0].mandate_name, "Acme");
    assert_eq!(d.mandates[0].roles, vec!["admin"]);
    assert_eq!(d.profile.unwrap().name, "Renamed");
    assert_eq!(d.roles, vec!["Researcher"]);
    assert_eq!(d.registrations.len(), 1);
    let actions: Vec<&str> = d.audit.iter().map(|a| a.action.as_str()).collect();
    for a in [
        "Registered user",
        "Disabled user",
        "Enabled user",
        "Updated user profile",
        "Resent invitation",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    // Resolve by email or sub.
    assert_eq!(
        svc.resolve_user(&cli(), "flip@example.org")
            .await
            .unwrap()
            .sub,
        sub
    );
    assert_eq!(
        svc.resolve_user(&cli(), &sub.to_string())
            .await
            .unwrap()
            .sub,
        sub
    );
    let err = svc
        .resolve_user(&cli(), "nobody@example.org")
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 4);
}

#[tokio::test]
async fn delete_removes_grants_then_identity_and_is_idempotent() {
    let t = crate::support::pg::fresh_db().await;
    let svc = local_services(&t).await;
    let sub = registered(&svc, "del@example.org", &[RoleRef::Admin, RoleRef::Viewer]).await;
    spare_admin(&t.pool).await;
    let out = svc.delete_user(&cli(), sub).await.unwrap();
    assert_eq!(out.grants_removed, 2);
    assert!(out.identity_deleted);
    let rows = rows_of(&t.pool, sub).await;
    assert_eq!((rows.grants, rows.profiles, rows.audits), (0, 0, 2));
    assert_eq!(
        count(&t.pool, "SELECT count(*) FROM local_identity", None).await,
        0
    );
    let page = svc
        .list_users(&cli(), &PageQuery::new(1, 10))
        .await
        .unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|u| u.email.as_str())
            .collect::<Vec<_>>(),
        ["spare-admin@example.org"],
        "cache marks the user gone"
    );

    let again = svc.delete_user(&cli(), sub).await.unwrap();
    assert_eq!(again.grants_removed, 0);
    assert!(!again.identity_deleted);
    assert!(
        again.message.contains("already deleted"),
        "{}",
        again.message
    );
    assert_eq!(
        rows_of(&t.pool, sub).await.audits,
        2,
        "no-op writes no audit"
    );

    // Grants whose identity is already gone are still cleaned up.
    let ghost = UserSub::new_v4();
    sqlx::query("INSERT INTO user_role (user_id, role_id) VALUES ($1, $2)")
        .bind(ghost)
        .bind(RoleRef::Viewer.id())
        .execute(&t.pool)
        .await
        .unwrap();
    let d = svc.drift_report(&cli(), 10).await.unwrap();
    let orphans: Vec<UserSub> = d.orphan_grants.iter().map(|u| u.sub).collect();
    assert_eq!(orphans, vec![ghost]);
    let out = svc.delete_user(&cli(), ghost).await.unwrap();
    assert_eq!(out.grants_removed, 1);
    assert!(!out.identity_deleted);
}

#[tokio::test]
async fn seed_users_grants_only_users_without_grants_and_skips_missing() {
    let t = crate::support::pg::fresh_db().await;
    let mut svc = local_services(&t).await;
    let fresh = registered(&svc, "fresh@example.org", &[]).await;
    let busy = registered(&svc, "busy@example.org", &[RoleRef::Viewer]).await;
    spare_admin(&t.pool).await;
    let mut s = t.settings();
    s.seed.admin_emails = vec!["fresh@example.org".into(), "missing@example.org".into()];
    s.seed.researcher_emails = vec!["busy@example.org".into()];
    svc.settings = std::sync::Arc::new(s);
    let summary = svc.seed_users(&cli()).await.unwrap();
    use hubdeck::service::seed_users::SeedOutcome;
    let outcomes: Vec<(&str, &SeedOutcome)> = summary
        .lines
        .iter()
        .map(|l| (l.email.as_str(), &l.outcome))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("fresh@example.org", &SeedOutcome::Granted),
            ("missing@example.org", &SeedOutcome::Missing),
            ("busy@example.org", &SeedOutcome::AlreadyHadRoles),
        ]
    );
    assert!(summary.stopped.is_none());
    assert_eq!(
        summary.totals(),
        "granted 1, already had roles 1, missing 1, skipped 0"
    );
    let roles = |sub: UserSub| {
        let pool = t.pool.clone();
        async move { crate::support::readback::global_role_ids(&pool, sub).await }
    };
    assert_eq!(roles(fresh).await, vec![RoleRef::Admin.id()]);
    assert_eq!(roles(busy).await, vec![RoleRef::Viewer.id()]);
    // Running it again changes nothing (never undoes later changes).
    svc.set_roles(&cli(), fresh, &[RoleRef::Viewer])
        .await
        .unwrap();
    let again = svc.seed_users(&cli()).await.unwrap();
    assert_eq!(
        again.totals(),
        "granted 0, already had roles 2, missing 1, skipped 0"
    );
    assert_eq!(roles(fresh).await, vec![RoleRef::Viewer.id()]);
}

// ---------------------------------------------------------------------------------------------
// Fresh authority (issue 17 item 5) and the last admin on every path (item 6)
// ---------------------------------------------------------------------------------------------

use hubdeck::domain::roles::mandate_roles;
use hubdeck::domain::{MandateId, Secret};
use hubdeck::service::mandates::MandateInput;
use hubdeck::service::session::SignInOutcome;
use hubdeck::service::{Actor, Services};
use hubdeck::store::grants;

const OPERATOR_PASSWORD: &str = "Operator-pass-1";

/// A user registered with `roles` and signed in through the real sign-in path (LocalDirectory
/// password check, permissions loaded from the grants).
async fn signed_in(svc: &Services, email: &str, roles: &[RoleRef]) -> (UserSub, Actor) {
    let sub = registered(svc, email, roles).await;
    svc.directory
        .set_password(email, &Secret::new(OPERATOR_PASSWORD), true)
        .await
        .unwrap();
    match svc
        .sign_in(email, &Secret::new(OPERATOR_PASSWORD))
        .await
        .unwrap()
    {
        SignInOutcome::SignedIn(op) => (sub, Actor::Operator(op)),
        other => panic!("sign-in: {other:?}"),
    }
}

fn input(name: &str) -> MandateInput {
    MandateInput {
        name: name.into(),
        label: None,
        enabled: true,
    }
}

async fn mandates_named(pool: &hubdeck::store::Db, name: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM mandate WHERE name = $1")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn revoked(r: Result<(), ServiceError>, needle: &str) {
    match r {
        Err(e @ ServiceError::OperatorRevoked(_)) => {
            assert_eq!(e.exit_code(), 4);
            assert!(e.to_string().contains(needle), "{e}");
        }
        other => panic!("expected OperatorRevoked ({needle}), got {other:?}"),
    }
}

/// Every kind of mutation the revoked operator tries; none may write anything.
async fn every_mutation_is_revoked(
    svc: &Services,
    op: &Actor,
    victim: UserSub,
    m: MandateId,
    needle: &str,
) {
    let pool = &svc.db;
    let before_users_audit = count(pool, "SELECT count(*) FROM users_audit", None).await;
    let before_mandate_audit = count(pool, "SELECT count(*) FROM mandate_audit", None).await;
    let before_trusts = count(pool, "SELECT count(*) FROM trust", None).await;
    revoked(
        svc.create_mandate(op, &input("After revocation"), None)
            .await
            .map(|_| ()),
        needle,
    );
    revoked(
        svc.update_mandate(op, m, &input("Renamed by revoked"))
            .await
            .map(|_| ()),
        needle,
    );
    revoked(svc.soft_delete_mandate(op, m).await, needle);
    revoked(
        svc.set_roles(op, victim, &[RoleRef::Researcher])
            .await
            .map(|_| ()),
        needle,
    );
    revoked(svc.set_enabled(op, victim, false).await, needle);
    revoked(
        svc.edit_profile(op, victim, "Changed", "Changed").await,
        needle,
    );
    revoked(svc.delete_user(op, victim).await.map(|_| ()), needle);
    revoked(
        svc.add_member(
            op,
            m,
            &hubdeck::service::members::MemberRef::Sub(victim),
            &[],
        )
        .await
        .map(|_| ()),
        needle,
    );
    revoked(
        svc.register_trust(op, "Revoked Trust", "RVK", None)
            .await
            .map(|_| ()),
        needle,
    );
    assert_eq!(mandates_named(pool, "After revocation").await, 0);
    assert_eq!(mandates_named(pool, "Renamed by revoked").await, 0);
    assert_eq!(
        count(pool, "SELECT count(*) FROM users_audit", None).await,
        before_users_audit
    );
    assert_eq!(
        count(pool, "SELECT count(*) FROM mandate_audit", None).await,
        before_mandate_audit
    );
    assert_eq!(
        count(pool, "SELECT count(*) FROM trust", None).await,
        before_trusts
    );
    // The victim is untouched: still enabled in the directory, still a viewer.
    let enabled: bool = sqlx::query_scalar("SELECT enabled FROM local_identity WHERE sub = $1")
        .bind(victim)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(enabled);
    assert_eq!(rows_of(pool, victim).await.grants, 1);
}

#[tokio::test]
async fn operator_whose_admin_grant_another_operator_removed_is_refused_on_the_next_mutation() {
    let t = crate::support::pg::fresh_db().await;
    let svc = local_services(&t).await;
    spare_admin(&t.pool).await;
    let (x, op) = signed_in(&svc, "x-admin@example.org", &[RoleRef::Admin]).await;
    let (_, other) = signed_in(&svc, "y-admin@example.org", &[RoleRef::Admin]).await;
    let victim = registered(&svc, "victim@example.org", &[RoleRef::Viewer]).await;
    // Before: the operator acts.
    let m = svc
        .create_mandate(&op, &input("Before revocation"), None)
        .await
        .unwrap()
        .mandate
        .id;
    // Another operator removes X's ADMIN grant; X's session still lists every permission.
    svc.set_roles(&other, x, &[RoleRef::Viewer]).await.unwrap();
    let Actor::Operator(o) = &op else {
        unreachable!()
    };
    assert!(o.permissions.contains(&PermissionRef::CanManageUsers));
    every_mutation_is_revoked(&svc, &op, victim, m, "no longer include").await;
    // Signing in again gives the new (empty) authority: plain Denied, not revoked.
    let again = match svc
        .sign_in("x-admin@example.org", &Secret::new(OPERATOR_PASSWORD))
        .await
        .unwrap()
    {
        SignInOutcome::SignedIn(op) => Actor::Operator(op),
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        svc.create_mandate(&again, &input("Denied"), None).await,
        Err(ServiceError::Denied(_))
    ));
}

#[tokio::test]
async fn disabled_operator_is_refused_on_the_next_mutation_and_sign_in_clears_a_stale_mark() {
    let t = crate::support::pg::fresh_db().await;
    let svc = local_services(&t).await;
    spare_admin(&t.pool).await;
    let (x, op) = signed_in(&svc, "x-admin@example.org", &[RoleRef::Admin]).await;
    let (_, other) = signed_in(&svc, "y-admin@example.org", &[RoleRef::Admin]).await;
    let victim = registered(&svc, "victim@example.org", &[RoleRef::Viewer]).await;
    let m = svc
        .create_mandate(&op, &input("Before disable"), None)
        .await
        .unwrap()
        .mandate
        .id;
    svc.set_enabled(&other, x, false).await.unwrap();
    // X still holds ADMIN, but the account is disabled.
    assert_eq!(rows_of(&t.pool, x).await.grants, 1);
    every_mutation_is_revoked(&svc, &op, victim, m, "has been disabled").await;
    // The directory refuses the disabled account's sign-in.
    assert!(
        svc.sign_in("x-admin@example.org", &Secret::new(OPERATOR_PASSWORD))
            .await
            .is_err()
    );

    // A stale "disabled" mark in the cache (an old sync) does not outlive a real sign-in: the
    // directory authenticating the operator proves the account is enabled.
    let (z, z_before) = signed_in(&svc, "z-admin@example.org", &[RoleRef::Admin]).await;
    sqlx::query("UPDATE directory_user SET enabled = false WHERE sub = $1")
        .bind(z)
        .execute(&t.pool)
        .await
        .unwrap();
    // The mark is honoured for the session that predates it ...
    revoked(
        svc.create_mandate(&z_before, &input("Stale session"), None)
            .await
            .map(|_| ()),
        "has been disabled",
    );
    // ... and cleared by the next successful sign-in.
    let fresh = match svc
        .sign_in("z-admin@example.org", &Secret::new(OPERATOR_PASSWORD))
        .await
        .unwrap()
    {
        SignInOutcome::SignedIn(op) => Actor::Operator(op),
        other => panic!("{other:?}"),
    };
    svc.create_mandate(&fresh, &input("After a real sign-in"), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn deleted_operator_is_refused_on_the_next_mutation() {
    let t = crate::support::pg::fresh_db().await;
    let svc = local_services(&t).await;
    spare_admin(&t.pool).await;
    let (x, op) = signed_in(&svc, "x-admin@example.org", &[RoleRef::Admin]).await;
    let (_, other) = signed_in(&svc, "y-admin@example.org", &[RoleRef::Admin]).await;
    let victim = registered(&svc, "victim@example.org", &[RoleRef::Viewer]).await;
    let m = svc
        .create_mandate(&op, &input("Before delete"), None)
        .await
        .unwrap()
        .mandate
        .id;
    svc.delete_user(&other, x).await.unwrap();
    every_mutation_is_revoked(&svc, &op, victim, m, "has been deleted").await;
}

/// A user (local identity) who is an admin of `mandates` (raw fixture memberships).
async fn admin_of(svc: &Services, email: &str, mandates: &[MandateId]) -> UserSub {
    let sub = registered(svc, email, &[RoleRef::Viewer]).await;
    for m in mandates {
        crate::mandates::raw_member(&svc.db, *m, sub, &[mandate_roles::ADMIN]).await;
    }
    sub
}

async fn create_mandate(svc: &Services, name: &str) -> MandateId {
    crate::mandates::create(svc, name).await
}

async fn identity_enabled(pool: &hubdeck::store::Db, sub: UserSub) -> bool {
    sqlx::query_scalar("SELECT enabled FROM local_identity WHERE sub = $1")
        .bind(sub)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn last_admin_of_a_mandate_cannot_be_deleted_or_disabled_and_the_message_names_the_mandates()
{
    let t = crate::support::pg::fresh_db().await;
    let svc = local_services(&t).await;
    let alpha = create_mandate(&svc, "Alpha Clinic").await;
    let beta = create_mandate(&svc, "Beta Registry").await;
    let shared = create_mandate(&svc, "Shared Unit").await;
    let gone = create_mandate(&svc, "Soft Deleted Unit").await;
    let x = admin_of(&svc, "x@example.org", &[alpha, beta, shared, gone]).await;
    let y = admin_of(&svc, "y@example.org", &[shared]).await;
    svc.soft_delete_mandate(&cli(), gone).await.unwrap();
    let memberships = |sub: UserSub| {
        count(
            &t.pool,
            "SELECT count(*) FROM user_mandate WHERE user_id = $1",
            Some(sub),
        )
    };
    let audits = count(&t.pool, "SELECT count(*) FROM mandate_audit", None).await;

    for (what, r) in [
        ("delete", svc.delete_user(&cli(), x).await.map(|_| ())),
        ("disable", svc.set_enabled(&cli(), x, false).await),
    ] {
        let e = r.unwrap_err();
        assert_eq!(e.exit_code(), 3, "{what}");
        assert_eq!(
            e.to_string(),
            format!(
                "Cannot {what} x@example.org: they are the last admin of «Alpha Clinic», «Beta \
                 Registry». Assign another admin first."
            )
        );
    }
    // Nothing changed: memberships, grants, identity, audit.
    assert_eq!(memberships(x).await, 4);
    assert_eq!(rows_of(&t.pool, x).await.grants, 1);
    assert!(identity_enabled(&t.pool, x).await);
    assert_eq!(
        count(&t.pool, "SELECT count(*) FROM mandate_audit", None).await,
        audits
    );

    // A disabled admin is no admin: once y (the other admin of Shared) is disabled, x is the
    // last admin of Shared as well.
    svc.set_enabled(&cli(), y, false).await.unwrap();
    let e = svc.delete_user(&cli(), x).await.unwrap_err();
    assert!(e.to_string().contains("«Shared Unit»"), "{e}");
    svc.set_enabled(&cli(), y, true).await.unwrap();

    // With another admin on Alpha and Beta, the delete goes through and takes every membership
    // with it — one MEMBER_REMOVED audit row and one notification per mandate, same transaction.
    admin_of(&svc, "z@example.org", &[alpha, beta]).await;
    let out = svc.delete_user(&cli(), x).await.unwrap();
    assert!(out.identity_deleted);
    assert_eq!(memberships(x).await, 0);
    assert_eq!(rows_of(&t.pool, x).await.grants, 0);
    let removed: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT mandate_id, details->>'reason' FROM mandate_audit \
         WHERE action = 'MEMBER_REMOVED' AND target_user_id = $1 ORDER BY mandate_id",
    )
    .bind(x)
    .fetch_all(&t.pool)
    .await
    .unwrap();
    let mut expected: Vec<Uuid> = vec![alpha.0, beta.0, shared.0, gone.0];
    expected.sort();
    assert_eq!(
        removed,
        expected
            .iter()
            .map(|m| (*m, "user deleted".to_string()))
            .collect::<Vec<_>>()
    );
    let notified: Vec<Uuid> = sqlx::query_scalar(
        "SELECT mandate_id FROM notification WHERE user_id = $1 AND message_en LIKE '%removed%' \
         ORDER BY mandate_id",
    )
    .bind(x)
    .fetch_all(&t.pool)
    .await
    .unwrap();
    assert_eq!(notified, expected);
    for m in [alpha, beta, shared] {
        assert!(crate::members::admins(&t.pool, m).await >= 1);
    }
}

async fn active_global_admins(pool: &hubdeck::store::Db) -> i64 {
    sqlx::query_scalar(
        "SELECT count(DISTINCT ur.user_id) FROM user_role ur WHERE ur.role_id = $1 \
         AND NOT EXISTS (SELECT 1 FROM directory_user d WHERE d.sub = ur.user_id \
         AND (NOT d.enabled OR d.gone_at IS NOT NULL))",
    )
    .bind(RoleRef::Admin.id())
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn last_global_admin_cannot_be_demoted_disabled_or_deleted() {
    let t = crate::support::pg::fresh_db().await;
    let svc = local_services(&t).await;
    let (x, op) = signed_in(&svc, "only-admin@example.org", &[RoleRef::Admin]).await;
    let refusal = |what: &str| {
        format!(
            "{what} only-admin@example.org: they are the last active holder of the global ADMIN \
             role. Grant ADMIN to another user first."
        )
    };
    for actor in [cli(), op.clone()] {
        let e = svc
            .set_roles(&actor, x, &[RoleRef::Viewer])
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            refusal("Cannot remove the global ADMIN role from")
        );
        assert_eq!(e.exit_code(), 3);
        let e = svc.set_enabled(&actor, x, false).await.unwrap_err();
        assert_eq!(e.to_string(), refusal("Cannot disable"));
        let e = svc.delete_user(&actor, x).await.unwrap_err();
        assert_eq!(e.to_string(), refusal("Cannot delete"));
    }
    assert_eq!(
        grants::roles_of(&t.pool, x).await.unwrap(),
        vec![RoleRef::Admin.id()]
    );
    assert!(identity_enabled(&t.pool, x).await);
    assert_eq!(active_global_admins(&t.pool).await, 1);
    // Adding roles to the last admin is fine (ADMIN is kept).
    svc.set_roles(&cli(), x, &[RoleRef::Admin, RoleRef::Viewer])
        .await
        .unwrap();

    // A disabled ADMIN does not count: with y disabled, x is still the last active one.
    let y = registered(&svc, "second-admin@example.org", &[RoleRef::Admin]).await;
    svc.set_enabled(&cli(), y, false).await.unwrap();
    assert!(svc.set_roles(&cli(), x, &[RoleRef::Viewer]).await.is_err());
    // Once y is enabled again, x may step down.
    svc.set_enabled(&cli(), y, true).await.unwrap();
    svc.set_roles(&op, x, &[RoleRef::Viewer]).await.unwrap();
    assert_eq!(active_global_admins(&t.pool).await, 1);
    // ... and now y is the last one.
    assert!(svc.delete_user(&cli(), y).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_delete_of_global_admin_a_while_admin_b_demotes_themself_never_leaves_zero() {
    let t = crate::support::pg::fresh_db().await;
    let pool = t.pool_with(8).await;
    let mut svc = local_services(&t).await;
    svc.db = pool.clone();
    let (b, b_op) = signed_in(&svc, "b-admin@example.org", &[RoleRef::Admin]).await;
    // A is a cached identity without a directory account (delete skips the directory).
    let a = crate::mandates::cached_user(&pool, "a-admin@example.org", "A").await;
    for round in 0..ROUNDS_GLOBAL {
        sqlx::query("UPDATE directory_user SET gone_at = NULL WHERE sub = $1")
            .bind(a)
            .execute(&pool)
            .await
            .unwrap();
        for who in [a, b] {
            sqlx::query(
                "INSERT INTO user_role (user_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(who)
            .bind(RoleRef::Admin.id())
            .execute(&pool)
            .await
            .unwrap();
        }
        assert_eq!(active_global_admins(&pool).await, 2);
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let (s1, s2, b1, b2, op) = (
            svc.clone(),
            svc.clone(),
            barrier.clone(),
            barrier,
            b_op.clone(),
        );
        let del = tokio::spawn(async move {
            b1.wait().await;
            s1.delete_user(&cli(), a).await.map(|_| ())
        });
        let demote = tokio::spawn(async move {
            b2.wait().await;
            s2.set_roles(&op, b, &[RoleRef::Viewer]).await.map(|_| ())
        });
        let results = [del.await.unwrap(), demote.await.unwrap()];
        assert_eq!(
            active_global_admins(&pool).await,
            1,
            "round {round}: {results:?}"
        );
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {results:?}"
        );
        for r in &results {
            if let Err(e) = r {
                assert!(
                    matches!(e, ServiceError::Conflict(m) if m.contains("last active holder of the global ADMIN role")),
                    "round {round}: {e:?}"
                );
            }
        }
    }
}

const ROUNDS_GLOBAL: usize = 200;

#[tokio::test]
async fn sign_in_caches_an_identity_the_cache_did_not_know() {
    let t = crate::support::pg::fresh_db().await;
    let svc = local_services(&t).await;
    let (sub, _) = signed_in(&svc, "uncached@example.org", &[RoleRef::Viewer]).await;
    sqlx::query("DELETE FROM directory_user WHERE sub = $1")
        .bind(sub)
        .execute(&t.pool)
        .await
        .unwrap();
    svc.sign_in("uncached@example.org", &Secret::new(OPERATOR_PASSWORD))
        .await
        .unwrap();
    let cached = ustore::cached(&t.pool, sub)
        .await
        .unwrap()
        .expect("cached at sign-in");
    assert!(cached.enabled);
    assert_eq!(cached.email, "uncached@example.org");
}
