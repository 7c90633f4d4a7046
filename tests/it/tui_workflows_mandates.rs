//! Issue 14, console half (K1): the Drift tab and the mandate lifecycle, tried as the operator
//! meets them — the real binary in tmux, a real PostgreSQL database and the LocalDirectory.

use hubdeck::domain::roles::mandate_roles;
use hubdeck::domain::{MandateId, RoleRef};
use hubdeck::service::Actor;
use hubdeck::service::drift::{DriftClass, DriftTarget};

use crate::mandates::{cached_user, raw_member};
use crate::support::pg::fresh_db;
use crate::tui_e2e::{
    OPERATOR_EMAIL, seed_identity, seed_mandate, seed_operator, services, start_signed_in,
};

async fn count(pool: &hubdeck::store::Db, sql: &str, id: uuid::Uuid) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_row_is_repaired_from_the_console_exactly_as_previewed() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let op = seed_operator(&s).await;
    // An identity with no global role and no membership: drift of class no-grants, whose
    // repair deletes the identity in the directory and marks its cache row gone.
    let idle = seed_identity(&s, "idle@site.example", None, None).await;
    let target = DriftTarget {
        class: DriftClass::NoGrants,
        id: idle.0,
    };
    let preview = s
        .drift_repair_preview(&Actor::cli(), target)
        .await
        .expect("preview");
    assert_eq!(preview.directory.len(), 1, "{preview:?}");
    assert!(preview.directory[0].starts_with("delete the identity"));
    // PostgreSQL: only the cache row (the identity holds no role, membership or profile).
    assert_eq!(preview.database.len(), 1, "{preview:?}");
    assert!(
        preview.database[0].starts_with("mark the cached identity"),
        "{preview:?}"
    );

    let t = start_signed_in(&db, &[]);
    t.keys(&["7"]);
    t.wait_for(&["Drift", "no-grants", "idle@site.example", "rows 1–1 of 1"]);
    t.keys(&["p"]);
    // The preview on screen is the service's: both sections, the audit row, typed confirm.
    t.wait_for(&[
        "Repair drift: identities without grants",
        "PostgreSQL:",
        "mark the cached identity of",
        "Directory:",
        "delete the identity",
        "Audit:",
        "users_audit \"Deleted user\"",
        "repair",
    ]);
    // Nothing changed before the confirmation.
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM directory_user WHERE sub = $1 AND gone_at IS NULL",
            idle.0
        )
        .await,
        1
    );
    t.settle();
    t.text("repair");
    t.keys(&["Enter"]);
    t.wait_gone(&["Repair drift", "idle@site.example"]);
    t.wait_for(&["Drift", "no rows of 0"]);

    // PostgreSQL: the cache row is gone, as previewed; the audit row is there.
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM directory_user WHERE sub = $1 AND gone_at IS NOT NULL",
            idle.0
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM users_audit WHERE user_id = $1 AND action = 'Deleted user'",
            idle.0
        )
        .await,
        1
    );
    // The directory: the identity is deleted, as previewed; the operator is untouched.
    assert!(s.directory.find_by_sub(idle).await.is_err());
    assert!(s.directory.find_by_sub(op).await.is_ok());
    // No other drift row was touched: the preview for the same target is now refused.
    assert!(s.drift_repair_preview(&Actor::cli(), target).await.is_err());
    t.quit();
}

#[tokio::test(flavor = "multi_thread")]
async fn soft_deleted_mandate_is_found_and_restored_from_the_console() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let op = seed_operator(&s).await;
    let acme = seed_mandate(&db, "Acme Research", op).await;
    seed_mandate(&db, "Beta Hospital", op).await;
    s.soft_delete_mandate(&Actor::cli(), MandateId(acme))
        .await
        .expect("soft delete");

    let t = start_signed_in(&db, &[]);
    let cap = t.wait_for(&["Beta Hospital", "rows 1–1 of 1"]);
    assert!(!cap.contains("Acme Research"), "{cap}");
    t.keys(&[":"]);
    t.text("deleted");
    t.keys(&["Enter"]);
    let cap = t.wait_for(&["Acme Research", "rows 1–1 of 1", "R restore"]);
    assert!(!cap.contains("Beta Hospital"), "{cap}");
    t.keys(&["R"]);
    t.wait_for(&["Restore mandate", "Restore mandate Acme Research?"]);
    t.settle();
    t.keys(&["y"]);
    t.wait_for(&["mandate Acme Research restored"]);
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM mandate WHERE id = $1 AND deleted_at IS NULL",
            acme
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM mandate_audit WHERE mandate_id = $1 AND action LIKE '%RESTORED%'",
            acme
        )
        .await,
        1
    );
    // Esc back to the live list: both mandates.
    t.keys(&["Escape"]);
    t.wait_for(&["Acme Research", "Beta Hospital", "rows 1–2 of 2"]);
    // The create form's plan picker describes each plan (limits and trial).
    t.keys(&["n"]);
    t.wait_for(&[
        "Create mandate",
        "14-day trial (TRIAL_14D) — up to 25 members, 14-day trial",
    ]);
    t.keys(&["Escape"]);
    t.wait_gone(&["Create mandate"]);
    t.quit();
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_change_below_the_member_count_is_refused_and_changes_nothing() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let op = seed_operator(&s).await;
    let acme = seed_mandate(&db, "Acme Research", op).await;
    sqlx::query("UPDATE mandate_subscription SET plan_key = 'TEAM', status = 'active', trial_ends_at = NULL WHERE mandate_id = $1")
        .bind(acme)
        .execute(&db.pool)
        .await
        .expect("on TEAM");
    // 30 members with the operator: more than the 14-day trial's 25.
    for i in 0..29 {
        let u = cached_user(&db.pool, &format!("m{i:02}@site.example"), "Member").await;
        raw_member(&db.pool, MandateId(acme), u, &[mandate_roles::MEMBER]).await;
    }
    let subs_before = count(
        &db.pool,
        "SELECT count(*) FROM mandate_subscription WHERE mandate_id = $1",
        acme,
    )
    .await;

    let t = start_signed_in(&db, &[]);
    // The detail pane: plan, status, members against capacity, the admins.
    t.wait_for(&[
        "Acme Research",
        "Team (TEAM)",
        "active",
        "30 of 500",
        "Admins (1 working)",
        OPERATOR_EMAIL,
    ]);
    t.keys(&["P"]);
    t.wait_for(&[
        "Change plan of Acme Research (now TEAM)",
        "Team (TEAM) — up to 500 members, no trial",
    ]);
    t.keys(&["Left", "Left"]);
    t.wait_for(&["14-day trial (TRIAL_14D) — up to 25 members, 14-day trial"]);
    t.keys(&["Enter"]);
    t.wait_for(&[
        "Change plan failed",
        "to plan TRIAL_14D: it has 30 members",
        "allows 25",
    ]);
    // Nothing changed: same subscription rows, still TEAM, no audit row.
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM mandate_subscription WHERE mandate_id = $1",
            acme
        )
        .await,
        subs_before
    );
    let plan: Option<String> = sqlx::query_scalar("SELECT plan_key FROM mandate WHERE id = $1")
        .bind(acme)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(plan.as_deref(), Some("TEAM"));
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM mandate_audit WHERE mandate_id = $1 AND action = 'MANDATE_PLAN_CHANGED'",
            acme
        )
        .await,
        0
    );
    // A plan that fits goes through (STARTER, 50), audited once.
    t.keys(&["Escape"]);
    t.wait_gone(&["Change plan failed"]);
    t.keys(&["Right"]);
    t.wait_for(&["Starter (STARTER) — up to 50 members, no trial"]);
    t.keys(&["Enter"]);
    t.wait_for(&["moved to plan STARTER"]);
    t.wait_for(&["30 of 50", "Starter (STARTER)"]);
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM mandate_audit WHERE mandate_id = $1 AND action = 'MANDATE_PLAN_CHANGED'",
            acme
        )
        .await,
        1
    );
    t.quit();
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_lists_mandates_without_a_working_admin_first_and_removes_a_gone_member() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let op = seed_operator(&s).await;
    let gone_admin = cached_user(&db.pool, "gone-admin@site.example", "Gone Admin").await;
    let gone_member = cached_user(&db.pool, "gone-member@site.example", "Gone Member").await;
    seed_mandate(&db, "Zeta Clinic", gone_admin).await;
    let alpha = seed_mandate(&db, "Alpha Lab", op).await;
    let ms = raw_member(
        &db.pool,
        MandateId(alpha),
        gone_member,
        &[mandate_roles::MEMBER],
    )
    .await;
    sqlx::query("UPDATE directory_user SET gone_at = now() WHERE sub = ANY($1)")
        .bind(vec![gone_admin.0, gone_member.0])
        .execute(&db.pool)
        .await
        .unwrap();

    let t = start_signed_in(&db, &[]);
    t.keys(&[":"]);
    t.text("drift");
    t.keys(&["Enter"]);
    // The mandate left without a working admin comes first, flagged (the detail pane has
    // the whole line).
    let cap = t.wait_for(&["gone-admin@site", "gone-member@site", "NO WORKING ADMIN"]);
    let first = cap.find("Zeta Clinic").unwrap();
    let second = cap.find("Alpha Lab").unwrap();
    assert!(first < second, "{cap}");
    t.keys(&["Down"]);
    t.keys(&["p"]);
    // A member of a mandate that keeps its admin: a y/n confirmation.
    t.wait_for(&[
        "Repair drift: memberships whose identity is gone or disabled",
        "remove the membership",
        "Alpha Lab",
        "mandate_audit MEMBER_REMOVED",
        "y confirm",
    ]);
    t.settle();
    t.keys(&["y"]);
    t.wait_gone(&["gone-member@site", "Alpha Lab"]);
    let cap = t.wait_for(&["gone-admin@site", "rows 1–1 of 1"]);
    assert!(
        cap.contains("▶ memberships"),
        "cursor kept on the list: {cap}"
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM user_mandate WHERE id = $1",
            ms
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM mandate_audit WHERE mandate_id = $1 AND action = 'MEMBER_REMOVED'",
            alpha
        )
        .await,
        1
    );
    // The other row was not touched.
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM user_mandate WHERE user_id = $1",
            gone_admin.0
        )
        .await,
        1
    );
    t.quit();
}

/// The confirmation is proportional: y/n for a reversible repair, the word typed when it
/// deletes a user or an identity or leaves a mandate without an admin; the message is the
/// service's preview, section by section.
#[test]
fn drift_confirmation_is_in_proportion_to_the_repair() {
    use hubdeck::service::drift::RepairPreview;
    use hubdeck::tui::screens::drift::DriftScreen;
    use hubdeck::tui::widgets::dialog::Dialog;
    let preview = |class, warnings: Vec<String>| RepairPreview {
        target: DriftTarget {
            class,
            id: uuid::Uuid::from_u128(7),
        },
        summary: "x@site.example is drift".into(),
        database: vec!["remove the global roles of x (ADMIN)".into()],
        directory: Vec::new(),
        audit: vec!["users_audit \"Updated user roles\" for x".into()],
        warnings,
    };
    let typed = |d: &Dialog| matches!(d, Dialog::TypeName { .. });
    assert!(!typed(&DriftScreen::confirm(preview(
        DriftClass::DisabledWithGrants,
        vec![]
    ))));
    assert!(typed(&DriftScreen::confirm(preview(
        DriftClass::NoGrants,
        vec![]
    ))));
    assert!(typed(&DriftScreen::confirm(preview(
        DriftClass::OrphanGrants,
        vec![]
    ))));
    assert!(!typed(&DriftScreen::confirm(preview(
        DriftClass::Memberships,
        vec![]
    ))));
    assert!(typed(&DriftScreen::confirm(preview(
        DriftClass::Memberships,
        vec!["«zeta» has no working admin".into()]
    ))));
    let Dialog::Confirm { message, .. } =
        DriftScreen::confirm(preview(DriftClass::DisabledWithGrants, vec![]))
    else {
        panic!("y/n expected");
    };
    assert_eq!(
        message,
        "x@site.example is drift\n\nPostgreSQL:\n  • remove the global roles of x (ADMIN)\n\n\
         Directory:\n  no change\n\nAudit:\n  • users_audit \"Updated user roles\" for x\n\nRepair it?"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_repair_refused_when_the_row_changed_after_the_preview() {
    let db = fresh_db().await;
    let s = services(&db).await;
    seed_operator(&s).await;
    let idle = seed_identity(&s, "idle@site.example", None, None).await;
    let t = start_signed_in(&db, &[]);
    t.keys(&["7"]);
    t.wait_for(&["no-grants", "idle@site.example"]);
    t.keys(&["p"]);
    t.wait_for(&[
        "Repair drift: identities without grants",
        "delete the identity",
    ]);
    // Meanwhile someone grants the identity a role: it is no longer drift.
    sqlx::query("INSERT INTO user_role (user_id, role_id) VALUES ($1, $2)")
        .bind(idle)
        .bind(RoleRef::Admin.id())
        .execute(&db.pool)
        .await
        .unwrap();
    t.settle();
    t.text("repair");
    t.keys(&["Enter"]);
    t.wait_for(&["Repair drift failed", "changed since the preview"]);
    // Nothing was changed: the identity and its cache row are still there, no audit row.
    assert!(s.directory.find_by_sub(idle).await.is_ok());
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM directory_user WHERE sub = $1 AND gone_at IS NULL",
            idle.0
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM users_audit WHERE user_id = $1",
            idle.0
        )
        .await,
        0
    );
    t.keys(&["Escape"]);
    t.wait_gone(&["Repair drift failed"]);
    t.quit();
}

/// The mandates list source: the plan filter, and the `deleted` pseudo-filter switching to
/// the soft-deleted mandates (what `f` offers and `:deleted` sets).
#[tokio::test(flavor = "multi_thread")]
async fn mandates_filter_by_plan_and_by_deleted() {
    use hubdeck::domain::page::Filter;
    use hubdeck::domain::{Page, PageQuery};
    use hubdeck::tui::action::ListSource;
    use hubdeck::tui::screens::mandates::data::{MandateRow, Mandates};
    let db = fresh_db().await;
    let s = services(&db).await;
    let op = seed_identity(&s, OPERATOR_EMAIL, None, Some(RoleRef::Admin)).await;
    let acme = seed_mandate(&db, "Acme Research", op).await;
    seed_mandate(&db, "Beta Hospital", op).await;
    let gone = seed_mandate(&db, "Gamma Unit", op).await;
    sqlx::query("UPDATE mandate_subscription SET plan_key = 'TEAM' WHERE mandate_id = $1")
        .bind(acme)
        .execute(&db.pool)
        .await
        .unwrap();
    s.soft_delete_mandate(&Actor::cli(), MandateId(gone))
        .await
        .unwrap();
    let names = |q: PageQuery| {
        let (s, a) = (s.clone(), Actor::cli());
        async move {
            let page = Mandates.page(s, a, q).await.expect("page");
            let page: Page<MandateRow> = page;
            page.items
                .into_iter()
                .map(|m| (m.name, m.plan, m.deleted_at.is_some()))
                .collect::<Vec<_>>()
        }
    };
    let with = |column: &str, value: &str| PageQuery {
        filters: vec![Filter {
            column: column.into(),
            values: vec![value.into()],
        }],
        ..PageQuery::default()
    };
    assert_eq!(
        names(with("plan", "TEAM")).await,
        [("Acme Research".to_string(), Some("TEAM".to_string()), false)]
    );
    assert_eq!(
        names(PageQuery::default()).await,
        [
            ("Acme Research".to_string(), Some("TEAM".to_string()), false),
            (
                "Beta Hospital".to_string(),
                Some("TRIAL_14D".to_string()),
                false
            ),
        ]
    );
    let deleted = names(with("deleted", "yes")).await;
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0].0, "Gamma Unit");
    assert!(deleted[0].2);
    let values = Mandates
        .filter_values(s.clone(), Actor::cli(), "plan".into(), PageQuery::default())
        .await
        .unwrap();
    assert_eq!(values, ["TEAM", "TRIAL_14D"]);
    let values = Mandates
        .filter_values(
            s.clone(),
            Actor::cli(),
            "deleted".into(),
            PageQuery::default(),
        )
        .await
        .unwrap();
    assert_eq!(values, ["no", "yes"]);
}
