//! Many operators on one database, for the writes beyond the mandate and user forms: a plan
//! change, a trust's rotation and deletion, a registration's repairs, a member's removal, a
//! bulk apply and an undo are each applied only at what their operator saw. A stale one is
//! refused as a conflict naming who changed what and when (CLI: exit 3) and writes nothing;
//! raced against a fresh one, the fresh one always lands.

use hubdeck::domain::roles::mandate_roles;
use hubdeck::domain::{MandateId, MandateRoleId, PageQuery, RegistrationId, RoleRef, UserSub};
use hubdeck::service::bulk::{BulkAction, BulkTarget};
use hubdeck::service::versions::Version;
use hubdeck::service::{Actor, ServiceError, Services};

use crate::audit::hubdeck;
use crate::mandates::{cached_user, create, grant, raw_member, services};
use crate::support::pg::fresh_db;

/// A signed-in SysAdmin whose email the directory cache knows (so conflicts can name them).
async fn named_sysadmin(pool: &hubdeck::store::Db, email: &str) -> Actor {
    let sub = cached_user(pool, email, "Named Admin").await;
    grant(pool, sub, RoleRef::Admin).await;
    Actor::Operator(
        hubdeck::service::actor::load_operator(pool, sub, email)
            .await
            .unwrap(),
    )
}

fn conflict(r: Result<impl std::fmt::Debug, ServiceError>, what: &str) -> String {
    match r {
        Err(ServiceError::Conflict(m)) => m,
        other => panic!("{what}: expected a conflict, got {other:?}"),
    }
}

async fn mandate_version(svc: &Services, a: &Actor, id: MandateId) -> Version {
    Version(svc.get_mandate(a, id).await.unwrap().mandate.version)
}

async fn plan_of(pool: &hubdeck::store::Db, id: MandateId) -> String {
    sqlx::query_scalar(
        "SELECT plan_key FROM mandate_subscription WHERE mandate_id = $1 \
         AND status IN ('trialing', 'active', 'past_due')",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_stale_plan_change_is_refused_naming_the_other_change() {
    let db = fresh_db().await;
    let svc = services(&db);
    let a = named_sysadmin(&db.pool, "alice@hub.example").await;
    let b = named_sysadmin(&db.pool, "bob@hub.example").await;
    let x = create(&svc, "tenant-plan").await;
    // A opens the plan picker.
    let seen = mandate_version(&svc, &a, x).await;
    // B moves X to TEAM meanwhile.
    svc.change_plan(&b, x, "TEAM", Some(seen)).await.unwrap();
    // A picks STARTER from the picker opened before.
    let msg = conflict(
        svc.change_plan(&a, x, "STARTER", Some(seen)).await,
        "stale plan change",
    );
    assert!(msg.contains("bob@hub.example"), "{msg}");
    assert!(msg.contains("s ago"), "{msg}");
    assert!(
        msg.contains("TEAM"),
        "the conflict says what changed: {msg}"
    );
    assert_eq!(plan_of(&db.pool, x).await, "TEAM");
    // At the current version it lands.
    let now = mandate_version(&svc, &a, x).await;
    assert!(now > seen, "a plan change moves the mandate's version");
    svc.change_plan(&a, x, "STARTER", Some(now)).await.unwrap();
    assert_eq!(plan_of(&db.pool, x).await, "STARTER");
}

/// Rounds of a plan change from the current version racing one from an older version: the
/// stale one never lands, the fresh one is never lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plan_changes_stale_against_fresh_never_lose_the_fresh_one() {
    let db = fresh_db().await;
    let svc = services(&db);
    let a = named_sysadmin(&db.pool, "alice@hub.example").await;
    let b = named_sysadmin(&db.pool, "bob@hub.example").await;
    let x = create(&svc, "tenant-plan-race").await;
    let plans = ["STARTER", "TEAM", "ENTERPRISE"];
    let mut old = mandate_version(&svc, &a, x).await;
    svc.change_plan(&a, x, "STARTER", None).await.unwrap();
    for round in 0..30 {
        let current = mandate_version(&svc, &a, x).await;
        let fresh = plans[(round + 1) % 3];
        let stale = plans[(round + 2) % 3];
        let (f, s) = tokio::join!(
            svc.change_plan(&a, x, fresh, Some(current)),
            svc.change_plan(&b, x, stale, Some(old)),
        );
        f.unwrap_or_else(|e| panic!("round {round}: the fresh change failed: {e}"));
        conflict(s, &format!("round {round}: the stale change"));
        assert_eq!(plan_of(&db.pool, x).await, fresh, "round {round}");
        old = current;
    }
}

async fn trust_hash(pool: &hubdeck::store::Db, id: hubdeck::domain::TrustId) -> Option<String> {
    sqlx::query_scalar("SELECT api_key_hash FROM trust WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stale_trust_rotations_and_deletes_are_refused_and_the_fresh_rotation_lands() {
    let db = fresh_db().await;
    let svc = services(&db);
    let a = named_sysadmin(&db.pool, "alice@hub.example").await;
    let b = named_sysadmin(&db.pool, "bob@hub.example").await;
    let t = svc
        .register_trust(&a, "Leeds", "LEEDS", None)
        .await
        .unwrap()
        .trust;
    let seen = Version(svc.get_trust(&a, t.id).await.unwrap().version);
    assert_eq!(seen, Version(t.version));
    // The hub's heartbeat does not make a confirmation stale.
    sqlx::query("UPDATE trust SET last_heartbeat = now() WHERE id = $1")
        .bind(t.id)
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(svc.get_trust(&a, t.id).await.unwrap().version, seen.0);
    // B rotates; A's delete and rotation, confirmed before, are refused naming B's rotation.
    svc.rotate_trust_keys(&b, t.id, false, Some(seen))
        .await
        .unwrap();
    let msg = conflict(svc.delete_trust(&a, t.id, Some(seen)).await, "stale delete");
    assert!(msg.contains("bob@hub.example"), "{msg}");
    assert!(
        msg.contains("key_rotated") || msg.contains("rotated"),
        "{msg}"
    );
    assert!(trust_hash(&db.pool, t.id).await.is_some(), "not deleted");
    conflict(
        svc.rotate_trust_keys(&a, t.id, true, Some(seen)).await,
        "stale rotation",
    );
    conflict(
        svc.rotate_trust_internal_key(&a, t.id, Some(seen)).await,
        "stale internal rotation",
    );
    // Races: the rotation at the current version lands, the stale one never does.
    let mut old = seen;
    for round in 0..20 {
        let current = Version(svc.get_trust(&a, t.id).await.unwrap().version);
        let (f, s) = tokio::join!(
            svc.rotate_trust_keys(&a, t.id, false, Some(current)),
            svc.rotate_trust_keys(&b, t.id, false, Some(old)),
        );
        let fresh = f.unwrap_or_else(|e| panic!("round {round}: the fresh rotation failed: {e}"));
        conflict(s, &format!("round {round}: the stale rotation"));
        let want = hubdeck::domain::trust::api_key_hash(&fresh.api_key);
        assert_eq!(
            trust_hash(&db.pool, t.id).await,
            Some(want),
            "round {round}"
        );
        old = current;
    }
    // A stale delete racing a fresh rotation: the trust stays, with the fresh key.
    let current = Version(svc.get_trust(&a, t.id).await.unwrap().version);
    let (f, s) = tokio::join!(
        svc.rotate_trust_keys(&a, t.id, false, Some(current)),
        svc.delete_trust(&b, t.id, Some(old)),
    );
    let fresh = f.unwrap();
    conflict(s, "stale delete in the race");
    assert_eq!(
        trust_hash(&db.pool, t.id).await,
        Some(hubdeck::domain::trust::api_key_hash(&fresh.api_key))
    );
    // Once deleted, a delete from a confirmation says who deleted it.
    let now = Version(svc.get_trust(&a, t.id).await.unwrap().version);
    svc.delete_trust(&b, t.id, Some(now)).await.unwrap();
    let msg = conflict(svc.delete_trust(&a, t.id, Some(now)).await, "gone");
    assert!(
        msg.contains("gone") && msg.contains("bob@hub.example"),
        "{msg}"
    );
}

async fn stuck_registration(pool: &hubdeck::store::Db) -> RegistrationId {
    RegistrationId(
        sqlx::query_scalar(
            "INSERT INTO registration (email, name, organisation, state, last_error) \
             VALUES ('stuck@hub.example', 'Stuck', 'Org', 'needs_cleanup', 'directory down') \
             RETURNING id",
        )
        .fetch_one(pool)
        .await
        .unwrap(),
    )
}

#[tokio::test]
async fn a_registration_repair_confirmed_on_a_stale_row_is_refused() {
    let db = fresh_db().await;
    let svc = services(&db);
    let a = named_sysadmin(&db.pool, "alice@hub.example").await;
    let b = named_sysadmin(&db.pool, "bob@hub.example").await;
    let id = stuck_registration(&db.pool).await;
    let seen = Version(svc.registration_detail(&a, id).await.unwrap().version);
    // B resolves it first.
    svc.resolve_registration_expecting(&b, id, "handled by phone", Some(seen))
        .await
        .unwrap();
    let state = |pool: hubdeck::store::Db| async move {
        sqlx::query_scalar::<_, String>("SELECT state FROM registration WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(state(db.pool.clone()).await, "resolved");
    let note = |pool: hubdeck::store::Db| async move {
        sqlx::query_scalar::<_, Option<String>>("SELECT note FROM registration WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let before = note(db.pool.clone()).await;
    // A's roll back and resolve, confirmed on what they saw before, are refused.
    for r in [
        svc.rollback_registration_expecting(&a, id, Some(seen))
            .await
            .map(drop),
        svc.resolve_registration_expecting(&a, id, "A's note", Some(seen))
            .await
            .map(drop),
        svc.retry_registration_expecting(&a, id, Some(seen))
            .await
            .map(drop),
    ] {
        let msg = conflict(r, "stale repair");
        assert!(msg.contains("it is now resolved"), "{msg}");
        assert!(msg.contains("you saw version"), "{msg}");
    }
    assert_eq!(note(db.pool.clone()).await, before, "B's note is kept");
}

async fn member_roles(
    pool: &hubdeck::store::Db,
    mandate: MandateId,
    user: UserSub,
) -> Option<Vec<uuid::Uuid>> {
    let id: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM user_mandate WHERE mandate_id = $1 AND user_id = $2")
            .bind(mandate)
            .bind(user)
            .fetch_optional(pool)
            .await
            .unwrap();
    let id = id?;
    let mut r: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT mandate_role_id FROM user_mandate_role WHERE user_mandate_id = $1",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap();
    r.sort();
    Some(r)
}

async fn membership_version(svc: &Services, a: &Actor, m: MandateId, user: UserSub) -> Version {
    let page = svc
        .list_members(a, m, &PageQuery::new(1, 50))
        .await
        .unwrap();
    page.items
        .iter()
        .find(|r| r.user_id == user)
        .map(|r| Version(r.version))
        .expect("a member")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_member_removal_never_removes_a_fresh_grant() {
    let db = fresh_db().await;
    let svc = services(&db);
    let a = named_sysadmin(&db.pool, "alice@hub.example").await;
    let b = named_sysadmin(&db.pool, "bob@hub.example").await;
    let m = create(&svc, "tenant-members").await;
    let boss = cached_user(&db.pool, "boss@hub.example", "Boss").await;
    raw_member(&db.pool, m, boss, &[mandate_roles::ADMIN]).await;
    // In the directory, so it can be added again at the end.
    let u = crate::tui_e2e::seed_identity(&svc, "user@hub.example", None, None).await;
    raw_member(&db.pool, m, u, &[mandate_roles::VIEWER]).await;
    let member = MandateRoleId::from(mandate_roles::MEMBER);
    let viewer = MandateRoleId::from(mandate_roles::VIEWER);
    let mut old = membership_version(&svc, &a, m, u).await;
    svc.change_member_roles(&b, m, u, &[member], &[], None)
        .await
        .unwrap();
    // Sequential: A confirmed "remove" before B's grant; it is refused naming B.
    let msg = conflict(
        svc.remove_member_expecting(&a, m, u, Some(old)).await,
        "stale removal",
    );
    assert!(msg.contains("bob@hub.example"), "{msg}");
    assert!(
        member_roles(&db.pool, m, u).await.is_some(),
        "still a member"
    );
    // Races: a fresh role change against a stale removal.
    for round in 0..20 {
        let current = membership_version(&svc, &a, m, u).await;
        let (add, remove) = if round % 2 == 0 {
            (viewer, member)
        } else {
            (member, viewer)
        };
        let (add_set, remove_set) = ([add], [remove]);
        let (f, s) = tokio::join!(
            svc.change_member_roles(&b, m, u, &add_set, &remove_set, Some(current)),
            svc.remove_member_expecting(&a, m, u, Some(old)),
        );
        f.unwrap_or_else(|e| panic!("round {round}: the fresh change failed: {e}"));
        conflict(s, &format!("round {round}: the stale removal"));
        let roles = member_roles(&db.pool, m, u).await.expect("still a member");
        assert!(roles.contains(&add.0), "round {round}: {roles:?}");
        old = current;
    }
    // The removal from the current version lands; a second one from it says who removed.
    let now = membership_version(&svc, &a, m, u).await;
    svc.remove_member_expecting(&b, m, u, Some(now))
        .await
        .unwrap();
    let msg = conflict(
        svc.remove_member_expecting(&a, m, u, Some(now)).await,
        "gone member",
    );
    assert!(
        msg.contains("gone") && msg.contains("bob@hub.example"),
        "{msg}"
    );
    // Adding somebody who was added meanwhile names who added them.
    svc.add_member(
        &b,
        m,
        &hubdeck::service::members::MemberRef::Sub(u),
        &[viewer],
    )
    .await
    .unwrap();
    let msg = conflict(
        svc.add_member(
            &a,
            m,
            &hubdeck::service::members::MemberRef::Sub(u),
            &[viewer],
        )
        .await,
        "second add",
    );
    assert!(
        msg.contains("already a member") && msg.contains("bob@hub.example"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_stale_bulk_apply_and_undo_name_who_changed_what() {
    let db = fresh_db().await;
    let svc = services(&db);
    let a = named_sysadmin(&db.pool, "alice@hub.example").await;
    let b = named_sysadmin(&db.pool, "bob@hub.example").await;
    let m = create(&svc, "tenant-bulk").await;
    let boss = cached_user(&db.pool, "boss@hub.example", "Boss").await;
    raw_member(&db.pool, m, boss, &[mandate_roles::ADMIN]).await;
    let u = cached_user(&db.pool, "user@hub.example", "User").await;
    raw_member(&db.pool, m, u, &[mandate_roles::VIEWER]).await;
    let target = BulkTarget::Memberships(vec![]);
    let target = match target {
        BulkTarget::Memberships(_) => {
            let page = svc
                .list_members(&a, m, &PageQuery::new(1, 50))
                .await
                .unwrap();
            BulkTarget::Memberships(
                page.items
                    .iter()
                    .filter(|r| r.user_id == u)
                    .map(|r| r.membership_id)
                    .collect(),
            )
        }
        t => t,
    };
    let preview = svc
        .bulk_preview(&a, m, &target, &BulkAction::Disable)
        .await
        .unwrap();
    // B disables the user's membership meanwhile (the preview said "disable").
    svc.set_member_enabled(&b, m, u, false).await.unwrap();
    let msg = conflict(
        svc.bulk_apply(
            &a,
            m,
            &target,
            &BulkAction::Disable,
            Some(&preview.fingerprint),
        )
        .await,
        "stale bulk apply",
    );
    assert!(msg.contains("changed since the preview"), "{msg}");
    assert!(msg.contains("bob@hub.example"), "{msg}");
    assert!(msg.contains("user@hub.example"), "{msg}");
    // Undo of a change that was changed again names the later change's author.
    svc.set_member_enabled(&a, m, u, true).await.unwrap();
    let first: uuid::Uuid = sqlx::query_scalar(
        "SELECT id FROM mandate_audit WHERE target_user_id = $1 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(u)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    svc.set_member_enabled(&b, m, u, false).await.unwrap();
    let msg = conflict(svc.undo(&a, first).await, "stale undo");
    assert!(msg.contains("changed it again"), "{msg}");
    assert!(msg.contains("bob@hub.example"), "{msg}");
}

/// The CLI: the version from the JSON it printed; a change since → exit 3, nothing written.
#[tokio::test(flavor = "multi_thread")]
async fn cli_plan_and_trust_writes_take_expect_version_and_exit_3_when_stale() {
    let db = fresh_db().await;
    let svc = services(&db);
    let x = create(&svc, "tenant-cli-plan").await;
    let (code, out, err) = hubdeck(
        &db,
        &["mandates", "show", "tenant-cli-plan", "--output", "json"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    let seen = shown
        .pointer("/mandate/version")
        .and_then(|v| v.as_i64())
        .unwrap();
    let (code, out, err) = hubdeck(&db, &["mandates", "plan", "tenant-cli-plan", "TEAM"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = hubdeck(
        &db,
        &[
            "mandates",
            "plan",
            "tenant-cli-plan",
            "STARTER",
            "--expect-version",
            &seen.to_string(),
        ],
    );
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("TEAM"), "{err}");
    assert_eq!(plan_of(&db.pool, x).await, "TEAM");

    let root = named_sysadmin(&db.pool, "root@hub.example").await;
    let t = svc
        .register_trust(&root, "York", "YORK", None)
        .await
        .unwrap()
        .trust;
    let (code, out, err) = hubdeck(&db, &["trusts", "list", "--output", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let v = listed
        .pointer("/items/0/version")
        .and_then(|v| v.as_i64())
        .unwrap_or_else(|| panic!("no version in {out}"));
    svc.rotate_trust_keys(&root, t.id, false, None)
        .await
        .unwrap();
    let (code, out, err) = hubdeck(
        &db,
        &[
            "trusts",
            "delete",
            "YORK",
            "--yes",
            "--expect-version",
            &v.to_string(),
        ],
    );
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("root@hub.example"), "{err}");
    assert!(trust_hash(&db.pool, t.id).await.is_some(), "not deleted");
    let now = svc.get_trust(&root, t.id).await.unwrap().version;
    let (code, out, err) = hubdeck(
        &db,
        &[
            "trusts",
            "delete",
            "YORK",
            "--yes",
            "--expect-version",
            &now.to_string(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(trust_hash(&db.pool, t.id).await.is_none());
}
