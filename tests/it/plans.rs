//! Mandate plans (issue 14): the catalogue for the picker, the detail (plan, status, trial end,
//! members against capacity, admins), the plan change (capacity against current members,
//! audited, one transaction — raced against member adds), the plan filter, and the CLI twins
//! `mandates plans|plan|show|list --plan|--deleted|restore` with their exit codes.

use hubdeck::directory::{Invite, NewIdentity};
use hubdeck::domain::roles::mandate_roles;
use hubdeck::domain::{Email, MandateId, MandateRoleId, PageQuery, UserSub};
use hubdeck::service::members::MemberRef;
use hubdeck::service::{Actor, ServiceError, Services};

use crate::mandates::{cached_user, create, raw_member, services};
use crate::support::pg;

async fn identity(svc: &Services, email: &str) -> UserSub {
    svc.directory
        .create_user(&NewIdentity {
            email: Email::parse(email).unwrap(),
            email_verified: true,
            invite: Invite::Suppress,
            temporary_password: None,
        })
        .await
        .unwrap()
        .sub
}

/// `n` cached members with the member role.
async fn fill(pool: &hubdeck::store::Db, m: MandateId, n: usize, tag: &str) {
    for i in 0..n {
        let sub = cached_user(pool, &format!("{tag}{i}@example.org"), "Filler").await;
        raw_member(pool, m, sub, &[mandate_roles::MEMBER]).await;
    }
}

async fn live_plan(pool: &hubdeck::store::Db, m: MandateId) -> (String, String) {
    sqlx::query_as(
        "SELECT plan_key, status FROM mandate_subscription WHERE mandate_id = $1 \
         AND status IN ('trialing', 'active', 'past_due')",
    )
    .bind(m)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn plan_audits(pool: &hubdeck::store::Db, m: MandateId) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM mandate_audit WHERE mandate_id = $1 AND action = 'MANDATE_PLAN_CHANGED'",
    )
    .bind(m)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn catalogue_shows_trial_days_and_member_limits_smallest_first() {
    let t = pg::fresh_db().await;
    let svc = services(&t);
    let plans = svc.plan_catalogue(&Actor::cli()).await.unwrap();
    let keys: Vec<(&str, i32, i32)> = plans
        .iter()
        .map(|p| (p.key.as_str(), p.trial_days, p.max_members))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("TRIAL_14D", 14, 25),
            ("STARTER", 0, 50),
            ("TEAM", 0, 500),
            ("ENTERPRISE", 0, 250000)
        ]
    );
    assert_eq!(
        plans[0].describe(),
        "14-day trial (TRIAL_14D) — up to 25 members, 14-day trial"
    );
    assert_eq!(
        plans[2].describe(),
        "Team (TEAM) — up to 500 members, no trial"
    );
    // Counts read with thousands separators, as everywhere else ("rows 1–50 of 12,345").
    assert_eq!(
        plans[3].describe(),
        "Enterprise (ENTERPRISE) — up to 250,000 members, no trial"
    );
}

#[tokio::test]
async fn detail_shows_plan_status_trial_end_members_against_capacity_and_admins() {
    let t = pg::fresh_db().await;
    let svc = services(&t);
    let m = create(&svc, "Overview").await;
    let boss = cached_user(&t.pool, "boss@example.org", "Boss").await;
    let gone = cached_user(&t.pool, "gone@example.org", "Gone").await;
    raw_member(&t.pool, m, boss, &[mandate_roles::ADMIN]).await;
    raw_member(&t.pool, m, gone, &[mandate_roles::ADMIN]).await;
    sqlx::query("UPDATE directory_user SET enabled = false WHERE sub = $1")
        .bind(gone)
        .execute(&t.pool)
        .await
        .unwrap();
    fill(&t.pool, m, 3, "o").await;

    let d = svc.mandate_overview(&Actor::cli(), m).await.unwrap();
    let s = d.subscription.as_ref().unwrap();
    assert_eq!(s.plan_key, "TRIAL_14D");
    assert_eq!(s.status, "trialing");
    let days = (s.trial_ends_at.unwrap() - chrono::Utc::now()).num_hours();
    assert!((14 * 24 - 2..=14 * 24).contains(&days), "{days}h");
    assert_eq!(d.members, 5);
    assert_eq!(d.capacity, Some(25));
    assert_eq!(d.members_label(), "5 of 25");
    let big = hubdeck::service::plans::MandateOverview {
        members: 6000,
        capacity: Some(250_000),
        ..d.clone()
    };
    assert_eq!(big.members_label(), "6,000 of 250,000");
    let admins: Vec<(Option<&str>, bool)> = d
        .admins
        .iter()
        .map(|a| (a.email.as_deref(), a.working))
        .collect();
    assert_eq!(
        admins,
        vec![
            (Some("boss@example.org"), true),
            (Some("gone@example.org"), false)
        ]
    );
    assert_eq!(d.working_admins(), 1);
}

#[tokio::test]
async fn plan_change_is_audited_in_one_transaction_and_the_list_filters_by_plan() {
    let t = pg::fresh_db().await;
    let svc = services(&t);
    let root = Actor::cli();
    let a = create(&svc, "Alpha").await;
    let b = create(&svc, "Beta").await;
    fill(&t.pool, a, 30, "a").await;

    let c = svc.change_plan(&root, a, " team ", None).await.unwrap();
    assert_eq!(c.before.as_ref().unwrap().plan_key, "TRIAL_14D");
    assert_eq!(c.after.plan_key, "TEAM");
    assert_eq!(c.after.status, "active");
    assert_eq!(c.after.trial_ends_at, None);
    assert_eq!(c.members, 30);
    assert_eq!(
        live_plan(&t.pool, a).await,
        ("TEAM".into(), "active".into())
    );
    assert_eq!(plan_audits(&t.pool, a).await, 1);
    let details: serde_json::Value = sqlx::query_scalar(
        "SELECT details FROM mandate_audit WHERE mandate_id = $1 AND action = 'MANDATE_PLAN_CHANGED'",
    )
    .bind(a)
    .fetch_one(&t.pool)
    .await
    .unwrap();
    assert_eq!(details["before"]["plan"], "TRIAL_14D");
    assert_eq!(details["after"]["plan"], "TEAM");
    // The old subscription is kept, cancelled.
    let canceled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mandate_subscription WHERE mandate_id = $1 AND status = 'canceled'",
    )
    .bind(a)
    .fetch_one(&t.pool)
    .await
    .unwrap();
    assert_eq!(canceled, 1);

    // The list filter by plan (kept on the row by the trigger).
    let names = |q: PageQuery| {
        let svc = svc.clone();
        async move {
            svc.list_mandates(&Actor::cli(), &q)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        names(PageQuery::new(1, 50).filter("plan", ["TEAM"])).await,
        vec!["Alpha"]
    );
    assert_eq!(
        names(PageQuery::new(1, 50).filter("plan", ["TRIAL_14D"])).await,
        vec!["Beta"]
    );
    let values = svc
        .mandate_filter_values(&Actor::cli(), "plan", &PageQuery::new(1, 50))
        .await
        .unwrap();
    assert_eq!(values, vec!["TEAM", "TRIAL_14D"]);

    // Below the current member count: refused, nothing written.
    let err = svc
        .change_plan(&root, a, "TRIAL_14D", None)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::CapacityExceeded(_)), "{err:?}");
    assert_eq!(err.exit_code(), 3);
    assert!(
        err.to_string()
            .contains("it has 30 members and the plan allows 25"),
        "{err}"
    );
    assert_eq!(
        live_plan(&t.pool, a).await,
        ("TEAM".into(), "active".into())
    );
    assert_eq!(plan_audits(&t.pool, a).await, 1);
    // Same plan, unknown plan, deleted mandate, not a SysAdmin.
    let same = svc.change_plan(&root, a, "TEAM", None).await.unwrap_err();
    assert_eq!(same.exit_code(), 3, "{same}");
    let unknown = svc.change_plan(&root, a, "GOLD", None).await.unwrap_err();
    assert_eq!(unknown.exit_code(), 2, "{unknown}");
    assert!(
        unknown
            .to_string()
            .contains("known: TRIAL_14D, STARTER, TEAM, ENTERPRISE")
    );
    let nobody = crate::mandates::operator(UserSub::new_v4());
    let denied = svc.change_plan(&nobody, b, "TEAM", None).await.unwrap_err();
    assert_eq!(denied.exit_code(), 4);
    svc.soft_delete_mandate(&root, b).await.unwrap();
    let deleted = svc.change_plan(&root, b, "TEAM", None).await.unwrap_err();
    assert!(
        deleted.to_string().contains("restore it first"),
        "{deleted}"
    );
    assert_eq!(plan_audits(&t.pool, b).await, 0);
}

/// A plan change down to the current member count races a member add: whichever takes the
/// mandate lock first wins, the other is refused — never both (26 members on a 25-member plan).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plan_change_and_member_add_race_never_exceed_the_capacity() {
    let t = pg::fresh_db().await;
    let svc = services(&t);
    let root = Actor::cli();
    let mut add_won = 0;
    let mut change_won = 0;
    for round in 0..8 {
        let m = create(&svc, &format!("Race {round}")).await;
        svc.change_plan(&root, m, "STARTER", None).await.unwrap();
        fill(&t.pool, m, 25, &format!("r{round}-")).await;
        let newcomer = identity(&svc, &format!("new{round}@example.org")).await;
        let role: Vec<MandateRoleId> = vec![mandate_roles::MEMBER.into()];
        let (s1, s2) = (svc.clone(), svc.clone());
        let add = tokio::spawn(async move {
            s1.add_member(&Actor::cli(), m, &MemberRef::Sub(newcomer), &role)
                .await
                .map(|_| ())
        });
        let change = tokio::spawn(async move {
            s2.change_plan(&Actor::cli(), m, "TRIAL_14D", None)
                .await
                .map(|_| ())
        });
        let (add, change) = (add.await.unwrap(), change.await.unwrap());
        match (&add, &change) {
            (Ok(()), Err(ServiceError::CapacityExceeded(_))) => add_won += 1,
            (Err(ServiceError::CapacityExceeded(_)), Ok(())) => change_won += 1,
            other => panic!("round {round}: both or neither won: {other:?}"),
        }
        let members: i64 =
            sqlx::query_scalar("SELECT count(*) FROM user_mandate WHERE mandate_id = $1")
                .bind(m)
                .fetch_one(&t.pool)
                .await
                .unwrap();
        let max: i32 = sqlx::query_scalar(
            "SELECT p.max_members FROM mandate_subscription s JOIN plan p ON p.key = s.plan_key \
             WHERE s.mandate_id = $1 AND s.status IN ('trialing', 'active', 'past_due')",
        )
        .bind(m)
        .fetch_one(&t.pool)
        .await
        .unwrap();
        assert!(
            members <= i64::from(max),
            "round {round}: {members} > {max}"
        );
    }
    assert_eq!(add_won + change_won, 8);
}

use crate::env::cli_local as hubdeck;

#[tokio::test]
async fn cli_plan_change_restore_and_lists_in_json_with_exit_codes() {
    let t = pg::fresh_db().await;
    let svc = services(&t);
    let m = create(&svc, "Gamma").await;
    create(&svc, "Delta").await;
    fill(&t.pool, m, 26, "g").await;
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| hubdeck(home.path(), &t.url, args);
    let json = |s: &str| -> serde_json::Value { serde_json::from_str(s).unwrap() };

    let (code, out, err) = run(&["mandates", "plans", "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)[0]["key"], "TRIAL_14D");
    assert_eq!(json(&out)[0]["trial_days"], 14);

    // 26 members on a 25-member trial (created before the limit bit): moving down is refused.
    let (code, out, err) = run(&["mandates", "plan", "Gamma", "STARTER", "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["after"]["plan_key"], "STARTER");
    assert_eq!(json(&out)["members"], 26);
    let (code, _, err) = run(&["mandates", "plan", "Gamma", "TRIAL_14D"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("it has 26 members and the plan allows 25"),
        "{err}"
    );
    let (code, _, err) = run(&["mandates", "plan", "Gamma", "GOLD"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["mandates", "plan", "Nowhere", "TEAM"]);
    assert_eq!(code, 4, "{err}");

    let (code, out, err) = run(&["mandates", "list", "--plan", "starter", "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let items = json(&out)["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1, "{out}");
    assert_eq!(items[0]["name"], "Gamma");

    let (code, out, err) = run(&["mandates", "show", "Gamma", "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["members"], 26);
    assert_eq!(json(&out)["capacity"], 50);
    assert_eq!(json(&out)["subscription"]["status"], "active");

    // Soft delete, find it in the deleted list, restore it (enabled state kept).
    let (code, _, err) = run(&["mandates", "delete", "Gamma"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(&["mandates", "list", "--deleted", "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["items"][0]["name"], "Gamma");
    let (code, _, err) = run(&["mandates", "plan", "Gamma", "TEAM"]);
    assert_eq!(code, 3, "{err}");
    let (code, out, err) = run(&["mandates", "restore", "Gamma", "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["enabled"], true);
    assert_eq!(json(&out)["deleted_at"], serde_json::Value::Null);
    let (code, _, _) = run(&["mandates", "restore", "Gamma"]);
    assert_eq!(code, 3, "restoring a live mandate is a conflict");
}
