//! How database errors reach the operator: through the real binary, a cause is printed once
//! however many layers (service → store → driver → server) carry it.

use crate::support::pg::fresh_db;

/// A role that may connect but read nothing: every command fails with the server's
/// "permission denied", a definitive error wrapped by the store, the service and the CLI.
#[tokio::test]
async fn a_database_error_through_the_cli_names_each_cause_once() {
    let t = fresh_db().await;
    let role = format!("{}_nobody", t.name);
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE ROLE {role} LOGIN")))
        .execute(&t.pool)
        .await
        .unwrap();
    assert!(t.url.contains("user=postgres"), "{}", t.url);
    let url = t.url.replace("user=postgres", &format!("user={role}"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hubdeck"))
        .arg("--database-url")
        .arg(&url)
        .args(["mandates", "list"])
        .env("HUBDECK_DIRECTORY__KIND", "local")
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("run hubdeck");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let cause = "permission denied for";
    assert_eq!(
        err.matches(cause).count(),
        1,
        "the server's cause is printed once: {err}"
    );
    assert!(err.starts_with("hubdeck: "), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}
