//! Trusts (issue 5): race-safe registration, one-time keys, the FL kit slot pool, rotation,
//! deletion, lists, and the `register-trust` command — against real PostgreSQL.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use hubdeck::config::Settings;
use hubdeck::domain::trust::{self, NO_FREE_KIT_SLOT, RegisteredTrust, UNNUMBERED_SLOT};
use hubdeck::domain::{PageQuery, SortDir, TrustId, UserSub};
use hubdeck::service::trusts::Trusts;
use hubdeck::service::{Actor, Operator, ServiceError, ServiceResult};
use sha2::{Digest, Sha256};

use crate::support::pg::{TestDb, fresh_db};

fn slot_names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("Trust_{i:03}")).collect()
}

fn trusts_with(db: &TestDb, pool: hubdeck::store::Db, slots: Vec<String>) -> Trusts {
    let mut s: Settings = db.settings();
    s.trusts.kit_slot_names = slots;
    Trusts::new(pool, Arc::new(s))
}

fn is_no_free_slot(r: &ServiceResult<RegisteredTrust>) -> bool {
    matches!(r, Err(ServiceError::Conflict(m)) if m == NO_FREE_KIT_SLOT)
}

fn is_duplicate(r: &ServiceResult<RegisteredTrust>, field: &str) -> bool {
    matches!(r, Err(ServiceError::Conflict(m)) if m.starts_with(&format!("a trust with {field} ")) && m.ends_with("already exists"))
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()).as_slice())
}

async fn count(pool: &hubdeck::store::Db, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

/// Pre-populates the pool with the given slot names (as the reconcile path would).
async fn seed_slots(pool: &hubdeck::store::Db, names: &[String]) {
    let mut conn = pool.acquire().await.expect("conn");
    let slots = trust::configured_slots(names);
    hubdeck::store::trusts::insert_missing_slots(&mut conn, &slots)
        .await
        .expect("seed slots");
}

/// The invariants after any set of registrations: each slot at most once, every trust has a
/// slot, exactly one REGISTERED row per trust and none for failed attempts.
async fn assert_pool_consistent(pool: &hubdeck::store::Db, successes: &[RegisteredTrust]) {
    let slots: HashSet<&str> = successes.iter().map(|r| r.fl_kit_slot.as_str()).collect();
    assert_eq!(slots.len(), successes.len(), "a slot was handed out twice");
    assert_eq!(
        count(pool, "SELECT count(*) FROM trust").await,
        successes.len() as i64
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM fl_kit_slot WHERE assigned_to_trust_id IS NOT NULL"
        )
        .await,
        successes.len() as i64
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM trust t WHERE NOT EXISTS \
             (SELECT 1 FROM fl_kit_slot s WHERE s.assigned_to_trust_id = t.id)"
        )
        .await,
        0,
        "a trust without a slot"
    );
    let per_trust: Vec<(TrustId, i64)> = sqlx::query_as(
        "SELECT trust_id, count(*) FROM trusts_audit WHERE action = 'REGISTERED' GROUP BY trust_id",
    )
    .fetch_all(pool)
    .await
    .expect("audit");
    assert_eq!(
        per_trust.len(),
        successes.len(),
        "orphan or missing audit rows"
    );
    for r in successes {
        assert!(
            per_trust.contains(&(r.trust.id, 1)),
            "exactly one REGISTERED row for {}",
            r.trust.id
        );
        // The claimed slot is really the one stored for this trust.
        let stored: String =
            sqlx::query_scalar("SELECT slot_name FROM fl_kit_slot WHERE assigned_to_trust_id = $1")
                .bind(r.trust.id)
                .fetch_one(pool)
                .await
                .expect("slot");
        assert_eq!(stored, r.fl_kit_slot);
    }
}

async fn race(
    trusts: &Trusts,
    inputs: Vec<(String, String)>,
) -> Vec<ServiceResult<RegisteredTrust>> {
    let barrier = Arc::new(tokio::sync::Barrier::new(inputs.len()));
    let mut handles = Vec::new();
    for (name, code) in inputs {
        let t = trusts.clone();
        let b = barrier.clone();
        handles.push(tokio::spawn(async move {
            b.wait().await;
            t.register(&Actor::cli(), &name, &code, None).await
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_registrations_share_ten_slots() {
    // Scenario 1: ten free slots already in the pool. Scenario 2: an empty pool whose ten
    // configured slot names are inserted by the concurrent reconcile path.
    for prepopulated in [true, false] {
        let db = fresh_db().await;
        let pool = db.pool_with(60).await;
        let names = slot_names(10);
        if prepopulated {
            seed_slots(&pool, &names).await;
        }
        let trusts = trusts_with(&db, pool.clone(), names.clone());
        let inputs = (0..50)
            .map(|i| (format!("Hospital {i}"), format!("H{i:03}")))
            .collect();
        let results = race(&trusts, inputs).await;
        let mut ok = Vec::new();
        let mut no_slot = 0;
        for r in results {
            if is_no_free_slot(&r) {
                no_slot += 1;
            } else {
                ok.push(r.expect("only NoFreeKitSlot may fail"));
            }
        }
        assert_eq!(ok.len(), 10, "prepopulated={prepopulated}");
        assert_eq!(no_slot, 40, "prepopulated={prepopulated}");
        let claimed: BTreeSet<&str> = ok.iter().map(|r| r.fl_kit_slot.as_str()).collect();
        let expected: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(claimed, expected, "every slot claimed exactly once");
        assert_pool_consistent(&pool, &ok).await;
        assert_eq!(count(&pool, "SELECT count(*) FROM fl_kit_slot").await, 10);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_same_names_or_codes_one_winner() {
    let db = fresh_db().await;
    let pool = db.pool_with(25).await;
    let trusts = trusts_with(&db, pool.clone(), slot_names(50));

    // Same name, differing only in case (and surrounding blanks), different codes.
    let variants = [
        "St Elsewhere",
        "ST ELSEWHERE",
        "st elsewhere",
        " St ElseWhere ",
    ];
    let inputs = (0..20)
        .map(|i| {
            (
                variants[i % variants.len()].to_string(),
                format!("SE{i:02}"),
            )
        })
        .collect();
    let results = race(&trusts, inputs).await;
    let winners: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
    assert_eq!(winners.len(), 1);
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(is_duplicate(r, "name"), "{:?}", r.as_ref().err());
    }

    // Same code (any case), different names.
    let inputs = (0..20)
        .map(|i| {
            let code = if i % 2 == 0 { "gstt" } else { " GSTT" };
            (format!("Guy's {i}"), code.to_string())
        })
        .collect();
    let results = race(&trusts, inputs).await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1);
    assert_eq!(winners[0].trust.code, "GSTT");
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(is_duplicate(r, "code"), "{:?}", r.as_ref().err());
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM trust").await, 2);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM trusts_audit").await,
        2,
        "no audit rows for the losers"
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM fl_kit_slot WHERE assigned_to_trust_id IS NOT NULL"
        )
        .await,
        2,
        "losers released their slots"
    );
}

/// Every text-like column of every table, and whether `needle` occurs in it.
async fn occurrences(pool: &hubdeck::store::Db, needle: &str) -> Vec<String> {
    let cols: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text, column_name::text, data_type::text \
         FROM information_schema.columns c \
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema') \
           AND EXISTS (SELECT 1 FROM information_schema.tables t WHERE t.table_schema = c.table_schema \
                       AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE') \
           AND data_type IN ('text', 'character varying', 'character', 'bytea', 'jsonb', 'json', 'ARRAY', 'USER-DEFINED')",
    )
    .fetch_all(pool)
    .await
    .expect("columns");
    assert!(cols.len() > 20, "the scan must see the schema");
    let mut hits = Vec::new();
    for (schema, table, column, ty) in cols {
        let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let cond = if ty == "bytea" {
            format!("position(convert_to($1, 'UTF8') in {}) > 0", q(&column))
        } else {
            format!("strpos({}::text, $1) > 0", q(&column))
        };
        let sql = format!(
            "SELECT count(*) FROM {}.{} WHERE {cond}",
            q(&schema),
            q(&table)
        );
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(needle)
            .fetch_one(pool)
            .await
            .expect("scan");
        if n > 0 {
            hits.push(format!("{schema}.{table}.{column}"));
        }
    }
    hits
}

#[tokio::test]
async fn stored_hash_matches_and_no_plaintext_is_persisted() {
    let db = fresh_db().await;
    let trusts = trusts_with(&db, db.pool.clone(), slot_names(3));
    let r = trusts
        .register(
            &Actor::cli(),
            " Guy's and St Thomas' ",
            "gstt",
            Some("london"),
        )
        .await
        .expect("register");
    assert_eq!(r.trust.name, "Guy's and St Thomas'");
    assert_eq!(r.trust.code, "GSTT");
    assert_eq!(r.trust.region.as_deref(), Some("London"));
    assert_eq!(
        (r.fl_kit_slot.as_str(), r.fl_kit_slot_number),
        ("Trust_001", 1)
    );
    let api = r.api_key.expose().to_string();
    let internal = r.internal_service_key.expose().to_string();
    assert_ne!(api, internal);
    for k in [&api, &internal] {
        assert!(k.starts_with("hubk_"));
        trust::verify_key(k, Some("hubk")).expect("valid key");
    }
    let debug = format!("{r:?}");
    assert!(
        !debug.contains(&api) && !debug.contains(&internal),
        "Debug leaks a key"
    );

    let stored: String = sqlx::query_scalar("SELECT api_key_hash FROM trust WHERE id = $1")
        .bind(r.trust.id)
        .fetch_one(&db.pool)
        .await
        .expect("hash");
    assert_eq!(stored, sha256_hex(&api));

    // Neither key — nor its random payload alone — is anywhere in the database.
    let payload = |k: &str| k.split('_').nth(1).expect("payload").to_string();
    for needle in [
        api.clone(),
        internal.clone(),
        payload(&api),
        payload(&internal),
    ] {
        assert_eq!(occurrences(&db.pool, &needle).await, Vec::<String>::new());
    }
    // The scan can find things: the hash is in trust.api_key_hash.
    assert_eq!(
        occurrences(&db.pool, &stored).await,
        vec!["public.trust.api_key_hash"]
    );

    // Rotation replaces the hash; the new plaintext is not persisted either.
    let rot = trusts
        .rotate_keys(&Actor::cli(), r.trust.id, true, None)
        .await
        .expect("rotate");
    let new_api = rot.api_key.expose().to_string();
    let new_internal = rot
        .internal_service_key
        .as_ref()
        .expect("internal rotated")
        .expose()
        .to_string();
    assert_ne!(new_api, api);
    let stored: String = sqlx::query_scalar("SELECT api_key_hash FROM trust WHERE id = $1")
        .bind(r.trust.id)
        .fetch_one(&db.pool)
        .await
        .expect("hash");
    assert_eq!(stored, sha256_hex(&new_api));
    for needle in [new_api, new_internal] {
        assert_eq!(occurrences(&db.pool, &needle).await, Vec::<String>::new());
    }
}

#[tokio::test]
async fn exhausted_pool_recovers_when_new_slot_names_are_configured() {
    let db = fresh_db().await;
    let one = trusts_with(&db, db.pool.clone(), vec!["Trust_001".into()]);
    let a = one
        .register(&Actor::cli(), "Alpha", "ALPHA", None)
        .await
        .expect("first");
    assert_eq!(a.fl_kit_slot, "Trust_001");
    let refused = one.register(&Actor::cli(), "Beta", "BETA", None).await;
    assert!(is_no_free_slot(&refused), "{:?}", refused.err());
    let msg = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        msg.contains("trusts.kit_slot_names"),
        "remedy in the message: {msg}"
    );
    assert_eq!(count(&db.pool, "SELECT count(*) FROM trust").await, 1);

    // The operator adds kits to the configuration; the next registration reconciles.
    let more = trusts_with(
        &db,
        db.pool.clone(),
        vec!["Spare".into(), "Trust_001".into(), "Trust_002".into()],
    );
    let b = more
        .register(&Actor::cli(), "Beta", "BETA", None)
        .await
        .expect("after reconcile");
    assert_eq!(
        (b.fl_kit_slot.as_str(), b.fl_kit_slot_number),
        ("Trust_002", 2)
    );
    let c = more
        .register(&Actor::cli(), "Gamma", "GAMMA", None)
        .await
        .expect("unnumbered slot last");
    assert_eq!(
        (c.fl_kit_slot.as_str(), c.fl_kit_slot_number),
        ("Spare", UNNUMBERED_SLOT)
    );
    assert_pool_consistent(&db.pool, &[a, b, c]).await;
}

#[tokio::test]
async fn invalid_input_denied_and_read_only_change_nothing() {
    let db = fresh_db().await;
    let trusts = trusts_with(&db, db.pool.clone(), slot_names(2));
    let cli = Actor::cli();
    for (name, code, region, field) in [
        ("  ", "GSTT", None, "name"),
        ("Guy's", " ", None, "code"),
        ("Guy's", "G", None, "code"),
        ("Guy's", "GS TT", None, "code"),
        ("Guy's", "GSTT", Some("Atlantis"), "region"),
    ] {
        match trusts.register(&cli, name, code, region).await {
            Err(ServiceError::Invalid(hubdeck::domain::ValidationError::Invalid {
                field: f,
                ..
            })) => assert_eq!(f, field),
            other => panic!("expected invalid {field}, got {:?}", other.err()),
        }
    }
    let err = trusts
        .register(&cli, "", "GSTT", None)
        .await
        .expect_err("blank name");
    assert!(err.to_string().contains("trust name is required"), "{err}");
    assert_eq!(err.exit_code(), 2);

    let nobody = Actor::Operator(Operator {
        sub: UserSub::new_v4(),
        email: "viewer@example.org".into(),
        permissions: BTreeSet::new(),
    });
    assert!(matches!(
        trusts.register(&nobody, "Guy's", "GSTT", None).await,
        Err(ServiceError::Denied(_))
    ));
    assert!(matches!(
        trusts.list(&nobody, &PageQuery::default()).await,
        Err(ServiceError::Denied(_))
    ));

    let mut s = db.settings();
    s.ui.read_only = true;
    let ro = Trusts::new(db.pool.clone(), Arc::new(s));
    assert!(matches!(
        ro.register(&cli, "Guy's", "GSTT", None).await,
        Err(ServiceError::ReadOnly(_))
    ));
    assert_eq!(count(&db.pool, "SELECT count(*) FROM trust").await, 0);
    assert_eq!(count(&db.pool, "SELECT count(*) FROM fl_kit_slot").await, 0);
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM trusts_audit").await,
        0
    );
}

#[tokio::test]
async fn rotation_and_deletion_are_audited_and_free_the_slot() {
    let db = fresh_db().await;
    let trusts = trusts_with(&db, db.pool.clone(), slot_names(2));
    let operator_sub = UserSub::new_v4();
    // Fresh authority re-reads the operator's grants inside every mutation.
    crate::mandates::grant(&db.pool, operator_sub, hubdeck::domain::RoleRef::Admin).await;
    let op = Actor::Operator(Operator {
        sub: operator_sub,
        email: "admin@example.org".into(),
        permissions: [hubdeck::domain::PermissionRef::CanAccessAdminPanel]
            .into_iter()
            .collect(),
    });
    let r = trusts
        .register(&op, "Leeds", "LEEDS", Some("North East and Yorkshire"))
        .await
        .expect("register");
    let rot = trusts
        .rotate_keys(&op, r.trust.id, false, None)
        .await
        .expect("rotate");
    assert!(rot.internal_service_key.is_none());
    assert_eq!(rot.trust_name, "Leeds");

    let d = trusts.delete(&op, r.trust.id, None).await.expect("delete");
    assert_eq!(d.freed_slot.as_deref(), Some("Trust_001"));
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM fl_kit_slot WHERE slot_name = 'Trust_001' \
             AND assigned_to_trust_id IS NULL AND assigned_at IS NULL"
        )
        .await,
        1
    );
    let audit: Vec<(String, String, Option<uuid::Uuid>, String)> = sqlx::query_as(
        "SELECT action, trust_name, modified_by_user_id, via FROM trusts_audit \
         WHERE trust_id = $1 ORDER BY audit_date, created_at",
    )
    .bind(r.trust.id)
    .fetch_all(&db.pool)
    .await
    .expect("audit");
    let actions: Vec<&str> = audit.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(actions, ["REGISTERED", "KEY_ROTATED", "DELETED"]);
    for a in &audit {
        assert_eq!(a.1, "Leeds");
        assert_eq!(a.2, Some(operator_sub.as_uuid()));
        assert_eq!(a.3, "tui");
    }
    assert!(matches!(
        trusts.delete(&op, r.trust.id, None).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(matches!(
        trusts.rotate_keys(&op, r.trust.id, false, None).await,
        Err(ServiceError::NotFound(_))
    ));

    // The freed slot is claimed again (lowest first).
    let again = trusts
        .register(&Actor::cli(), "York", "YORK", None)
        .await
        .expect("reuse");
    assert_eq!(again.fl_kit_slot, "Trust_001");
    let (via, os_user, actor): (String, Option<String>, Option<uuid::Uuid>) = sqlx::query_as(
        "SELECT via, os_user, modified_by_user_id FROM trusts_audit WHERE trust_id = $1",
    )
    .bind(again.trust.id)
    .fetch_one(&db.pool)
    .await
    .expect("cli audit");
    assert_eq!(via, "cli");
    assert!(os_user.is_some());
    assert_eq!(actor, None);
}

#[tokio::test]
async fn lists_search_filter_sort_and_use_indexes() {
    let db = fresh_db().await;
    let trusts = trusts_with(&db, db.pool.clone(), slot_names(3));
    let cli = Actor::cli();
    for (n, c, r) in [
        ("Bristol Royal", "BRI", Some("South West")),
        ("Alder Hey", "ALDER", Some("North West")),
        ("Christie", "CHR", Some("North West")),
        ("Derby", "DRB", None),
    ] {
        let res = trusts.register(&cli, n, c, r).await;
        if n == "Derby" {
            assert!(is_no_free_slot(&res));
        } else {
            res.expect("register");
        }
    }
    // A trust without a slot (e.g. its kit was withdrawn) — inserted directly.
    sqlx::query(
        "INSERT INTO trust (name, code, region, api_key_hash) VALUES ('derby', 'DRB', NULL, $1)",
    )
    .bind("0".repeat(64))
    .execute(&db.pool)
    .await
    .expect("insert");

    let names = |p: &hubdeck::domain::Page<hubdeck::domain::trust::Trust>| {
        p.items.iter().map(|t| t.name.clone()).collect::<Vec<_>>()
    };
    let all = trusts
        .list(&cli, &PageQuery::default())
        .await
        .expect("list");
    assert_eq!(all.total, 4);
    assert_eq!(
        names(&all),
        ["Alder Hey", "Bristol Royal", "Christie", "derby"]
    );
    let q = PageQuery::default()
        .filter("region", ["North West"])
        .sort("code", SortDir::Desc);
    let nw = trusts.list(&cli, &q).await.expect("region");
    assert_eq!(names(&nw), ["Christie", "Alder Hey"]);
    assert_eq!(nw.total, 2);
    let q = PageQuery::default().filter("has_slot", ["false"]);
    assert_eq!(
        names(&trusts.list(&cli, &q).await.expect("no slot")),
        ["derby"]
    );
    let q = PageQuery::default().search("alder");
    assert_eq!(
        names(&trusts.list(&cli, &q).await.expect("search")),
        ["Alder Hey"]
    );
    let q = PageQuery::default().search("chr");
    assert_eq!(
        names(&trusts.list(&cli, &q).await.expect("code search")),
        ["Christie"]
    );
    let q = PageQuery::new(2, 3);
    let p2 = trusts.list(&cli, &q).await.expect("page 2");
    assert_eq!((names(&p2), p2.total), (vec!["derby".to_string()], 4));
    let regions = trusts
        .filter_values(&cli, "region", &PageQuery::default())
        .await
        .expect("values");
    assert_eq!(regions, ["North West", "South West"]);
    assert!(matches!(
        trusts
            .list(
                &cli,
                &PageQuery::default().sort("api_key_hash", SortDir::Asc)
            )
            .await,
        Err(ServiceError::Query(_))
    ));

    let slots = trusts
        .list_kit_slots(&cli, &PageQuery::default())
        .await
        .expect("slots");
    let view: Vec<(String, Option<String>)> = slots
        .items
        .iter()
        .map(|s| (s.slot_name.clone(), s.trust_name.clone()))
        .collect();
    assert_eq!(
        view,
        [
            ("Trust_001".to_string(), Some("Bristol Royal".to_string())),
            ("Trust_002".to_string(), Some("Alder Hey".to_string())),
            ("Trust_003".to_string(), Some("Christie".to_string())),
        ]
    );
    hubdeck::store::trusts::delete_trust(&mut db.pool.acquire().await.expect("c"), all.items[0].id)
        .await
        .expect("free one");
    let free = trusts
        .list_kit_slots(&cli, &PageQuery::default().filter("free", ["true"]))
        .await
        .expect("free");
    assert_eq!(free.total, 1);
    assert_eq!(free.items[0].slot_name, "Trust_002");
    // The gauge's use case agrees with the list: 2 of 3 slots used; a viewer without the
    // admin panel is refused.
    let usage = trusts.kit_usage(&cli).await.expect("usage");
    assert_eq!((usage.used, usage.total), (2, 3));
    let used = trusts
        .list_kit_slots(&cli, &PageQuery::default().filter("free", ["false"]))
        .await
        .expect("used");
    assert_eq!(used.total, usage.used);
    let nobody = Actor::Operator(Operator {
        sub: UserSub::new_v4(),
        email: "nobody@example.org".into(),
        permissions: Default::default(),
    });
    assert!(matches!(
        trusts.kit_usage(&nobody).await,
        Err(ServiceError::Denied(_))
    ));

    // EXPLAIN on a realistic dataset (50,000 trusts, statistics gathered, planner left
    // alone; VACUUM ANALYZE as autovacuum would): a selective search is answered from the trigram indexes, a filter on a rare region
    // (0.5% of the rows) from trust_region_idx. (An unfiltered page counts every row — count(*) OVER () — so a
    // sequential scan is the right plan there and is not asserted.)
    sqlx::query(
        "INSERT INTO trust (name, code, region, api_key_hash) \
         SELECT 'Hospital ' || md5(i::text), 'C' || i, \
                CASE WHEN i % 200 = 0 THEN 'London' ELSE (ARRAY['Midlands','North West','South East', \
                'South West','East of England','North East and Yorkshire'])[1 + i % 6] END, \
                md5(i::text) || md5((i + 1)::text) \
         FROM generate_series(1, 50000) i",
    )
    .execute(&db.pool)
    .await
    .expect("dataset");
    // VACUUM flushes the GIN pending lists, as autovacuum would on a live database.
    sqlx::query("VACUUM ANALYZE trust")
        .execute(&db.pool)
        .await
        .expect("vacuum");
    sqlx::query("ANALYZE fl_kit_slot")
        .execute(&db.pool)
        .await
        .expect("analyze");
    let needle: String = sqlx::query_scalar("SELECT substr(md5('4321'), 3, 12)")
        .fetch_one(&db.pool)
        .await
        .expect("needle");
    for (q, index) in [
        (PageQuery::default().search(&needle), "trust_name_trgm"),
        (PageQuery::default().search(&needle), "trust_code_trgm"),
        (
            PageQuery::default()
                .filter("region", ["London"])
                .sort("region", SortDir::Asc),
            "trust_region_idx",
        ),
    ] {
        let plan = explain(&db.pool, &hubdeck::store::trusts::TRUSTS_LIST, &q).await;
        assert!(
            plan.contains(index),
            "expected {index} in the plan:\n{plan}"
        );
    }

    // The kit slot list's search, at 20,000 slots, from fl_kit_slot_name_trgm (migration 0300).
    sqlx::query(
        "INSERT INTO fl_kit_slot (slot_name, slot_number) \
         SELECT 'Kit_' || i, i FROM generate_series(100, 20099) i",
    )
    .execute(&db.pool)
    .await
    .expect("slots");
    sqlx::query("VACUUM ANALYZE fl_kit_slot")
        .execute(&db.pool)
        .await
        .expect("vacuum");
    let q = PageQuery::default().search("Kit_12345");
    let plan = explain(&db.pool, &hubdeck::store::trusts::KIT_SLOTS_LIST, &q).await;
    assert!(
        plan.contains("fl_kit_slot_name_trgm"),
        "expected fl_kit_slot_name_trgm in the plan:\n{plan}"
    );
    let found = trusts.list_kit_slots(&cli, &q).await.expect("search slots");
    assert_eq!(found.total, 1);
    assert_eq!(found.items[0].slot_name, "Kit_12345");
}

/// EXPLAIN of the list's page statement with its real binds.
async fn explain(
    pool: &hubdeck::store::Db,
    list: &hubdeck::store::query::ListSql,
    q: &PageQuery,
) -> String {
    hubdeck::store::query::explain_page(pool, list, q, None)
        .await
        .expect("explain")
        .join("\n")
}

// ---------------------------------------------------------------------------------------------
// The CLI (the real binary)
// ---------------------------------------------------------------------------------------------

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `hubdeck` against the test database with a private config file (debug logging, the
/// given kit slot names) and no HUBDECK_* variables from the environment.
fn hubdeck(db_url: &str, dir: &std::path::Path, slots: &[&str], args: &[&str]) -> Run {
    let config = dir.join("config.toml");
    let slots: Vec<String> = slots.iter().map(|s| format!("{s:?}")).collect();
    std::fs::write(
        &config,
        format!(
            "[trusts]\nkit_slot_names = [{}]\nkey_prefix = \"hubk\"\n\n[log]\nlevel = \"debug\"\n",
            slots.join(", ")
        ),
    )
    .expect("config");
    let mut cmd = crate::support::cli::infra();
    for (k, _) in std::env::vars() {
        if k.starts_with("HUBDECK_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .env("HUBDECK_DATA_DIR", dir)
        .arg("--config")
        .arg(&config)
        .arg("--database-url")
        .arg(db_url)
        .args(args)
        .output()
        .expect("run hubdeck");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            r.stdout, r.stderr
        )
    })
}

fn keys_of(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_trust_command_prints_the_kit_once_and_is_idempotent() {
    let db = fresh_db().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let slots = ["Kit_1", "Kit_2"];
    let args = [
        "register-trust",
        "--name",
        "Guy's and St Thomas'",
        "--code",
        "gstt",
        "--region",
        "London",
    ];
    let first = tokio::task::spawn_blocking({
        let (url, path) = (db.url.clone(), dir.path().to_path_buf());
        move || hubdeck(&url, &path, &slots, &args)
    })
    .await
    .expect("join");
    assert_eq!(first.code, 0, "stderr: {}", first.stderr);
    let v = json(&first);
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 1);
    let kit = &arr[0];
    let all_fields: BTreeSet<String> = [
        "trust_id",
        "trust_name",
        "trust_code",
        "region",
        "fl_kit_slot",
        "fl_kit_slot_number",
        "trust_api_key",
        "trust_internal_service_key",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(keys_of(kit), all_fields);
    assert_eq!(kit["trust_name"], "Guy's and St Thomas'");
    assert_eq!(kit["trust_code"], "GSTT");
    assert_eq!(kit["region"], "London");
    assert_eq!(kit["fl_kit_slot"], "Kit_1");
    assert_eq!(kit["fl_kit_slot_number"], 1);
    let api = kit["trust_api_key"].as_str().expect("api key").to_string();
    let internal = kit["trust_internal_service_key"]
        .as_str()
        .expect("internal key")
        .to_string();
    trust::verify_key(&api, Some("hubk")).expect("api key format");
    trust::verify_key(&internal, Some("hubk")).expect("internal key format");
    let id: uuid::Uuid = kit["trust_id"].as_str().expect("id").parse().expect("uuid");
    let stored: String = sqlx::query_scalar("SELECT api_key_hash FROM trust WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("hash");
    assert_eq!(stored, sha256_hex(&api));
    // Logging is on at debug level (sqlx statements included), yet no key reaches the log.
    assert!(
        first.stderr.contains("trust registered"),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("DEBUG"),
        "debug logging: {}",
        first.stderr
    );
    for k in [&api, &internal] {
        assert!(!first.stderr.contains(k.as_str()), "key in the log");
        assert!(!first.stderr.contains(k.split('_').nth(1).expect("payload")));
    }
    assert_eq!(occurrences(&db.pool, &api).await, Vec::<String>::new());
    assert_eq!(occurrences(&db.pool, &internal).await, Vec::<String>::new());

    let path = dir.path().to_path_buf();
    let run = |args: Vec<&'static str>, slots: Vec<&'static str>| {
        let url = db.url.clone();
        let path = path.clone();
        tokio::task::spawn_blocking(move || hubdeck(&url, &path, &slots, &args))
    };

    // Re-run with the same name (any case): metadata without keys, exit 0, nothing minted.
    let again = run(
        vec![
            "register-trust",
            "--name",
            "GUY'S AND ST THOMAS'",
            "--code",
            "GSTT",
        ],
        slots.to_vec(),
    )
    .await
    .expect("join");
    assert_eq!(again.code, 0, "stderr: {}", again.stderr);
    let v = json(&again);
    let kit2 = &v.as_array().expect("array")[0];
    let mut without_keys = all_fields.clone();
    without_keys.remove("trust_api_key");
    without_keys.remove("trust_internal_service_key");
    assert_eq!(keys_of(kit2), without_keys);
    assert_eq!(kit2["trust_id"], kit["trust_id"]);
    assert_eq!(kit2["fl_kit_slot"], "Kit_1");
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    let stored_again: String = sqlx::query_scalar("SELECT api_key_hash FROM trust WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("hash");
    assert_eq!(stored_again, stored, "a re-run never replaces the key");

    // --fail-if-exists: the same metadata, exit 3.
    let strict = run(
        vec![
            "register-trust",
            "--name",
            "Guy's and St Thomas'",
            "--code",
            "GSTT",
            "--fail-if-exists",
        ],
        slots.to_vec(),
    )
    .await
    .expect("join");
    assert_eq!(strict.code, 3);
    assert_eq!(keys_of(&json(&strict)[0]), without_keys);

    // Blank name / blank code / bad region: `[]`, a clear message, exit 2, nothing written.
    for (args, msg) in [
        (
            vec!["register-trust", "--name", "  ", "--code", "ABC"],
            "trust name is required",
        ),
        (
            vec!["register-trust", "--name", "Leeds", "--code", " "],
            "trust code is required",
        ),
        (
            vec![
                "register-trust",
                "--name",
                "Leeds",
                "--code",
                "LDS",
                "--region",
                "Mordor",
            ],
            "unknown region",
        ),
    ] {
        let r = run(args, slots.to_vec()).await.expect("join");
        assert_eq!(r.stdout.trim(), "[]");
        assert_eq!(r.code, 2, "stderr: {}", r.stderr);
        assert!(r.stderr.contains(msg), "{}", r.stderr);
    }
    // A different name with a taken code: `[]`, exit 3.
    let dup = run(
        vec!["register-trust", "--name", "Other", "--code", "gstt"],
        slots.to_vec(),
    )
    .await
    .expect("join");
    assert_eq!((dup.stdout.trim(), dup.code), ("[]", 3), "{}", dup.stderr);
    assert!(
        dup.stderr.contains("code \"GSTT\" already exists"),
        "{}",
        dup.stderr
    );
    // The taken name with another code: not the other trust's object with exit 0 (a script
    // would take it for its own), but `[]`, exit 3, the other trust's code named.
    let other = run(
        vec![
            "register-trust",
            "--name",
            "guy's and st thomas'",
            "--code",
            "GUYS",
        ],
        slots.to_vec(),
    )
    .await
    .expect("join");
    assert_eq!(
        (other.stdout.trim(), other.code),
        ("[]", 3),
        "{}",
        other.stderr
    );
    assert!(
        other.stderr.contains("already exists with the code GSTT"),
        "{}",
        other.stderr
    );
    // Pool exhausted: `[]`, exit 3, the remedy on stderr.
    let second = run(
        vec!["register-trust", "--name", "Leeds", "--code", "LDS"],
        slots.to_vec(),
    )
    .await
    .expect("join");
    assert_eq!(second.code, 0, "{}", second.stderr);
    let none = run(
        vec!["register-trust", "--name", "York", "--code", "YRK"],
        slots.to_vec(),
    )
    .await
    .expect("join");
    assert_eq!(
        (none.stdout.trim(), none.code),
        ("[]", 3),
        "{}",
        none.stderr
    );
    assert!(
        none.stderr.contains("trusts.kit_slot_names"),
        "{}",
        none.stderr
    );
    // ... and a configuration with one more kit lets it through (reconcile).
    let more = run(
        vec!["register-trust", "--name", "York", "--code", "YRK"],
        vec!["Kit_1", "Kit_2", "Kit_3"],
    )
    .await
    .expect("join");
    assert_eq!(more.code, 0, "{}", more.stderr);
    assert_eq!(json(&more)[0]["fl_kit_slot"], "Kit_3");
    assert_eq!(count(&db.pool, "SELECT count(*) FROM trust").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusts_and_kit_slots_commands() {
    let db = fresh_db().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let run = |args: Vec<&'static str>| {
        let url = db.url.clone();
        let path = path.clone();
        tokio::task::spawn_blocking(move || hubdeck(&url, &path, &["Kit_1", "Kit_2"], &args))
    };
    let r = run(vec!["register-trust", "--name", "Leeds", "--code", "LDS"])
        .await
        .expect("join");
    assert_eq!(r.code, 0, "{}", r.stderr);

    let list = run(vec![
        "--output", "json", "trusts", "list", "--search", "lee",
    ])
    .await
    .expect("join");
    assert_eq!(list.code, 0, "{}", list.stderr);
    let v = json(&list);
    assert_eq!(v["total"], 1);
    assert_eq!(v["items"][0]["name"], "Leeds");
    assert_eq!(v["items"][0]["slot_name"], "Kit_1");
    let table = run(vec!["trusts", "list"]).await.expect("join");
    assert!(table.stdout.contains("LDS") && table.stdout.contains("Kit_1"));

    let slots = run(vec!["--output", "json", "kit-slots", "list"])
        .await
        .expect("join");
    let v = json(&slots);
    assert_eq!(v["total"], 2, "both configured slots were reconciled: {v}");
    assert_eq!(v["items"][0]["trust_name"], "Leeds");
    assert_eq!(v["items"][1]["slot_name"], "Kit_2");
    assert!(v["items"][1]["trust_name"].is_null());

    let rot = run(vec!["trusts", "rotate-key", "lds", "--internal"])
        .await
        .expect("join");
    assert_eq!(rot.code, 0, "{}", rot.stderr);
    let v = json(&rot);
    let new_key = v[0]["trust_api_key"].as_str().expect("key").to_string();
    assert!(v[0]["trust_internal_service_key"].is_string());
    assert!(!rot.stderr.contains(&new_key));
    let stored: String = sqlx::query_scalar("SELECT api_key_hash FROM trust")
        .fetch_one(&db.pool)
        .await
        .expect("hash");
    assert_eq!(stored, sha256_hex(&new_key));

    let unconfirmed = run(vec!["trusts", "delete", "Leeds"]).await.expect("join");
    assert_eq!(unconfirmed.code, 2);
    let del = run(vec![
        "--output", "json", "trusts", "delete", "Leeds", "--yes",
    ])
    .await
    .expect("join");
    assert_eq!(del.code, 0, "{}", del.stderr);
    assert_eq!(json(&del)["freed_slot"], "Kit_1");
    let gone = run(vec![
        "--output", "json", "trusts", "delete", "Leeds", "--yes",
    ])
    .await
    .expect("join");
    assert_eq!(gone.code, 4, "{}", gone.stderr);
    assert_eq!(json(&gone)["result"], "not_found");
    let free = run(vec![
        "--output",
        "json",
        "kit-slots",
        "list",
        "--free",
        "true",
    ])
    .await
    .expect("join");
    assert_eq!(json(&free)["total"], 2);
    assert_eq!(json(&free)["items"][0]["slot_name"], "Kit_1");
    let audit: Vec<String> =
        sqlx::query_scalar("SELECT action FROM trusts_audit ORDER BY audit_date, created_at")
            .fetch_all(&db.pool)
            .await
            .expect("audit");
    // Each hand-over of minted keys on stdout is recorded (no key material).
    assert_eq!(
        audit,
        [
            "REGISTERED",
            "KEYS_HANDED_OVER",
            "KEY_ROTATED",
            "KEYS_HANDED_OVER",
            "DELETED"
        ]
    );
    for (name, code) in [("York", "YRK"), ("Zennor", "ZNR")] {
        let r = run(vec!["register-trust", "--name", name, "--code", code])
            .await
            .expect("join");
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    // One sort syntax for every list: COLUMN[:asc|desc]; the old `-COLUMN` is refused with
    // the spelling to use, and nothing is listed.
    let desc = run(vec![
        "--output",
        "json",
        "trusts",
        "list",
        "--sort",
        "name:desc",
    ])
    .await
    .expect("join");
    assert_eq!(desc.code, 0, "{}", desc.stderr);
    let names: Vec<String> = json(&desc)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names, ["Zennor", "York"]);
    let old = run(vec!["trusts", "list", "--sort", "-name"])
        .await
        .expect("join");
    assert_eq!((old.code, old.stdout.as_str()), (2, ""), "{}", old.stderr);
    assert!(old.stderr.contains("name:desc"), "{}", old.stderr);
}

/// The TUI's entry points on `Services` (with the real LocalDirectory) run the same use cases.
#[tokio::test]
async fn services_entry_points_for_the_tui() {
    let db = fresh_db().await;
    let mut s = db.settings();
    s.trusts.kit_slot_names = slot_names(2);
    let services = hubdeck::service::Services::new(
        db.pool.clone(),
        Arc::new(hubdeck::directory::local::LocalDirectory::new(
            db.pool.clone(),
        )),
        Arc::new(s),
    );
    let admin_sub = UserSub::new_v4();
    // Fresh authority re-reads the operator's grants inside every mutation.
    crate::mandates::grant(&db.pool, admin_sub, hubdeck::domain::RoleRef::Admin).await;
    let admin = Actor::Operator(Operator {
        sub: admin_sub,
        email: "admin@example.org".into(),
        permissions: [hubdeck::domain::PermissionRef::CanAccessAdminPanel]
            .into_iter()
            .collect(),
    });
    let viewer = Actor::Operator(Operator {
        sub: UserSub::new_v4(),
        email: "viewer@example.org".into(),
        permissions: BTreeSet::new(),
    });
    assert!(matches!(
        services.register_trust(&viewer, "Leeds", "LDS", None).await,
        Err(ServiceError::Denied(_))
    ));
    let r = services
        .register_trust(&admin, "Leeds", "LDS", Some("North East and Yorkshire"))
        .await
        .expect("register");
    assert_eq!(r.fl_kit_slot, "Trust_001");
    let page = services
        .list_trusts(&admin, &PageQuery::default())
        .await
        .expect("list");
    assert_eq!(page.items, vec![r.trust.clone()]);
    assert_eq!(
        services.get_trust(&admin, r.trust.id).await.expect("get"),
        r.trust
    );
    let slots = services
        .list_kit_slots(&admin, &PageQuery::default())
        .await
        .expect("slots");
    assert_eq!(slots.total, 2);
    let rot = services
        .rotate_trust_keys(&admin, r.trust.id, true, None)
        .await
        .expect("rotate");
    assert!(rot.internal_service_key.is_some());
    let d = services
        .delete_trust(&admin, r.trust.id, None)
        .await
        .expect("delete");
    assert_eq!(d.freed_slot.as_deref(), Some("Trust_001"));
    assert!(matches!(
        services.get_trust(&admin, r.trust.id).await,
        Err(ServiceError::NotFound(_))
    ));
}

#[test]
fn register_trust_prints_empty_array_when_settings_are_broken() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[database\n").unwrap();
    let out = crate::support::cli::infra()
        .args([
            "--config",
            bad.to_str().unwrap(),
            "register-trust",
            "--name",
            "X",
            "--code",
            "XX",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid TOML"));
}
