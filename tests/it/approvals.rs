//! The two-person rule with two real operators: each signed in to the CLI with `hubdeck login`
//! (their own data dir, as two people on a bastion), over real PostgreSQL and the local
//! directory, with `[approvals] require` naming every action.

use hubdeck::domain::RoleRef;
use hubdeck::service::Actor;

use crate::support::pg;

const ADA: &str = "ada.admin@hub.example";
const BOB: &str = "bob.admin@hub.example";
const CAROL: &str = "carol.viewer@hub.example";
const PASSWORD: &str = "Correct-Horse-42";
const ALL: &str = "user_delete,trust_delete,global_admin_grant,hard_delete,trust_key_rotation";

/// One operator at the bastion: their data dir (where their session lives).
struct Person {
    data: tempfile::TempDir,
}

struct Out {
    code: i32,
    out: String,
    err: String,
}

impl Out {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.out).unwrap_or_else(|e| panic!("{e}: {}", self.out))
    }
}

fn run(db: &pg::TestDb, p: &Person, args: &[&str], stdin: &str) -> Out {
    use std::io::Write;
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_hubdeck"));
    c.args(args)
        .args(["--database-url", &db.url])
        .env("HUBDECK_DIRECTORY__KIND", "local")
        .env("HUBDECK_DATA_DIR", p.data.path())
        .env("HUBDECK_APPROVALS__REQUIRE", ALL)
        .env_remove("HUBDECK_CLI__INFRASTRUCTURE")
        .env_remove("HUBDECK_ENV")
        .env_remove("SUDO_USER")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Signs `email` in with `hubdeck login` in a fresh data dir.
fn signed_in(db: &pg::TestDb, email: &str) -> Person {
    let p = Person {
        data: tempfile::tempdir().unwrap(),
    };
    let o = run(
        db,
        &p,
        &["login", "--email", email],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(o.code, 0, "login {email}: {}", o.err);
    p
}

struct World {
    db: pg::TestDb,
    s: hubdeck::service::Services,
    ada: Person,
    bob: Person,
    carol: hubdeck::domain::UserSub,
}

async fn world() -> World {
    let db = pg::fresh_db().await;
    let s = crate::tui_e2e::services(&db).await;
    crate::tui_e2e::seed_identity(&s, ADA, Some(PASSWORD), Some(RoleRef::Admin)).await;
    crate::tui_e2e::seed_identity(&s, BOB, Some(PASSWORD), Some(RoleRef::Admin)).await;
    let carol = crate::tui_e2e::seed_identity(&s, CAROL, None, Some(RoleRef::Viewer)).await;
    let ada = signed_in(&db, ADA);
    let bob = signed_in(&db, BOB);
    World {
        db,
        s,
        ada,
        bob,
        carol,
    }
}

async fn state_of(db: &pg::TestDb, id: i64) -> String {
    sqlx::query_scalar("SELECT state FROM pending_change WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// (action, actor email or os user, details) of the approval's lifecycle rows, oldest first.
async fn lifecycle(db: &pg::TestDb, id: i64) -> Vec<(String, Option<String>, serde_json::Value)> {
    sqlx::query_as(
        "SELECT a.action, d.email, a.details FROM audit_event a \
         LEFT JOIN directory_user d ON d.sub = a.actor_user_id \
         WHERE a.details->>'approval' = $1::text ORDER BY a.occurred_at, a.action",
    )
    .bind(id.to_string())
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

async fn roles(db: &pg::TestDb, sub: hubdeck::domain::UserSub) -> Vec<uuid::Uuid> {
    sqlx::query_scalar("SELECT role_id FROM user_role WHERE user_id = $1 ORDER BY role_id")
        .bind(sub)
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_second_operator_approves_and_exactly_the_preview_is_executed_never_by_the_proposer() {
    let w = world().await;
    let db = &w.db;
    // Without a reason the delete is refused and says how to propose it; nothing changes.
    let o = run(db, &w.ada, &["users", "delete", "--user", CAROL], "");
    assert_eq!(o.code, 4, "{}", o.err);
    assert!(
        o.err.contains("needs a second operator's approval"),
        "{}",
        o.err
    );
    assert_eq!(roles(db, w.carol).await, vec![RoleRef::Viewer.id()]);

    let o = run(
        db,
        &w.ada,
        &[
            "users",
            "delete",
            "--user",
            CAROL,
            "--reason",
            "left the project",
            "--output",
            "json",
        ],
        "",
    );
    assert_eq!(o.code, 0, "{}", o.err);
    let c = o.json();
    let id = c["id"].as_i64().unwrap();
    assert_eq!(c["state"], "proposed");
    assert_eq!(c["reason"], "left the project");
    let preview = c["preview"]["rows"].to_string();
    assert!(
        preview.contains("global roles") && preview.contains("viewer"),
        "{preview}"
    );
    assert_eq!(
        roles(db, w.carol).await,
        vec![RoleRef::Viewer.id()],
        "proposing executes nothing"
    );

    // The proposer cannot approve their own change.
    let o = run(db, &w.ada, &["approvals", "approve", &id.to_string()], "");
    assert_eq!(o.code, 4, "{}", o.err);
    assert!(
        o.err.contains("nobody approves their own change"),
        "{}",
        o.err
    );
    assert_eq!(state_of(db, id).await, "proposed");

    // The second operator sees the same preview and approves: executed.
    let o = run(db, &w.bob, &["approvals", "show", &id.to_string()], "");
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(
        o.out.contains("left the project") && o.out.contains(CAROL),
        "{}",
        o.out
    );
    let o = run(db, &w.bob, &["approvals", "approve", &id.to_string()], "");
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(o.out.contains("approved and executed"), "{}", o.out);
    assert!(
        roles(db, w.carol).await.is_empty(),
        "the user's grants are gone"
    );
    assert_eq!(state_of(db, id).await, "executed");
    let steps = lifecycle(db, id).await;
    let names: Vec<(&str, Option<&str>)> = steps
        .iter()
        .map(|(a, who, _)| (a.as_str(), who.as_deref()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("APPROVAL_PROPOSED", Some(ADA)),
            ("APPROVAL_APPROVED", Some(BOB)),
            ("APPROVAL_EXECUTED", Some(BOB)),
        ]
    );
    assert_eq!(steps[0].2["reason"], "left the project");
    // And the deletion itself is audited as ever, by the approver.
    let deleted: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users_audit WHERE user_id = $1 AND action = 'Deleted user'",
    )
    .bind(w.carol)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(deleted, 1);
    // Approving twice does nothing more.
    let o = run(db, &w.bob, &["approvals", "approve", &id.to_string()], "");
    assert_eq!(o.code, 3, "{}", o.err);
}

#[tokio::test]
async fn a_change_to_the_target_after_proposing_voids_the_approval_naming_it() {
    let w = world().await;
    let db = &w.db;
    let o = run(
        db,
        &w.ada,
        &[
            "users",
            "set-roles",
            "--user",
            CAROL,
            "--role",
            "admin",
            "--reason",
            "on call",
            "--output",
            "json",
        ],
        "",
    );
    assert_eq!(o.code, 0, "{}", o.err);
    let id = o.json()["id"].as_i64().unwrap();
    assert_eq!(roles(db, w.carol).await, vec![RoleRef::Viewer.id()]);
    // Somebody else changes the target meanwhile (no rule in the test settings).
    w.s.set_roles(&Actor::cli(), w.carol, &[RoleRef::Researcher])
        .await
        .unwrap();
    let o = run(db, &w.bob, &["approvals", "approve", &id.to_string()], "");
    assert_eq!(o.code, 3, "{}", o.err);
    assert!(o.err.contains("void"), "{}", o.err);
    assert!(
        o.err.contains("global roles: viewer → researcher"),
        "{}",
        o.err
    );
    assert_eq!(
        roles(db, w.carol).await,
        vec![RoleRef::Researcher.id()],
        "nothing granted"
    );
    assert_eq!(state_of(db, id).await, "void");
    let steps = lifecycle(db, id).await;
    assert_eq!(steps.last().unwrap().0, "APPROVAL_VOID");
}

#[tokio::test]
async fn a_rejection_carries_its_reason_and_an_expired_change_cannot_be_approved() {
    let w = world().await;
    let db = &w.db;
    let t =
        w.s.register_trust(&Actor::cli(), "Leeds General", "LGI", None)
            .await
            .unwrap();
    let propose = |why: &str| {
        let o = run(
            db,
            &w.ada,
            &[
                "trusts", "delete", "LGI", "--yes", "--reason", why, "--output", "json",
            ],
            "",
        );
        assert_eq!(o.code, 0, "{}", o.err);
        o.json()["id"].as_i64().unwrap()
    };
    let id = propose("duplicate site");
    let o = run(db, &w.bob, &["approvals", "reject", &id.to_string()], "");
    assert_eq!(o.code, 2, "a rejection needs a reason: {}", o.err);
    let o = run(
        db,
        &w.bob,
        &[
            "approvals",
            "reject",
            &id.to_string(),
            "--reason",
            "still in use by the pilot",
        ],
        "",
    );
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(state_of(db, id).await, "rejected");
    let steps = lifecycle(db, id).await;
    assert_eq!(steps.last().unwrap().0, "APPROVAL_REJECTED");
    assert_eq!(
        steps.last().unwrap().2["reason"],
        "still in use by the pilot"
    );
    assert_eq!(steps.last().unwrap().1.as_deref(), Some(BOB));

    // Expiry: a change past its time is refused and recorded expired.
    let id = propose("duplicate site, again");
    sqlx::query("UPDATE pending_change SET expires_at = now() - interval '1 minute' WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await
        .unwrap();
    let o = run(db, &w.bob, &["approvals", "approve", &id.to_string()], "");
    assert_eq!(o.code, 3, "{}", o.err);
    assert!(o.err.contains("expired"), "{}", o.err);
    assert_eq!(state_of(db, id).await, "expired");
    assert_eq!(
        lifecycle(db, id).await.last().unwrap().0,
        "APPROVAL_EXPIRED"
    );
    let still: i64 = sqlx::query_scalar("SELECT count(*) FROM trust WHERE id = $1")
        .bind(t.trust.id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(still, 1, "neither the rejected nor the expired delete ran");
}

#[tokio::test]
async fn the_keys_of_an_approved_rotation_reach_the_proposer_alone() {
    let w = world().await;
    let db = &w.db;
    w.s.register_trust(&Actor::cli(), "York Teaching", "YTH", None)
        .await
        .unwrap();
    let o = run(
        db,
        &w.ada,
        &[
            "trusts",
            "rotate-key",
            "YTH",
            "--reason",
            "leaked in a log",
            "--output",
            "json",
        ],
        "",
    );
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(
        !o.out.contains("hubk_"),
        "nothing is minted by a proposal: {}",
        o.out
    );
    let id = o.json()["id"].as_i64().unwrap();
    let o = run(db, &w.bob, &["approvals", "approve", &id.to_string()], "");
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(
        !o.out.contains("hubk_") && !o.err.contains("hubk_"),
        "{}{}",
        o.out,
        o.err
    );
    assert_eq!(state_of(db, id).await, "approved");
    // The approver cannot take the keys.
    let o = run(db, &w.bob, &["approvals", "complete", &id.to_string()], "");
    assert_eq!(o.code, 4, "{}", o.err);
    assert!(!o.out.contains("hubk_"));
    // The proposer completes it and receives them once (piped: the JSON).
    let o = run(db, &w.ada, &["approvals", "complete", &id.to_string()], "");
    assert_eq!(o.code, 0, "{}", o.err);
    let v = o.json();
    let key = v[0]["trust_api_key"].as_str().unwrap().to_string();
    assert!(key.starts_with("hubk_"), "{key}");
    let hash: String = sqlx::query_scalar("SELECT api_key_hash FROM trust WHERE code = 'YTH'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        hash,
        hubdeck::domain::trust::api_key_hash(&hubdeck::domain::Secret::new(&key))
    );
    assert_eq!(state_of(db, id).await, "executed");
    let o = run(db, &w.ada, &["approvals", "complete", &id.to_string()], "");
    assert_eq!(o.code, 3, "completed once only: {}", o.err);
    // No key material anywhere in the change or its audit rows.
    let stored: String =
        sqlx::query_scalar("SELECT row_to_json(p)::text FROM pending_change p WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(!stored.contains(&key[5..20]));
}

/// A proposal from the CLI is approved in the console by the operator signed in there: the
/// top bar counts it, the Approvals tab shows the same preview, `y` executes it.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_counts_shows_and_approves_a_proposal_from_the_cli() {
    use crate::tui_e2e::{seed_operator, start_signed_in};
    let w = world().await;
    let db = &w.db;
    seed_operator(&w.s).await;
    let input = hubdeck::service::mandates::MandateInput {
        name: "pilot-42".into(),
        label: Some("Pilot 42".into()),
        enabled: true,
    };
    let m =
        w.s.create_mandate(&Actor::cli(), &input, None)
            .await
            .unwrap();
    let o = run(
        db,
        &w.ada,
        &[
            "mandates",
            "delete",
            "pilot-42",
            "--hard",
            "--confirm-name",
            "pilot-42",
            "--reason",
            "pilot ended",
            "--output",
            "json",
        ],
        "",
    );
    assert_eq!(o.code, 0, "{}", o.err);
    let id = o.json()["id"].as_i64().unwrap();

    let t = start_signed_in(db, &[("HUBDECK_APPROVALS__REQUIRE", ALL)]);
    t.wait_for(&["1 to approve (8)"]);
    t.keys(&["8"]);
    t.wait_for(&[
        &format!("#{id}"),
        "hard-delete mandate «pilot-42»",
        "pilot ended",
        ADA,
    ]);
    t.keys(&["Enter"]);
    let cap = t.wait_for(&["Approve change", "dependent rows", "deleted for good"]);
    assert!(cap.contains("pilot ended"), "{cap}");
    t.settle();
    t.keys(&["y"]);
    t.wait_for(&["approved and executed"]);
    let gone: i64 = sqlx::query_scalar("SELECT count(*) FROM mandate WHERE id = $1")
        .bind(m.mandate.id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(gone, 0, "the approved hard delete ran");
    assert_eq!(state_of(db, id).await, "executed");
    let steps = lifecycle(db, id).await;
    assert_eq!(steps[1].0, "APPROVAL_APPROVED");
    assert_eq!(steps[1].1.as_deref(), Some(crate::tui_e2e::OPERATOR_EMAIL));
    t.wait_gone(&["1 to approve"]);
    t.quit();
}
