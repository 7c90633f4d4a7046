//! The registration saga against DATABASE failures during the roles write, with real
//! PostgreSQL and Cognito (moto): the server ending the session that waits on a lock (what a
//! failover or restart looks like, SQLSTATE 57P01), a lock timeout (55P03), a statement timeout
//! (57014) and a deadlock (40P01). None of them says the roles cannot be written, so the fresh
//! identity is kept: `roles_pending` (or `complete` when the deadlock's transaction simply ran
//! again), never deleted.

use std::time::Duration;

use hubdeck::domain::RoleRef;
use hubdeck::service::Services;
use hubdeck::store::registrations::RegistrationState;
use sqlx::{Connection, PgConnection};

use crate::registration::{cli, req, rows_of};
use crate::registration_faults::{Rig, rig};

/// A connection holding, in an open transaction, a lock on `user_role` that every INSERT into
/// it waits for (the roles write's grant).
async fn hold_user_role_lock(rig: &Rig) -> PgConnection {
    let mut c = PgConnection::connect(&rig.t.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut c).await.unwrap();
    // This connection must never be the deadlock victim: the saga's session finds the cycle.
    sqlx::query("SET LOCAL deadlock_timeout = '60s'")
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query("LOCK TABLE user_role IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut c)
        .await
        .unwrap();
    c
}

/// The backend of the roles write, once it waits on the lock.
async fn waiting_roles_write(rig: &Rig) -> i32 {
    for _ in 0..600 {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO user_role%'",
        )
        .fetch_optional(&rig.t.pool)
        .await
        .unwrap();
        if let Some(pid) = pid {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the roles write never waited on the lock");
}

/// The end state in both systems: the identity is still in Cognito, the journal records it,
/// and a repair completes the registration with its grant, profile and audit row.
async fn assert_identity_kept(rig: &Rig, email: &str, want: RegistrationState) {
    let (state, sub, last_error, _) = rig.journal_of(email).await;
    let in_moto = rig.in_moto(email).await;
    assert!(
        in_moto.is_some(),
        "the fresh identity was deleted ({state})"
    );
    assert_eq!(sub, in_moto, "the journal records the identity");
    assert_eq!(state, want.as_str(), "last_error {last_error:?}");
    if want == RegistrationState::RolesPending {
        let id: hubdeck::domain::RegistrationId =
            sqlx::query_scalar("SELECT id FROM registration WHERE email = $1")
                .bind(email)
                .fetch_one(&rig.t.pool)
                .await
                .unwrap();
        let done = rig.svc.retry_registration(&cli(), id).await.unwrap();
        assert_eq!(done.state, RegistrationState::Complete);
    }
    let rows = rows_of(&rig.t.pool, in_moto.unwrap()).await;
    assert_eq!((rows.grants, rows.profiles, rows.audits), (1, 1, 1));
}

#[tokio::test]
async fn a_terminated_session_during_the_roles_write_keeps_the_identity() {
    let rig = rig().await;
    let email = "terminated@example.org";
    let mut blocker = hold_user_role_lock(&rig).await;
    let svc = rig.svc.clone();
    let task = tokio::spawn(async move {
        svc.register_user(&cli(), &req(email, &[RoleRef::Viewer]))
            .await
    });
    let pid = waiting_roles_write(&rig).await;
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&rig.t.pool)
        .await
        .unwrap();
    assert!(ended);
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    let out = task.await.unwrap();
    let out = out.expect("the identity exists: Ok with roles_pending");
    assert_eq!(
        out.state,
        RegistrationState::RolesPending,
        "{}",
        out.message
    );
    assert!(out.message.contains("repair --retry"), "{}", out.message);
    assert_identity_kept(&rig, email, RegistrationState::RolesPending).await;
}

/// A lock or statement timeout set for the database (as an operator of a busy server would).
async fn timed_out_roles_write(setting: &str, email: &str) {
    let rig = rig().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {} SET {setting} = '300ms'",
        rig.t.name
    )))
    .execute(&rig.t.pool)
    .await
    .unwrap();
    // New sessions pick the setting up.
    let svc = Services::new(
        rig.t.pool_with(5).await,
        rig.svc.directory.clone(),
        rig.svc.settings.clone(),
    );
    let mut blocker = hold_user_role_lock(&rig).await;
    let out = svc
        .register_user(&cli(), &req(email, &[RoleRef::Viewer]))
        .await;
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    let out = out.unwrap_or_else(|e| panic!("{setting}: the identity exists, yet: {e}"));
    assert_eq!(
        out.state,
        RegistrationState::RolesPending,
        "{}",
        out.message
    );
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {} RESET {setting}",
        rig.t.name
    )))
    .execute(&rig.t.pool)
    .await
    .unwrap();
    assert_identity_kept(&rig, email, RegistrationState::RolesPending).await;
}

#[tokio::test]
async fn a_lock_timeout_during_the_roles_write_keeps_the_identity() {
    timed_out_roles_write("lock_timeout", "lock-timeout@example.org").await;
}

#[tokio::test]
async fn a_statement_timeout_during_the_roles_write_keeps_the_identity() {
    timed_out_roles_write("statement_timeout", "stmt-timeout@example.org").await;
}

/// The roles write holds the journal row and waits on `user_role`; another session holds
/// `user_role` and asks for the journal row: PostgreSQL aborts the roles write (40P01). The
/// transaction was rolled back by the server before any commit, so it runs again whole.
#[tokio::test]
async fn a_deadlock_during_the_roles_write_keeps_the_identity() {
    let rig = rig().await;
    let email = "deadlock@example.org";
    let mut blocker = hold_user_role_lock(&rig).await;
    let svc = rig.svc.clone();
    let task = tokio::spawn(async move {
        svc.register_user(&cli(), &req(email, &[RoleRef::Viewer]))
            .await
    });
    waiting_roles_write(&rig).await;
    // Closes the cycle; returns once the server aborted the roles write.
    sqlx::query("SELECT 1 FROM registration WHERE email = $1 FOR UPDATE")
        .bind(email)
        .execute(&mut blocker)
        .await
        .unwrap();
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    let out = task.await.unwrap().expect("the identity exists");
    assert_eq!(out.state, RegistrationState::Complete, "{}", out.message);
    assert_identity_kept(&rig, email, RegistrationState::Complete).await;
}
