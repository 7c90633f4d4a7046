//! The audit trail (SPEC §5.6): one listing over users_audit, trusts_audit and mandate_audit
//! with filters (actor, subject, action, source, time range), sort and totals; CSV export that
//! quotes and defuses formulas; JSON export; and the CLI commands end to end.

use chrono::{Duration, Utc};
use hubdeck::domain::audit::TimeRange;
use hubdeck::domain::page::SortDir;
use hubdeck::domain::{PageQuery, PageQueryError, UserSub};
use hubdeck::service::ServiceError;
use hubdeck::service::audit::ExportFormat;
use hubdeck::service::mandates::MandateInput;
use uuid::Uuid;

use crate::mandates::{create, operator, services, sysadmin};
use crate::support::pg;

#[tokio::test]
async fn one_listing_over_all_audit_tables_with_filters_and_time_range() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    let actor = Uuid::new_v4();
    let subject_user = Uuid::new_v4();
    let trust = Uuid::new_v4();
    // Rows written by the other capabilities (users, trusts), at known times.
    sqlx::query(
        "INSERT INTO users_audit (action, user_id, modified_by_user_id, \"timestamp\") VALUES \
         ('ROLES_SET', $1, $2, now() - interval '3 days'), ('DISABLED', $1, NULL, now() - interval '1 hour')",
    )
    .bind(subject_user)
    .bind(actor)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO trusts_audit (trust_id, trust_name, action, modified_by_user_id, audit_date) VALUES \
         ($1, 'St Elsewhere', 'REGISTERED', $2, now() - interval '2 days')",
    )
    .bind(trust)
    .bind(actor)
    .execute(&db.pool)
    .await
    .unwrap();
    let m = create(&svc, "Audited").await; // MANDATE_CREATED via the CLI actor (actor NULL)
    svc.update_mandate(
        &root,
        m,
        &MandateInput {
            name: "Audited".into(),
            label: None,
            enabled: false,
        },
    )
    .await
    .unwrap();

    let all = svc
        .list_audit(&root, &PageQuery::new(1, 50), TimeRange::default())
        .await
        .unwrap();
    assert_eq!(all.total, 5);
    // Default sort: newest first.
    assert!(
        all.items
            .windows(2)
            .all(|w| w[0].occurred_at >= w[1].occurred_at)
    );
    let sources: std::collections::BTreeSet<_> =
        all.items.iter().map(|e| e.source.as_str()).collect();
    assert_eq!(
        sources.into_iter().collect::<Vec<_>>(),
        ["mandates", "trusts", "users"]
    );

    let q = PageQuery::new(1, 50).filter("actor", [actor.to_string()]);
    let by_actor = svc
        .list_audit(&root, &q, TimeRange::default())
        .await
        .unwrap();
    assert_eq!(by_actor.total, 2);
    let q = PageQuery::new(1, 50).filter("subject", [m.to_string()]);
    let by_subject = svc
        .list_audit(&root, &q, TimeRange::default())
        .await
        .unwrap();
    assert_eq!(
        by_subject
            .items
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        ["MANDATE_UPDATED", "MANDATE_CREATED"]
    );
    assert!(
        by_subject
            .items
            .iter()
            .all(|e| e.subject_name.as_deref() == Some("Audited"))
    );
    let q = PageQuery::new(1, 50).filter("action", ["REGISTERED", "DISABLED"]);
    assert_eq!(
        svc.list_audit(&root, &q, TimeRange::default())
            .await
            .unwrap()
            .total,
        2
    );

    // Time range [now - 2.5 days, now - 30 min): the trust registration and the user disable.
    let range = TimeRange {
        from: Some(Utc::now() - Duration::hours(60)),
        to: Some(Utc::now() - Duration::minutes(30)),
    };
    let p = svc
        .list_audit(
            &root,
            &PageQuery::new(1, 50).sort("occurred_at", SortDir::Asc),
            range,
        )
        .await
        .unwrap();
    assert_eq!(
        p.items
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        ["REGISTERED", "DISABLED"]
    );
    assert_eq!(p.total, 2);
    // Filter values honour the other filters and the range, not their own filter.
    let q = PageQuery::new(1, 50).filter("source", ["users"]);
    assert_eq!(
        svc.audit_filter_values(&root, "action", &q, TimeRange::default())
            .await
            .unwrap(),
        ["DISABLED", "ROLES_SET"]
    );
    assert_eq!(
        svc.audit_filter_values(&root, "source", &q, range)
            .await
            .unwrap(),
        ["trusts", "users"]
    );
    // Search over subject names; whitelist; authorization.
    assert_eq!(
        svc.list_audit(
            &root,
            &PageQuery::new(1, 50).search("elsewhere"),
            TimeRange::default()
        )
        .await
        .unwrap()
        .total,
        1
    );
    let bad = svc
        .list_audit(
            &root,
            &PageQuery::default().filter("details", ["x"]),
            TimeRange::default(),
        )
        .await;
    assert!(
        matches!(
            bad,
            Err(ServiceError::Query(
                PageQueryError::UnknownFilterColumn { .. }
            ))
        ),
        "{bad:?}"
    );
    let denied = svc
        .list_audit(
            &operator(UserSub::new_v4()),
            &PageQuery::default(),
            TimeRange::default(),
        )
        .await;
    assert!(matches!(denied, Err(ServiceError::Denied(_))));
}

#[tokio::test]
async fn export_csv_quotes_and_defuses_formulas_and_json_round_trips() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    let evil = "=HYPERLINK(\"http://x\",\"click\"), \"quoted\"";
    let m = create(&svc, evil).await;
    create(&svc, "@SUM(A1)").await;
    create(&svc, "-2+3").await;
    create(&svc, "plain").await;
    // More than one export page (500) to prove paging.
    sqlx::query(
        "INSERT INTO users_audit (action, user_id) SELECT 'BULK', gen_random_uuid() FROM generate_series(1, 620)",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    let mut csv = Vec::new();
    let n = svc
        .export_audit(
            &root,
            &PageQuery::default(),
            TimeRange::default(),
            ExportFormat::Csv,
            &mut csv,
        )
        .await
        .unwrap();
    assert_eq!(n, 624);
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(
        csv.lines().count(),
        625,
        "header + rows (no field has a line break)"
    );
    assert!(csv.starts_with("occurred_at,source,action,"));
    let evil_line = csv.lines().find(|l| l.contains(&m.to_string())).unwrap();
    assert!(
        evil_line.contains("\"'=HYPERLINK(\"\"http://x\"\",\"\"click\"\"), \"\"quoted\"\"\""),
        "{evil_line}"
    );
    assert!(csv.contains(",'@SUM(A1),"), "{csv:.300}");
    assert!(csv.contains(",'-2+3,"));
    assert!(csv.contains(",plain,"));
    // No cell starts with a raw formula character.
    for line in csv.lines().skip(1) {
        for cell in split_csv(line) {
            assert!(!cell.starts_with(['=', '+', '@']), "{cell}");
            assert!(!cell.starts_with('-'), "{cell}");
        }
    }

    let mut json = Vec::new();
    let range = TimeRange::default();
    let q = PageQuery::default().filter("source", ["mandates"]);
    let n = svc
        .export_audit(&root, &q, range, ExportFormat::Json, &mut json)
        .await
        .unwrap();
    assert_eq!(n, 4);
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 4);
    assert!(arr.iter().any(|e| e["subject_name"] == evil));
    // Empty result: still valid JSON.
    let mut json = Vec::new();
    let q = PageQuery::default().filter("action", ["NOTHING"]);
    svc.export_audit(&root, &q, range, ExportFormat::Json, &mut json)
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&json).unwrap(),
        serde_json::json!([])
    );
}

/// Minimal RFC 4180 field splitter for the assertions above.
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

// ---------------------------------------------------------------------------------------------
// CLI end to end
// ---------------------------------------------------------------------------------------------

/// `hubdeck ARGS --database-url URL` with the local directory, no stdin: (exit code, stdout,
/// stderr).
pub(crate) fn hubdeck(db: &pg::TestDb, args: &[&str]) -> (i32, String, String) {
    let out = crate::support::cli::infra()
        .args(args)
        .args(["--database-url", &db.url])
        .env("HUBDECK_DIRECTORY__KIND", "local")
        .env("HUBDECK_DATA_DIR", std::env::temp_dir())
        .env("USER", "ci-operator")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn cli_mandates_members_purge_and_audit() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    // An identity in the local directory to add.
    let ident = svc
        .directory
        .create_user(&hubdeck::directory::NewIdentity {
            email: hubdeck::domain::Email::parse("carol@example.org").unwrap(),
            email_verified: true,
            invite: hubdeck::directory::Invite::Suppress,
            temporary_password: None,
        })
        .await
        .unwrap();

    let (code, out, err) = hubdeck(
        &db,
        &["mandates", "create", "--name", "CliRed", "--output", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = v["mandate"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["subscription"]["status"], "trialing");

    // Control characters are refused at the edge...
    let (code, _, _) = hubdeck(&db, &["mandates", "create", "--name", "Bad\u{1b}[31m"]);
    assert_eq!(code, 2);
    // ...and whatever reaches the table from the database is sanitized.
    sqlx::query("INSERT INTO mandate (name, enabled) VALUES (E'Evil\\u001b[31mRed', false)")
        .execute(&db.pool)
        .await
        .unwrap();
    // Table output sanitizes untrusted text.
    let (code, out, err) = hubdeck(&db, &["mandates", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Evil\\x1b[31mRed"), "{out}");
    assert!(!out.contains('\u{1b}'));
    assert!(err.contains("rows 1–2 of 2"), "{err}");

    let (code, _, err) = hubdeck(
        &db,
        &[
            "mandates",
            "members",
            "add",
            &id,
            "carol@example.org",
            "--role",
            "admin",
            "--role",
            "member",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = hubdeck(
        &db,
        &["mandates", "members", "list", &id, "--output", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["total"], 1);
    assert_eq!(
        v["items"][0]["role_labels"],
        serde_json::json!(["admin", "member"])
    );
    assert_eq!(v["items"][0]["user_id"], ident.sub.to_string());
    // The last admin: conflict exit code and the exact message.
    let (code, _, err) = hubdeck(
        &db,
        &["mandates", "members", "remove", &id, "carol@example.org"],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("Assign another admin first."), "{err}");
    let (code, _, err) = hubdeck(
        &db,
        &[
            "mandates",
            "members",
            "add",
            &id,
            "nobody@example.org",
            "--role",
            "member",
        ],
    );
    assert_eq!(code, 4, "{err}");
    let (code, _, err) = hubdeck(&db, &["mandates", "list", "--sort", "password"]);
    assert_eq!(code, 2, "{err}");

    // Hard delete: wrong name refused (2), right name removes everything.
    let (code, _, err) = hubdeck(
        &db,
        &["mandates", "delete", &id, "--hard", "--confirm-name", "Cli"],
    );
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = hubdeck(
        &db,
        &[
            "mandates",
            "delete",
            &id,
            "--hard",
            "--confirm-name",
            "CliRed",
        ],
    );
    assert_eq!(code, 0, "{err}");

    // Soft delete + purge dry run (nothing expired yet).
    let (_, out, _) = hubdeck(
        &db,
        &["mandates", "create", "--name", "Temp", "--output", "json"],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let temp = v["mandate"]["id"].as_str().unwrap().to_string();
    assert_eq!(hubdeck(&db, &["mandates", "delete", "Temp"]).0, 0);
    let (code, out, _) = hubdeck(&db, &["purge-mandates", "--dry-run", "--output", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["mandates"], serde_json::json!([]));
    let (code, out, err) = hubdeck(&db, &["mandates", "restore", &temp, "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"enabled\": true"));

    // Audit: CLI rows carry via=cli and the OS user; export works.
    let (code, out, err) = hubdeck(
        &db,
        &[
            "audit",
            "list",
            "--source",
            "mandates",
            "--output",
            "json",
            "--page-size",
            "100",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let items = v["items"].as_array().unwrap();
    // create, member add, hard delete, create, soft delete, restore (refusals write nothing)
    assert_eq!(v["total"], 6);
    assert!(items.iter().all(|e| e["via"] == "cli"
        && e["os_user"] == crate::support::cli::real_account().as_str()
        && e["actor_user_id"].is_null()));
    let (code, out, _) = hubdeck(
        &db,
        &[
            "audit",
            "export",
            "--format",
            "csv",
            "--action",
            "MEMBER_ADDED",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 2, "{out}");

    // The CLI parses times as the console does (domain TimeRange): a bare date as --to takes
    // in that whole day, so yesterday..today lists everything above; a bad time names the flag.
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let yesterday = (Utc::now() - Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let (code, out, err) = hubdeck(
        &db,
        &[
            "audit", "list", "--source", "mandates", "--from", &yesterday, "--to", &today,
            "--output", "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["total"], 6, "{out}");
    let (code, out, err) = hubdeck(&db, &["audit", "list", "--from", "last tuesday"]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains("--from"), "{err}");
}

/// 150,000 audit rows (more than the capped total of 100,001, many sharing a timestamp across
/// page boundaries) exported while another connection keeps adding rows: every row that
/// existed when the export began is written exactly once.
#[tokio::test]
async fn export_writes_every_row_once_while_rows_are_added() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    // Timestamps shared by 3 (users), 7 (trusts) and 2 (mandates) rows, all in the past.
    sqlx::query(
        "INSERT INTO users_audit (action, user_id, \"timestamp\") \
         SELECT 'BULK', gen_random_uuid(), now() - interval '1 day' - (g / 3) * interval '1 second' \
         FROM generate_series(1, 100000) g",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO trusts_audit (trust_id, trust_name, action, audit_date) \
         SELECT gen_random_uuid(), 'T', 'KEY_ROTATED', now() - interval '1 day' - (g / 7) * interval '1 second' \
         FROM generate_series(1, 30000) g",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO mandate_audit (action, mandate_id, created_at) \
         SELECT 'BULK', gen_random_uuid(), now() - interval '1 day' - (g / 2) * interval '1 second' \
         FROM generate_series(1, 20000) g",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let before: std::collections::HashSet<Uuid> = sqlx::query_scalar("SELECT id FROM audit_event")
        .fetch_all(&db.pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(before.len(), 150_000);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let pool = db.pool.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut added = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                sqlx::query(
                    "WITH a AS (INSERT INTO users_audit (action, user_id) \
                       SELECT 'LIVE', gen_random_uuid() FROM generate_series(1, 20)), \
                     b AS (INSERT INTO mandate_audit (action, mandate_id) VALUES ('LIVE', gen_random_uuid())) \
                     INSERT INTO trusts_audit (trust_id, trust_name, action) \
                     VALUES (gen_random_uuid(), 'LIVE', 'KEY_ROTATED')",
                )
                .execute(&pool)
                .await
                .unwrap();
                added += 22;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            added
        })
    };

    let mut csv = Vec::new();
    let n = svc
        .export_audit(
            &root,
            &PageQuery::default(),
            TimeRange::default(),
            ExportFormat::Csv,
            &mut csv,
        )
        .await
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let added = writer.await.unwrap();
    assert!(added > 0, "the writer must have run during the export");

    let csv = String::from_utf8(csv).unwrap();
    let mut ids = Vec::new();
    let mut live = 0u64;
    for line in csv.lines().skip(1) {
        // No field of these rows holds a comma: action is field 3, subject_name 8, id last.
        let fields: Vec<&str> = line.split(',').collect();
        if fields[2] == "LIVE" || fields[7] == "LIVE" {
            live += 1;
        } else {
            ids.push(fields.last().unwrap().parse::<Uuid>().unwrap());
        }
    }
    let distinct: std::collections::HashSet<Uuid> = ids.iter().copied().collect();
    assert_eq!(n, ids.len() as u64 + live);
    assert_eq!(distinct.len(), ids.len(), "a row was written twice");
    assert_eq!(ids.len(), 150_000, "every row that existed is written once");
    assert_eq!(distinct, before);
    // Rows committed after the export's first page are newer than it and not part of it.
    assert!(
        live < added,
        "live rows {live} of {added}: the export must not chase the writer"
    );
}

fn dir_entries(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `export_to_file` (CLI `audit export --out` and the console's export): the file is 0600 and
/// complete; a failure — refused actor, bad query, cancelled task — leaves nothing behind and
/// never clobbers an earlier export at the same path.
#[tokio::test]
async fn export_to_file_is_private_and_leaves_no_file_on_failure() {
    use std::os::unix::fs::PermissionsExt;
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    create(&svc, "Exported").await;
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("audit.csv");

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
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let first = std::fs::read_to_string(&path).unwrap();
    assert_eq!(first.lines().count(), 2, "{first}");
    assert_eq!(dir_entries(t.path()), vec!["audit.csv".to_string()]);

    // A bad query fails after the file was opened: no partial file, the old export intact.
    let bad = PageQuery::default().filter("no_such_column", ["x"]);
    let e = svc
        .export_to_file(&root, &bad, TimeRange::default(), ExportFormat::Json, &path)
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Query(_)), "{e}");
    assert_eq!(dir_entries(t.path()), vec!["audit.csv".to_string()]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first);

    // Refused before anything is written, at a fresh path: no file at all.
    let fresh = t.path().join("denied.json");
    let viewer = operator(UserSub::new_v4());
    let e = svc
        .export_to_file(
            &viewer,
            &PageQuery::default(),
            TimeRange::default(),
            ExportFormat::Json,
            &fresh,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Denied(_)), "{e}");
    assert!(!fresh.exists());

    // A directory that does not exist: a clear error, nothing created.
    let nowhere = t.path().join("missing/audit.csv");
    let e = svc
        .export_to_file(
            &root,
            &PageQuery::default(),
            TimeRange::default(),
            ExportFormat::Csv,
            &nowhere,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("cannot write the export"), "{e}");
    assert_eq!(dir_entries(t.path()), vec!["audit.csv".to_string()]);

    // Cancelling mid-way is proven by `an_export_cancelled_mid_way_leaves_the_earlier_file_intact`
    // (it cancels after a known page; a zero timeout raced the first page on a loaded machine).
}

/// The console runs an export as an abortable task and shows its progress: the rows written so
/// far come after every page, and cancelling after the first page (the file already holds 500
/// rows) removes the partial file and leaves an earlier export at the same path as it was.
#[tokio::test]
async fn an_export_cancelled_mid_way_leaves_the_earlier_file_intact() {
    let db = pg::fresh_db().await;
    let svc = services(&db);
    let root = sysadmin(&db.pool).await;
    sqlx::query(
        "INSERT INTO users_audit (action, user_id) SELECT 'BULK', gen_random_uuid() \
         FROM generate_series(1, 1200)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("audit.csv");
    std::fs::write(&path, "the earlier export\n").unwrap();

    // Progress: one report per page, the running total.
    let mut seen = Vec::new();
    let n = svc
        .export_to_file_with(
            &root,
            &PageQuery::default(),
            TimeRange::default(),
            ExportFormat::Csv,
            &t.path().join("full.csv"),
            &mut |rows| seen.push(rows),
        )
        .await
        .unwrap();
    assert_eq!(n, 1200);
    assert_eq!(seen, [500, 1000, 1200]);
    std::fs::remove_file(t.path().join("full.csv")).unwrap();

    let (cancel, cancelled) = tokio::sync::oneshot::channel::<()>();
    let mut cancel = Some(cancel);
    let mut reported = Vec::new();
    let mut on_progress = |rows: u64| {
        reported.push(rows);
        if let Some(c) = cancel.take() {
            let _ = c.send(());
        }
    };
    let everything = PageQuery::default();
    let export = svc.export_to_file_with(
        &root,
        &everything,
        TimeRange::default(),
        ExportFormat::Csv,
        &path,
        &mut on_progress,
    );
    tokio::select! {
        biased;
        _ = cancelled => {}
        r = export => panic!("the export was not cancelled: {r:?}"),
    }
    // Cancelled once the first page was written: the export stops at its next await (a page
    // already in flight may still be reported), never reaching the last page.
    assert_eq!(reported.first(), Some(&500), "{reported:?}");
    assert!(!reported.contains(&1200), "ran to the end: {reported:?}");
    assert_eq!(dir_entries(t.path()), vec!["audit.csv".to_string()]);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "the earlier export\n"
    );
}
