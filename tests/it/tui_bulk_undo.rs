//! Issue #15 in the console, through the real binary in tmux: MFA sign-in against the local
//! directory (an authenticator code, a wrong code refused, first-time setup with the QR code),
//! bulk member actions with their preview, and undo of a grant change.

use std::time::{SystemTime, UNIX_EPOCH};

use hubdeck::domain::RoleRef;
use hubdeck::domain::totp::{STEP_SECONDS, TotpSecret};

use crate::support::pg::fresh_db;
use crate::tui_e2e::{OPERATOR_EMAIL, OPERATOR_PASSWORD, Tmux, seed_identity, services};

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The code an authenticator app shows now, computed far enough from a step boundary that
/// the console's verifier sees the same step.
fn code_now(secret: &TotpSecret) -> String {
    let into_step = unix_now() % STEP_SECONDS;
    if into_step >= STEP_SECONDS - 4 {
        std::thread::sleep(std::time::Duration::from_secs(STEP_SECONDS - into_step + 1));
    }
    secret.code_at(unix_now()).expose().to_string()
}

/// A code that is certainly wrong now (and in the neighbouring steps the verifier allows).
fn wrong_code(secret: &TotpSecret) -> String {
    let now = unix_now();
    let near: Vec<String> = [
        now - STEP_SECONDS,
        now,
        now + STEP_SECONDS,
        now + 2 * STEP_SECONDS,
    ]
    .iter()
    .map(|t| secret.code_at(*t).expose().to_string())
    .collect();
    (0..1_000_000u32)
        .map(|n| format!("{n:06}"))
        .find(|c| !near.contains(c))
        .unwrap()
}

fn sign_in_password(t: &Tmux) {
    t.wait_for(&["Sign in", "Email", "Password"]);
    t.text(OPERATOR_EMAIL);
    t.keys(&["Tab"]);
    t.text(OPERATOR_PASSWORD);
    t.keys(&["Enter"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn mfa_code_sign_in_refuses_a_wrong_code_then_accepts_the_right_one() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let sub = seed_identity(
        &s,
        OPERATOR_EMAIL,
        Some(OPERATOR_PASSWORD),
        Some(RoleRef::Admin),
    )
    .await;
    // An enrolled software token (local_mfa = "optional", the default, then asks for it).
    let secret = TotpSecret::generate();
    hubdeck::store::local_totp::set_verified(&db.pool, sub, &secret)
        .await
        .unwrap();
    let t = Tmux::start(&["--database-url", &db.url], &[]);
    sign_in_password(&t);
    t.wait_for(&["Authenticator code", "6-digit code"]);
    let bad = wrong_code(&secret);
    t.text(&bad);
    t.keys(&["Enter"]);
    let cap = t.wait_for(&["✗", "the authenticator code was not accepted"]);
    assert!(
        cap.contains("Authenticator code"),
        "stays on the prompt:\n{cap}"
    );
    assert!(!cap.contains(&bad), "the typed code is masked:\n{cap}");
    assert!(!cap.contains("1 Mandates"), "not signed in:\n{cap}");
    let good = code_now(&secret);
    t.text(&good);
    t.keys(&["Enter"]);
    t.wait_for(&["1 Mandates", OPERATOR_EMAIL, "rows"]);
    t.keys(&["q"]);
    t.wait_for(&["__EXIT:0"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn mfa_setup_shows_the_qr_code_and_secret_then_signs_in() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let sub = seed_identity(
        &s,
        OPERATOR_EMAIL,
        Some(OPERATOR_PASSWORD),
        Some(RoleRef::Admin),
    )
    .await;
    let t = Tmux::start(
        &["--database-url", &db.url],
        &[("HUBDECK_DIRECTORY__LOCAL_MFA", "required")],
    );
    sign_in_password(&t);
    let cap = t.wait_for(&["Set up an authenticator app", "type this secret", "▀"]);
    assert!(
        t.alternate_on(),
        "the secret is drawn on the alternate screen only"
    );
    // The secret as shown (groups of four), read off the screen as an operator would type it.
    let line = cap
        .lines()
        .skip_while(|l| !l.contains("type this secret"))
        .nth(1)
        .expect("the secret line");
    let b32: String = line
        .split("  ")
        .map(str::trim)
        .find(|part| {
            part.len() >= 32 && part.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
        })
        .expect("the grouped secret")
        .replace(' ', "");
    let secret = TotpSecret::from_base32(&b32).expect("a base32 secret");
    // A wrong code keeps the setup on screen.
    t.text(&wrong_code(&secret));
    t.keys(&["Enter"]);
    t.wait_for(&[
        "✗",
        "the authenticator code was not accepted",
        "Set up an authenticator app",
    ]);
    t.text(&code_now(&secret));
    t.keys(&["Enter"]);
    let cap = t.wait_for(&["1 Mandates", OPERATOR_EMAIL, "rows"]);
    assert!(
        !cap.contains(&line.trim().to_string()),
        "the secret is gone:\n{cap}"
    );
    let stored: Vec<u8> = sqlx::query_scalar("SELECT secret FROM local_totp WHERE sub = $1")
        .bind(sub)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        stored,
        secret.expose(),
        "the shown secret is the enrolled one"
    );
    t.keys(&["q"]);
    t.wait_for(&["__EXIT:0"]);
}
