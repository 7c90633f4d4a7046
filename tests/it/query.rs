//! The shared list query builder (issue 13): keyset paging (next/previous contiguous and stable
//! under inserts, End = the true last rows whatever the size), the count as a separate request
//! (exact for the CLI, capped for the console, the planner's estimate), and page statements that
//! walk an index and stop after the page — checked with EXPLAIN ANALYZE row counts.

use hubdeck::domain::PageQuery;
use hubdeck::domain::page::{Position, SortDir, TOTAL_CAP, Want};
use hubdeck::store::mandates::{self, MandateScope};
use hubdeck::store::members as mstore;
use hubdeck::store::query::PROBE_ROWS;
use hubdeck::store::users as ustore;

use crate::support::pg;

async fn insert_mandates(pool: &hubdeck::store::Db, n: u64) {
    sqlx::query(
        "INSERT INTO mandate (name, label, enabled, created_at) \
         SELECT 'Mandate ' || lpad(g::text, 7, '0'), \
                CASE WHEN g % 5 = 0 THEN NULL ELSE 'label-' || (g % 7) END, g % 3 <> 0, \
                now() - make_interval(secs => g % 1000) \
         FROM generate_series(1, $1) g",
    )
    .bind(n as i64)
    .execute(pool)
    .await
    .unwrap();
    exec(pool, &["VACUUM (ANALYZE) mandate"]).await;
}

/// Runs statements without binds, one after the other.
async fn exec(pool: &hubdeck::store::Db, statements: &[&'static str]) {
    for statement in statements {
        sqlx::raw_sql(*statement).execute(pool).await.unwrap();
    }
}

/// 6,000 directory users `md5('u' || g)`, emailed `userNNNNN` followed by `domain` (an SQL
/// expression over `g`).
async fn insert_users(pool: &hubdeck::store::Db, domain: &'static str) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO directory_user (sub, username, email, enabled, status, synced_at, created_at, updated_at) \
         SELECT md5('u' || g)::uuid, 'user' || g, 'user' || lpad(g::text, 5, '0') || {domain}, \
                true, 'CONFIRMED', now(), now(), now() FROM generate_series(1, 6000) g"
    )))
    .execute(pool)
    .await
    .unwrap();
}

/// Makes the 6,000 users `md5('u' || g)` members of "Mandate 0000007"; returns its id.
async fn users_join_mandate_7(pool: &hubdeck::store::Db) -> hubdeck::domain::MandateId {
    let big: hubdeck::domain::MandateId =
        sqlx::query_scalar("SELECT id FROM mandate WHERE name = 'Mandate 0000007'")
            .fetch_one(pool)
            .await
            .unwrap();
    sqlx::query(
        "INSERT INTO user_mandate (user_id, mandate_id) \
         SELECT md5('u' || g)::uuid, $1 FROM generate_series(1, 6000) g",
    )
    .bind(big)
    .execute(pool)
    .await
    .unwrap();
    big
}

fn names(p: &hubdeck::domain::Page<mandates::Mandate>) -> Vec<String> {
    p.items.iter().map(|m| m.name.clone()).collect()
}

#[tokio::test]
async fn end_shows_the_true_last_row_of_a_list_larger_than_the_display_cap() {
    let db = pg::fresh_db().await;
    let n = TOTAL_CAP + 5;
    insert_mandates(&db.pool, n).await;

    // The console's count is capped (a display choice) …
    let capped = mandates::list(
        &db.pool,
        &PageQuery::new(1, 50).wanting(Want::CappedCount),
        MandateScope::All,
    )
    .await
    .unwrap();
    assert!(capped.items.is_empty());
    assert_eq!(capped.total, TOTAL_CAP + 1);
    // … but End is not: the last page holds the last rows of the whole list.
    let last = mandates::list(
        &db.pool,
        &PageQuery::new(1, 50).wanting(Want::Rows).at(Position::Last),
        MandateScope::All,
    )
    .await
    .unwrap();
    assert_eq!(last.items.len(), 50);
    assert_eq!(last.items[49].name, format!("Mandate {:07}", n));
    assert_eq!(last.items[0].name, format!("Mandate {:07}", n - 49));
    assert!(last.nav.at_end && !last.nav.at_start);
    assert_eq!(last.next_cursor, None);
    // PgUp from the end: the 50 rows before, contiguous.
    let before = mandates::list(
        &db.pool,
        &PageQuery::new(1, 50)
            .wanting(Want::Rows)
            .at(Position::Before(last.nav.first.clone().unwrap())),
        MandateScope::All,
    )
    .await
    .unwrap();
    assert_eq!(before.items[49].name, format!("Mandate {:07}", n - 50));
    assert_eq!(before.items[0].name, format!("Mandate {:07}", n - 99));
    // The CLI's total stays exact; the estimate is in the right range.
    let cli = mandates::list(&db.pool, &PageQuery::new(1, 10), MandateScope::All)
        .await
        .unwrap();
    assert_eq!(cli.total, n);
    let est = mandates::list(
        &db.pool,
        &PageQuery::new(1, 10).wanting(Want::Estimate),
        MandateScope::All,
    )
    .await
    .unwrap();
    assert!(
        est.total > n / 2 && est.total < n * 2,
        "estimate {}",
        est.total
    );
    // Rows only: no count was made.
    assert_eq!(last.total, 0);
}

/// Walks the whole list forwards with `After` cursors and backwards from `Last` with `Before`
/// cursors; both must equal the full ORDER BY of the same rows.
async fn walk(pool: &hubdeck::store::Db, q: PageQuery) -> (Vec<String>, Vec<String>) {
    let mut fwd = Vec::new();
    let mut page = mandates::list(pool, &q, MandateScope::All).await.unwrap();
    assert!(page.nav.at_start);
    loop {
        fwd.extend(names(&page));
        if page.nav.at_end {
            break;
        }
        let next = q
            .clone()
            .at(Position::After(page.nav.last.clone().unwrap()));
        page = mandates::list(pool, &next, MandateScope::All)
            .await
            .unwrap();
        assert!(fwd.len() < 100_000, "walk does not end");
    }
    let mut back: Vec<String> = Vec::new();
    let mut page = mandates::list(pool, &q.clone().at(Position::Last), MandateScope::All)
        .await
        .unwrap();
    loop {
        let mut n = names(&page);
        n.extend(back);
        back = n;
        if page.nav.at_start {
            break;
        }
        let prev = q
            .clone()
            .at(Position::Before(page.nav.first.clone().unwrap()));
        page = mandates::list(pool, &prev, MandateScope::All)
            .await
            .unwrap();
    }
    (fwd, back)
}

#[tokio::test]
async fn keyset_pages_are_contiguous_in_every_sort_including_nulls() {
    let db = pg::fresh_db().await;
    insert_mandates(&db.pool, 730).await;
    // Sorts with duplicates and NULLs (label), mixed with the tie-breaker, both directions.
    for (sort, dir, sql) in [
        ("name", SortDir::Asc, "ORDER BY name ASC, id ASC"),
        ("label", SortDir::Asc, "ORDER BY label ASC, id ASC"),
        ("label", SortDir::Desc, "ORDER BY label DESC, id DESC"),
        (
            "created_at",
            SortDir::Desc,
            "ORDER BY created_at DESC, id DESC",
        ),
        ("enabled", SortDir::Asc, "ORDER BY enabled ASC, id ASC"),
    ] {
        let q = PageQuery::new(1, 50).wanting(Want::Rows).sort(sort, dir);
        let expected: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM mandate WHERE deleted_at IS NULL {sql}"
        )))
        .fetch_all(&db.pool)
        .await
        .unwrap();
        let (fwd, back) = walk(&db.pool, q).await;
        assert_eq!(fwd, expected, "forward walk, sort {sort} {dir:?}");
        assert_eq!(back, expected, "backward walk, sort {sort} {dir:?}");
    }
    // Two keys, mixed directions, with a search (the materialised plan).
    let q = PageQuery::new(1, 25)
        .wanting(Want::Rows)
        .search("0")
        .sort("label", SortDir::Desc)
        .sort("name", SortDir::Asc);
    let expected: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM mandate WHERE deleted_at IS NULL AND (name ILIKE '%0%' OR label ILIKE '%0%') \
         ORDER BY label DESC, name ASC, id ASC",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let (fwd, back) = walk(&db.pool, q).await;
    assert_eq!(fwd, expected);
    assert_eq!(back, expected);
}

#[tokio::test]
async fn next_page_is_stable_while_rows_are_inserted_before_the_cursor() {
    let db = pg::fresh_db().await;
    insert_mandates(&db.pool, 300).await;
    let q = PageQuery::new(1, 50).wanting(Want::Rows);
    let p1 = mandates::list(&db.pool, &q, MandateScope::All)
        .await
        .unwrap();
    let cursor = p1.nav.last.clone().unwrap();
    // Another operator creates 30 mandates that sort before the cursor.
    sqlx::query(
        "INSERT INTO mandate (name, enabled) SELECT 'Mandate 0000000-' || g, true \
         FROM generate_series(1, 30) g",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let p2 = mandates::list(
        &db.pool,
        &q.clone().at(Position::After(cursor)),
        MandateScope::All,
    )
    .await
    .unwrap();
    // Keyset: exactly the rows after row 50 — no row shown twice, none skipped. (OFFSET 50
    // would now start 30 rows earlier and show rows of page 1 again.)
    let expected: Vec<String> = (51..=100).map(|i| format!("Mandate {i:07}")).collect();
    assert_eq!(names(&p2), expected);
    let offset = mandates::list(&db.pool, &PageQuery::new(2, 50), MandateScope::All)
        .await
        .unwrap();
    assert_ne!(names(&offset), expected, "control: OFFSET shifts");
    // And back: the rows before page 2's first row are page 1 plus nothing new in between
    // (the new rows sort before every row of page 1).
    let back = mandates::list(
        &db.pool,
        &q.clone()
            .at(Position::Before(p2.nav.first.clone().unwrap())),
        MandateScope::All,
    )
    .await
    .unwrap();
    assert_eq!(names(&back), names(&p1));
    assert!(!back.nav.at_start, "the 30 new rows are before it");
    // A cursor from another sort is refused with a clear error, not garbage.
    let bad = mandates::list(
        &db.pool,
        &q.clone()
            .sort("label", SortDir::Asc)
            .sort("name", SortDir::Asc)
            .at(Position::After(p1.nav.last.clone().unwrap())),
        MandateScope::All,
    )
    .await;
    assert!(format!("{:?}", bad.unwrap_err()).contains("BadCursor"));
}

/// Largest `actual rows=` of any plan node and of any "Rows Removed by Filter".
fn max_rows(plan: &[String]) -> u64 {
    let mut max = 0;
    for line in plan {
        for marker in ["actual rows=", "Rows Removed by Filter: "] {
            if let Some(i) = line.find(marker) {
                let n: String = line[i + marker.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                max = max.max(n.parse().unwrap_or(0));
            }
        }
    }
    max
}

#[tokio::test]
async fn page_statements_use_an_index_and_stop_after_the_page() {
    let db = pg::fresh_db().await;
    let pool = &db.pool;
    insert_mandates(pool, 30_000).await;
    // 6,000 users with profiles; one mandate with all of them as members.
    insert_users(
        pool,
        "CASE WHEN g % 40 = 0 THEN '@khan.example' ELSE '@example.org' END",
    )
    .await;
    sqlx::query(
        "INSERT INTO user_profile (user_id, name, organisation) \
         SELECT md5('u' || g)::uuid, 'Person ' || g, 'Org ' || (g % 9) FROM generate_series(1, 6000) g",
    )
    .execute(pool)
    .await
    .unwrap();
    let big = users_join_mandate_7(pool).await;
    // Small mandates around it, so the big one is a slice of the table.
    sqlx::query(
        "INSERT INTO user_mandate (user_id, mandate_id) \
         SELECT md5('u' || (1 + (m.n * 7919) % 6000))::uuid, m.id \
         FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM mandate WHERE id <> $1 LIMIT 5000) m",
    )
    .bind(big)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("VACUUM (ANALYZE)").execute(pool).await.unwrap();
    // The denormalised member columns were filled by the triggers.
    let filled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM user_mandate WHERE mandate_id = $1 AND member_email LIKE 'user%' \
         AND member_name LIKE 'Person %' AND member_search LIKE '%' || member_email || '%'",
    )
    .bind(big)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(filled, 6000);

    let rows = PageQuery::new(1, 50).wanting(Want::Rows);
    let mut checked = 0;
    // Sorted lists: every node returns at most the segments' pages; nothing sorts the list.
    for q in [
        rows.clone(),
        rows.clone().sort("name", SortDir::Desc),
        rows.clone().sort("created_at", SortDir::Asc),
        rows.clone().filter("enabled", ["true"]),
        rows.clone().at(Position::Last),
        rows.clone().sort("label", SortDir::Asc),
        rows.clone().sort("enabled", SortDir::Desc),
        rows.clone()
            .sort("enabled", SortDir::Asc)
            .at(Position::Last),
    ] {
        let plan = mandates::explain_page(pool, &q, MandateScope::All)
            .await
            .unwrap();
        let text = plan.join("\n");
        assert!(text.contains("Index"), "{text}");
        assert!(!text.contains("Seq Scan on mandate "), "{text}");
        assert!(
            max_rows(&plan) <= 51 * 3,
            "{q:?}: reads more than the page\n{text}"
        );
        // Next page from the middle: still a page's worth of rows.
        let p = mandates::list(pool, &q, MandateScope::All).await.unwrap();
        if let Some(c) = p.nav.last.clone().filter(|_| !p.nav.at_end) {
            let plan =
                mandates::explain_page(pool, &q.clone().at(Position::After(c)), MandateScope::All)
                    .await
                    .unwrap();
            assert!(max_rows(&plan) <= 51 * 3, "{}", plan.join("\n"));
        }
        checked += 1;
    }
    // Searched: the trigram bitmap finds the matches; only the matches are sorted.
    let q = rows.clone().search("Mandate 00123");
    let plan = mandates::explain_page(pool, &q, MandateScope::All)
        .await
        .unwrap();
    let text = plan.join("\n");
    assert!(
        text.contains("Bitmap Index Scan on mandate_name_trgm"),
        "{text}"
    );
    assert!(max_rows(&plan) <= 200, "{text}");
    // Members of the 6,000-member mandate, sorted by email both ways and by name.
    for q in [
        rows.clone().sort("email", SortDir::Asc),
        rows.clone().sort("email", SortDir::Desc),
        rows.clone().sort("full_name", SortDir::Asc),
        rows.clone().sort("roles", SortDir::Desc),
        rows.clone().sort("admin", SortDir::Desc),
        rows.clone().sort("admin", SortDir::Asc).at(Position::Last),
        rows.clone().sort("enabled", SortDir::Asc),
        rows.clone(),
    ] {
        let plan = mstore::explain_page(pool, big, &q).await.unwrap();
        let text = plan.join("\n");
        assert!(text.contains("Index"), "{text}");
        assert!(!text.contains("Seq Scan on user_mandate "), "{text}");
        assert!(
            !text.contains("directory_user du  (actual rows=6000"),
            "{text}"
        );
        assert!(max_rows(&plan) <= 51 * 3, "{q:?}\n{text}");
        checked += 1;
    }
    // Members searched: one trigram bitmap on the membership (150 of 6,000 match `khan`).
    let plan = mstore::explain_page(
        pool,
        big,
        &rows.clone().search("khan").sort("email", SortDir::Asc),
    )
    .await
    .unwrap();
    let text = plan.join("\n");
    // One match in 40 members: a probe walks the email index inside the mandate and stops
    // once it has a page (about 2,000 rows), far below its bound.
    assert!(
        text.contains("Index Scan using user_mandate_email_sort_idx"),
        "{text}"
    );
    assert!(!text.contains("Seq Scan on user_mandate "), "{text}");
    assert!(max_rows(&plan) < PROBE_ROWS as u64, "{text}");
    let page = mstore::list(pool, big, &rows.clone().search("khan"))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 50);
    assert!(
        page.items
            .iter()
            .all(|m| m.email.as_deref().unwrap_or("").contains("khan"))
    );
    // Users sorted by email: an index walk that stops after the page.
    let plan = ustore::explain_page(pool, &rows, &[]).await.unwrap();
    let text = plan.join("\n");
    assert!(text.contains("directory_user_email_idx"), "{text}");
    assert!(max_rows(&plan) <= 51 * 3, "{text}");
    checked += 1;
    // Every other sort of the Users screen: an index on the directory row (the profile's name
    // and organisation are kept there), both ways, first and last page.
    for (col, index) in [
        ("name", "directory_user_name_sort_idx"),
        ("organisation", "directory_user_org_sort_idx"),
        ("status", "directory_user_status_sort_idx"),
        ("enabled", "directory_user_enabled_sort_idx"),
    ] {
        for q in [
            rows.clone().sort(col, SortDir::Asc),
            rows.clone().sort(col, SortDir::Desc),
            rows.clone().sort(col, SortDir::Asc).at(Position::Last),
        ] {
            let plan = ustore::explain_page(pool, &q, &[]).await.unwrap();
            let text = plan.join("\n");
            assert!(text.contains(index), "{q:?}\n{text}");
            assert!(!text.contains("Seq Scan on directory_user"), "{text}");
            assert!(max_rows(&plan) <= 51 * 3, "{q:?}\n{text}");
            checked += 1;
        }
    }
    // Users searched, one in 40 matching: a probe walks the email index and stops after the
    // page; a term with few matches has them collected first and only they are sorted (at
    // 6,000 users a sequential scan for the set is the planner's legitimate choice).
    let plan = ustore::explain_page(pool, &rows.clone().search("khan"), &[])
        .await
        .unwrap();
    let text = plan.join("\n");
    // (Index-only: the email index carries what the search reads, migration 1320.)
    assert!(
        text.contains("Index Only Scan using directory_user_email_idx"),
        "{text}"
    );
    assert!(max_rows(&plan) < PROBE_ROWS as u64, "{text}");
    let plan = ustore::explain_page(pool, &rows.clone().search("user0004"), &[])
        .await
        .unwrap();
    let text = plan.join("\n");
    assert!(text.contains("CTE hubdeck_m"), "{text}");
    assert!(text.contains("CTE Scan on hubdeck_m  (cost=0.00"), "{text}");
    assert!(
        !text.contains("Scan using directory_user_email_idx"),
        "{text}"
    );
    checked += 1;
    assert_eq!(checked, 11 + 3 + 4 + 12);
}

/// The operator's view: in the real console (tmux), End on a list larger than the display cap
/// shows the last mandate of the whole list, PgUp the rows right before it, and the range label
/// reads "rows …–100,005 of 100,005"-style numbers once counted, or "of more than 100,000"
/// when the count is capped.
#[tokio::test(flavor = "multi_thread")]
async fn console_end_shows_the_last_mandate_beyond_the_cap() {
    use crate::tui_e2e::{
        OPERATOR_EMAIL, OPERATOR_PASSWORD, seed_identity, services, start_signed_in,
    };
    let db = pg::fresh_db().await;
    let s = services(&db).await;
    seed_identity(
        &s,
        OPERATOR_EMAIL,
        Some(OPERATOR_PASSWORD),
        Some(hubdeck::domain::RoleRef::Admin),
    )
    .await;
    let n = TOTAL_CAP + 5;
    insert_mandates(&db.pool, n).await;
    let t = start_signed_in(&db, &[]);
    t.wait_for(&["Mandate 0000001", "rows 1–", "of more than 100,000"]);
    t.keys(&["End"]);
    let last = format!("Mandate {n:07}");
    // Wait for the whole answer (a capture can land between two halves of one frame): the
    // true last row selected, and the capped count.
    let selected = format!("▶ {last}");
    let screen = t.wait_for(&[selected.as_str(), "last "]);
    let screen = if screen.contains("rows of more than 100,000") {
        screen
    } else {
        t.wait_for(&[selected.as_str(), "rows of more than 100,000"])
    };
    assert!(
        screen.contains("rows of more than 100,000"),
        "capped count, true last rows: {screen}"
    );
    t.keys(&["PageUp"]);
    let before = format!("▶ Mandate {:07}", n - 99);
    t.wait_for(&[before.as_str()]);
    t.wait_gone(&[last.as_str()]);
    t.keys(&["Home"]);
    t.wait_for(&["Mandate 0000001", "rows 1–"]);
    t.quit();
}

fn cli(db: &pg::TestDb, args: &[&str]) -> serde_json::Value {
    let out = crate::support::cli::infra()
        .args(args)
        .args(["--output", "json", "--database-url", &db.url])
        .env("HUBDECK_DIRECTORY__KIND", "local")
        .env("HUBDECK_DATA_DIR", std::env::temp_dir())
        .env("USER", "ci-operator")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Walks a CLI list with `--after <next_cursor>` until a page has no `next_cursor`; returns the
/// `field` of every row and the `total` of every page. `between` runs after the first page.
fn cli_walk(
    db: &pg::TestDb,
    args: &[&str],
    field: &str,
    mut between: impl FnMut(),
) -> (Vec<String>, Vec<u64>) {
    let mut seen = Vec::new();
    let mut totals = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut a: Vec<&str> = args.to_vec();
        if let Some(c) = &cursor {
            a.extend(["--after", c.as_str()]);
        }
        let v = cli(db, &a);
        for row in v["items"].as_array().unwrap() {
            seen.push(row[field].as_str().unwrap().to_string());
        }
        totals.push(v["total"].as_u64().unwrap());
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        if totals.len() == 1 {
            between();
        }
        assert!(totals.len() < 100, "walk does not end");
    }
    (seen, totals)
}

/// The CLI's scripts walk: `--after` visits every row exactly once in sort order while rows are
/// inserted before the cursor, on the mandates, users and trusts lists; each page's JSON keeps
/// the exact `total`. A bad cursor is a usage error, not garbage.
#[tokio::test(flavor = "multi_thread")]
async fn cli_after_walks_every_list_exactly_once_with_an_exact_total() {
    let db = pg::fresh_db().await;
    insert_mandates(&db.pool, 230).await;
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status, synced_at, created_at, updated_at) \
         SELECT md5('u' || g)::uuid, 'user' || g, 'user' || lpad(g::text, 4, '0') || '@example.org', \
                true, 'CONFIRMED', now(), now(), now() FROM generate_series(1, 130) g",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO trust (name, code, region, api_key_hash) \
         SELECT 'Trust ' || lpad(g::text, 3, '0'), 'T' || g, 'north', repeat('a', 64) \
         FROM generate_series(1, 45) g",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    let pool = db.pool.clone();
    let (names, totals) = cli_walk(
        &db,
        &["mandates", "list", "--sort", "name", "--page-size", "50"],
        "name",
        || {
            // Rows that sort before the cursor: a keyset walk neither repeats nor skips.
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(async {
                    sqlx::query(
                        "INSERT INTO mandate (name, enabled) SELECT 'Mandate 0000000-' || g, true \
                         FROM generate_series(1, 7) g",
                    )
                    .execute(&pool)
                    .await
                    .unwrap();
                })
            })
        },
    );
    let expected: Vec<String> = (1..=230).map(|i| format!("Mandate {i:07}")).collect();
    assert_eq!(names, expected);
    assert_eq!(totals.first(), Some(&230));
    assert!(totals[1..].iter().all(|t| *t == 237), "{totals:?}");

    let (emails, totals) = cli_walk(
        &db,
        &["users", "list", "--sort", "email", "--page-size", "40"],
        "email",
        || {},
    );
    let expected: Vec<String> = (1..=130)
        .map(|i| format!("user{i:04}@example.org"))
        .collect();
    let ours: Vec<String> = emails
        .into_iter()
        .filter(|e| e.starts_with("user"))
        .collect();
    assert_eq!(ours, expected);
    assert!(
        totals.iter().all(|t| *t == totals[0] && *t >= 130),
        "{totals:?}"
    );

    let (trusts, totals) = cli_walk(
        &db,
        &["trusts", "list", "--sort", "name", "--page-size", "20"],
        "name",
        || {},
    );
    let expected: Vec<String> = (1..=45).map(|i| format!("Trust {i:03}")).collect();
    assert_eq!(trusts, expected);
    assert_eq!(totals, vec![45, 45, 45]);

    // A cursor that is not one: exit 2 with a clear message.
    let out = crate::support::cli::infra()
        .args(["users", "list", "--after", "zz", "--database-url", &db.url])
        .env("HUBDECK_DIRECTORY__KIND", "local")
        .env("HUBDECK_DATA_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--after"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The sort keys 0910 keeps on the rows (a user's profile name and organisation on the
/// directory row, a member's admin flag on the membership) follow every change in the same
/// statement's transaction: a profile renamed, removed or added after the user; an admin role
/// granted, revoked, or moved to another mandate.
#[tokio::test]
async fn sort_keys_kept_on_the_rows_follow_profile_and_role_changes() {
    use hubdeck::domain::roles::mandate_roles;
    let db = pg::fresh_db().await;
    let pool = &db.pool;
    let sub = |i: u32| format!("00000000-0000-0000-0000-{i:012}");
    for i in 1..=3 {
        sqlx::query(
            "INSERT INTO directory_user (sub, username, email, enabled, status) \
             VALUES ($1::uuid, $2, $2 || '@example.org', true, 'CONFIRMED')",
        )
        .bind(sub(i))
        .bind(format!("u{i}"))
        .execute(pool)
        .await
        .unwrap();
    }
    for (i, name) in [(1, "Carol"), (2, "Alice"), (3, "Bob")] {
        sqlx::query(
            "INSERT INTO user_profile (user_id, name, organisation) VALUES ($1::uuid, $2, $3)",
        )
        .bind(sub(i))
        .bind(name)
        .bind(format!("Org {name}"))
        .execute(pool)
        .await
        .unwrap();
    }
    // A profile created before its directory row (the sync inserts the row later).
    sqlx::query(
        "INSERT INTO user_profile (user_id, name, organisation) VALUES ($1::uuid, 'Aaron', 'Zeta')",
    )
    .bind(sub(4))
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status) \
         VALUES ($1::uuid, 'u4', 'u4@example.org', true, 'CONFIRMED')",
    )
    .bind(sub(4))
    .execute(pool)
    .await
    .unwrap();
    let by = |col: &'static str, dir: SortDir| async move {
        ustore::list_page(pool, &PageQuery::new(1, 50).sort(col, dir), &[])
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|u| u.name.unwrap_or_else(|| "-".into()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        by("name", SortDir::Asc).await,
        ["Aaron", "Alice", "Bob", "Carol"]
    );
    assert_eq!(
        by("organisation", SortDir::Desc).await,
        ["Aaron", "Carol", "Bob", "Alice"]
    );
    sqlx::query("UPDATE user_profile SET name = 'Zoe' WHERE user_id = $1::uuid")
        .bind(sub(2))
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM user_profile WHERE user_id = $1::uuid")
        .bind(sub(3))
        .execute(pool)
        .await
        .unwrap();
    // Without a profile the name sorts last ascending (NULLS LAST), first descending.
    assert_eq!(
        by("name", SortDir::Asc).await,
        ["Aaron", "Carol", "Zoe", "-"]
    );
    assert_eq!(
        by("name", SortDir::Desc).await,
        ["-", "Zoe", "Carol", "Aaron"]
    );

    // Members sorted and filtered by the admin flag.
    let mandate: hubdeck::domain::MandateId =
        sqlx::query_scalar("INSERT INTO mandate (name) VALUES ('Flags') RETURNING id")
            .fetch_one(pool)
            .await
            .unwrap();
    let other: uuid::Uuid =
        sqlx::query_scalar("INSERT INTO mandate (name) VALUES ('Other') RETURNING id")
            .fetch_one(pool)
            .await
            .unwrap();
    for i in 1..=3 {
        sqlx::query("INSERT INTO user_mandate (user_id, mandate_id) VALUES ($1::uuid, $2)")
            .bind(sub(i))
            .bind(mandate)
            .execute(pool)
            .await
            .unwrap();
    }
    let grant = |i: u32, role: uuid::Uuid| async move {
        sqlx::query(
            "INSERT INTO user_mandate_role (user_mandate_id, mandate_role_id) \
             SELECT id, $2 FROM user_mandate WHERE user_id = $1::uuid",
        )
        .bind(sub(i))
        .bind(role)
        .execute(pool)
        .await
        .unwrap();
    };
    grant(1, mandate_roles::MEMBER).await;
    grant(2, mandate_roles::ADMIN).await;
    grant(3, mandate_roles::MEMBER).await;
    // A role labelled admin belonging to another mandate does not make an admin here.
    let foreign: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO mandate_role (label, mandate_id) VALUES ('admin', $1) RETURNING id",
    )
    .bind(other)
    .fetch_one(pool)
    .await
    .unwrap();
    grant(3, foreign).await;
    let admins = |dir: SortDir| async move {
        let page = mstore::list(pool, mandate, &PageQuery::new(1, 50).sort("admin", dir))
            .await
            .unwrap();
        let flagged = mstore::list(
            pool,
            mandate,
            &PageQuery::new(1, 50).filter("admin", ["true"]),
        )
        .await
        .unwrap();
        (
            page.items
                .iter()
                .map(|m| (m.username.clone().unwrap_or_default(), m.is_admin))
                .collect::<Vec<_>>(),
            flagged
                .items
                .iter()
                .map(|m| m.username.clone().unwrap_or_default())
                .collect::<Vec<_>>(),
        )
    };
    let (desc, flagged) = admins(SortDir::Desc).await;
    assert_eq!(desc[0], ("u2".to_string(), true));
    assert!(desc[1..].iter().all(|(_, a)| !a), "{desc:?}");
    assert_eq!(flagged, ["u2"]);
    // The foreign role moves to this mandate: u3 becomes an admin; u2's admin role revoked.
    sqlx::query("UPDATE mandate_role SET mandate_id = $1 WHERE id = $2")
        .bind(mandate)
        .bind(foreign)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "DELETE FROM user_mandate_role WHERE mandate_role_id = $1 AND user_mandate_id IN \
         (SELECT id FROM user_mandate WHERE user_id = $2::uuid)",
    )
    .bind(mandate_roles::ADMIN)
    .bind(sub(2))
    .execute(pool)
    .await
    .unwrap();
    let (asc, flagged) = admins(SortDir::Asc).await;
    assert_eq!(asc.last().unwrap(), &("u3".to_string(), true));
    assert!(asc[..2].iter().all(|(_, a)| !a), "{asc:?}");
    assert_eq!(flagged, ["u3"]);
}

/// The plan walks `index` backwards from the cursor and reads about a page: no collected set.
fn assert_walks_back(plan: &[String], index: &str) {
    let text = plan.join("\n");
    assert!(!text.contains("CTE hubdeck_m"), "{text}");
    assert!(
        // (An index-only scan where the index carries what the search reads: migration 1320.)
        text.contains(&format!("Scan Backward using {index}")),
        "{text}"
    );
    assert!(max_rows(plan) <= 51 * 3, "{text}");
}

/// Page 1 of `q` over users, and the query for the page before page 2 (page 1 again).
async fn users_page_1_and_back_from_2(
    pool: &hubdeck::store::Db,
    q: &PageQuery,
) -> (hubdeck::domain::Page<ustore::UserRow>, PageQuery) {
    let first = ustore::list_page(pool, q, &[]).await.unwrap();
    let next = q
        .clone()
        .at(Position::After(first.nav.last.clone().unwrap()));
    let second = ustore::list_page(pool, &next, &[]).await.unwrap();
    let back = q
        .clone()
        .at(Position::Before(second.nav.first.clone().unwrap()));
    (first, back)
}

/// The previous page of a search that matches most of the list (here every user and member
/// matches `example`): only a page of rows lies before the cursor, so the page statement walks
/// the sort index back from the cursor instead of collecting all the matches first (at the
/// bench scale the collected set cost 3–4× the walk: issue 13's three "previous" misses).
/// Clustered matches are the case the bound protects: a walk back from page 2 of a term whose
/// matches sit late in the sort order could read the whole list before them, and there the
/// matches are still collected first.
#[tokio::test]
async fn previous_page_of_a_broad_search_walks_back_from_the_cursor() {
    let db = pg::fresh_db().await;
    let pool = &db.pool;
    insert_mandates(pool, 10).await;
    insert_users(pool, "'@example.org'").await;
    let big = users_join_mandate_7(pool).await;
    for table in ["directory_user", "user_mandate"] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {table}")))
            .execute(pool)
            .await
            .unwrap();
    }
    let q = PageQuery::new(1, 50)
        .wanting(Want::Rows)
        .search("example")
        .sort("email", SortDir::Asc);

    // Users: page 1, page 2, then back.
    let (first, back) = users_page_1_and_back_from_2(pool, &q).await;
    assert_walks_back(
        &ustore::explain_page(pool, &back, &[]).await.unwrap(),
        "directory_user_email_idx",
    );
    let again = ustore::list_page(pool, &back, &[]).await.unwrap();
    let subs = |p: &hubdeck::domain::Page<ustore::UserRow>| {
        p.items.iter().map(|u| u.sub).collect::<Vec<_>>()
    };
    assert_eq!(subs(&again), subs(&first), "previous page = page 1");

    // Members of the 6,000-member mandate: the same.
    let first = mstore::list(pool, big, &q).await.unwrap();
    let second = mstore::list(
        pool,
        big,
        &q.clone()
            .at(Position::After(first.nav.last.clone().unwrap())),
    )
    .await
    .unwrap();
    let back = q
        .clone()
        .at(Position::Before(second.nav.first.clone().unwrap()));
    assert_walks_back(
        &mstore::explain_page(pool, big, &back).await.unwrap(),
        "user_mandate_",
    );
    let again = mstore::list(pool, big, &back).await.unwrap();
    let ids = |p: &hubdeck::domain::Page<mstore::Member>| {
        p.items.iter().map(|m| m.membership_id).collect::<Vec<_>>()
    };
    assert_eq!(ids(&again), ids(&first), "previous page = page 1");

    // Clustered matches: `user059` matches the last 100 users by email; back from page 2 the
    // walk would read the 5,900 rows before them (its bound is the whole list before the
    // cursor), so the matches are collected first.
    let late = q.clone().search("user059");
    let (first, back) = users_page_1_and_back_from_2(pool, &late).await;
    let plan = ustore::explain_page(pool, &back, &[]).await.unwrap();
    let text = plan.join("\n");
    // (At 6,000 users a sequential scan for the set is the planner's legitimate choice.)
    assert!(text.contains("CTE hubdeck_m"), "{text}");
    assert!(
        !text.contains("Scan Backward using directory_user_email_idx"),
        "{text}"
    );
    let again = ustore::list_page(pool, &back, &[]).await.unwrap();
    assert_eq!(subs(&again), subs(&first), "previous page = page 1");
}

/// Adds `n` mandates named `prefix` + 001…, then pages through the matches of `term` both ways
/// and checks each direction is the full ORDER BY of the matches; returns them and the query.
async fn add_named_and_walk(
    pool: &hubdeck::store::Db,
    prefix: &str,
    n: i64,
    term: &str,
) -> (Vec<String>, PageQuery) {
    sqlx::query(
        "INSERT INTO mandate (name, label, enabled) \
         SELECT $1 || lpad(g::text, 3, '0'), NULL, true FROM generate_series(1, $2) g",
    )
    .bind(prefix)
    .bind(n)
    .execute(pool)
    .await
    .unwrap();
    exec(pool, &["VACUUM (ANALYZE) mandate"]).await;
    let expected: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM mandate WHERE deleted_at IS NULL \
         AND (name ILIKE $1 OR label ILIKE $1) ORDER BY name, id",
    )
    .bind(format!("%{term}%"))
    .fetch_all(pool)
    .await
    .unwrap();
    let q = PageQuery::new(1, 50).wanting(Want::Rows).search(term);
    let (fwd, back) = walk(pool, q.clone()).await;
    assert_eq!(fwd, expected, "forward");
    assert_eq!(back, expected, "backward");
    (expected, q)
}

/// A probe (a bounded walk of the sort index keeping the matches) that gives up hands the page
/// to the collected set, and pages stitched from both are the full order of the matches: here
/// `00011` matches 111 of the first 12,000 mandates in three clusters by name (0000011,
/// 0000110–19, 0001100–99) and 300 "Zeta" mandates sorted after them all, so the walk on from
/// the third cluster finds nothing in 5,000 rows and gives up, and inside a cluster a page is
/// found within a few rows.
#[tokio::test]
async fn probe_pages_that_give_up_fall_back_without_losing_a_row() {
    let db = pg::fresh_db().await;
    let pool = &db.pool;
    insert_mandates(pool, 12_000).await;
    let (expected, q) = add_named_and_walk(pool, "Zeta 00011 ", 300, "00011").await;
    assert_eq!(expected.len(), 111 + 300);

    // Page by page: inside the third cluster the probe's walk is the page, the step over the
    // gap collects the matches, and near the end of the list a walk bounded by the rows left
    // is chosen outright.
    let mut page = mandates::list(pool, &q, MandateScope::All).await.unwrap();
    let mut plans = Vec::new();
    let mut steps = Vec::new();
    while !page.nav.at_end {
        let next = q
            .clone()
            .at(Position::After(page.nav.last.clone().unwrap()));
        plans.push(
            mandates::explain_page(pool, &next, MandateScope::All)
                .await
                .unwrap(),
        );
        page = mandates::list(pool, &next, MandateScope::All)
            .await
            .unwrap();
        steps.push((next, names(&page)));
    }
    let text = |p: &[String]| p.join("\n");
    assert!(
        plans.iter().any(|p| text(p).contains("CTE hubdeck_m")),
        "no step gave up"
    );
    let inside = &plans[0];
    assert!(text(inside).contains("hubdeck_n"), "{}", text(inside));
    // The sort index carries what the search reads (1310): the walk never visits the heap.
    assert!(
        text(inside).contains("Index Only Scan using mandate_name_idx"),
        "{}",
        text(inside)
    );
    assert!(!text(inside).contains("CTE hubdeck_m"), "{}", text(inside));
    assert!(max_rows(inside) < 200, "{}", text(inside));
    let end = plans.last().unwrap();
    assert!(!text(end).contains("CTE hubdeck_m"), "{}", text(end));

    // The step whose probe gave up, asked again (within store::estimates' 30 s): no second
    // probe, the same rows; a step whose probe found its page still probes.
    use hubdeck::store::estimates;
    let gave_up = plans
        .iter()
        .position(|p| text(p).contains("CTE hubdeck_m"))
        .unwrap();
    estimates::forget(pool);
    let n = estimates::probes(pool);
    let once = mandates::list(pool, &steps[gave_up].0, MandateScope::All)
        .await
        .unwrap();
    assert_eq!(
        estimates::probes(pool),
        n + 1,
        "a probe was sent and gave up"
    );
    let again = mandates::list(pool, &steps[gave_up].0, MandateScope::All)
        .await
        .unwrap();
    assert_eq!(
        estimates::probes(pool),
        n + 1,
        "the probe that gave up is not sent again"
    );
    assert_eq!(names(&once), steps[gave_up].1);
    assert_eq!(names(&again), steps[gave_up].1);
    let again = mandates::list(pool, &steps[0].0, MandateScope::All)
        .await
        .unwrap();
    assert_eq!(
        estimates::probes(pool),
        n + 2,
        "a probe that found its page"
    );
    assert_eq!(names(&again), steps[0].1);
}

/// A sparse search whose matches cluster in the sort order (here 300 `Leeds Cardiology Working
/// Group` mandates among 200,000, consecutive by name; at the bench scale 639 of 980,076): the
/// planner expects a page only every ~500,000 rows, so its first page and End collect the
/// matches through the trigram bitmap — but from a cursor inside the cluster the next,
/// previous and PgUp-from-the-end pages are the rows next to the cursor, found by a walk of a
/// few pages of the sort index (issue 13: `/leeds cardiology` PgUp from the end at 1.86× a forced
/// walk). At the cluster's edge that walk gives up and the page is still right.
#[tokio::test]
async fn a_sparse_search_pages_inside_its_cluster_by_walking_from_the_cursor() {
    let db = pg::fresh_db().await;
    let pool = &db.pool;
    insert_mandates(pool, 200_000).await;
    let (expected, q) = add_named_and_walk(
        pool,
        "Mandate 0100000 Leeds Cardiology Working Group ",
        300,
        "leeds cardiology",
    )
    .await;
    assert_eq!(expected.len(), 300);

    let list =
        |q: PageQuery| async move { mandates::list(pool, &q, MandateScope::All).await.unwrap() };
    let explain = |q: PageQuery| async move {
        mandates::explain_page(pool, &q, MandateScope::All)
            .await
            .unwrap()
            .join("\n")
    };
    let first = list(q.clone()).await;
    assert!(
        explain(q.clone()).await.contains("CTE hubdeck_m"),
        "page 1 is collected"
    );
    let next = q
        .clone()
        .at(Position::After(first.nav.last.clone().unwrap()));
    let second = list(next.clone()).await;
    let third = list(
        q.clone()
            .at(Position::After(second.nav.last.clone().unwrap())),
    )
    .await;
    let last = list(q.clone().at(Position::Last)).await;
    for (what, page) in [
        ("next", next),
        (
            "previous",
            q.clone()
                .at(Position::Before(third.nav.first.clone().unwrap())),
        ),
        (
            "PgUp from the end",
            q.clone()
                .at(Position::Before(last.nav.first.clone().unwrap())),
        ),
    ] {
        let plan = explain(page).await;
        assert!(!plan.contains("CTE hubdeck_m"), "{what}: {plan}");
        assert!(plan.contains("Index Only Scan"), "{what}: {plan}");
        let lines: Vec<String> = plan.lines().map(str::to_owned).collect();
        assert!(max_rows(&lines) <= 4 * 51, "{what}: {plan}");
    }
    assert_eq!(names(&second), expected[50..100]);
}

/// The pages after a query's first page are planned from the estimates the first page asked
/// for (`store::estimates`): the first page asks the planner once (the matches and the list
/// without the search in one EXPLAIN), the console's "of ≈N" after it asks nothing, the next
/// and previous pages of a dense search (a probe, bounded by itself) ask nothing, those of a
/// sparse one only about the rows on the cursor's far side, End asks nothing, and a forgotten
/// query asks again. (Each EXPLAIN is a round trip and a planning pass: 1–2.5 ms at 100,000
/// members, a fifth of a page.)
#[tokio::test]
async fn pages_after_the_first_reuse_its_estimates() {
    use hubdeck::store::estimates;
    let db = pg::fresh_db().await;
    let pool = &db.pool;
    insert_mandates(pool, 3_000).await;
    let list =
        |q: PageQuery| async move { mandates::list(pool, &q, MandateScope::All).await.unwrap() };
    let asked = || estimates::asked(pool);

    // `00` matches every mandate: a probe finds each page.
    let q = PageQuery::new(1, 50).wanting(Want::Rows).search("00");
    let n = asked();
    let first = list(q.clone()).await;
    assert_eq!(asked() - n, 1, "matches and list in one EXPLAIN");

    let n = asked();
    let est = list(q.clone().wanting(Want::Estimate)).await;
    assert_eq!(asked() - n, 0, "the estimate is the one the page asked for");
    assert!(est.total > 2_000, "≈{}", est.total);

    let n = asked();
    let next = q
        .clone()
        .at(Position::After(first.nav.last.clone().unwrap()));
    let second = list(next).await;
    assert_eq!(
        asked() - n,
        0,
        "next page of a probe: {} EXPLAINs",
        asked() - n
    );

    let n = asked();
    let back = list(
        q.clone()
            .at(Position::Before(second.nav.first.clone().unwrap())),
    )
    .await;
    assert_eq!(asked() - n, 0, "previous page: {} EXPLAINs", asked() - n);
    assert_eq!(names(&back), names(&first), "previous page = page 1");

    let n = asked();
    list(q.clone().at(Position::Last)).await;
    assert_eq!(asked() - n, 0, "End re-uses the first page's estimates");

    estimates::forget(pool);
    let n = asked();
    list(q.clone().at(Position::Last)).await;
    assert_eq!(asked() - n, 1, "forgotten: asked again");

    // `Mandate 000012` matches 10 of 3,000 (0000120–0000129; the planner says ≈30): for pages
    // of 200 far too sparse for a probe, so the page after the first match asks about the
    // cursor's range, once.
    let q = PageQuery::new(1, 200)
        .wanting(Want::Rows)
        .search("Mandate 000012");
    let n = asked();
    let first = list(q.clone()).await;
    assert_eq!(asked() - n, 1);
    assert_eq!(first.items.len(), 10);
    let n = asked();
    let next = q
        .clone()
        .at(Position::After(first.nav.first.clone().unwrap()));
    assert_eq!(list(next).await.items.len(), 9);
    assert_eq!(
        asked() - n,
        1,
        "sparse search, next page: the cursor's range"
    );
}

/// Filter values under a search, for a column with few values: read value by value (a bounded
/// walk of each value's rows for a match, the matches consulted only for a value whose walk ran
/// dry) and equal to the distinct values of the matches. Here the label `sparse` has 6,000 rows
/// and one match, last in its index order (the largest id), so its walk of 5,000 rows finds
/// nothing and the value comes from the matches; `enabled` has two values.
#[tokio::test]
async fn filter_values_under_a_search_are_the_values_of_the_matches() {
    let db = pg::fresh_db().await;
    let pool = &db.pool;
    insert_mandates(pool, 3_000).await;
    exec(
        pool,
        &[
            "INSERT INTO mandate (id, name, label, enabled) \
             SELECT md5('s' || g)::uuid, 'Sparse ' || lpad(g::text, 5, '0'), 'sparse', g % 2 = 0 \
             FROM generate_series(1, 6000) g \
             UNION ALL SELECT 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'Sparse needle', 'sparse', true",
            "VACUUM (ANALYZE) mandate",
        ],
    )
    .await;
    let truth = |column: &'static str, term: &'static str, enabled: Option<bool>| async move {
        let v: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT {column}::text FROM mandate WHERE deleted_at IS NULL \
             AND (name ILIKE $1 OR label ILIKE $1) AND ($2::bool IS NULL OR enabled = $2) \
             AND {column} IS NOT NULL ORDER BY 1"
        )))
        .bind(format!("%{term}%"))
        .bind(enabled)
        .fetch_all(pool)
        .await
        .unwrap();
        v
    };
    for (column, term, enabled) in [
        ("label", "needle", None),
        ("label", "mandate 0001", None),
        ("label", "sparse", Some(true)),
        ("label", "0", Some(false)),
        ("label", "nothing like it", None),
        ("enabled", "needle", None),
        ("enabled", "000", None),
    ] {
        let mut q = PageQuery::new(1, 50).search(term);
        if let Some(e) = enabled {
            q = q.filter("enabled", [e.to_string()]);
        }
        let got = mandates::filter_values(pool, column, &q, MandateScope::All, 100)
            .await
            .unwrap();
        assert_eq!(
            got,
            truth(column, term, enabled).await,
            "{column} /{term} {enabled:?}"
        );
    }
    assert_eq!(
        mandates::filter_values(
            pool,
            "label",
            &PageQuery::new(1, 50).search("needle"),
            MandateScope::All,
            100
        )
        .await
        .unwrap(),
        ["sparse"]
    );
}
