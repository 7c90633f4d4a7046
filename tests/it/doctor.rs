//! `hubdeck doctor` through the real binary against real PostgreSQL and the Cognito emulator:
//! green on a good setup; each broken piece gives its own failing line with the remedy and a
//! non-zero exit.

use aws_sdk_cognitoidentityprovider as cip;
use serde_json::Value;

use crate::support::{moto, pg};

struct Setup {
    db: pg::TestDb,
    pool: String,
    client: String,
    home: tempfile::TempDir,
}

async fn admin() -> cip::Client {
    hubdeck::directory::cognito::sdk_client(&moto::directory_settings(
        &moto::moto().endpoint,
        "",
        "",
    ))
    .await
}

async fn good_setup() -> Setup {
    let db = pg::fresh_db().await;
    let admin = admin().await;
    let (pool, client) = moto::fresh_pool(&admin).await;
    // The saga's proof-of-authorship marker (README, "Proof of authorship").
    admin
        .add_custom_attributes()
        .user_pool_id(&pool)
        .custom_attributes(
            cip::types::SchemaAttributeType::builder()
                .name(hubdeck::directory::REGISTRATION_ATTRIBUTE)
                .attribute_data_type(cip::types::AttributeDataType::String)
                .mutable(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    Setup {
        db,
        pool,
        client,
        home: tempfile::tempdir().unwrap(),
    }
}

impl Setup {
    fn vars(&self) -> Vec<(String, String)> {
        [
            ("HUBDECK_DATABASE__URL", self.db.url.as_str()),
            ("HUBDECK_DATABASE__CONNECT_TIMEOUT_SECS", "3"),
            ("HUBDECK_DIRECTORY__KIND", "cognito"),
            ("HUBDECK_DIRECTORY__REGION", "eu-west-2"),
            ("HUBDECK_DIRECTORY__USER_POOL_ID", self.pool.as_str()),
            ("HUBDECK_DIRECTORY__CLIENT_ID", self.client.as_str()),
            (
                "HUBDECK_DIRECTORY__ENDPOINT_URL",
                moto::moto().endpoint.as_str(),
            ),
            ("HUBDECK_DIRECTORY__MAX_ATTEMPTS", "1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Runs `hubdeck doctor [--output json]` with the setup's variables changed by `edit`.
    fn doctor(&self, json: bool, edit: impl FnOnce(&mut Vec<(String, String)>)) -> Doctor {
        let mut vars = self.vars();
        edit(&mut vars);
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let args: &[&str] = if json {
            &["doctor", "--output", "json"]
        } else {
            &["doctor"]
        };
        let out = crate::env::hubdeck_in(self.home.path(), args, &vars);
        Doctor {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn set(vars: &mut Vec<(String, String)>, k: &str, v: &str) {
    vars.retain(|(key, _)| key != k);
    vars.push((k.into(), v.into()));
}

struct Doctor {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Doctor {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", self.stdout, self.stderr))
    }
    /// (id, status) of every check.
    fn statuses(&self) -> Vec<(String, String)> {
        self.json()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap().to_string(),
                    c["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
    fn failing(&self) -> Vec<String> {
        self.statuses()
            .into_iter()
            .filter(|(_, s)| s == "fail")
            .map(|(id, _)| id)
            .collect()
    }
    fn check(&self, id: &str) -> Value {
        self.json()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no check {id}: {}", self.stdout))
    }
}

/// The one failing check `id`: its own line, a remedy containing `remedy`, exit 1; the text
/// output shows the line and the remedy under it.
fn assert_only_failure(d: &Doctor, id: &str, remedy: &str) {
    assert_eq!(d.code, Some(1), "{}\n{}", d.stdout, d.stderr);
    assert_eq!(d.failing(), vec![id.to_string()], "{}", d.stdout);
    assert_eq!(d.json()["ok"], false);
    let c = d.check(id);
    let r = c["remedy"].as_str().unwrap_or_default();
    assert!(r.contains(remedy), "remedy of {id}: {r}");
}

fn assert_text_line(
    s: &Setup,
    edit: impl FnOnce(&mut Vec<(String, String)>),
    id: &str,
    remedy: &str,
) {
    let d = s.doctor(false, edit);
    assert_eq!(d.code, Some(1));
    let lines: Vec<&str> = d.stdout.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.starts_with("FAIL") && l.split_whitespace().nth(1) == Some(id))
        .unwrap_or_else(|| panic!("no FAIL {id} line:\n{}", d.stdout));
    assert!(
        lines
            .get(i + 1)
            .is_some_and(|l| l.contains('→') && l.contains(remedy)),
        "remedy under the line:\n{}",
        d.stdout
    );
    assert!(d.stdout.contains("1 check(s) failed"), "{}", d.stdout);
}

#[tokio::test]
async fn doctor_is_green_on_a_good_setup() {
    let s = good_setup().await;
    let d = s.doctor(true, |_| {});
    assert_eq!(d.code, Some(0), "{}\n{}", d.stdout, d.stderr);
    assert_eq!(d.json()["ok"], true);
    let st = d.statuses();
    for want in [
        "config",
        "database",
        "database.version",
        "database.migrations",
        "clock.database",
        "kit_slots",
        "directory.credentials",
        "directory.pool",
        "directory.client",
        "directory.mfa",
        "clock.directory",
        "directory.registration_marker",
    ] {
        assert!(
            st.iter().any(|(id, s)| id == want && s == "pass"),
            "{want} not a pass: {}",
            d.stdout
        );
    }
    // Not measurable here (no terminal): skipped with the reason, never a pass.
    for (id, status) in &st {
        assert!(
            status == "pass" || status == "skip",
            "{id} {status}: {}",
            d.stdout
        );
    }
    assert_eq!(d.check("terminal")["status"], "skip");
    assert!(
        d.check("database.migrations")["detail"]
            .as_str()
            .unwrap()
            .starts_with("all ")
    );
    assert!(
        d.check("directory.client")["detail"]
            .as_str()
            .unwrap()
            .contains("allows ADMIN_USER_PASSWORD_AUTH")
    );

    let text = s.doctor(false, |_| {});
    assert_eq!(text.code, Some(0));
    assert!(
        text.stdout.contains("all needed checks pass"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .lines()
            .any(|l| l.starts_with("PASS  database ")),
        "{}",
        text.stdout
    );
    // The credentials are named by the tail of the access key only; the secret never shows.
    assert!(text.stdout.contains("access key …ting"), "{}", text.stdout);
    assert!(!text.stdout.contains("testing"), "{}", text.stdout);
}

#[tokio::test]
async fn doctor_database_down_fails_its_line_with_the_remedy() {
    let s = good_setup().await;
    let port = hubdeck::localpg::free_port().unwrap();
    let down = format!("postgres://hubdeck@127.0.0.1:{port}/hubdeck");
    let edit = |v: &mut Vec<(String, String)>| set(v, "HUBDECK_DATABASE__URL", &down);
    let d = s.doctor(true, edit);
    assert_only_failure(&d, "database", "start PostgreSQL or correct database.url");
    // What depends on the database says so instead of passing.
    for id in ["database.migrations", "clock.database", "kit_slots"] {
        assert_eq!(d.check(id)["status"], "skip", "{id}");
    }
    assert_text_line(&s, edit, "database", "start PostgreSQL");
}

#[tokio::test]
async fn doctor_pending_migration_fails_its_line_with_the_remedy() {
    let s = good_setup().await;
    let last: i64 = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
        .fetch_one(&s.db.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(last)
        .execute(&s.db.pool)
        .await
        .unwrap();
    let d = s.doctor(true, |_| {});
    assert_only_failure(&d, "database.migrations", "hubdeck migrate");
    let detail = d.check("database.migrations")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("1 of") && detail.contains(&last.to_string()),
        "{detail}"
    );
    assert_text_line(&s, |_| {}, "database.migrations", "hubdeck migrate");
}

#[tokio::test]
async fn doctor_client_without_the_auth_flow_fails_its_line_with_the_remedy() {
    let s = good_setup().await;
    let app = admin()
        .await
        .create_user_pool_client()
        .user_pool_id(&s.pool)
        .client_name("no-admin-auth")
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap();
    let id = app
        .user_pool_client()
        .and_then(|c| c.client_id())
        .unwrap()
        .to_string();
    let edit = |v: &mut Vec<(String, String)>| set(v, "HUBDECK_DIRECTORY__CLIENT_ID", &id);
    let d = s.doctor(true, edit);
    assert_only_failure(
        &d,
        "directory.client",
        "--explicit-auth-flows ALLOW_ADMIN_USER_PASSWORD_AUTH",
    );
    let detail = d.check("directory.client")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("ALLOW_REFRESH_TOKEN_AUTH"), "{detail}");
    assert_text_line(
        &s,
        edit,
        "directory.client",
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    );
}

#[tokio::test]
async fn doctor_without_credentials_fails_its_line_with_the_remedy() {
    let s = good_setup().await;
    let edit = |v: &mut Vec<(String, String)>| {
        v.retain(|(k, _)| !k.starts_with("AWS_ACCESS_KEY_ID") && !k.starts_with("AWS_SECRET"));
        // No profile files either (HOME is the test's empty directory).
        set(v, "AWS_CONFIG_FILE", "/nonexistent/aws-config");
        set(
            v,
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        );
    };
    let d = s.doctor(true, edit);
    assert_only_failure(&d, "directory.credentials", "AWS_PROFILE");
    for id in ["directory.pool", "directory.client", "directory.mfa"] {
        assert_eq!(d.check(id)["status"], "skip", "{id}");
    }
    assert_text_line(&s, edit, "directory.credentials", "AWS_ACCESS_KEY_ID");
}

#[tokio::test]
async fn doctor_pool_requiring_mfa_passes_and_a_broken_config_fails_its_line() {
    let s = good_setup().await;
    admin()
        .await
        .set_user_pool_mfa_config()
        .user_pool_id(&s.pool)
        .software_token_mfa_configuration(
            cip::types::SoftwareTokenMfaConfigType::builder()
                .enabled(true)
                .build(),
        )
        .mfa_configuration(cip::types::UserPoolMfaType::On)
        .send()
        .await
        .unwrap();
    // The console answers authenticator-app codes (and sets one up), so required MFA passes
    // and says what the operator will be asked for.
    let d = s.doctor(true, |_| {});
    assert_eq!(d.code, Some(0), "{}\n{}", d.stdout, d.stderr);
    let c = d.check("directory.mfa");
    assert_eq!(c["status"], "pass", "{c}");
    let detail = c["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("authenticator-app code"), "{detail}");

    // A config file with a typo: the config line fails, nothing else is attempted.
    let cfg = s.home.path().join("bad.toml");
    std::fs::write(&cfg, "[database]\nurll = \"x\"\n").unwrap();
    let out = crate::env::hubdeck_in(
        s.home.path(),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "doctor",
            "--output",
            "json",
        ],
        &[],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks[0]["id"], "config");
    assert_eq!(checks[0]["status"], "fail");
    assert!(
        checks[0]["detail"].as_str().unwrap().contains("urll"),
        "{v}"
    );
}

#[tokio::test]
async fn doctor_with_an_unknown_environment_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("c.toml");
    std::fs::write(&cfg, "[env.prod]\n[env.test]\n").unwrap();
    let out = crate::env::hubdeck_in(
        home.path(),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--env",
            "staging",
            "doctor",
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("FAIL  config")
            && l.contains("unknown environment \"staging\"; known environments: prod, test")),
        "{stdout}"
    );
}

/// In a real terminal (tmux) the terminal lines are checked, not skipped.
#[tokio::test]
async fn doctor_in_tmux_checks_the_terminal() {
    let s = good_setup().await;
    let vars = s.vars();
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let t = crate::tui_e2e::Tmux::start(&["doctor"], &env);
    let screen = t.wait_for(&["__EXIT:0", "all needed checks pass"]);
    for line in [
        "PASS  terminal.size ",
        "PASS  terminal.colours ",
        "PASS  terminal.paste ",
    ] {
        assert!(screen.contains(line), "{line}:\n{screen}");
    }
    // tmux's own default (set-clipboard external) lets OSC 52 through.
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("PASS  terminal.clipboard") && l.contains("tmux set-clipboard")),
        "{screen}"
    );
    assert!(!screen.contains("SKIP  terminal "), "{screen}");
}

#[tokio::test]
async fn doctor_warns_about_a_pool_without_the_registration_marker() {
    let db = pg::fresh_db().await;
    let (pool, client) = moto::fresh_pool(&admin().await).await;
    let s = Setup {
        db,
        pool,
        client,
        home: tempfile::tempdir().unwrap(),
    };
    let d = s.doctor(true, |_| {});
    // A warning, not a failure: registrations still work, with less to recover from.
    assert_eq!(d.code, Some(0), "{}", d.stdout);
    let c = d.check("directory.registration_marker");
    assert_eq!(c["status"], "warn", "{c}");
    assert!(
        c["remedy"]
            .as_str()
            .unwrap()
            .contains("add-custom-attributes"),
        "{c}"
    );
}
