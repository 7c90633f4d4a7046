//! Issue #15 in the console, through the real binary in tmux: MFA sign-in against the local
//! directory (an authenticator code, a wrong code refused, first-time setup with the QR code),
//! bulk member actions with their preview, and undo of a grant change.

use std::time::{SystemTime, UNIX_EPOCH};

use hubdeck::domain::UserSub;
use hubdeck::domain::totp::{STEP_SECONDS, TotpSecret};

use crate::support::pg::fresh_db;
use crate::tui_e2e::{
    OPERATOR_EMAIL, OPERATOR_PASSWORD, Tmux, seed_identity, seed_mandate, seed_operator, services,
    start_signed_in,
};

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

/// An operator with an enrolled software token (local_mfa = "optional", the default, then asks
/// for it), the console started and the password step done.
async fn enrolled_operator_past_the_password() -> (crate::support::pg::TestDb, TotpSecret, Tmux) {
    let db = fresh_db().await;
    let s = services(&db).await;
    let sub = seed_operator(&s).await;
    let secret = TotpSecret::generate();
    hubdeck::store::local_totp::set_verified(&db.pool, sub, &secret)
        .await
        .unwrap();
    let t = Tmux::start(&["--database-url", &db.url], &[]);
    sign_in_password(&t);
    (db, secret, t)
}

#[tokio::test(flavor = "multi_thread")]
async fn mfa_code_sign_in_refuses_a_wrong_code_then_accepts_the_right_one() {
    // (`_db` keeps the database alive for the test.)
    let (_db, secret, t) = enrolled_operator_past_the_password().await;
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
    t.quit();
}

#[tokio::test(flavor = "multi_thread")]
async fn mfa_setup_shows_the_qr_code_and_secret_then_signs_in() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let sub = seed_operator(&s).await;
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
    t.quit();
}

const MEMBER_ROLE: &str = "9e0c1a52-5d1f-4f7e-9a55-0a4a1c2d3e02";
const VIEWER_ROLE: &str = "9e0c1a52-5d1f-4f7e-9a55-0a4a1c2d3e03";

async fn add_member(
    db: &crate::support::pg::TestDb,
    mandate: uuid::Uuid,
    user: UserSub,
    role: &str,
) {
    let um: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO user_mandate (user_id, mandate_id) VALUES ($1, $2) RETURNING id",
    )
    .bind(user)
    .bind(mandate)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO user_mandate_role (user_mandate_id, mandate_role_id) VALUES ($1, $2::uuid)",
    )
    .bind(um)
    .bind(role)
    .execute(&db.pool)
    .await
    .unwrap();
}

async fn roles_of(
    db: &crate::support::pg::TestDb,
    mandate: uuid::Uuid,
    user: UserSub,
) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT r.label FROM user_mandate um JOIN user_mandate_role umr ON umr.user_mandate_id = um.id \
         JOIN mandate_role r ON r.id = umr.mandate_role_id \
         WHERE um.mandate_id = $1 AND um.user_id = $2 ORDER BY r.label",
    )
    .bind(mandate)
    .bind(user)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

/// Opens the members of `mandate` and narrows them to `search`.
fn open_members(t: &Tmux, mandate: &str, search: &str, rows: &str) {
    t.wait_for(&[mandate]);
    t.keys(&["Enter"]);
    t.wait_for(&[&format!("Members of {mandate}"), OPERATOR_EMAIL]);
    t.search(search);
    t.wait_for(&[rows]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_role_change_over_a_search_refuses_the_last_admin_then_undo() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let op = seed_operator(&s).await;
    let alice = seed_identity(&s, "alice@hub.example", None, None).await;
    let bob = seed_identity(&s, "bob@hub.example", None, None).await;
    let zed = seed_identity(&s, "zed@other.example", None, None).await;
    let m = seed_mandate(&db, "Acme Research", op).await;
    for u in [alice, bob, zed] {
        add_member(&db, m, u, MEMBER_ROLE).await;
    }
    let t = start_signed_in(&db, &[]);
    open_members(&t, "Acme Research", "hub.example", "rows 1–3 of 3");
    // All matching the search: the operator (the only admin), alice and bob — not zed.
    t.keys(&["*"]);
    t.wait_for(&["marked: all", "● alice@hub.example", "● bob@hub.example"]);
    t.keys(&["B"]);
    t.wait_for(&["Bulk action on all matching members", "Action", "viewer"]);
    // Action "set roles" (the first); roles: viewer only.
    t.keys(&["Tab"]);
    let cap = t.capture();
    let order: Vec<&str> = ["admin", "member", "viewer"]
        .into_iter()
        .filter(|l| cap.contains(l))
        .collect();
    assert_eq!(order.len(), 3, "{cap}");
    // The choices are listed admin, member, viewer: move to viewer and tick it.
    t.keys(&["Down"]);
    t.keys(&["Down"]);
    t.keys(&["Space"]);
    t.keys(&["Enter"]);
    let cap = t.wait_for(&["Bulk set-roles: preview", "1 refused", "REFUSED"]);
    assert!(cap.contains("2 change"), "{cap}");
    assert!(
        cap.contains("alice@hub.example: [member] → [viewer]"),
        "{cap}"
    );
    assert!(
        cap.contains("bob@hub.example: [member] → [viewer]"),
        "{cap}"
    );
    let refused = cap
        .lines()
        .find(|l| l.contains("✗") && l.contains(OPERATOR_EMAIL))
        .unwrap_or_else(|| panic!("the operator's row is refused:\n{cap}"));
    assert!(refused.contains("last admin"), "{refused}");
    assert!(!cap.contains("zed@other.example"), "{cap}");
    t.settle();
    t.keys(&["y"]);
    t.wait_for(&["2 changed, 0 unchanged, 1 refused"]);
    assert_eq!(
        roles_of(&db, m, op).await,
        ["admin"],
        "nothing applied to the refused row"
    );
    assert_eq!(roles_of(&db, m, alice).await, ["viewer"]);
    assert_eq!(roles_of(&db, m, bob).await, ["viewer"]);
    assert_eq!(roles_of(&db, m, zed).await, ["member"]);

    // Undo alice's change: the preview names the roles now and the ones restored.
    t.keys(&["/"]);
    t.keys(&["C-u"]);
    t.text("alice");
    t.keys(&["Enter"]);
    t.wait_for(&["rows 1–1 of 1", "alice@hub.example"]);
    t.keys(&["z"]);
    t.wait_for(&["Undo grant change", "now: viewer", "restores: member"]);
    t.settle();
    t.keys(&["y"]);
    t.wait_for(&["undone: MEMBER_ROLES_SET"]);
    assert_eq!(roles_of(&db, m, alice).await, ["member"]);

    // Bob: the preview is open when another operator changes his roles again: refused.
    t.keys(&["/"]);
    t.keys(&["C-u"]);
    t.text("bob");
    t.keys(&["Enter"]);
    t.wait_for(&["rows 1–1 of 1", "bob@hub.example"]);
    t.keys(&["z"]);
    t.wait_for(&["Undo grant change", "now: viewer", "restores: member"]);
    let actor = match s
        .sign_in(
            OPERATOR_EMAIL,
            &hubdeck::domain::Secret::new(OPERATOR_PASSWORD),
        )
        .await
        .unwrap()
    {
        hubdeck::service::session::SignInOutcome::SignedIn(o) => {
            hubdeck::service::Actor::Operator(o)
        }
        other => panic!("{other:?}"),
    };
    let admin_role: hubdeck::domain::MandateRoleId =
        "9e0c1a52-5d1f-4f7e-9a55-0a4a1c2d3e01".parse().unwrap();
    let viewer: hubdeck::domain::MandateRoleId = VIEWER_ROLE.parse().unwrap();
    s.set_member_roles(
        &actor,
        hubdeck::domain::MandateId(m),
        bob,
        &[admin_role, viewer],
    )
    .await
    .unwrap();
    t.settle();
    t.keys(&["y"]);
    let cap = t.wait_for(&["failed", "cannot undo"]);
    assert!(cap.contains("changed"), "the reason is given:\n{cap}");
    assert_eq!(
        roles_of(&db, m, bob).await,
        ["admin", "viewer"],
        "nothing undone"
    );
    // Esc and the next key must not arrive in one read (that would be alt-z).
    t.keys(&["Escape"]);
    t.wait_gone(&["cannot undo"]);
    // Offered again now, it is the newer change that z proposes (viewer+admin → viewer).
    t.keys(&["z"]);
    t.wait_for(&["Undo grant change", "restores: viewer"]);
    t.settle();
    t.keys(&["n"]);
    t.wait_gone(&["Undo grant change"]);
    t.quit();
}

#[tokio::test(flavor = "multi_thread")]
async fn undo_a_user_disable_from_the_users_screen() {
    let db = fresh_db().await;
    let s = services(&db).await;
    seed_operator(&s).await;
    let carol = seed_identity(&s, "carol@site.example", None, None).await;
    let t = start_signed_in(&db, &[]);
    t.keys(&["2"]);
    t.wait_for(&["carol@site.example", "a on/off"]);
    t.search("carol");
    let cap = t.wait_for(&["carol@site.example", "rows 1–1 of 1", "CONFIRMED"]);
    // A confirmed user is offered no invitation; asked anyway, it is a refusal.
    assert!(
        !cap.contains("i invite"),
        "the footer offers no invitation: {cap}"
    );
    t.keys(&["i"]);
    t.wait_for(&["✗ carol@site.example is CONFIRMED: an invitation goes only"]);
    // Nothing to undo yet: a refusal, never a green tick.
    t.keys(&["z"]);
    let cap = t.wait_for(&["no grant change of carol@site.example to undo"]);
    assert!(
        cap.contains("✗ no grant change of carol@site.example to undo"),
        "a refusal toast: {cap}"
    );
    t.keys(&["a"]);
    t.wait_for(&["Disable user", "Disable carol@site.example?"]);
    t.settle();
    t.keys(&["y"]);
    t.wait_for(&["user carol@site.example disabled"]);
    t.keys(&["z"]);
    t.wait_for(&["Undo grant change", "now: disabled", "restores: enabled"]);
    t.settle();
    t.keys(&["y"]);
    t.wait_for(&["undone: Disabled user"]);
    let enabled: bool = sqlx::query_scalar("SELECT enabled FROM local_identity WHERE sub = $1")
        .bind(carol)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(enabled, "the undo enabled carol again");
    let undoes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users_audit WHERE user_id = $1 AND undoes IS NOT NULL",
    )
    .bind(carol)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        undoes, 1,
        "the undo's own audit row links to the one it undoes"
    );
    t.quit();
}

#[tokio::test(flavor = "multi_thread")]
async fn mfa_session_ended_by_wrong_codes_goes_back_to_the_password() {
    // (`_db` keeps the database alive for the test.)
    let (_db, secret, t) = enrolled_operator_past_the_password().await;
    t.wait_for(&["Authenticator code"]);
    let bad = wrong_code(&secret);
    for _ in 0..5 {
        t.text(&bad);
        t.wait_for(&["••••••▏"]);
        t.keys(&["Enter"]);
        // A refused code is cleared from the field (the reply is in).
        t.wait_gone(&["••••••"]);
        t.wait_for(&["the authenticator code was not accepted"]);
    }
    // The directory ended the session after five wrong codes: the sixth starts over.
    t.text(&bad);
    t.keys(&["Enter"]);
    let cap = t.wait_for(&["sign in again", "Email", "Password"]);
    assert!(!cap.contains("Authenticator code"), "{cap}");
    t.keys(&["Escape"]);
    t.wait_for(&["__EXIT:0"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn space_and_range_marks_feed_the_bulk_preview() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let op = seed_operator(&s).await;
    let mut subs = Vec::new();
    for e in [
        "a1@site.example",
        "a2@site.example",
        "a3@site.example",
        "a4@site.example",
    ] {
        subs.push(seed_identity(&s, e, None, None).await);
    }
    let m = seed_mandate(&db, "Acme Research", op).await;
    for u in &subs {
        add_member(&db, m, *u, MEMBER_ROLE).await;
    }
    let t = start_signed_in(&db, &[]);
    open_members(&t, "Acme Research", "site.example", "rows 1–4 of 4");
    // Sorted by email: a1, a2, a3, a4. space marks a1 (and moves down); on a3, V marks a1..a3.
    t.keys(&["Space"]);
    t.wait_for(&["marked: 1", "● a1@site.example"]);
    t.keys(&["Down"]);
    t.keys(&["V"]);
    t.wait_for(&["marked: 3", "● a2@site.example", "● a3@site.example"]);
    // space on a3 again unmarks it.
    t.keys(&["Space"]);
    let cap = t.wait_for(&["marked: 2"]);
    assert!(!cap.contains("● a3@site.example"), "{cap}");
    assert!(!cap.contains("● a4@site.example"), "{cap}");
    t.keys(&["B"]);
    t.wait_for(&["Bulk action on 2 marked members", "viewer"]);
    // Action: disable (the sixth option).
    for _ in 0..5 {
        t.keys(&["Right"]);
    }
    t.wait_for(&["disable"]);
    t.keys(&["Enter"]);
    let cap = t.wait_for(&["Bulk disable: preview", "2 change"]);
    assert!(cap.contains("a1@site.example: enabled → disabled"), "{cap}");
    assert!(cap.contains("a2@site.example: enabled → disabled"), "{cap}");
    assert!(!cap.contains("a3@site.example:"), "{cap}");
    t.settle();
    t.keys(&["y"]);
    t.wait_for(&["2 changed, 0 unchanged, 0 refused"]);
    let enabled: Vec<bool> = sqlx::query_scalar(
        "SELECT um.enabled FROM user_mandate um JOIN directory_user d ON d.sub = um.user_id \
         WHERE um.mandate_id = $1 AND d.email LIKE 'a%@site.example' ORDER BY d.email",
    )
    .bind(m)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(enabled, [false, false, true, true]);
    t.quit();
}
