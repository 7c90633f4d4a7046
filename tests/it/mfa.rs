//! MFA sign-in (issue #15): SOFTWARE_TOKEN_MFA and MFA_SETUP through the service layer's
//! step-by-step sign-in, against the Cognito emulator (moto, through the SDK, with its TOTP
//! check switched on — see `support::moto`) and against the local directory.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{SoftwareTokenMfaConfigType, UserPoolMfaType};
use hubdeck::config::LocalMfa;
use hubdeck::directory::cognito::{CognitoDirectory, sdk_client};
use hubdeck::directory::{Invite, NewIdentity, WRONG_CODE};
use hubdeck::domain::totp::{STEP_SECONDS, TotpSecret};
use hubdeck::domain::{Email, RoleRef, Secret};
use hubdeck::service::mfa::{MfaSetup, SignInStep};
use hubdeck::service::{ServiceError, Services};

use crate::support::moto;
use crate::support::pg::{TestDb, fresh_db};
use crate::tui_e2e::seed_identity;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The code an authenticator app shows now for `secret` (RFC 6238), computed far enough from
/// a step boundary that the verifier sees the same step (moto accepts only the current one).
async fn code_now(secret: &TotpSecret) -> String {
    let into_step = unix_now() % STEP_SECONDS;
    if into_step >= STEP_SECONDS - 3 {
        tokio::time::sleep(std::time::Duration::from_secs(STEP_SECONDS - into_step + 1)).await;
    }
    secret.code_at(unix_now()).expose().to_string()
}

/// A code that is certainly wrong now (the current code with its first digit changed).
fn wrong(code: &str) -> String {
    let first = code.as_bytes()[0];
    let other = if first == b'9' {
        '0'
    } else {
        (first + 1) as char
    };
    format!("{other}{}", &code[1..])
}

fn assert_wrong_code(r: Result<SignInStep, ServiceError>) {
    match r {
        Err(e) => assert!(e.to_string().contains(WRONG_CODE), "unclear refusal: {e}"),
        Ok(step) => panic!("a wrong code was accepted: {step:?}"),
    }
}

fn check_setup_shows_qr(setup: &MfaSetup, issuer: &str, email: &str) {
    let b32: String = setup.secret_text.expose().replace(' ', "");
    assert_eq!(
        TotpSecret::from_base32(&b32).unwrap(),
        setup.enrolment.secret,
        "the secret shown is the enrolled one"
    );
    assert!(
        setup.otpauth_uri.expose().starts_with(&format!(
            "otpauth://totp/{issuer}:{email}?secret={b32}&issuer={issuer}"
        )),
        "{}",
        setup.otpauth_uri.expose()
    );
    let qr = setup.qr.expose();
    assert!(qr.lines().count() >= 15, "a QR code of the URI:\n{qr}");
    assert!(qr.chars().any(|c| matches!(c, '█' | '▀' | '▄')));
    let debug = format!("{setup:?} {:?}", setup.enrolment);
    assert!(!debug.contains(&b32), "Debug leaks the secret: {debug}");
}

async fn cognito_services(db: &TestDb) -> (cip::Client, String, Services) {
    let admin = sdk_client(&moto::directory_settings(&moto::moto().endpoint, "", "")).await;
    let (pool, client) = moto::fresh_pool(&admin).await;
    admin
        .set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .mfa_configuration(UserPoolMfaType::On)
        .software_token_mfa_configuration(
            SoftwareTokenMfaConfigType::builder().enabled(true).build(),
        )
        .send()
        .await
        .expect("pool MFA on");
    let dir = moto::directory_settings(&moto::moto().endpoint, &pool, &client);
    let mut settings = db.settings();
    settings.directory = dir.clone();
    let d = CognitoDirectory::new(&dir)
        .await
        .expect("cognito directory");
    (
        admin,
        pool,
        Services::new(db.pool.clone(), Arc::new(d), Arc::new(settings)),
    )
}

#[tokio::test]
async fn cognito_first_sign_in_sets_up_a_software_token_then_asks_for_codes() {
    let db = fresh_db().await;
    let (_admin, _pool, s) = cognito_services(&db).await;
    let email = "mfa-ops@example.org";
    let ident = s
        .directory
        .create_user(&NewIdentity {
            email: Email::parse(email).unwrap(),
            email_verified: true,
            invite: Invite::Suppress,
            temporary_password: Some(Secret::new("Temp0rary!Pw")),
        })
        .await
        .unwrap();

    // Password → NEW_PASSWORD_REQUIRED → MFA_SETUP.
    let ch = match s
        .begin_sign_in(email, &Secret::new("Temp0rary!Pw"))
        .await
        .unwrap()
    {
        SignInStep::NewPasswordRequired(ch) => ch,
        other => panic!("expected a new-password challenge, got {other:?}"),
    };
    let setup_ch = match s
        .answer_new_password(&ch, &Secret::new("N3w-Passw0rd!"))
        .await
        .unwrap()
    {
        SignInStep::MfaSetupRequired(ch) => ch,
        other => panic!("expected MFA_SETUP, got {other:?}"),
    };
    let setup = s.start_mfa_setup(&setup_ch).await.unwrap();
    check_setup_shows_qr(&setup, "hubdeck", email);
    let code = code_now(&setup.enrolment.secret).await;
    assert_wrong_code(s.finish_mfa_setup(&setup, &wrong(&code)).await);
    let malformed = s.finish_mfa_setup(&setup, "12ab").await.unwrap_err();
    assert_eq!(malformed.exit_code(), 2, "{malformed}");
    let code = code_now(&setup.enrolment.secret).await;
    match s.finish_mfa_setup(&setup, &code).await.unwrap() {
        SignInStep::SignedIn(op) => assert_eq!(op.sub, ident.sub),
        other => panic!("expected signed in after setup, got {other:?}"),
    }

    // The password-only face refuses clearly instead of leaving the operator stuck.
    let old = s
        .sign_in(email, &Secret::new("N3w-Passw0rd!"))
        .await
        .unwrap_err();
    assert!(old.to_string().contains("MFA"), "{old}");

    // Every later sign-in asks for a code: wrong refused (and may be retried), right signs in.
    let ch = match s
        .begin_sign_in(email, &Secret::new("N3w-Passw0rd!"))
        .await
        .unwrap()
    {
        SignInStep::MfaCodeRequired(ch) => ch,
        other => panic!("expected SOFTWARE_TOKEN_MFA, got {other:?}"),
    };
    let code = code_now(&setup.enrolment.secret).await;
    assert_wrong_code(s.answer_mfa_code(&ch, &wrong(&code)).await);
    let code = code_now(&setup.enrolment.secret).await;
    match s.answer_mfa_code(&ch, &code).await.unwrap() {
        SignInStep::SignedIn(op) => {
            assert_eq!(op.sub, ident.sub);
            assert_eq!(op.email, email);
        }
        other => panic!("expected signed in, got {other:?}"),
    }
}

async fn local_services(db: &TestDb, mfa: LocalMfa) -> Services {
    let mut settings = db.settings();
    settings.directory.local_mfa = mfa;
    let settings = Arc::new(settings);
    let directory = hubdeck::directory::connect(&settings, &db.pool)
        .await
        .unwrap();
    Services::new(db.pool.clone(), directory, settings)
}

#[tokio::test]
async fn local_directory_requires_setup_then_codes_with_replay_and_attempt_limits() {
    let db = fresh_db().await;
    let s = local_services(&db, LocalMfa::Required).await;
    let email = "local-mfa@hub.example";
    let sub = seed_identity(&s, email, Some("Right-password-1"), Some(RoleRef::Admin)).await;
    let pw = Secret::new("Right-password-1");

    let ch = match s.begin_sign_in(email, &pw).await.unwrap() {
        SignInStep::MfaSetupRequired(ch) => ch,
        other => panic!("expected MFA_SETUP, got {other:?}"),
    };
    let setup = s.start_mfa_setup(&ch).await.unwrap();
    check_setup_shows_qr(&setup, "hubdeck", email);
    let secret = setup.enrolment.secret.clone();
    let code = code_now(&secret).await;
    assert_wrong_code(s.finish_mfa_setup(&setup, &wrong(&code)).await);
    match s.finish_mfa_setup(&setup, &code).await.unwrap() {
        SignInStep::SignedIn(op) => assert_eq!(op.sub, sub),
        other => panic!("{other:?}"),
    }
    // The secret is kept by the local directory (the identity provider), never in hub tables.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT secret FROM local_totp WHERE sub = $1")
        .bind(sub)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(stored, secret.expose());
    let leaked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users_audit WHERE details::text LIKE '%' || $1 || '%'",
    )
    .bind(secret.to_base32().expose())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(leaked, 0);

    // Next sign-in: a code. The one used for the setup cannot be replayed.
    let ch = match s.begin_sign_in(email, &pw).await.unwrap() {
        SignInStep::MfaCodeRequired(ch) => ch,
        other => panic!("expected SOFTWARE_TOKEN_MFA, got {other:?}"),
    };
    // An MFA session is no new-password session (challenge kinds are not interchangeable).
    let misuse = s
        .directory
        .respond_new_password(
            &hubdeck::directory::NewPasswordChallenge {
                username: ch.username.clone(),
                sub: ch.sub,
                session: ch.session.clone(),
            },
            &Secret::new("An0ther-password"),
        )
        .await
        .unwrap_err();
    assert!(misuse.to_string().contains("expired"), "{misuse}");
    assert_wrong_code(s.answer_mfa_code(&ch, &code).await);
    // The next step's code (an app a little ahead of the host) is accepted.
    let next = secret
        .code_at(unix_now() + STEP_SECONDS)
        .expose()
        .to_string();
    match s.answer_mfa_code(&ch, &next).await.unwrap() {
        SignInStep::SignedIn(op) => assert_eq!(op.sub, sub),
        other => panic!("{other:?}"),
    }
    // A used session is gone.
    let again = s.answer_mfa_code(&ch, &next).await.unwrap_err();
    assert!(again.to_string().contains("expired"), "{again}");

    // Five wrong codes end the session: even the right code then needs a new sign-in.
    let ch = match s.begin_sign_in(email, &pw).await.unwrap() {
        SignInStep::MfaCodeRequired(ch) => ch,
        other => panic!("{other:?}"),
    };
    let later = secret
        .code_at(unix_now() + STEP_SECONDS)
        .expose()
        .to_string();
    for _ in 0..5 {
        assert_wrong_code(s.answer_mfa_code(&ch, &wrong(&later)).await);
    }
    let ended = s.answer_mfa_code(&ch, &later).await.unwrap_err();
    assert!(ended.to_string().contains("expired"), "{ended}");
}

#[tokio::test]
async fn local_directory_optional_mfa_asks_only_enrolled_identities() {
    let db = fresh_db().await;
    let s = local_services(&db, LocalMfa::Optional).await;
    seed_identity(&s, "plain@hub.example", Some("Right-password-1"), None).await;
    let enrolled = seed_identity(&s, "totp@hub.example", Some("Right-password-2"), None).await;
    let secret = TotpSecret::generate();
    hubdeck::store::local_totp::set_verified(&db.pool, enrolled, &secret)
        .await
        .unwrap();
    assert!(matches!(
        s.begin_sign_in("plain@hub.example", &Secret::new("Right-password-1"))
            .await
            .unwrap(),
        SignInStep::SignedIn(_)
    ));
    let ch = match s
        .begin_sign_in("totp@hub.example", &Secret::new("Right-password-2"))
        .await
        .unwrap()
    {
        SignInStep::MfaCodeRequired(ch) => ch,
        other => panic!("{other:?}"),
    };
    let code = code_now(&secret).await;
    assert!(matches!(
        s.answer_mfa_code(&ch, &code).await.unwrap(),
        SignInStep::SignedIn(op) if op.sub == enrolled
    ));
    // Off: the enrolled token is not asked for.
    let off = local_services(&db, LocalMfa::Off).await;
    assert!(matches!(
        off.begin_sign_in("totp@hub.example", &Secret::new("Right-password-2"))
            .await
            .unwrap(),
        SignInStep::SignedIn(_)
    ));
}
