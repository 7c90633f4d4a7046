//! `hubdeck directory sync` progress against the Cognito emulator: a real progress bar on a
//! terminal (tmux), plain lines otherwise, the JSON summary unchanged.

use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider as cip;
use futures::StreamExt;

use crate::support::{moto, pg};

/// A fresh pool holding `n` users; returns (pool id, client id).
async fn pool_with_users(n: usize) -> (String, String) {
    let admin = hubdeck::directory::cognito::sdk_client(&moto::directory_settings(
        &moto::moto().endpoint,
        "",
        "",
    ))
    .await;
    let (pool_id, client_id) = moto::fresh_pool(&admin).await;
    let created: Vec<()> = futures::stream::iter(0..n)
        .map(|i| {
            let admin = admin.clone();
            let pool_id = pool_id.clone();
            async move {
                let email = format!("sync{i:04}@example.org");
                admin
                    .admin_create_user()
                    .user_pool_id(&pool_id)
                    .username(&email)
                    .user_attributes(
                        cip::types::AttributeType::builder()
                            .name("email")
                            .value(&email)
                            .build()
                            .unwrap(),
                    )
                    .message_action(cip::types::MessageActionType::Suppress)
                    .send()
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(created.len(), n);
    (pool_id, client_id)
}

fn cognito_env<'a>(db: &'a str, pool: &'a str, client: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("HUBDECK_DATABASE__URL", db),
        ("HUBDECK_DIRECTORY__KIND", "cognito"),
        ("HUBDECK_DIRECTORY__REGION", "eu-west-2"),
        ("HUBDECK_DIRECTORY__USER_POOL_ID", pool),
        ("HUBDECK_DIRECTORY__CLIENT_ID", client),
        ("HUBDECK_DIRECTORY__ENDPOINT_URL", &moto::moto().endpoint),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
}

/// The percentages `(NN%)` on a capture.
fn percents(screen: &str) -> Vec<u64> {
    screen
        .match_indices("%)")
        .filter_map(|(i, _)| {
            let head = &screen[..i];
            let start = head.rfind('(')? + 1;
            head[start..].trim().parse().ok()
        })
        .collect()
}

#[tokio::test]
async fn sync_of_1000_users_shows_a_progress_bar_reaching_100_percent() {
    let db = pg::fresh_db().await;
    let (pool, client) = pool_with_users(1000).await;
    let mut env = cognito_env(&db.url, &pool, &client);
    // 17 ListUsers pages at 4 requests/s: about 4 s, long enough to see the bar move.
    env.push(("HUBDECK_DIRECTORY__USER_LIST_RPS", "4"));
    env.push(crate::support::cli::INFRA_ENV);
    let t = crate::tui_e2e::Tmux::start(
        &[crate::support::cli::INFRA_FLAG, "directory", "sync"],
        &env,
    );

    // While it runs: a bar with a total from the pool's estimate, a rate and an ETA.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen_partial = None;
    let mut last = String::new();
    while Instant::now() < deadline {
        last = t.capture();
        if let Some(p) = percents(&last).into_iter().find(|p| (1..100).contains(p)) {
            seen_partial = Some((p, last.clone()));
            break;
        }
        if last.contains("__EXIT:") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (pct, partial) = seen_partial.unwrap_or_else(|| panic!("no partial progress:\n{last}"));
    assert!(
        partial.contains("/1,000"),
        "the total is the estimate:\n{partial}"
    );
    assert!(partial.contains("ETA"), "{partial}");
    assert!(partial.contains("/s"), "a rate:\n{partial}");
    assert!(pct < 100);

    // At the end: the bar stays at 100 % and the summary follows.
    let end = t.wait_for(&["__EXIT:0", "seen 1000"]);
    assert!(percents(&end).contains(&100), "{end}");
    assert!(end.contains("1,000/1,000"), "{end}");
    assert!(end.contains("pages 17"), "{end}");
}

#[tokio::test]
async fn sync_without_a_terminal_prints_plain_lines_and_the_same_json() {
    let db = pg::fresh_db().await;
    let (pool, client) = pool_with_users(130).await;
    let home = tempfile::tempdir().unwrap();
    let env = cognito_env(&db.url, &pool, &client);
    let out = crate::env::hubdeck_in(
        home.path(),
        &["directory", "sync", "--output", "json"],
        &env,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // No terminal: no bar drawing (no carriage returns or escapes), one line per tenth.
    assert!(
        !stderr.contains('\r') && !stderr.contains('\u{1b}'),
        "{stderr:?}"
    );
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("directory sync: "))
        .collect();
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("directory sync: 130/130 (100%)")),
        "{stderr}"
    );
    assert!(lines.len() >= 2, "{stderr}");
    assert!(
        lines.iter().all(|l| l.contains("/s") && l.contains("ETA")),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"pages": 3, "seen": 130, "upserted": 130, "marked_gone": 0})
    );
}
