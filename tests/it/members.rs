//! Members of a mandate (SPEC §5.5): the last-admin invariant under concurrency (demote, remove,
//! disable — 200 rounds each — and a user delete or disable racing a self-demotion), plan
//! capacity including the race for the last place, the one-statement members page,
//! labels/totals with search+filter+sort, filter values, add-member rules against the real
//! (local) directory, and one audit + one notification row per change.

use std::sync::Arc;

use hubdeck::directory::{Invite, NewIdentity};
use hubdeck::domain::page::SortDir;
use hubdeck::domain::roles::mandate_roles;
use hubdeck::domain::{Email, MandateId, MandateRoleId, PageQuery, PageQueryError, UserSub};
use hubdeck::service::members::MemberRef;
use hubdeck::service::{Actor, ServiceError, Services};
use hubdeck::store::members as mstore;
use tokio::sync::Barrier;
use tracing_subscriber::layer::SubscriberExt;
use uuid::Uuid;

use crate::mandates::{
    audit_rows, cached_user, create, operator, raw_member, services, services_on, sysadmin,
};
use crate::support::pg;

const ROUNDS: usize = 200;

fn admin_role() -> Vec<MandateRoleId> {
    vec![mandate_roles::ADMIN.into()]
}
fn member_role() -> Vec<MandateRoleId> {
    vec![mandate_roles::MEMBER.into()]
}

pub(crate) async fn admins(pool: &hubdeck::store::Db, mandate: MandateId) -> i64 {
    let mut conn = pool.acquire().await.unwrap();
    mstore::count_admins(&mut conn, mandate).await.unwrap()
}

fn is_last_admin(err: &ServiceError, mandate_name: &str) -> bool {
    matches!(err, ServiceError::Conflict(m)
        if m == &format!("Cannot remove the last admin of {mandate_name}. Assign another admin first."))
}

#[derive(Clone, Copy, Debug)]
enum Race {
    Demote,
    Remove,
    Disable,
}

/// Two admins of a fresh mandate act on each other at the same moment, ROUNDS times. Exactly
/// one wins each round; the other gets the last-admin error (never a deadlock or an internal
/// error); the mandate always keeps an admin.
async fn race(kind: Race) {
    let db = pg::fresh_db().await;
    let pool = db.pool_with(8).await;
    let svc = services_on(&db, pool.clone());
    for round in 0..ROUNDS {
        let name = format!("race-{kind:?}-{round}");
        let m = create(&svc, &name).await;
        let a = UserSub::new_v4();
        let b = UserSub::new_v4();
        raw_member(&pool, m, a, &[mandate_roles::ADMIN]).await;
        raw_member(&pool, m, b, &[mandate_roles::ADMIN, mandate_roles::MEMBER]).await;
        let barrier = Arc::new(Barrier::new(2));
        let run = |actor: UserSub, target: UserSub| {
            let svc = svc.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let actor = operator(actor);
                barrier.wait().await;
                match kind {
                    Race::Demote => {
                        svc.set_member_roles(&actor, m, target, &member_role())
                            .await
                    }
                    Race::Remove => svc.remove_member(&actor, m, target).await,
                    Race::Disable => svc.set_member_enabled(&actor, m, target, false).await,
                }
            })
        };
        let (ra, rb) = tokio::join!(run(a, b), run(b, a));
        let results = [ra.unwrap(), rb.unwrap()];
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "round {round}: {results:?}");
        for r in &results {
            if let Err(e) = r {
                assert!(
                    is_last_admin(e, &name),
                    "round {round}: unexpected error {e:?}"
                );
            }
        }
        assert_eq!(admins(&pool, m).await, 1, "round {round}");
        // Exactly one change was recorded: create + the winner.
        assert_eq!(audit_rows(&pool, m).await, 2, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_admins_demote_each_other() {
    race(Race::Demote).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_admins_remove_each_other() {
    race(Race::Remove).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_admins_disable_each_other() {
    race(Race::Disable).await;
}

#[derive(Clone, Copy, Debug)]
enum AccountChange {
    Delete,
    Disable,
}

/// The user paths meet the member paths: admin A of a mandate is deleted or disabled (the whole
/// user account) while admin B demotes themself in that mandate, at the same moment, ROUNDS
/// times. Exactly one wins; the other is refused naming the mandate; the mandate never ends
/// without an enabled admin.
async fn race_account_change_against_self_demotion(kind: AccountChange) {
    let db = pg::fresh_db().await;
    let pool = db.pool_with(8).await;
    let svc = services_on(&db, pool.clone());
    let verb = match kind {
        AccountChange::Delete => "delete",
        AccountChange::Disable => "disable",
    };
    for round in 0..ROUNDS {
        let name = format!("race-{verb}-{round}");
        let m = create(&svc, &name).await;
        let a_email = format!("a{round}@example.org");
        let a = match kind {
            // A cached identity without a directory account: the delete's database half is
            // what races (the directory is only called after it commits).
            AccountChange::Delete => cached_user(&pool, &a_email, "A").await,
            // Disabling calls the directory inside the locked transaction: a real identity.
            AccountChange::Disable => identity(&svc, &pool, &a_email).await,
        };
        let b = cached_user(&pool, &format!("b{round}@example.org"), "B").await;
        raw_member(&pool, m, a, &[mandate_roles::ADMIN]).await;
        raw_member(&pool, m, b, &[mandate_roles::ADMIN, mandate_roles::MEMBER]).await;
        let barrier = Arc::new(Barrier::new(2));
        let (s1, s2, b1, b2) = (svc.clone(), svc.clone(), barrier.clone(), barrier.clone());
        let account = tokio::spawn(async move {
            b1.wait().await;
            match kind {
                AccountChange::Delete => s1.delete_user(&Actor::cli(), a).await.map(|_| ()),
                AccountChange::Disable => s1.set_enabled(&Actor::cli(), a, false).await,
            }
        });
        let demote = tokio::spawn(async move {
            b2.wait().await;
            s2.set_member_roles(&operator(b), m, b, &member_role())
                .await
        });
        let results = [account.await.unwrap(), demote.await.unwrap()];
        assert_eq!(admins(&pool, m).await, 1, "round {round}: {results:?}");
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {results:?}"
        );
        let account_refusal = format!(
            "Cannot {verb} {a_email}: they are the last admin of «{name}». Assign another \
             admin first."
        );
        for r in &results {
            if let Err(e) = r {
                assert!(
                    is_last_admin(e, &name) || e.to_string() == account_refusal,
                    "round {round}: {e:?}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_delete_admin_a_while_admin_b_demotes_themself() {
    race_account_change_against_self_demotion(AccountChange::Delete).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_disable_admin_a_while_admin_b_demotes_themself() {
    race_account_change_against_self_demotion(AccountChange::Disable).await;
}

#[tokio::test]
async fn last_admin_cannot_be_removed_demoted_or_disabled() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    let m = create(&svc, "Solo").await;
    let a = cached_user(&db.pool, "a@example.org", "A").await;
    let b = cached_user(&db.pool, "b@example.org", "B").await;
    raw_member(&db.pool, m, a, &[mandate_roles::ADMIN]).await;
    raw_member(&db.pool, m, b, &[mandate_roles::MEMBER]).await;
    let before = audit_rows(&db.pool, m).await;
    for r in [
        svc.remove_member(&root, m, a).await,
        svc.set_member_roles(&root, m, a, &member_role()).await,
        svc.set_member_roles(&root, m, a, &[]).await,
        svc.set_member_enabled(&root, m, a, false).await,
        svc.remove_member(&operator(a), m, a).await,
    ] {
        let e = r.unwrap_err();
        assert!(is_last_admin(&e, "Solo"), "{e:?}");
        assert_eq!(e.exit_code(), 3);
    }
    assert_eq!(audit_rows(&db.pool, m).await, before);
    // With a second admin, the first may go.
    svc.set_member_roles(
        &root,
        m,
        b,
        &[mandate_roles::ADMIN.into(), mandate_roles::MEMBER.into()],
    )
    .await
    .unwrap();
    svc.set_member_enabled(&root, m, a, false).await.unwrap();
    svc.set_member_enabled(&root, m, a, true).await.unwrap();
    svc.remove_member(&root, m, a).await.unwrap();
    assert_eq!(admins(&db.pool, m).await, 1);
    // A role of another mandate or a feature-instance role is refused.
    let other = create(&svc, "Other").await;
    let foreign_role: Uuid = sqlx::query_scalar(
        "INSERT INTO mandate_role (label, mandate_id) VALUES ('admin', $1) RETURNING id",
    )
    .bind(other)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let e = svc
        .set_member_roles(&root, m, b, &[foreign_role.into()])
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Invalid(_)), "{e:?}");
    let e = svc
        .remove_member(&root, m, UserSub::new_v4())
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::NotFound(_)), "{e:?}");
}

// ---------------------------------------------------------------------------------------------
// Add member: directory, conflicts, roles, capacity
// ---------------------------------------------------------------------------------------------

/// Creates an identity in the directory and mirrors it into the directory cache.
async fn identity(svc: &Services, pool: &hubdeck::store::Db, email: &str) -> UserSub {
    let id = svc
        .directory
        .create_user(&NewIdentity {
            email: Email::parse(email).unwrap(),
            email_verified: true,
            invite: Invite::Suppress,
            temporary_password: None,
        })
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status) VALUES ($1, $2, $3, true, 'CONFIRMED') \
         ON CONFLICT (sub) DO NOTHING",
    )
    .bind(id.sub)
    .bind(&id.username)
    .bind(&id.email)
    .execute(pool)
    .await
    .unwrap();
    id.sub
}

async fn tiny_plan(pool: &hubdeck::store::Db, key: &str, max: i32) {
    sqlx::query("INSERT INTO plan (key, name, trial_days, max_members) VALUES ($1, $1, 0, $2)")
        .bind(key)
        .bind(max)
        .execute(pool)
        .await
        .unwrap();
}

async fn mandate_on_plan(svc: &Services, name: &str, plan: &str) -> MandateId {
    svc.create_mandate(
        &Actor::cli(),
        &hubdeck::service::mandates::MandateInput {
            name: name.into(),
            label: None,
            enabled: true,
        },
        Some(plan),
    )
    .await
    .unwrap()
    .mandate
    .id
}

#[tokio::test]
async fn add_member_needs_directory_identity_refuses_duplicates_and_foreign_roles() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    let m = create(&svc, "Clinic").await;
    let other = create(&svc, "Other").await;
    let alice = identity(&svc, &db.pool, "alice@example.org").await;

    // Unknown identity: not found in the directory, nothing written.
    let e = svc
        .add_member(&root, m, &MemberRef::Sub(UserSub::new_v4()), &member_role())
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), 4, "{e:?}");
    let e = svc
        .add_member(
            &root,
            m,
            &MemberRef::parse("ghost@example.org").unwrap(),
            &member_role(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), 4, "{e:?}");
    // Role of another mandate: refused.
    let foreign_role: Uuid = sqlx::query_scalar(
        "INSERT INTO mandate_role (label, mandate_id) VALUES ('x', $1) RETURNING id",
    )
    .bind(other)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let e = svc
        .add_member(&root, m, &MemberRef::Sub(alice), &[foreign_role.into()])
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Invalid(_)), "{e:?}");
    assert_eq!(audit_rows(&db.pool, m).await, 1);

    // By email, with a mandate-specific role and a global one.
    let own_role: Uuid = sqlx::query_scalar(
        "INSERT INTO mandate_role (label, mandate_id) VALUES ('auditor', $1) RETURNING id",
    )
    .bind(m)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let ms = svc
        .add_member(
            &root,
            m,
            &MemberRef::parse("alice@example.org").unwrap(),
            &[own_role.into(), mandate_roles::ADMIN.into()],
        )
        .await
        .unwrap();
    assert_eq!(ms.user_id, alice);
    let e = svc
        .add_member(&root, m, &MemberRef::Sub(alice), &member_role())
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Conflict(_)), "{e:?}");
    assert!(e.to_string().contains("already a member"), "{e}");
    let page = svc
        .list_members(&root, m, &PageQuery::default())
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0].role_labels, ["admin", "auditor"]);
    assert_eq!(page.items[0].email.as_deref(), Some("alice@example.org"));
    assert!(page.items[0].is_admin);
}

#[tokio::test]
async fn capacity_accepts_n_members_and_refuses_the_next() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    tiny_plan(&db.pool, "TINY3", 3).await;
    let m = mandate_on_plan(&svc, "Tiny", "TINY3").await;
    for i in 0..3 {
        let u = identity(&svc, &db.pool, &format!("u{i}@example.org")).await;
        svc.add_member(&root, m, &MemberRef::Sub(u), &member_role())
            .await
            .unwrap();
    }
    let u = identity(&svc, &db.pool, "u3@example.org").await;
    let e = svc
        .add_member(&root, m, &MemberRef::Sub(u), &member_role())
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::CapacityExceeded(_)), "{e:?}");
    assert_eq!(e.exit_code(), 3);
    assert_eq!(
        svc.list_members(&root, m, &PageQuery::default())
            .await
            .unwrap()
            .total,
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn capacity_holds_when_two_adds_race_for_the_last_place() {
    let db = pg::fresh_db().await;
    let pool = db.pool_with(8).await;
    let svc = services_on(&db, pool.clone());
    let root = sysadmin(&db.pool).await;
    tiny_plan(&pool, "TINY2", 2).await;
    for round in 0..40 {
        let m = mandate_on_plan(&svc, &format!("cap-{round}"), "TINY2").await;
        let first = identity(&svc, &pool, &format!("first{round}@example.org")).await;
        svc.add_member(&root, m, &MemberRef::Sub(first), &admin_role())
            .await
            .unwrap();
        let x = identity(&svc, &pool, &format!("x{round}@example.org")).await;
        let y = identity(&svc, &pool, &format!("y{round}@example.org")).await;
        let barrier = Arc::new(Barrier::new(2));
        let go = |u: UserSub| {
            let (svc, root, barrier) = (svc.clone(), root.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                svc.add_member(&root, m, &MemberRef::Sub(u), &member_role())
                    .await
            })
        };
        let (rx, ry) = tokio::join!(go(x), go(y));
        let results = [rx.unwrap(), ry.unwrap()];
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {results:?}"
        );
        for r in &results {
            if let Err(e) = r {
                assert!(
                    matches!(e, ServiceError::CapacityExceeded(_)),
                    "round {round}: {e:?}"
                );
            }
        }
        assert_eq!(
            svc.list_members(&root, m, &PageQuery::default())
                .await
                .unwrap()
                .total,
            2
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Audit and notification per change
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_membership_change_writes_one_audit_and_one_bilingual_notification() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    let m = create(&svc, "Bilingual").await; // label "Bilingual label": notifications name the mandate, not the label
    let boss = identity(&svc, &db.pool, "boss@example.org").await;
    let bob = identity(&svc, &db.pool, "bob@example.org").await;
    svc.add_member(&root, m, &MemberRef::Sub(boss), &admin_role())
        .await
        .unwrap();
    let boss_actor = operator(boss);
    let viewer: Vec<MandateRoleId> = vec![mandate_roles::VIEWER.into()];
    type Step<'a> = (
        &'a str,
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ServiceError>> + 'a>>,
    );
    let steps: Vec<Step<'_>> = vec![
        (
            "MEMBER_ADDED",
            Box::pin(async {
                svc.add_member(&boss_actor, m, &MemberRef::Sub(bob), &member_role())
                    .await
                    .map(|_| ())
            }),
        ),
        (
            "MEMBER_ROLES_SET",
            Box::pin(svc.set_member_roles(&boss_actor, m, bob, &viewer)),
        ),
        (
            "MEMBER_DISABLED",
            Box::pin(svc.set_member_enabled(&boss_actor, m, bob, false)),
        ),
        (
            "MEMBER_ENABLED",
            Box::pin(svc.set_member_enabled(&boss_actor, m, bob, true)),
        ),
        (
            "MEMBER_REMOVED",
            Box::pin(svc.remove_member(&boss_actor, m, bob)),
        ),
    ];
    for (action, fut) in steps {
        let audits_before = audit_rows(&db.pool, m).await;
        let notes_before: i64 =
            sqlx::query_scalar("SELECT count(*) FROM notification WHERE user_id = $1")
                .bind(bob)
                .fetch_one(&db.pool)
                .await
                .unwrap();
        fut.await.unwrap();
        let rows: Vec<(String, Option<Uuid>, Option<Uuid>, String)> = sqlx::query_as(
            "SELECT action, actor_user_id, target_user_id, via FROM mandate_audit WHERE mandate_id = $1 ORDER BY created_at DESC, id LIMIT 1",
        )
        .bind(m)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert_eq!(audit_rows(&db.pool, m).await, audits_before + 1, "{action}");
        assert_eq!(
            rows[0],
            (
                action.to_string(),
                Some(boss.0),
                Some(bob.0),
                "tui".to_string()
            )
        );
        let notes: Vec<(String, String, String, String, Option<Uuid>)> = sqlx::query_as(
            "SELECT title_en, message_en, title_de, message_de, mandate_id FROM notification WHERE user_id = $1 ORDER BY created_at DESC, id",
        )
        .bind(bob)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert_eq!(notes.len() as i64, notes_before + 1, "{action}");
        let (te, me, td, md, mid) = &notes[0];
        assert_eq!(*mid, Some(m.0));
        assert!(!te.is_empty() && !td.is_empty());
        assert!(
            me.contains("«Bilingual»") && md.contains("«Bilingual»"),
            "{me} / {md}"
        );
        assert!(td.starts_with("Mandant"), "{td}");
        assert!(md.starts_with("Sie ") || md.starts_with("Ihr"), "{md}");
        assert!(me.starts_with("You") || me.starts_with("Your"), "{me}");
    }
    let notes: Vec<String> = sqlx::query_scalar(
        "SELECT message_de FROM notification WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(bob)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        notes[0],
        "Sie wurden dem Mandanten «Bilingual» hinzugefügt."
    );
    assert_eq!(
        notes[4],
        "Sie wurden aus dem Mandanten «Bilingual» entfernt."
    );
    // A refused change writes neither.
    let audits = audit_rows(&db.pool, m).await;
    assert!(svc.remove_member(&boss_actor, m, boss).await.is_err());
    assert_eq!(audit_rows(&db.pool, m).await, audits);
    let notes_boss: i64 =
        sqlx::query_scalar("SELECT count(*) FROM notification WHERE user_id = $1")
            .bind(boss)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(notes_boss, 1); // only "added"
}

// ---------------------------------------------------------------------------------------------
// The members page
// ---------------------------------------------------------------------------------------------

/// Counts every statement sqlx executes on the current thread: sqlx logs each statement
/// through `tracing` under the target `sqlx::query`, and a process-wide subscriber (installed
/// once, so no callsite interest is ever cached as "never") adds it to a thread-local counter.
/// The test runs on a current-thread runtime, so every query of the code under test — on
/// whatever connection — lands on this thread's counter, and other tests' queries do not.
struct StatementCounter;

thread_local! {
    static STATEMENTS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for StatementCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            STATEMENTS.with(|c| c.set(c.get() + 1));
        }
    }
}

fn statements_so_far() -> usize {
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(|| {
        // If another global subscriber were installed, the counts below stay 0 and the test fails.
        let _ = tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(StatementCounter),
        );
    });
    STATEMENTS.with(|c| c.get())
}

/// Builds a mandate with `n` members: directory cache + profiles + duplicated labels + a
/// feature-instance role, in a handful of set-based statements.
async fn populate(pool: &hubdeck::store::Db, m: MandateId, n: i32) {
    sqlx::query(
        "WITH u AS (SELECT g, gen_random_uuid() AS sub FROM generate_series(1, $2) g), \
         du AS (INSERT INTO directory_user (sub, username, email, enabled, status) \
                SELECT sub, 'user' || lpad(g::text, 4, '0'), 'user' || lpad(g::text, 4, '0') || '@example.org', true, \
                       CASE WHEN g % 10 = 0 THEN 'FORCE_CHANGE_PASSWORD' ELSE 'CONFIRMED' END FROM u), \
         up AS (INSERT INTO user_profile (user_id, name, organisation) \
                SELECT sub, CASE WHEN g % 3 = 0 THEN 'Dr Smith ' ELSE 'Jones ' END || g, 'Org' FROM u) \
         INSERT INTO user_mandate (user_id, mandate_id, enabled, created_at) \
         SELECT sub, $1, g % 4 <> 0, now() - make_interval(secs => $2 - g) FROM u",
    )
    .bind(m)
    .bind(n)
    .execute(pool)
    .await
    .unwrap();
    // Every member: `member`; every 5th also `admin` (global) and the mandate's own `admin`
    // (same label: must appear once); every 2nd a feature-instance role `ops` (excluded).
    sqlx::query(
        "WITH own AS (INSERT INTO mandate_role (label, mandate_id) VALUES ('admin', $1) RETURNING id), \
         fi AS (INSERT INTO mandate_role (label, mandate_id, feature_instance_id) VALUES ('ops', $1, gen_random_uuid()) RETURNING id), \
         ms AS (SELECT id, row_number() OVER (ORDER BY created_at) AS g FROM user_mandate WHERE mandate_id = $1) \
         INSERT INTO user_mandate_role (user_mandate_id, mandate_role_id) \
         SELECT ms.id, $2 FROM ms \
         UNION ALL SELECT ms.id, $3 FROM ms WHERE g % 5 = 0 \
         UNION ALL SELECT ms.id, own.id FROM ms, own WHERE g % 5 = 0 \
         UNION ALL SELECT ms.id, fi.id FROM ms, fi WHERE g % 2 = 0",
    )
    .bind(m)
    .bind(mandate_roles::MEMBER)
    .bind(mandate_roles::ADMIN)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn members_page_is_one_statement_whatever_the_page_size() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    let m = create(&svc, "Big").await;
    populate(&db.pool, m, 600).await;

    statements_so_far();
    let mut counts = Vec::new();
    for size in [10, 500, 10, 500] {
        let before = statements_so_far();
        let page = svc
            .list_members(
                &root,
                m,
                &PageQuery::new(1, size).sort("email", SortDir::Asc),
            )
            .await
            .unwrap();
        assert_eq!(page.items.len(), size as usize);
        assert_eq!(page.total, 600);
        counts.push(statements_so_far() - before);
    }
    // Negative control: per-row lookups after a page (the N+1 shape) are each counted.
    let page = svc
        .list_members(&root, m, &PageQuery::new(1, 10))
        .await
        .unwrap();
    let before = statements_so_far();
    for member in &page.items {
        let _: Option<String> =
            sqlx::query_scalar("SELECT email FROM directory_user WHERE sub = $1")
                .bind(member.user_id)
                .fetch_optional(&db.pool)
                .await
                .unwrap();
    }
    assert_eq!(statements_so_far() - before, 10);
    // The counter really counts (a broken counter would report 0 for both sizes). Three
    // statements: the operator's fresh authority (issue 28), the page (rows only) and the exact
    // total the CLI prints — the console asks for rows alone (issue 13).
    assert!(
        counts.iter().all(|c| *c == 3),
        "statements per page (10, 500, 10, 500): {counts:?}"
    );
    // The mandate-admin path adds exactly one authorization statement, independent of size too.
    let boss = UserSub::new_v4();
    raw_member(&db.pool, m, boss, &[mandate_roles::ADMIN]).await;
    let mut counts = Vec::new();
    for size in [10, 500] {
        let before = statements_so_far();
        svc.list_members(&operator(boss), m, &PageQuery::new(1, size))
            .await
            .unwrap();
        counts.push(statements_so_far() - before);
    }
    // Fresh authority, the mandate-admin check, the page (rows) and the exact total.
    assert_eq!(counts, [4, 4]);
}

#[tokio::test]
async fn members_labels_totals_with_search_filter_sort_and_filter_values() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    let m = create(&svc, "Labels").await;
    let other = create(&svc, "Noise").await;
    populate(&db.pool, m, 60).await;
    populate(&db.pool, other, 30).await;

    let all = svc
        .list_members(&root, m, &PageQuery::new(1, 500))
        .await
        .unwrap();
    assert_eq!(all.total, 60);
    for (i, mem) in all.items.iter().enumerate() {
        let g = i + 1; // default sort: created_at ascending = g
        let expected: &[&str] = if g % 5 == 0 {
            &["admin", "member"]
        } else {
            &["member"]
        };
        assert_eq!(mem.role_labels, expected, "member {g}");
        assert!(!mem.role_labels.iter().any(|l| l == "ops"));
        assert_eq!(mem.is_admin, g % 5 == 0);
        assert_eq!(
            mem.username.as_deref(),
            Some(format!("user{g:04}").as_str())
        );
        assert!(mem.full_name.is_some());
        // Feature-instance role ids are excluded, duplicates are not.
        assert_eq!(mem.role_ids.len(), if g % 5 == 0 { 3 } else { 1 });
    }

    // Search over role labels + filter + sort, with the right total.
    // admins: g = 5,10,...,60 (12); enabled: g % 4 != 0 → drop 20, 40, 60 → 9.
    let q = PageQuery::new(1, 4)
        .search("admin")
        .filter("enabled", ["true"])
        .sort("full_name", SortDir::Desc)
        .sort("username", SortDir::Asc);
    let p = svc.list_members(&root, m, &q).await.unwrap();
    assert_eq!(p.total, 9);
    assert_eq!(p.items.len(), 4);
    let names: Vec<_> = p
        .items
        .iter()
        .map(|x| x.full_name.clone().unwrap())
        .collect();
    // 'Jones …' sorts after 'Dr Smith …' descending: Jones 5, 25, 35, 55, 65?.. (text order)
    let mut expected: Vec<String> = [5, 10, 15, 25, 30, 35, 45, 50, 55]
        .iter()
        .map(|g| {
            if g % 3 == 0 {
                format!("Dr Smith {g}")
            } else {
                format!("Jones {g}")
            }
        })
        .collect();
    expected.sort_by_key(|s| std::cmp::Reverse(s.to_lowercase()));
    assert_eq!(names, expected[..4]);
    // Search over email and full name.
    assert_eq!(
        svc.list_members(&root, m, &PageQuery::new(1, 10).search("user0007@"))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        svc.list_members(&root, m, &PageQuery::new(1, 10).search("smith"))
            .await
            .unwrap()
            .total,
        20
    );
    let q = PageQuery::new(1, 10)
        .search("smith")
        .filter("admin", ["true"]);
    assert_eq!(svc.list_members(&root, m, &q).await.unwrap().total, 4); // 15, 30, 45, 60

    // Filter values: own filter ignored, the others (and the search) honoured.
    let q = PageQuery::new(1, 10)
        .filter("status", ["FORCE_CHANGE_PASSWORD"])
        .filter("enabled", ["false"]);
    assert_eq!(svc.list_members(&root, m, &q).await.unwrap().total, 3); // 20, 40, 60
    assert_eq!(
        svc.member_filter_values(&root, m, "status", &q)
            .await
            .unwrap(),
        ["CONFIRMED", "FORCE_CHANGE_PASSWORD"]
    );
    assert_eq!(
        svc.member_filter_values(&root, m, "enabled", &q)
            .await
            .unwrap(),
        ["false", "true"]
    );
    let q = PageQuery::new(1, 10)
        .filter("status", ["CONFIRMED"])
        .filter("admin", ["true"]);
    // admins with g % 10 != 0 → 5, 15, 25, 35, 45, 55: enabled values
    assert_eq!(
        svc.member_filter_values(&root, m, "enabled", &q)
            .await
            .unwrap(),
        ["true"]
    );
    let bad = svc
        .member_filter_values(&root, m, "email", &PageQuery::default())
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
    let bad = svc
        .list_members(
            &root,
            m,
            &PageQuery::default().sort("user_id", SortDir::Asc),
        )
        .await;
    assert!(
        matches!(
            bad,
            Err(ServiceError::Query(
                PageQueryError::UnknownSortColumn { .. }
            ))
        ),
        "{bad:?}"
    );
}

#[tokio::test]
async fn members_page_query_uses_the_membership_index() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    // 300 mandates of 40 members: a page of one mandate should never read the others.
    let mut target = None;
    for i in 0..300 {
        let m = create(&svc, &format!("m{i}")).await;
        target.get_or_insert(m);
    }
    sqlx::query(
        "INSERT INTO user_mandate (user_id, mandate_id) \
         SELECT gen_random_uuid(), m.id FROM mandate m, generate_series(1, 40)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO user_mandate_role (user_mandate_id, mandate_role_id) SELECT id, $1 FROM user_mandate",
    )
    .bind(mandate_roles::MEMBER)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(&db.pool).await.unwrap();
    // Planner settings untouched: the plan the application gets.
    let plan = mstore::explain_page(
        &db.pool,
        target.unwrap(),
        &PageQuery::new(1, 50).sort("email", SortDir::Asc),
    )
    .await
    .unwrap()
    .join("\n");
    // An index on the membership scoped to the mandate (migration 0900's sort index, or the
    // mandate index under a bitmap at 40 members a mandate).
    assert!(
        plan.contains("Index Scan using user_mandate_")
            || plan.contains("Bitmap Index Scan on user_mandate_"),
        "{plan}"
    );
    assert!(!plan.contains("Seq Scan on user_mandate "), "{plan}");
    assert!(plan.contains("user_mandate_role_pkey"), "{plan}");
}
