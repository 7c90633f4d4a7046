//! Layering, environments and the URL redaction, end to end over real files.

use super::*;

#[test]
fn layering() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(
        &p,
        "[ui]\nenvironment = \"staging\"\nread_only = true\n[database]\nmax_connections = 3\n",
    )
    .unwrap();
    let env = vec![
        (
            "HUBDECK_DATABASE__MAX_CONNECTIONS".to_string(),
            "11".to_string(),
        ),
        (
            "HUBDECK_TRUSTS__KIT_SLOT_NAMES".to_string(),
            "A_1, B_2".to_string(),
        ),
        ("OTHER".to_string(), "x".to_string()),
    ];
    let s = Settings::load_from(Some(&p), None, &env).unwrap();
    assert_eq!(s.ui.environment, "staging");
    assert!(s.ui.read_only);
    assert_eq!(s.database.max_connections, 11);
    assert_eq!(s.trusts.kit_slot_names, vec!["A_1", "B_2"]);
    assert_eq!(s.mandates.retention_days, 30);
}

#[test]
fn unknown_keys_are_errors() {
    let env = vec![("HUBDECK_UI__COLOUR".to_string(), "x".to_string())];
    assert!(Settings::load_from(None, None, &env).is_err());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, "[ui]\nbogus = 1\n").unwrap();
    assert!(Settings::load_from(Some(&p), None, &[]).is_err());
}

fn envs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const TWO_ENVS: &str = r#"
[database]
max_connections = 3
[ui]
environment = "single"

[env.production.database]
url = "postgres://prod.example/hub"
[env.production.ui]
environment_color = "red"
read_only = true

[env.staging]
database = { url = "postgres://staging.example/hub" }
directory = { kind = "local" }
ui = { environment_color = "yellow" }
"#;

#[test]
fn environments_overlay_the_base_and_name_the_top_bar() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, TWO_ENVS).unwrap();
    let data = envs(&[("HUBDECK_DATA_DIR", &dir.path().display().to_string())]);

    let plain = Settings::load_env(Some(&p), None, &data, None).unwrap();
    assert_eq!(plain.env, None);
    assert_eq!(plain.ui.environment, "single");
    assert_eq!(
        plain.database.url.expose(),
        DatabaseSettings::default().url.expose()
    );

    let prod = Settings::load_env(Some(&p), None, &data, Some("production")).unwrap();
    assert_eq!(prod.env.as_deref(), Some("production"));
    assert_eq!(prod.database.url.expose(), "postgres://prod.example/hub");
    assert_eq!(
        prod.database.max_connections, 3,
        "base settings still apply"
    );
    assert!(prod.ui.read_only);
    assert_eq!(prod.ui.environment, "production");
    assert_eq!(prod.directory.kind, DirectoryKind::Cognito);

    // HUBDECK_ENV selects too; the flag wins over it.
    let mut e = data.clone();
    e.push(("HUBDECK_ENV".into(), "staging".into()));
    let st = Settings::load_env(Some(&p), None, &e, None).unwrap();
    assert_eq!(st.database.url.expose(), "postgres://staging.example/hub");
    assert_eq!(st.directory.kind, DirectoryKind::Local);
    assert!(!st.ui.read_only);
    assert_eq!(st.ui.environment_color, "yellow");
    let flag = Settings::load_env(Some(&p), None, &e, Some("production")).unwrap();
    assert_eq!(flag.env.as_deref(), Some("production"));

    // HUBDECK_<SECTION>__<KEY> still beat the environment.
    e.push(("HUBDECK_UI__READ_ONLY".into(), "true".into()));
    assert!(
        Settings::load_env(Some(&p), None, &e, None)
            .unwrap()
            .ui
            .read_only
    );
}

#[test]
fn unknown_environment_names_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, TWO_ENVS).unwrap();
    let data = envs(&[("HUBDECK_DATA_DIR", &dir.path().display().to_string())]);
    let err = Settings::load_env(Some(&p), None, &data, Some("prod")).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ConfigError::UnknownEnv { .. }), "{msg}");
    assert!(msg.contains("\"prod\""), "{msg}");
    assert!(msg.contains("production, staging"), "{msg}");
    // Without any environment the message says how to make one.
    let none = Settings::load_env(None, None, &data, Some("x")).unwrap_err();
    assert!(none.to_string().contains("[env.NAME]"), "{none}");
}

#[test]
fn a_typo_in_any_environment_is_an_error_and_default_env_selects() {
    let dir = tempfile::tempdir().unwrap();
    let data = envs(&[("HUBDECK_DATA_DIR", &dir.path().display().to_string())]);
    let p = dir.path().join("c.toml");
    std::fs::write(&p, "[env.a.ui]\nbogus = 1\n[env.b]\n").unwrap();
    let err = Settings::load_env(Some(&p), None, &data, Some("b")).unwrap_err();
    assert!(err.to_string().contains("\"a\""), "{err}");
    std::fs::write(
        &p,
        "default_env = \"b\"\n[env.a]\n[env.b.ui]\nread_only = true\n",
    )
    .unwrap();
    let s = Settings::load_env(Some(&p), None, &data, None).unwrap();
    assert_eq!(s.env.as_deref(), Some("b"));
    assert!(s.ui.read_only);
    std::fs::write(&p, "default_env = \"zz\"\n[env.a]\n").unwrap();
    assert!(matches!(
        Settings::load_env(Some(&p), None, &data, None),
        Err(ConfigError::UnknownEnv { .. })
    ));
}

#[test]
fn registered_environments_merge_under_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = envs(&[("HUBDECK_DATA_DIR", &dir.path().display().to_string())]);
    let path = register_env(
        dir.path(),
        "demo",
        "[database]\nurl = \"postgres://postgres@localhost:5999/hubdeck\"\n[directory]\nkind = \"local\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // No config file at all: --env demo works.
    let s = Settings::load_env(None, None, &data, Some("demo")).unwrap();
    assert_eq!(s.directory.kind, DirectoryKind::Local);
    assert_eq!(s.ui.environment, "demo");
    assert!(s.database.url.expose().contains(":5999/"));
    // A config-file [env.demo] merges over it.
    let p = dir.path().join("c.toml");
    std::fs::write(&p, "[env.demo.ui]\nenvironment_color = \"blue\"\n").unwrap();
    let cat = EnvCatalog::read(Some(&p), None, dir.path()).unwrap();
    assert_eq!(cat.get("demo").unwrap().source, EnvSource::Both);
    let s = Settings::resolve(&cat, &data, Some("demo")).unwrap();
    assert_eq!(s.ui.environment_color, "blue");
    assert_eq!(s.directory.kind, DirectoryKind::Local);
    assert!(register_env(dir.path(), "../x", "").is_err());
}

#[test]
fn password_never_printed() {
    let u = DatabaseUrl::new("postgres://bob:s3cret@db.example/hub");
    let mut s = Settings::default();
    s.database.url = u.clone();
    let shown = format!("{u} {u:?} {s:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("bob:***@db.example"));
    let q = DatabaseUrl::new("postgres://bob@h/hub?password=s3cret&sslmode=require");
    assert!(!format!("{q:?}").contains("s3cret"));
}

fn red(s: &str) -> String {
    DatabaseUrl::new(s).redacted()
}

#[test]
fn redaction_survives_at_and_slash_in_passwords() {
    assert_eq!(red("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
    assert_eq!(red("postgres://u:p/ss@h/db"), "postgres://u:***@h/db");
    assert_eq!(
        red("postgres://u:p?s#s@h:5433/db"),
        "postgres://u:***@h:5433/db"
    );
    assert_eq!(red("postgres://u:a%40b%2Fc@h/db"), "postgres://u:***@h/db");
    // No password: nothing hidden, nothing lost.
    assert_eq!(red("postgres://u@h:5432/db"), "postgres://u@h:5432/db");
    assert_eq!(
        red("postgres://h/db?sslmode=require"),
        "postgres://h/db?sslmode=require"
    );
}

#[test]
fn redaction_hides_password_parameters_in_any_case_and_encoding() {
    for key in [
        "password",
        "PASSWORD",
        "Password",
        "pass%77ord",
        "%50ASSWORD",
        "sslpassword",
    ] {
        let url = format!("postgres://u@h/db?sslmode=require&{key}=s3cr%40t&x=1");
        let shown = red(&url);
        assert!(!shown.contains("s3cr"), "{key}: {shown}");
        assert_eq!(
            shown,
            format!("postgres://u@h/db?sslmode=require&{key}=***&x=1")
        );
    }
    let both = red("postgres://u:one@h/db?password=two");
    assert!(!both.contains("one") && !both.contains("two"), "{both}");
}

#[test]
fn unparseable_urls_are_never_echoed() {
    for raw in [
        "host=h user=u password=s3cret",
        "u:s3cret@h/db",
        "://u:s3cret@h",
        "post gres://u:s3cret@h",
    ] {
        let shown = red(raw);
        assert!(!shown.contains("s3cret"), "{raw} -> {shown}");
    }
    // A URL sqlx cannot parse (bad port) is still shown redacted, never whole.
    assert_eq!(
        red("postgres://u:pw@h:notaport/db"),
        "postgres://u:***@h:notaport/db"
    );
}

proptest::proptest! {
    /// Whatever the password holds (`@`, `/`, `?`, `#`, `:`, `%`, non-ASCII), raw or
    /// percent-encoded, in the userinfo or as a parameter, it is never shown.
    #[test]
    fn redaction_never_shows_the_password(
        body in "[a-zA-Z0-9@/?#:%&=+ é]{0,24}",
        host in "[a-z]{1,10}(:[0-9]{1,5})?",
        key in proptest::sample::select(vec!["password", "PASSWORD", "Password", "pass%77ord"]),
    ) {
        let pw = format!("Zq9{body}");
        let encoded: String = pw
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        for url in [
            format!("postgres://bob:{pw}@{host}/hub"),
            format!("postgres://bob:{encoded}@{host}/hub?sslmode=require"),
            format!("postgres://bob@{host}/hub?sslmode=require&{key}={encoded}"),
            format!("postgres://bob@{host}/hub?{key}={encoded}&sslmode=require"),
        ] {
            let shown = red(&url);
            proptest::prop_assert!(!shown.contains(&pw), "{} -> {}", url, shown);
            proptest::prop_assert!(!shown.contains(&encoded), "{} -> {}", url, shown);
            proptest::prop_assert!(shown.contains("***"), "{} -> {}", url, shown);
        }
    }
}

#[test]
fn misspelt_password_parameter_is_refused_without_its_value() {
    let e = DatabaseUrl::new("postgres://u@h/db?PASSWORD=s3cret")
        .check_password_params()
        .unwrap_err();
    assert!(e.contains("PASSWORD") && !e.contains("s3cret"), "{e}");
    assert!(
        DatabaseUrl::new("postgres://u@h/db?password=x&sslmode=disable")
            .check_password_params()
            .is_ok()
    );
    assert_eq!(
        DatabaseUrl::new("postgres://u:p@ss@h/db").password_fragment(),
        Some("p@ss")
    );
}
