//! The CLI on a shared bastion: who the audit trail names, signed-in operators, and the
//! explicit infrastructure identity — all through the real binary.

use crate::support::{cli, pg};

/// Runs the binary as infrastructure on `db` with the local directory: (code, stdout, stderr).
fn infra(db: &pg::TestDb, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut c = cli::infra();
    c.args(args)
        .args(["--database-url", &db.url])
        .env("HUBDECK_DIRECTORY__KIND", "local")
        .env("HUBDECK_DATA_DIR", std::env::temp_dir())
        .env_remove("SUDO_USER")
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn audit_names_the_real_account_not_user_from_the_environment() {
    let db = pg::fresh_db().await;
    let (code, out, err) = infra(
        &db,
        &[("USER", "mallory"), ("LOGNAME", "mallory")],
        &["mandates", "create", "--name", "Spoofed", "--output", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id: uuid::Uuid = v["mandate"]["id"].as_str().unwrap().parse().unwrap();
    let (via, os_user): (String, Option<String>) = sqlx::query_as(
        "SELECT via, os_user FROM mandate_audit WHERE mandate_id = $1 AND action = 'MANDATE_CREATED'",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(via, "cli");
    let os_user = os_user.expect("the CLI records its OS account");
    assert!(
        !os_user.contains("mallory"),
        "USER from the environment reached the audit trail: {os_user:?}"
    );
    assert_eq!(os_user, cli::real_account());
}
