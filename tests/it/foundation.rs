//! Foundation: migrations, database-enforced constraints, append-only audit, reference data,
//! the sanitizer, PageQuery, and an emulator smoke test through the AWS SDK.

use hubdeck::domain::error::bounded_text;
use hubdeck::domain::page::{ColumnKind, ColumnSpec, ListSpec, SortDir};
use hubdeck::domain::text;
use hubdeck::domain::{DisplayText, PageQuery, PageQueryError, PermissionRef, RoleRef};
use proptest::prelude::*;
use uuid::Uuid;

use crate::support::{moto, pg};

#[tokio::test]
async fn migrations_apply_on_empty_database_and_again_as_noop() {
    let db = pg::empty_db().await;
    assert_eq!(
        hubdeck::store::applied_migrations(&db.pool).await.unwrap(),
        0
    );
    hubdeck::store::migrate(&db.pool).await.unwrap();
    let n = hubdeck::store::applied_migrations(&db.pool).await.unwrap();
    assert_eq!(
        n as usize,
        hubdeck::MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .count()
    );
    hubdeck::store::migrate(&db.pool).await.unwrap();
    assert_eq!(
        hubdeck::store::applied_migrations(&db.pool).await.unwrap(),
        n
    );
}

#[tokio::test]
async fn migrate_command_twice_is_a_noop() {
    let db = pg::empty_db().await;
    for expected in ["applied", "nothing to do"] {
        let out = crate::support::cli::infra()
            .args(["migrate", "--database-url", &db.url])
            .env("HUBDECK_DATA_DIR", std::env::temp_dir())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(err.contains(expected), "{err}");
    }
}

async fn expect_unique(db: &hubdeck::store::Db, sql: &str, constraint: &str) {
    let err = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(db)
        .await
        .expect_err(sql);
    let store: hubdeck::store::StoreError = err.into();
    assert_eq!(store.unique_constraint(), Some(constraint), "{sql}");
}

#[tokio::test]
async fn database_enforces_constraints() {
    let db = pg::fresh_db().await;
    let p = &db.pool;
    let user = Uuid::new_v4();
    let admin = RoleRef::Admin.id();
    sqlx::query("INSERT INTO user_role (user_id, role_id) VALUES ($1, $2)")
        .bind(user)
        .bind(admin)
        .execute(p)
        .await
        .unwrap();
    expect_unique(
        p,
        &format!("INSERT INTO user_role (user_id, role_id) VALUES ('{user}', '{admin}')"),
        "user_role_grant_key",
    )
    .await;

    let hash = "a".repeat(64);
    sqlx::query("INSERT INTO trust (name, code, api_key_hash) VALUES ('Guy''s and St Thomas''', 'GSTT', $1)")
        .bind(&hash)
        .execute(p)
        .await
        .unwrap();
    expect_unique(p, &format!("INSERT INTO trust (name, code, api_key_hash) VALUES ('GUY''S AND ST THOMAS''', 'OTHER', '{hash}')"), "trust_name_lower_key").await;
    expect_unique(
        p,
        &format!(
            "INSERT INTO trust (name, code, api_key_hash) VALUES ('Another', 'GSTT', '{hash}')"
        ),
        "trust_code_key",
    )
    .await;

    let m: Uuid = sqlx::query_scalar("INSERT INTO mandate (name) VALUES ('Acme') RETURNING id")
        .fetch_one(p)
        .await
        .unwrap();
    sqlx::query("INSERT INTO user_mandate (user_id, mandate_id) VALUES ($1, $2)")
        .bind(user)
        .bind(m)
        .execute(p)
        .await
        .unwrap();
    expect_unique(
        p,
        &format!("INSERT INTO user_mandate (user_id, mandate_id) VALUES ('{user}', '{m}')"),
        "user_mandate_membership_key",
    )
    .await;

    let t1: Uuid = sqlx::query_scalar("SELECT id FROM trust")
        .fetch_one(p)
        .await
        .unwrap();
    let t2: Uuid = sqlx::query_scalar(
        "INSERT INTO trust (name, code, api_key_hash) VALUES ('King''s', 'KCH', $1) RETURNING id",
    )
    .bind(&hash)
    .fetch_one(p)
    .await
    .unwrap();
    sqlx::query("INSERT INTO fl_kit_slot (slot_name, slot_number, assigned_to_trust_id) VALUES ('Trust_001', 1, $1), ('Trust_002', 2, NULL)")
        .bind(t1)
        .execute(p)
        .await
        .unwrap();
    expect_unique(
        p,
        &format!(
            "UPDATE fl_kit_slot SET assigned_to_trust_id = '{t1}' WHERE slot_name = 'Trust_002'"
        ),
        "fl_kit_slot_one_per_trust",
    )
    .await;
    // The trust code format and a blank name are refused too.
    assert!(
        sqlx::query("INSERT INTO trust (name, code, api_key_hash) VALUES ('x', 'lower', $1)")
            .bind(&hash)
            .execute(p)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("INSERT INTO trust (name, code, api_key_hash) VALUES ('  ', 'ZZ', $1)")
            .bind(&hash)
            .execute(p)
            .await
            .is_err()
    );
    let _ = t2;
}

#[tokio::test]
async fn audit_tables_refuse_update_delete_and_truncate() {
    let db = pg::fresh_db().await;
    let p = &db.pool;
    let u = Uuid::new_v4();
    sqlx::query("INSERT INTO users_audit (action, user_id) VALUES ('Registered user', $1)")
        .bind(u)
        .execute(p)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO trusts_audit (trust_id, trust_name, action) VALUES ($1, 'T', 'REGISTERED')",
    )
    .bind(u)
    .execute(p)
    .await
    .unwrap();
    sqlx::query("INSERT INTO mandate_audit (action, mandate_id) VALUES ('CREATED', $1)")
        .bind(u)
        .execute(p)
        .await
        .unwrap();
    for table in ["users_audit", "trusts_audit", "mandate_audit"] {
        for sql in [
            format!("UPDATE {table} SET created_at = now()"),
            format!("DELETE FROM {table}"),
            format!("TRUNCATE {table}"),
            format!("TRUNCATE {table} CASCADE"),
        ] {
            let err = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(p)
                .await
                .expect_err(&sql);
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(p)
                .await
                .unwrap();
        assert_eq!(n, 1, "{table} lost a row");
    }
}

#[tokio::test]
async fn reference_data_roles_and_permissions() {
    let db = pg::fresh_db().await;
    let p = &db.pool;
    let perms: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, permission_name FROM permission ORDER BY permission_name")
            .fetch_all(p)
            .await
            .unwrap();
    assert_eq!(perms.len(), 9);
    for perm in PermissionRef::ALL {
        assert!(
            perms.contains(&(perm.id(), perm.name().to_string())),
            "{perm} missing"
        );
    }
    for role in RoleRef::ALL {
        let mut held: Vec<Uuid> =
            sqlx::query_scalar("SELECT permission_id FROM role_permission WHERE role_id = $1")
                .bind(role.id())
                .fetch_all(p)
                .await
                .unwrap();
        held.sort();
        let mut expected: Vec<Uuid> = role.permissions().iter().map(|p| p.id()).collect();
        expected.sort();
        assert_eq!(held, expected, "{role}");
    }
    let admin_count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM role_permission WHERE role_id = $1")
            .bind(RoleRef::Admin.id())
            .fetch_one(p)
            .await
            .unwrap();
    assert_eq!(admin_count, 9);
    let templates: Vec<String> = sqlx::query_scalar(
        "SELECT label FROM mandate_role WHERE mandate_id IS NULL ORDER BY label",
    )
    .fetch_all(p)
    .await
    .unwrap();
    assert_eq!(templates, ["admin", "member", "viewer"]);
    let trial: (i32, i32) =
        sqlx::query_as("SELECT trial_days, max_members FROM plan WHERE key = 'TRIAL_14D'")
            .fetch_one(p)
            .await
            .unwrap();
    assert_eq!(trial.0, 14);
    let paid: i64 = sqlx::query_scalar("SELECT count(*) FROM plan WHERE monthly_price_cents > 0")
        .fetch_one(p)
        .await
        .unwrap();
    assert!(paid >= 1);
}

fn forbidden(c: char) -> bool {
    (c as u32) <= 0x1f
        || c == '\u{7f}'
        || ('\u{80}'..='\u{9f}').contains(&c)
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

proptest! {
    #[test]
    fn display_text_never_emits_controls(s in any::<String>()) {
        let out = DisplayText::with_max(&s, 10_000);
        prop_assert!(!out.as_str().chars().any(forbidden), "{:?}", out);
    }

    #[test]
    fn display_text_passes_printable_text_unchanged(s in "[\\p{L}\\p{N}\\p{P}\\p{S} ]{0,200}") {
        prop_assume!(!s.chars().any(|c| forbidden(c) || text::is_bidi_control(c) || text::is_invisible(c) || text::is_lookalike_space(c) || c == '\\'));
        let out = DisplayText::with_max(&s, 10_000);
        prop_assert_eq!(out.as_str(), s.as_str());
    }

    /// Nothing invisible survives the sanitizer, and a backslash only ever starts an escape
    /// the sanitizer wrote: unescaping the output gives back the input exactly.
    #[test]
    fn display_text_is_visible_and_unambiguous(s in any::<String>()) {
        let out = DisplayText::with_max(&s, 100_000);
        prop_assert!(!out.as_str().chars().any(|c| text::is_invisible(c) || forbidden(c)), "{:?}", out);
        prop_assert_eq!(unescape(out.as_str()), s);
    }

    /// Validation refuses every string holding a control, bidi or invisible character, and
    /// names that character's code point; everything else within bounds is accepted trimmed.
    #[test]
    fn validation_refuses_invisible_characters_naming_them(
        a in "[\\p{L}\\p{N} ]{0,20}",
        bad in prop::sample::select(vec![
            '\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}', '\u{ad}', '\u{180e}',
            '\u{fe0f}', '\u{e0001}', '\u{e0041}', '\u{e0100}', '\u{3164}', '\u{115f}', '\u{1160}',
            '\u{ffa0}', '\u{34f}', '\u{202e}', '\u{2066}', '\u{9b}', '\u{1b}', '\u{2028}',
            '\u{a0}', '\u{2009}', '\u{3000}', '\u{2800}',
        ]),
        b in "[\\p{L}\\p{N} ]{0,20}",
    ) {
        let value = format!("x{a}{bad}{b}x");
        let first_bad = value.chars().find(|c| text::forbidden_char(*c).is_some()).unwrap();
        let err = bounded_text("mandate name", &value, 255).unwrap_err();
        prop_assert!(err.to_string().contains(&text::code_point(first_bad)), "{}", err);
        prop_assert!(err.to_string().starts_with("mandate name must not contain"), "{}", err);
    }

    #[test]
    fn validation_accepts_visible_text(v in "[\\p{L}\\p{M}\\p{N}\\p{P}\\p{S}]{1,50}") {
        prop_assume!(!v.chars().any(|c| text::forbidden_char(c).is_some()));
        prop_assert_eq!(bounded_text("name", &format!(" {v} "), 255).unwrap(), v);
    }
}

/// Reverses [`DisplayText`]'s escapes (test oracle).
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('x') => {
                let h: String = it.by_ref().take(2).collect();
                out.push(char::from_u32(u32::from_str_radix(&h, 16).unwrap()).unwrap());
            }
            Some('u') => {
                assert_eq!(it.next(), Some('{'));
                let h: String = it.by_ref().take_while(|c| *c != '}').collect();
                out.push(char::from_u32(u32::from_str_radix(&h, 16).unwrap()).unwrap());
            }
            other => panic!("dangling backslash before {other:?} in {s:?}"),
        }
    }
    out
}

static SPEC: ListSpec = ListSpec {
    name: "things",
    columns: &[
        ColumnSpec::new("name", ColumnKind::Text),
        ColumnSpec::new("enabled", ColumnKind::Bool),
        ColumnSpec::sort_only("created_at", ColumnKind::Timestamp),
    ],
    default_sort: &[("name", SortDir::Asc)],
};

#[test]
fn page_query_rejects_bad_input_with_clear_errors() {
    assert!(
        PageQuery::new(1, 50)
            .sort("name", SortDir::Desc)
            .filter("enabled", ["true"])
            .validate(&SPEC)
            .is_ok()
    );
    let e = PageQuery::new(1, 50)
        .sort("password", SortDir::Asc)
        .validate(&SPEC)
        .unwrap_err();
    assert!(matches!(e, PageQueryError::UnknownSortColumn { .. }));
    assert!(
        e.to_string().contains("password")
            && e.to_string()
                .contains("sortable: name, enabled, created_at"),
        "{e}"
    );
    let e = PageQuery::new(1, 50)
        .filter("created_at", ["x"])
        .validate(&SPEC)
        .unwrap_err();
    assert!(
        matches!(e, PageQueryError::UnknownFilterColumn { .. }),
        "{e}"
    );
    let e = PageQuery::new(1, 50)
        .filter("name; DROP TABLE x", ["x"])
        .validate(&SPEC)
        .unwrap_err();
    assert!(
        matches!(e, PageQueryError::UnknownFilterColumn { .. }),
        "{e}"
    );
    let e = PageQuery::new(1, 50)
        .filter("enabled", ["maybe"])
        .validate(&SPEC)
        .unwrap_err();
    assert!(matches!(e, PageQueryError::BadFilterValue { .. }), "{e}");
    assert_eq!(
        PageQuery::new(1, 0).validate(&SPEC).unwrap_err(),
        PageQueryError::PageSize(0)
    );
    assert_eq!(
        PageQuery::new(1, 501).validate(&SPEC).unwrap_err(),
        PageQueryError::PageSize(501)
    );
    assert_eq!(
        PageQuery::new(0, 50).validate(&SPEC).unwrap_err(),
        PageQueryError::Page(0)
    );
    assert!(PageQuery::new(1, 500).validate(&SPEC).is_ok());
    assert!(
        PageQueryError::PageSize(0)
            .to_string()
            .contains("between 1 and 500")
    );
}

#[tokio::test]
async fn emulator_smoke_create_and_read_back_user() {
    let m = moto::moto();
    let settings = moto::directory_settings(&m.endpoint, "unused", "unused");
    let client = hubdeck::directory::cognito::sdk_client(&settings).await;
    let (pool_id, _client_id) = moto::fresh_pool(&client).await;
    let created = client
        .admin_create_user()
        .user_pool_id(&pool_id)
        .username("ann@example.org")
        .user_attributes(
            aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
                .name("email")
                .value("ann@example.org")
                .build()
                .unwrap(),
        )
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let sub_created = created
        .user()
        .and_then(|u| u.attributes().iter().find(|a| a.name() == "sub"))
        .and_then(|a| a.value())
        .unwrap()
        .to_string();
    let got = client
        .admin_get_user()
        .user_pool_id(&pool_id)
        .username("ann@example.org")
        .send()
        .await
        .unwrap();
    let sub = got
        .user_attributes()
        .iter()
        .find(|a| a.name() == "sub")
        .and_then(|a| a.value())
        .unwrap();
    let parsed = Uuid::parse_str(sub).expect("sub is a UUID");
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(sub, sub_created);
}

#[test]
fn config_example_documents_every_default() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml");
    let example = hubdeck::config::Settings::load_from(Some(std::path::Path::new(path)), None, &[])
        .expect("example parses");
    let defaults = hubdeck::config::Settings::default();
    let a = toml::Value::try_from(&example).unwrap();
    let b = toml::Value::try_from(&defaults).unwrap();
    assert_eq!(a, b, "config.example.toml must list exactly the defaults");
    // And every key of the defaults appears literally in the file.
    let text = std::fs::read_to_string(path).unwrap();
    for (section, table) in b.as_table().unwrap() {
        assert!(
            text.contains(&format!("[{section}]")),
            "[{section}] missing"
        );
        for key in table.as_table().unwrap().keys() {
            assert!(
                text.contains(&format!("\n{key} =")),
                "{section}.{key} missing"
            );
        }
    }
}
