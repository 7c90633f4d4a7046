//! On-call's registration detail (issue 14): a registration left behind by a crash after the
//! identity was created, shown with id, email, sub, state, meaning, next step, age and who
//! started it, retried, shown again; a `needs_cleanup` row shows both causes. CLI twin
//! `users repair --show ID` in JSON and as a table with its remedies.

use hubdeck::domain::{RegistrationId, RegistrationState};
use hubdeck::service::registration_detail::RegistrationRepair;

use crate::mandates::cached_user;
use crate::registration::{cli, local_services};
use crate::support::pg;

fn hubdeck(url: &str, args: &[&str], failpoint: Option<&str>) -> std::process::Output {
    let mut c = crate::support::cli::infra();
    c.arg("--database-url")
        .arg(url)
        .args(args)
        .env("HUBDECK_DIRECTORY__KIND", "local")
        .env("HOME", std::env::temp_dir())
        .env("USER", "night-shift")
        .env_remove("HUBDECK_FAILPOINT");
    if let Some(fp) = failpoint {
        c.env("HUBDECK_FAILPOINT", fp);
    }
    c.output().expect("run hubdeck")
}

#[tokio::test]
async fn a_crashed_registration_is_explained_retried_and_shown_complete() {
    let t = pg::fresh_db().await;
    let svc = local_services(&t).await;
    let out = hubdeck(
        &t.url,
        &[
            "users",
            "register",
            "--email",
            "kay@example.org",
            "--name",
            "Kay",
            "--organisation",
            "Org",
            "--role",
            "researcher",
            "--suppress-invite",
        ],
        Some("before_roles_written"),
    );
    assert!(!out.status.success(), "the failpoint kills it");
    let id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM registration WHERE email = 'kay@example.org'")
            .fetch_one(&t.pool)
            .await
            .unwrap();
    let id = RegistrationId(id);

    let d = svc.registration_detail(&cli(), id).await.unwrap();
    assert_eq!(d.id, id);
    assert_eq!(d.email, "kay@example.org");
    assert_eq!(d.state, RegistrationState::IdentityCreated);
    let sub = d.sub.expect("the identity was created and recorded");
    assert!(svc.directory.find_by_sub(sub).await.is_ok());
    assert!(d.meaning.contains("roles are not written"), "{}", d.meaning);
    assert!(
        !d.next_step.contains("--"),
        "console language: {}",
        d.next_step
    );
    // The real OS account, not $USER.
    assert_eq!(
        d.started_by,
        format!("cli ({})", crate::support::cli::real_account())
    );
    assert_eq!(d.requested_roles, ["Researcher"]);
    assert!(d.age_seconds >= 0 && d.age.ends_with(" s"), "{}", d.age);
    assert_eq!(
        d.repairs,
        [
            RegistrationRepair::Retry,
            RegistrationRepair::RollBack,
            RegistrationRepair::Resolve
        ]
    );

    // The CLI twin, JSON and table (with its own remedies).
    let out = hubdeck(
        &t.url,
        &[
            "--output",
            "json",
            "users",
            "repair",
            "--show",
            &id.to_string(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "identity_created");
    assert_eq!(v["sub"], sub.to_string());
    assert_eq!(v["repairs"][0], "retry");
    let out = hubdeck(
        &t.url,
        &["users", "repair", "--show", &id.to_string()],
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("hubdeck users repair --retry {id}")),
        "{text}"
    );
    assert!(
        text.contains("identity_created — The identity exists"),
        "{text}"
    );

    // The killed process's lease is still live: the detail names its holder and since when.
    let d = svc.registration_detail(&cli(), id).await.unwrap();
    let by = d
        .being_repaired_by
        .expect("the dead holder's lease is live");
    assert!(
        by.starts_with(&format!(
            "cli:{} since ",
            crate::support::cli::real_account()
        )) && by.ends_with(" UTC"),
        "{by}"
    );
    crate::registration::lease_of_a_dead_holder_expires(&t.pool, id).await;
    let d = svc.registration_detail(&cli(), id).await.unwrap();
    assert_eq!(d.being_repaired_by, None, "an expired lease holds nothing");
    svc.retry_registration(&cli(), id).await.unwrap();
    let d = svc.registration_detail(&cli(), id).await.unwrap();
    assert_eq!(d.state, RegistrationState::Complete);
    assert!(d.repairs.is_empty());
    // Unknown id: exit 4.
    let out = hubdeck(
        &t.url,
        &[
            "users",
            "repair",
            "--show",
            &uuid::Uuid::new_v4().to_string(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(4));
}

#[tokio::test]
async fn needs_cleanup_shows_both_causes_and_the_operator_who_started_it() {
    let t = pg::fresh_db().await;
    let svc = local_services(&t).await;
    let op = cached_user(&t.pool, "oncall@example.org", "On Call").await;
    let id: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO registration (email, name, organisation, state, sub, identity_created, \
         last_error, rollback_error, actor_user_id, via, created_at) \
         VALUES ('lee@example.org', 'Lee', 'Org', 'needs_cleanup', gen_random_uuid(), true, \
         'assigning roles failed: constraint x', 'deleting the identity failed: 503', $1, \
         'tui', now() - interval '3 hours 12 minutes') RETURNING id",
    )
    .bind(op)
    .fetch_one(&t.pool)
    .await
    .unwrap();
    let d = svc
        .registration_detail(&cli(), RegistrationId(id))
        .await
        .unwrap();
    assert_eq!(d.state, RegistrationState::NeedsCleanup);
    assert_eq!(
        d.cause.as_deref(),
        Some("assigning roles failed: constraint x")
    );
    assert_eq!(
        d.rollback_cause.as_deref(),
        Some("deleting the identity failed: 503")
    );
    assert_eq!(d.started_by, "oncall@example.org");
    assert_eq!(d.age, "3 h 12 min");
    assert_eq!(
        d.repairs,
        [RegistrationRepair::RollBack, RegistrationRepair::Resolve]
    );
    // Without CAN_MANAGE_USERS: denied.
    let nobody = crate::mandates::operator(hubdeck::domain::UserSub::new_v4());
    let err = svc
        .registration_detail(&nobody, RegistrationId(id))
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 4);
}
