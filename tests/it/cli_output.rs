//! The CLI as a good citizen, tested through the real binary: a closed stdout ends quietly,
//! a missing AWS credential chain is one line with the remedy, untrusted names come out
//! escaped in table and JSON output, and tables stay aligned by display width.

use std::process::{Command, Output};

use hubdeck::domain::text::display_width;

use crate::support::pg;

const BIN: &str = env!("CARGO_BIN_EXE_hubdeck");

/// The binary with a clean environment: no AWS variables, no config file, a private HOME.
fn hubdeck(home: &std::path::Path) -> Command {
    let mut c = crate::support::cli::infra();
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
        .env("HUBDECK_DIRECTORY__KIND", "local")
        .env("RUST_BACKTRACE", "1");
    c
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn insert_mandates(pool: &hubdeck::store::Db, n: i32, name_len: usize) {
    sqlx::query(
        "INSERT INTO mandate (name, label) \
         SELECT 'Mandate ' || lpad(g::text, 5, '0') || ' ' || repeat('x', $2), repeat('l', $2) \
         FROM generate_series(1, $1) g",
    )
    .bind(n)
    .bind(name_len as i32)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn closed_stdout_ends_quietly() {
    let db = pg::fresh_db().await;
    // Well over a pipe's 64 KiB in either format, so the writer must meet the closed pipe.
    insert_mandates(&db.pool, 500, 200).await;
    sqlx::query(
        "INSERT INTO users_audit (action, user_id) \
         SELECT 'BULK', gen_random_uuid() FROM generate_series(1, 3000)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    for (format, command) in [
        ("table", "mandates list --page-size 500 --output table"),
        ("json", "mandates list --page-size 500 --output json"),
        ("csv", "audit export --format csv"),
    ] {
        let err_file = home.path().join(format!("stderr-{format}"));
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(
                "set -o pipefail; \"$BIN\" --as-infrastructure $COMMAND \
                 --database-url \"$URL\" 2>\"$ERR\" | head -c 100 >/dev/null; \
                 echo \"rc=${PIPESTATUS[0]}\"",
            )
            .env("BIN", BIN)
            .env("COMMAND", command)
            .env("URL", &db.url)
            .env("ERR", &err_file);
        // The same clean environment as the binary itself gets.
        let probe = hubdeck(home.path());
        for (k, v) in probe.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let out = cmd.output().unwrap();
        let (stdout, _) = text(&out);
        let stderr = std::fs::read_to_string(&err_file).unwrap();
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{format}: {stderr}"
        );
        assert!(
            !stderr.contains("Broken pipe") && !stderr.contains("hubdeck:"),
            "{format}: a closed stdout is not an error: {stderr}"
        );
        assert_eq!(stdout.trim(), "rc=0", "{format}: {stderr}");
    }
}

#[tokio::test]
async fn directory_command_without_aws_credentials_is_one_line_with_the_remedy() {
    let db = pg::fresh_db().await;
    let home = tempfile::tempdir().unwrap();
    // No credentials at all, and a profile that does not exist.
    for profile in [None, Some("no-such-profile")] {
        let mut cmd = hubdeck(home.path());
        cmd.args(["directory", "sync", "--database-url", &db.url])
            .env("HUBDECK_DIRECTORY__KIND", "cognito")
            .env("HUBDECK_DIRECTORY__REGION", "eu-west-2")
            .env("HUBDECK_DIRECTORY__MAX_ATTEMPTS", "1")
            // No instance metadata on a test machine: do not wait for it.
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", home.path().join("aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                home.path().join("aws-credentials"),
            );
        if let Some(p) = profile {
            cmd.env("AWS_PROFILE", p);
        }
        let out = cmd.output().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{profile:?}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{profile:?}: one line, got:\n{stderr}");
        let line = lines[0];
        assert!(line.starts_with("hubdeck: "), "{line}");
        for remedy in [
            "AWS_PROFILE",
            "AWS_ACCESS_KEY_ID",
            "directory.kind = \"local\"",
        ] {
            assert!(
                line.contains(remedy),
                "{profile:?}: missing {remedy}: {line}"
            );
        }
        assert!(!line.contains('\x1b'), "{line}");
    }
}

/// Names as an attacker (or an old import) could have stored them, bypassing validation.
const HOSTILE: [&str; 4] = [
    "C1\u{9b}31mRed",
    "Bidi\u{202e}txt.exe",
    "Zero\u{200b}Width\u{2060}Join\u{feff}",
    "Tag\u{e0041}\u{e0042}",
];

#[tokio::test]
async fn untrusted_names_are_escaped_and_tables_stay_aligned() {
    let db = pg::fresh_db().await;
    for (i, name) in HOSTILE
        .iter()
        .copied()
        .chain(["東京医療センター", "Zoë Müller"])
        .enumerate()
    {
        sqlx::query("INSERT INTO mandate (name, label) VALUES ($1, $2)")
            .bind(name)
            .bind(format!("label{i}"))
            .execute(&db.pool)
            .await
            .unwrap();
    }
    let home = tempfile::tempdir().unwrap();
    let run = |format: &str| {
        let out = hubdeck(home.path())
            .args(["mandates", "list", "--output", format, "--sort", "label"])
            .args(["--database-url", &db.url])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        stdout
    };

    let table = run("table");
    let json = run("json");
    for out in [&table, &json] {
        assert!(
            !out.chars().any(|c| (c as u32) >= 0x7f
                && (c.is_control()
                    || hubdeck::domain::text::is_bidi_control(c)
                    || hubdeck::domain::text::is_invisible(c))),
            "raw control or invisible character in output:\n{out}"
        );
    }
    for escaped in [
        "C1\\x9b31mRed",
        "Bidi\\u{202e}txt.exe",
        "Zero\\u{200b}Width\\u{2060}Join\\u{feff}",
        "Tag\\u{e0041}\\u{e0042}",
    ] {
        assert!(table.contains(escaped), "missing {escaped} in\n{table}");
    }
    for escaped in [
        r"C1\u009b31mRed",
        r"Bidi\u202etxt.exe",
        r"Zero\u200bWidth\u2060Join\ufeff",
        r"Tag\udb40\udc41\udb40\udc42",
    ] {
        assert!(json.contains(escaped), "missing {escaped} in\n{json}");
    }
    // The JSON still means the stored names exactly.
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    let names: Vec<&str> = parsed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[..4], HOSTILE);
    assert_eq!(names[4], "東京医療センター");

    // Every row's second column (the label) starts at the same display column.
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 7, "{table}");
    let label_col = |l: &str| {
        let at = l.find("label").or_else(|| l.find("LABEL")).unwrap();
        display_width(&l[..at])
    };
    let first = label_col(lines[0]);
    for l in &lines {
        assert_eq!(label_col(l), first, "misaligned:\n{table}");
    }
}

#[tokio::test]
async fn logs_on_a_piped_stderr_carry_no_ansi_codes() {
    let db = pg::fresh_db().await;
    let home = tempfile::tempdir().unwrap();
    let out = hubdeck(home.path())
        .args(["mandates", "list", "--database-url", &db.url])
        .env("HUBDECK_LOG__LEVEL", "debug")
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("DEBUG"),
        "expected debug log lines on stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains('\x1b'),
        "ANSI codes in a piped log:\n{stderr}"
    );
}

fn mode_of(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn exports_logs_and_the_data_dir_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let db = pg::fresh_db().await;
    sqlx::query("INSERT INTO users_audit (action, user_id) VALUES ('DISABLED', gen_random_uuid())")
        .execute(&db.pool)
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();

    // An audit export: a new file, and one that already existed world-readable.
    let fresh = home.path().join("fresh.csv");
    let stale = home.path().join("stale.csv");
    std::fs::write(&stale, b"old").unwrap();
    std::fs::set_permissions(&stale, std::fs::Permissions::from_mode(0o644)).unwrap();
    for path in [&fresh, &stale] {
        let out = hubdeck(home.path())
            .args(["audit", "export", "--format", "csv", "--out"])
            .arg(path)
            .args(["--database-url", &db.url])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out).1);
        assert_eq!(mode_of(path), 0o600, "{}", path.display());
        assert!(std::fs::read_to_string(path).unwrap().contains("DISABLED"));
    }

    // The data dir (created by the demo command, which needs nothing else for --stop).
    let data = home.path().join("new/data");
    let out = hubdeck(home.path())
        .args(["demo", "--stop"])
        .env("HUBDECK_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(mode_of(&data), 0o700);

    // The console's log file.
    let t = crate::tui_e2e::Tmux::start(&["--database-url", &db.url], &[]);
    t.wait_for(&["Sign in", "Email"]);
    let log = t.data_dir.join("hubdeck.log");
    assert_eq!(mode_of(&log), 0o600);
}

#[tokio::test]
async fn names_with_invisible_characters_are_refused_naming_the_code_point() {
    let db = pg::fresh_db().await;
    let home = tempfile::tempdir().unwrap();
    let create = |name: &str| {
        hubdeck(home.path())
            .args([
                "mandates",
                "create",
                "--name",
                name,
                "--database-url",
                &db.url,
            ])
            .output()
            .unwrap()
    };
    let ok = create("Acme Imaging");
    assert!(ok.status.success(), "{}", text(&ok).1);
    for (name, cp) in [
        ("Acme\u{200b} Imaging", "U+200B"),
        ("Acme Imaging\u{2060}", "U+2060"),
        ("\u{feff}Acme Imaging", "U+FEFF"),
        ("Acme Ima\u{ad}ging", "U+00AD"),
        ("Acme Imaging\u{e0041}", "U+E0041"),
        ("Acme\u{3164}Imaging", "U+3164"),
    ] {
        let out = create(name);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{name:?}: {stderr}");
        assert!(stderr.contains(cp), "{name:?}: {stderr}");
        assert!(stderr.contains("invisible character"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM mandate")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "only the visible name was created");
}
