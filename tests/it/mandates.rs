//! Mandates (SPEC §5.5): create atomicity, soft delete / restore / purge, hard delete with the
//! name confirmation, scoping of the list, the query builder's filter values and whitelist,
//! one audit row per mutation, and EXPLAIN proofs of index use. Shared helpers for the members
//! and audit tests live here too.

use std::sync::Arc;

use hubdeck::domain::page::SortDir;
use hubdeck::domain::roles::mandate_roles;
use hubdeck::domain::{MandateId, PageQuery, PageQueryError, PermissionRef, RoleRef, UserSub};
use hubdeck::service::mandates::MandateInput;
use hubdeck::service::{Actor, Operator, ServiceError, Services};
use hubdeck::store::mandates::{self as mstore, MandateScope};
use uuid::Uuid;

use crate::support::pg::{self, TestDb};

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// Services on `pool` with the embedded LocalDirectory.
pub(crate) fn services_on(db: &TestDb, pool: hubdeck::store::Db) -> Services {
    Services::new(pool.clone(), directory_for(pool), Arc::new(db.settings()))
}

fn directory_for(pool: hubdeck::store::Db) -> Arc<dyn hubdeck::directory::Directory> {
    Arc::new(hubdeck::directory::local::LocalDirectory::new(pool))
}

pub(crate) fn services(db: &TestDb) -> Services {
    services_on(db, db.pool.clone())
}

/// A signed-in SysAdmin: a user granted the global ADMIN role (every global permission),
/// signed in by loading their permissions from the grants (fresh authority re-reads them).
pub(crate) async fn sysadmin(pool: &hubdeck::store::Db) -> Actor {
    let sub = UserSub::new_v4();
    grant(pool, sub, RoleRef::Admin).await;
    let op = hubdeck::service::actor::load_operator(pool, sub, "root@example.org")
        .await
        .unwrap();
    assert_eq!(op.permissions.len(), PermissionRef::ALL.len());
    Actor::Operator(op)
}

/// Grants the global role `role` to `sub` (fixture; `set_roles` is tested in users).
pub(crate) async fn grant(pool: &hubdeck::store::Db, sub: UserSub, role: RoleRef) {
    sqlx::query("INSERT INTO user_role (user_id, role_id) VALUES ($1, $2)")
        .bind(sub)
        .bind(role.id())
        .execute(pool)
        .await
        .unwrap();
}

/// A signed-in operator without global permissions (a mandate admin is one of these).
pub(crate) fn operator(sub: UserSub) -> Actor {
    Actor::Operator(Operator {
        sub,
        email: format!("{sub}@example.org"),
        permissions: Default::default(),
    })
}

/// Puts an identity into the directory cache and its profile (test data for listings; the
/// cache is what the members list joins).
pub(crate) async fn cached_user(
    pool: &hubdeck::store::Db,
    email: &str,
    full_name: &str,
) -> UserSub {
    let sub = UserSub::new_v4();
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status) VALUES ($1, $2, $2, true, 'CONFIRMED')",
    )
    .bind(sub)
    .bind(email)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO user_profile (user_id, name, organisation) VALUES ($1, $2, 'Org')")
        .bind(sub)
        .bind(full_name)
        .execute(pool)
        .await
        .unwrap();
    sub
}

/// Inserts a membership with roles directly (fixture data; the service paths are tested
/// separately).
pub(crate) async fn raw_member(
    pool: &hubdeck::store::Db,
    mandate: MandateId,
    sub: UserSub,
    roles: &[Uuid],
) -> Uuid {
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO user_mandate (user_id, mandate_id) VALUES ($1, $2) RETURNING id",
    )
    .bind(sub)
    .bind(mandate)
    .fetch_one(pool)
    .await
    .unwrap();
    for r in roles {
        sqlx::query(
            "INSERT INTO user_mandate_role (user_mandate_id, mandate_role_id) VALUES ($1, $2)",
        )
        .bind(id)
        .bind(r)
        .execute(pool)
        .await
        .unwrap();
    }
    id
}

pub(crate) async fn create(svc: &Services, name: &str) -> MandateId {
    svc.create_mandate(
        &Actor::cli(),
        &MandateInput {
            name: name.into(),
            label: Some(format!("{name} label")),
            enabled: true,
        },
        None,
    )
    .await
    .unwrap()
    .mandate
    .id
}

pub(crate) async fn count(pool: &hubdeck::store::Db, sql: &str, id: MandateId) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

pub(crate) async fn audit_rows(pool: &hubdeck::store::Db, id: MandateId) -> i64 {
    count(
        pool,
        "SELECT count(*) FROM mandate_audit WHERE mandate_id = $1",
        id,
    )
    .await
}

pub(crate) async fn audit_actions(pool: &hubdeck::store::Db, id: MandateId) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT action FROM mandate_audit WHERE mandate_id = $1 ORDER BY created_at, id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap()
}

fn names(page: &hubdeck::domain::Page<mstore::Mandate>) -> Vec<String> {
    page.items.iter().map(|m| m.name.clone()).collect()
}

// ---------------------------------------------------------------------------------------------
// Create
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_writes_mandate_billing_and_trialing_subscription_together() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let d = svc
        .create_mandate(
            &sysadmin(&db.pool).await,
            &MandateInput {
                name: "  Acme Clinic ".into(),
                label: Some("Acme".into()),
                enabled: true,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(d.mandate.name, "Acme Clinic");
    let sub = d.subscription.expect("subscription");
    assert_eq!(sub.plan_key, "TRIAL_14D");
    assert_eq!(sub.status, "trialing");
    let trial_end = sub.trial_ends_at.expect("trial end");
    let days = (trial_end - sub.started_at).num_days();
    assert_eq!(days, 14);
    let id = d.mandate.id;
    let p = &db.pool;
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM mandate_billing_settings WHERE mandate_id = $1",
            id
        )
        .await,
        1
    );
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM mandate_subscription WHERE mandate_id = $1",
            id
        )
        .await,
        1
    );
    assert_eq!(audit_actions(p, id).await, ["MANDATE_CREATED"]);

    // A paid plan without trial starts active.
    let d = svc
        .create_mandate(
            &sysadmin(&db.pool).await,
            &MandateInput {
                name: "Paid".into(),
                label: None,
                enabled: true,
            },
            Some("TEAM"),
        )
        .await
        .unwrap();
    let sub = d.subscription.unwrap();
    assert_eq!(
        (sub.plan_key.as_str(), sub.status.as_str()),
        ("TEAM", "active")
    );
    assert!(sub.trial_ends_at.is_none());
}

#[tokio::test]
async fn create_failure_leaves_no_partial_rows() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let totals = |p: hubdeck::store::Db| async move {
        let n: (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM mandate), (SELECT count(*) FROM mandate_billing_settings), \
             (SELECT count(*) FROM mandate_subscription), (SELECT count(*) FROM mandate_audit)",
        )
        .fetch_one(&p)
        .await
        .unwrap();
        n
    };
    let before = totals(db.pool.clone()).await;
    // The plan is looked up when the subscription is written — after the mandate and its billing
    // settings were inserted in the same transaction — so this failure exercises the rollback.
    let err = svc
        .create_mandate(
            &sysadmin(&db.pool).await,
            &MandateInput {
                name: "Doomed".into(),
                label: None,
                enabled: true,
            },
            Some("NO_SUCH_PLAN"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("unknown plan"), "{err}");
    assert_eq!(totals(db.pool.clone()).await, before);

    // A blank name is refused before anything is written.
    let err = svc
        .create_mandate(
            &sysadmin(&db.pool).await,
            &MandateInput {
                name: "   ".into(),
                label: None,
                enabled: true,
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Invalid(_)), "{err:?}");
    assert_eq!(totals(db.pool.clone()).await, before);

    // Read-only mode and non-SysAdmins are refused before any side effect.
    let mut settings = db.settings();
    settings.ui.read_only = true;
    let ro = Services::new(db.pool.clone(), svc.directory.clone(), Arc::new(settings));
    let input = MandateInput {
        name: "X".into(),
        label: None,
        enabled: true,
    };
    assert!(matches!(
        ro.create_mandate(&sysadmin(&db.pool).await, &input, None)
            .await,
        Err(ServiceError::ReadOnly(_))
    ));
    assert!(matches!(
        svc.create_mandate(&operator(UserSub::new_v4()), &input, None)
            .await,
        Err(ServiceError::Denied(_))
    ));
    assert_eq!(totals(db.pool.clone()).await, before);
}

// ---------------------------------------------------------------------------------------------
// Update, soft delete, restore, purge, hard delete
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn update_writes_one_audit_row() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let id = create(&svc, "Before").await;
    let m = svc
        .update_mandate(
            &sysadmin(&db.pool).await,
            id,
            &MandateInput {
                name: "After".into(),
                label: Some("L".into()),
                enabled: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (m.name.as_str(), m.label.as_deref(), m.enabled),
        ("After", Some("L"), false)
    );
    assert_eq!(
        audit_actions(&db.pool, id).await,
        ["MANDATE_CREATED", "MANDATE_UPDATED"]
    );
    let err = svc
        .update_mandate(
            &sysadmin(&db.pool).await,
            MandateId::new_v4(),
            &MandateInput {
                name: "x".into(),
                label: None,
                enabled: true,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn soft_delete_hides_restore_brings_back_purge_removes_only_expired() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let admin = sysadmin(&db.pool).await;
    let keep = create(&svc, "keep").await;
    let recent = create(&svc, "recent").await;
    let old = create(&svc, "old").await;
    let ancient = create(&svc, "ancient").await;
    let q = PageQuery::new(1, 50);
    assert_eq!(svc.list_mandates(&admin, &q).await.unwrap().total, 4);

    for id in [recent, old, ancient] {
        svc.soft_delete_mandate(&admin, id).await.unwrap();
    }
    let page = svc.list_mandates(&admin, &q).await.unwrap();
    assert_eq!(names(&page), ["keep"]);
    assert_eq!(page.total, 1);
    let deleted = svc.list_deleted_mandates(&admin, &q).await.unwrap();
    assert_eq!(deleted.total, 3);
    assert!(
        deleted
            .items
            .iter()
            .all(|m| !m.enabled && m.deleted_at.is_some())
    );
    // Deleting twice is a conflict, not a second audit row.
    assert!(matches!(
        svc.soft_delete_mandate(&admin, recent).await,
        Err(ServiceError::Conflict(_))
    ));

    // Restore within retention.
    let m = svc.restore_mandate(&admin, recent).await.unwrap();
    assert!(m.enabled && m.deleted_at.is_none());
    assert_eq!(
        names(&svc.list_mandates(&admin, &q).await.unwrap()),
        ["keep", "recent"]
    );
    svc.soft_delete_mandate(&admin, recent).await.unwrap();

    // Age the deletions: `old` 31 days, `ancient` 400 days, `recent` 5 days (retention 30).
    for (id, days) in [(old, 31), (ancient, 400), (recent, 5)] {
        sqlx::query(
            "UPDATE mandate SET deleted_at = now() - make_interval(days => $2) WHERE id = $1",
        )
        .bind(id)
        .bind(days)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    // Past retention: restore refused.
    let err = svc.restore_mandate(&admin, old).await.unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains("30 days"), "{err}");

    // Dry run lists exactly the expired ones and changes nothing.
    let dry = svc.purge_mandates(&admin, true).await.unwrap();
    let mut dry_names: Vec<_> = dry.mandates.iter().map(|m| m.name.clone()).collect();
    dry_names.sort();
    assert_eq!(dry_names, ["ancient", "old"]);
    for id in [old, ancient] {
        assert!(mstore::dependent_rows(&db.pool, id).await.unwrap() > 0);
    }

    let done = svc.purge_mandates(&admin, false).await.unwrap();
    assert_eq!(done.mandates.len(), 2);
    for id in [old, ancient] {
        assert_eq!(mstore::dependent_rows(&db.pool, id).await.unwrap(), 0);
        assert_eq!(
            audit_actions(&db.pool, id).await.last().unwrap(),
            "MANDATE_PURGED"
        );
    }
    assert!(mstore::get(&db.pool, recent).await.unwrap().is_some());
    assert!(mstore::get(&db.pool, keep).await.unwrap().is_some());
    // Nothing left to purge.
    assert!(
        svc.purge_mandates(&admin, true)
            .await
            .unwrap()
            .mandates
            .is_empty()
    );
    assert_eq!(
        audit_actions(&db.pool, recent).await,
        [
            "MANDATE_CREATED",
            "MANDATE_SOFT_DELETED",
            "MANDATE_RESTORED",
            "MANDATE_SOFT_DELETED"
        ]
    );
}

#[tokio::test]
async fn hard_delete_needs_exact_name_and_removes_every_dependent_row() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let admin = sysadmin(&db.pool).await;
    let id = create(&svc, "Exact Name").await;
    let other = create(&svc, "Other").await;
    // Dependents: a mandate-specific role, members with roles, notifications.
    let role: Uuid = sqlx::query_scalar(
        "INSERT INTO mandate_role (label, mandate_id) VALUES ('auditor', $1) RETURNING id",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let a = cached_user(&db.pool, "a@example.org", "A").await;
    let b = cached_user(&db.pool, "b@example.org", "B").await;
    raw_member(&db.pool, id, a, &[mandate_roles::ADMIN, role]).await;
    raw_member(&db.pool, id, b, &[mandate_roles::MEMBER]).await;
    raw_member(&db.pool, other, b, &[mandate_roles::ADMIN]).await;
    svc.set_member_roles(&admin, id, b, &[mandate_roles::VIEWER.into()])
        .await
        .unwrap();
    let before = mstore::dependent_rows(&db.pool, id).await.unwrap();
    assert!(before >= 8, "{before}");

    for wrong in ["exact name", "Exact Name ", "", "Other"] {
        let err = svc
            .hard_delete_mandate(&admin, id, wrong)
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::Invalid(_)), "{err:?}");
        assert_eq!(mstore::dependent_rows(&db.pool, id).await.unwrap(), before);
    }
    svc.hard_delete_mandate(&admin, id, "Exact Name")
        .await
        .unwrap();
    assert_eq!(mstore::dependent_rows(&db.pool, id).await.unwrap(), 0);
    // The audit trail keeps the name (no FK).
    let (action, name): (String, String) = sqlx::query_as(
        "SELECT action, mandate_name FROM mandate_audit WHERE mandate_id = $1 ORDER BY created_at DESC, id LIMIT 1",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (action.as_str(), name.as_str()),
        ("MANDATE_HARD_DELETED", "Exact Name")
    );
    // The other mandate is untouched.
    assert_eq!(
        svc.list_members(&admin, other, &PageQuery::new(1, 10))
            .await
            .unwrap()
            .total,
        1
    );
    let err = svc
        .hard_delete_mandate(&admin, id, "Exact Name")
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Scoping and authorization
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn mandate_admin_sees_only_their_enabled_mandates_and_plain_user_is_refused() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    let mine = create(&svc, "mine").await;
    let also_mine_disabled = create(&svc, "mine but disabled").await;
    let member_only = create(&svc, "member only").await;
    let foreign = create(&svc, "foreign").await;
    let feature_admin = create(&svc, "feature admin only").await;
    let boss = cached_user(&db.pool, "boss@example.org", "Boss").await;
    let worker = cached_user(&db.pool, "worker@example.org", "Worker").await;
    raw_member(&db.pool, mine, boss, &[mandate_roles::ADMIN]).await;
    raw_member(&db.pool, also_mine_disabled, boss, &[mandate_roles::ADMIN]).await;
    raw_member(&db.pool, member_only, boss, &[mandate_roles::MEMBER]).await;
    raw_member(&db.pool, foreign, worker, &[mandate_roles::ADMIN]).await;
    raw_member(&db.pool, mine, worker, &[mandate_roles::MEMBER]).await;
    // An `admin`-labelled role of a feature instance does not make a mandate admin.
    let fi_role: Uuid = sqlx::query_scalar(
        "INSERT INTO mandate_role (label, mandate_id, feature_instance_id) VALUES ('admin', $1, gen_random_uuid()) RETURNING id",
    )
    .bind(feature_admin)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    raw_member(&db.pool, feature_admin, boss, &[fi_role]).await;
    svc.update_mandate(
        &root,
        also_mine_disabled,
        &MandateInput {
            name: "mine but disabled".into(),
            label: None,
            enabled: false,
        },
    )
    .await
    .unwrap();

    let boss_actor = operator(boss);
    let q = PageQuery::new(1, 50);
    let page = svc.list_mandates(&boss_actor, &q).await.unwrap();
    assert_eq!(names(&page), ["mine"]);
    assert_eq!(page.total, 1);
    assert_eq!(
        svc.mandate_filter_values(&boss_actor, "name", &q)
            .await
            .unwrap(),
        ["mine"]
    );
    assert_eq!(svc.list_mandates(&root, &q).await.unwrap().total, 5);

    // A plain user (member only, no admin anywhere) is refused.
    let nobody = cached_user(&db.pool, "nobody@example.org", "Nobody").await;
    raw_member(&db.pool, member_only, nobody, &[mandate_roles::MEMBER]).await;
    for actor in [operator(nobody), operator(UserSub::new_v4())] {
        assert!(matches!(
            svc.list_mandates(&actor, &q).await,
            Err(ServiceError::Denied(_))
        ));
        assert!(matches!(
            svc.list_members(&actor, mine, &q).await,
            Err(ServiceError::Denied(_))
        ));
    }

    // The mandate admin manages their members, but cannot touch other mandates.
    assert_eq!(
        svc.list_members(&boss_actor, mine, &q).await.unwrap().total,
        2
    );
    assert!(matches!(
        svc.list_members(&boss_actor, foreign, &q).await,
        Err(ServiceError::Denied(_))
    ));
    assert!(matches!(
        svc.get_mandate(&boss_actor, foreign).await,
        Err(ServiceError::Denied(_))
    ));
    let helper = cached_user(&db.pool, "helper@example.org", "Helper").await;
    raw_member(&db.pool, foreign, helper, &[mandate_roles::MEMBER]).await;
    let before = audit_rows(&db.pool, foreign).await;
    let err = svc
        .remove_member(&boss_actor, foreign, helper)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Denied(_)), "{err:?}");
    let err = svc
        .set_member_roles(
            &boss_actor,
            foreign,
            worker,
            &[mandate_roles::MEMBER.into()],
        )
        .await
        .unwrap_err();
    // The target is the only admin of `foreign`: the invariant answers first; either way
    // nothing changes.
    assert!(
        matches!(err, ServiceError::Conflict(_) | ServiceError::Denied(_)),
        "{err:?}"
    );
    assert!(matches!(
        svc.set_member_enabled(&boss_actor, foreign, worker, true)
            .await,
        Err(ServiceError::Denied(_))
    ));
    assert_eq!(audit_rows(&db.pool, foreign).await, before);
    // Mandate CRUD is SysAdmin-only.
    let input = MandateInput {
        name: "renamed".into(),
        label: None,
        enabled: true,
    };
    assert!(matches!(
        svc.update_mandate(&boss_actor, mine, &input).await,
        Err(ServiceError::Denied(_))
    ));
    assert!(matches!(
        svc.soft_delete_mandate(&boss_actor, mine).await,
        Err(ServiceError::Denied(_))
    ));
    assert!(matches!(
        svc.hard_delete_mandate(&boss_actor, mine, "mine").await,
        Err(ServiceError::Denied(_))
    ));
    // Within their mandate the admin may act.
    svc.set_member_enabled(&boss_actor, mine, worker, false)
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// The list: search, filters, sort, totals, filter values, whitelist
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_search_filter_sort_totals_and_filter_values() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    for (name, label, enabled) in [
        ("alpha", "north", true),
        ("beta", "north", false),
        ("gamma", "south", true),
        ("delta", "south", false),
        ("alpha two", "east", true),
        ("zeta", "east", true),
    ] {
        let id = create(&svc, name).await;
        svc.update_mandate(
            &root,
            id,
            &MandateInput {
                name: name.into(),
                label: Some(label.into()),
                enabled,
            },
        )
        .await
        .unwrap();
    }
    // Search (name or label) + filter + multi-column sort + paging, with the right total.
    let q = PageQuery::new(1, 2)
        .search("a")
        .filter("enabled", ["true"])
        .sort("label", SortDir::Desc)
        .sort("name", SortDir::Asc);
    let p1 = svc.list_mandates(&root, &q).await.unwrap();
    assert_eq!(p1.total, 4); // alpha, gamma, alpha two, zeta
    assert_eq!(names(&p1), ["gamma", "alpha"]);
    let mut q2 = q.clone();
    q2.page = 2;
    let p2 = svc.list_mandates(&root, &q2).await.unwrap();
    assert_eq!(names(&p2), ["alpha two", "zeta"]);
    assert_eq!(p2.total, 4);
    // Past the end: no rows, still the right total.
    let mut q3 = q.clone();
    q3.page = 9;
    let p3 = svc.list_mandates(&root, &q3).await.unwrap();
    assert!(p3.items.is_empty());
    assert_eq!(p3.total, 4);
    // LIKE metacharacters are literal.
    assert_eq!(
        svc.list_mandates(&root, &PageQuery::new(1, 10).search("%"))
            .await
            .unwrap()
            .total,
        0
    );

    // Filter values: the column's own filter is ignored, the others are honoured.
    let q = PageQuery::new(1, 10)
        .filter("label", ["north"])
        .filter("enabled", ["false"]);
    assert_eq!(svc.list_mandates(&root, &q).await.unwrap().total, 1);
    assert_eq!(
        svc.mandate_filter_values(&root, "label", &q).await.unwrap(),
        ["north", "south"],
        "labels of disabled mandates, ignoring the label filter"
    );
    assert_eq!(
        svc.mandate_filter_values(&root, "enabled", &q)
            .await
            .unwrap(),
        ["false", "true"],
        "enabled values of north mandates, ignoring the enabled filter"
    );
    let q = PageQuery::new(1, 10).search("alpha");
    assert_eq!(
        svc.mandate_filter_values(&root, "label", &q).await.unwrap(),
        ["east", "north"]
    );

    // Unknown columns are refused, never interpolated.
    let bad_filter = svc
        .mandate_filter_values(&root, "name; DROP TABLE mandate", &PageQuery::default())
        .await;
    assert!(
        matches!(
            bad_filter,
            Err(ServiceError::Query(
                PageQueryError::UnknownFilterColumn { .. }
            ))
        ),
        "{bad_filter:?}"
    );
    let bad_sort = svc
        .list_mandates(&root, &PageQuery::default().sort("id", SortDir::Asc))
        .await;
    assert!(
        matches!(
            bad_sort,
            Err(ServiceError::Query(
                PageQueryError::UnknownSortColumn { .. }
            ))
        ),
        "{bad_sort:?}"
    );
    let bad = svc
        .list_mandates(&root, &PageQuery::default().filter("bogus", ["x"]))
        .await;
    assert!(
        matches!(
            bad,
            Err(ServiceError::Query(
                PageQueryError::UnknownFilterColumn { .. }
            ))
        ),
        "{bad:?}"
    );
    // A sort-only column is not a filter column.
    let bad = svc
        .mandate_filter_values(&root, "created_at", &PageQuery::default())
        .await;
    assert!(
        matches!(
            bad,
            Err(ServiceError::Query(
                PageQueryError::UnknownFilterColumn { .. }
            ))
        ),
        "{bad:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// EXPLAIN: index use on a small realistic dataset
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn mandates_page_queries_use_indexes() {
    let db = pg::fresh_db().await;
    sqlx::query(
        "INSERT INTO mandate (name, label, enabled, created_at) \
         SELECT 'Clinic ' || md5(g::text), 'region-' || (g % 17), g % 5 <> 0, now() - make_interval(secs => g) \
         FROM generate_series(1, 100000) g",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE mandate")
        .execute(&db.pool)
        .await
        .unwrap();
    let plan = |q: PageQuery| {
        let pool = db.pool.clone();
        async move {
            mstore::explain_page(&pool, &q, MandateScope::All)
                .await
                .unwrap()
                .join("\n")
        }
    };
    // Substring search: at 100k mandates the planner itself picks the trigram indexes (no
    // planner settings); on a few thousand rows a seq scan is cheaper and rightly chosen.
    // md5('123') = 202cb962ac59075b964b07152d234b70
    let p = plan(PageQuery::new(1, 50).search("2cb962ac59")).await;
    assert!(p.contains("mandate_name_trgm"), "{p}");
    // Sorted first page: the count(*) OVER () total makes the planner read every matching row,
    // so on a small table it may prefer seq scan + sort; here we check only that an index path for
    // the sort order EXISTS, by disabling seq scans for this one statement's session.
    let pool1 = db.pool_with(1).await;
    sqlx::query("SET enable_seqscan = off")
        .execute(&pool1)
        .await
        .unwrap();
    sqlx::query("SET enable_sort = off")
        .execute(&pool1)
        .await
        .unwrap();
    let p = mstore::explain_page(
        &pool1,
        &PageQuery::new(1, 50).sort("name", SortDir::Asc),
        MandateScope::All,
    )
    .await
    .unwrap()
    .join("\n");
    assert!(p.contains("mandate_name_idx"), "{p}");
    let p = mstore::explain_page(
        &pool1,
        &PageQuery::new(1, 50)
            .filter("enabled", ["true"])
            .sort("name", SortDir::Asc),
        MandateScope::All,
    )
    .await
    .unwrap()
    .join("\n");
    assert!(
        p.contains("mandate_enabled_name_idx") || p.contains("mandate_name_idx"),
        "{p}"
    );
}

// ---------------------------------------------------------------------------------------------
// Unique live names (case-insensitive) and restore keeping the enabled state (issue 17 item 7)
// ---------------------------------------------------------------------------------------------

fn named(name: &str, enabled: bool) -> MandateInput {
    MandateInput {
        name: name.into(),
        label: None,
        enabled,
    }
}

async fn live_named(pool: &hubdeck::store::Db, name: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM mandate WHERE lower(name) = lower($1) AND deleted_at IS NULL",
    )
    .bind(name)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn duplicate_live_names_in_any_case_are_refused_naming_the_existing_mandate() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    let acme = svc
        .create_mandate(&root, &named("Acme Clinic", true), None)
        .await
        .unwrap()
        .mandate;
    for dup in ["Acme Clinic", "ACME CLINIC", "acme clinic"] {
        let e = svc
            .create_mandate(&root, &named(dup, true), None)
            .await
            .unwrap_err();
        assert_eq!(e.exit_code(), 3, "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "cannot create mandate {dup}: the live mandate Acme Clinic ({}) already has that \
                 name — mandate names are unique regardless of case",
                acme.id
            )
        );
    }
    assert_eq!(live_named(&db.pool, "acme clinic").await, 1);
    // No orphaned billing settings or subscriptions from the refused creates.
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM mandate_billing_settings WHERE mandate_id <> $1",
            acme.id
        )
        .await,
        0
    );
    // Rename onto a taken name: refused; a case-only rename of itself is fine.
    let other = svc
        .create_mandate(&root, &named("Other Unit", true), None)
        .await
        .unwrap()
        .mandate;
    let e = svc
        .update_mandate(&root, other.id, &named("acme CLINIC", true))
        .await
        .unwrap_err();
    assert!(e.to_string().contains(&acme.id.to_string()), "{e}");
    assert_eq!(
        mstore::get(&db.pool, other.id).await.unwrap().unwrap().name,
        "Other Unit"
    );
    svc.update_mandate(&root, other.id, &named("OTHER unit", true))
        .await
        .unwrap();
    // A soft-deleted mandate does not hold its name; restoring it while a live one has the
    // name is refused, naming the live one, and leaves it deleted.
    svc.soft_delete_mandate(&root, acme.id).await.unwrap();
    let again = svc
        .create_mandate(&root, &named("ACME Clinic", true), None)
        .await
        .unwrap()
        .mandate;
    let e = svc.restore_mandate(&root, acme.id).await.unwrap_err();
    assert_eq!(e.exit_code(), 3);
    assert_eq!(
        e.to_string(),
        format!(
            "cannot restore mandate Acme Clinic: the live mandate ACME Clinic ({}) already has \
             that name — mandate names are unique regardless of case",
            again.id
        )
    );
    assert!(
        mstore::get(&db.pool, acme.id)
            .await
            .unwrap()
            .unwrap()
            .deleted_at
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_name_in_different_cases_leave_exactly_one() {
    let db = pg::fresh_db().await;
    let pool = db.pool_with(16).await;
    let svc = services_on(&db, pool.clone());
    let root = sysadmin(&pool).await;
    for round in 0..20 {
        let base = format!("Race Clinic {round}");
        let variants: Vec<String> = (0..8)
            .map(|i| match i % 3 {
                0 => base.clone(),
                1 => base.to_uppercase(),
                _ => base.to_lowercase(),
            })
            .collect();
        let barrier = Arc::new(tokio::sync::Barrier::new(variants.len()));
        let tasks: Vec<_> = variants
            .into_iter()
            .map(|name| {
                let (svc, root, barrier) = (svc.clone(), root.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    svc.create_mandate(&root, &named(&name, true), None).await
                })
            })
            .collect();
        let mut won = Vec::new();
        let mut refused = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(d) => won.push(d.mandate),
                Err(e) => refused.push(e),
            }
        }
        assert_eq!(won.len(), 1, "round {round}: {refused:?}");
        assert_eq!(refused.len(), 7);
        for e in &refused {
            assert!(
                matches!(e, ServiceError::Conflict(m) if m.contains(&won[0].id.to_string())),
                "round {round}: {e:?}"
            );
        }
        assert_eq!(live_named(&pool, &base).await, 1, "round {round}");
    }
    // Every refused create rolled back whole: one billing row and one subscription per mandate.
    let (mandates, billing, subs): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM mandate), (SELECT count(*) FROM mandate_billing_settings), \
         (SELECT count(*) FROM mandate_subscription)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((mandates, billing, subs), (20, 20, 20));
}

#[tokio::test]
async fn restore_brings_back_the_enabled_state_the_mandate_had_before_deletion() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    let off = svc
        .create_mandate(&root, &named("Paused Registry", false), None)
        .await
        .unwrap()
        .mandate
        .id;
    let on = svc
        .create_mandate(&root, &named("Live Registry", true), None)
        .await
        .unwrap()
        .mandate
        .id;
    for id in [off, on] {
        svc.soft_delete_mandate(&root, id).await.unwrap();
        assert!(!mstore::get(&db.pool, id).await.unwrap().unwrap().enabled);
    }
    let restored = svc.restore_mandate(&root, off).await.unwrap();
    assert!(!restored.enabled, "a disabled mandate comes back disabled");
    assert!(restored.deleted_at.is_none());
    assert!(svc.restore_mandate(&root, on).await.unwrap().enabled);
    // Disabled after creation, then deleted and restored: still disabled.
    svc.update_mandate(&root, on, &named("Live Registry", false))
        .await
        .unwrap();
    svc.soft_delete_mandate(&root, on).await.unwrap();
    assert!(!svc.restore_mandate(&root, on).await.unwrap().enabled);
    let details: serde_json::Value = sqlx::query_scalar(
        "SELECT details FROM mandate_audit WHERE mandate_id = $1 AND action = 'MANDATE_RESTORED' \
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(on)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(details["enabled"], serde_json::json!(false));
}

/// Migration 0700 on data that already holds live duplicates: the oldest of each group keeps
/// its name, the others get " (duplicate <id>)" with an audit row; soft-deleted duplicates are
/// left alone; mandates soft-deleted before the migration get their enabled state from the
/// audit trail (disabled when none is recorded).
#[tokio::test]
async fn migration_0700_renames_existing_duplicates_deterministically() {
    let db = pg::empty_db().await;
    let (before, after): (Vec<_>, Vec<_>) = hubdeck::MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .partition(|m| m.version < 700);
    for m in &before {
        sqlx::raw_sql(sqlx::AssertSqlSafe(m.sql.as_str().to_string()))
            .execute(&db.pool)
            .await
            .unwrap();
    }
    let insert = |name: &'static str, age_days: i32, deleted: bool, enabled: bool| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, Uuid>(
                "INSERT INTO mandate (name, enabled, created_at, deleted_at) \
                 VALUES ($1, $4, now() - make_interval(days => $2), \
                         CASE WHEN $3 THEN now() END) RETURNING id",
            )
            .bind(name)
            .bind(age_days)
            .bind(deleted)
            .bind(enabled)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let oldest = insert("Acme", 30, false, true).await;
    let newer = insert("ACME", 20, false, true).await;
    let newest = insert("acme", 10, false, true).await;
    let deleted_dup = insert("Acme", 5, true, false).await;
    let unique = insert("Beta", 5, false, true).await;
    // Soft-deleted before 0700 with an audit trail saying it was enabled.
    sqlx::query(
        "INSERT INTO mandate_audit (mandate_id, mandate_name, action, details, created_at) \
         VALUES ($1, 'Acme', 'MANDATE_CREATED', '{\"enabled\": true}', now() - interval '6 days')",
    )
    .bind(deleted_dup)
    .execute(&db.pool)
    .await
    .unwrap();
    let untraced = insert("Gamma", 5, true, false).await;
    for m in &after {
        sqlx::raw_sql(sqlx::AssertSqlSafe(m.sql.as_str().to_string()))
            .execute(&db.pool)
            .await
            .unwrap();
    }
    let name_of = |id: Uuid| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT name FROM mandate WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(name_of(oldest).await, "Acme");
    assert_eq!(name_of(newer).await, format!("ACME (duplicate {newer})"));
    assert_eq!(name_of(newest).await, format!("acme (duplicate {newest})"));
    assert_eq!(name_of(deleted_dup).await, "Acme");
    assert_eq!(name_of(unique).await, "Beta");
    let renames: Vec<(Uuid, serde_json::Value)> = sqlx::query_as(
        "SELECT mandate_id, details FROM mandate_audit WHERE action = 'MANDATE_RENAMED_DUPLICATE' \
         AND via = 'system' ORDER BY mandate_name",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(renames.len(), 2);
    assert!(
        renames
            .iter()
            .any(|(id, d)| *id == newer && d["before"] == "ACME")
    );
    assert!(
        renames
            .iter()
            .any(|(id, d)| *id == newest && d["before"] == "acme")
    );
    // The rule now holds in the database itself.
    let e = sqlx::query("INSERT INTO mandate (name) VALUES ('aCmE')")
        .execute(&db.pool)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("mandate_name_live_key"), "{e}");
    let remembered = |id: Uuid| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<bool>>(
                "SELECT enabled_before_delete FROM mandate WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(remembered(deleted_dup).await, Some(true));
    assert_eq!(remembered(untraced).await, Some(false));
    assert_eq!(remembered(unique).await, None);
}

/// The CLI: a duplicate name (any case) exits 3 naming the holder; restore keeps a disabled
/// mandate disabled.
#[tokio::test]
async fn cli_duplicate_name_exits_3_and_restore_keeps_disabled() {
    let db = pg::fresh_db().await;
    let run = |args: &[&str]| {
        let out = crate::support::cli::infra()
            .args(args)
            .args(["--database-url", &db.url])
            .env("HUBDECK_DIRECTORY__KIND", "local")
            .env("HUBDECK_DATA_DIR", std::env::temp_dir())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&[
        "mandates",
        "create",
        "--name",
        "Cli Clinic",
        "--output",
        "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = created["mandate"]["id"].as_str().unwrap().to_string();
    let (code, _, err) = run(&["mandates", "create", "--name", "CLI CLINIC"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("Cli Clinic") && err.contains(&id), "{err}");
    let (code, _, err) = run(&["mandates", "update", &id, "--enabled", "false"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = run(&["mandates", "delete", &id]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = run(&["mandates", "restore", &id]);
    assert_eq!(code, Some(0), "{err}");
    let m = mstore::get(&db.pool, id.parse::<Uuid>().unwrap().into())
        .await
        .unwrap()
        .unwrap();
    assert!(m.deleted_at.is_none());
    assert!(!m.enabled, "restored disabled, as it was when deleted");
}
