//! Drift (issue 14): every class is reported, each repair's preview says exactly what changes
//! in PostgreSQL and in the directory, the apply re-checks the premise and audits; the CLI twin
//! `hubdeck users drift --repair` with its exit codes, through the real binary.

use hubdeck::domain::roles::mandate_roles;
use hubdeck::domain::{MandateId, RoleRef, UserSub};
use hubdeck::service::ServiceError;
use hubdeck::service::drift::{DriftClass, DriftTarget};
use uuid::Uuid;

use crate::mandates::{cached_user, create, grant, raw_member};
use crate::registration::{cli, local_services, req};
use crate::support::{moto, pg};

async fn mark_gone(pool: &hubdeck::store::Db, sub: UserSub) {
    sqlx::query("UPDATE directory_user SET gone_at = now() WHERE sub = $1")
        .bind(sub)
        .execute(pool)
        .await
        .unwrap();
}

async fn scalar(pool: &hubdeck::store::Db, sql: &str, id: Uuid) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn mandate_audit(
    pool: &hubdeck::store::Db,
    m: MandateId,
    action: &str,
    user: UserSub,
) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM mandate_audit WHERE mandate_id = $1 AND action = $2 \
         AND target_user_id = $3",
    )
    .bind(m)
    .bind(action)
    .bind(user)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn users_audit(pool: &hubdeck::store::Db, user: UserSub, action: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM users_audit WHERE user_id = $1 AND action = $2")
        .bind(user)
        .bind(action)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn registered(svc: &hubdeck::service::Services, email: &str, roles: &[RoleRef]) -> UserSub {
    svc.register_user(&cli(), &req(email, roles))
        .await
        .unwrap()
        .sub
        .unwrap()
}

#[tokio::test]
async fn memberships_of_gone_identities_list_mandates_without_admin_first_and_repair_as_previewed()
{
    let t = pg::fresh_db().await;
    let svc = local_services(&t).await;
    let alpha = create(&svc, "alpha").await;
    let zeta = create(&svc, "zeta").await;
    let working = cached_user(&t.pool, "working@example.org", "Working Admin").await;
    let gone_admin = cached_user(&t.pool, "gone-admin@example.org", "Gone Admin").await;
    let gone_member = cached_user(&t.pool, "gone-member@example.org", "Gone Member").await;
    raw_member(&t.pool, alpha, working, &[mandate_roles::ADMIN]).await;
    let alpha_ms = raw_member(&t.pool, alpha, gone_member, &[mandate_roles::MEMBER]).await;
    let zeta_ms = raw_member(&t.pool, zeta, gone_admin, &[mandate_roles::ADMIN]).await;
    mark_gone(&t.pool, gone_admin).await;
    mark_gone(&t.pool, gone_member).await;

    let report = svc.drift_report(&cli(), 100).await.unwrap();
    let rows: Vec<(Uuid, i64)> = report
        .memberships
        .iter()
        .map(|m| (m.membership_id.0, m.working_admins))
        .collect();
    // zeta has no working admin: it comes first even though alpha sorts before it.
    assert_eq!(rows, vec![(zeta_ms, 0), (alpha_ms, 1)]);

    let target = DriftTarget {
        class: DriftClass::Memberships,
        id: zeta_ms,
    };
    let preview = svc.drift_repair_preview(&cli(), target).await.unwrap();
    assert_eq!(preview.database.len(), 2, "{preview:?}");
    assert!(preview.database[0].contains("gone-admin@example.org"));
    assert!(preview.database[0].contains("«zeta»"));
    assert!(preview.directory.is_empty());
    assert_eq!(preview.warnings.len(), 1);
    assert!(preview.warnings[0].contains("no working admin"));

    let out = svc.apply_drift_repair(&cli(), &preview).await.unwrap();
    assert_eq!(out.preview, preview);
    assert_eq!(
        scalar(
            &t.pool,
            "SELECT count(*) FROM user_mandate WHERE id = $1",
            zeta_ms
        )
        .await,
        0
    );
    // Nothing else changed: the other membership of a gone identity and the admin remain.
    assert_eq!(
        scalar(
            &t.pool,
            "SELECT count(*) FROM user_mandate WHERE mandate_id = $1",
            alpha.0
        )
        .await,
        2
    );
    assert_eq!(
        mandate_audit(&t.pool, zeta, "MEMBER_REMOVED", gone_admin).await,
        1
    );
    // The directory was not asked to change: the identity was already gone.
    let after = svc.drift_report(&cli(), 100).await.unwrap();
    assert_eq!(after.memberships.len(), 1);
    assert_eq!(after.memberships[0].membership_id.0, alpha_ms);

    // The same preview applied again: its premise is gone, nothing is written.
    let again = svc.apply_drift_repair(&cli(), &preview).await.unwrap_err();
    assert!(matches!(again, ServiceError::Conflict(_)), "{again:?}");
    assert_eq!(again.exit_code(), 3);
    assert_eq!(
        mandate_audit(&t.pool, zeta, "MEMBER_REMOVED", gone_admin).await,
        1
    );
}

#[tokio::test]
async fn grants_of_a_gone_identity_are_removed_as_previewed_and_a_changed_premise_is_refused() {
    let t = pg::fresh_db().await;
    let svc = local_services(&t).await;
    let m = create(&svc, "beta").await;
    let admin = cached_user(&t.pool, "beta-admin@example.org", "Beta Admin").await;
    raw_member(&t.pool, m, admin, &[mandate_roles::ADMIN]).await;
    let ghost = cached_user(&t.pool, "ghost@example.org", "Ghost").await;
    grant(&t.pool, ghost, RoleRef::Viewer).await;
    raw_member(&t.pool, m, ghost, &[mandate_roles::MEMBER]).await;
    mark_gone(&t.pool, ghost).await;

    let report = svc.drift_report(&cli(), 100).await.unwrap();
    assert_eq!(
        report
            .orphan_grants
            .iter()
            .map(|u| (u.sub, u.roles.clone()))
            .collect::<Vec<_>>(),
        vec![(ghost, vec!["Viewer".to_string()])]
    );
    let target = DriftTarget {
        class: DriftClass::OrphanGrants,
        id: ghost.0,
    };
    let preview = svc.drift_repair_preview(&cli(), target).await.unwrap();
    assert_eq!(preview.database.len(), 4, "{preview:?}");
    assert!(preview.database[0].contains("Viewer"));
    assert!(preview.database[1].contains("«beta»"));
    assert!(preview.database[2].contains("profile"));
    assert!(preview.directory.is_empty());

    // The premise changes (another grant) between preview and apply: refused, nothing written.
    grant(&t.pool, ghost, RoleRef::Researcher).await;
    let err = svc.apply_drift_repair(&cli(), &preview).await.unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    let q_roles = "SELECT count(*) FROM user_role WHERE user_id = $1";
    assert_eq!(scalar(&t.pool, q_roles, ghost.0).await, 2);
    assert_eq!(users_audit(&t.pool, ghost, "Deleted user").await, 0);

    let preview = svc.drift_repair_preview(&cli(), target).await.unwrap();
    assert!(preview.database[0].contains("Researcher, Viewer"));
    svc.apply_drift_repair(&cli(), &preview).await.unwrap();
    assert_eq!(scalar(&t.pool, q_roles, ghost.0).await, 0);
    assert_eq!(
        scalar(
            &t.pool,
            "SELECT count(*) FROM user_mandate WHERE user_id = $1",
            ghost.0
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &t.pool,
            "SELECT count(*) FROM user_profile WHERE user_id = $1",
            ghost.0
        )
        .await,
        0
    );
    assert_eq!(users_audit(&t.pool, ghost, "Deleted user").await, 1);
    assert_eq!(mandate_audit(&t.pool, m, "MEMBER_REMOVED", ghost).await, 1);
    // The mandate's working admin is untouched.
    assert_eq!(
        scalar(
            &t.pool,
            "SELECT count(*) FROM user_mandate WHERE user_id = $1",
            admin.0
        )
        .await,
        1
    );
    assert!(svc.drift_report(&cli(), 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn disabled_user_with_grants_loses_only_the_grants() {
    let t = pg::fresh_db().await;
    let svc = local_services(&t).await;
    let spare = cached_user(&t.pool, "spare@example.org", "Spare").await;
    grant(&t.pool, spare, RoleRef::Admin).await;
    let sub = registered(
        &svc,
        "off@example.org",
        &[RoleRef::Researcher, RoleRef::Viewer],
    )
    .await;
    svc.set_enabled(&cli(), sub, false).await.unwrap();

    let report = svc.drift_report(&cli(), 100).await.unwrap();
    assert_eq!(
        report
            .disabled_with_grants
            .iter()
            .map(|u| u.sub)
            .collect::<Vec<_>>(),
        vec![sub]
    );
    let preview = svc
        .drift_repair_preview(
            &cli(),
            DriftTarget {
                class: DriftClass::DisabledWithGrants,
                id: sub.0,
            },
        )
        .await
        .unwrap();
    assert_eq!(preview.database.len(), 1);
    assert!(preview.database[0].contains("Researcher, Viewer"));
    assert!(preview.directory.is_empty());
    svc.apply_drift_repair(&cli(), &preview).await.unwrap();
    assert_eq!(
        scalar(
            &t.pool,
            "SELECT count(*) FROM user_role WHERE user_id = $1",
            sub.0
        )
        .await,
        0
    );
    // The directory did not change: the identity is still there and still disabled.
    let i = svc.directory.find_by_sub(sub).await.unwrap();
    assert!(!i.enabled);
    assert_eq!(users_audit(&t.pool, sub, "Updated user roles").await, 1);
    // Now it holds nothing: it is an identity without grants.
    let after = svc.drift_report(&cli(), 100).await.unwrap();
    assert!(after.disabled_with_grants.is_empty());
    assert_eq!(
        after.no_grants.iter().map(|u| u.sub).collect::<Vec<_>>(),
        vec![sub]
    );
}

#[tokio::test]
async fn identity_without_grants_is_deleted_in_the_directory_as_previewed() {
    let t = pg::fresh_db().await;
    let svc = local_services(&t).await;
    let bare = registered(&svc, "bare@example.org", &[]).await;
    // A member with no global role is not "without grants".
    let member = registered(&svc, "member@example.org", &[]).await;
    let m = create(&svc, "gamma").await;
    raw_member(&t.pool, m, member, &[mandate_roles::ADMIN]).await;

    let report = svc.drift_report(&cli(), 100).await.unwrap();
    assert_eq!(
        report.no_grants.iter().map(|u| u.sub).collect::<Vec<_>>(),
        vec![bare]
    );
    let preview = svc
        .drift_repair_preview(
            &cli(),
            DriftTarget {
                class: DriftClass::NoGrants,
                id: bare.0,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        preview.directory,
        vec!["delete the identity bare@example.org".to_string()]
    );
    assert!(preview.database.iter().any(|l| l.contains("profile")));
    // The member is refused as a target: not drift, exit 4.
    let err = svc
        .drift_repair_preview(
            &cli(),
            DriftTarget {
                class: DriftClass::NoGrants,
                id: member.0,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 4, "{err:?}");

    svc.apply_drift_repair(&cli(), &preview).await.unwrap();
    assert!(matches!(
        svc.directory.find_by_sub(bare).await,
        Err(hubdeck::directory::DirectoryError::NotFound(_))
    ));
    assert!(svc.directory.find_by_sub(member).await.is_ok());
    assert_eq!(
        scalar(
            &t.pool,
            "SELECT count(*) FROM user_profile WHERE user_id = $1",
            bare.0
        )
        .await,
        0
    );
    assert_eq!(users_audit(&t.pool, bare, "Deleted user").await, 1);
    assert!(svc.drift_report(&cli(), 100).await.unwrap().is_empty());
}

use crate::env::cli_local as hubdeck;

#[tokio::test]
async fn cli_drift_repair_previews_applies_and_reports_exit_codes_in_json() {
    let t = pg::fresh_db().await;
    let svc = local_services(&t).await;
    let m = create(&svc, "delta").await;
    let gone = cached_user(&t.pool, "gone@example.org", "Gone").await;
    let ms = raw_member(&t.pool, m, gone, &[mandate_roles::ADMIN]).await;
    mark_gone(&t.pool, gone).await;
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| hubdeck(home.path(), &t.url, args);

    let (code, out, err) = run(&["users", "drift", "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["memberships"][0]["membership_id"], ms.to_string());
    assert_eq!(v["memberships"][0]["working_admins"], 0);

    let target = format!("memberships:{ms}");
    let (code, out, err) = run(&["users", "drift", "--repair", &target, "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["repairs"][0]["applied"], false);
    assert!(
        v["repairs"][0]["preview"]["database"][0]
            .as_str()
            .unwrap()
            .contains("«delta»")
    );
    let q = "SELECT count(*) FROM user_mandate WHERE id = $1";
    assert_eq!(scalar(&t.pool, q, ms).await, 1, "a dry run changes nothing");

    let (code, out, err) = run(&[
        "users", "drift", "--repair", &target, "--yes", "--output", "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["repairs"][0]["applied"], true);
    assert_eq!(scalar(&t.pool, q, ms).await, 0);
    assert_eq!(mandate_audit(&t.pool, m, "MEMBER_REMOVED", gone).await, 1);

    // Again: that row is no longer drift — exit 4, reported in the JSON too.
    let (code, out, _) = run(&[
        "users", "drift", "--repair", &target, "--yes", "--output", "json",
    ]);
    assert_eq!(code, 4);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["repairs"][0]["exit_code"], 4);
    assert_eq!(v["repairs"][0]["applied"], false);

    // A class that does not exist: usage error, exit 2.
    let (code, _, err) = run(&["users", "drift", "--repair", "nonsense:1"]);
    assert_eq!(code, 2, "{err}");
    // `all` with nothing left: exit 0.
    let (code, out, err) = run(&["users", "drift", "--repair", "all", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no drift to repair"), "{out}");
}

/// Services on a fresh moto pool whose temporary passwords are valid for `days`.
async fn cognito_services(t: &pg::TestDb, days: i32) -> hubdeck::service::Services {
    use aws_sdk_cognitoidentityprovider::types::{PasswordPolicyType, UserPoolPolicyType};
    let admin = hubdeck::directory::cognito::sdk_client(&moto::directory_settings(
        &moto::moto().endpoint,
        "",
        "",
    ))
    .await;
    let (pool, client) = moto::fresh_pool(&admin).await;
    admin
        .update_user_pool()
        .user_pool_id(&pool)
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(
                    PasswordPolicyType::builder()
                        .minimum_length(8)
                        .temporary_password_validity_days(days)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("update pool policy");
    let mut settings = t.settings();
    settings.directory = moto::directory_settings(&moto::moto().endpoint, &pool, &client);
    let dir = hubdeck::directory::cognito::CognitoDirectory::new(&settings.directory)
        .await
        .unwrap();
    hubdeck::service::Services::new(
        t.pool.clone(),
        std::sync::Arc::new(dir),
        std::sync::Arc::new(settings),
    )
}

async fn backdate_invitation(pool: &hubdeck::store::Db, sub: UserSub, days: i32) {
    sqlx::query(
        "UPDATE directory_user SET created_at = now() - make_interval(days => $2) WHERE sub = $1",
    )
    .bind(sub)
    .bind(days)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn expired_invitations_on_cognito_are_resent_as_previewed_and_a_changed_premise_is_refused() {
    let t = pg::fresh_db().await;
    let svc = cognito_services(&t, 3).await;
    let late = registered(&svc, "late@example.org", &[RoleRef::Viewer]).await;
    let fresh = registered(&svc, "fresh@example.org", &[RoleRef::Viewer]).await;
    let signed = registered(&svc, "signed@example.org", &[RoleRef::Viewer]).await;
    backdate_invitation(&t.pool, late, 4).await;
    backdate_invitation(&t.pool, fresh, 2).await;
    backdate_invitation(&t.pool, signed, 5).await;

    let report = svc.drift_report(&cli(), 100).await.unwrap();
    assert_eq!(report.temporary_password_days, 3, "read from the pool");
    let mut listed: Vec<UserSub> = report.expired_invitations.iter().map(|i| i.sub).collect();
    listed.sort();
    let mut want = vec![late, signed];
    want.sort();
    assert_eq!(listed, want, "2 days old is still valid");

    let target = |sub: UserSub| DriftTarget {
        class: DriftClass::ExpiredInvitations,
        id: sub.0,
    };
    let preview = svc
        .drift_repair_preview(&cli(), target(late))
        .await
        .unwrap();
    assert!(preview.database.is_empty(), "{preview:?}");
    assert_eq!(
        preview.directory,
        vec![
            "send the invitation to late@example.org again (a new temporary password, valid 3 \
             days)"
                .to_string()
        ]
    );
    assert_eq!(
        preview.audit,
        vec![format!(
            "users_audit \"Resent invitation\" for late@example.org ({late})"
        )]
    );
    let roles_before = scalar(
        &t.pool,
        "SELECT count(*) FROM user_role WHERE user_id = $1",
        late.0,
    )
    .await;
    svc.apply_drift_repair(&cli(), &preview).await.unwrap();
    assert_eq!(users_audit(&t.pool, late, "Resent invitation").await, 1);
    // Exactly as previewed: PostgreSQL changed only by the audit row, the identity still waits.
    assert_eq!(
        scalar(
            &t.pool,
            "SELECT count(*) FROM user_role WHERE user_id = $1",
            late.0
        )
        .await,
        roles_before
    );
    // (By username: moto's RESEND re-creates the user under a new sub; Cognito keeps it.)
    let i = svc
        .directory
        .get_user(&hubdeck::directory::UserKey::Username(
            "late@example.org".into(),
        ))
        .await
        .unwrap();
    assert_eq!(
        i.status,
        hubdeck::directory::IdentityStatus::ForceChangePassword
    );

    // The other one signs in (sets a permanent password) after its preview: refused.
    let preview = svc
        .drift_repair_preview(&cli(), target(signed))
        .await
        .unwrap();
    svc.directory
        .set_password(
            "signed@example.org",
            &hubdeck::domain::Secret::new("Perm4nent!Pass"),
            true,
        )
        .await
        .unwrap();
    let err = svc.apply_drift_repair(&cli(), &preview).await.unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    assert_eq!(users_audit(&t.pool, signed, "Resent invitation").await, 0);

    // The resent invitation is no longer drift.
    let after = svc.drift_report(&cli(), 100).await.unwrap();
    assert!(
        after.expired_invitations.iter().all(|i| i.sub != late),
        "{after:?}"
    );
}
