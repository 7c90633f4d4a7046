//! Issue 14, console half (audit, registrations): end-to-end through the real binary in tmux
//! on real PostgreSQL and the LocalDirectory, plus `App::update`-level checks of the audit
//! palette (a time that does not parse applies nothing).

use crate::support::readback::{global_role_ids, registration_state};
use hubdeck::domain::{RoleRef, Secret};
use hubdeck::service::Actor;
use hubdeck::service::session::SignInOutcome;

use crate::support::pg::fresh_db;
use crate::tui_e2e::{
    OPERATOR_EMAIL, OPERATOR_PASSWORD, seed_identity, seed_operator, services, start_signed_in,
};

async fn operator(s: &hubdeck::service::Services) -> Actor {
    match s
        .sign_in(OPERATOR_EMAIL, &Secret::new(OPERATOR_PASSWORD))
        .await
        .expect("sign in")
    {
        SignInOutcome::SignedIn(op) => Actor::Operator(op),
        _ => panic!("the operator signs in without a challenge"),
    }
}

/// The audit row of a profile edit shows the operator's email (not their sub) as the actor,
/// the user's email as the subject, the action in words, and the before/after as a diff.
#[tokio::test(flavor = "multi_thread")]
async fn audit_row_shows_the_actors_email_and_a_before_after_diff() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let op_sub = seed_operator(&s).await;
    let dave = seed_identity(&s, "dave@site.example", None, None).await;
    let a = operator(&s).await;
    s.edit_profile(&a, dave, "Dave", "Site One")
        .await
        .expect("first profile");
    s.edit_profile(&a, dave, "Dave Jones", "Site One")
        .await
        .expect("renamed");

    let t = start_signed_in(&db, &[]);
    t.keys(&["6"]);
    let cap = t.wait_for(&[
        "User profile updated",
        "Before → after",
        "- name: Dave",
        "+ name: Dave Jones",
    ]);
    // The actor is the operator's email in the table and the detail, never their raw id.
    assert!(
        cap.matches(OPERATOR_EMAIL).count() >= 2,
        "header and detail name the operator:\n{cap}"
    );
    assert!(
        cap.contains("User profile updated ops@hub"),
        "the table's actor column shows the email:\n{cap}"
    );
    assert!(cap.contains("dave@site.example"), "{cap}");
    assert!(!cap.contains(&op_sub.to_string()), "{cap}");
    // The organisation did not change: it is not in the diff.
    assert!(!cap.contains("organisation: Site One"), "{cap}");

    // A time that does not parse is shown in full and applies nothing.
    t.keys(&[":"]);
    t.text("since 2026-13-45");
    t.keys(&["Enter"]);
    let cap = t.wait_for(&[":since not applied", "2026-13-45"]);
    assert!(cap.contains("since"), "{cap}");
    t.keys(&["Escape"]);
    t.wait_for(&["User profile updated", "+ name: Dave Jones"]);
    // A date-time with a space is accepted; the rows of that range stay listed.
    t.keys(&[":"]);
    t.text("since 2000-01-01 00:00");
    t.keys(&["Enter"]);
    t.wait_for(&["User profile updated", "+ name: Dave Jones"]);
    t.quit();
}

/// On-call retries a stuck registration from its detail: the detail shows the id, the sub,
/// the state's meaning and next step, the cause and who started it; `t` asks first; after `y`
/// the registration is complete (the detail, read again, says so) and the list keeps its cursor.
#[tokio::test(flavor = "multi_thread")]
async fn retrying_a_stuck_registration_from_its_detail() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let op_sub = seed_operator(&s).await;
    let mut ids = Vec::new();
    for (email, age) in [
        ("anna@site.example", 3i32),
        ("dave@site.example", 2),
        ("zoe@site.example", 1),
    ] {
        let sub = seed_identity(&s, email, None, None).await;
        let id: uuid::Uuid = sqlx::query_scalar(
            "INSERT INTO registration (email, name, organisation, requested_roles, state, sub, \
             identity_created, last_error, actor_user_id, via, created_at, updated_at) \
             VALUES ($1, 'N', 'Site', $2, 'roles_pending', $3, true, \
             'directory unavailable (transient): 503', $4, 'tui', now() - make_interval(hours => $5), now()) RETURNING id",
        )
        .bind(email)
        .bind(vec![RoleRef::Researcher.id()])
        .bind(sub)
        .bind(op_sub)
        .bind(age)
        .fetch_one(&db.pool)
        .await
        .expect("journal row");
        ids.push((id, sub));
    }
    let (dave_id, dave_sub) = ids[1];

    let t = start_signed_in(&db, &[]);
    t.keys(&["3"]);
    let cap = t.wait_for(&["│▶ anna@", "│  dave@", "│  zoe@"]);
    // The order the list shows them in (whatever its default sort).
    let mut order = ["anna", "dave", "zoe"];
    order.sort_by_key(|n| cap.find(&format!(" {n}@")));
    let dave_pos = order.iter().position(|n| *n == "dave").unwrap();
    for _ in 0..dave_pos {
        t.keys(&["Down"]);
    }
    t.wait_for(&["▶ dave@"]);
    t.keys(&["Enter"]);
    let cap = t.wait_for(&[
        "Registration of dave@site.example (Esc back)",
        &dave_id.to_string(),
        &dave_sub.to_string(),
        "roles_pending",
        "assigning its roles failed",
        "Retry to finish the roles",
        "directory unavailable (transient): 503",
        "2 h",
    ]);
    assert!(cap.contains(OPERATOR_EMAIL), "started by: {cap}");
    assert!(!cap.contains("--rollback"), "{cap}");

    // `t` asks first; `n` changes nothing.
    t.keys(&["t"]);
    t.wait_for(&[
        "Retry registration",
        "Retry the registration of dave@site.example?",
    ]);
    t.settle();
    t.keys(&["n"]);
    t.wait_gone(&["Retry the registration of dave@site.example?"]);
    let state = registration_state(&db.pool, dave_id).await;
    assert_eq!(state, "roles_pending");

    t.keys(&["t"]);
    t.wait_for(&["Retry the registration of dave@site.example?"]);
    t.settle();
    t.keys(&["y"]);
    t.wait_for(&[
        "registration of dave@site.example is now complete",
        "Done: identity, roles, profile and audit are written.",
    ]);
    let state = registration_state(&db.pool, dave_id).await;
    assert_eq!(state, "complete");
    let roles = global_role_ids(&db.pool, dave_sub).await;
    assert_eq!(roles, vec![RoleRef::Researcher.id()]);

    // Back in the list: dave has left it (complete), the cursor stays at his place — on the
    // row that followed him — not back at the top.
    t.keys(&["Escape"]);
    let cap = t.wait_gone(&["dave@"]);
    let next = order
        .get(dave_pos + 1)
        .copied()
        .unwrap_or(order[dave_pos - 1]);
    assert!(
        cap.contains(&format!("▶ {next}@")),
        "the cursor stays at the retried row's place:\n{cap}"
    );
    t.quit();
}

const OLD_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000001";

/// The trusts list shows the last heartbeat; `O` rotates both keys after a y/n, the reveal
/// panel shows the new keys once, the stored API-key hash changes and the audit row says the
/// internal-service key was rotated too.
#[tokio::test(flavor = "multi_thread")]
async fn rotating_a_trusts_internal_service_key_from_the_console() {
    let db = fresh_db().await;
    let s = services(&db).await;
    seed_operator(&s).await;
    sqlx::query(
        "INSERT INTO trust (name, code, api_key_hash, last_heartbeat) \
         VALUES ('Leeds Teaching', 'LEEDS', $1, '2026-11-20T09:15:00Z')",
    )
    .bind(OLD_HASH)
    .execute(&db.pool)
    .await
    .expect("trust");
    let t = start_signed_in(&db, &[]);
    t.keys(&["4"]);
    t.wait_for(&[
        "Leeds Teaching",
        "Heartbeat",
        "2026-11-20 09:15",
        "Keys set",
    ]);
    t.keys(&["O"]);
    t.wait_for(&["Rotate API and internal-service keys", "Both current keys"]);
    t.settle();
    t.keys(&["y"]);
    let cap = t.wait_for(&["Keys rotated", "internal-service key"]);
    assert!(!cap.contains(OLD_HASH), "{cap}");
    let hash: String = sqlx::query_scalar("SELECT api_key_hash FROM trust WHERE code = 'LEEDS'")
        .fetch_one(&db.pool)
        .await
        .expect("hash");
    assert_ne!(hash, OLD_HASH);
    let details: serde_json::Value =
        sqlx::query_scalar("SELECT details FROM trusts_audit WHERE action = 'KEY_ROTATED'")
            .fetch_one(&db.pool)
            .await
            .expect("audit row");
    assert_eq!(
        details["internal_service_key_rotated"],
        serde_json::json!(true)
    );
}

mod app_level {
    use crossterm::event::KeyCode;
    use hubdeck::tui::action::OpOutcome;
    use hubdeck::tui::app::App;
    use hubdeck::tui::msg::{Msg, Request};
    use hubdeck::tui::screens::users::SEARCH_HELP;
    use hubdeck::tui::screens::users::data::UserOp;

    use crate::tui_snapshots::{answer_all, app, ch, key, render, text_of, type_str, users_app};

    fn screen(a: &App) -> String {
        text_of(render(a, 160, 48).backend().buffer())
    }

    fn pages(reqs: &[Request]) -> usize {
        reqs.iter()
            .filter(|r| matches!(r, Request::Page { .. }))
            .count()
    }

    /// `:since` with a time that does not parse: the error is shown in full and nothing is
    /// applied (no reload, no filter in the title); a date-time with a space applies.
    #[test]
    fn a_bad_audit_time_applies_nothing_and_says_why() {
        let mut a = app();
        a.update(ch('6'));
        answer_all(&mut a);
        a.update(ch(':'));
        type_str(&mut a, "since 2026-12-01 25:99");
        a.update(key(KeyCode::Enter));
        let reqs = a.take_requests();
        assert_eq!(pages(&reqs), 0, "nothing reloaded: {reqs:?}");
        let s = screen(&a);
        assert!(s.contains(":since not applied"), "{s}");
        assert!(
            s.contains("2026-12-01 25:99"),
            "the typed text is quoted in full: {s}"
        );
        a.update(key(KeyCode::Esc));
        a.update(ch(':'));
        type_str(&mut a, "since 2026-12-01 18:40");
        a.update(key(KeyCode::Enter));
        let reqs = a.take_requests();
        assert!(pages(&reqs) >= 1, "the range applies: {reqs:?}");
        assert!(!screen(&a).contains("not applied"));
    }

    /// The users search says what it matches while the operator types.
    #[test]
    fn the_users_search_says_what_it_searches() {
        let mut a = users_app(false);
        assert!(!screen(&a).contains(SEARCH_HELP));
        a.update(ch('/'));
        let s = screen(&a);
        assert!(s.contains(SEARCH_HELP), "{s}");
        assert!(s.contains("UUID-like prefix"), "{s}");
    }

    /// The registration form carries the operator's choice to skip the invitation email.
    #[test]
    fn the_registration_form_can_skip_the_invite() {
        let mut a = users_app(false);
        a.update(ch('n'));
        type_str(&mut a, "erin@site.example");
        a.update(key(KeyCode::Tab));
        type_str(&mut a, "Erin");
        a.update(key(KeyCode::Tab));
        type_str(&mut a, "Site");
        a.update(key(KeyCode::Tab));
        a.update(key(KeyCode::Tab));
        a.update(ch(' '));
        assert!(screen(&a).contains("Skip invite   [x]"), "{}", screen(&a));
        a.update(key(KeyCode::Enter));
        let op = a
            .take_requests()
            .into_iter()
            .find_map(|r| match r {
                Request::Op { id, op } => Some((id, op)),
                _ => None,
            })
            .expect("the registration runs");
        match op.1.downcast_ref::<UserOp>() {
            Some(UserOp::Register {
                email,
                suppress_invite,
                ..
            }) => {
                assert_eq!(email, "erin@site.example");
                assert!(*suppress_invite);
            }
            other => panic!("unexpected {other:?}"),
        }
        a.update(Msg::OpDone {
            id: op.0,
            result: Ok(OpOutcome::default()),
        });
    }
}
