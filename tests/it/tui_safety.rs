//! Operator safety in the console, through `App::update` with a manual clock (issue 17): paste
//! is text, confirmations ignore keys for 300 ms, nothing acts behind a blocking notice, every
//! reply is handled (keys always reach the reveal panel), Roles forms show the truth, acting on
//! oneself is typed, and a revoked operator is signed out.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use hubdeck::domain::{PermissionRef, Secret, UserSub};
use hubdeck::service::Operator;
use hubdeck::tui::action::{ErrorReport, OpBox, OpOutcome, Operation, RevealKeys};
use hubdeck::tui::app::App;
use hubdeck::tui::clock::Clock;
use hubdeck::tui::keymap::Keymap;
use hubdeck::tui::msg::{Msg, Request};
use hubdeck::tui::screens::Tab;
use hubdeck::tui::screens::mandates::data::MandateOp;
use hubdeck::tui::screens::roles::{LoadRoleChoices, RoleTarget};
use hubdeck::tui::screens::trusts::data::TrustOp;
use hubdeck::tui::screens::users::data::UserOp;
use hubdeck::tui::theme::Theme;
use hubdeck::tui::widgets::dialog::Dialog;
use proptest::prelude::*;

use crate::tui_snapshots::{
    ROLE_ADMIN, ROLE_MEMBER, ROLE_STEWARD, answer, answer_all, app, ch, config, d, key, render,
    text_of, type_str, wait,
};

const NEW_KEY: &str = "hubk_NEWKEY0123456789abcdefghijklmnopqrstuvwxyzABCD_c0ffee";

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn screen(a: &App) -> String {
    text_of(render(a, 160, 48).backend().buffer())
}

/// The mutations queued since the last call (other requests are answered).
fn ops(a: &mut App) -> Vec<(u64, OpBox)> {
    let reqs = a.take_requests();
    answer(a, reqs)
}

/// The one operation queued, as its type (None: none, several, or another type).
fn one<T: Operation + Clone>(ops: &[(u64, OpBox)]) -> Option<T> {
    match ops {
        [(_, op)] => op.downcast_ref::<T>().cloned(),
        _ => None,
    }
}

fn no_ops(a: &mut App) -> bool {
    ops(a).is_empty()
}

fn rotated(key: &str) -> OpOutcome {
    OpOutcome {
        toast: "API key of Leeds Teaching rotated".into(),
        reveal: Some(RevealKeys {
            title: "API key rotated — the new key".into(),
            trust: d("Leeds Teaching"),
            details: Vec::new(),
            api_key: Secret::new(key),
            internal_key: None,
            on_acknowledged: None,
        }),
    }
}

fn toast_texts(a: &App) -> Vec<String> {
    a.toasts.iter().map(|t| t.text.clone()).collect()
}

/// Closes the reveal panel the way an operator does: Enter, the last four, Enter.
fn acknowledge(a: &mut App, key: &str) {
    a.update(self::key(KeyCode::Enter));
    let last4: String = key.chars().skip(key.chars().count() - 4).collect();
    type_str(a, &last4);
    a.update(self::key(KeyCode::Enter));
}

/// Starts a key rotation on Trusts and a mandate soft-delete on Mandates; returns both ids.
fn rotate_then_delete(a: &mut App) -> (u64, u64) {
    a.update(ch('4'));
    answer_all(a);
    a.update(ch('o'));
    wait(a);
    a.update(ch('y'));
    let rot = ops(a);
    assert!(
        matches!(one::<TrustOp>(&rot), Some(TrustOp::RotateKey { .. })),
        "{rot:?}"
    );
    // A second mutation before the first reply.
    a.update(ch('1'));
    answer_all(a);
    a.update(ch('d'));
    wait(a);
    a.update(ch('y'));
    let del = ops(a);
    assert!(
        matches!(one::<MandateOp>(&del), Some(MandateOp::SoftDelete { .. })),
        "{del:?}"
    );
    assert_eq!(a.ops.inflight.len(), 2, "both are tracked");
    (rot[0].0, del[0].0)
}

#[test]
fn two_mutations_in_flight_replies_in_either_order() {
    for rotation_first in [true, false] {
        let mut a = app();
        let (rot, del) = rotate_then_delete(&mut a);
        let deleted = || Msg::OpDone {
            id: del,
            result: Ok(OpOutcome {
                toast: "mandate Acme Research deleted (restorable until purged)".into(),
                reveal: None,
            }),
        };
        let rotation = || Msg::OpDone {
            id: rot,
            result: Ok(rotated(NEW_KEY)),
        };
        if rotation_first {
            a.update(rotation());
            a.update(deleted());
        } else {
            a.update(deleted());
            a.update(rotation());
        }
        answer_all(&mut a);
        assert!(a.ops.inflight.is_empty());
        assert!(a.reveal.is_some(), "the new key is on the reveal panel");
        assert!(screen(&a).contains(NEW_KEY), "order {rotation_first}");
        acknowledge(&mut a, NEW_KEY);
        assert!(a.reveal.is_none());
        assert!(
            toast_texts(&a)
                .iter()
                .any(|t| t.contains("Acme Research deleted")),
            "the second result is reported: {:?}",
            toast_texts(&a)
        );
        assert!(!screen(&a).contains(NEW_KEY));
    }
}

#[test]
fn a_failure_next_to_a_rotation_is_shown_and_the_key_still_revealed() {
    let mut a = app();
    let (rot, del) = rotate_then_delete(&mut a);
    a.update(Msg::OpDone {
        id: del,
        result: Err(ErrorReport::msg("mandate is locked by another operator")),
    });
    a.update(Msg::OpDone {
        id: rot,
        result: Ok(rotated(NEW_KEY)),
    });
    assert!(screen(&a).contains(NEW_KEY));
    acknowledge(&mut a, NEW_KEY);
    assert!(matches!(a.dialog, Some(Dialog::Error { .. })));
    assert!(screen(&a).contains("mandate is locked by another operator"));
}

#[test]
fn keys_arriving_while_a_panel_is_open_are_queued() {
    let mut a = app();
    a.update(ch('4'));
    answer_all(&mut a);
    a.update(ch('n'));
    type_str(&mut a, "Leeds Teaching");
    a.update(key(KeyCode::Tab));
    type_str(&mut a, "leeds");
    a.update(key(KeyCode::Enter));
    let reg = ops(&mut a);
    // The form is busy: Esc does not close it (its reply would be lost).
    a.update(key(KeyCode::Esc));
    assert!(a.form.as_ref().is_some_and(|f| f.busy), "form stays open");
    assert!(toast_texts(&a).iter().any(|t| t.contains("in flight")));
    // A rotation of the existing trust, started while the registration runs.
    a.update(Msg::OpDone {
        id: reg[0].0,
        result: Ok(rotated(
            "hubk_FIRSTKEY0123456789abcdefghijklmnopqrstuvwxyz_aaaa",
        )),
    });
    assert!(a.form.is_none(), "the form closes on its reply");
    a.update(Msg::OpDone {
        id: 9999,
        result: Ok(rotated(NEW_KEY)),
    });
    assert_eq!(a.reveal_queue.len(), 1, "the second key set waits its turn");
    assert!(screen(&a).contains("1 more after this"));
    acknowledge(
        &mut a,
        "hubk_FIRSTKEY0123456789abcdefghijklmnopqrstuvwxyz_aaaa",
    );
    assert!(screen(&a).contains(NEW_KEY), "then the next panel opens");
    acknowledge(&mut a, NEW_KEY);
    assert!(a.reveal.is_none());
}

#[test]
fn a_second_change_to_the_same_record_waits() {
    let mut a = app();
    a.update(ch('4'));
    answer_all(&mut a);
    a.update(ch('o'));
    wait(&a);
    a.update(ch('y'));
    assert_eq!(ops(&mut a).len(), 1);
    a.update(ch('o'));
    wait(&a);
    a.update(ch('y'));
    assert!(
        no_ops(&mut a),
        "no second rotation of the same trust while one runs"
    );
    assert!(toast_texts(&a).iter().any(|t| t.contains("still running")));
}

#[test]
fn quitting_with_a_mutation_in_flight_asks_waits_and_shows_keys_first() {
    let mut a = app();
    a.update(ch('4'));
    answer_all(&mut a);
    a.update(ch('o'));
    wait(&a);
    a.update(ch('y'));
    let (id, _) = ops(&mut a).remove(0);
    a.update(ch('q'));
    assert!(!a.quit);
    assert!(matches!(a.dialog, Some(Dialog::QuitWhenDone { .. })));
    a.update(ch('y'));
    assert!(
        !a.quit,
        "the confirmation ignores a key in its first 300 ms"
    );
    wait(&a);
    a.update(ch('y'));
    assert!(a.ops.quit_pending && !a.quit, "waits for the reply");
    assert!(screen(&a).contains("waiting for 1 reply"));
    // Behind the notice nothing else acts.
    a.update(ch('n'));
    assert!(a.form.is_none());
    a.update(Msg::OpDone {
        id,
        result: Ok(rotated(NEW_KEY)),
    });
    assert!(!a.quit, "the keys are shown first");
    assert!(screen(&a).contains(NEW_KEY));
    a.update(ctrl('c'));
    assert!(!a.quit, "ctrl-c does not skip the panel");
    acknowledge(&mut a, NEW_KEY);
    assert!(a.quit, "then it quits");
}

#[test]
fn a_failure_while_quitting_is_shown_before_quitting() {
    let mut a = app();
    a.update(ch('d'));
    wait(&a);
    a.update(ch('y'));
    let (id, _) = ops(&mut a).remove(0);
    a.update(ctrl('c'));
    wait(&a);
    a.update(ch('y'));
    assert!(a.ops.quit_pending);
    a.update(Msg::OpDone {
        id,
        result: Err(ErrorReport::msg("mandate is locked by another operator")),
    });
    assert!(!a.quit, "the failure is on screen first");
    assert!(screen(&a).contains("mandate is locked by another operator"));
    a.update(key(KeyCode::Esc));
    assert!(a.quit, "closing it lets the quit finish");
}

#[test]
fn confirmations_ignore_keys_in_their_first_300_ms() {
    let mut a = app();
    a.update(ch('d'));
    a.update(ch('y'));
    assert!(no_ops(&mut a), "y right after opening is not an answer");
    a.clock.advance(std::time::Duration::from_millis(299));
    a.update(ch('y'));
    assert!(no_ops(&mut a));
    a.clock.advance(std::time::Duration::from_millis(1));
    a.update(ch('y'));
    assert!(matches!(
        one::<MandateOp>(&ops(&mut a)),
        Some(MandateOp::SoftDelete { .. })
    ));
    // Type-the-name: a burst right after opening types nothing.
    a.update(ch('D'));
    type_str(&mut a, "Acme Research");
    a.update(key(KeyCode::Enter));
    assert!(no_ops(&mut a));
    match &a.dialog {
        Some(Dialog::TypeName { input, .. }) => assert_eq!(input.value(), ""),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ctrl_c_and_ctrl_d_never_act_in_an_overlay() {
    let mut a = app();
    a.update(ch('4'));
    answer_all(&mut a);
    a.update(ch('o'));
    wait(&a);
    a.update(ctrl('d'));
    assert!(
        matches!(a.dialog, Some(Dialog::Confirm { .. })),
        "ctrl-d is nothing"
    );
    assert!(no_ops(&mut a));
    a.update(ctrl('y'));
    assert!(no_ops(&mut a), "ctrl-y is not y");
    a.update(key(KeyCode::Esc));
    // On the reveal panel ctrl-c neither quits nor opens the copy prompt.
    a.reveal = Some(hubdeck::tui::widgets::reveal::Reveal::new(
        rotated(NEW_KEY).reveal.expect("keys"),
    ));
    a.update(ctrl('c'));
    assert!(!a.quit);
    let s = screen(&a);
    assert!(!s.contains("Copy the"), "no copy prompt:\n{s}");
    assert!(a.take_effects().is_empty());
    // Outside the panel ctrl-c quits (nothing in flight).
    acknowledge(&mut a, NEW_KEY);
    a.update(ch('d'));
    a.update(ctrl('c'));
    assert!(a.quit);
    assert!(no_ops(&mut a));
}

#[test]
fn too_small_terminal_acts_only_on_resize_and_quit() {
    let mut a = app();
    a.update(Msg::Resize(60, 20));
    for c in ['n', 'd', 'D', 'y', 'e', '/', ':', '4', 'o', 'y'] {
        a.update(ch(c));
    }
    a.update(key(KeyCode::Enter));
    a.update(Msg::Paste("today".into()));
    assert!(a.dialog.is_none() && a.form.is_none() && a.palette.is_none());
    assert_eq!(
        a.screen(Tab::Mandates).table().list,
        "mandates",
        "Enter opened nothing"
    );
    assert_eq!(a.tab, hubdeck::tui::screens::Tab::Mandates);
    assert!(no_ops(&mut a));
    assert!(screen_at(&a, 60, 20).contains("terminal too small"));
    a.update(Msg::Resize(120, 40));
    a.update(ch('d'));
    assert!(a.dialog.is_some(), "keys act again after the resize");
    a.update(Msg::Resize(60, 20));
    a.update(ch('q'));
    assert!(a.quit);
}

fn screen_at(a: &App, w: u16, h: u16) -> String {
    text_of(render(a, w, h).backend().buffer())
}

#[test]
fn paste_goes_only_into_the_focused_text_input() {
    let mut a = app();
    a.update(ch('4'));
    answer_all(&mut a);
    // On the list: ignored, with a toast, and nothing opens.
    a.update(Msg::Paste("body".into()));
    a.update(Msg::Paste("today\n".into()));
    assert!(a.dialog.is_none() && a.form.is_none());
    assert!(no_ops(&mut a));
    assert!(toast_texts(&a).iter().any(|t| t.contains("paste ignored")));
    // In the search box: it searches for the text.
    a.update(ch('/'));
    a.update(Msg::Paste("to\nday\r\n".into()));
    // A line break is a space between words, never nothing.
    assert_eq!(a.screen(Tab::Trusts).table().search.value(), "to day");
    for _ in 0..5 {
        a.update(Msg::Tick);
    }
    let reqs = a.take_requests();
    assert!(reqs.iter().any(|r| matches!(
        r,
        Request::Page { query, .. } if query.search.as_deref() == Some("to day")
    )));
    a.update(key(KeyCode::Esc));
    // In a form: one field filled, nothing submitted.
    a.update(ch('n'));
    a.update(Msg::Paste("Leeds Teaching\nLEEDS\n".into()));
    assert!(no_ops(&mut a));
    let f = a.form.as_ref().expect("form open");
    assert_eq!(f.text(0), "Leeds Teaching LEEDS");
    assert_eq!(f.text(1), "", "the second field is untouched");
    assert!(!f.busy);
    // Into the type-the-name confirmation: typed text, never a confirmation.
    a.update(key(KeyCode::Esc));
    a.update(ch('d'));
    a.update(Msg::Paste("Leeds Teaching\n".into()));
    assert!(no_ops(&mut a));
    match &a.dialog {
        Some(Dialog::TypeName { input, .. }) => assert_eq!(input.value(), "Leeds Teaching"),
        other => panic!("{other:?}"),
    }
}

/// A pasted control character is not dropped unseen (which made "CtlBell[31mRed" of
/// `Ctl\x07Bell\x1b[31mRed`): the field keeps it, shows it escaped, and refuses it naming the
/// code point, as the CLI does; the message wraps, whole, even at 80×24.
#[test]
fn a_pasted_control_character_is_refused_by_the_field_naming_it() {
    let mut a = app();
    a.update(ch('4'));
    answer_all(&mut a);
    a.update(ch('n'));
    a.update(Msg::Paste("Ctl\x07Bell\x1b[31mRed".into()));
    let f = a.form.as_ref().expect("form open");
    assert_eq!(f.text(0), "Ctl\x07Bell\x1b[31mRed");
    let screen = screen_at(&a, 80, 24);
    assert!(
        screen.contains("Ctl\\x07Bell\\x1b[31mRed"),
        "shown escaped:\n{screen}"
    );
    assert!(
        screen.contains("U+0007"),
        "the code point on screen:\n{screen}"
    );
    assert!(
        screen.contains("retype the text"),
        "the message whole:\n{screen}"
    );
    // Enter does not submit the refused name.
    a.update(key(KeyCode::Tab));
    a.update(Msg::Paste("CTL".into()));
    a.update(key(KeyCode::Enter));
    assert!(no_ops(&mut a));
    assert!(a.form.is_some(), "the form stays open");
    // Invisible characters are shown too (U+202E, U+200B, U+00A0).
    a.update(key(KeyCode::Esc));
    a.update(ch('n'));
    a.update(Msg::Paste("Acme\u{202e}\u{200b}\u{a0}X".into()));
    let screen = screen_at(&a, 80, 24);
    assert!(screen.contains("Acme\\u{202e}\\u{200b}\\xa0X"), "{screen}");
    assert!(screen.contains("U+202E"), "{screen}");
}

/// An app on screen `screen` (0–5 the tabs, 6 a mandate's members, 7 a user's detail, 8 the
/// sign-in screen) with `overlay` (0–9) open.
fn app_in(screen: usize, overlay: usize) -> App {
    if screen == 8 {
        let mut a = App::new(
            config(false),
            Keymap::defaults(),
            Theme::default_for(false, "green"),
            None,
        );
        a.clock = Clock::manual();
        if overlay % 2 == 1 {
            a.update(key(KeyCode::Tab)); // the password field
        }
        return a;
    }
    let mut a = app();
    match screen {
        6 => a.update(key(KeyCode::Enter)),
        7 => {
            a.update(ch('2'));
            answer_all(&mut a);
            a.update(key(KeyCode::Enter));
        }
        tab => a.update(ch(char::from(b'1' + tab as u8))),
    }
    answer_all(&mut a);
    match overlay {
        0 => {}
        1 => a.update(ch('/')),
        2 => a.update(ch(':')),
        3 => a.update(ch('?')),
        4 => {
            a.update(ch('n'));
            answer_all(&mut a);
        }
        5 => a.update(ch('d')),
        6 => a.update(ch('D')),
        7 => {
            a.update(ch('f'));
        }
        8 => {
            a.reveal = Some(hubdeck::tui::widgets::reveal::Reveal::new(
                rotated(NEW_KEY).reveal.expect("keys"),
            ));
        }
        _ => {
            a.update(ch('r'));
            answer_all(&mut a);
        }
    }
    a
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Any printable string (with line breaks) pasted on any screen and overlay queues no
    /// mutation — not at once and not after the confirmation guard has passed.
    #[test]
    fn a_paste_never_queues_a_mutation(
        tab in 0usize..9,
        overlay in 0usize..10,
        text in prop_oneof![
            "[ -~\n]{0,40}",
            "\\PC{0,40}",
            Just("body".to_string()),
            Just("today\n".to_string()),
            Just("y\ny\n".to_string()),
        ],
    ) {
        let mut a = app_in(tab, overlay);
        let _ = ops(&mut a);
        wait(&a);
        a.update(Msg::Paste(text.clone()));
        let reqs = a.take_requests();
        prop_assert!(
            reqs.iter()
                .all(|r| r.job::<hubdeck::tui::screens::signin::data::SignInJob>().is_none()),
            "a paste never submits the sign-in form"
        );
        let queued = answer(&mut a, reqs);
        prop_assert!(queued.is_empty(), "paste {text:?} queued {queued:?}");
        prop_assert!(a.form.as_ref().is_none_or(|f| !f.busy));
        prop_assert!(!a.quit);
    }
}

// ---------- Roles forms ----------

fn tick_labels(a: &App) -> Vec<String> {
    screen(a)
        .lines()
        .filter_map(|l| {
            let i = l.find("[x] ")?;
            Some(
                l[i + 4..]
                    .trim_end_matches(|c: char| c == '│' || c.is_whitespace())
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn user_roles_form_from_the_detail_screen_starts_with_the_current_grants() {
    let mut a = app();
    a.update(ch('2'));
    answer_all(&mut a);
    a.update(key(KeyCode::Enter)); // alice's detail
    answer_all(&mut a);
    a.update(ch('r'));
    let reqs = a.take_requests();
    assert!(reqs.iter().any(|r| matches!(
        r,
        r if matches!(r.job::<LoadRoleChoices>(), Some(LoadRoleChoices(RoleTarget::User { sub })) if sub.to_string().ends_with("a1"))
    )));
    // Until the reply, nothing can be saved.
    a.update(key(KeyCode::Enter));
    assert!(a.dialog.is_none());
    answer(&mut a, reqs);
    assert_eq!(tick_labels(&a), vec!["admin".to_string()]);
    // Tick viewer: the confirmation lists what is added, and admin is kept.
    a.update(ch('j'));
    a.update(ch('j'));
    a.update(ch(' '));
    a.update(key(KeyCode::Enter));
    let s = screen(&a);
    assert!(s.contains("Add: viewer. Remove: nothing."), "{s}");
    wait(&a);
    a.update(ch('y'));
    match one::<UserOp>(&ops(&mut a)) {
        // Exactly what the confirmation listed: admin is kept by not being touched.
        Some(UserOp::SetRoles { add, remove, .. }) => {
            assert_eq!(add, vec!["viewer".to_string()]);
            assert!(remove.is_empty(), "{remove:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(a.form.as_ref().is_some_and(|f| f.busy));
}

#[test]
fn member_roles_form_offers_and_keeps_the_mandates_own_role() {
    let mut a = app();
    a.update(key(KeyCode::Enter)); // members of Acme
    answer_all(&mut a);
    a.update(ch('r')); // alice: admin + data steward
    answer_all(&mut a);
    assert_eq!(
        tick_labels(&a),
        vec![
            "admin".to_string(),
            "data steward (this mandate)".to_string()
        ]
    );
    // Untick admin, tick member.
    a.update(ch(' '));
    a.update(ch('j'));
    a.update(ch(' '));
    a.update(key(KeyCode::Enter));
    let s = screen(&a);
    assert!(s.contains("Add: member. Remove: admin."), "{s}");
    wait(&a);
    a.update(ch('y'));
    match one::<MandateOp>(&ops(&mut a)) {
        // Exactly what the confirmation listed; the steward role is kept by not being touched.
        Some(MandateOp::SetMemberRoles { add, remove, .. }) => {
            assert_eq!(add, vec![ROLE_MEMBER.to_string()]);
            assert_eq!(remove, vec![ROLE_ADMIN.to_string()]);
            assert!(!add.iter().chain(&remove).any(|r| r == ROLE_STEWARD));
        }
        other => panic!("{other:?}"),
    }
    // The add-member form offers the mandate's own role as well.
    let mut a = app();
    a.update(key(KeyCode::Enter));
    answer_all(&mut a);
    a.update(ch('n'));
    answer_all(&mut a);
    let s = screen(&a);
    assert!(s.contains("[ ] data steward (this mandate)"), "{s}");
    assert!(s.contains("[x] member"), "{s}");
}

#[test]
fn saving_unchanged_roles_sends_nothing() {
    let mut a = app();
    a.update(key(KeyCode::Enter));
    answer_all(&mut a);
    a.update(ch('r'));
    answer_all(&mut a);
    a.update(key(KeyCode::Enter));
    assert!(a.dialog.is_none() && a.form.is_none());
    assert!(no_ops(&mut a));
}

// ---------- acting on oneself, revoked authority ----------

/// Signed in as alice (the first Users row).
fn alice_app() -> App {
    let me = Operator {
        sub: UserSub(
            "00000000-0000-0000-0000-0000000000a1"
                .parse()
                .expect("uuid"),
        ),
        email: "alice@acme.example".into(),
        permissions: PermissionRef::ALL.into_iter().collect(),
    };
    let mut a = App::new(
        config(false),
        Keymap::defaults(),
        Theme::default_for(false, "green"),
        Some(me),
    );
    a.clock = Clock::manual();
    answer_all(&mut a);
    a.update(ch('2'));
    answer_all(&mut a);
    a
}

#[test]
fn disabling_or_demoting_oneself_needs_a_typed_confirmation() {
    let mut a = alice_app();
    a.update(ch('a'));
    assert!(matches!(a.dialog, Some(Dialog::TypeName { .. })));
    assert!(screen(&a).contains("This is you"));
    wait(&a);
    a.update(ch('y'));
    a.update(key(KeyCode::Enter));
    assert!(no_ops(&mut a), "y is not the email");
    a.update(key(KeyCode::Backspace));
    type_str(&mut a, "alice@acme.example");
    a.update(key(KeyCode::Enter));
    assert!(matches!(
        one::<UserOp>(&ops(&mut a)),
        Some(UserOp::SetEnabled { enabled: false, .. })
    ));
    // Removing one's own admin grant in the Roles form.
    let mut a = alice_app();
    a.update(ch('r'));
    answer_all(&mut a);
    a.update(ch(' ')); // untick admin
    a.update(ch('j'));
    a.update(ch('j'));
    a.update(ch(' ')); // tick viewer
    a.update(key(KeyCode::Enter));
    assert!(matches!(a.dialog, Some(Dialog::TypeName { .. })));
    let s = screen(&a);
    assert!(
        s.contains("This is you") && s.contains("Remove: admin"),
        "{s}"
    );
    wait(&a);
    type_str(&mut a, "alice@acme.example");
    a.update(key(KeyCode::Enter));
    assert!(matches!(
        one::<UserOp>(&ops(&mut a)),
        Some(UserOp::SetRoles { add, remove, .. })
            if add == vec!["viewer".to_string()] && remove == vec!["admin".to_string()]
    ));
    // Deleting oneself says so too.
    let mut a = alice_app();
    a.update(ch('d'));
    assert!(screen(&a).contains("This is you"));
    // Another user's disable is a plain y/n.
    let mut a = alice_app();
    a.update(ch('j'));
    a.update(ch('a'));
    assert!(matches!(a.dialog, Some(Dialog::Confirm { .. })));
}

#[test]
fn a_revoked_operator_is_signed_out_with_the_reason() {
    let mut a = app();
    a.update(ch('d'));
    wait(&a);
    a.update(ch('y'));
    let (id, _) = ops(&mut a).remove(0);
    a.update(Msg::OpDone {
        id,
        result: Err(ErrorReport::revoked(
            "your access was revoked: ops@hub.example no longer holds the ADMIN role",
        )),
    });
    assert!(a.operator.is_none(), "signed out");
    let s = screen(&a);
    assert!(s.contains("You were signed out"), "{s}");
    assert!(s.contains("holds the ADMIN role"), "{s}");
    assert!(
        !s.contains("Acme Research"),
        "the data is gone from the screen:\n{s}"
    );
}

fn snap80(name: &str, a: &App) {
    insta::assert_snapshot!(name, render(a, 80, 24).backend());
}

#[test]
fn safety_dialogs_at_80x24() {
    // Quit with a change running.
    let mut a = app();
    a.update(ch('d'));
    wait(&a);
    a.update(ch('y'));
    let _ = ops(&mut a);
    a.update(ch('q'));
    snap80("safety_quit_when_done_80x24", &a);
    wait(&a);
    a.update(ch('y'));
    snap80("safety_quitting_notice_80x24", &a);
    // The member Roles confirmation.
    let mut a = app();
    a.update(key(KeyCode::Enter));
    answer_all(&mut a);
    a.update(ch('r'));
    answer_all(&mut a);
    a.update(ch(' '));
    a.update(ch('j'));
    a.update(ch(' '));
    a.update(key(KeyCode::Enter));
    snap80("safety_save_member_roles_80x24", &a);
    // Disabling oneself.
    let mut a = alice_app();
    a.update(ch('a'));
    snap80("safety_disable_yourself_80x24", &a);
}

/// Long work that allows it runs as an abortable task: the footer names it, Esc cancels it
/// (the loop aborts the task), and its late reply is dropped. A change that is not safe to
/// abandon is never cancelled by Esc.
#[test]
fn an_export_can_be_cancelled_and_a_change_cannot() {
    use hubdeck::tui::screens::audit::data::Export;
    let mut a = app();
    a.update(ch('6'));
    answer_all(&mut a);
    a.update(ch('x'));
    // The format is asked once (CSV first), then the export runs.
    assert!(screen(&a).contains("CSV"), "{}", screen(&a));
    a.update(key(KeyCode::Enter));
    let reqs = a.take_requests();
    let id = reqs
        .iter()
        .find_map(|r| match r {
            Request::Op { id, op } if op.is::<Export>() => Some(*id),
            _ => None,
        })
        .expect("an export request");
    assert_eq!(a.cancellable(), Some((id, "export audit")));
    assert!(
        screen(&a).contains("Esc cancel export audit"),
        "{}",
        screen(&a)
    );
    // It reports how far it got; the footer says so.
    a.update(Msg::Progress { id, done: 1234 });
    assert!(
        screen(&a).contains("Esc cancel export audit (1,234 rows)"),
        "{}",
        screen(&a)
    );
    a.update(key(KeyCode::Esc));
    let reqs = a.take_requests();
    assert!(
        reqs.iter()
            .any(|r| matches!(r, Request::Cancel { id: c } if *c == id)),
        "{reqs:?}"
    );
    assert!(a.ops.inflight.is_empty());
    assert!(screen(&a).contains("export audit cancelled"));
    // The task finished anyway before the abort landed: its reply is dropped.
    a.update(Msg::OpDone {
        id,
        result: Ok(OpOutcome {
            toast: "7 audit rows exported to /tmp/x.csv".into(),
            reveal: None,
        }),
    });
    assert!(!screen(&a).contains("rows exported"));
    assert!(
        a.take_requests().is_empty(),
        "no reload for a dropped reply"
    );

    // A soft delete in flight: Esc goes nowhere and the change keeps running.
    let mut a = app();
    a.update(ch('d'));
    wait(&a);
    a.update(ch('y'));
    assert!(matches!(
        one::<MandateOp>(&ops(&mut a)),
        Some(MandateOp::SoftDelete { .. })
    ));
    assert_eq!(a.cancellable(), None);
    let wide = crate::tui_snapshots::render(&a, 200, 30);
    let footer = crate::tui_snapshots::text_of(wide.backend().buffer());
    assert!(footer.contains("running: delete mandate"), "{footer}");
    a.update(key(KeyCode::Esc));
    assert_eq!(a.ops.inflight.len(), 1);
    assert!(
        a.take_requests()
            .iter()
            .all(|r| !matches!(r, Request::Cancel { .. }))
    );
}

/// Reading the registrations never writes: `pending` rows are settled only by `:reconcile`,
/// which runs as a change of its own (refused in read-only mode like every change).
#[test]
fn reconcile_is_an_explicit_command() {
    use hubdeck::tui::screens::registrations::data::RegistrationOp;
    let mut a = app();
    a.update(ch('3'));
    let reqs = a.take_requests();
    assert!(
        reqs.iter().all(|r| !matches!(r, Request::Op { .. })),
        "opening the list starts no change"
    );
    answer(&mut a, reqs);
    a.update(ch(':'));
    type_str(&mut a, "reconcile");
    a.update(key(KeyCode::Enter));
    assert!(matches!(
        one::<RegistrationOp>(&ops(&mut a)),
        Some(RegistrationOp::Reconcile)
    ));
    assert_eq!(a.tab, Tab::Registrations);

    let mut a = crate::tui_snapshots::app_with(true, false);
    a.update(ch(':'));
    type_str(&mut a, "reconcile");
    a.update(key(KeyCode::Enter));
    assert!(no_ops(&mut a), "read-only: nothing runs");
    assert!(screen(&a).contains("read-only mode"));
}

/// The create-mandate form offers the plan catalogue once it has been read (the reference
/// plans before).
#[test]
fn the_create_form_offers_the_catalogue_plans() {
    use hubdeck::tui::screens::mandates::data::{LoadPlans, PlanKeys};
    let mut a = App::new(
        config(false),
        Keymap::defaults(),
        Theme::default_for(false, "green"),
        Some(crate::tui_snapshots::operator()),
    );
    let reqs = a.take_requests();
    let id = reqs
        .iter()
        .find_map(|r| match r {
            Request::Load { id, .. } if r.job::<LoadPlans>().is_some() => Some(*id),
            _ => None,
        })
        .expect("the catalogue is read with the first page");
    answer(&mut a, reqs);
    a.update(Msg::reply(
        id,
        hubdeck::tui::screens::mandates::Reply::Plans(Ok(PlanKeys(vec![
            "GOLD".into(),
            "TEAM".into(),
        ]))),
    ));
    a.update(ch('n'));
    assert!(screen(&a).contains("◀ GOLD ▶"), "{}", screen(&a));
}

/// A new search asks for its rows and the planner's estimate at once, and for the capped count
/// only when the rows have arrived: on a two-core bastion a broad search's count (a second pass
/// over the same matches) competed with its own page (issue 13: `/leeds` in tmux).
#[test]
fn the_count_of_a_new_search_waits_for_its_page() {
    use hubdeck::domain::page::Want;
    let wants = |reqs: &[Request]| -> Vec<Want> {
        reqs.iter()
            .filter_map(|r| match r {
                Request::Page { query, .. } => Some(query.want),
                _ => None,
            })
            .collect()
    };
    let mut a = app();
    for _ in 0..3 {
        answer_all(&mut a);
    }
    a.update(ch('/'));
    type_str(&mut a, "leeds");
    a.update(key(KeyCode::Enter));
    let reqs = a.take_requests();
    assert_eq!(wants(&reqs), vec![Want::Rows, Want::Estimate], "{reqs:?}");
    assert!(reqs.iter().all(|r| match r {
        Request::Page { query, .. } => query.search.as_deref() == Some("leeds"),
        _ => true,
    }));
    // Nothing more while the page is out, whatever else arrives (here: the estimate).
    let (page, others): (Vec<_>, Vec<_>) = reqs
        .into_iter()
        .partition(|r| matches!(r, Request::Page { query, .. } if query.want == Want::Rows));
    answer(&mut a, others);
    assert!(wants(&a.take_requests()).is_empty());
    // The page arrives: now the count.
    answer(&mut a, page);
    let reqs = a.take_requests();
    assert_eq!(wants(&reqs), vec![Want::CappedCount], "{reqs:?}");
    answer(&mut a, reqs);
    // Paging within the same search asks for no count again.
    a.update(key(KeyCode::PageDown));
    let reqs = a.take_requests();
    assert_eq!(wants(&reqs), vec![Want::Rows], "{reqs:?}");
    answer(&mut a, reqs);
    assert!(wants(&a.take_requests()).is_empty());
}
