//! The registration fault matrix: CognitoDirectory against moto through the fault-injecting
//! proxy (tests/support/fault_proxy.rs). For each directory call the saga makes (DescribeUserPool,
//! AdminCreateUser, the read that settles an indeterminate create, the confirm read, the
//! rollback's read and delete) × each failure (503, throttled, timeout, refused connection, 404,
//! 400, a LATE ANSWER — forwarded so it takes effect, the answer held past the attempt timeout —
//! and a connection RESET after the request was sent), run with the default `max_attempts` AND
//! with 1, the end state is asserted in BOTH systems: the identity present/absent in moto (read
//! directly, around the proxy) and the grants/profile/audit/journal rows in PostgreSQL. Every
//! cell also checks the invariant: no orphan identity — every registration ends `complete`
//! with its sub, stuck with the sub recorded, or rolled back with the identity gone.

use std::sync::Arc;
use std::time::Duration;

use hubdeck::directory::Directory;
use hubdeck::domain::{RoleRef, UserSub};
use hubdeck::service::Services;
use hubdeck::store::registrations::RegistrationState;

use crate::registration::{Rows, cli, req, rows_of};
use crate::support::fault_proxy::{Fault, FaultProxy};
use crate::support::moto;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    /// DescribeUserPool (does the pool carry the marker attribute?).
    Describe,
    /// AdminCreateUser.
    Create,
    /// The AdminGetUser that settles an indeterminate create (the create gets a late answer).
    ResolveRead,
    /// AdminGetUser right after creation (the existence check).
    ConfirmRead,
    /// AdminGetUser of the rollback (the confirm read answers 400 once to force the rollback).
    RollbackRead,
    /// AdminDeleteUser of the rollback.
    RollbackDelete,
}

const ATS: [At; 6] = [
    At::Describe,
    At::Create,
    At::ResolveRead,
    At::ConfirmRead,
    At::RollbackRead,
    At::RollbackDelete,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    S503,
    Throttled,
    Timeout,
    Refused,
    NotFound404,
    Bad400,
    Late,
    Reset,
}

const KINDS: [Kind; 8] = [
    Kind::S503,
    Kind::Throttled,
    Kind::Timeout,
    Kind::Refused,
    Kind::NotFound404,
    Kind::Bad400,
    Kind::Late,
    Kind::Reset,
];

/// Attempt timeout for the matrix; Hang and Late outlast it.
const ATTEMPT_TIMEOUT_MS: u64 = 1000;
/// The product's default (config.rs).
const DEFAULT_MAX_ATTEMPTS: u32 = 3;

fn injection(k: Kind) -> Fault {
    let hold = Duration::from_millis(ATTEMPT_TIMEOUT_MS + 500);
    match k {
        Kind::S503 => Fault::aws_error("InternalErrorException", 503),
        Kind::Throttled => Fault::aws_error("TooManyRequestsException", 400),
        Kind::Timeout => Fault::hang(hold),
        // Not an injection: see the cell set-up (the listener closes → ECONNREFUSED).
        Kind::Refused => Fault::drop_connection(),
        Kind::NotFound404 => Fault::aws_error("UserNotFoundException", 404),
        Kind::Bad400 => Fault::aws_error("InvalidParameterException", 400),
        Kind::Late => Fault::late(hold),
        Kind::Reset => Fault::reset_after_forward(),
    }
}

#[derive(Debug, PartialEq, Eq)]
struct End {
    state: String,
    identity_in_moto: bool,
    rows: Rows,
}

/// The expected end of one cell (right after `register_user`, before any repair).
fn expected(at: At, k: Kind, attempts: u32) -> (&'static str, bool, i64) {
    use Kind::*;
    let retried = attempts > 1;
    // The SDK retries reads; only a refused connection outlasts every attempt.
    let read_survives = |k: Kind| retried && matches!(k, S503 | Throttled | Timeout | Late | Reset);
    // (state, identity in moto, users_audit rows)
    const DONE: (&str, bool, i64) = ("complete", true, 1);
    match at {
        // Without the marker check the create still works (its answer arrives: proof by sub).
        At::Describe if k == Refused => ("pending", false, 0),
        At::Describe => DONE,
        // One attempt on the wire; an indeterminate or throttled create is settled by a read and
        // tried once more only when nothing is there; a lost answer is adopted by proof.
        At::Create => match k {
            S503 | Throttled | Timeout | Late | Reset => DONE,
            Refused => ("pending", false, 0),
            NotFound404 | Bad400 => ("rolled_back", false, 0),
        },
        // The create's answer is lost; the settling read fails too.
        At::ResolveRead => match k {
            _ if read_survives(k) => DONE,
            // A 404 is believed (strongly consistent read) → the create is tried once more and
            // answers UsernameExists (the first took effect) → settled again by proof.
            NotFound404 => DONE,
            // Unknown: stays pending (the identity exists, marked; reconcile adopts it).
            S503 | Throttled | Timeout | Late | Reset | Refused | Bad400 => ("pending", true, 0),
        },
        At::ConfirmRead => match k {
            _ if read_survives(k) => DONE,
            Bad400 => ("rolled_back", false, 1),
            _ => ("roles_pending", true, 0),
        },
        At::RollbackRead => match k {
            _ if read_survives(k) => ("rolled_back", false, 1),
            // A not-found by username falls back to the sub; moto's ListUsers finds it.
            NotFound404 => ("rolled_back", false, 1),
            _ => ("needs_cleanup", true, 0),
        },
        At::RollbackDelete => match k {
            // The delete took effect; the retry or the re-read proves the identity gone.
            Late | Reset => ("rolled_back", false, 1),
            S503 | Throttled | Timeout if retried => ("rolled_back", false, 1),
            _ => ("needs_cleanup", true, 0),
        },
    }
}

pub(crate) struct Rig {
    pub(crate) svc: Services,
    pub(crate) proxy: FaultProxy,
    /// Direct client to moto (around the proxy) to observe the identity.
    pub(crate) moto: aws_sdk_cognitoidentityprovider::Client,
    pub(crate) pool_id: String,
    pub(crate) t: crate::support::pg::TestDb,
}

/// A pool whose schema has the registration marker `custom:hubdeck_reg` (as README asks).
pub async fn marker_pool(client: &aws_sdk_cognitoidentityprovider::Client) -> (String, String) {
    use aws_sdk_cognitoidentityprovider::types::{
        AttributeDataType, ExplicitAuthFlowsType, SchemaAttributeType,
        StringAttributeConstraintsType,
    };
    let pool = client
        .create_user_pool()
        .pool_name(format!("hubdeck-marker-{}", uuid::Uuid::new_v4()))
        .schema(
            SchemaAttributeType::builder()
                .name(hubdeck::directory::REGISTRATION_ATTRIBUTE)
                .attribute_data_type(AttributeDataType::String)
                .mutable(false)
                .string_attribute_constraints(
                    StringAttributeConstraintsType::builder()
                        .min_length("36")
                        .max_length("36")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("create pool");
    let pool_id = pool
        .user_pool()
        .and_then(|p| p.id())
        .expect("pool id")
        .to_string();
    let app = client
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("hubdeck")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .send()
        .await
        .expect("create app client");
    let client_id = app
        .user_pool_client()
        .and_then(|c| c.client_id())
        .expect("client id")
        .to_string();
    (pool_id, client_id)
}

pub(crate) async fn rig() -> Rig {
    rig_with(1, true).await
}

/// `max_attempts` for the SDK; `marker`: the pool has `custom:hubdeck_reg`.
async fn rig_with(max_attempts: u32, marker: bool) -> Rig {
    let m = moto::moto();
    let direct_settings = moto::directory_settings(&m.endpoint, "unused", "unused");
    let moto_client = hubdeck::directory::cognito::sdk_client(&direct_settings).await;
    let (pool_id, client_id) = if marker {
        marker_pool(&moto_client).await
    } else {
        moto::fresh_pool(&moto_client).await
    };
    let proxy = FaultProxy::start(&m.endpoint).await;
    let mut ds = moto::directory_settings(&proxy.endpoint, &pool_id, &client_id);
    ds.max_attempts = max_attempts;
    ds.attempt_timeout_ms = ATTEMPT_TIMEOUT_MS;
    ds.operation_timeout_ms = ATTEMPT_TIMEOUT_MS * (u64::from(max_attempts) + 1);
    ds.connect_timeout_ms = ATTEMPT_TIMEOUT_MS;
    let dir = hubdeck::directory::cognito::CognitoDirectory::new(&ds)
        .await
        .expect("CognitoDirectory");
    let dir: Arc<dyn Directory> = Arc::new(dir);
    let t = crate::support::pg::fresh_db().await;
    let mut settings = t.settings();
    settings.directory = ds;
    let svc = Services::new(t.pool.clone(), dir, Arc::new(settings));
    Rig {
        svc,
        proxy,
        moto: moto_client,
        pool_id,
        t,
    }
}

impl Rig {
    pub(crate) async fn in_moto(&self, email: &str) -> Option<UserSub> {
        match self
            .moto
            .admin_get_user()
            .user_pool_id(&self.pool_id)
            .username(email)
            .send()
            .await
        {
            Ok(u) => u
                .user_attributes()
                .iter()
                .find(|a| a.name() == "sub")
                .and_then(|a| a.value())
                .map(|s| s.parse().unwrap()),
            Err(e) => {
                let code = aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata::code(&e);
                assert_eq!(code, Some("UserNotFoundException"), "{e:?}");
                None
            }
        }
    }

    pub(crate) async fn journal_of(
        &self,
        email: &str,
    ) -> (String, Option<UserSub>, Option<String>, Option<String>) {
        sqlx::query_as(
            "SELECT state, sub, last_error, rollback_error FROM registration WHERE email = $1",
        )
        .bind(email)
        .fetch_one(&self.t.pool)
        .await
        .unwrap()
    }

    async fn journal(&self) -> (String, Option<UserSub>, Option<String>, Option<String>) {
        sqlx::query_as("SELECT state, sub, last_error, rollback_error FROM registration")
            .fetch_one(&self.t.pool)
            .await
            .unwrap()
    }
}

/// Sets up one cell's faults on the proxy.
fn arm(rig: &Rig, at: At, k: Kind) {
    let p = &rig.proxy;
    let late = injection(Kind::Late);
    let bad = injection(Kind::Bad400);
    // A real refused connection: the proxy stops listening right before the step; the count
    // is the answers before it (describe, create, confirm(400), rollback read).
    let refused_after = match at {
        At::Describe => 0,
        At::Create => 1,
        // describe, the create (forwarded; its answer is lost)
        At::ResolveRead => 2,
        At::ConfirmRead => 2,
        At::RollbackRead => 3,
        At::RollbackDelete => 4,
    };
    match at {
        At::ResolveRead => p.inject("AdminCreateUser", late, 1),
        At::RollbackRead | At::RollbackDelete => p.inject("AdminGetUser", bad, 1),
        _ => {}
    }
    if k == Kind::Refused {
        p.refuse_after(refused_after);
        return;
    }
    let f = injection(k);
    match at {
        At::Describe => p.inject("DescribeUserPool", f, 1),
        At::Create => p.inject("AdminCreateUser", f, 1),
        At::ResolveRead | At::ConfirmRead | At::RollbackRead => p.inject("AdminGetUser", f, 1),
        At::RollbackDelete => p.inject("AdminDeleteUser", f, 1),
    }
}

/// No orphan identity: complete with its sub, stuck with the sub recorded, rolled back with
/// the identity gone, or pending/conflict with nothing of ours lost (checked by the caller).
fn invariant(state: &str, sub: Option<UserSub>, in_moto: Option<UserSub>) -> Result<(), String> {
    match state {
        "complete" | "identity_created" | "roles_pending" | "needs_cleanup" => {
            if in_moto.is_some() && sub != in_moto {
                return Err(format!(
                    "{state} with sub {sub:?} but moto holds {in_moto:?}"
                ));
            }
            if state == "complete" && in_moto.is_none() {
                return Err("complete without the identity".into());
            }
            Ok(())
        }
        "rolled_back" if in_moto.is_some() => Err("rolled back but the identity is left".into()),
        "rolled_back" => Ok(()),
        // Unknown outcome: the row names the email and reconcile settles it by proof.
        "pending" => Ok(()),
        other => Err(format!("unexpected state {other}")),
    }
}

async fn run_matrix(attempts: u32) {
    let mut failures = Vec::new();
    for at in ATS {
        for k in KINDS {
            let rig = rig_with(attempts, true).await;
            let email = format!("cell-{at:?}-{k:?}-{attempts}@example.org").to_lowercase();
            arm(&rig, at, k);
            let result = rig
                .svc
                .register_user(&cli(), &req(&email, &[RoleRef::Researcher]))
                .await;
            let (state, sub, last_error, rollback_error) = rig.journal().await;
            let in_moto = rig.in_moto(&email).await;
            let rows = match sub.or(in_moto) {
                Some(s) => rows_of(&rig.t.pool, s).await,
                None => Rows {
                    grants: 0,
                    profiles: 0,
                    audits: 0,
                },
            };
            if let Err(why) = invariant(&state, sub, in_moto) {
                failures.push(format!(
                    "{at:?} × {k:?} (attempts {attempts}): ORPHAN: {why}"
                ));
                continue;
            }
            let (want_state, want_identity, want_audits) = expected(at, k, attempts);
            let want = End {
                state: want_state.into(),
                identity_in_moto: want_identity,
                rows: Rows {
                    grants: i64::from(want_state == "complete"),
                    profiles: i64::from(want_state == "complete"),
                    audits: want_audits,
                },
            };
            let got = End {
                state: state.clone(),
                identity_in_moto: in_moto.is_some(),
                rows,
            };
            if got != want {
                failures.push(format!(
                    "{at:?} × {k:?} (attempts {attempts}): got {got:?}, want {want:?}; result \
                     {result:?}; last_error {last_error:?}"
                ));
                continue;
            }
            // Never a blind retry of the create: at most two, the second only after a read.
            let creates = rig.proxy.attempts("AdminCreateUser");
            assert!(creates <= 2, "{at:?} × {k:?}: {creates} creates");
            if at == At::Create && matches!(k, Kind::Late | Kind::Reset) {
                assert_eq!(
                    creates, 1,
                    "{at:?} × {k:?}: a lost answer is settled by a read"
                );
            }
            // What the operator is told matches the end state; repair finishes the job.
            match want_state {
                "complete" => {
                    let out = result.as_ref().expect("complete is Ok");
                    assert_eq!(out.state, RegistrationState::Complete);
                    assert_eq!(out.sub, in_moto);
                }
                "roles_pending" => {
                    let out = result.as_ref().expect("roles_pending is Ok with a message");
                    assert_eq!(out.state, RegistrationState::RolesPending);
                    assert!(out.message.contains("exists"), "{}", out.message);
                    assert!(out.message.contains("repair --retry"), "{}", out.message);
                    rig.proxy.clear().await;
                    let done = rig
                        .svc
                        .retry_registration(&cli(), out.registration_id)
                        .await
                        .unwrap();
                    assert_eq!(done.state, RegistrationState::Complete);
                    assert_eq!(
                        rows_of(&rig.t.pool, in_moto.unwrap()).await,
                        Rows {
                            grants: 1,
                            profiles: 1,
                            audits: 1
                        }
                    );
                }
                "needs_cleanup" => {
                    let err = result.as_ref().unwrap_err().to_string();
                    assert!(err.contains("rollback also failed"), "{err}");
                    assert!(err.contains("confirming the identity failed"), "{err}");
                    assert!(rollback_error.is_some(), "both causes recorded");
                    assert!(last_error.is_some());
                    rig.proxy.clear().await;
                    let id = rig.svc.stuck_registrations(&cli()).await.unwrap()[0].id;
                    let r = rig
                        .svc
                        .rollback_registration(&cli(), id)
                        .await
                        .unwrap_or_else(|e| panic!("{at:?} × {k:?}: rollback: {e}"));
                    assert_eq!(r.state(), RegistrationState::RolledBack);
                    assert!(rig.in_moto(&email).await.is_none());
                }
                "pending" => {
                    assert!(result.is_err());
                    // Reconcile (as after a minute) settles it by proof.
                    rig.proxy.clear().await;
                    sqlx::query(
                        "UPDATE registration SET created_at = now() - interval '2 minutes'",
                    )
                    .execute(&rig.t.pool)
                    .await
                    .unwrap();
                    let out = rig.svc.reconcile_pending(&cli(), 60).await.unwrap();
                    assert_eq!(out.len(), 1);
                    let (state, sub, _, _) = rig.journal().await;
                    if let Some(s) = in_moto {
                        assert_eq!(state, "roles_pending", "{at:?} × {k:?}: {out:?}");
                        assert_eq!(sub, Some(s), "adopted by its marker");
                    } else {
                        assert_eq!(state, "rolled_back", "{at:?} × {k:?}: {out:?}");
                    }
                }
                _ => assert!(result.is_err(), "{at:?} × {k:?}"),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "fault matrix cells failed:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn fault_matrix_with_default_max_attempts() {
    run_matrix(DEFAULT_MAX_ATTEMPTS).await;
}

#[tokio::test]
async fn fault_matrix_with_one_attempt() {
    run_matrix(1).await;
}

#[test]
fn matrix_default_matches_the_product_default() {
    assert_eq!(
        hubdeck::config::DirectorySettings::default().max_attempts,
        DEFAULT_MAX_ATTEMPTS
    );
}

/// An operator without CAN_MANAGE_USERS is refused every mutation and NOTHING reaches the
/// directory (the proxy counts every request it sees).
#[tokio::test]
async fn unauthorized_operator_sends_nothing_to_the_directory() {
    let rig = rig().await;
    let before = rig.proxy.total_attempts();
    let actor =
        crate::registration::operator(&[hubdeck::domain::PermissionRef::CanAccessAdminPanel]);
    let sub = UserSub::new_v4();
    assert!(
        rig.svc
            .register_user(&actor, &req("x@example.org", &[]))
            .await
            .is_err()
    );
    assert!(
        rig.svc
            .set_roles(&actor, sub, &[RoleRef::Viewer])
            .await
            .is_err()
    );
    assert!(rig.svc.set_enabled(&actor, sub, false).await.is_err());
    assert!(rig.svc.resend_invite(&actor, sub).await.is_err());
    assert!(rig.svc.delete_user(&actor, sub).await.is_err());
    assert!(rig.svc.seed_users(&actor).await.is_err());
    assert!(rig.svc.resolve_user(&actor, "x@example.org").await.is_err());
    assert!(rig.svc.user_detail(&actor, sub).await.is_err());
    assert_eq!(
        rig.proxy.total_attempts(),
        before,
        "no request reached the directory"
    );
    assert_eq!(
        crate::registration::count(&rig.t.pool, "SELECT count(*) FROM registration", None).await,
        0
    );
}

pub(crate) async fn create_in_moto(rig: &Rig, email: &str) -> UserSub {
    let out = rig
        .moto
        .admin_create_user()
        .user_pool_id(&rig.pool_id)
        .username(email)
        .user_attributes(
            aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
                .name("email")
                .value(email)
                .build()
                .unwrap(),
        )
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    out.user()
        .and_then(|u| u.attributes().iter().find(|a| a.name() == "sub"))
        .and_then(|a| a.value())
        .unwrap()
        .parse()
        .unwrap()
}

/// A definitive failure never deletes an identity the saga did not create: a pre-existing
/// user with the same email in Cognito.
#[tokio::test]
async fn pre_existing_cognito_identity_is_never_deleted() {
    let rig = rig().await;
    let sub = create_in_moto(&rig, "pre@example.org").await;
    let err = rig
        .svc
        .register_user(&cli(), &req("pre@example.org", &[RoleRef::Admin]))
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    assert_eq!(rig.in_moto("pre@example.org").await, Some(sub));
    assert_eq!(rig.proxy.attempts("AdminDeleteUser"), 0);
    assert_eq!(
        rows_of(&rig.t.pool, sub).await,
        Rows {
            grants: 0,
            profiles: 0,
            audits: 0
        }
    );
}

/// seed-users against Cognito: present without grants → granted; with grants → untouched;
/// missing → skipped; 503 → skipped and the rest continue; a definitive 4xx → stop, non-zero.
#[tokio::test]
async fn seed_users_against_cognito_with_faults() {
    use hubdeck::service::seed_users::SeedOutcome;
    let rig = rig().await;
    let a = create_in_moto(&rig, "seed-a@example.org").await;
    let b = create_in_moto(&rig, "seed-b@example.org").await;
    let c = create_in_moto(&rig, "seed-c@example.org").await;
    sqlx::query("INSERT INTO user_role (user_id, role_id) VALUES ($1, $2)")
        .bind(b)
        .bind(RoleRef::Viewer.id())
        .execute(&rig.t.pool)
        .await
        .unwrap();
    let mut settings = (*rig.svc.settings).clone();
    settings.seed.admin_emails = vec![
        "seed-unavailable@example.org".into(),
        "seed-a@example.org".into(),
        "seed-missing@example.org".into(),
    ];
    settings.seed.researcher_emails = vec!["seed-b@example.org".into()];
    settings.seed.viewer_emails = vec!["seed-c@example.org".into()];
    let mut svc = rig.svc.clone();
    svc.settings = Arc::new(settings.clone());
    // The first lookup answers 503 (the SDK makes one attempt).
    rig.proxy.inject("AdminGetUser", injection(Kind::S503), 1);
    let s = svc.seed_users(&cli()).await.unwrap();
    let got: Vec<(&str, &SeedOutcome)> = s
        .lines
        .iter()
        .map(|l| (l.email.as_str(), &l.outcome))
        .collect();
    assert!(
        matches!(
            got[0],
            ("seed-unavailable@example.org", SeedOutcome::Skipped(_))
        ),
        "{got:?}"
    );
    assert_eq!(got[1], ("seed-a@example.org", &SeedOutcome::Granted));
    assert_eq!(got[2], ("seed-missing@example.org", &SeedOutcome::Missing));
    assert_eq!(
        got[3],
        ("seed-b@example.org", &SeedOutcome::AlreadyHadRoles)
    );
    assert_eq!(got[4], ("seed-c@example.org", &SeedOutcome::Granted));
    assert!(s.stopped.is_none());
    let roles = |sub: UserSub| {
        let pool = rig.t.pool.clone();
        async move { crate::support::readback::global_role_ids(&pool, sub).await }
    };
    assert_eq!(roles(a).await, vec![RoleRef::Admin.id()]);
    assert_eq!(roles(b).await, vec![RoleRef::Viewer.id()]);
    assert_eq!(roles(c).await, vec![RoleRef::Viewer.id()]);

    // A definitive 4xx stops the seed: the rest is not attempted.
    rig.proxy.clear().await;
    rig.proxy.inject("AdminGetUser", injection(Kind::Bad400), 1);
    let s = svc.seed_users(&cli()).await.unwrap();
    assert!(s.stopped.is_some());
    assert!(s.lines.is_empty(), "{:?}", s.lines);

    // The real binary exits non-zero on it (config file pointing at the proxy).
    rig.proxy.clear().await;
    rig.proxy.inject("AdminGetUser", injection(Kind::Bad400), 1);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let d = &settings.directory;
    std::fs::write(
        &cfg,
        format!(
            "[directory]\nkind = \"cognito\"\nregion = \"{}\"\nuser_pool_id = \"{}\"\nclient_id = \"{}\"\n\
             endpoint_url = \"{}\"\nmax_attempts = 1\n\n[seed]\nadmin_emails = [\"seed-a@example.org\"]\n",
            d.region, d.user_pool_id, d.client_id, d.endpoint_url
        ),
    )
    .unwrap();
    let out = crate::support::cli::tokio_infra()
        .arg("--config")
        .arg(&cfg)
        .arg("--database-url")
        .arg(&rig.t.url)
        .arg("seed-users")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped"));
    // A 503 only skips: exit 0.
    rig.proxy.clear().await;
    rig.proxy.inject("AdminGetUser", injection(Kind::S503), 1);
    let out = crate::support::cli::tokio_infra()
        .arg("--config")
        .arg(&cfg)
        .arg("--database-url")
        .arg(&rig.t.url)
        .arg("seed-users")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("skipped 1"));
}

/// Delete: grants go first (audited), then the identity. When the directory delete fails the
/// message says exactly what remains; running it again finishes (idempotent).
#[tokio::test]
async fn delete_partial_failure_reports_what_remains_and_rerun_finishes() {
    let rig = rig().await;
    let out = rig
        .svc
        .register_user(&cli(), &req("gone@example.org", &[RoleRef::Viewer]))
        .await
        .unwrap();
    let sub = out.sub.unwrap();
    rig.proxy
        .inject("AdminDeleteUser", injection(Kind::S503), 1);
    let err = rig
        .svc
        .delete_user(&cli(), sub)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("were removed and audited"), "{err}");
    assert!(err.contains("can still sign in"), "{err}");
    assert_eq!(rig.in_moto("gone@example.org").await, Some(sub));
    let rows = rows_of(&rig.t.pool, sub).await;
    assert_eq!((rows.grants, rows.profiles), (0, 0));
    rig.proxy.clear().await;
    let done = rig.svc.delete_user(&cli(), sub).await.unwrap();
    assert!(done.identity_deleted, "{}", done.message);
    assert!(rig.in_moto("gone@example.org").await.is_none());
    let again = rig.svc.delete_user(&cli(), sub).await.unwrap();
    assert!(!again.identity_deleted);
}

/// A retry and a rollback of the same stuck registration at the same moment, 200 rounds, on
/// Cognito (moto) with every read slowed a little so the two operations really overlap: the
/// end is `complete` with the identity and its grants, or `rolled_back` with neither — never a
/// mix — and the loser is told the registration is being repaired by another operator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_and_rollback_at_the_same_moment_never_mix() {
    let rig = rig_with(DEFAULT_MAX_ATTEMPTS, true).await;
    rig.proxy.inject(
        "AdminGetUser",
        Fault::slow(Duration::from_millis(15)),
        100_000,
    );
    let svc = Arc::new(rig.svc.clone());
    let (mut completed, mut rolled_back, mut busy) = (0, 0, 0);
    for round in 0..200 {
        let email = format!("race-{round}@example.org");
        let (id, sub) =
            crate::registration::stuck_after_create(&svc, &email, &[RoleRef::Researcher]).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let (s1, b1) = (svc.clone(), barrier.clone());
        let retry = tokio::spawn(async move {
            b1.wait().await;
            s1.retry_registration(&cli(), id).await
        });
        let (s2, b2) = (svc.clone(), barrier.clone());
        let rollback = tokio::spawn(async move {
            b2.wait().await;
            s2.rollback_registration(&cli(), id).await
        });
        let (retry, rollback) = (retry.await.unwrap(), rollback.await.unwrap());
        let j = svc.registration(&cli(), id).await.unwrap();
        let in_moto = rig.in_moto(&email).await;
        let rows = rows_of(&rig.t.pool, sub).await;
        let actions: Vec<String> =
            sqlx::query_scalar("SELECT action FROM users_audit WHERE user_id = $1")
                .bind(sub)
                .fetch_all(&rig.t.pool)
                .await
                .unwrap();
        let loser = match j.state() {
            RegistrationState::Complete => {
                completed += 1;
                assert_eq!(
                    in_moto,
                    Some(sub),
                    "round {round}: complete without identity"
                );
                assert_eq!((rows.grants, rows.profiles), (1, 1), "round {round}");
                assert_eq!(actions, vec!["Registered user"], "round {round}");
                assert_eq!(retry.as_ref().unwrap().state, RegistrationState::Complete);
                rollback.expect_err("the rollback lost")
            }
            RegistrationState::RolledBack => {
                rolled_back += 1;
                assert_eq!(in_moto, None, "round {round}: rolled back, identity left");
                assert_eq!((rows.grants, rows.profiles), (0, 0), "round {round}");
                assert_eq!(actions, vec!["Rolled back registration"], "round {round}");
                assert_eq!(
                    rollback.as_ref().unwrap().state(),
                    RegistrationState::RolledBack
                );
                retry.expect_err("the retry lost")
            }
            other => panic!("round {round}: ended {other}: {retry:?} / {rollback:?}"),
        };
        assert_eq!(loser.exit_code(), 3, "round {round}: {loser}");
        let msg = loser.to_string();
        if msg.contains("is being repaired by") {
            busy += 1;
        } else {
            // It ran after the winner had finished: refused by the state, nothing changed.
            assert!(
                msg.contains("rolled_back") || msg.contains("complete"),
                "round {round}: {msg}"
            );
        }
    }
    eprintln!(
        "200 rounds: {completed} complete, {rolled_back} rolled back, {busy} 'being repaired'"
    );
    assert_eq!(completed + rolled_back, 200);
    assert!(
        busy > 0,
        "the operations never overlapped: the race was not exercised"
    );
}

/// Two operators register the same email at the same moment through the real binary
/// (`hubdeck users register` processes against Cognito through the proxy, the create slowed so
/// the first registration is still open when the second arrives), 50 rounds: exactly one
/// identity, exactly one `complete` registration, the other refused before any directory call.
#[tokio::test]
async fn two_operators_register_the_same_email_through_the_binary() {
    let rig = rig_with(DEFAULT_MAX_ATTEMPTS, true).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let d = &rig.svc.settings.directory;
    std::fs::write(
        &cfg,
        format!(
            "[directory]\nkind = \"cognito\"\nregion = \"{}\"\nuser_pool_id = \"{}\"\n\
             client_id = \"{}\"\nendpoint_url = \"{}\"\n",
            d.region, d.user_pool_id, d.client_id, d.endpoint_url
        ),
    )
    .unwrap();
    let register = |email: String| {
        crate::support::cli::tokio_infra()
            .arg("--config")
            .arg(&cfg)
            .arg("--database-url")
            .arg(&rig.t.url)
            .args([
                "users",
                "register",
                "--email",
                &email,
                "--name",
                "Twin",
                "--organisation",
                "Org",
                "--role",
                "viewer",
                "--suppress-invite",
            ])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("HOME", dir.path())
            .env_remove("HUBDECK_FAILPOINT")
            .output()
    };
    for round in 0..50 {
        let email = format!("twin-{round}@example.org");
        rig.proxy.reset_counts();
        rig.proxy.inject(
            "AdminCreateUser",
            Fault::slow(Duration::from_millis(400)),
            1,
        );
        let (a, b) = tokio::join!(register(email.clone()), register(email.clone()));
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut codes = [a.status.code(), b.status.code()];
        codes.sort();
        assert_eq!(
            codes,
            [Some(0), Some(3)],
            "round {round}:\n{}\n{}",
            String::from_utf8_lossy(&a.stderr),
            String::from_utf8_lossy(&b.stderr)
        );
        let loser = if a.status.code() == Some(3) { &a } else { &b };
        let err = String::from_utf8_lossy(&loser.stderr);
        assert!(err.contains("already has an open registration"), "{err}");
        assert!(err.contains("nothing was sent to the directory"), "{err}");
        assert!(err.contains("hubdeck users repair --retry"), "{err}");
        // Before any directory call: the winner's describe + create are the only ones.
        assert_eq!(rig.proxy.attempts("DescribeUserPool"), 1, "round {round}");
        assert_eq!(rig.proxy.attempts("AdminCreateUser"), 1, "round {round}");
        let states: Vec<String> =
            sqlx::query_scalar("SELECT state FROM registration WHERE email = $1")
                .bind(&email)
                .fetch_all(&rig.t.pool)
                .await
                .unwrap();
        assert_eq!(states, vec!["complete"], "round {round}");
        assert!(rig.in_moto(&email).await.is_some(), "round {round}");
    }
    let users = rig
        .moto
        .list_users()
        .user_pool_id(&rig.pool_id)
        .limit(60)
        .send()
        .await
        .unwrap();
    assert_eq!(users.users().len(), 50, "exactly one identity per email");
}

/// A `pending` registration whose email was meanwhile registered outside hubdeck (directly in
/// the pool, after the journal row — so no timestamp could tell them apart) is neither adopted
/// nor deleted by reconcile: it ends `conflict` with the evidence for an operator.
#[tokio::test]
async fn reconcile_never_adopts_an_identity_created_outside_hubdeck() {
    let rig = rig_with(DEFAULT_MAX_ATTEMPTS, true).await;
    let email = "bob@example.org";
    // Operator A's registration crashed before the create (journal only).
    let mut conn = rig.t.pool.acquire().await.unwrap();
    let a = hubdeck::store::registrations::insert_pending(
        &mut conn,
        &hubdeck::store::registrations::NewRegistration {
            email,
            name: "Bob",
            organisation: "Org",
            requested_roles: &[RoleRef::Admin.id()],
            suppress_invite: true,
            who: hubdeck::store::audit::AuditActor {
                sub: None,
                via: "cli",
                os_user: Some("a"),
            },
        },
    )
    .await
    .unwrap();
    drop(conn);
    // Bob is then created directly in the pool.
    let bob = create_in_moto(&rig, email).await;
    sqlx::query("UPDATE registration SET created_at = now() - interval '2 minutes'")
        .execute(&rig.t.pool)
        .await
        .unwrap();
    let out = rig.svc.reconcile_pending(&cli(), 60).await.unwrap();
    assert_eq!(out.len(), 1);
    assert!(out[0].1.starts_with("conflict"), "{out:?}");
    let j = rig.svc.registration(&cli(), a.id).await.unwrap();
    assert_eq!(j.state(), RegistrationState::Conflict);
    assert_eq!(j.sub, None, "Bob's sub is not recorded as A's");
    let ev = j.evidence.clone().expect("evidence");
    assert_eq!(ev["found_sub"], bob.to_string());
    assert_eq!(ev["found_marker"], serde_json::Value::Null);
    assert_eq!(ev["registration_id"], a.id.to_string());
    // Nothing acts on it: no retry (which would grant ADMIN to Bob), no rollback (which would
    // delete Bob), and the reconcile does not touch it again.
    assert_eq!(
        rig.svc
            .retry_registration(&cli(), a.id)
            .await
            .unwrap_err()
            .exit_code(),
        3
    );
    assert_eq!(
        rig.svc
            .rollback_registration(&cli(), a.id)
            .await
            .unwrap_err()
            .exit_code(),
        3
    );
    assert!(
        rig.svc
            .reconcile_pending(&cli(), 60)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(rig.in_moto(email).await, Some(bob));
    assert_eq!(rig.proxy.attempts("AdminDeleteUser"), 0);
    assert_eq!(
        rows_of(&rig.t.pool, bob).await,
        Rows {
            grants: 0,
            profiles: 0,
            audits: 0
        }
    );
    // It is on the on-call list until an operator records a decision.
    let stuck = rig.svc.stuck_registrations(&cli()).await.unwrap();
    assert_eq!(stuck.len(), 1);
    let r = rig
        .svc
        .resolve_registration(&cli(), a.id, "Bob registered himself; A's request dropped")
        .await
        .unwrap();
    assert_eq!(r.state(), RegistrationState::Resolved);
    assert!(
        rig.svc
            .stuck_registrations(&cli())
            .await
            .unwrap()
            .is_empty()
    );
}

/// A pool WITHOUT the marker attribute (checked with DescribeUserPool): registrations still
/// work, the attribute is not sent (real Cognito would refuse it), and a create whose answer
/// was lost cannot be proven ours — the identity is neither adopted nor deleted; the
/// registration ends `conflict` with the evidence (call window from the database clock).
#[tokio::test]
async fn pool_without_the_marker_falls_back_cleanly() {
    let rig = rig_with(DEFAULT_MAX_ATTEMPTS, false).await;
    let ok = rig
        .svc
        .register_user(&cli(), &req("plain@example.org", &[RoleRef::Viewer]))
        .await
        .unwrap();
    assert_eq!(ok.state, RegistrationState::Complete);
    assert_eq!(rig.proxy.attempts("DescribeUserPool"), 1);
    let bodies = rig.proxy.bodies("AdminCreateUser");
    assert!(!bodies[0].contains("hubdeck_reg"), "{}", bodies[0]);

    rig.proxy
        .inject("AdminCreateUser", injection(Kind::Late), 1);
    let err = rig
        .svc
        .register_user(&cli(), &req("lost@example.org", &[RoleRef::Viewer]))
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    assert!(err.to_string().contains("cannot prove"), "{err}");
    assert_eq!(rig.proxy.attempts("DescribeUserPool"), 1, "checked once");
    assert_eq!(
        rig.proxy.attempts("AdminCreateUser"),
        2,
        "one per registration"
    );
    let found = rig
        .in_moto("lost@example.org")
        .await
        .expect("left in place");
    let (state, sub, _, _) = rig.journal_of("lost@example.org").await;
    assert_eq!((state.as_str(), sub), ("conflict", None));
    let ev: serde_json::Value =
        sqlx::query_scalar("SELECT evidence FROM registration WHERE email = 'lost@example.org'")
            .fetch_one(&rig.t.pool)
            .await
            .unwrap();
    assert_eq!(ev["found_sub"], found.to_string());
    assert!(
        ev["call_started_at"].is_string() && ev["call_finished_at"].is_string(),
        "{ev}"
    );
    assert_eq!(rig.proxy.attempts("AdminDeleteUser"), 0);
}
