//! Rolling a registration back removes only what it made, under the locks and refusals of a
//! user delete; and each of the five registration use cases (register, retry, roll back,
//! resolve, reconcile) re-reads the operator's authority in its own transaction before it
//! acts. LocalDirectory on real PostgreSQL.

use hubdeck::domain::roles::mandate_roles;
use hubdeck::domain::{RoleRef, UserSub};
use hubdeck::service::ServiceError;
use hubdeck::service::members::MemberRef;
use hubdeck::store::registrations::RegistrationState;

use crate::registration::{cli, count, local_services, req, stuck_after_create};
use crate::support::pg::fresh_db;

async fn holds(pool: &hubdeck::store::Db, sub: UserSub, role: RoleRef) -> bool {
    count(
        pool,
        &format!(
            "SELECT count(*) FROM user_role WHERE user_id = $1 AND role_id = '{}'",
            role.id()
        ),
        Some(sub),
    )
    .await
        == 1
}

async fn identity_exists(pool: &hubdeck::store::Db, sub: UserSub) -> bool {
    count(
        pool,
        "SELECT count(*) FROM local_identity WHERE sub = $1",
        Some(sub),
    )
    .await
        == 1
}

async fn state_of(pool: &hubdeck::store::Db, id: hubdeck::domain::RegistrationId) -> String {
    sqlx::query_scalar("SELECT state FROM registration WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Another operator granted the stuck user a role after the registration started: rolling the
/// registration back deletes the identity it created but leaves that grant (it is not the
/// registration's), and the audit row says what was kept.
#[tokio::test]
async fn rollback_keeps_a_grant_another_operator_made_later() {
    let t = fresh_db().await;
    let svc = local_services(&t).await;
    let (id, sub) = stuck_after_create(&svc, "later@example.org", &[RoleRef::Viewer]).await;
    svc.set_roles(&cli(), sub, &[RoleRef::Researcher])
        .await
        .unwrap();
    let r = svc.rollback_registration(&cli(), id).await.unwrap();
    assert_eq!(r.state(), RegistrationState::RolledBack);
    assert!(
        !identity_exists(&t.pool, sub).await,
        "the identity it made is gone"
    );
    assert!(
        holds(&t.pool, sub, RoleRef::Researcher).await,
        "another operator's grant survives the rollback"
    );
    let kept: serde_json::Value = sqlx::query_scalar(
        "SELECT details->'grants_kept_made_by_others' FROM users_audit \
         WHERE user_id = $1 AND action = 'Rolled back registration'",
    )
    .bind(sub)
    .fetch_one(&t.pool)
    .await
    .unwrap();
    assert_eq!(kept, serde_json::json!([RoleRef::Researcher.id()]));
}

/// The stuck user was made the only global ADMIN meanwhile: deleting the identity would leave
/// nobody, so the rollback is refused (exit 3) with the reason and nothing changes.
#[tokio::test]
async fn rollback_of_the_last_global_admin_is_refused() {
    let t = fresh_db().await;
    let svc = local_services(&t).await;
    let (id, sub) = stuck_after_create(&svc, "boss@example.org", &[RoleRef::Viewer]).await;
    svc.set_roles(&cli(), sub, &[RoleRef::Admin]).await.unwrap();
    let e = svc.rollback_registration(&cli(), id).await.unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(
        e.to_string()
            .contains("last active holder of the global ADMIN role"),
        "{e}"
    );
    assert_eq!(state_of(&t.pool, id).await, "identity_created");
    assert!(identity_exists(&t.pool, sub).await);
    assert!(holds(&t.pool, sub, RoleRef::Admin).await);
}

/// The stuck user became a mandate's only admin: refused with the mandate named, identity and
/// membership kept. With another admin present the rollback removes the membership with its
/// mandate audit and notification rows.
#[tokio::test]
async fn rollback_of_a_mandates_only_admin_is_refused_otherwise_memberships_go_with_audit() {
    let t = fresh_db().await;
    let svc = local_services(&t).await;
    let (id, sub) = stuck_after_create(&svc, "admin@example.org", &[RoleRef::Viewer]).await;
    let m = crate::mandates::create(&svc, "Clinic").await;
    svc.add_member(
        &cli(),
        m,
        &MemberRef::Sub(sub),
        &[mandate_roles::ADMIN.into()],
    )
    .await
    .unwrap();
    let e = svc.rollback_registration(&cli(), id).await.unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(e.to_string().contains("last admin of «Clinic»"), "{e}");
    assert_eq!(state_of(&t.pool, id).await, "identity_created");
    assert!(identity_exists(&t.pool, sub).await);
    let memberships = "SELECT count(*) FROM user_mandate WHERE user_id = $1";
    assert_eq!(count(&t.pool, memberships, Some(sub)).await, 1);

    // Another admin joins: the rollback goes through and takes the membership with it.
    let (_, other) = stuck_after_create(&svc, "other@example.org", &[]).await;
    svc.add_member(
        &cli(),
        m,
        &MemberRef::Sub(other),
        &[mandate_roles::ADMIN.into()],
    )
    .await
    .unwrap();
    let audits = "SELECT count(*) FROM mandate_audit WHERE target_user_id = $1";
    let notes = "SELECT count(*) FROM notification WHERE user_id = $1";
    let (audits_before, notes_before) = (
        count(&t.pool, audits, Some(sub)).await,
        count(&t.pool, notes, Some(sub)).await,
    );
    let r = svc.rollback_registration(&cli(), id).await.unwrap();
    assert_eq!(r.state(), RegistrationState::RolledBack);
    assert!(!identity_exists(&t.pool, sub).await);
    assert_eq!(count(&t.pool, memberships, Some(sub)).await, 0);
    assert_eq!(count(&t.pool, audits, Some(sub)).await, audits_before + 1);
    assert_eq!(count(&t.pool, notes, Some(sub)).await, notes_before + 1);
}

/// An operator demoted after signing in (their grants changed in the database after the Actor
/// was built) is refused by each of the five registration use cases with OperatorRevoked, and
/// nothing is created in the directory or the journal.
#[tokio::test]
async fn a_demoted_operator_is_refused_by_each_registration_use_case() {
    let t = fresh_db().await;
    let svc = local_services(&t).await;
    let (id, sub) = stuck_after_create(&svc, "stuck@example.org", &[RoleRef::Viewer]).await;
    let op = crate::mandates::sysadmin(&t.pool).await;
    let op_sub = op.audit_sub().unwrap();
    // Demoted to viewer by another operator.
    sqlx::query("DELETE FROM user_role WHERE user_id = $1")
        .bind(op_sub)
        .execute(&t.pool)
        .await
        .unwrap();
    crate::mandates::grant(&t.pool, op_sub, RoleRef::Viewer).await;
    let identities = "SELECT count(*) FROM local_identity";
    let journal = "SELECT count(*) FROM registration";
    let (identities_before, journal_before) = (
        count(&t.pool, identities, None).await,
        count(&t.pool, journal, None).await,
    );
    let revoked = |what: &str, r: Result<(), ServiceError>| match r {
        Err(ServiceError::OperatorRevoked(_)) => {}
        other => panic!("{what}: {other:?}"),
    };
    revoked(
        "register",
        svc.register_user(&op, &req("new-admin@example.org", &[RoleRef::Admin]))
            .await
            .map(drop),
    );
    revoked("retry", svc.retry_registration(&op, id).await.map(drop));
    revoked(
        "rollback",
        svc.rollback_registration(&op, id).await.map(drop),
    );
    revoked(
        "resolve",
        svc.resolve_registration(&op, id, "done").await.map(drop),
    );
    revoked("reconcile", svc.reconcile_pending(&op, 0).await.map(drop));
    assert_eq!(count(&t.pool, identities, None).await, identities_before);
    assert_eq!(count(&t.pool, journal, None).await, journal_before);
    assert_eq!(state_of(&t.pool, id).await, "identity_created");
    assert!(identity_exists(&t.pool, sub).await);
    assert!(!holds(&t.pool, sub, RoleRef::Viewer).await);
}
