//! Environments (`[env.NAME]`, `--env`, `HUBDECK_ENV`, `hubdeck env list`) and the demo as an
//! environment, through the real binary against real PostgreSQL.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::pg;

/// The binary with a clean environment: only PATH, a private HOME/config/data dir and `vars`.
pub fn hubdeck_in(home: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hubdeck"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("HUBDECK_DATA_DIR", home.join("data"));
    crate::support::cli::as_infrastructure(&mut c).args(args);
    for (k, v) in vars {
        c.env(k, v);
    }
    c.output().expect("run hubdeck")
}

/// `hubdeck ARGS --database-url URL` with the embedded (local) directory, in an empty
/// environment under `home`: (exit code, stdout, stderr).
pub fn cli_local(home: &Path, url: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = args.to_vec();
    all.extend(["--database-url", url]);
    let out = hubdeck_in(home, &all, &[("HUBDECK_DIRECTORY__KIND", "local")]);
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn two_env_config(dir: &Path, alpha: &str, beta: &str) -> std::path::PathBuf {
    let p = dir.join("hubs.toml");
    std::fs::write(
        &p,
        format!(
            "[ui]\nenvironment = \"single\"\n\n\
             [env.alpha.database]\nurl = \"{alpha}\"\n\n\
             [env.beta.database]\nurl = \"{beta}\"\n[env.beta.ui]\nread_only = true\nenvironment_color = \"red\"\n"
        ),
    )
    .unwrap();
    p
}

#[tokio::test]
async fn two_environments_in_one_config_select_different_databases() {
    let a = pg::fresh_db().await;
    let b = pg::fresh_db().await;
    let home = tempfile::tempdir().unwrap();
    let cfg = two_env_config(home.path(), &a.url, &b.url);
    let cfg = cfg.to_str().unwrap();

    // Register a trust in alpha only.
    let reg = hubdeck_in(
        home.path(),
        &[
            "--config",
            cfg,
            "--env",
            "alpha",
            "register-trust",
            "--name",
            "Alpha Infirmary",
            "--code",
            "ALPHA",
        ],
        &[],
    );
    assert!(reg.status.success(), "{}", text(&reg.stderr));
    let in_a: i64 = sqlx::query_scalar("SELECT count(*) FROM trust WHERE code = 'ALPHA'")
        .fetch_one(&a.pool)
        .await
        .unwrap();
    let in_b: i64 = sqlx::query_scalar("SELECT count(*) FROM trust WHERE code = 'ALPHA'")
        .fetch_one(&b.pool)
        .await
        .unwrap();
    assert_eq!((in_a, in_b), (1, 0));

    // HUBDECK_ENV selects as well; each environment lists its own database.
    let list_a = hubdeck_in(
        home.path(),
        &["--config", cfg, "trusts", "list", "--output", "json"],
        &[("HUBDECK_ENV", "alpha")],
    );
    assert!(list_a.status.success(), "{}", text(&list_a.stderr));
    assert!(text(&list_a.stdout).contains("ALPHA"));
    let list_b = hubdeck_in(
        home.path(),
        &[
            "--config", cfg, "--env", "beta", "trusts", "list", "--output", "json",
        ],
        &[("HUBDECK_ENV", "alpha")], // the flag wins
    );
    assert!(list_b.status.success(), "{}", text(&list_b.stderr));
    assert!(
        !text(&list_b.stdout).contains("ALPHA"),
        "{}",
        text(&list_b.stdout)
    );

    // beta is read-only by default: refused, nothing written; --read-write lifts it.
    let refused = hubdeck_in(
        home.path(),
        &[
            "--config",
            cfg,
            "--env",
            "beta",
            "register-trust",
            "--name",
            "Beta",
            "--code",
            "BETA",
        ],
        &[],
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("read-only"),
        "{}",
        text(&refused.stderr)
    );
    let none: i64 = sqlx::query_scalar("SELECT count(*) FROM trust")
        .fetch_one(&b.pool)
        .await
        .unwrap();
    assert_eq!(none, 0);
    let allowed = hubdeck_in(
        home.path(),
        &[
            "--config",
            cfg,
            "--env",
            "beta",
            "--read-write",
            "register-trust",
            "--name",
            "Beta",
            "--code",
            "BETA",
        ],
        &[],
    );
    assert!(allowed.status.success(), "{}", text(&allowed.stderr));
    let one: i64 = sqlx::query_scalar("SELECT count(*) FROM trust WHERE code = 'BETA'")
        .fetch_one(&b.pool)
        .await
        .unwrap();
    assert_eq!(one, 1);

    // env list marks the current one; env current prints it.
    let list = hubdeck_in(
        home.path(),
        &["--config", cfg, "env", "list"],
        &[("HUBDECK_ENV", "beta")],
    );
    assert!(list.status.success(), "{}", text(&list.stderr));
    let out = text(&list.stdout);
    let line = |name: &str| {
        out.lines()
            .find(|l| l.split_whitespace().any(|w| w == name))
            .unwrap_or_else(|| panic!("no {name} line in:\n{out}"))
            .to_string()
    };
    assert!(line("beta").starts_with("* "), "{out}");
    assert!(line("beta").contains("read-only"), "{out}");
    assert!(line("alpha").starts_with("   alpha"), "{out}");
    assert!(line("alpha").contains(&a.name), "{out}");
    let json = hubdeck_in(
        home.path(),
        &[
            "--config", cfg, "--env", "alpha", "env", "list", "--output", "json",
        ],
        &[],
    );
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let current: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["current"] == true)
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(current, vec!["alpha"]);
    let cur = hubdeck_in(
        home.path(),
        &["--config", cfg, "--env", "alpha", "env", "current"],
        &[],
    );
    assert_eq!(text(&cur.stdout).trim(), "alpha");

    // A plain single-hub config (no [env.*]) works as before and selects nothing.
    let plain = home.path().join("plain.toml");
    std::fs::write(&plain, format!("[database]\nurl = \"{}\"\n", a.url)).unwrap();
    let plain_list = hubdeck_in(
        home.path(),
        &[
            "--config",
            plain.to_str().unwrap(),
            "trusts",
            "list",
            "--output",
            "json",
        ],
        &[],
    );
    assert!(plain_list.status.success(), "{}", text(&plain_list.stderr));
    assert!(text(&plain_list.stdout).contains("ALPHA"));
}

#[tokio::test]
async fn an_unknown_environment_is_a_usage_error_naming_the_known_ones() {
    let home = tempfile::tempdir().unwrap();
    let cfg = two_env_config(
        home.path(),
        "postgres://x@localhost/a",
        "postgres://x@localhost/b",
    );
    let cfg = cfg.to_str().unwrap();
    for (args, vars) in [
        (
            vec!["--config", cfg, "--env", "gamma", "trusts", "list"],
            vec![],
        ),
        (
            vec!["--config", cfg, "users", "list"],
            vec![("HUBDECK_ENV", "gamma")],
        ),
        (
            vec!["--config", cfg, "--env", "gamma", "env", "list"],
            vec![],
        ),
    ] {
        let out = hubdeck_in(home.path(), &args, &vars);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("unknown environment \"gamma\""), "{err}");
        assert!(err.contains("known environments: alpha, beta"), "{err}");
    }
}

#[tokio::test]
async fn env_demo_reaches_the_demo_data_with_no_other_setting() {
    let home = tempfile::tempdir().unwrap();
    // As root the server runs as `postgres`, which must reach the data dir.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let small = [("HUBDECK_DEMO_SCALE", "small")];
    let demo = hubdeck_in(home.path(), &["demo", "--no-console"], &small);
    let err = text(&demo.stderr);
    assert!(demo.status.success(), "{err}");
    // It prints how to use it.
    assert!(err.contains("hubdeck --env demo users list"), "{err}");
    assert!(
        err.contains("eval \"$(hubdeck demo --print-env)\""),
        "{err}"
    );
    let registered = home.path().join("data/environments/demo.toml");
    assert!(registered.exists());

    let result = async {
        // No config file, no URL, no directory kind: just --env demo.
        let users = hubdeck_in(
            home.path(),
            &[
                "--env",
                "demo",
                "users",
                "list",
                "--search",
                "admin@hubdeck",
                "--output",
                "json",
            ],
            &[],
        );
        assert!(users.status.success(), "{}", text(&users.stderr));
        assert!(
            text(&users.stdout).contains("admin@hubdeck.example"),
            "{}",
            text(&users.stdout)
        );
        let list = hubdeck_in(home.path(), &["env", "list"], &[("HUBDECK_ENV", "demo")]);
        let out = text(&list.stdout);
        assert!(
            out.lines()
                .any(|l| l.starts_with("*  demo") && l.contains("registered")),
            "{out}"
        );

        // eval "$(hubdeck demo --print-env)" then plain commands reach the demo.
        let script = format!(
            "set -e; eval \"$('{bin}' demo --print-env)\"; '{bin}' users list --as-infrastructure --search admin@hubdeck --output json",
            bin = env!("CARGO_BIN_EXE_hubdeck")
        );
        let mut c = Command::new("sh");
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("HUBDECK_DATA_DIR", home.path().join("data"))
            .env("HUBDECK_DEMO_SCALE", "small")
            .args(["-c", &script]);
        let eval = c.output().unwrap();
        assert!(eval.status.success(), "{}", text(&eval.stderr));
        assert!(text(&eval.stdout).contains("admin@hubdeck.example"));
        let print = hubdeck_in(home.path(), &["demo", "--print-env"], &small);
        assert!(
            text(&print.stdout)
                .lines()
                .any(|l| l == "export HUBDECK_ENV=demo"),
            "{}",
            text(&print.stdout)
        );
    };
    // Stop the cluster whatever happened. With HUBDECK_ENV=demo still exported and the
    // registration gone, the demo command itself still works.
    let outcome = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(result)).await;
    std::fs::remove_file(&registered).unwrap();
    let stop = hubdeck_in(home.path(), &["demo", "--stop"], &[("HUBDECK_ENV", "demo")]);
    assert!(stop.status.success(), "{}", text(&stop.stderr));
    assert!(
        text(&stop.stderr).contains("stopped the demo cluster"),
        "{}",
        text(&stop.stderr)
    );
    let other = hubdeck_in(home.path(), &["users", "list"], &[("HUBDECK_ENV", "demo")]);
    assert_eq!(
        other.status.code(),
        Some(2),
        "other commands: a usage error"
    );
    if let Err(p) = outcome {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn config_example_offers_a_read_only_production_environment() {
    let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"));
    let data = tempfile::tempdir().unwrap();
    let env = vec![(
        "HUBDECK_DATA_DIR".to_string(),
        data.path().display().to_string(),
    )];
    let load = |name: Option<&str>| {
        hubdeck::config::Settings::load_env(Some(path), None, &env, name).unwrap()
    };
    let prod = load(Some("production"));
    assert!(prod.ui.read_only);
    assert_eq!(prod.ui.environment, "production");
    let staging = load(Some("staging"));
    assert!(!staging.ui.read_only);
    assert_ne!(prod.database.url.expose(), staging.database.url.expose());
    assert_eq!(load(None).env, None);
}

/// The console's top bar shows the environment selected with --env (real binary in tmux).
#[tokio::test(flavor = "multi_thread")]
async fn the_console_top_bar_shows_the_selected_environment() {
    use crate::tui_e2e::{OPERATOR_EMAIL, OPERATOR_PASSWORD, Tmux, seed_identity, services};
    let db = pg::fresh_db().await;
    let s = services(&db).await;
    seed_identity(
        &s,
        OPERATOR_EMAIL,
        Some(OPERATOR_PASSWORD),
        Some(hubdeck::domain::RoleRef::Admin),
    )
    .await;
    let config = format!(
        "[env.staging-eu]\ndatabase = {{ url = \"{}\" }}\nui = {{ environment_color = \"yellow\" }}\n\
         [env.production]\ndatabase = {{ url = \"postgres://nobody@127.0.0.1:1/none\" }}\n",
        db.url
    );
    let t = Tmux::start_with_config(&["--env", "staging-eu"], &[], &[("config.toml", &config)]);
    t.wait_for(&["Sign in"]);
    t.text(OPERATOR_EMAIL);
    t.keys(&["Tab"]);
    t.text(OPERATOR_PASSWORD);
    t.keys(&["Enter"]);
    let screen = t.wait_for(&["1 Mandates", OPERATOR_EMAIL]);
    let top = screen.lines().next().unwrap_or_default();
    assert!(top.contains(" staging-eu "), "top bar: {top}");
    assert!(
        !top.contains(" e2e "),
        "the selected name wins over ui.environment: {top}"
    );
    t.quit();
}

/// `:env NAME` in the console connects to the other environment and signs the operator in
/// again there; an unknown name is refused with the known ones and changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_switches_environments_with_env_and_signs_in_again() {
    use crate::tui_e2e::{OPERATOR_EMAIL, OPERATOR_PASSWORD, Tmux, seed_identity, services};
    let alpha = pg::fresh_db().await;
    let beta = pg::fresh_db().await;
    for (db, mandate) in [(&alpha, "Alpha Only Mandate"), (&beta, "Beta Only Mandate")] {
        let s = services(db).await;
        seed_identity(
            &s,
            OPERATOR_EMAIL,
            Some(OPERATOR_PASSWORD),
            Some(hubdeck::domain::RoleRef::Admin),
        )
        .await;
        sqlx::query("INSERT INTO mandate (name, label) VALUES ($1, 'x')")
            .bind(mandate)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    let config = format!(
        "[env.alpha]\ndatabase = {{ url = \"{}\" }}\n[env.beta]\ndatabase = {{ url = \"{}\" }}\n",
        alpha.url, beta.url
    );
    let sign_in = |t: &Tmux| {
        t.wait_for(&["Sign in"]);
        t.text(OPERATOR_EMAIL);
        t.keys(&["Tab"]);
        t.text(OPERATOR_PASSWORD);
        t.keys(&["Enter"]);
    };
    let t = Tmux::start_with_config(&["--env", "alpha"], &[], &[("config.toml", &config)]);
    sign_in(&t);
    let screen = t.wait_for(&["Alpha Only Mandate", OPERATOR_EMAIL]);
    assert!(
        screen
            .lines()
            .next()
            .unwrap_or_default()
            .contains(" alpha "),
        "{screen}"
    );

    // Unknown: an error naming the known ones; still signed in on alpha.
    t.keys(&[":"]);
    t.text("env gamma");
    t.keys(&["Enter"]);
    t.wait_for(&["unknown environment", "alpha, beta"]);
    // Esc and the next key must not arrive in one read (that would be alt-:).
    t.keys(&["Escape"]);
    t.wait_gone(&["unknown environment"]);
    let screen = t.wait_for(&["Alpha Only Mandate"]);
    assert!(
        screen
            .lines()
            .next()
            .unwrap_or_default()
            .contains(" alpha "),
        "{screen}"
    );

    // Switch: the sign-in screen of beta, then beta's data only.
    t.keys(&[":"]);
    t.text("env beta");
    t.keys(&["Enter"]);
    let screen = t.wait_for(&["Sign in", " beta "]);
    assert!(!screen.contains("Alpha Only Mandate"), "{screen}");
    sign_in(&t);
    let screen = t.wait_for(&["Beta Only Mandate", OPERATOR_EMAIL]);
    assert!(!screen.contains("Alpha Only Mandate"), "{screen}");
    assert!(
        screen.lines().next().unwrap_or_default().contains(" beta "),
        "{screen}"
    );
    t.quit();
}
