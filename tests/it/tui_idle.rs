//! Sessions end after a quiet spell (`[console] idle_minutes`): the console signs its operator
//! out and shows sign-in; signing in again as the same operator returns to the screen they
//! were on, anybody else starts afresh. Driven through the console's own message loop with a
//! manual clock.

use std::time::Duration;

use crossterm::event::KeyCode;
use hubdeck::domain::{PermissionRef, UserSub};
use hubdeck::service::actor::Operator;
use hubdeck::tui::action::SignInReply;
use hubdeck::tui::app::App;
use hubdeck::tui::msg::{Msg, Reply, Request};
use hubdeck::tui::screens::Tab;
use hubdeck::tui::screens::signin::data::SignInJob;

use crate::tui_snapshots::{answer_all, app, key, type_str};

fn idle_app(limit: Duration) -> App {
    let mut a = app();
    a.config.idle = Some(limit);
    a
}

fn sign_in_as(a: &mut App, op: Operator) {
    type_str(a, "ops@hub.example");
    a.update(key(KeyCode::Tab));
    type_str(a, "password-1");
    a.update(key(KeyCode::Enter));
    let id = a
        .take_requests()
        .into_iter()
        .find_map(|r| match r.job::<SignInJob>() {
            Some(_) => r.read_id(),
            None => None,
        })
        .expect("sign-in request");
    a.update(Msg::reply(id, Reply::SignIn(Ok(SignInReply::SignedIn(op)))));
}

#[test]
fn an_idle_console_signs_out_and_the_same_operator_returns_to_their_screen() {
    let mut a = idle_app(Duration::from_secs(60));
    a.switch_tab(Tab::Users);
    answer_all(&mut a);
    // Key presses keep the session: 50 s quiet, a key, 50 s quiet again.
    a.clock.advance(Duration::from_secs(50));
    a.update(Msg::Tick);
    a.update(key(KeyCode::Down));
    a.clock.advance(Duration::from_secs(50));
    a.update(Msg::Tick);
    assert!(a.operator.is_some(), "a key press restarts the quiet spell");
    // A full minute without a key: signed out, the sign-in screen says why.
    a.clock.advance(Duration::from_secs(11));
    a.update(Msg::Tick);
    assert!(a.operator.is_none(), "signed out after the idle limit");
    let why = a.signin.error.clone().unwrap_or_default();
    assert!(why.contains("Signed out after 1 min"), "{why}");
    assert!(why.contains(Tab::Users.title()), "{why}");
    let _ = a.take_requests();
    // The same operator signs in again: back on Users, reloaded.
    sign_in_as(&mut a, crate::tui_snapshots::operator());
    assert!(a.operator.is_some());
    assert_eq!(a.tab, Tab::Users);
    assert!(
        a.take_requests()
            .iter()
            .any(|r| matches!(r, Request::Page { list: "users", .. })),
        "the screen is reloaded with the authority read at sign-in"
    );
}

#[test]
fn another_operator_signing_in_after_an_idle_sign_out_starts_afresh() {
    let mut a = idle_app(Duration::from_secs(30));
    a.switch_tab(Tab::Users);
    answer_all(&mut a);
    a.clock.advance(Duration::from_secs(31));
    a.update(Msg::Tick);
    assert!(a.operator.is_none());
    let other = Operator {
        sub: UserSub(uuid::Uuid::from_u128(0x2222)),
        email: "other@hub.example".into(),
        permissions: PermissionRef::ALL.into_iter().collect(),
    };
    sign_in_as(&mut a, other);
    assert_eq!(a.tab, Tab::Mandates, "nothing of the previous operator's");
}

#[test]
fn without_an_idle_limit_the_console_never_signs_out() {
    let mut a = app();
    a.config.idle = None;
    a.clock.advance(Duration::from_secs(24 * 3600));
    a.update(Msg::Tick);
    assert!(a.operator.is_some());
}
