//! The live view: changes committed by anyone (the CLI, another operator) reach the console's
//! screen without a key press — the row in place and marked, an open form warned.

use std::collections::BTreeSet;

use hubdeck::domain::{MandateId, RoleRef};
use hubdeck::service::mandates::MandateInput;
use hubdeck::service::{Actor, Operator};

use crate::support::pg::{TestDb, fresh_db};
use crate::tui_e2e::{seed_identity, seed_operator, services, start_signed_in};

/// `hubdeck ARGS` on the test database as a script would run it; asserts exit 0.
pub fn cli(db: &TestDb, args: &[&str]) -> String {
    let out = crate::support::cli::infra()
        .args(args)
        .args(["--database-url", &db.url])
        .env("HUBDECK_DIRECTORY__KIND", "local")
        .env("HUBDECK_DATA_DIR", std::env::temp_dir())
        .output()
        .expect("run hubdeck");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn seed_mandate(db: &TestDb, name: &str, label: &str) -> MandateId {
    let id: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO mandate (name, label, enabled) VALUES ($1, $2, true) RETURNING id",
    )
    .bind(name)
    .bind(label)
    .fetch_one(&db.pool)
    .await
    .expect("seed mandate");
    id.into()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cli_change_to_a_visible_mandate_shows_without_a_key_press() {
    let db = fresh_db().await;
    let s = services(&db).await;
    seed_operator(&s).await;
    let acme = seed_mandate(&db, "Acme Research", "before-label").await;
    seed_mandate(&db, "Beta Hospital", "beta").await;
    let t = start_signed_in(&db, &[]);
    t.wait_for(&[
        "Acme Research",
        "before-label",
        "Beta Hospital",
        "rows 1–2 of 2",
    ]);

    // Another process changes the mandate the operator is looking at.
    cli(
        &db,
        &[
            "mandates",
            "update",
            &acme.to_string(),
            "--label",
            "after-label",
        ],
    );
    // No key is pressed: the row is updated in place and marked with who changed it.
    let cap = t.wait_for(&["after-label", "changed by", "via cli"]);
    assert!(cap.contains("Beta Hospital"), "{cap}");
    // The detail pane follows (its own read, sent with the page's).
    t.wait_gone(&["before-label"]);

    // A mandate deleted elsewhere: the list says it disappeared.
    cli(&db, &["mandates", "delete", &acme.to_string()]);
    let cap = t.wait_for(&["Acme Research", "gone", "rows 1–1 of 1"]);
    assert!(cap.contains("Beta Hospital"), "{cap}");
    t.quit();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_open_edit_form_says_who_changed_the_mandate() {
    let db = fresh_db().await;
    let s = services(&db).await;
    seed_operator(&s).await;
    let other_email = "other@hub.example";
    let other_sub = seed_identity(&s, other_email, None, Some(RoleRef::Admin)).await;
    let acme = seed_mandate(&db, "Acme Research", "acme").await;
    let t = start_signed_in(&db, &[]);
    t.wait_for(&["Acme Research", "rows 1–1 of 1"]);
    t.keys(&["e"]);
    t.wait_for(&["Edit mandate", "Acme Research"]);

    // The other operator disables the mandate while the form is open.
    let other = Actor::Operator(Operator {
        sub: other_sub,
        email: other_email.into(),
        permissions: RoleRef::Admin
            .permissions()
            .iter()
            .copied()
            .collect::<BTreeSet<_>>(),
    });
    s.update_mandate(
        &other,
        acme,
        &MandateInput {
            name: "Acme Research".into(),
            label: Some("acme".into()),
            enabled: false,
        },
    )
    .await
    .expect("the other operator's change");

    let cap = t.wait_for(&[
        "changed by other@hub.example",
        "review before saving",
        "Edit mandate",
    ]);
    assert!(cap.contains("s ago"), "{cap}");
    t.keys(&["Escape"]);
    t.wait_gone(&["Edit mandate"]);
    t.quit();
}

/// The feed reports a change committed late by a transaction that began early (its audit row
/// is older in every order but the commit order) exactly once, and never a change twice.
#[tokio::test(flavor = "multi_thread")]
async fn the_change_feed_misses_no_late_commit_and_repeats_nothing() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let root = Actor::Cli {
        os_user: "root".into(),
    };
    let audit = |name: &'static str| {
        format!(
            "INSERT INTO mandate_audit (via, os_user, mandate_name, action) \
             VALUES ('cli', 'root', '{name}', 'MANDATE_UPDATED')"
        )
    };
    let start = s.poll_changes(&root, None).await.expect("start");
    assert!(start.changes.is_empty());

    // A takes its transaction id first and commits last.
    let mut early = db.pool.begin().await.expect("begin");
    sqlx::query(sqlx::AssertSqlSafe(audit("early")))
        .execute(&mut early)
        .await
        .expect("early row");
    sqlx::query(sqlx::AssertSqlSafe(audit("late")))
        .execute(&db.pool)
        .await
        .expect("late row");
    let first = s
        .poll_changes(&root, Some(start.cursor.clone()))
        .await
        .expect("poll");
    assert_eq!(first.changes.len(), 1, "{:?}", first.changes);
    early.commit().await.expect("commit");

    let second = s
        .poll_changes(&root, Some(first.cursor.clone()))
        .await
        .expect("poll");
    assert_eq!(
        second.changes.len(),
        1,
        "the early transaction's row, once: {:?}",
        second.changes
    );
    let third = s
        .poll_changes(&root, Some(second.cursor.clone()))
        .await
        .expect("poll");
    assert!(third.changes.is_empty(), "{:?}", third.changes);
}
