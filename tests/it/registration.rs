//! The registration saga (SPEC §5.1) on LocalDirectory: happy path, validation, pre-existing
//! identities, repair (retry / rollback / resolve / reconcile), crash safety through the real
//! binary. The CognitoDirectory fault matrix is in `registration_faults` (below).

use std::collections::BTreeSet;
use std::sync::Arc;

use hubdeck::directory::{Directory, Invite, NewIdentity, UserKey};
use hubdeck::domain::{Email, PermissionRef, RegistrationId, RoleRef, UserSub};
use hubdeck::service::registration::RegisterRequest;
use hubdeck::service::{Actor, Operator, ServiceError, Services};
use hubdeck::store::registrations::{self, Change, NewRegistration, RegistrationState};

use crate::support::pg::{TestDb, fresh_db};

/// Services on LocalDirectory, built through `directory::connect` (directory.kind = local).
pub async fn local_services(t: &TestDb) -> Services {
    let settings = t.settings();
    let dir: Arc<dyn Directory> = hubdeck::directory::connect(&settings, &t.pool)
        .await
        .expect("LocalDirectory (directory.kind = local)");
    Services::new(t.pool.clone(), dir, Arc::new(settings))
}

pub fn cli() -> Actor {
    Actor::Cli {
        os_user: "oncall".into(),
    }
}

/// An operator holding exactly `perms`.
pub fn operator(perms: &[PermissionRef]) -> Actor {
    Actor::Operator(Operator {
        sub: UserSub::new_v4(),
        email: "op@example.org".into(),
        permissions: perms.iter().copied().collect::<BTreeSet<_>>(),
    })
}

/// A holder killed mid-operation never renews its lease again: after at most
/// `LEASE_TTL` it has expired. The test lets that time pass by moving the expiry (it checks the
/// lease is there, unexpired, first).
pub async fn lease_of_a_dead_holder_expires(pool: &hubdeck::store::Db, id: RegistrationId) {
    let live: bool = sqlx::query_scalar(
        "UPDATE registration_lease SET expires_at = clock_timestamp() \
         WHERE registration_id = $1 RETURNING expires_at > since",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("the dead holder's lease is there");
    assert!(live);
}

pub fn req(email: &str, roles: &[RoleRef]) -> RegisterRequest {
    RegisterRequest {
        email: email.into(),
        name: "Ada Lovelace".into(),
        organisation: "St Elsewhere NHS Trust".into(),
        roles: roles.to_vec(),
        suppress_invite: true,
    }
}

pub async fn count(db: &hubdeck::store::Db, sql: &str, sub: Option<UserSub>) -> i64 {
    let q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()));
    match sub {
        Some(s) => q.bind(s).fetch_one(db).await.unwrap(),
        None => q.fetch_one(db).await.unwrap(),
    }
}

/// Rows this user has in every table the saga writes.
#[derive(Debug, PartialEq, Eq)]
pub struct Rows {
    pub grants: i64,
    pub profiles: i64,
    pub audits: i64,
}

pub async fn rows_of(db: &hubdeck::store::Db, sub: UserSub) -> Rows {
    Rows {
        grants: count(
            db,
            "SELECT count(*) FROM user_role WHERE user_id = $1",
            Some(sub),
        )
        .await,
        profiles: count(
            db,
            "SELECT count(*) FROM user_profile WHERE user_id = $1",
            Some(sub),
        )
        .await,
        audits: count(
            db,
            "SELECT count(*) FROM users_audit WHERE user_id = $1",
            Some(sub),
        )
        .await,
    }
}

pub async fn journal_states(db: &hubdeck::store::Db) -> Vec<String> {
    sqlx::query_scalar("SELECT state FROM registration ORDER BY created_at, id")
        .fetch_all(db)
        .await
        .unwrap()
}

async fn create_identity(svc: &Services, email: &str) -> hubdeck::directory::Identity {
    svc.directory
        .create_user(&NewIdentity {
            email: Email::parse(email).unwrap(),
            email_verified: true,
            invite: Invite::Suppress,
            temporary_password: None,
        })
        .await
        .unwrap()
}

/// An identity created for registration `id` (carrying its marker), as the saga creates it.
pub async fn create_marked(
    svc: &Services,
    email: &str,
    id: RegistrationId,
) -> hubdeck::directory::Identity {
    svc.directory
        .create_registered_user(
            &NewIdentity {
                email: Email::parse(email).unwrap(),
                email_verified: true,
                invite: Invite::Suppress,
                temporary_password: None,
            },
            &id.to_string(),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn register_writes_identity_grants_profile_audit_and_journal() {
    let t = fresh_db().await;
    let svc = local_services(&t).await;
    let out = svc
        .register_user(
            &cli(),
            &req("ada@example.org", &[RoleRef::Researcher, RoleRef::Viewer]),
        )
        .await
        .unwrap();
    assert_eq!(out.state, RegistrationState::Complete, "{}", out.message);
    let sub = out.sub.unwrap();
    let id = svc
        .directory
        .get_user(&UserKey::Username("ada@example.org".into()))
        .await
        .unwrap();
    assert_eq!(id.sub, sub);
    assert_eq!(
        rows_of(&t.pool, sub).await,
        Rows {
            grants: 2,
            profiles: 1,
            audits: 1
        }
    );
    let (actor, via, os_user): (Option<uuid::Uuid>, String, Option<String>) = sqlx::query_as(
        "SELECT modified_by_user_id, via, os_user FROM users_audit WHERE user_id = $1",
    )
    .bind(sub)
    .fetch_one(&t.pool)
    .await
    .unwrap();
    assert_eq!(
        (actor, via.as_str(), os_user.as_deref()),
        (None, "cli", Some("oncall"))
    );
    assert_eq!(journal_states(&t.pool).await, vec!["complete"]);
    // The cache knows the new user right away (listing).
    let page = svc
        .list_users(
            &cli(),
            &hubdeck::domain::PageQuery::new(1, 10).search("ada@"),
        )
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0].roles, vec!["Researcher", "Viewer"]);
    assert_eq!(page.items[0].name.as_deref(), Some("Ada Lovelace"));
}

#[tokio::test]
async fn invalid_input_creates_nothing() {
    let t = fresh_db().await;
    let svc = local_services(&t).await;
    let long = "x".repeat(256);
    let cases = [
        RegisterRequest {
            email: "not-an-email".into(),
            ..req("a@example.org", &[])
        },
        RegisterRequest {
            name: "  ".into(),
            ..req("a@example.org", &[])
        },
        RegisterRequest {
            organisation: long,
            ..req("a@example.org", &[])
        },
        RegisterRequest {
            name: "Evil\u{1b}[2J".into(),
            ..req("a@example.org", &[])
        },
        RegisterRequest {
            email: "a\"b@example.org".into(),
            ..req("a@example.org", &[])
        },
    ];
    for c in &cases {
        let err = svc.register_user(&cli(), c).await.unwrap_err();
        assert!(matches!(err, ServiceError::Invalid(_)), "{err:?}");
        assert_eq!(err.exit_code(), 2);
    }
    assert_eq!(
        count(&t.pool, "SELECT count(*) FROM local_identity", None).await,
        0
    );
    assert_eq!(
        count(&t.pool, "SELECT count(*) FROM registration", None).await,
        0
    );
    assert_eq!(
        count(&t.pool, "SELECT count(*) FROM users_audit", None).await,
        0
    );
}

#[tokio::test]
async fn pre_existing_identity_is_never_deleted_and_nothing_changes() {
    let t = fresh_db().await;
    let svc = local_services(&t).await;
    let existing = create_identity(&svc, "bob@example.org").await;
    let err = svc
        .register_user(&cli(), &req("bob@example.org", &[RoleRef::Admin]))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("already exists"), "{err}");
    let still = svc
        .directory
        .get_user(&UserKey::Username("bob@example.org".into()))
        .await
        .unwrap();
    assert_eq!(still.sub, existing.sub);
    assert_eq!(
        rows_of(&t.pool, existing.sub).await,
        Rows {
            grants: 0,
            profiles: 0,
            audits: 0
        }
    );
    assert_eq!(journal_states(&t.pool).await, vec!["rolled_back"]);
}

/// Simulates a crash after the identity was created: journal `identity_created`, identity in
/// the directory, no roles.
pub async fn stuck_after_create(
    svc: &Services,
    email: &str,
    roles: &[RoleRef],
) -> (RegistrationId, UserSub) {
    let ids: Vec<uuid::Uuid> = roles.iter().map(|r| r.id()).collect();
    let mut conn = svc.db.acquire().await.unwrap();
    let j = registrations::insert_pending(
        &mut conn,
        &NewRegistration {
            email,
            name: "Grace Hopper",
            organisation: "Navy",
            requested_roles: &ids,
            suppress_invite: true,
            who: hubdeck::store::audit::AuditActor {
                sub: None,
                via: "cli",
                os_user: Some("oncall"),
            },
        },
    )
    .await
    .unwrap();
    let i = create_marked(svc, email, j.id).await;
    registrations::transition(
        &mut conn,
        j.id,
        RegistrationState::Pending,
        RegistrationState::IdentityCreated,
        &Change {
            sub: Some(i.sub),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    (j.id, i.sub)
}

#[tokio::test]
async fn retry_is_idempotent_even_when_run_twice_concurrently() {
    let t = fresh_db().await;
    let svc = local_services(&t).await;
    let (id, sub) = stuck_after_create(&svc, "grace@example.org", &[RoleRef::Admin]).await;
    let stuck = svc.stuck_registrations(&cli()).await.unwrap();
    assert_eq!(stuck.len(), 1);
    assert_eq!(stuck[0].state(), RegistrationState::IdentityCreated);

    let actor = cli();
    let (a, b) = tokio::join!(
        svc.retry_registration(&actor, id),
        svc.retry_registration(&actor, id)
    );
    // One holds the registration's lock; the other either ran after it (already complete) or
    // was told the registration is being repaired by another operator.
    let mut completed = 0;
    for r in [a, b] {
        match r {
            Ok(o) => {
                assert_eq!(o.state, RegistrationState::Complete);
                completed += 1;
            }
            Err(e) => {
                assert_eq!(e.exit_code(), 3, "{e}");
                assert!(e.to_string().contains("being repaired"), "{e}");
            }
        }
    }
    assert!(completed >= 1);
    let again = svc.retry_registration(&cli(), id).await.unwrap();
    assert_eq!(again.state, RegistrationState::Complete);
    assert_eq!(
        rows_of(&t.pool, sub).await,
        Rows {
            grants: 1,
            profiles: 1,
            audits: 1
        }
    );
    assert!(svc.stuck_registrations(&cli()).await.unwrap().is_empty());
}

#[tokio::test]
async fn rollback_deletes_only_the_identity_the_saga_created() {
    let t = fresh_db().await;
    let svc = local_services(&t).await;
    let (id, sub) = stuck_after_create(&svc, "carl@example.org", &[RoleRef::Viewer]).await;
    let r = svc.rollback_registration(&cli(), id).await.unwrap();
    assert_eq!(r.state(), RegistrationState::RolledBack);
    let gone = svc
        .directory
        .get_user(&UserKey::Username("carl@example.org".into()))
        .await;
    assert!(
        matches!(gone, Err(hubdeck::directory::DirectoryError::NotFound(_))),
        "{gone:?}"
    );
    let rows = rows_of(&t.pool, sub).await;
    assert_eq!((rows.grants, rows.profiles, rows.audits), (0, 0, 1));

    // A journal whose email now belongs to ANOTHER identity: the other identity survives.
    let (id2, sub2) = stuck_after_create(&svc, "dora@example.org", &[]).await;
    svc.directory.delete_user("dora@example.org").await.unwrap();
    let other = create_identity(&svc, "dora@example.org").await;
    assert_ne!(other.sub, sub2);
    let r = svc.rollback_registration(&cli(), id2).await.unwrap();
    assert_eq!(r.state(), RegistrationState::RolledBack);
    let still = svc
        .directory
        .get_user(&UserKey::Username("dora@example.org".into()))
        .await
        .unwrap();
    assert_eq!(still.sub, other.sub);

    // Rolled back is final: no retry, no second rollback.
    let err = svc.retry_registration(&cli(), id).await.unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    let err = svc.rollback_registration(&cli(), id).await.unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
}

#[tokio::test]
async fn resolve_records_the_note_and_leaves_the_stuck_list() {
    let t = fresh_db().await;
    let svc = local_services(&t).await;
    let (id, sub) = stuck_after_create(&svc, "eve@example.org", &[]).await;
    let err = svc
        .resolve_registration(&cli(), id, "   ")
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Invalid(_)));
    let r = svc
        .resolve_registration(&cli(), id, "fixed by hand in the console")
        .await
        .unwrap();
    assert_eq!(r.state(), RegistrationState::Resolved);
    assert!(r.note.unwrap().contains("fixed by hand"));
    assert_eq!(rows_of(&t.pool, sub).await.audits, 1);
    assert!(svc.stuck_registrations(&cli()).await.unwrap().is_empty());
}

/// Reconcile adopts only on proof (the marker = registration id): an identity with the email
/// but without the marker — however its timestamps look — is neither adopted nor deleted; the
/// row ends `conflict` with the evidence. No identity → rolled_back.
#[tokio::test]
async fn pending_rows_are_reconciled_by_proof_only() {
    let t = fresh_db().await;
    let svc = local_services(&t).await;
    let mk = |email: &'static str| NewRegistration {
        email,
        name: "N",
        organisation: "O",
        requested_roles: &[],
        suppress_invite: true,
        who: hubdeck::store::audit::AuditActor {
            sub: None,
            via: "cli",
            os_user: None,
        },
    };
    let mut conn = t.pool.acquire().await.unwrap();
    let ours = registrations::insert_pending(&mut conn, &mk("found@example.org"))
        .await
        .unwrap();
    let created = create_marked(&svc, "found@example.org", ours.id).await;
    let without = registrations::insert_pending(&mut conn, &mk("never@example.org"))
        .await
        .unwrap();
    // Created AFTER the registration row, but without its marker: a stranger.
    let stranger_row = registrations::insert_pending(&mut conn, &mk("later@example.org"))
        .await
        .unwrap();
    let stranger = create_identity(&svc, "later@example.org").await;
    // Fresh rows are left alone (the saga may still be running).
    assert!(svc.reconcile_pending(&cli(), 60).await.unwrap().is_empty());
    sqlx::query("UPDATE registration SET created_at = now() - interval '2 minutes'")
        .execute(&t.pool)
        .await
        .unwrap();
    let out = svc.reconcile_pending(&cli(), 60).await.unwrap();
    assert_eq!(out.len(), 3, "{out:?}");
    let c = svc.registration(&cli(), stranger_row.id).await.unwrap();
    assert_eq!(c.state(), RegistrationState::Conflict);
    assert_eq!(c.sub, None, "a stranger's sub is never recorded as ours");
    let ev = c.evidence.expect("evidence recorded");
    assert_eq!(ev["found_sub"], stranger.sub.to_string());
    assert_eq!(
        svc.directory
            .get_user(&UserKey::Username("later@example.org".into()))
            .await
            .unwrap()
            .sub,
        stranger.sub
    );
    assert_eq!(rows_of(&t.pool, stranger.sub).await.grants, 0);
    // Neither retry nor rollback acts on a conflict.
    let err = svc.retry_registration(&cli(), c.id).await.unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    let err = svc.rollback_registration(&cli(), c.id).await.unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    assert!(
        svc.directory
            .get_user(&UserKey::Username("later@example.org".into()))
            .await
            .is_ok()
    );
    let a = svc.registration(&cli(), ours.id).await.unwrap();
    assert_eq!(a.state(), RegistrationState::RolesPending);
    assert_eq!(a.sub, Some(created.sub));
    let b = svc.registration(&cli(), without.id).await.unwrap();
    assert_eq!(b.state(), RegistrationState::RolledBack);
    // The reconciled one can be completed; the conflict can be resolved by an operator.
    let done = svc.retry_registration(&cli(), a.id).await.unwrap();
    assert_eq!(done.state, RegistrationState::Complete);
    let r = svc
        .resolve_registration(&cli(), c.id, "later@ is a colleague's own account")
        .await
        .unwrap();
    assert_eq!(r.state(), RegistrationState::Resolved);
}

/// Crash safety with the real binary: killed (failpoint abort) after the identity is created
/// and before roles are written → the journal shows it → repair completes it → nothing orphaned.
#[tokio::test]
async fn crash_after_identity_created_is_visible_and_repairable() {
    for failpoint in ["after_identity_created", "before_roles_written"] {
        let t = fresh_db().await;
        let email = format!("{failpoint}@example.org");
        let run = |args: &[&str], fp: Option<&str>| {
            let mut c = crate::support::cli::infra();
            c.arg("--database-url")
                .arg(&t.url)
                .args(args)
                .env("HUBDECK_DIRECTORY__KIND", "local")
                .env("HOME", std::env::temp_dir())
                .env_remove("HUBDECK_FAILPOINT");
            if let Some(fp) = fp {
                c.env("HUBDECK_FAILPOINT", fp);
            }
            c.output().expect("run hubdeck")
        };
        let out = run(
            &[
                "users",
                "register",
                "--email",
                &email,
                "--name",
                "Kay",
                "--organisation",
                "Org",
                "--role",
                "researcher",
                "--suppress-invite",
            ],
            Some(failpoint),
        );
        assert!(
            !out.status.success() && out.status.code().is_none(),
            "{failpoint}: the process must die by signal: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let identity: UserSub =
            sqlx::query_scalar("SELECT sub FROM local_identity WHERE email = $1")
                .bind(&email)
                .fetch_one(&t.pool)
                .await
                .unwrap();
        assert_eq!(rows_of(&t.pool, identity).await.grants, 0);

        // The journal shows it.
        let out = run(&["--output", "json", "users", "repair"], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stuck: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let stuck = stuck.as_array().unwrap();
        assert_eq!(stuck.len(), 1, "{stuck:?}");
        let expected_state = if failpoint == "after_identity_created" {
            "pending"
        } else {
            "identity_created"
        };
        assert_eq!(stuck[0]["state"], expected_state);
        let id = stuck[0]["id"].as_str().unwrap().to_string();

        // The killed process still holds the registration's lease: a repair is told who and
        // since when, until the lease (no longer renewed) expires.
        let out = run(&["users", "repair", "--retry", &id], None);
        assert_eq!(out.status.code(), Some(3));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("is being repaired by cli:"), "{err}");
        lease_of_a_dead_holder_expires(&t.pool, id.parse().unwrap()).await;

        // Repair completes it (twice: idempotent).
        for _ in 0..2 {
            let out = run(&["users", "repair", "--retry", &id], None);
            assert!(
                out.status.success(),
                "{failpoint}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(
            rows_of(&t.pool, identity).await,
            Rows {
                grants: 1,
                profiles: 1,
                audits: 1
            }
        );
        assert_eq!(journal_states(&t.pool).await, vec!["complete"]);
        // Nothing orphaned: one identity, and every grant belongs to it.
        assert_eq!(
            count(&t.pool, "SELECT count(*) FROM local_identity", None).await,
            1
        );
        assert_eq!(
            count(
                &t.pool,
                "SELECT count(*) FROM user_role WHERE user_id NOT IN (SELECT sub FROM local_identity)",
                None
            )
            .await,
            0
        );
        let out = run(&["--output", "json", "users", "repair"], None);
        let stuck: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(stuck.as_array().unwrap().is_empty());
    }
}

/// The CLI end to end on LocalDirectory: JSON output, sanitized tables, exit codes.
#[tokio::test]
async fn cli_users_commands_and_exit_codes() {
    let t = fresh_db().await;
    let run = |args: &[&str]| {
        crate::support::cli::infra()
            .arg("--database-url")
            .arg(&t.url)
            .args(args)
            .env("HUBDECK_DIRECTORY__KIND", "local")
            .env("HOME", std::env::temp_dir())
            .env_remove("HUBDECK_FAILPOINT")
            .output()
            .expect("run hubdeck")
    };
    let register = |email: &str, name: &str| {
        run(&[
            "--output",
            "json",
            "users",
            "register",
            "--email",
            email,
            "--name",
            name,
            "--organisation",
            "Org",
            "--role",
            "viewer",
            "--suppress-invite",
        ])
    };
    let out = register("cli@example.org", "Evil\u{202e}Name");
    assert_eq!(out.status.code(), Some(2), "bidi override refused");
    let out = register("cli@example.org", "Clara");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "complete");
    let sub = v["sub"].as_str().unwrap().to_string();
    let out = register("cli@example.org", "Clara");
    assert_eq!(out.status.code(), Some(3), "already exists");
    let out = register("bad-email", "Clara");
    assert_eq!(out.status.code(), Some(2));

    let out = run(&[
        "users",
        "set-roles",
        "--user",
        "cli@example.org",
        "--role",
        "admin",
        "--role",
        "researcher",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "users",
        "set-roles",
        "--user",
        "nobody@example.org",
        "--role",
        "admin",
    ]);
    assert_eq!(out.status.code(), Some(4));
    let out = run(&[
        "users",
        "set-roles",
        "--user",
        "cli@example.org",
        "--role",
        "root",
    ]);
    assert_eq!(out.status.code(), Some(2));

    let out = run(&[
        "--output", "json", "users", "list", "--role", "admin", "--search", "cli@",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["total"], 1);
    assert_eq!(
        page["items"][0]["roles"],
        serde_json::json!(["Admin", "Researcher"])
    );
    let out = run(&["users", "list"]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("cli@example.org"), "{table}");

    // The only holder of the global ADMIN role cannot be disabled (issue 17) ...
    let out = run(&["users", "disable", "--user", &sub]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("last active holder of the global ADMIN"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ... until another user holds it.
    sqlx::query("INSERT INTO user_role (user_id, role_id) VALUES ($1, $2)")
        .bind(UserSub::new_v4())
        .bind(RoleRef::Admin.id())
        .execute(&t.pool)
        .await
        .unwrap();
    let out = run(&["users", "disable", "--user", &sub]);
    assert_eq!(out.status.code(), Some(0));
    let out = run(&["--output", "json", "users", "list", "--enabled", "false"]);
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["total"], 1);
    let out = run(&["users", "show", "--user", &sub]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Disabled user"));
    let out = run(&["users", "delete", "--user", &sub]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["users", "delete", "--user", &sub]);
    assert_eq!(out.status.code(), Some(0), "delete is idempotent");
    let out = run(&[
        "--read-only",
        "users",
        "register",
        "--email",
        "r@example.org",
        "--name",
        "R",
        "--organisation",
        "O",
    ]);
    assert_eq!(out.status.code(), Some(4), "read-only refusal");
    let out = run(&["seed-users"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("granted 0"));
}

/// The store refuses every transition not in the table (typed `Forbidden`, row unchanged),
/// performs every allowed one, and an allowed one from a stale state is refused (`Stale`).
#[tokio::test]
async fn store_refuses_every_forbidden_transition() {
    use hubdeck::domain::registration::TRANSITIONS;
    use hubdeck::store::registrations::TransitionError;
    let t = fresh_db().await;
    let mut conn = t.pool.acquire().await.unwrap();
    let mut n = 0;
    for from in RegistrationState::ALL {
        for to in RegistrationState::ALL {
            n += 1;
            let email = format!("t{n}@example.org");
            let j = registrations::insert_pending(
                &mut conn,
                &NewRegistration {
                    email: &email,
                    name: "N",
                    organisation: "O",
                    requested_roles: &[],
                    suppress_invite: true,
                    who: hubdeck::store::audit::AuditActor {
                        sub: None,
                        via: "cli",
                        os_user: None,
                    },
                },
            )
            .await
            .unwrap();
            sqlx::query("UPDATE registration SET state = $2 WHERE id = $1")
                .bind(j.id)
                .bind(from.as_str())
                .execute(&t.pool)
                .await
                .unwrap();
            let r = registrations::transition(&mut conn, j.id, from, to, &Change::default()).await;
            let now = registrations::get(&t.pool, j.id).await.unwrap().unwrap();
            if TRANSITIONS.contains(&(from, to)) {
                assert!(r.is_ok(), "{from} → {to}: {r:?}");
                assert_eq!(now.state(), to);
                // The same edge again: the row is no longer in `from` → Stale, unchanged.
                let again =
                    registrations::transition(&mut conn, j.id, from, to, &Change::default()).await;
                assert!(
                    matches!(again, Err(TransitionError::Stale { actual: Some(a), .. }) if a == to),
                    "{from} → {to} twice: {again:?}"
                );
            } else {
                assert!(
                    matches!(r, Err(TransitionError::Forbidden { .. })),
                    "{from} → {to} must be refused: {r:?}"
                );
                assert_eq!(now.state(), from, "{from} → {to}: the row did not move");
            }
        }
    }
    // A recorded sub is never replaced by another.
    let j = registrations::insert_pending(
        &mut conn,
        &NewRegistration {
            email: "sub@example.org",
            name: "N",
            organisation: "O",
            requested_roles: &[],
            suppress_invite: true,
            who: hubdeck::store::audit::AuditActor {
                sub: None,
                via: "cli",
                os_user: None,
            },
        },
    )
    .await
    .unwrap();
    let (a, b) = (UserSub::new_v4(), UserSub::new_v4());
    registrations::transition(
        &mut conn,
        j.id,
        RegistrationState::Pending,
        RegistrationState::IdentityCreated,
        &Change {
            sub: Some(a),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let r = registrations::transition(
        &mut conn,
        j.id,
        RegistrationState::IdentityCreated,
        RegistrationState::Complete,
        &Change {
            sub: Some(b),
            ..Default::default()
        },
    )
    .await;
    assert!(matches!(r, Err(TransitionError::Stale { .. })), "{r:?}");
    let now = registrations::get(&t.pool, j.id).await.unwrap().unwrap();
    assert_eq!(
        (now.state(), now.sub),
        (RegistrationState::IdentityCreated, Some(a))
    );
}

/// One open registration per email, enforced by the database: a second registration while one
/// is open is refused before any directory call, naming the open one and the repair command.
#[tokio::test]
async fn second_registration_while_one_is_open_is_refused_before_the_directory() {
    let t = fresh_db().await;
    let svc = local_services(&t).await;
    let (id, _sub) = stuck_after_create(&svc, "open@example.org", &[RoleRef::Viewer]).await;
    let identities = count(&t.pool, "SELECT count(*) FROM local_identity", None).await;
    let err = svc
        .register_user(&cli(), &req("Open@example.org", &[RoleRef::Viewer]))
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&id.to_string()), "{msg}");
    assert!(msg.contains("identity_created"), "{msg}");
    assert!(msg.contains(" s ago"), "age shown: {msg}");
    assert!(msg.contains("hubdeck users repair --retry"), "{msg}");
    assert!(msg.contains("nothing was sent to the directory"), "{msg}");
    assert_eq!(
        count(&t.pool, "SELECT count(*) FROM local_identity", None).await,
        identities
    );
    assert_eq!(
        count(&t.pool, "SELECT count(*) FROM registration", None).await,
        1,
        "no second journal row"
    );
    // Once it is closed, the email can be registered again (here: rolled back first).
    svc.rollback_registration(&cli(), id).await.unwrap();
    let out = svc
        .register_user(&cli(), &req("open@example.org", &[RoleRef::Viewer]))
        .await
        .unwrap();
    assert_eq!(out.state, RegistrationState::Complete);
    // The database itself refuses a second open row (not only the service).
    let mut conn = t.pool.acquire().await.unwrap();
    let mk = NewRegistration {
        email: "race@example.org",
        name: "N",
        organisation: "O",
        requested_roles: &[],
        suppress_invite: true,
        who: hubdeck::store::audit::AuditActor {
            sub: None,
            via: "cli",
            os_user: None,
        },
    };
    registrations::insert_pending(&mut conn, &mk).await.unwrap();
    let e = registrations::insert_pending(&mut conn, &mk)
        .await
        .unwrap_err();
    assert_eq!(
        e.unique_constraint(),
        Some(registrations::ONE_OPEN_PER_EMAIL),
        "{e}"
    );
}

/// One operation per registration: the lease is exclusive (the refusal names its holder),
/// released by `release` (only the holder's own), released in the background when its holder
/// drops it, and taken over once expired.
#[tokio::test]
async fn registration_lease_is_exclusive_released_and_taken_over_when_expired() {
    use std::time::Duration;
    let t = fresh_db().await;
    let id = RegistrationId::new_v4();
    let ttl = Duration::from_secs(300);
    let held = registrations::try_lease(&t.pool, id, "alice@example.org", ttl)
        .await
        .unwrap()
        .unwrap_or_else(|h| panic!("free, yet held by {h:?}"));
    let refused = registrations::try_lease(&t.pool, id, "bob@example.org", ttl)
        .await
        .unwrap()
        .err()
        .expect("held by alice");
    assert_eq!(refused.holder, "alice@example.org");
    assert!(refused.expires_at > refused.since);
    // Another registration's lease is independent.
    let other = registrations::try_lease(&t.pool, RegistrationId::new_v4(), "bob", ttl)
        .await
        .unwrap()
        .unwrap_or_else(|h| panic!("{h:?}"));
    other.release().await;
    held.release().await;
    let again = registrations::try_lease(&t.pool, id, "bob@example.org", ttl)
        .await
        .unwrap()
        .unwrap_or_else(|h| panic!("released, yet held by {h:?}"));
    drop(again);
    let mut freed = false;
    for _ in 0..100 {
        if let Ok(l) = registrations::try_lease(&t.pool, id, "carol", ttl)
            .await
            .unwrap()
        {
            l.release().await;
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        freed,
        "a dropped lease is released by its holder in the background"
    );
    // A lease nobody released (the holder's process was killed) is taken over once expired;
    // the old holder's late release does not free the new holder's lease.
    let stale = registrations::try_lease(&t.pool, id, "dave", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap_or_else(|h| panic!("{h:?}"));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let taken = registrations::try_lease(&t.pool, id, "erin", ttl)
        .await
        .unwrap()
        .unwrap_or_else(|h| panic!("expired, yet held by {h:?}"));
    stale.release().await;
    let holder = registrations::try_lease(&t.pool, id, "frank", ttl)
        .await
        .unwrap()
        .err()
        .expect("erin still holds it");
    assert_eq!(holder.holder, "erin");
    taken.release().await;
}

/// Reading the stuck-registrations list never writes: an old `pending` row stays `pending`
/// however often the list is read, and only the explicit `reconcile_pending` moves it. The list
/// is paged, filtered and sorted in SQL (its total counts every matching row).
#[tokio::test]
async fn listing_stuck_registrations_never_reconciles() {
    use hubdeck::domain::PageQuery;
    let t = fresh_db().await;
    let svc = local_services(&t).await;
    let mut conn = t.pool.acquire().await.unwrap();
    let mut ids = Vec::new();
    for email in ["a@example.org", "b@example.org", "c@example.org"] {
        let r = registrations::insert_pending(
            &mut conn,
            &NewRegistration {
                email,
                name: "N",
                organisation: "O",
                requested_roles: &[],
                suppress_invite: true,
                who: hubdeck::store::audit::AuditActor {
                    sub: None,
                    via: "cli",
                    os_user: None,
                },
            },
        )
        .await
        .unwrap();
        ids.push(r.id);
    }
    sqlx::query("UPDATE registration SET created_at = now() - interval '5 minutes'")
        .execute(&t.pool)
        .await
        .unwrap();
    let states = || async {
        let rows: Vec<String> = sqlx::query_scalar("SELECT state FROM registration ORDER BY email")
            .fetch_all(&t.pool)
            .await
            .unwrap();
        rows
    };
    let q = PageQuery::new(1, 2).filter("state", ["pending"]);
    for _ in 0..3 {
        let page = svc.list_stuck_page(&cli(), &q).await.unwrap();
        assert_eq!(page.total, 3);
        assert_eq!(page.items.len(), 2, "paged in SQL");
    }
    assert_eq!(states().await, vec!["pending"; 3], "reading wrote nothing");
    // The explicit action reconciles (no identity exists → rolled back).
    let out = svc.reconcile_pending(&cli(), 60).await.unwrap();
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(states().await, vec!["rolled_back"; 3]);
    // A reader without the permission is refused before anything is read.
    let e = svc.list_stuck_page(&operator(&[]), &q).await.unwrap_err();
    assert!(matches!(e, ServiceError::Denied(_)), "{e}");
}

/// Through the real binary: while one operation holds a registration (its lease), `users repair`
/// on it is refused with exit 3 and "being repaired by <holder> since <time>", and the
/// row is unchanged; once released, the repair goes through.
#[tokio::test]
async fn cli_repair_of_a_registration_being_repaired_exits_3() {
    let t = fresh_db().await;
    let svc = local_services(&t).await;
    let (id, sub) = stuck_after_create(&svc, "busy@example.org", &[RoleRef::Viewer]).await;
    let run = |args: Vec<String>| {
        crate::support::cli::infra()
            .arg("--database-url")
            .arg(&t.url)
            .args(args)
            .env("HUBDECK_DIRECTORY__KIND", "local")
            .env("HOME", std::env::temp_dir())
            .env_remove("HUBDECK_FAILPOINT")
            .output()
            .expect("run hubdeck")
    };
    let lock = registrations::try_lease(
        &t.pool,
        id,
        "alice@example.org",
        std::time::Duration::from_secs(300),
    )
    .await
    .unwrap()
    .unwrap_or_else(|h| panic!("{h:?}"));
    for flag in ["--retry", "--rollback"] {
        let out = run(vec![
            "users".into(),
            "repair".into(),
            flag.into(),
            id.to_string(),
        ]);
        assert_eq!(out.status.code(), Some(3), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("being repaired by alice@example.org since"),
            "{err}"
        );
    }
    let out = run(vec![
        "users".into(),
        "repair".into(),
        "--resolve".into(),
        id.to_string(),
        "--note".into(),
        "x".into(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let j = svc.registration(&cli(), id).await.unwrap();
    assert_eq!(j.state(), RegistrationState::IdentityCreated, "unchanged");
    assert_eq!(rows_of(&t.pool, sub).await.grants, 0);
    lock.release().await;
    let out = run(vec![
        "users".into(),
        "repair".into(),
        "--retry".into(),
        id.to_string(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(rows_of(&t.pool, sub).await.grants, 1);
}
