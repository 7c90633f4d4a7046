//! A readable audit (issue 14): actor and subject as email or name (falling back to the id) in
//! the list, the detail, CSV and JSON; before/after as changed fields; one event vocabulary
//! over the three tables without editing a row; dates and date-times in ranges (`--until DAY`
//! includes the day, a bad bound applies nothing); an export that never leaves a file behind
//! on failure.

use hubdeck::domain::{PageQuery, UserSub};
use hubdeck::service::audit::ExportFormat;
use hubdeck::service::mandates::MandateInput;
use hubdeck::store::audit::TimeRange;
use uuid::Uuid;

use crate::audit::hubdeck;
use crate::mandates::{cached_user, create, operator, services, sysadmin};
use crate::support::pg;

#[tokio::test]
async fn one_vocabulary_over_the_three_tables_without_editing_rows() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    let u = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO users_audit (action, user_id) VALUES ('DISABLED', $1), ('Disabled user', $1), \
         ('ROLES_CHANGED', $1), ('Updated user roles', $1)",
    )
    .bind(u)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO trusts_audit (trust_id, trust_name, action) VALUES ($1, 'St X', 'REGISTERED')",
    )
    .bind(Uuid::new_v4())
    .execute(&db.pool)
    .await
    .unwrap();
    let q = PageQuery::new(1, 50).filter("event", ["USER_DISABLED"]);
    let p = svc
        .list_audit_readable(&root, &q, TimeRange::default())
        .await
        .unwrap();
    let mut raw: Vec<&str> = p.items.iter().map(|e| e.raw.action.as_str()).collect();
    raw.sort();
    assert_eq!(
        raw,
        ["DISABLED", "Disabled user"],
        "rows keep what was written"
    );
    assert!(p.items.iter().all(|e| e.event_label == "User disabled"));
    let q = PageQuery::new(1, 50).filter("source", ["users", "trusts"]);
    let events = svc
        .audit_filter_values(&root, "event", &q, TimeRange::default())
        .await
        .unwrap();
    assert_eq!(
        events,
        ["TRUST_REGISTERED", "USER_DISABLED", "USER_ROLES_CHANGED"]
    );
    let stored: Vec<String> = sqlx::query_scalar("SELECT action FROM users_audit ORDER BY action")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        stored,
        [
            "DISABLED",
            "Disabled user",
            "ROLES_CHANGED",
            "Updated user roles"
        ]
    );
}

#[tokio::test]
async fn actor_and_subject_read_as_email_or_name_with_a_before_after_diff() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    let root_sub = root.audit_sub().unwrap();
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status) \
         VALUES ($1, 'root@example.org', 'root@example.org', true, 'CONFIRMED')",
    )
    .bind(root_sub)
    .execute(&db.pool)
    .await
    .unwrap();
    let m = create(&svc, "Readable").await;
    svc.update_mandate(
        &root,
        m,
        &MandateInput {
            name: "Readable".into(),
            label: Some("renamed".into()),
            enabled: false,
        },
    )
    .await
    .unwrap();
    let ada = cached_user(&db.pool, "ada@example.org", "Ada L").await;
    let ghost = UserSub::new_v4();
    sqlx::query(
        "INSERT INTO users_audit (action, user_id, modified_by_user_id) VALUES \
         ('Disabled user', $1, $3), ('Deleted user', $2, $3)",
    )
    .bind(ada)
    .bind(ghost)
    .bind(root_sub)
    .execute(&db.pool)
    .await
    .unwrap();

    let page = svc
        .list_audit_readable(&root, &PageQuery::new(1, 50), TimeRange::default())
        .await
        .unwrap();
    let row = |event: &str| {
        page.items
            .iter()
            .find(|e| e.raw.event == event)
            .unwrap_or_else(|| panic!("{event}: {page:?}"))
            .clone()
    };
    let upd = row("MANDATE_UPDATED");
    assert_eq!(upd.actor, "root@example.org");
    assert_eq!(upd.subject, "Readable");
    // The CLI actor (no sub): its channel and OS user.
    let created = row("MANDATE_CREATED");
    let expected = match created.raw.os_user.as_deref() {
        Some(os) => format!("cli ({os})"),
        None => "cli".to_string(),
    };
    assert_eq!(created.actor, expected);
    assert_eq!(row("USER_DISABLED").subject, "ada@example.org");
    assert_eq!(
        row("USER_DELETED").subject,
        ghost.to_string(),
        "unknown: the id"
    );

    let d = svc.audit_detail(&root, upd.raw.id).await.unwrap();
    assert_eq!(d.event.actor, "root@example.org");
    let changed: Vec<(&str, String, String)> = d
        .changes
        .iter()
        .map(|c| {
            (
                c.field.as_str(),
                c.before.as_ref().map(|v| v.to_string()).unwrap_or_default(),
                c.after.as_ref().map(|v| v.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        vec![
            ("enabled", "true".into(), "false".into()),
            ("label", "\"Readable label\"".into(), "\"renamed\"".into()),
        ]
    );

    // CSV and JSON carry the same readable columns.
    let mut csv = Vec::new();
    svc.export_audit(
        &root,
        &PageQuery::default(),
        TimeRange::default(),
        ExportFormat::Csv,
        &mut csv,
    )
    .await
    .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",event,event_label,actor,subject,target,id")
    );
    let line = csv.lines().find(|l| l.contains("MANDATE_UPDATED")).unwrap();
    assert!(
        line.contains(",Mandate updated,root@example.org,Readable,,"),
        "{line}"
    );
    let line = csv.lines().find(|l| l.contains("USER_DISABLED")).unwrap();
    assert!(
        line.contains(",root@example.org,ada@example.org,,"),
        "{line}"
    );
    let mut json = Vec::new();
    svc.export_audit(
        &root,
        &PageQuery::default(),
        TimeRange::default(),
        ExportFormat::Json,
        &mut json,
    )
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let e = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "USER_DISABLED")
        .unwrap();
    assert_eq!(e["actor"], "root@example.org");
    assert_eq!(e["subject"], "ada@example.org");
    assert_eq!(e["actor_user_id"], root_sub.to_string());
}

#[tokio::test]
async fn a_failed_export_leaves_no_file_and_an_existing_file_untouched() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    create(&svc, "Exported").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.csv");
    // Fails after the header went out (the filter is refused by the first page's query).
    let bad = PageQuery::default().filter("details", ["x"]);
    let err = svc
        .export_to_file(&root, &bad, TimeRange::default(), ExportFormat::Csv, &path)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "no file, no temporary: {left:?}");
    // Refused for authority: nothing either, and an existing file keeps its content.
    std::fs::write(&path, "previous export\n").unwrap();
    let nobody = operator(UserSub::new_v4());
    svc.export_to_file(
        &nobody,
        &PageQuery::default(),
        TimeRange::default(),
        ExportFormat::Json,
        &path,
    )
    .await
    .unwrap_err();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "previous export\n");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // Success replaces it whole, 0600.
    let n = svc
        .export_to_file(
            &root,
            &PageQuery::default(),
            TimeRange::default(),
            ExportFormat::Csv,
            &path,
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("occurred_at,") && text.contains("MANDATE_CREATED"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn cli_ranges_accept_dates_and_date_times_and_a_bad_bound_applies_nothing() {
    let db = pg::fresh_db().await;
    let day = |d: &str, t: &str| format!("2026-11-{d}T{t}Z");
    sqlx::query(
        "INSERT INTO users_audit (action, user_id, \"timestamp\") VALUES \
         ('Disabled user', gen_random_uuid(), $1::timestamptz), \
         ('Enabled user', gen_random_uuid(), $2::timestamptz), \
         ('Deleted user', gen_random_uuid(), $3::timestamptz)",
    )
    .bind(day("20", "23:59:30"))
    .bind(day("21", "00:00:00"))
    .bind(day("21", "18:40:30"))
    .execute(&db.pool)
    .await
    .unwrap();
    let events = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["audit", "list", "--output", "json"];
        all.extend_from_slice(args);
        let (code, out, err) = hubdeck(&db, &all);
        assert_eq!(code, 0, "{args:?}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let mut e: Vec<String> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_string())
            .collect();
        e.sort();
        e
    };
    // `--until DAY` includes that day.
    assert_eq!(events(&["--until", "2026-11-20"]), ["USER_DISABLED"]);
    assert_eq!(
        events(&["--since", "2026-11-21"]),
        ["USER_DELETED", "USER_ENABLED"]
    );
    // A date-time with minutes: the whole minute.
    assert_eq!(
        events(&["--since", "2026-11-21 18:40", "--until", "2026-11-21 18:40"]),
        ["USER_DELETED"]
    );
    // RFC 3339: `--to` excludes the instant itself.
    assert_eq!(
        events(&[
            "--from",
            "2026-11-20T23:59:30Z",
            "--to",
            "2026-11-21T00:00:00Z"
        ]),
        ["USER_DISABLED"]
    );
    // The actor is the readable one in the table output too.
    let (code, out, err) = hubdeck(&db, &["audit", "list", "--event", "user_deleted"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("USER_DELETED"), "{out}");
    // A bad bound: exit 2, the forms named, and no export file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.csv");
    let (code, _, err) = hubdeck(
        &db,
        &[
            "audit",
            "export",
            "--out",
            path.to_str().unwrap(),
            "--since",
            "2026-12-01 18.40",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("YYYY-MM-DD HH:MM"), "{err}");
    assert!(!path.exists());
    let (code, _, err) = hubdeck(
        &db,
        &[
            "audit",
            "export",
            "--out",
            path.to_str().unwrap(),
            "--until",
            "2026-11-20",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
}

/// The event filter walks the expression indexes of migration 1110 in time order and stops
/// after the page — no scan of every audit row through the mapping function.
#[tokio::test]
async fn the_event_filter_uses_the_expression_indexes() {
    let db = pg::fresh_db().await;
    sqlx::query(
        "INSERT INTO users_audit (action, user_id, \"timestamp\") \
         SELECT CASE WHEN g % 50 = 0 THEN 'Disabled user' ELSE 'Updated user roles' END, \
                gen_random_uuid(), now() - make_interval(secs => g) \
         FROM generate_series(1, 40000) g",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("VACUUM (ANALYZE)")
        .execute(&db.pool)
        .await
        .unwrap();
    let q = PageQuery::new(1, 50)
        .wanting(hubdeck::domain::page::Want::Rows)
        .filter("event", ["USER_DISABLED"]);
    let scope = |qb: &mut sqlx::QueryBuilder<sqlx::Postgres>| {
        qb.push("TRUE");
    };
    let plan = hubdeck::store::query::explain_page(
        &db.pool,
        &hubdeck::store::audit::AUDIT_LIST,
        &q,
        Some(&scope),
    )
    .await
    .unwrap()
    .join("\n");
    assert!(plan.contains("users_audit_event_idx"), "{plan}");
    assert!(!plan.contains("Seq Scan on users_audit"), "{plan}");
}
