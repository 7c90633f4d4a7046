//! Undo of grant changes (issue #15): member roles, member enable/disable, user roles and
//! user enable/disable from their audit rows — restored through the original use case, refused
//! when the grant changed since, linked to the undone row, at most once — and the CLI twin
//! `audit undo ID [--dry-run] [--yes] [--output json]` with its exit codes.

use crate::audit::hubdeck;
use hubdeck::domain::roles::mandate_roles;
use hubdeck::domain::{MandateId, MandateRoleId, RoleRef, UserSub};
use hubdeck::service::{Actor, ServiceError, Services};
use uuid::Uuid;

use crate::mandates::{cached_user, create, raw_member, services, sysadmin};
use crate::support::pg;
use crate::tui_e2e::seed_identity;

async fn last_audit(pool: &hubdeck::store::Db, m: MandateId, user: UserSub, action: &str) -> Uuid {
    sqlx::query_scalar(
        "SELECT id FROM mandate_audit WHERE mandate_id = $1 AND target_user_id = $2 AND action = $3 \
         ORDER BY created_at DESC, id LIMIT 1",
    )
    .bind(m)
    .bind(user)
    .bind(action)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn member_roles(pool: &hubdeck::store::Db, m: MandateId, user: UserSub) -> Vec<Uuid> {
    sqlx::query_scalar(
        "SELECT umr.mandate_role_id FROM user_mandate um JOIN user_mandate_role umr \
         ON umr.user_mandate_id = um.id WHERE um.mandate_id = $1 AND um.user_id = $2 ORDER BY 1",
    )
    .bind(m)
    .bind(user)
    .fetch_all(pool)
    .await
    .unwrap()
}

fn role(r: Uuid) -> Vec<MandateRoleId> {
    vec![r.into()]
}

struct Ward {
    svc: Services,
    root: Actor,
    m: MandateId,
    admin: UserSub,
    nurse: UserSub,
}

async fn ward(db: &pg::TestDb) -> Ward {
    let svc = services(db);
    let root = sysadmin(&db.pool).await;
    let m = create(&svc, "Undo Ward").await;
    let admin = cached_user(&db.pool, "head@ward.example", "Head").await;
    let nurse = cached_user(&db.pool, "nurse@ward.example", "Nurse").await;
    raw_member(&db.pool, m, admin, &[mandate_roles::ADMIN]).await;
    raw_member(&db.pool, m, nurse, &[mandate_roles::MEMBER]).await;
    Ward {
        svc,
        root,
        m,
        admin,
        nurse,
    }
}

#[tokio::test]
async fn undo_of_a_member_role_change_restores_links_and_happens_once() {
    let db = pg::fresh_db().await;
    let w = ward(&db).await;
    w.svc
        .set_member_roles(&w.root, w.m, w.nurse, &role(mandate_roles::VIEWER))
        .await
        .unwrap();
    let id = last_audit(&db.pool, w.m, w.nurse, "MEMBER_ROLES_SET").await;
    // The console's `z` on the nurse's row finds that change.
    let candidate = w
        .svc
        .member_undo_candidate(&w.root, w.m, w.nurse)
        .await
        .unwrap()
        .expect("a candidate");
    assert_eq!(candidate.audit_id, id);
    assert!(
        w.svc
            .member_undo_candidate(&w.root, w.m, w.admin)
            .await
            .unwrap()
            .is_none()
    );

    let plan = w.svc.undo_preview(&w.root, id).await.unwrap();
    assert_eq!(plan.refusal, None);
    assert_eq!(plan.restore, serde_json::json!([mandate_roles::MEMBER]));
    assert_eq!(plan.current, serde_json::json!([mandate_roles::VIEWER]));
    assert_eq!(
        member_roles(&db.pool, w.m, w.nurse).await,
        vec![mandate_roles::VIEWER],
        "preview changed nothing"
    );

    let done = w.svc.undo(&w.root, id).await.unwrap();
    assert!(done.applied);
    assert_eq!(
        member_roles(&db.pool, w.m, w.nurse).await,
        vec![mandate_roles::MEMBER]
    );
    // Its own audit row, linked; and a notification like any role change.
    let (undo_id, undoes, details): (Uuid, Option<Uuid>, serde_json::Value) = sqlx::query_as(
        "SELECT id, undoes, details FROM mandate_audit WHERE mandate_id = $1 AND target_user_id = $2 \
         AND action = 'MEMBER_ROLES_SET' AND id <> $3",
    )
    .bind(w.m)
    .bind(w.nurse)
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(undoes, Some(id));
    assert_eq!(details["after"], serde_json::json!([mandate_roles::MEMBER]));
    let notes: i64 = sqlx::query_scalar("SELECT count(*) FROM notification WHERE user_id = $1")
        .bind(w.nurse)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(notes, 2);

    // Once only.
    let again = w.svc.undo(&w.root, id).await.unwrap_err();
    assert!(
        matches!(&again, ServiceError::Conflict(m) if m.contains("already undone")),
        "{again}"
    );
    // The undo itself can be undone (redo).
    w.svc.undo(&w.root, undo_id).await.unwrap();
    assert_eq!(
        member_roles(&db.pool, w.m, w.nurse).await,
        vec![mandate_roles::VIEWER]
    );
}

#[tokio::test]
async fn undo_is_refused_after_the_grant_changed_again() {
    let db = pg::fresh_db().await;
    let w = ward(&db).await;
    w.svc
        .set_member_roles(&w.root, w.m, w.nurse, &role(mandate_roles::VIEWER))
        .await
        .unwrap();
    let first = last_audit(&db.pool, w.m, w.nurse, "MEMBER_ROLES_SET").await;
    w.svc
        .set_member_roles(&w.root, w.m, w.nurse, &role(mandate_roles::ADMIN))
        .await
        .unwrap();
    let second = last_audit(&db.pool, w.m, w.nurse, "MEMBER_ROLES_SET").await;
    let plan = w.svc.undo_preview(&w.root, first).await.unwrap();
    let why = plan.refusal.expect("refused");
    assert!(
        why.contains("changed since") && why.contains(&second.to_string()),
        "{why}"
    );
    let err = w.svc.undo(&w.root, first).await.unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    assert_eq!(
        member_roles(&db.pool, w.m, w.nurse).await,
        vec![mandate_roles::ADMIN],
        "nothing changed"
    );

    // A change that bypassed the audit trail is caught by the state check.
    sqlx::query(
        "DELETE FROM user_mandate_role WHERE user_mandate_id = \
         (SELECT id FROM user_mandate WHERE mandate_id = $1 AND user_id = $2)",
    )
    .bind(w.m)
    .bind(w.nurse)
    .execute(&db.pool)
    .await
    .unwrap();
    let why = w
        .svc
        .undo_preview(&w.root, second)
        .await
        .unwrap()
        .refusal
        .expect("refused");
    assert!(why.contains("it is now []"), "{why}");

    // Undo goes through the same rules: undoing the promotion of the only other admin after
    // the head stepped down would leave no admin.
    w.svc
        .set_member_roles(&w.root, w.m, w.nurse, &role(mandate_roles::ADMIN))
        .await
        .unwrap();
    let promotion = last_audit(&db.pool, w.m, w.nurse, "MEMBER_ROLES_SET").await;
    w.svc
        .set_member_roles(&w.root, w.m, w.admin, &role(mandate_roles::MEMBER))
        .await
        .unwrap();
    let err = w.svc.undo(&w.root, promotion).await.unwrap_err();
    assert!(err.to_string().contains("last admin"), "{err}");

    // Not every audit row is a grant change.
    let created: Uuid = sqlx::query_scalar(
        "SELECT id FROM mandate_audit WHERE mandate_id = $1 AND target_user_id IS NULL LIMIT 1",
    )
    .bind(w.m)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let err = w.svc.undo_preview(&w.root, created).await.unwrap_err();
    assert!(err.to_string().contains("not a reversible"), "{err}");
    let err = w
        .svc
        .undo_preview(&w.root, Uuid::new_v4())
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 4);
}

#[tokio::test]
async fn undo_of_user_roles_and_member_and_user_disable() {
    let db = pg::fresh_db().await;
    let w = ward(&db).await;
    // Global grants of a directory identity.
    let ada = seed_identity(&w.svc, "ada@ward.example", None, Some(RoleRef::Viewer)).await;
    w.svc
        .set_roles(&w.root, ada, &[RoleRef::Researcher])
        .await
        .unwrap();
    let id: Uuid = sqlx::query_scalar(
        "SELECT id FROM users_audit WHERE user_id = $1 AND action = 'Updated user roles'",
    )
    .bind(ada)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        w.svc
            .user_undo_candidate(&w.root, ada)
            .await
            .unwrap()
            .map(|p| p.audit_id),
        Some(id)
    );
    let plan = w.svc.undo(&w.root, id).await.unwrap();
    assert_eq!(plan.restore, serde_json::json!(["viewer"]));
    assert_eq!(
        hubdeck::store::grants::roles_of(&db.pool, ada)
            .await
            .unwrap(),
        vec![RoleRef::Viewer.id()]
    );

    // User disable → undo enables again (directory and cache).
    w.svc.set_enabled(&w.root, ada, false).await.unwrap();
    let id: Uuid = sqlx::query_scalar(
        "SELECT id FROM users_audit WHERE user_id = $1 AND action = 'Disabled user'",
    )
    .bind(ada)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    w.svc.undo(&w.root, id).await.unwrap();
    assert!(w.svc.directory.find_by_sub(ada).await.unwrap().enabled);
    let linked: Option<Uuid> = sqlx::query_scalar(
        "SELECT undoes FROM users_audit WHERE user_id = $1 AND action = 'Enabled user'",
    )
    .bind(ada)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(linked, Some(id));

    // Member disable → undo enables the membership.
    w.svc
        .set_member_enabled(&w.root, w.m, w.nurse, false)
        .await
        .unwrap();
    let id = last_audit(&db.pool, w.m, w.nurse, "MEMBER_DISABLED").await;
    w.svc.undo(&w.root, id).await.unwrap();
    let enabled: bool = sqlx::query_scalar(
        "SELECT enabled FROM user_mandate WHERE mandate_id = $1 AND user_id = $2",
    )
    .bind(w.m)
    .bind(w.nurse)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(enabled);
}

#[tokio::test]
async fn cli_audit_undo_dry_run_yes_json_and_exit_codes() {
    let db = pg::fresh_db().await;
    let w = ward(&db).await;
    w.svc
        .set_member_roles(&w.root, w.m, w.nurse, &role(mandate_roles::VIEWER))
        .await
        .unwrap();
    let id = last_audit(&db.pool, w.m, w.nurse, "MEMBER_ROLES_SET")
        .await
        .to_string();

    let (code, out, err) = hubdeck(
        &db,
        &["--output", "json", "audit", "undo", &id, "--dry-run"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["applied"], false);
    assert_eq!(v["restore"], serde_json::json!([mandate_roles::MEMBER]));
    assert!(v.get("refusal").is_none(), "{v}");

    // No terminal to confirm on and no --yes: usage error, nothing changed.
    let (code, _, err) = hubdeck(&db, &["audit", "undo", &id]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(
        member_roles(&db.pool, w.m, w.nurse).await,
        vec![mandate_roles::VIEWER]
    );

    let (code, out, err) = hubdeck(&db, &["--output", "json", "audit", "undo", &id, "--yes"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["applied"], true);
    assert_eq!(
        member_roles(&db.pool, w.m, w.nurse).await,
        vec![mandate_roles::MEMBER]
    );
    let via: (String, Option<String>) =
        sqlx::query_as("SELECT via, os_user FROM mandate_audit WHERE undoes = $1::uuid")
            .bind(&id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        via,
        ("cli".into(), Some(crate::support::cli::real_account()))
    );

    // Already undone: refused, exit 3, the reason on stderr.
    let (code, out, err) = hubdeck(&db, &["audit", "undo", &id, "--yes"]);
    assert_eq!(code, 3, "{out} {err}");
    assert!(err.contains("already undone"), "{err}");
    let (code, _, _) = hubdeck(&db, &["audit", "undo", "not-a-uuid", "--dry-run"]);
    assert_eq!(code, 2);
    let (code, _, _) = hubdeck(
        &db,
        &["audit", "undo", &Uuid::new_v4().to_string(), "--dry-run"],
    );
    assert_eq!(code, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_operators_undoing_one_change_at_once_undo_it_once() {
    let db = pg::fresh_db().await;
    let pool = db.pool_with(8).await;
    let w = ward(&db).await;
    let svc = crate::mandates::services_on(&db, pool.clone());
    for round in 0..20 {
        let to = if round % 2 == 0 {
            mandate_roles::VIEWER
        } else {
            mandate_roles::ADMIN
        };
        let before = member_roles(&pool, w.m, w.nurse).await;
        svc.set_member_roles(&w.root, w.m, w.nurse, &role(to))
            .await
            .unwrap();
        let id = last_audit(&pool, w.m, w.nurse, "MEMBER_ROLES_SET").await;
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let run = || {
            let (svc, root, barrier) = (svc.clone(), w.root.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                svc.undo(&root, id).await
            })
        };
        let (a, b) = tokio::join!(run(), run());
        let results = [a.unwrap(), b.unwrap()];
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {results:?}"
        );
        for r in &results {
            if let Err(e) = r {
                assert_eq!(e.exit_code(), 3, "round {round}: {e}");
            }
        }
        let links: i64 = sqlx::query_scalar("SELECT count(*) FROM mandate_audit WHERE undoes = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(links, 1, "round {round}");
        assert_eq!(
            member_roles(&pool, w.m, w.nurse).await,
            before,
            "round {round}"
        );
    }
}
