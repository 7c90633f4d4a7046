//! A database outage under a live console: the real binary in tmux on a PostgreSQL cluster of
//! its own, which the test stops and starts again while the console runs (the shared test
//! cluster serves every other test and must stay up).

use std::path::PathBuf;
use std::time::Duration;

use hubdeck::localpg::{LocalCluster, PgBinaries, free_port};

use crate::support::pg::TestDb;
use crate::tui_e2e::{seed_operator, services, start_signed_in};

/// A cluster only this test uses: stopped and removed when dropped (also on a failed assert).
pub struct PrivateCluster {
    pub cluster: LocalCluster,
    root: PathBuf,
}

impl PrivateCluster {
    pub fn start() -> Self {
        let bins = PgBinaries::locate().unwrap_or_else(|e| {
            crate::support::fail_missing("the PostgreSQL server", &e.to_string())
        });
        let root = std::env::temp_dir().join(format!(
            "hubdeck-outage-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&root).expect("cluster root");
        let mut cluster =
            LocalCluster::new(bins, &root, free_port().expect("port")).expect("cluster");
        cluster.unsafe_fast = true;
        cluster.init().unwrap_or_else(|e| panic!("initdb: {e}"));
        cluster
            .start_daemon()
            .unwrap_or_else(|e| panic!("start: {e}"));
        Self { cluster, root }
    }

    /// A migrated database on this cluster.
    pub async fn database(&self, name: &str) -> TestDb {
        self.cluster
            .wait_ready(Duration::from_secs(30))
            .await
            .expect("ready");
        let admin = sqlx::PgPool::connect(&self.cluster.url("postgres"))
            .await
            .expect("connect postgres");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create database");
        admin.close().await;
        let url = self.cluster.url(name);
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await
            .expect("connect")
            .into();
        hubdeck::store::migrate(&pool).await.expect("migrate");
        TestDb {
            pool,
            name: name.into(),
            url,
        }
    }

    pub fn stop(&self) {
        self.cluster.stop().expect("stop the cluster");
    }

    pub fn restart(&self) {
        self.cluster
            .start_daemon()
            .expect("start the cluster again");
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.cluster.stop();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn outage_keeps_the_screen_and_the_form_and_recovers_without_a_restart() {
    let pg = PrivateCluster::start();
    let db = pg.database("outage").await;
    let s = services(&db).await;
    seed_operator(&s).await;
    sqlx::query(
        "INSERT INTO mandate (name, label, enabled) VALUES ('Acme Research', 'acme', true)",
    )
    .execute(&db.pool)
    .await
    .expect("seed mandate");
    db.pool.close().await;
    s.db.close().await;

    let t = start_signed_in(&db, &[]);
    t.wait_for(&["Acme Research", "rows 1–1 of 1"]);

    // The server goes away under the console.
    pg.stop();
    let cap = t.wait_for(&[
        "database unreachable since",
        "your screen and form input are kept",
    ]);
    assert!(
        cap.contains("Acme Research"),
        "the last data stays on screen:\n{cap}"
    );

    // The operator keeps working on a form during the outage.
    t.keys(&["n"]);
    t.wait_for(&["Create mandate"]);
    t.text("Outage Clinic");
    t.keys(&["Enter"]);
    // Refused before it is sent: the database is known to be unreachable; the form stays.
    let cap = t.wait_for(&["not sent", "Create mandate", "Outage Clinic"]);
    assert!(
        !cap.contains("failed"),
        "nothing was sent, so nothing failed:\n{cap}"
    );

    // The server comes back: the banner goes, the page reloads, the form text is still there.
    pg.restart();
    let cap = t.wait_gone(&["database unreachable since"]);
    assert!(
        cap.contains("Outage Clinic"),
        "the form input is kept:\n{cap}"
    );
    t.wait_for(&["Create mandate", "Outage Clinic"]);
    t.keys(&["Enter"]);
    t.wait_for(&["mandate Outage Clinic created"]);
    t.wait_for(&["Outage Clinic", "Acme Research", "rows 1–2 of 2"]);
    let check = sqlx::PgPool::connect(&db.url).await.expect("reconnect");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM mandate WHERE name = 'Outage Clinic'")
        .fetch_one(&check)
        .await
        .expect("count");
    assert_eq!(n, 1, "created exactly once, after the recovery");
    check.close().await;
    t.quit();
}

/// A change sent just before the connection broke: the console cannot know whether it
/// committed, so it says "outcome unknown" (never "failed"), keeps the form and its input,
/// and reads the page again once the database answers.
#[test]
fn a_change_whose_answer_was_lost_is_reported_as_unknown_and_the_form_is_kept() {
    use crate::tui_snapshots::{answer_all, app, ch, key, render, text_of, type_str};
    use crossterm::event::KeyCode;
    use hubdeck::tui::action::ErrorReport;
    use hubdeck::tui::msg::{Msg, Request};

    let mut a = app();
    answer_all(&mut a);
    a.update(ch('n'));
    type_str(&mut a, "Lost Answer Clinic");
    a.update(key(KeyCode::Enter));
    let id = a
        .take_requests()
        .into_iter()
        .find_map(|r| match r {
            Request::Op { id, .. } => Some(id),
            _ => None,
        })
        .expect("the create was sent");
    a.update(Msg::OpDone {
        id,
        result: Err(ErrorReport {
            chain: vec![
                "database unavailable: error communicating with database: Broken pipe".into(),
            ],
            connection_lost: true,
            ..Default::default()
        }),
    });
    let text = text_of(render(&a, 160, 48).backend().buffer());
    assert!(text.contains("outcome unknown"), "{text}");
    assert!(text.contains("may or may not have been saved"), "{text}");
    assert!(
        !text.contains("failed"),
        "an unknown outcome is never 'failed':\n{text}"
    );
    assert!(text.contains("database unreachable since"), "{text}");
    let form = a.form.as_ref().expect("the form stays open");
    assert_eq!(form.text(0), "Lost Answer Clinic");
    // The database answers again: the page is read again and the operator is told to check.
    a.update(Msg::Health {
        db: true,
        directory: true,
        latency: std::time::Duration::ZERO,
        approvals: None,
    });
    assert!(
        a.take_requests().iter().any(|r| matches!(
            r,
            Request::Page {
                list: "mandates",
                ..
            }
        )),
        "the page is read again after the recovery"
    );
    assert!(
        a.toasts
            .iter()
            .any(|t| t.text.contains("check") && t.text.contains("was saved")),
        "{:?}",
        a.toasts
    );
    assert!(a.outage_banner().is_none());
}
