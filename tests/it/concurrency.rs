//! Issue 28: many operators on one database. A write is applied only at the version its
//! operator saw; a stale one is refused as a conflict naming who changed what, and writes
//! nothing. Tried at the service level, through the real binary, and in the console (tmux)
//! against the CLI.

use hubdeck::domain::{MandateId, RoleRef};
use hubdeck::service::mandates::MandatePatch;
use hubdeck::service::versions::Version;
use hubdeck::service::{Actor, ServiceError, Services};

use crate::audit::hubdeck;
use crate::mandates::{cached_user, create, grant, services};
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

async fn state(pool: &hubdeck::store::Db, id: MandateId) -> (Option<String>, bool) {
    sqlx::query_as("SELECT label, enabled FROM mandate WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn version(svc: &Services, actor: &Actor, id: MandateId) -> Version {
    Version(svc.get_mandate(actor, id).await.unwrap().mandate.version)
}

fn label(l: &str) -> MandatePatch {
    MandatePatch {
        label: Some(Some(l.to_string())),
        ..Default::default()
    }
}

#[tokio::test]
async fn stale_label_edit_is_refused_and_keeps_the_disable_and_label_of_the_other_operator() {
    let db = fresh_db().await;
    let svc = services(&db);
    let a = named_sysadmin(&db.pool, "alice@hub.example").await;
    let b = named_sysadmin(&db.pool, "bob@hub.example").await;
    let x = create(&svc, "tenant-x").await;
    // A opens the edit form: X enabled, at this version.
    let seen = version(&svc, &a, x).await;
    // B, during an incident: X off, and says why in the label.
    let patch = MandatePatch {
        label: Some(Some("incident 42".into())),
        enabled: Some(false),
        ..Default::default()
    };
    svc.edit_mandate(&b, x, &patch, None).await.unwrap();
    // A saves a label edit from the form opened before.
    let err = svc
        .edit_mandate(&a, x, &label("renamed by A"), Some(seen))
        .await
        .expect_err("a stale save must be refused");
    let ServiceError::Conflict(msg) = &err else {
        panic!("expected a conflict, got {err:?}")
    };
    assert_eq!(err.exit_code(), 3);
    assert!(msg.contains("bob@hub.example"), "{msg}");
    assert!(msg.contains("enabled true → false"), "{msg}");
    assert!(msg.contains("s ago"), "{msg}");
    assert_eq!(
        state(&db.pool, x).await,
        (Some("incident 42".into()), false)
    );
    // Only what the operator changed is written: the same label edit without a version
    // (a script) keeps B's disable.
    svc.edit_mandate(&a, x, &label("renamed by A"), None)
        .await
        .unwrap();
    assert_eq!(
        state(&db.pool, x).await,
        (Some("renamed by A".into()), false)
    );
}

#[tokio::test]
async fn stale_delete_and_restore_are_refused() {
    let db = fresh_db().await;
    let svc = services(&db);
    let a = named_sysadmin(&db.pool, "alice@hub.example").await;
    let x = create(&svc, "tenant-y").await;
    let seen = version(&svc, &a, x).await;
    svc.edit_mandate(&Actor::cli(), x, &label("changed"), None)
        .await
        .unwrap();
    let err = svc
        .soft_delete_mandate_expecting(&a, x, Some(seen))
        .await
        .expect_err("stale delete");
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    let deleted: bool =
        sqlx::query_scalar("SELECT deleted_at IS NOT NULL FROM mandate WHERE id = $1")
            .bind(x)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(!deleted);
    let now = version(&svc, &a, x).await;
    svc.soft_delete_mandate_expecting(&a, x, Some(now))
        .await
        .unwrap();
    let err = svc
        .restore_mandate_expecting(&a, x, Some(now))
        .await
        .expect_err("the delete moved the version");
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    let err = svc
        .hard_delete_mandate_expecting(&a, x, "tenant-y", Some(now))
        .await
        .expect_err("stale hard delete");
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
}

/// 200 rounds: a write based on an old version races one based on the current version. The
/// stale one never lands and the fresh one is never lost; two writes from the same version:
/// exactly one lands, and the row is what that one wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_rounds_of_stale_against_fresh_writes_never_lose_the_fresh_one() {
    let db = fresh_db().await;
    let svc = services(&db);
    let a = named_sysadmin(&db.pool, "alice@hub.example").await;
    let b = named_sysadmin(&db.pool, "bob@hub.example").await;
    let x = create(&svc, "tenant-race").await;
    let mut old = version(&svc, &a, x).await;
    svc.edit_mandate(&a, x, &label("start"), None)
        .await
        .unwrap();
    for round in 0..200 {
        let current = version(&svc, &a, x).await;
        let fresh_label = format!("fresh {round}");
        let stale_label = format!("stale {round}");
        let fresh_enabled = round % 2 == 0;
        let fresh = MandatePatch {
            label: Some(Some(fresh_label.clone())),
            enabled: Some(fresh_enabled),
            ..Default::default()
        };
        let stale = MandatePatch {
            label: Some(Some(stale_label)),
            enabled: Some(!fresh_enabled),
            ..Default::default()
        };
        let (f, s) = tokio::join!(
            svc.edit_mandate(&a, x, &fresh, Some(current)),
            svc.edit_mandate(&b, x, &stale, Some(old)),
        );
        f.unwrap_or_else(|e| panic!("round {round}: the fresh write failed: {e}"));
        assert!(
            matches!(s, Err(ServiceError::Conflict(_))),
            "round {round}: the stale write was not refused: {s:?}"
        );
        assert_eq!(
            state(&db.pool, x).await,
            (Some(fresh_label), fresh_enabled),
            "round {round}"
        );
        // Same version, both fresh: one wins, the other is refused.
        let v = version(&svc, &a, x).await;
        let (pa, pb) = (label(&format!("a {round}")), label(&format!("b {round}")));
        let (p, q) = tokio::join!(
            svc.edit_mandate(&a, x, &pa, Some(v)),
            svc.edit_mandate(&b, x, &pb, Some(v)),
        );
        let winner = match (&p, &q) {
            (Ok(_), Err(ServiceError::Conflict(_))) => format!("a {round}"),
            (Err(ServiceError::Conflict(_)), Ok(_)) => format!("b {round}"),
            other => panic!("round {round}: exactly one must land: {other:?}"),
        };
        assert_eq!(state(&db.pool, x).await.0, Some(winner), "round {round}");
        old = current;
    }
}

/// The CLI: `--expect-version` from the JSON it printed; a change since → exit 3 naming it.
#[tokio::test(flavor = "multi_thread")]
async fn cli_expect_version_refuses_a_stale_update_with_exit_3() {
    let db = fresh_db().await;
    let svc = services(&db);
    let x = create(&svc, "tenant-cli").await;
    let (code, out, err) = hubdeck(&db, &["mandates", "show", "tenant-cli", "--output", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    let seen = shown
        .pointer("/mandate/version")
        .and_then(|v| v.as_i64())
        .unwrap_or_else(|| panic!("no version in {out}"));
    let (code, out, err) = hubdeck(
        &db,
        &["mandates", "update", "tenant-cli", "--enabled", "false"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = hubdeck(
        &db,
        &[
            "mandates",
            "update",
            "tenant-cli",
            "--label",
            "stale",
            "--expect-version",
            &seen.to_string(),
        ],
    );
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("enabled true → false"), "{err}");
    assert!(
        err.contains(&crate::support::cli::real_account()),
        "the audit names who changed it: {err}"
    );
    assert_eq!(
        state(&db.pool, x).await,
        (Some("tenant-cli label".into()), false)
    );
    // Without the guard, only the label is written: the disable stays.
    let (code, out, err) = hubdeck(&db, &["mandates", "update", "tenant-cli", "--label", "new"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(state(&db.pool, x).await, (Some("new".into()), false));
}

/// The reported case, as two operators did it: A presses `e` on X in the console, B disables
/// X from the CLI, A edits only the label and presses Enter. A's save is refused naming B's
/// change; X stays disabled with B's label.
#[tokio::test(flavor = "multi_thread")]
async fn console_label_save_after_a_cli_disable_is_refused_and_changes_nothing() {
    use crate::tui_e2e::{seed_mandate, seed_operator, services as tui_services, start_signed_in};
    let db = fresh_db().await;
    let s = tui_services(&db).await;
    let op = seed_operator(&s).await;
    let x = MandateId(seed_mandate(&db, "Tenant X", op).await);
    let t = start_signed_in(&db, &[]);
    t.wait_for(&["Tenant X", "rows 1–1 of 1"]);
    t.keys(&["e"]);
    t.wait_for(&["Edit mandate"]);
    let (code, out, err) = hubdeck(
        &db,
        &[
            "mandates",
            "update",
            &x.to_string(),
            "--enabled",
            "false",
            "--label",
            "incident",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    t.keys(&["Tab"]);
    t.text(" renamed");
    t.settle();
    t.keys(&["Enter"]);
    t.wait_for(&["was changed by", "(cli)"]);
    assert_eq!(state(&db.pool, x).await, (Some("incident".into()), false));
    // The first Esc dismisses the error report, the second closes the form.
    t.keys(&["Escape"]);
    t.settle();
    t.keys(&["Escape"]);
    t.wait_gone(&["Edit mandate"]);
    t.quit();
}

#[tokio::test]
async fn a_mandate_admin_cannot_reach_a_disabled_or_deleted_mandate_by_id() {
    let db = fresh_db().await;
    let svc = services(&db);
    let x = create(&svc, "tenant-admin").await;
    let admin = cached_user(&db.pool, "madmin@hub.example", "Mandate Admin").await;
    crate::mandates::raw_member(
        &db.pool,
        x,
        admin,
        &[hubdeck::domain::roles::mandate_roles::ADMIN],
    )
    .await;
    let actor = crate::mandates::operator(admin);
    assert!(svc.can_manage_members(&actor, x).await.unwrap());
    svc.edit_mandate(
        &Actor::cli(),
        x,
        &MandatePatch {
            enabled: Some(false),
            ..Default::default()
        },
        None,
    )
    .await
    .unwrap();
    assert!(
        !svc.can_manage_members(&actor, x).await.unwrap(),
        "a disabled mandate is hidden from its admin's list, so it is out of reach by id too"
    );
    assert!(svc.get_mandate(&actor, x).await.is_err());
    svc.edit_mandate(
        &Actor::cli(),
        x,
        &MandatePatch {
            enabled: Some(true),
            ..Default::default()
        },
        None,
    )
    .await
    .unwrap();
    assert!(svc.can_manage_members(&actor, x).await.unwrap());
    svc.soft_delete_mandate(&Actor::cli(), x).await.unwrap();
    assert!(!svc.can_manage_members(&actor, x).await.unwrap());
}

// ---------------------------------------------------------------------------------------------
// Users: roles changed, not replaced; enable/disable without locks across the directory call
// ---------------------------------------------------------------------------------------------

mod gated {
    //! The real LocalDirectory with a gate on `set_enabled`: the call reports that it started
    //! and waits until the test opens the gate — a directory call that is slow for as long as
    //! the test needs, deterministically.
    use std::sync::Arc;

    use async_trait::async_trait;
    use hubdeck::directory::{
        AuthOutcome, Directory, DirectoryResult, Identity, IdentityPage, NewIdentity,
        NewPasswordChallenge, UserKey,
    };
    use hubdeck::domain::{Email, Secret, UserSub};
    use tokio::sync::{Mutex, mpsc};

    pub struct Gated {
        pub inner: Arc<dyn Directory>,
        pub started: mpsc::UnboundedSender<()>,
        pub open: Mutex<mpsc::UnboundedReceiver<()>>,
        pub armed: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl Directory for Gated {
        fn kind(&self) -> &'static str {
            self.inner.kind()
        }
        async fn create_user(&self, new: &NewIdentity) -> DirectoryResult<Identity> {
            self.inner.create_user(new).await
        }
        async fn get_user(&self, key: &UserKey) -> DirectoryResult<Identity> {
            self.inner.get_user(key).await
        }
        async fn find_by_sub(&self, sub: UserSub) -> DirectoryResult<Identity> {
            self.inner.find_by_sub(sub).await
        }
        async fn list_page(&self, cursor: Option<&str>) -> DirectoryResult<IdentityPage> {
            self.inner.list_page(cursor).await
        }
        async fn set_enabled(&self, username: &str, enabled: bool) -> DirectoryResult<()> {
            if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
                let _ = self.started.send(());
                self.open.lock().await.recv().await;
            }
            self.inner.set_enabled(username, enabled).await
        }
        async fn delete_user(&self, username: &str) -> DirectoryResult<()> {
            self.inner.delete_user(username).await
        }
        async fn resend_invite(&self, username: &str) -> DirectoryResult<()> {
            self.inner.resend_invite(username).await
        }
        async fn authenticate(
            &self,
            email: &Email,
            password: &Secret,
        ) -> DirectoryResult<AuthOutcome> {
            self.inner.authenticate(email, password).await
        }
        async fn respond_new_password(
            &self,
            challenge: &NewPasswordChallenge,
            new_password: &Secret,
        ) -> DirectoryResult<AuthOutcome> {
            self.inner
                .respond_new_password(challenge, new_password)
                .await
        }
        async fn set_password(
            &self,
            username: &str,
            password: &Secret,
            permanent: bool,
        ) -> DirectoryResult<()> {
            self.inner.set_password(username, password, permanent).await
        }
        async fn health(&self) -> DirectoryResult<()> {
            self.inner.health().await
        }
    }
}

async fn directory_enabled(svc: &Services, sub: hubdeck::domain::UserSub) -> bool {
    svc.directory.find_by_sub(sub).await.unwrap().enabled
}

/// Disabling a user used to hold the global-admin lock, the user's mandate rows and an open
/// transaction across the directory call. Now: while the directory call hangs, another
/// operator's change that needs those locks goes through; a change to the user in between
/// makes the disable refuse (and the directory is put back); without one it lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disable_holds_no_lock_across_the_directory_call_and_commits_by_compare_and_set() {
    use crate::tui_e2e::{seed_identity, seed_mandate};
    use std::sync::Arc;
    let db = fresh_db().await;
    let base = crate::tui_e2e::services(&db).await;
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let (open, open_rx) = tokio::sync::mpsc::unbounded_channel();
    let gated = Arc::new(gated::Gated {
        inner: base.directory.clone(),
        started: started_tx,
        open: tokio::sync::Mutex::new(open_rx),
        armed: std::sync::atomic::AtomicBool::new(true),
    });
    let svc = Services::new(db.pool.clone(), gated.clone(), base.settings.clone());
    let x = seed_identity(&svc, "x@hub.example", None, Some(RoleRef::Admin)).await;
    let y = seed_identity(&svc, "y@hub.example", None, Some(RoleRef::Admin)).await;
    let z = seed_identity(&svc, "z@hub.example", None, Some(RoleRef::Admin)).await;
    let shared = MandateId(seed_mandate(&db, "Shared", x).await);
    crate::mandates::raw_member(
        &db.pool,
        shared,
        y,
        &[hubdeck::domain::roles::mandate_roles::ADMIN],
    )
    .await;
    let b = named_sysadmin(&db.pool, "bob@hub.example").await;

    let seen = Version(svc.user_detail(&b, x).await.unwrap().version.0);
    let disabling = {
        let svc = svc.clone();
        let a = Actor::cli();
        tokio::spawn(async move { svc.set_enabled_expecting(&a, x, false, Some(seen)).await })
    };
    started.recv().await.expect("the directory call started");
    // The directory call hangs: a change needing the global-admin lock still goes through
    // (a deadlock detector, not a timing budget).
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        svc.set_roles(&b, z, &[RoleRef::Viewer]),
    )
    .await
    .expect("blocked by a lock held across the directory call")
    .unwrap();
    // ... and one needing the row of a mandate the user belongs to ...
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        svc.edit_mandate(&b, shared, &label("edited meanwhile"), None),
    )
    .await
    .expect("blocked by a lock held across the directory call")
    .unwrap();
    // ... and so does a change to the user being disabled.
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        svc.edit_profile(&b, x, "Changed Meanwhile", "Org"),
    )
    .await
    .expect("blocked by a lock held across the directory call")
    .unwrap();
    open.send(()).unwrap();
    let out = disabling.await.unwrap();
    assert!(
        matches!(&out, Err(ServiceError::Conflict(m)) if m.contains("bob@hub.example")),
        "{out:?}"
    );
    assert!(
        directory_enabled(&svc, x).await,
        "the directory is put back"
    );
    let cached: bool = sqlx::query_scalar("SELECT enabled FROM directory_user WHERE sub = $1")
        .bind(x)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(cached);
    // Nothing in between: the disable lands.
    svc.set_enabled(&Actor::cli(), y, false).await.unwrap();
    assert!(!directory_enabled(&svc, y).await);
}

/// The reported roles case: A's form showed U holding nothing; B granted researcher; A ticked
/// viewer ("Add: viewer. Remove: nothing."). U holds researcher and viewer.
#[tokio::test]
async fn roles_change_keeps_a_grant_made_meanwhile_to_another_role() {
    use crate::tui_e2e::{seed_identity, services as tui_services};
    use hubdeck::service::user_roles::RolesEdit;
    let db = fresh_db().await;
    let svc = tui_services(&db).await;
    let a = named_sysadmin(&db.pool, "alice@hub.example").await;
    let u = seed_identity(&svc, "u@hub.example", None, None).await;
    let (code, out, err) = hubdeck(
        &db,
        &[
            "users",
            "set-roles",
            "--user",
            "u@hub.example",
            "--role",
            "researcher",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let edit = RolesEdit::Change {
        add: vec![RoleRef::Viewer],
        remove: vec![],
    };
    let saved = svc.change_roles(&a, u, &edit, None).await.unwrap();
    assert_eq!(saved.roles, [RoleRef::Researcher, RoleRef::Viewer]);
    // The CLI: --add-role / --remove-role, JSON with the version, --expect-version guarded.
    let (code, out, err) = hubdeck(
        &db,
        &[
            "users",
            "set-roles",
            "--user",
            "u@hub.example",
            "--remove-role",
            "viewer",
            "--output",
            "json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["roles"], serde_json::json!(["researcher"]));
    let v = j["version"].as_i64().expect("version in the JSON");
    svc.edit_profile(&a, u, "Someone", "Else").await.unwrap();
    let (code, out, err) = hubdeck(
        &db,
        &[
            "users",
            "set-roles",
            "--user",
            "u@hub.example",
            "--add-role",
            "viewer",
            "--expect-version",
            &v.to_string(),
        ],
    );
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("alice@hub.example"), "{err}");
    assert_eq!(
        svc.user_roles(&a, u).await.unwrap(),
        [RoleRef::Researcher],
        "a refused change writes nothing"
    );
}

/// A member's roles: A's form showed the member as viewer; B granted member meanwhile; A adds
/// admin. The member holds viewer, member and admin. A stale version is refused.
#[tokio::test]
async fn member_roles_change_keeps_a_role_granted_meanwhile() {
    use hubdeck::domain::MandateRoleId;
    use hubdeck::domain::roles::mandate_roles::{ADMIN, MEMBER, VIEWER};
    let db = fresh_db().await;
    let svc = services(&db);
    let x = create(&svc, "tenant-members").await;
    let u = cached_user(&db.pool, "member@hub.example", "Member").await;
    let ms = crate::mandates::raw_member(&db.pool, x, u, &[VIEWER]).await;
    let version_of = || async {
        Version(
            sqlx::query_scalar::<_, i64>("SELECT version FROM user_mandate WHERE id = $1")
                .bind(ms)
                .fetch_one(&db.pool)
                .await
                .unwrap(),
        )
    };
    let seen = version_of().await;
    let sub = u.to_string();
    let (code, out, err) = hubdeck(
        &db,
        &[
            "mandates",
            "members",
            "set-roles",
            "tenant-members",
            &sub,
            "--add-role",
            "member",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let a = named_sysadmin(&db.pool, "alice@hub.example").await;
    let admin = [MandateRoleId::from(ADMIN)];
    let err = svc
        .change_member_roles(&a, x, u, &admin, &[], Some(seen))
        .await
        .expect_err("stale");
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    svc.change_member_roles(&a, x, u, &admin, &[], None)
        .await
        .unwrap();
    let mut held: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT mandate_role_id FROM user_mandate_role WHERE user_mandate_id = $1",
    )
    .bind(ms)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    held.sort();
    let mut want = vec![ADMIN, MEMBER, VIEWER];
    want.sort();
    assert_eq!(held, want);
    // The version moved with each change.
    assert!(version_of().await.0 > seen.0);
}
