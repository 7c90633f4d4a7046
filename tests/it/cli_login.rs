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
        &[
            "mandates", "create", "--name", "Spoofed", "--output", "json",
        ],
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

/// The binary as a person on the bastion: no infrastructure route, the local directory, a
/// private data dir (where `hubdeck login` keeps the session), `stdin` fed to the prompts.
fn person(
    db: &pg::TestDb,
    data: &std::path::Path,
    args: &[&str],
    stdin: &str,
) -> (i32, String, String) {
    use std::io::Write;
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_hubdeck"));
    c.args(args)
        .args(["--database-url", &db.url])
        .env("HUBDECK_DIRECTORY__KIND", "local")
        .env("HUBDECK_DATA_DIR", data)
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
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const VIEWER: &str = "vera.viewer@hub.example";
const ADMIN: &str = "ada.admin@hub.example";
const PASSWORD: &str = "Correct-Horse-42";

async fn roles_of(db: &pg::TestDb, sub: hubdeck::domain::UserSub) -> Vec<uuid::Uuid> {
    sqlx::query_scalar("SELECT role_id FROM user_role WHERE user_id = $1 ORDER BY role_id")
        .bind(sub)
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

fn session_files(data: &std::path::Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(data.join("sessions")) {
        Ok(rd) => rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "session"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test]
async fn a_signed_in_viewer_is_refused_a_grant_and_an_admin_is_audited_as_themselves() {
    use hubdeck::domain::RoleRef;
    use std::os::unix::fs::PermissionsExt;
    let db = pg::fresh_db().await;
    let s = crate::tui_e2e::services(&db).await;
    let viewer =
        crate::tui_e2e::seed_identity(&s, VIEWER, Some(PASSWORD), Some(RoleRef::Viewer)).await;
    let admin =
        crate::tui_e2e::seed_identity(&s, ADMIN, Some(PASSWORD), Some(RoleRef::Admin)).await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path();

    // Not signed in: reads and mutations alike say how to sign in.
    let (code, _, err) = person(&db, data, &["users", "list"], "");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("not signed in: run `hubdeck login"), "{err}");

    // The viewer signs in (the password read from stdin, as a script would give it).
    let (code, _, err) = person(
        &db,
        data,
        &["login", "--email", VIEWER],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        !err.contains(PASSWORD),
        "the password is never echoed: {err}"
    );
    let files = session_files(data);
    assert_eq!(files.len(), 1, "{files:?}");
    let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let on_disk = std::fs::read_to_string(&files[0]).unwrap();
    assert!(!on_disk.contains(PASSWORD), "the password is never kept");

    // The command acts as the viewer: a grant to themselves is refused, naming the viewer.
    let (code, _, err) = person(
        &db,
        data,
        &["users", "set-roles", "--user", VIEWER, "--role", "admin"],
        "",
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains(VIEWER), "the refusal names the viewer: {err}");
    assert_eq!(roles_of(&db, viewer).await, vec![RoleRef::Viewer.id()]);
    // The infrastructure identity is not there for the asking.
    let (code, _, err) = person(
        &db,
        data,
        &[
            "--as-infrastructure",
            "users",
            "set-roles",
            "--user",
            VIEWER,
            "--role",
            "admin",
        ],
        "",
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("cli.infrastructure"), "{err}");
    assert_eq!(roles_of(&db, viewer).await, vec![RoleRef::Viewer.id()]);

    // Logout ends it here and on the server.
    let (code, _, err) = person(&db, data, &["logout"], "");
    assert_eq!(code, 0, "{err}");
    assert!(session_files(data).is_empty());
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM cli_session WHERE sub = $1")
        .bind(viewer)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(live, 0, "logout removes the server-side session");
    let (code, _, err) = person(&db, data, &["users", "list"], "");
    assert_eq!(code, 4, "{err}");

    // The admin signs in and grants; the audit row names the admin, via the CLI, with the
    // real OS account.
    let (code, _, err) = person(
        &db,
        data,
        &["login", "--email", ADMIN],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = person(
        &db,
        data,
        &[
            "users",
            "set-roles",
            "--user",
            VIEWER,
            "--role",
            "researcher",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(roles_of(&db, viewer).await, vec![RoleRef::Researcher.id()]);
    let (by, via, os_user): (Option<uuid::Uuid>, String, Option<String>) = sqlx::query_as(
        "SELECT modified_by_user_id, via, os_user FROM users_audit \
         WHERE user_id = $1 AND action = 'Updated user roles'",
    )
    .bind(viewer)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(by, Some(admin.as_uuid()));
    assert_eq!(via, "cli");
    assert_eq!(os_user, Some(cli::real_account()));
}

#[tokio::test]
async fn an_expired_removed_or_exposed_session_is_refused() {
    use hubdeck::domain::RoleRef;
    use std::os::unix::fs::PermissionsExt;
    let db = pg::fresh_db().await;
    let s = crate::tui_e2e::services(&db).await;
    crate::tui_e2e::seed_identity(&s, ADMIN, Some(PASSWORD), Some(RoleRef::Admin)).await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path();
    let login = || {
        let (code, _, err) = person(
            &db,
            data,
            &["login", "--email", ADMIN],
            &format!("{PASSWORD}\n"),
        );
        assert_eq!(code, 0, "{err}");
    };
    let list = || person(&db, data, &["mandates", "list"], "");

    // A wrong password opens nothing.
    let (code, _, err) = person(&db, data, &["login", "--email", ADMIN], "Wrong-Horse-1\n");
    assert_ne!(code, 0, "{err}");
    assert!(session_files(data).is_empty());

    // Expired (by the database's clock).
    login();
    assert_eq!(list().0, 0, "{}", list().2);
    sqlx::query(
        "UPDATE cli_session SET created_at = now() - interval '2 hours', \
         expires_at = now() - interval '1 hour'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let (code, _, err) = list();
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("not signed in") && err.contains("expired"),
        "{err}"
    );

    // Removed.
    login();
    assert_eq!(list().0, 0);
    for f in session_files(data) {
        std::fs::remove_file(f).unwrap();
    }
    let (code, _, err) = list();
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("not signed in"), "{err}");

    // Readable by others: not used.
    login();
    let file = session_files(data).pop().unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = list();
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("not private"), "{err}");
}

#[test]
fn doctor_warns_about_credential_files_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    std::fs::create_dir_all(data.join("sessions")).unwrap();
    let cfg = home.path().join("config.toml");
    // A database nobody listens on: the doctor still reports every line.
    std::fs::write(
        &cfg,
        "[database]\nurl = \"postgres://hub:pa55-w0rd@127.0.0.1:9/hub\"\nconnect_timeout_secs = 1\n\
         [directory]\nkind = \"local\"\n",
    )
    .unwrap();
    let session = data.join(format!("sessions/default.{}.session", cli::real_account()));
    std::fs::write(&session, "{}").unwrap();
    let doctor = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hubdeck"))
            .args([
                "--config",
                cfg.to_str().unwrap(),
                "doctor",
                "--output",
                "json",
            ])
            .env("HUBDECK_DATA_DIR", &data)
            .env_remove("HUBDECK_ENV")
            .env_remove("SUDO_USER")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let v: serde_json::Value = serde_json::from_str(&text).expect("doctor JSON");
        let check = |id: &str| {
            v["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == id)
                .unwrap_or_else(|| panic!("no {id} check: {text}"))
                .clone()
        };
        (check("files.config"), check("files.session"), text)
    };
    let set = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };

    set(&cfg, 0o644);
    set(&session, 0o640);
    let (config, sess, text) = doctor();
    assert_eq!(config["status"], "warn", "{text}");
    let detail = config["detail"].as_str().unwrap();
    assert!(
        detail.contains("mode 644") && detail.contains("database.url"),
        "{detail}"
    );
    assert!(
        !text.contains("pa55-w0rd"),
        "the doctor never repeats the password: {text}"
    );
    assert_eq!(sess["status"], "warn", "{text}");

    set(&cfg, 0o600);
    set(&session, 0o600);
    let (config, sess, text) = doctor();
    assert_eq!(config["status"], "pass", "{text}");
    assert_eq!(sess["status"], "pass", "{text}");
}

/// OS accounts made for one test and removed afterwards (with their sudoers rule).
struct Accounts {
    names: Vec<String>,
    sudoers: Option<std::path::PathBuf>,
}

impl Drop for Accounts {
    fn drop(&mut self) {
        if let Some(f) = &self.sudoers {
            let _ = std::fs::remove_file(f);
        }
        for n in &self.names {
            let _ = std::process::Command::new("userdel")
                .args(["-r", n])
                .output();
        }
    }
}

/// `runuser -u ACCOUNT -- ARGS` with a clean environment: (exit code, stdout, stderr).
fn run_as(account: &str, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new("runuser")
        .args(["-u", account, "--"])
        .args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("runuser runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn doctor_check(stdout: &str, id: &str) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("doctor JSON ({e}): {stdout}"));
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id}: {stdout}"))
        .clone()
}

/// The shared-bastion layout with real OS accounts: a service account owns the config holding
/// the database password (0600); an operator cannot read it, yet uses the CLI through
/// `sudo -u <service account>`, where commands act as the operator's own `hubdeck login`
/// session (none yet: told how to sign in) and the infrastructure identity stays off.
#[test]
fn bastion_operator_cannot_read_the_credentials_yet_uses_the_cli_through_sudo() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        panic!(
            "this test creates a service and an operator account with useradd and a sudoers \
             rule, so it must run as root (./test.sh does in CI); run it as root"
        );
    }
    for tool in ["useradd", "userdel", "runuser", "sudo"] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap()
            .status
            .success();
        if !found {
            crate::support::fail_missing(tool, "install it (scripts/setup.sh sudo)");
        }
    }
    let tag = std::process::id() % 1_000_000;
    let svc = format!("hdsvc{tag}");
    let op = format!("hdop{tag}");
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut accounts = Accounts {
        names: Vec::new(),
        sudoers: None,
    };
    for name in [&svc, &op] {
        let home = root.path().join(name);
        let out = std::process::Command::new("useradd")
            .args(["-m", "-d", home.to_str().unwrap(), "-s", "/bin/sh", name])
            .output()
            .unwrap();
        assert!(out.status.success(), "useradd {name}: {out:?}");
        accounts.names.push(name.clone());
    }
    let bin = env!("CARGO_BIN_EXE_hubdeck");
    let rule = std::path::PathBuf::from(format!("/etc/sudoers.d/hubdeck-test-{tag}"));
    std::fs::write(&rule, format!("{op} ALL=({svc}) NOPASSWD: {bin}\n")).unwrap();
    std::fs::set_permissions(&rule, std::fs::Permissions::from_mode(0o440)).unwrap();
    accounts.sudoers = Some(rule.clone());
    let check = std::process::Command::new("visudo")
        .args(["-cf", rule.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(check.status.success(), "sudoers rule: {check:?}");

    // The service account's config: the database password in it, 0600, in a 0700 directory.
    let etc = root.path().join(&svc).join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    let cfg = etc.join("config.toml");
    std::fs::write(
        &cfg,
        "default_env = \"prod\"\n\
         [database]\nurl = \"postgres://hub:pa55-w0rd@127.0.0.1:9/hub\"\nconnect_timeout_secs = 1\n\
         [directory]\nkind = \"local\"\n\
         [env.prod]\nui = { environment_color = \"red\" }\n",
    )
    .unwrap();
    let chown = std::process::Command::new("chown")
        .args(["-R", &format!("{svc}:{svc}"), etc.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(chown.status.success(), "{chown:?}");
    std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = cfg.to_str().unwrap();

    // The operator cannot read the credentials, directly or through hubdeck as themselves.
    let (code, out, err) = run_as(&op, &["cat", cfg]);
    assert_ne!(code, 0, "the operator read the config: {out}");
    assert!(err.contains("Permission denied"), "{err}");
    let (code, out, err) = run_as(&op, &[bin, "--config", cfg, "env", "list"]);
    assert_ne!(code, 0, "{out}");
    assert!(!out.contains("pa55") && !err.contains("pa55"), "{out}{err}");

    // Through the service account it works...
    let sudo = |args: &[&str]| {
        let mut all = vec!["sudo", "-n", "-u", svc.as_str(), bin, "--config", cfg];
        all.extend_from_slice(args);
        run_as(&op, &all)
    };
    let (code, out, err) = sudo(&["env", "current"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "prod");
    // ...as the operator's own session, which they do not have yet: told how to sign in.
    let (code, _, err) = sudo(&[
        "users",
        "set-roles",
        "--user",
        "me@x.example",
        "--role",
        "admin",
    ]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("not signed in: run `hubdeck login --env prod`"),
        "{err}"
    );
    // The infrastructure identity is off in this environment.
    let (code, _, err) = sudo(&["--as-infrastructure", "users", "list"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("cli.infrastructure"), "{err}");
    // The doctor, run the same way, finds the credentials private to the service account.
    let (_, out, err) = sudo(&["doctor", "--output", "json"]);
    let c = doctor_check(&out, "files.config");
    assert_eq!(c["status"], "pass", "{c}\n{err}");
    assert!(!out.contains("pa55"), "{out}");

    // Loosened, the doctor warns.
    std::fs::set_permissions(cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_, out, _) = sudo(&["doctor", "--output", "json"]);
    let c = doctor_check(&out, "files.config");
    assert_eq!(c["status"], "warn", "{c}");
    assert!(c["detail"].as_str().unwrap().contains("mode 644"), "{c}");
    drop(accounts);
}

#[tokio::test]
async fn login_asks_for_the_authenticator_code_when_the_account_has_one() {
    use hubdeck::domain::RoleRef;
    use hubdeck::domain::totp::{STEP_SECONDS, TotpSecret};
    let db = pg::fresh_db().await;
    let s = crate::tui_e2e::services(&db).await;
    let sub = crate::tui_e2e::seed_identity(&s, ADMIN, Some(PASSWORD), Some(RoleRef::Admin)).await;
    let secret = TotpSecret::generate();
    hubdeck::store::local_totp::set_verified(&db.pool, sub, &secret)
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let data = home.path();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    // Far enough from a step boundary that the verifier sees the same step.
    if now() % STEP_SECONDS >= STEP_SECONDS - 3 {
        tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    }
    let code = secret.code_at(now()).expose().to_string();
    let wrong: String = code
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                if c == '9' { '0' } else { '9' }
            } else {
                c
            }
        })
        .collect();

    let (code_rc, _, err) = person(
        &db,
        data,
        &["login", "--email", ADMIN],
        &format!("{PASSWORD}\n{wrong}\n"),
    );
    assert_ne!(code_rc, 0, "a wrong code opens nothing: {err}");
    assert!(session_files(data).is_empty());

    let (code_rc, _, err) = person(
        &db,
        data,
        &["login", "--email", ADMIN],
        &format!("{PASSWORD}\n{code}\n"),
    );
    assert_eq!(code_rc, 0, "{err}");
    assert_eq!(session_files(data).len(), 1);
    let (rc, _, err) = person(&db, data, &["mandates", "list"], "");
    assert_eq!(rc, 0, "{err}");
}
