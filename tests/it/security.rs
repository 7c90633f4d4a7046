//! What a security review of the CLI found, tested through the real binary: hostile text
//! stored in the database never reaches the terminal raw, secrets stay out of output and the
//! process list, read-only is honoured by every mutating command, destructive commands refuse
//! an ambiguous reference, times come from the database clock, and the log is rotated.

use std::process::{Command, Output};

use crate::support::pg;

const BIN: &str = env!("CARGO_BIN_EXE_hubdeck");

/// The binary with a clean environment: no AWS variables, no config file, a private HOME.
fn hubdeck(home: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_")
            || k.starts_with("HUBDECK_")
            || k.starts_with("XDG_")
            || k == "RUST_BACKTRACE"
        {
            c.env_remove(k);
        }
    }
    c.env("HOME", home)
        .env("HUBDECK_DATA_DIR", home.join("data"))
        .env("HUBDECK_DIRECTORY__KIND", "local");
    // These commands run unattended: the explicit infrastructure route (see support::cli).
    crate::support::cli::as_infrastructure(&mut c);
    c
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// Hostile text through every CLI print site
// ---------------------------------------------------------------------------------------------

/// Stored text an attacker controls (a name typed in another tool, an old import): ESC with a
/// colour sequence, the one-byte CSI (C1 U+009B), BEL, and the right-to-left override.
const HOSTILE: &str = "x\u{1b}[31mESC\u{9b}2JC1\u{7}BEL\u{202e}RLO";

/// The raw forms that must never reach a terminal.
fn raw_controls(bytes: &[u8]) -> Vec<&'static str> {
    let s = String::from_utf8_lossy(bytes);
    let mut found = Vec::new();
    // Only the stored sequence: on a terminal clap and the logs may colour their own text.
    if s.contains("\u{1b}[31mESC") {
        found.push("ESC");
    }
    if s.contains('\u{9b}') {
        found.push("C1 CSI");
    }
    if s.contains('\u{7}') {
        found.push("BEL");
    }
    if s.contains('\u{202e}') {
        found.push("RLO");
    }
    found
}

/// Stores [`HOSTILE`] in every field the CLI prints: role names, mandate names and role labels,
/// the profile, audit action/details/os_user, a trust's name and its kit slot's name.
async fn seed_hostile(pool: &hubdeck::store::Db) -> uuid::Uuid {
    let user = uuid::Uuid::new_v4();
    let q = |sql: &'static str| sqlx::query(sql).bind(user).bind(HOSTILE);
    for sql in [
        "INSERT INTO roles (id, name, description) VALUES (gen_random_uuid(), $2, $2)",
        "INSERT INTO user_role (user_id, role_id) SELECT $1, id FROM roles WHERE name = $2",
        "INSERT INTO user_profile (user_id, name, organisation) VALUES ($1, $2, $2)",
        "INSERT INTO mandate (name, label) VALUES ($2, $2)",
        "INSERT INTO mandate_role (label, mandate_id) SELECT $2, id FROM mandate WHERE name = $2",
        "INSERT INTO user_mandate (user_id, mandate_id) SELECT $1, id FROM mandate WHERE name = $2",
        "INSERT INTO user_mandate_role (user_mandate_id, mandate_role_id)
           SELECT um.id, mr.id FROM user_mandate um, mandate_role mr WHERE um.user_id = $1 AND mr.label = $2",
        "INSERT INTO users_audit (action, user_id, via, os_user, details)
           VALUES ($2, $1, 'cli', $2, jsonb_build_object('note', $2::text))",
        "INSERT INTO trust (name, code, api_key_hash) VALUES ($2, 'EVIL', repeat('a', 64))",
        "INSERT INTO trust (name, code, api_key_hash) VALUES ('Clean Trust', 'CLEAN', repeat('b', 64))",
        "INSERT INTO fl_kit_slot (slot_name, slot_number, assigned_to_trust_id, assigned_at)
           SELECT $2, 7, id, now() FROM trust WHERE code = 'CLEAN'",
    ] {
        q(sql).execute(pool).await.unwrap();
    }
    user
}

/// Runs `args` with stdout on a terminal (a pty from `script`), returning what it showed.
fn on_a_terminal(home: &std::path::Path, db_url: &str, args: &[&str]) -> Vec<u8> {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut line = format!("{} {}", quote(BIN), crate::support::cli::INFRA_FLAG);
    for a in args.iter().copied().chain(["--database-url", db_url]) {
        line.push(' ');
        line.push_str(&quote(a));
    }
    // `script` runs the command on a pty; -e passes its exit status through.
    let c = hubdeck(home);
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .envs(c.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?} on a terminal: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    out.stdout
}

#[tokio::test]
async fn every_cli_print_site_escapes_hostile_text() {
    let db = pg::fresh_db().await;
    let user = seed_hostile(&db.pool).await;
    let home = tempfile::tempdir().unwrap();
    let sub = user.to_string();
    let missing = format!("{HOSTILE}-missing");

    // Each command that prints stored (or typed) untrusted text, with stdout piped.
    let piped: Vec<Vec<&str>> = vec![
        vec!["users", "show", "--user", &sub],
        vec!["users", "show", "--user", &sub, "--output", "json"],
        vec!["users", "list"],
        vec!["users", "list", "--output", "json"],
        vec!["mandates", "list"],
        vec!["mandates", "list", "--output", "json"],
        vec!["trusts", "list"],
        vec!["trusts", "list", "--output", "json"],
        vec!["audit", "list"],
        vec!["audit", "list", "--output", "json"],
        vec!["audit", "export", "--format", "json"],
        // The existing trust's JSON (its kit slot's stored name is hostile).
        vec!["register-trust", "--name", "Clean Trust", "--code", "CLEAN"],
        // The error chain quotes what was typed.
        vec!["register-trust", "--name", HOSTILE, "--code", "NEW"],
        vec!["trusts", "show", HOSTILE],
        vec!["trusts", "show", "--output", "json", HOSTILE],
        vec!["kit-slots", "list"],
        vec!["mandates", "show", HOSTILE],
        vec!["trusts", "delete", &missing, "--yes"],
        vec!["users", "show", "--user", &missing],
    ];
    let mut failures = Vec::new();
    for args in &piped {
        let out = hubdeck(home.path())
            .args(args)
            .args(["--database-url", &db.url])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(!stderr.contains("Usage:"), "{args:?}: {stderr}");
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let raw = raw_controls(bytes);
            if !raw.is_empty() {
                failures.push(format!(
                    "{args:?}: raw {raw:?} on {stream}:\n{stdout}\n{stderr}"
                ));
            }
        }
    }
    // The JSON export still means the stored text exactly.
    let out = hubdeck(home.path())
        .args([
            "audit",
            "export",
            "--format",
            "json",
            "--database-url",
            &db.url,
        ])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        rows.to_string()
            .contains(&serde_json::to_string(HOSTILE).unwrap()[1..10]),
        "{rows}"
    );
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .any(|r| r.to_string().contains("ESC") && r["os_user"].as_str() == Some(HOSTILE)),
        "{rows}"
    );

    // On a terminal: the CSV and JSON export and the detail views.
    for args in [
        vec!["audit", "export", "--format", "csv"],
        vec!["audit", "export", "--format", "json"],
        vec!["users", "show", "--user", &sub],
    ] {
        let shown = on_a_terminal(home.path(), &db.url, &args);
        let raw = raw_controls(&shown);
        if !raw.is_empty() {
            failures.push(format!(
                "{args:?} on a terminal: raw {raw:?}:\n{}",
                String::from_utf8_lossy(&shown)
            ));
        } else {
            assert!(
                String::from_utf8_lossy(&shown).contains("ESC"),
                "{args:?} printed the row"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));

    // Piped, the CSV export keeps the exact stored text (it is data, not display).
    let out = hubdeck(home.path())
        .args([
            "audit",
            "export",
            "--format",
            "csv",
            "--database-url",
            &db.url,
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(HOSTILE));
}

// ---------------------------------------------------------------------------------------------
// Secrets: not in logs, errors, or the process list; config files holding them are private
// ---------------------------------------------------------------------------------------------

/// `url` with one more query parameter.
fn with_param(url: &str, kv: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{kv}")
}

#[tokio::test]
async fn an_sslpassword_in_the_url_is_refused_without_reaching_the_log() {
    let db = pg::fresh_db().await;
    let home = tempfile::tempdir().unwrap();
    let url = with_param(&db.url, "sslpassword=TOPSECRET-SSL");
    let out = hubdeck(home.path())
        .args(["mandates", "list"])
        .env("HUBDECK_DATABASE__URL", &url)
        .env("HUBDECK_LOG__LEVEL", "debug")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(
        !stdout.contains("TOPSECRET") && !stderr.contains("TOPSECRET"),
        "{stderr}"
    );
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("sslpassword"), "{stderr}");
}

fn write_private(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

#[test]
fn a_toml_syntax_error_on_the_url_line_never_echoes_the_password() {
    let home = tempfile::tempdir().unwrap();
    // The closing quote is missing: a parse error on the very line holding the password.
    let config = write_private(
        home.path(),
        "config.toml",
        "[ui]\nread_only = false\n[database]\nurl = \"postgres://app:TOPSECRET-TOML@db.example/hub\nmax_connections = 5\n",
    );
    for args in [
        &["mandates", "list"][..],
        &["doctor"][..],
        &["register-trust", "--name", "A", "--code", "AA"][..],
    ] {
        let out = hubdeck(home.path())
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(
            !stdout.contains("TOPSECRET") && !stderr.contains("TOPSECRET"),
            "{args:?}:\n{stdout}\n{stderr}"
        );
        // Still says where the mistake is.
        assert!(
            format!("{stdout}{stderr}").contains("line 4"),
            "{args:?}:\n{stdout}\n{stderr}"
        );
    }
}

#[tokio::test]
async fn database_url_file_keeps_the_password_out_of_the_process_list() {
    let db = pg::fresh_db().await;
    let home = tempfile::tempdir().unwrap();
    // The test cluster trusts local connections: the password is carried, never checked.
    let url = with_param(&db.url, "password=TOPSECRET-ARGV");

    let file = write_private(home.path(), "db-url", &format!("{url}\n"));
    let out = hubdeck(home.path())
        .args(["mandates", "list", "--database-url-file"])
        .arg(&file)
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");

    // On the command line it still works, with a warning that names the safer ways.
    let out = hubdeck(home.path())
        .args(["mandates", "list", "--database-url", &url])
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("process list"), "{stderr}");
    assert!(stderr.contains("--database-url-file"), "{stderr}");
    assert!(!stderr.contains("TOPSECRET"), "{stderr}");

    // A URL file others can read is used, with a warning.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = hubdeck(home.path())
        .args(["mandates", "list", "--database-url-file"])
        .arg(&file)
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("readable by group or others"), "{stderr}");

    // A missing file is an error naming the file, not a silent fallback.
    let out = hubdeck(home.path())
        .args(["mandates", "list", "--database-url-file"])
        .arg(home.path().join("nope"))
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");
}

#[tokio::test]
async fn a_config_file_holding_a_password_warns_when_others_can_read_it() {
    use std::os::unix::fs::PermissionsExt;
    let db = pg::fresh_db().await;
    let home = tempfile::tempdir().unwrap();
    let url = with_param(&db.url, "password=TOPSECRET-CONF");
    let config = write_private(
        home.path(),
        "config.toml",
        &format!("[database]\nurl = {}\n", toml::Value::String(url)),
    );
    let run = || {
        hubdeck(home.path())
            .arg("--config")
            .arg(&config)
            .args(["mandates", "list"])
            .output()
            .unwrap()
    };
    let out = run();
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("readable by"),
        "0600: no warning\n{stderr}"
    );

    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = run();
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("readable by group or others"), "{stderr}");
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(!stderr.contains("TOPSECRET"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Read-only honoured by every mutating command; directory sync audited, authorised, race-safe
// ---------------------------------------------------------------------------------------------

async fn count(pool: &hubdeck::store::Db, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// A new, empty database on the test cluster (nothing migrated yet).
async fn empty_database(db: &pg::TestDb) -> String {
    let name = format!("{}_empty", db.name);
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&db.pool)
        .await
        .unwrap();
    db.url
        .replacen(&format!("/{}", db.name), &format!("/{name}"), 1)
}

#[tokio::test]
async fn migrate_and_directory_sync_refuse_in_read_only_mode() {
    let db = pg::fresh_db().await;
    let home = tempfile::tempdir().unwrap();
    let empty = empty_database(&db).await;
    assert_ne!(empty, db.url);
    sqlx::query(
        "INSERT INTO local_identity (sub, username, email, status, enabled) \
         VALUES (gen_random_uuid(), 'a@example.org', 'a@example.org', 'CONFIRMED', true)",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    for (args, env, url) in [
        (&["--read-only", "migrate"][..], None, &empty),
        (
            &["migrate"][..],
            Some(("HUBDECK_UI__READ_ONLY", "true")),
            &empty,
        ),
        (&["--read-only", "directory", "sync"][..], None, &db.url),
        (
            &["directory", "sync"][..],
            Some(("HUBDECK_UI__READ_ONLY", "true")),
            &db.url,
        ),
    ] {
        let mut c = hubdeck(home.path());
        c.args(args).args(["--database-url", url]);
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(4), "{args:?} {env:?}: {stderr}");
        assert!(stderr.contains("read-only"), "{stderr}");
    }
    // Nothing was written: no schema in the empty database, nothing cached.
    let pool: hubdeck::store::Db = sqlx::PgPool::connect(&empty).await.unwrap().into();
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
        )
        .await,
        0
    );
    pool.close().await;
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM directory_user").await,
        0
    );

    // Writable: both work.
    let out = hubdeck(home.path())
        .args(["directory", "sync", "--database-url", &db.url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM directory_user").await,
        1
    );
}

#[tokio::test]
async fn directory_sync_audits_what_it_marks_gone_or_disabled() {
    let db = pg::fresh_db().await;
    let home = tempfile::tempdir().unwrap();
    sqlx::query(
        "INSERT INTO local_identity (sub, username, email, status, enabled) \
         SELECT gen_random_uuid(), 'u' || g || '@example.org', 'u' || g || '@example.org', \
                'CONFIRMED', true FROM generate_series(1, 5) g",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let sync = || {
        let out = hubdeck(home.path())
            .args(["directory", "sync", "--database-url", &db.url])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out).1);
    };
    sync();
    assert_eq!(count(&db.pool, "SELECT count(*) FROM users_audit").await, 0);
    let sub_of = |email: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, uuid::Uuid>("SELECT sub FROM local_identity WHERE email = $1")
                .bind(email)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let deleted = sub_of("u1@example.org").await;
    let disabled = sub_of("u2@example.org").await;
    sqlx::query("DELETE FROM local_identity WHERE sub = $1")
        .bind(deleted)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE local_identity SET enabled = false WHERE sub = $1")
        .bind(disabled)
        .execute(&db.pool)
        .await
        .unwrap();
    sync();
    let rows: Vec<(String, uuid::Uuid, String)> =
        sqlx::query_as("SELECT action, user_id, via FROM users_audit ORDER BY action")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                "DIRECTORY_DISABLED".to_string(),
                disabled,
                "cli".to_string()
            ),
            ("DIRECTORY_GONE".to_string(), deleted, "cli".to_string()),
        ]
    );
    // A sync that changes nothing writes nothing.
    sync();
    assert_eq!(count(&db.pool, "SELECT count(*) FROM users_audit").await, 2);
}

/// An operator whose grant was removed after sign-in is refused by the sync itself (fresh
/// authority in its transaction), and nothing is marked.
#[tokio::test]
async fn directory_sync_rechecks_the_operators_authority() {
    use hubdeck::domain::PermissionRef;
    let db = pg::fresh_db().await;
    let actor = crate::users::signed_in_with(
        &db.pool,
        "syncer@example.org",
        &[PermissionRef::CanManageUsers],
    )
    .await;
    let sub = match &actor {
        hubdeck::service::Actor::Operator(op) => op.sub,
        _ => unreachable!(),
    };
    // A cached identity the directory no longer has: a sync would mark it gone.
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status, synced_at) \
         VALUES (gen_random_uuid(), 'old@example.org', 'old@example.org', true, 'CONFIRMED', now() - interval '1 day')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("DELETE FROM user_role WHERE user_id = $1")
        .bind(sub)
        .execute(&db.pool)
        .await
        .unwrap();
    let svc = hubdeck::service::Services::new(
        db.pool.clone(),
        std::sync::Arc::new(hubdeck::directory::local::LocalDirectory::new(
            db.pool.clone(),
        )),
        std::sync::Arc::new(hubdeck::config::Settings::default()),
    );
    let e = svc.sync_directory(&actor, &mut |_| {}).await.unwrap_err();
    assert!(
        matches!(e, hubdeck::service::ServiceError::OperatorRevoked(_)),
        "{e:?}"
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM directory_user WHERE gone_at IS NOT NULL"
        )
        .await,
        0
    );
}

/// A write that lands while a sync runs (here: a sign-in clears a stale "gone" mark, proving
/// the identity live) is newer than the sync's view: the sync must not mark it gone again.
#[tokio::test]
async fn a_sync_racing_a_write_never_marks_a_live_identity_gone() {
    let db = pg::fresh_db().await;
    let live = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status, gone_at, synced_at) \
         VALUES ($1, 'back@example.org', 'back@example.org', true, 'CONFIRMED', now() - interval '1 hour', now() - interval '1 day')",
    )
    .bind(live)
    .execute(&db.pool)
    .await
    .unwrap();
    let svc = hubdeck::service::Services::new(
        db.pool.clone(),
        std::sync::Arc::new(hubdeck::directory::local::LocalDirectory::new(
            db.pool.clone(),
        )),
        std::sync::Arc::new(hubdeck::config::Settings::default()),
    );
    let psql = hubdeck::localpg::PgBinaries::locate().unwrap().bin("psql");
    let url = db.url.clone();
    // After the sync has read the whole directory and before it marks anything: another
    // session (another operator's hubdeck) records the sign-in.
    let mut on_progress = |p: hubdeck::service::directory_sync::SyncProgress| {
        if p.done {
            let out = std::process::Command::new(&psql)
                .arg(&url)
                .args(["-Atc", &format!(
                    "UPDATE directory_user SET enabled = true, gone_at = NULL, updated_at = now() WHERE sub = '{live}'"
                )])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    let report = svc
        .sync_directory(&hubdeck::service::Actor::cli(), &mut on_progress)
        .await
        .unwrap();
    assert_eq!(report.marked_gone, 0, "{report:?}");
    let gone: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT gone_at FROM directory_user WHERE sub = $1")
            .bind(live)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(gone, None);
}

// ---------------------------------------------------------------------------------------------
// Destructive commands refuse an ambiguous reference
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn trusts_delete_refuses_a_reference_matching_one_trusts_code_and_anothers_name() {
    let db = pg::fresh_db().await;
    let home = tempfile::tempdir().unwrap();
    let insert = |name: &'static str, code: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, uuid::Uuid>(
                "INSERT INTO trust (name, code, api_key_hash) VALUES ($1, $2, repeat('c', 64)) RETURNING id",
            )
            .bind(name)
            .bind(code)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let by_code = insert("NHS Alpha", "NHS-A").await;
    let by_name = insert("nhs-a", "NHSB").await;
    let run = |args: &[&str]| {
        hubdeck(home.path())
            .args(args)
            .args(["--database-url", &db.url])
            .output()
            .unwrap()
    };
    let exists = |id: uuid::Uuid| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM trust WHERE id = $1)")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };

    for args in [
        &["trusts", "delete", "nhs-a", "--yes"][..],
        &["trusts", "rotate-key", "nhs-a"][..],
        &["trusts", "rotate-internal-key", "nhs-a"][..],
    ] {
        let out = run(args);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        for needle in ["code matches", "NHS Alpha", "name matches", "name:"] {
            assert!(stderr.contains(needle), "{args:?}: {needle} in {stderr}");
        }
    }
    assert!(
        exists(by_code).await && exists(by_name).await,
        "nothing deleted"
    );
    let audits = count(&db.pool, "SELECT count(*) FROM trusts_audit").await;
    assert_eq!(audits, 0, "nothing rotated");

    // The explicit form picks the one meant.
    let out = run(&["trusts", "delete", "name:nhs-a", "--yes"]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(exists(by_code).await && !exists(by_name).await);
    // Now only one trust matches: the plain reference works again.
    let out = run(&["trusts", "delete", "nhs-a", "--yes"]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(!exists(by_code).await);
}

#[tokio::test]
async fn mandates_delete_refuses_a_reference_that_is_one_mandates_id_and_anothers_name() {
    let db = pg::fresh_db().await;
    let home = tempfile::tempdir().unwrap();
    let first: uuid::Uuid =
        sqlx::query_scalar("INSERT INTO mandate (name) VALUES ('First') RETURNING id")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let second: uuid::Uuid =
        sqlx::query_scalar("INSERT INTO mandate (name) VALUES ($1) RETURNING id")
            .bind(first.to_string())
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let run = |args: &[&str]| {
        hubdeck(home.path())
            .args(args)
            .args(["--database-url", &db.url])
            .output()
            .unwrap()
    };
    let deleted = |id: uuid::Uuid| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, bool>(
                "SELECT deleted_at IS NOT NULL FROM mandate WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let reference = first.to_string();
    let out = run(&["mandates", "delete", &reference]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("id matches") && stderr.contains("name matches"),
        "{stderr}"
    );
    assert!(!deleted(first).await && !deleted(second).await);

    let out = run(&["mandates", "delete", &format!("name:{reference}")]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(!deleted(first).await && deleted(second).await);
    let out = run(&["mandates", "delete", &format!("id:{reference}")]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(deleted(first).await);
}

// ---------------------------------------------------------------------------------------------
// One clock: the database decides times, whatever the client's clock says
// ---------------------------------------------------------------------------------------------

/// The binary with its clock `offset` off (libfaketime, e.g. "-30d"): a bastion whose clock
/// drifted. Timers (the monotonic clock) stay real.
fn skewed(home: &std::path::Path, offset: &str) -> Command {
    let plain = hubdeck(home);
    let mut c = Command::new("faketime");
    c.args(["-f", offset, BIN, crate::support::cli::INFRA_FLAG]);
    for (k, v) in plain.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    c
}

#[tokio::test]
async fn key_ages_and_heartbeats_come_from_the_database_clock() {
    let db = pg::fresh_db().await;
    let home = tempfile::tempdir().unwrap();
    sqlx::query(
        "INSERT INTO trust (name, code, api_key_hash, last_heartbeat) \
         VALUES ('Old Keys', 'OLD', repeat('d', 64), now() - interval '3 hours')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    // The API key minted 400 days ago; the internal key stamped 3 days in the database's
    // future (a clock stepped back since): an age is never negative.
    sqlx::query(
        "UPDATE trust SET api_key_rotated_at = now() - interval '400 days', \
           internal_key_rotated_at = now() + interval '3 days' WHERE code = 'OLD'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    for offset in ["-30d", "+30d"] {
        let out = skewed(home.path(), offset)
            .args(["trusts", "show", "OLD", "--output", "json"])
            .args(["--database-url", &db.url])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{offset}: {stderr}");
        let d: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(d["api_key_age_days"], 400, "{offset}: {stdout}");
        assert_eq!(d["internal_key_age_days"], 0, "{offset}: {stdout}");

        let out = skewed(home.path(), offset)
            .args(["trusts", "show", "OLD", "--database-url", &db.url])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{offset}: {stderr}");
        assert!(stdout.contains("3 h ago"), "{offset}: {stdout}");
        assert!(stdout.contains("400"), "{offset}: {stdout}");
        // Times shown say their zone.
        assert!(stdout.contains("UTC"), "{offset}: {stdout}");
    }
}

#[tokio::test]
async fn a_plan_change_stamps_both_subscriptions_with_the_database_clock() {
    let db = pg::fresh_db().await;
    let home = tempfile::tempdir().unwrap();
    let out = hubdeck(home.path())
        .args([
            "mandates", "create", "--name", "Clocked", "--plan", "STARTER",
        ])
        .args(["--database-url", &db.url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let out = skewed(home.path(), "-30d")
        .args([
            "mandates",
            "plan",
            "Clocked",
            "TEAM",
            "--database-url",
            &db.url,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let (ended, started, db_now): (
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
    ) = sqlx::query_as(
        "SELECT old.current_period_end, new.started_at, now() FROM mandate_subscription old \
           JOIN mandate_subscription new ON new.mandate_id = old.mandate_id \
          WHERE old.status = 'canceled' AND new.status <> 'canceled'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    // One transaction, one clock: the old period ends when the new one starts.
    assert_eq!(ended, started);
    assert!(ended <= db_now);

    // Times shown in tables say their zone.
    for args in [["mandates", "list"], ["audit", "list"]] {
        let out = hubdeck(home.path())
            .args(args)
            .args(["--database-url", &db.url])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stdout.lines().next().unwrap_or("").contains("(UTC)"),
            "{stdout}"
        );
    }
}

/// The expired-invitation drift is listed by the database's clock; its repair re-checks by the
/// same clock, so a client whose clock lags does not call a listed invitation "still valid".
#[tokio::test]
async fn an_expired_invitation_is_rechecked_by_the_database_clock() {
    let db = pg::fresh_db().await;
    let home = tempfile::tempdir().unwrap();
    let sub = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO local_identity (sub, username, email, status, enabled) \
         VALUES ($1, 'late@example.org', 'late@example.org', 'FORCE_CHANGE_PASSWORD', true)",
    )
    .bind(sub)
    .execute(&db.pool)
    .await
    .unwrap();
    // Invited 10 days ago by the database's clock; the temporary password lasts 7 days.
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status, synced_at, created_at) \
         VALUES ($1, 'late@example.org', 'late@example.org', true, 'FORCE_CHANGE_PASSWORD', now(), now() - interval '10 days')",
    )
    .bind(sub)
    .execute(&db.pool)
    .await
    .unwrap();
    let target = format!("expired-invitations:{sub}");
    for offset in ["-30d", "+0d"] {
        let out = skewed(home.path(), offset)
            .args([
                "users",
                "drift",
                "--repair",
                &target,
                "--database-url",
                &db.url,
            ])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{offset}: {stdout}\n{stderr}");
        assert!(stdout.contains("never signed in"), "{offset}: {stdout}");
        assert!(!stdout.contains("still within"), "{offset}: {stdout}");
    }
}

// ---------------------------------------------------------------------------------------------
// The console's log is rotated by size
// ---------------------------------------------------------------------------------------------

fn mode_of(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The real console (tmux) logging at debug with a tiny `log.max_bytes`: the file left from an
/// earlier session is rotated away, at most `log.keep` rotated files stay, every file is 0600
/// and none grows past the limit by more than one entry.
#[tokio::test]
async fn the_console_log_is_rotated_by_size_keeping_n_files() {
    let db = pg::fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("console.log");
    // An earlier session's log, well past the limit.
    let earlier = "EARLIER SESSION\n".repeat(4096);
    std::fs::write(&log, &earlier).unwrap();
    let log_s = log.display().to_string();
    let rotated = |n: u32| std::path::PathBuf::from(format!("{log_s}.{n}"));
    let t = crate::tui_e2e::Tmux::start(
        &["--database-url", &db.url],
        &[
            ("HUBDECK_LOG__FILE", log_s.as_str()),
            ("HUBDECK_LOG__LEVEL", "trace"),
            ("HUBDECK_LOG__MAX_BYTES", "600"),
            ("HUBDECK_LOG__KEEP", "2"),
        ],
    );
    // Enough log entries for the earlier file to pass through .1 and .2 and be dropped.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let earlier_gone = || {
        [log.clone(), rotated(1), rotated(2)]
            .iter()
            .all(|p| std::fs::read_to_string(p).map_or(true, |s| !s.contains("EARLIER SESSION")))
    };
    while !(earlier_gone() && rotated(2).exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "not rotated: {:?}\n{}",
            std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect::<Vec<_>>(),
            t.capture()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The sign-in screen is up: end the session (the tmux server and the console with it).
    drop(t);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["console.log", "console.log.1", "console.log.2"]);
    for f in &files {
        let p = dir.path().join(f);
        assert_eq!(mode_of(&p), 0o600, "{f}");
        let text = std::fs::read_to_string(&p).unwrap();
        // Rotation happens before a write that would pass the limit: a file holds at most
        // the limit, or one entry when that entry alone is longer.
        let longest = text.lines().map(|l| l.len() + 1).max().unwrap_or(0) as u64;
        let len = std::fs::metadata(&p).unwrap().len();
        assert!(len <= 600.max(longest), "{f}: {len} bytes");
    }
}
