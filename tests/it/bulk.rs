//! Bulk member actions (issue #15): preview with per-row refusals before anything is applied,
//! one-transaction apply with one audit row per changed member, the fingerprint re-check, the
//! CLI twin (`mandates members bulk`, `--dry-run`, `--output json`, exit codes), and the
//! last-admin invariant when bulks and single changes race.

use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;

use hubdeck::domain::roles::mandate_roles;
use hubdeck::domain::{MandateId, MandateRoleId, MembershipId, PageQuery, UserSub};
use hubdeck::service::bulk::{BulkAction, BulkTarget, RowOutcome};
use hubdeck::service::{ServiceError, Services};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::mandates::{cached_user, create, operator, raw_member, services, services_on, sysadmin};
use crate::members::admins;
use crate::support::pg;

fn member() -> MandateRoleId {
    mandate_roles::MEMBER.into()
}

async fn roles_of(pool: &hubdeck::store::Db, membership: Uuid) -> Vec<Uuid> {
    sqlx::query_scalar(
        "SELECT mandate_role_id FROM user_mandate_role WHERE user_mandate_id = $1 ORDER BY 1",
    )
    .bind(membership)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn role_audits(pool: &hubdeck::store::Db, m: MandateId) -> Vec<(UserSub, serde_json::Value)> {
    sqlx::query_as(
        "SELECT target_user_id, details FROM mandate_audit WHERE mandate_id = $1 \
         AND action = 'MEMBER_ROLES_SET' ORDER BY created_at, id",
    )
    .bind(m)
    .fetch_all(pool)
    .await
    .unwrap()
}

struct Clinic {
    m: MandateId,
    alice: (UserSub, Uuid),
    bob: (UserSub, Uuid),
    carol: (UserSub, Uuid),
    dave: (UserSub, Uuid),
}

/// «Bulk Clinic»: alice is the only admin; bob already a member; carol has no role; dave is
/// outside the search ("clinic.example").
async fn clinic(svc: &Services, pool: &hubdeck::store::Db) -> Clinic {
    let m = create(svc, "Bulk Clinic").await;
    let mk = async |email: &str, roles: &[Uuid]| {
        let sub = cached_user(pool, email, email).await;
        (sub, raw_member(pool, m, sub, roles).await)
    };
    let alice = mk("alice@clinic.example", &[mandate_roles::ADMIN]).await;
    let bob = mk("bob@clinic.example", &[mandate_roles::MEMBER]).await;
    let carol = mk("carol@clinic.example", &[]).await;
    let dave = mk("dave@other.example", &[]).await;
    Clinic {
        m,
        alice,
        bob,
        carol,
        dave,
    }
}

#[tokio::test]
async fn bulk_role_change_over_a_search_previews_the_last_admin_refusal_then_applies_the_rest() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    let c = clinic(&svc, &db.pool).await;
    let target = BulkTarget::Matching(PageQuery::default().search("clinic.example"));
    let action = BulkAction::SetRoles(vec![member()]);

    let preview = svc
        .bulk_preview(&root, c.m, &target, &action)
        .await
        .unwrap();
    assert!(!preview.applied);
    let by_email = |email: &str| {
        preview
            .rows
            .iter()
            .find(|r| r.email.as_deref() == Some(email))
            .unwrap_or_else(|| panic!("no row for {email}: {:?}", preview.rows))
            .clone()
    };
    assert_eq!(preview.rows.len(), 3, "dave is outside the search");
    let alice = by_email("alice@clinic.example");
    assert_eq!(alice.outcome, RowOutcome::Refused);
    assert_eq!(
        alice.reason.as_deref(),
        Some("Cannot remove the last admin of Bulk Clinic. Assign another admin first.")
    );
    assert_eq!(alice.roles_before, vec!["admin"]);
    assert_eq!(alice.roles_after, vec!["member"]);
    assert_eq!(
        by_email("bob@clinic.example").outcome,
        RowOutcome::Unchanged
    );
    let carol = by_email("carol@clinic.example");
    assert_eq!(carol.outcome, RowOutcome::Change);
    assert!(carol.roles_before.is_empty());
    assert_eq!(
        (preview.changes, preview.unchanged, preview.refused),
        (1, 1, 1)
    );
    // The preview wrote nothing.
    assert!(roles_of(&db.pool, c.carol.1).await.is_empty());
    assert!(role_audits(&db.pool, c.m).await.is_empty());

    // Apply exactly what was previewed.
    let applied = svc
        .bulk_apply(&root, c.m, &target, &action, Some(&preview.fingerprint))
        .await
        .unwrap();
    assert!(applied.applied);
    assert_eq!(applied.fingerprint, preview.fingerprint);
    assert_eq!(
        roles_of(&db.pool, c.carol.1).await,
        vec![mandate_roles::MEMBER]
    );
    assert_eq!(
        roles_of(&db.pool, c.alice.1).await,
        vec![mandate_roles::ADMIN]
    );
    assert_eq!(
        roles_of(&db.pool, c.bob.1).await,
        vec![mandate_roles::MEMBER]
    );
    assert!(roles_of(&db.pool, c.dave.1).await.is_empty());
    assert_eq!(admins(&db.pool, c.m).await, 1);
    let audits = role_audits(&db.pool, c.m).await;
    assert_eq!(
        audits.len(),
        1,
        "one audit row per changed member: {audits:?}"
    );
    assert_eq!(audits[0].0, c.carol.0);
    assert_eq!(
        audits[0].1["bulk"],
        serde_json::json!(applied.bulk_id.unwrap())
    );
    assert_eq!(
        audits[0].1["after"],
        serde_json::json!([mandate_roles::MEMBER])
    );
    let notes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM notification WHERE user_id = $1 AND mandate_id = $2",
    )
    .bind(c.carol.0)
    .bind(c.m)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(notes, 1);
}

#[tokio::test]
async fn a_stale_preview_applies_nothing_and_emails_name_rows() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    let c = clinic(&svc, &db.pool).await;
    let target = BulkTarget::Emails(vec![
        "carol@clinic.example".into(),
        "DAVE@other.example".into(),
        "nobody@clinic.example".into(),
        "not an email".into(),
        "carol@clinic.example".into(),
    ]);
    let action = BulkAction::AddRole(member());
    let preview = svc
        .bulk_preview(&root, c.m, &target, &action)
        .await
        .unwrap();
    let refused: Vec<_> = preview
        .rows
        .iter()
        .filter(|r| r.outcome == RowOutcome::Refused)
        .map(|r| (r.input.clone().unwrap(), r.reason.clone().unwrap()))
        .collect();
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(
        refused
            .iter()
            .any(|(i, r)| i == "nobody@clinic.example" && r.contains("not a member"))
    );
    assert!(refused.iter().any(|(i, _)| i == "not an email"));
    assert!(refused.iter().any(|(_, r)| r == "listed twice"));
    assert_eq!(preview.changes, 2);

    // Someone changes dave between preview and apply: the apply refuses, nothing written.
    svc.set_member_roles(&root, c.m, c.dave.0, &[member()])
        .await
        .unwrap();
    let stale = svc
        .bulk_apply(&root, c.m, &target, &action, Some(&preview.fingerprint))
        .await
        .unwrap_err();
    assert!(
        matches!(&stale, ServiceError::Conflict(m) if m.contains("changed since the preview")),
        "{stale:?}"
    );
    assert!(
        roles_of(&db.pool, c.carol.1).await.is_empty(),
        "nothing applied"
    );

    // Removal of everyone in one bulk keeps the last admin (cumulative check).
    let all = BulkTarget::Memberships(
        [c.alice.1, c.bob.1, c.carol.1, c.dave.1]
            .into_iter()
            .map(MembershipId)
            .collect(),
    );
    let r = svc
        .bulk_apply(&root, c.m, &all, &BulkAction::Remove, None)
        .await
        .unwrap();
    assert_eq!((r.changes, r.refused), (3, 1));
    assert_eq!(admins(&db.pool, c.m).await, 1);

    // A non-manager is refused outright.
    let stranger = operator(UserSub::new_v4());
    let denied = svc
        .bulk_preview(&stranger, c.m, &all, &BulkAction::Disable)
        .await
        .unwrap_err();
    assert_eq!(denied.exit_code(), 4, "{denied}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_bulks_and_single_changes_keep_the_last_admin() {
    let db = pg::fresh_db().await;
    let pool = db.pool_with(8).await;
    let svc = services_on(&db, pool.clone());
    let root = sysadmin(&pool).await;
    for round in 0..40 {
        let m = create(&svc, &format!("bulk-race-{round}")).await;
        let a = cached_user(&pool, &format!("a{round}@race.example"), "A").await;
        let b = cached_user(&pool, &format!("b{round}@race.example"), "B").await;
        let ma = raw_member(&pool, m, a, &[mandate_roles::ADMIN]).await;
        let mb = raw_member(&pool, m, b, &[mandate_roles::ADMIN]).await;
        let barrier = Arc::new(Barrier::new(2));
        let bulk_a = {
            let (svc, root, barrier) = (svc.clone(), root.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                svc.bulk_apply(
                    &root,
                    m,
                    &BulkTarget::Memberships(vec![MembershipId(ma)]),
                    &BulkAction::RemoveRole(mandate_roles::ADMIN.into()),
                    None,
                )
                .await
                .map(|p| p.changes)
            })
        };
        // Odd rounds: another bulk (disable b); even rounds: a single change (demote b).
        let other = {
            let (svc, root, barrier) = (svc.clone(), root.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                if round % 2 == 1 {
                    svc.bulk_apply(
                        &root,
                        m,
                        &BulkTarget::Memberships(vec![MembershipId(mb)]),
                        &BulkAction::Disable,
                        None,
                    )
                    .await
                    .map(|p| p.changes)
                } else {
                    svc.set_member_roles(&root, m, b, &[mandate_roles::MEMBER.into()])
                        .await
                        .map(|()| 1)
                }
            })
        };
        let (ra, rb) = tokio::join!(bulk_a, other);
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        // The bulk reports a refusal as a refused row (0 changes); the single change as an error.
        let wins = [&ra, &rb].iter().filter(|r| matches!(r, Ok(1))).count();
        assert_eq!(wins, 1, "round {round}: {ra:?} {rb:?}");
        assert_eq!(admins(&pool, m).await, 1, "round {round}");
    }
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

fn hubdeck(db: &pg::TestDb, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = crate::support::cli::infra()
        .args(args)
        .args(["--database-url", &db.url])
        .env("HUBDECK_DIRECTORY__KIND", "local")
        .env("HUBDECK_DATA_DIR", std::env::temp_dir())
        .env("USER", "ci-operator")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn cli_bulk_dry_run_json_then_apply_with_exit_codes() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let c = clinic(&svc, &db.pool).await;
    let emails = "# demoted by the CLI\nalice@clinic.example\ncarol@clinic.example\n\n";
    let args = [
        "--output",
        "json",
        "mandates",
        "members",
        "bulk",
        "Bulk Clinic",
        "--action",
        "set-roles",
        "--role",
        "member",
    ];
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let (code, out, err) = hubdeck(&db, &dry, emails);
    assert_eq!(code, 3, "a refused row exits 3: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["applied"], false);
    assert_eq!(v["refused"], 1);
    assert_eq!(v["changes"], 1);
    assert!(err.contains("nothing applied"), "{err}");
    assert!(
        roles_of(&db.pool, c.carol.1).await.is_empty(),
        "dry run wrote"
    );

    let (code, out, err) = hubdeck(&db, &args, emails);
    assert_eq!(code, 3, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["applied"], true);
    let rows = v["rows"].as_array().unwrap();
    let alice = rows
        .iter()
        .find(|r| r["email"] == "alice@clinic.example")
        .unwrap();
    assert_eq!(alice["outcome"], "refused");
    assert_eq!(
        roles_of(&db.pool, c.carol.1).await,
        vec![mandate_roles::MEMBER]
    );
    assert_eq!(
        roles_of(&db.pool, c.alice.1).await,
        vec![mandate_roles::ADMIN]
    );
    let via: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT via, os_user FROM mandate_audit WHERE mandate_id = $1 AND action = 'MEMBER_ROLES_SET'",
    )
    .bind(c.m)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        via,
        vec![(
            Some("cli".into()),
            Some(crate::support::cli::real_account())
        )]
    );

    // Everything already so: exit 0. Usage errors: exit 2.
    let (code, _, err) = hubdeck(&db, &args, "carol@clinic.example\n");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = hubdeck(
        &db,
        &[
            "mandates",
            "members",
            "bulk",
            "Bulk Clinic",
            "--action",
            "add-role",
        ],
        "carol@clinic.example\n",
    );
    assert_eq!(code, 2, "add-role without --role: {err}");
    let (code, _, err) = hubdeck(
        &db,
        &[
            "mandates",
            "members",
            "bulk",
            "Bulk Clinic",
            "--action",
            "disable",
        ],
        "# nothing\n",
    );
    assert_eq!(code, 2, "no emails: {err}");
    let (code, out, err) = hubdeck(
        &db,
        &[
            "mandates",
            "members",
            "bulk",
            "Bulk Clinic",
            "--action",
            "disable",
            "--search",
            "other.example",
            "--dry-run",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("dave@other.example"), "{out}");
    assert!(out.contains("will change"), "{out}");
}

#[tokio::test]
async fn add_role_remove_role_disable_and_enable_apply_exactly_the_previewed_rows() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    let c = clinic(&svc, &db.pool).await;
    let everyone = BulkTarget::Memberships(
        [c.alice.1, c.bob.1, c.carol.1, c.dave.1]
            .into_iter()
            .map(MembershipId)
            .collect(),
    );
    let viewer: MandateRoleId = mandate_roles::VIEWER.into();
    let r = svc
        .bulk_apply(&root, c.m, &everyone, &BulkAction::AddRole(viewer), None)
        .await
        .unwrap();
    assert_eq!((r.changes, r.unchanged, r.refused), (4, 0, 0));
    assert_eq!(roles_of(&db.pool, c.alice.1).await, {
        let mut v = vec![mandate_roles::ADMIN, mandate_roles::VIEWER];
        v.sort();
        v
    });
    assert_eq!(
        roles_of(&db.pool, c.carol.1).await,
        vec![mandate_roles::VIEWER]
    );
    // Removing the member role touches only bob (the others do not hold it).
    let r = svc
        .bulk_apply(
            &root,
            c.m,
            &everyone,
            &BulkAction::RemoveRole(member()),
            None,
        )
        .await
        .unwrap();
    assert_eq!((r.changes, r.unchanged), (1, 3));
    assert_eq!(
        roles_of(&db.pool, c.bob.1).await,
        vec![mandate_roles::VIEWER]
    );
    // Disable all: alice (the last admin) is refused, the other three are disabled.
    let r = svc
        .bulk_apply(&root, c.m, &everyone, &BulkAction::Disable, None)
        .await
        .unwrap();
    assert_eq!((r.changes, r.refused), (3, 1));
    let enabled: Vec<(Uuid, bool)> =
        sqlx::query_as("SELECT id, enabled FROM user_mandate WHERE mandate_id = $1 ORDER BY id")
            .bind(c.m)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    for (id, e) in &enabled {
        assert_eq!(*e, *id == c.alice.1, "{id}");
    }
    let r = svc
        .bulk_apply(&root, c.m, &everyone, &BulkAction::Enable, None)
        .await
        .unwrap();
    assert_eq!((r.changes, r.unchanged), (3, 1));
    let audits: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mandate_audit WHERE mandate_id = $1 AND details ? 'bulk'",
    )
    .bind(c.m)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(audits, 4 + 1 + 3 + 3, "one audit row per changed row");
    assert_eq!(admins(&db.pool, c.m).await, 1);
}
