//! The identity directory: one contract suite run against BOTH implementations (LocalDirectory
//! on PostgreSQL, CognitoDirectory on moto through the real SDK), error classification and
//! retries through the fault proxy, the filter-injection guard, and the directory cache sync.

use std::time::Duration;

use aws_sdk_cognitoidentityprovider as cip;
use hubdeck::config::DirectorySettings;
use hubdeck::directory::cognito::{CognitoDirectory, sdk_client};
use hubdeck::directory::local::LocalDirectory;
use hubdeck::directory::{
    AuthOutcome, Directory, DirectoryError, IdentityStatus, Invite, NewIdentity, UserKey,
};
use hubdeck::domain::{Email, Secret, UserSub};
use hubdeck::service::directory_sync::{SyncProgress, sync_all};

use crate::support::fault_proxy::{Fault, FaultProxy, refused_endpoint};
use crate::support::{moto, pg};

fn new(email: &str, pw: Option<&str>, invite: Invite) -> NewIdentity {
    NewIdentity {
        email: Email::parse(email).unwrap(),
        email_verified: true,
        invite,
        temporary_password: pw.map(Secret::new),
    }
}

/// An SDK client talking to moto directly (test setup, not through the adapter).
async fn admin_client() -> cip::Client {
    sdk_client(&moto::directory_settings(&moto::moto().endpoint, "", "")).await
}

/// A fresh user pool; returns the admin client and settings aimed at `endpoint` (moto itself
/// when None) with short timeouts.
async fn cognito_pool(endpoint: Option<&str>) -> (cip::Client, DirectorySettings) {
    let admin = admin_client().await;
    let (pool, client) = moto::fresh_pool(&admin).await;
    let mut s =
        moto::directory_settings(endpoint.unwrap_or(&moto::moto().endpoint), &pool, &client);
    // Short, but not so short that a loaded 2-core machine turns a normal answer into a
    // timeout (the slow/late faults hold for longer than this).
    s.connect_timeout_ms = 1_000;
    s.attempt_timeout_ms = 1_000;
    s.operation_timeout_ms = 5_000;
    s.initial_backoff_ms = 50;
    (admin, s)
}

/// Every trait method, against whichever implementation.
async fn contract(d: &dyn Directory) {
    d.health().await.unwrap();

    let ann = d
        .create_user(&new("ann@example.org", Some("Temp0rary!Pw"), Invite::Email))
        .await
        .unwrap();
    assert_eq!(ann.sub.0.get_version_num(), 4);
    assert_eq!(ann.username, "ann@example.org");
    assert_eq!(ann.email, "ann@example.org");
    assert_eq!(ann.status, IdentityStatus::ForceChangePassword);
    assert!(ann.enabled);

    // Duplicate.
    let dup = d
        .create_user(&new("ann@example.org", None, Invite::Suppress))
        .await
        .unwrap_err();
    assert!(matches!(dup, DirectoryError::AlreadyExists(_)), "{dup}");
    assert!(!dup.is_transient());

    // Reads: username, email, sub; not found.
    let email = Email::parse("ann@example.org").unwrap();
    assert_eq!(
        d.get_user(&UserKey::Email(email.clone()))
            .await
            .unwrap()
            .sub,
        ann.sub
    );
    assert_eq!(
        d.get_user(&UserKey::Username(ann.username.clone()))
            .await
            .unwrap()
            .sub,
        ann.sub
    );
    assert_eq!(d.find_by_sub(ann.sub).await.unwrap().email, ann.email);
    let missing = d
        .get_user(&UserKey::Username("nobody@example.org".into()))
        .await
        .unwrap_err();
    assert!(matches!(missing, DirectoryError::NotFound(_)), "{missing}");
    let missing = d.find_by_sub(UserSub::new_v4()).await.unwrap_err();
    assert!(matches!(missing, DirectoryError::NotFound(_)), "{missing}");

    // Wrong password; temporary password → NEW_PASSWORD_REQUIRED → weak answer refused →
    // good answer → CONFIRMED → plain sign-in.
    let wrong = d
        .authenticate(&email, &Secret::new("Wrong-pass1!"))
        .await
        .unwrap_err();
    assert!(matches!(wrong, DirectoryError::NotAuthorized(_)), "{wrong}");
    let unknown = d
        .authenticate(
            &Email::parse("ghost@example.org").unwrap(),
            &Secret::new("Any-pass1!"),
        )
        .await
        .unwrap_err();
    assert!(!unknown.is_transient(), "{unknown}");
    let challenge = match d
        .authenticate(&email, &Secret::new("Temp0rary!Pw"))
        .await
        .unwrap()
    {
        AuthOutcome::NewPasswordRequired(c) => c,
        other => panic!("expected a challenge, got {other:?}"),
    };
    assert_eq!(challenge.username, ann.username);
    assert!(!format!("{challenge:?}").contains(challenge.session.expose()));
    let weak = d
        .respond_new_password(&challenge, &Secret::new("short"))
        .await
        .unwrap_err();
    assert!(matches!(weak, DirectoryError::InvalidInput(_)), "{weak}");
    match d
        .respond_new_password(&challenge, &Secret::new("N3w-Password!"))
        .await
        .unwrap()
    {
        AuthOutcome::Authenticated { sub } => assert_eq!(sub, ann.sub),
        other => panic!("expected signed in, got {other:?}"),
    }
    assert_eq!(
        d.find_by_sub(ann.sub).await.unwrap().status,
        IdentityStatus::Confirmed
    );
    match d
        .authenticate(&email, &Secret::new("N3w-Password!"))
        .await
        .unwrap()
    {
        AuthOutcome::Authenticated { sub } => assert_eq!(sub, ann.sub),
        other => panic!("{other:?}"),
    }

    // Disabled users cannot sign in, even with the right password.
    d.set_enabled(&ann.username, false).await.unwrap();
    assert!(!d.find_by_sub(ann.sub).await.unwrap().enabled);
    let disabled = d
        .authenticate(&email, &Secret::new("N3w-Password!"))
        .await
        .unwrap_err();
    assert!(
        matches!(disabled, DirectoryError::NotAuthorized(_)),
        "{disabled}"
    );
    assert!(
        disabled.to_string().to_lowercase().contains("disabled"),
        "{disabled}"
    );
    d.set_enabled(&ann.username, true).await.unwrap();
    assert!(d.find_by_sub(ann.sub).await.unwrap().enabled);
    let ghost = d.set_enabled("ghost@example.org", false).await.unwrap_err();
    assert!(matches!(ghost, DirectoryError::NotFound(_)), "{ghost}");

    // set_password: temporary → FORCE_CHANGE_PASSWORD; permanent → CONFIRMED and usable.
    d.set_password(&ann.username, &Secret::new("Perm4nent-Pw!"), false)
        .await
        .unwrap();
    assert_eq!(
        d.find_by_sub(ann.sub).await.unwrap().status,
        IdentityStatus::ForceChangePassword
    );
    d.set_password(&ann.username, &Secret::new("Perm4nent-Pw!"), true)
        .await
        .unwrap();
    assert_eq!(
        d.find_by_sub(ann.sub).await.unwrap().status,
        IdentityStatus::Confirmed
    );
    assert!(matches!(
        d.authenticate(&email, &Secret::new("Perm4nent-Pw!"))
            .await
            .unwrap(),
        AuthOutcome::Authenticated { .. }
    ));
    let weak = d
        .set_password(&ann.username, &Secret::new("weak"), true)
        .await
        .unwrap_err();
    assert!(matches!(weak, DirectoryError::InvalidInput(_)), "{weak}");
    let ghost = d
        .set_password("ghost@example.org", &Secret::new("Perm4nent-Pw!"), true)
        .await
        .unwrap_err();
    assert!(matches!(ghost, DirectoryError::NotFound(_)), "{ghost}");

    // Resend: works for an invited user; unknown user is NotFound.
    let bob = d
        .create_user(&new("bob@example.org", None, Invite::Suppress))
        .await
        .unwrap();
    assert_eq!(bob.status, IdentityStatus::ForceChangePassword);
    d.resend_invite(&bob.username).await.unwrap();
    let ghost = d.resend_invite("ghost@example.org").await.unwrap_err();
    assert!(matches!(ghost, DirectoryError::NotFound(_)), "{ghost}");

    // list_page: both identities, pages of at most 60. (Compared by username: moto's RESEND
    // re-creates the user with a new sub, which real Cognito does not.)
    let page = d.list_page(None).await.unwrap();
    assert!(page.identities.len() <= 60);
    let mut names: Vec<&str> = page
        .identities
        .iter()
        .map(|i| i.username.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["ann@example.org", "bob@example.org"]);
    assert!(page.next.is_none());
    let bob = d
        .get_user(&UserKey::Username(bob.username.clone()))
        .await
        .unwrap();

    // Delete, then not found; deleting again is NotFound.
    d.delete_user(&bob.username).await.unwrap();
    assert!(matches!(
        d.find_by_sub(bob.sub).await.unwrap_err(),
        DirectoryError::NotFound(_)
    ));
    assert!(matches!(
        d.delete_user(&bob.username).await.unwrap_err(),
        DirectoryError::NotFound(_)
    ));
}

#[tokio::test]
async fn contract_local_directory() {
    let db = pg::fresh_db().await;
    let d = LocalDirectory::new(db.pool.clone());
    assert_eq!(d.kind(), "local");
    contract(&d).await;
}

#[tokio::test]
async fn contract_cognito_directory_on_moto() {
    let (_admin, s) = cognito_pool(None).await;
    let d = CognitoDirectory::new(&s).await.unwrap();
    assert_eq!(d.kind(), "cognito");
    contract(&d).await;
}

#[tokio::test]
async fn connect_builds_the_cognito_adapter_for_kind_cognito() {
    let db = pg::fresh_db().await;
    let (_admin, s) = cognito_pool(None).await;
    let mut settings = db.settings();
    settings.directory = s;
    let d = hubdeck::directory::connect(&settings, &db.pool)
        .await
        .unwrap();
    assert_eq!(d.kind(), "cognito");
    d.health().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Classification through the fault proxy, against the real SDK
// ---------------------------------------------------------------------------------------------

/// Directory behind a fresh proxy; one existing user `known@example.org`.
async fn behind_proxy(max_attempts: u32) -> (CognitoDirectory, FaultProxy) {
    let proxy = FaultProxy::start(&moto::moto().endpoint).await;
    let (admin, mut s) = cognito_pool(Some(&proxy.endpoint)).await;
    s.max_attempts = max_attempts;
    admin
        .admin_create_user()
        .user_pool_id(&s.user_pool_id)
        .username("known@example.org")
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let d = CognitoDirectory::new(&s).await.unwrap();
    proxy.reset_counts();
    (d, proxy)
}

fn known() -> UserKey {
    UserKey::Username("known@example.org".into())
}

/// The class an injected AdminGetUser answer surfaces as (retries disabled: one attempt).
async fn class_of(fault: Fault) -> DirectoryError {
    let (d, proxy) = behind_proxy(1).await;
    proxy.inject("AdminGetUser", fault, 1);
    let e = d.get_user(&known()).await.unwrap_err();
    assert_eq!(proxy.attempts("AdminGetUser"), 1);
    // The fault is spent: the next call goes through.
    d.get_user(&known()).await.unwrap();
    e
}

#[tokio::test]
async fn classify_503_with_json_body_as_unavailable() {
    let e = class_of(Fault::aws_error("ServiceUnavailableException", 503)).await;
    assert!(matches!(e, DirectoryError::Unavailable(_)), "{e}");
    assert!(e.is_transient());
}

#[tokio::test]
async fn classify_503_empty_body_as_unavailable() {
    let e = class_of(Fault::status(503, "")).await;
    assert!(matches!(e, DirectoryError::Unavailable(_)), "{e}");
}

#[tokio::test]
async fn classify_500_as_unavailable() {
    let e = class_of(Fault::aws_error("InternalErrorException", 500)).await;
    assert!(matches!(e, DirectoryError::Unavailable(_)), "{e}");
}

#[tokio::test]
async fn classify_502_as_unavailable() {
    let e = class_of(Fault::html(502)).await;
    assert!(matches!(e, DirectoryError::Unavailable(_)), "{e}");
}

#[tokio::test]
async fn classify_html_404_as_rejected() {
    let e = class_of(Fault::html(404)).await;
    assert!(matches!(e, DirectoryError::Rejected(_)), "{e}");
    assert!(!e.is_transient());
}

#[tokio::test]
async fn classify_400_too_many_requests_as_throttled() {
    let e = class_of(Fault::aws_error("TooManyRequestsException", 400)).await;
    assert!(matches!(e, DirectoryError::Throttled(_)), "{e}");
    assert!(e.is_transient());
}

#[tokio::test]
async fn classify_slow_response_as_unavailable() {
    // The attempt timeout is 300 ms; the proxy holds the answer for 2 s.
    let e = class_of(Fault::slow(Duration::from_secs(2))).await;
    assert!(matches!(e, DirectoryError::Unavailable(_)), "{e}");
}

#[tokio::test]
async fn classify_connection_refused_as_unavailable() {
    let (_admin, mut s) = cognito_pool(None).await;
    s.endpoint_url = refused_endpoint();
    s.max_attempts = 1;
    let d = CognitoDirectory::new(&s).await.unwrap();
    let e = d.get_user(&known()).await.unwrap_err();
    assert!(matches!(e, DirectoryError::Unavailable(_)), "{e}");
    let e = d.health().await.unwrap_err();
    assert!(e.is_transient(), "{e}");
}

#[tokio::test]
async fn definitive_errors_are_classified_and_not_retried() {
    // Retries enabled: a definitive error must still be seen exactly once.
    let (d, proxy) = behind_proxy(3).await;

    let e = d
        .get_user(&UserKey::Username("nobody@example.org".into()))
        .await
        .unwrap_err();
    assert!(matches!(e, DirectoryError::NotFound(_)), "{e}");
    assert_eq!(proxy.attempts("AdminGetUser"), 1);

    let e = d
        .create_user(&new("known@example.org", None, Invite::Suppress))
        .await
        .unwrap_err();
    assert!(matches!(e, DirectoryError::AlreadyExists(_)), "{e}");
    assert_eq!(proxy.attempts("AdminCreateUser"), 1);

    proxy.inject(
        "ListUsers",
        Fault::aws_error("InvalidParameterException", 400),
        1,
    );
    let e = d.list_page(None).await.unwrap_err();
    assert!(matches!(e, DirectoryError::InvalidInput(_)), "{e}");
    assert!(!e.is_transient());
    assert_eq!(proxy.attempts("ListUsers"), 1);

    // A real InvalidPasswordException from moto.
    let e = d
        .set_password("known@example.org", &Secret::new("weak"), true)
        .await
        .unwrap_err();
    assert!(matches!(e, DirectoryError::InvalidInput(_)), "{e}");
    assert_eq!(proxy.attempts("AdminSetUserPassword"), 1);
}

#[tokio::test]
async fn two_503s_then_success_is_retried_to_success_in_three_attempts() {
    let (d, proxy) = behind_proxy(3).await;
    proxy.inject(
        "AdminGetUser",
        Fault::aws_error("ServiceUnavailableException", 503),
        2,
    );
    let identity = d.get_user(&known()).await.unwrap();
    assert_eq!(identity.username, "known@example.org");
    assert_eq!(proxy.attempts("AdminGetUser"), 3);
}

#[tokio::test]
async fn with_retries_disabled_the_first_503_surfaces_as_unavailable() {
    let (d, proxy) = behind_proxy(1).await;
    proxy.inject("AdminGetUser", Fault::status(503, ""), 2);
    let e = d.get_user(&known()).await.unwrap_err();
    assert!(matches!(e, DirectoryError::Unavailable(_)), "{e}");
    assert_eq!(proxy.attempts("AdminGetUser"), 1);
}

#[tokio::test]
async fn filter_injection_is_refused_before_any_request() {
    let (d, proxy) = behind_proxy(3).await;
    let bad = "a\"b@x.org";
    let e = d
        .get_user(&UserKey::Username(bad.into()))
        .await
        .unwrap_err();
    assert!(matches!(e, DirectoryError::InvalidInput(_)), "{e}");
    for r in [
        d.set_enabled(bad, false).await,
        d.delete_user(bad).await,
        d.resend_invite(bad).await,
        d.set_password(bad, &Secret::new("Perm4nent-Pw!"), true)
            .await,
    ] {
        assert!(matches!(r, Err(DirectoryError::InvalidInput(_))), "{r:?}");
    }
    // The domain type refuses it too, so the email paths never see it.
    assert!(Email::parse(bad).is_err());
    assert_eq!(
        proxy.total_attempts(),
        0,
        "no request may reach the directory"
    );
}

// ---------------------------------------------------------------------------------------------
// Directory cache sync
// ---------------------------------------------------------------------------------------------

#[derive(sqlx::FromRow, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct CachedRow {
    sub: uuid::Uuid,
    email: String,
    enabled: bool,
    status: String,
}

async fn cached_live(db: &hubdeck::store::Db) -> Vec<CachedRow> {
    sqlx::query_as(
        "SELECT sub, email, enabled, status FROM directory_user WHERE gone_at IS NULL ORDER BY sub",
    )
    .fetch_all(db)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_caches_1000_moto_users_and_marks_deleted_ones_gone() {
    use futures::StreamExt;

    let db = pg::fresh_db().await;
    let proxy = FaultProxy::start(&moto::moto().endpoint).await;
    let (admin, s) = cognito_pool(Some(&proxy.endpoint)).await;
    let pool_id = s.user_pool_id.clone();

    // 1,000 users, created concurrently and directly with the SDK (straight to moto).
    let created: Vec<(String, bool)> = futures::stream::iter(0..1000)
        .map(|i| {
            let admin = admin.clone();
            let pool_id = pool_id.clone();
            async move {
                let email = format!("user{i:04}@example.org");
                admin
                    .admin_create_user()
                    .user_pool_id(&pool_id)
                    .username(&email)
                    .user_attributes(
                        cip::types::AttributeType::builder()
                            .name("email")
                            .value(&email)
                            .build()
                            .unwrap(),
                    )
                    .message_action(cip::types::MessageActionType::Suppress)
                    .send()
                    .await
                    .unwrap();
                // Every 7th user disabled, every 5th confirmed: the cache must carry both.
                if i % 7 == 0 {
                    admin
                        .admin_disable_user()
                        .user_pool_id(&pool_id)
                        .username(&email)
                        .send()
                        .await
                        .unwrap();
                }
                if i % 5 == 0 {
                    admin
                        .admin_set_user_password()
                        .user_pool_id(&pool_id)
                        .username(&email)
                        .password("Perm4nent-Pw!")
                        .permanent(true)
                        .send()
                        .await
                        .unwrap();
                }
                (email, i % 7 != 0)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(created.len(), 1000);

    // The truth, read straight from moto (sub, email, enabled, status).
    let truth = |admin: cip::Client, pool_id: String| async move {
        let mut rows = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = admin
                .list_users()
                .user_pool_id(&pool_id)
                .limit(60)
                .set_pagination_token(token.clone())
                .send()
                .await
                .unwrap();
            for u in out.users() {
                let a = |n: &str| {
                    u.attributes()
                        .iter()
                        .find(|a| a.name() == n)
                        .and_then(|a| a.value())
                        .unwrap()
                        .to_string()
                };
                rows.push(CachedRow {
                    sub: a("sub").parse().unwrap(),
                    email: a("email"),
                    enabled: u.enabled(),
                    status: u.user_status().unwrap().as_str().to_string(),
                });
            }
            token = out.pagination_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        rows.sort();
        rows
    };
    let before = truth(admin.clone(), pool_id.clone()).await;
    assert_eq!(before.len(), 1000);
    assert_eq!(before.iter().filter(|r| !r.enabled).count(), 143);
    assert_eq!(
        before.iter().filter(|r| r.status == "CONFIRMED").count(),
        200
    );

    let d = CognitoDirectory::new(&s).await.unwrap();
    proxy.reset_counts();
    let mut progress: Vec<SyncProgress> = Vec::new();
    let report = sync_all(&d, &db.pool, &mut |p| progress.push(p))
        .await
        .unwrap();
    assert_eq!(report.seen, 1000);
    assert_eq!(report.upserted, 1000);
    assert_eq!(report.marked_gone, 0);
    assert_eq!(report.pages, 17, "1000 users at 60 per page");
    // One report before the first page (with the pool's estimate), then one per page.
    assert_eq!(progress.len(), 1 + 17);
    assert_eq!(progress[0].seen, 0);
    assert!(
        progress.iter().all(|p| p.estimated == Some(1000)),
        "{progress:?}"
    );
    assert_eq!(progress.last().unwrap().seen, 1000);
    assert!(progress.last().unwrap().done);
    assert_eq!(progress.iter().filter(|p| p.done).count(), 1);
    assert_eq!(cached_live(&db.pool).await, before);

    // Delete 10 in moto; sync again → exactly those are marked gone.
    let mut deleted = Vec::new();
    for r in before.iter().step_by(100) {
        admin
            .admin_delete_user()
            .user_pool_id(&pool_id)
            .username(&r.email)
            .send()
            .await
            .unwrap();
        deleted.push(r.sub);
    }
    assert_eq!(deleted.len(), 10);
    let report = sync_all(&d, &db.pool, &mut |_| {}).await.unwrap();
    assert_eq!(report.seen, 990);
    assert_eq!(report.marked_gone, 10);
    let after = truth(admin.clone(), pool_id.clone()).await;
    assert_eq!(cached_live(&db.pool).await, after);
    let mut gone: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT sub FROM directory_user WHERE gone_at IS NOT NULL")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    gone.sort();
    let mut want: Vec<uuid::Uuid> = deleted.clone();
    want.sort();
    assert_eq!(gone, want);

    // Every ListUsers request the adapter sent asked for at most 60 users.
    let bodies = proxy.bodies("ListUsers");
    assert_eq!(bodies.len(), 17 + 17);
    for b in &bodies {
        let v: serde_json::Value = serde_json::from_str(b).unwrap();
        let limit = v["Limit"].as_i64().expect("Limit always sent");
        assert!((1..=60).contains(&limit), "{b}");
    }
}

#[tokio::test]
async fn sync_against_the_local_directory() {
    let db = pg::fresh_db().await;
    let d = LocalDirectory::new(db.pool.clone());
    sqlx::query(
        "INSERT INTO local_identity (sub, username, email, status, enabled) \
         SELECT gen_random_uuid(), 'u' || g || '@example.org', 'u' || g || '@example.org', \
                CASE WHEN g % 2 = 0 THEN 'CONFIRMED' ELSE 'FORCE_CHANGE_PASSWORD' END, g % 3 <> 0 \
         FROM generate_series(1, 130) g",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let report = sync_all(&d, &db.pool, &mut |_| {}).await.unwrap();
    assert_eq!(
        (
            report.seen,
            report.upserted,
            report.pages,
            report.marked_gone
        ),
        (130, 130, 3, 0)
    );
    let want: Vec<CachedRow> =
        sqlx::query_as("SELECT sub, email, enabled, status FROM local_identity ORDER BY sub")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(cached_live(&db.pool).await, want);

    sqlx::query(
        "DELETE FROM local_identity WHERE username IN ('u1@example.org', 'u2@example.org')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let report = sync_all(&d, &db.pool, &mut |_| {}).await.unwrap();
    assert_eq!((report.seen, report.marked_gone), (128, 2));
}

/// The console runs a sync as an abortable task: dropping it after its first page (as the
/// cancel key does) keeps the pages written so far, each whole, and marks nothing as gone —
/// a cancelled run never hides live users. The next full run marks the deleted ones.
#[tokio::test]
async fn a_cancelled_sync_marks_nothing_gone() {
    let db = pg::fresh_db().await;
    let d = LocalDirectory::new(db.pool.clone());
    sqlx::query(
        "INSERT INTO local_identity (sub, username, email, status, enabled) \
         SELECT gen_random_uuid(), 'u' || g || '@example.org', 'u' || g || '@example.org', \
                'CONFIRMED', true FROM generate_series(1, 130) g",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let first = sync_all(&d, &db.pool, &mut |_| {}).await.unwrap();
    assert_eq!((first.seen, first.pages), (130, 3));
    sqlx::query(
        "DELETE FROM local_identity WHERE username IN ('u1@example.org', 'u2@example.org')",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    let (cancel, cancelled) = tokio::sync::oneshot::channel::<()>();
    let mut cancel = Some(cancel);
    let mut pages_seen = Vec::new();
    let mut on_progress = |p: SyncProgress| {
        pages_seen.push(p.pages);
        if p.pages == 1
            && let Some(c) = cancel.take()
        {
            let _ = c.send(());
        }
    };
    tokio::select! {
        biased;
        _ = cancelled => {}
        r = sync_all(&d, &db.pool, &mut on_progress) => panic!("the sync was not cancelled: {r:?}"),
    }
    assert!(
        !pages_seen.is_empty() && !pages_seen.contains(&3),
        "{pages_seen:?}"
    );
    let gone: i64 =
        sqlx::query_scalar("SELECT count(*) FROM directory_user WHERE gone_at IS NOT NULL")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(gone, 0, "a cancelled sync marked identities gone");
    assert_eq!(cached_live(&db.pool).await.len(), 130);

    let full = sync_all(&d, &db.pool, &mut |_| {}).await.unwrap();
    assert_eq!((full.seen, full.marked_gone), (128, 2));
}

fn hubdeck_cli(db: &pg::TestDb, s: &DirectorySettings, args: &[&str]) -> (i32, String, String) {
    let out = crate::support::cli::infra()
        .args(args)
        .args(["--database-url", &db.url])
        .env("HUBDECK_DIRECTORY__KIND", "cognito")
        .env("HUBDECK_DIRECTORY__REGION", &s.region)
        .env("HUBDECK_DIRECTORY__USER_POOL_ID", &s.user_pool_id)
        .env("HUBDECK_DIRECTORY__CLIENT_ID", &s.client_id)
        .env("HUBDECK_DIRECTORY__ENDPOINT_URL", &s.endpoint_url)
        .env("HUBDECK_DIRECTORY__MAX_ATTEMPTS", "1")
        .env("HUBDECK_DATA_DIR", std::env::temp_dir())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn cli_directory_sync_prints_counts_as_json() {
    let db = pg::fresh_db().await;
    let (admin, mut s) = cognito_pool(None).await;
    for i in 0..3 {
        admin
            .admin_create_user()
            .user_pool_id(&s.user_pool_id)
            .username(format!("cli{i}@example.org"))
            .message_action(cip::types::MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
    }
    let (code, stdout, stderr) = hubdeck_cli(&db, &s, &["directory", "sync", "--output", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["seen"], 3, "{stdout}");
    assert_eq!(v["upserted"], 3);
    assert_eq!(v["marked_gone"], 0);
    assert_eq!(v["pages"], 1);
    let cached: i64 =
        sqlx::query_scalar("SELECT count(*) FROM directory_user WHERE gone_at IS NULL")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(cached, 3);

    // The directory unreachable: exit 1, a message on stderr, nothing on stdout, cache intact.
    s.endpoint_url = refused_endpoint();
    let (code, stdout, stderr) = hubdeck_cli(&db, &s, &["directory", "sync", "--output", "json"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("unavailable"), "{stderr}");
    let cached: i64 =
        sqlx::query_scalar("SELECT count(*) FROM directory_user WHERE gone_at IS NULL")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(cached, 3);
}

/// The table in directory/mod.rs, on the wire with the DEFAULT max_attempts: the non-idempotent
/// AdminCreateUser (create and resend invite) gets exactly one attempt — a 503 or a late answer
/// is not retried by the SDK — while idempotent calls (delete, disable/enable, set password,
/// reads) are retried.
#[tokio::test]
async fn non_idempotent_calls_get_exactly_one_attempt_idempotent_ones_are_retried() {
    let (d, proxy) = behind_proxy(3).await;
    proxy.inject(
        "AdminCreateUser",
        Fault::aws_error("InternalErrorException", 503),
        1,
    );
    let e = d
        .create_user(&new("one@example.org", None, Invite::Suppress))
        .await
        .unwrap_err();
    assert!(matches!(e, DirectoryError::Unavailable(_)), "{e}");
    assert_eq!(
        proxy.attempts("AdminCreateUser"),
        1,
        "no SDK retry of a create"
    );

    // A late answer: the create took effect, the answer never arrived — still one attempt.
    proxy.reset_counts();
    proxy.inject(
        "AdminCreateUser",
        Fault::late(Duration::from_millis(1_500)),
        1,
    );
    let e = d
        .create_user(&new("late@example.org", None, Invite::Suppress))
        .await
        .unwrap_err();
    assert!(matches!(e, DirectoryError::Unavailable(_)), "{e}");
    assert_eq!(proxy.attempts("AdminCreateUser"), 1);
    assert!(
        d.get_user(&UserKey::Username("late@example.org".into()))
            .await
            .is_ok()
    );

    // Resend invite: one attempt, and the message says the outcome is unknown.
    proxy.reset_counts();
    proxy.inject("AdminCreateUser", Fault::status(503, ""), 1);
    let e = d.resend_invite("known@example.org").await.unwrap_err();
    assert!(
        e.to_string().contains("may or may not have been sent"),
        "{e}"
    );
    assert_eq!(proxy.attempts("AdminCreateUser"), 1);

    // Idempotent mutations are retried by the SDK.
    for (op, call) in [
        ("AdminDisableUser", 0),
        ("AdminEnableUser", 1),
        ("AdminSetUserPassword", 2),
    ] {
        proxy.reset_counts();
        proxy.inject(op, Fault::status(503, ""), 1);
        match call {
            0 => d.set_enabled("known@example.org", false).await.unwrap(),
            1 => d.set_enabled("known@example.org", true).await.unwrap(),
            _ => d
                .set_password("known@example.org", &Secret::new("Perm4nent!Pw"), true)
                .await
                .unwrap(),
        }
        assert_eq!(proxy.attempts(op), 2, "{op} retried once");
    }
    // Delete with a reset after the request was sent: the SDK retries, the retry answers
    // not-found (the first attempt took effect) — the caller settles it with a read.
    proxy.reset_counts();
    proxy.inject("AdminDeleteUser", Fault::reset_after_forward(), 1);
    let e = d.delete_user("late@example.org").await.unwrap_err();
    assert!(matches!(e, DirectoryError::NotFound(_)), "{e}");
    assert_eq!(proxy.attempts("AdminDeleteUser"), 2);
    assert!(matches!(
        d.get_user(&UserKey::Username("late@example.org".into()))
            .await,
        Err(DirectoryError::NotFound(_))
    ));
}

/// The proof-of-authorship marker: detected with DescribeUserPool once; sent only to a pool
/// whose schema has `custom:hubdeck_reg`; read back by AdminGetUser. LocalDirectory always.
#[tokio::test]
async fn registration_marker_is_detected_sent_and_read_back() {
    // Pool without the attribute (moto::fresh_pool): never sent.
    let (d, proxy) = behind_proxy(3).await;
    assert!(!d.supports_registration_marker().await.unwrap());
    assert!(!d.supports_registration_marker().await.unwrap());
    assert_eq!(proxy.attempts("DescribeUserPool"), 1, "checked once");
    let i = d
        .create_registered_user(&new("plain@example.org", None, Invite::Suppress), "reg-1")
        .await
        .unwrap();
    assert_eq!(i.registration_marker, None);
    assert!(!proxy.bodies("AdminCreateUser")[0].contains("hubdeck_reg"));

    // Pool with the attribute.
    let admin = admin_client().await;
    let (pool, client) = crate::registration_faults::marker_pool(&admin).await;
    let s = moto::directory_settings(&moto::moto().endpoint, &pool, &client);
    let d = CognitoDirectory::new(&s).await.unwrap();
    assert!(d.supports_registration_marker().await.unwrap());
    let id = uuid::Uuid::new_v4().to_string();
    let i = d
        .create_registered_user(&new("marked@example.org", None, Invite::Suppress), &id)
        .await
        .unwrap();
    assert_eq!(i.registration_marker.as_deref(), Some(id.as_str()));
    let read = d
        .get_user(&UserKey::Username("marked@example.org".into()))
        .await
        .unwrap();
    assert_eq!(read.registration_marker.as_deref(), Some(id.as_str()));
    // A plain create carries no marker.
    let plain = d
        .create_user(&new("unmarked@example.org", None, Invite::Suppress))
        .await
        .unwrap();
    assert_eq!(plain.registration_marker, None);

    // LocalDirectory.
    let t = pg::fresh_db().await;
    let l = LocalDirectory::new(t.pool.clone());
    assert!(l.supports_registration_marker().await.unwrap());
    l.create_registered_user(&new("local@example.org", None, Invite::Suppress), &id)
        .await
        .unwrap();
    let read = l
        .get_user(&UserKey::Username("local@example.org".into()))
        .await
        .unwrap();
    assert_eq!(read.registration_marker.as_deref(), Some(id.as_str()));
    let plain = l
        .create_user(&new("local2@example.org", None, Invite::Suppress))
        .await
        .unwrap();
    assert_eq!(plain.registration_marker, None);
}
