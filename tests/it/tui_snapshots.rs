//! The console through ratatui's TestBackend: insta snapshots of every screen, dialog, form and
//! the reveal panel at 80×24 and 160×48, style assertions through the buffer, and `App::update`
//! behaviour (stale pages dropped, failures shown in a dialog while the previous page stays).

use std::collections::BTreeSet;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use hubdeck::domain::{DisplayText, Page, PermissionRef, Secret, UserSub};
use hubdeck::domain::{MandateId, RegistrationId, TrustId};
use hubdeck::service::Operator;
use hubdeck::tui::action::{ErrorReport, OpBox, OpOutcome, RevealKeys, Row};
use hubdeck::tui::app::{App, AppConfig};
use hubdeck::tui::clock::Clock;
use hubdeck::tui::keymap::Keymap;
use hubdeck::tui::msg::{Msg, Reply, Request};
use hubdeck::tui::screens::Tab;
use hubdeck::tui::screens::audit::data::AuditRow;
use hubdeck::tui::screens::kit_slots::data::{KitSlotRow, LoadUsage, Usage};
use hubdeck::tui::screens::mandates::data::{MandateRow, MemberRow};
use hubdeck::tui::screens::registrations::data::RegistrationRow;
use hubdeck::tui::screens::roles::{LoadRoleChoices, PickUsers, RoleChoices, RoleTarget};
use hubdeck::tui::screens::signin::data::SignInJob;
use hubdeck::tui::screens::trusts::data::{TrustOp, TrustRow};
use hubdeck::tui::screens::users::data::{LoadDetail, UserRow};
use hubdeck::tui::theme::Theme;
use hubdeck::tui::widgets::table::Fetched;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

pub fn config(read_only: bool) -> AppConfig {
    AppConfig {
        environment: "staging".into(),
        environment_color: "green".into(),
        read_only,
        directory_kind: "local".into(),
        search_debounce_ms: 250,
        demo_credentials: None,
        idle: None,
    }
}

pub fn operator() -> Operator {
    Operator {
        sub: UserSub(uuid::Uuid::from_u128(0x1111)),
        email: "ops@hub.example".into(),
        permissions: PermissionRef::ALL.into_iter().collect::<BTreeSet<_>>(),
    }
}

pub fn app_with(read_only: bool, mono: bool) -> App {
    let mut app = App::new(
        config(read_only),
        Keymap::defaults(),
        Theme::default_for(mono, "green"),
        Some(operator()),
    );
    // A manual clock: confirmations ignore keys for 300 ms, and tests say when time passes.
    app.clock = Clock::manual();
    // Ages (the trusts' heartbeat) are counted to a fixed day: the seeded beat is 17 days old.
    app.screen_mut(Tab::Trusts).table_mut().ages_at = Some(at("2026-12-07 09:15"));
    app.update(Msg::Health {
        db: true,
        directory: true,
        latency: std::time::Duration::ZERO,
        approvals: None,
    });
    answer_all(&mut app);
    app
}

pub fn app() -> App {
    app_with(false, false)
}

pub fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

pub fn ch(c: char) -> Msg {
    key(KeyCode::Char(c))
}

/// Lets the 300 ms confirmation guard pass (the operator read the dialog).
pub fn wait(app: &App) {
    app.clock.advance(std::time::Duration::from_millis(400));
}

pub fn type_str(app: &mut App, s: &str) {
    for c in s.chars() {
        app.update(ch(c));
    }
}

pub fn d(s: &str) -> DisplayText {
    DisplayText::new(s)
}

pub fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
        .expect("a test time")
        .and_utc()
}

pub fn uuid(s: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(s).expect("a test uuid")
}

pub fn sub(s: &str) -> UserSub {
    UserSub(uuid(s))
}

pub fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

/// The typed page of `list` the screens are shown (each screen's own row type).
/// A page of mandate rows as the mandates screen's reply.
pub fn mandates_page(p: Page<MandateRow>) -> Reply {
    MandateRow::reply(Fetched {
        want: hubdeck::domain::page::Want::Rows,
        page: Ok(p),
    })
}

/// A typed row as the page reply of the screen that lists it.
pub trait PageOf: Sized {
    fn reply(fetched: Fetched<Self>) -> Reply;
}

macro_rules! page_of {
    ($($row:ty => $screen:ident :: $variant:ident;)*) => {
        $(impl PageOf for $row {
            fn reply(fetched: Fetched<Self>) -> Reply {
                hubdeck::tui::screens::$screen::Reply::$variant(fetched).into()
            }
        })*
    };
}

page_of! {
    MandateRow => mandates::Page;
    MemberRow => mandates::MemberPage;
    UserRow => users::Page;
    RegistrationRow => registrations::Page;
    TrustRow => trusts::Page;
    KitSlotRow => kit_slots::Page;
    AuditRow => audit::Page;
}

pub fn rows_for(list: &str, query: &hubdeck::domain::PageQuery) -> (u64, Reply) {
    fn page<T: PageOf>(
        items: Vec<T>,
        total: Option<u64>,
        q: &hubdeck::domain::PageQuery,
    ) -> (u64, Reply) {
        let total = total.unwrap_or(items.len() as u64);
        (
            total,
            T::reply(Fetched {
                want: q.want,
                page: Ok(Page {
                    total,
                    items,
                    page: q.page,
                    page_size: q.page_size,
                    next_cursor: None,
                    nav: hubdeck::domain::page::PageNav {
                        first: Some(hubdeck::domain::page::Cursor {
                            keys: vec![Some("a".into())],
                            id: "1".into(),
                        }),
                        last: Some(hubdeck::domain::page::Cursor {
                            keys: vec![Some("z".into())],
                            id: "2".into(),
                        }),
                        at_start: q.page == 1,
                        at_end: false,
                    },
                }),
            }),
        )
    }
    let mandate = |id: &str, name: &str, label: &str, enabled: bool, created: &str| MandateRow {
        id: MandateId(uuid(id)),
        name: name.into(),
        label: some(label),
        enabled,
        created_at: at(created),
        plan: Some("TRIAL_14D".into()),
        deleted_at: None,
        version: hubdeck::service::versions::Version(1),
    };
    match list {
        "mandates" => page(
            vec![
                mandate(
                    "00000000-0000-0000-0000-00000000000a",
                    "Acme Research",
                    "acme",
                    true,
                    "2026-11-01 09:00",
                ),
                mandate(
                    "00000000-0000-0000-0000-00000000000b",
                    "Beta Hospital",
                    "beta",
                    true,
                    "2026-11-02 10:30",
                ),
                mandate(
                    "00000000-0000-0000-0000-00000000000c",
                    "Evil\u{1b}[31mRed\u{202e}txt",
                    "evil",
                    false,
                    "2026-11-03 11:45",
                ),
            ],
            Some(12_345),
            query,
        ),
        "members" => page(
            vec![
                MemberRow {
                    membership_id: hubdeck::domain::MembershipId(uuid(
                        "00000000-0000-0000-0000-0000000000b1",
                    )),
                    user_id: sub("00000000-0000-0000-0000-0000000000a1"),
                    who: some("alice@acme.example"),
                    full_name: some("Alice Admin"),
                    role_labels: vec!["admin".into()],
                    is_admin: true,
                    enabled: true,
                    version: hubdeck::service::versions::Version(1),
                },
                MemberRow {
                    membership_id: hubdeck::domain::MembershipId(uuid(
                        "00000000-0000-0000-0000-0000000000b2",
                    )),
                    user_id: sub("00000000-0000-0000-0000-0000000000a2"),
                    who: some("bob@acme.example"),
                    full_name: some("Bob Member"),
                    role_labels: vec!["member".into()],
                    is_admin: false,
                    enabled: true,
                    version: hubdeck::service::versions::Version(1),
                },
            ],
            None,
            query,
        ),
        "users" => page(
            vec![
                UserRow {
                    sub: sub("00000000-0000-0000-0000-0000000000a1"),
                    email: "alice@acme.example".into(),
                    name: some("Alice Admin"),
                    organisation: some("Acme"),
                    roles: vec!["admin".into()],
                    enabled: true,
                    status: "CONFIRMED".into(),
                    version: hubdeck::service::versions::Version(0),
                },
                UserRow {
                    sub: sub("00000000-0000-0000-0000-0000000000a3"),
                    email: "carol@nhs.example".into(),
                    name: some("Carol Viewer"),
                    organisation: some("NHS"),
                    roles: vec!["viewer".into()],
                    enabled: false,
                    status: "FORCE_CHANGE_PASSWORD".into(),
                    version: hubdeck::service::versions::Version(0),
                },
            ],
            None,
            query,
        ),
        "registrations" => page(
            vec![RegistrationRow {
                id: RegistrationId(uuid("00000000-0000-0000-0000-0000000000e1")),
                email: "dave@site.example".into(),
                state: "roles_pending".into(),
                roles: vec!["researcher".into()],
                last_error: some("directory unavailable (transient): 503"),
                created_at: at("2026-11-20 08:00"),
                sub: Some(UserSub(uuid("00000000-0000-0000-0000-0000000000b2"))),
                rollback_error: None,
                version: 1,
            }],
            None,
            query,
        ),
        "trusts" => page(
            vec![TrustRow {
                id: TrustId(uuid("00000000-0000-0000-0000-0000000000f1")),
                name: "Leeds Teaching".into(),
                code: "LEEDS".into(),
                region: some("North East and Yorkshire"),
                slot_name: some("Trust_001"),
                created_at: at("2026-11-05 12:00"),
                last_heartbeat: Some(at("2026-11-20 09:15")),
                key_set_at: at("2026-11-05 12:00"),
                keys_unconfirmed_since: None,
                version: 1,
            }],
            None,
            query,
        ),
        "kit slots" => page(
            vec![
                KitSlotRow {
                    slot_name: "Trust_001".into(),
                    slot_number: 1,
                    free: false,
                    trust: "Leeds Teaching".into(),
                    assigned_at: Some(at("2026-11-05 12:00")),
                },
                KitSlotRow {
                    slot_name: "Trust_002".into(),
                    slot_number: 2,
                    free: true,
                    trust: String::new(),
                    assigned_at: None,
                },
            ],
            None,
            query,
        ),
        "audit" => page(
            vec![AuditRow {
                id: uuid::Uuid::from_u128(0xa1),
                occurred_at: at("2026-11-05 12:00"),
                source: "trusts".into(),
                event: "TRUST_REGISTERED".into(),
                action: "Trust registered".into(),
                actor: "ops@hub.example".into(),
                subject: "Leeds Teaching".into(),
                target: None,
                via: "tui".into(),
                changes: hubdeck::service::audit_view::audit_diff(&serde_json::json!({
                    "before": null,
                    "after": {"name": "Leeds Teaching", "code": "LEEDS"}
                })),
            }],
            None,
            query,
        ),
        other => panic!("no test rows for {other}"),
    }
}

pub const ROLE_ADMIN: &str = "00000000-0000-0000-0000-0000000000f1";
pub const ROLE_MEMBER: &str = "00000000-0000-0000-0000-0000000000f2";
pub const ROLE_VIEWER: &str = "00000000-0000-0000-0000-0000000000f3";
pub const ROLE_STEWARD: &str = "00000000-0000-0000-0000-0000000000f4";

/// What the service answers for a Roles form: alice holds the global `admin` grant; in a
/// mandate she holds `admin` and the mandate's own `data steward`.
pub fn role_choices_for(target: &RoleTarget) -> RoleChoices {
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    match target {
        RoleTarget::User { sub } => RoleChoices {
            options: pairs(&[
                ("admin", "admin"),
                ("researcher", "researcher"),
                ("viewer", "viewer"),
            ]),
            held: if sub.to_string().ends_with("a1") {
                vec!["admin".into()]
            } else {
                vec!["viewer".into()]
            },
        },
        RoleTarget::Member { user_sub, .. } => RoleChoices {
            options: pairs(&[
                (ROLE_ADMIN, "admin"),
                (ROLE_MEMBER, "member"),
                (ROLE_VIEWER, "viewer"),
                (ROLE_STEWARD, "data steward (this mandate)"),
            ]),
            held: match user_sub.map(|s| s.to_string()) {
                Some(s) if s.ends_with("a1") => vec![ROLE_ADMIN.into(), ROLE_STEWARD.into()],
                Some(_) => vec![ROLE_MEMBER.into()],
                None => Vec::new(),
            },
        },
    }
}

/// Answers every queued request with fixed data (pages, summaries, health).
pub fn answer_all(app: &mut App) {
    // A page's reply releases its held-back count (`TableView::deferred_count`): answer that too.
    for _ in 0..3 {
        let reqs = app.take_requests();
        if reqs.is_empty() {
            break;
        }
        answer(app, reqs);
    }
}

/// Answers `reqs` like [`answer_all`] and returns the mutations among them (unanswered).
pub fn answer(app: &mut App, reqs: Vec<Request>) -> Vec<(u64, OpBox)> {
    let mut ops = Vec::new();
    for req in reqs {
        if let Some(LoadUsage) = req.job::<LoadUsage>() {
            let Request::Load { id, .. } = req else {
                continue;
            };
            app.update(Msg::reply(
                id,
                hubdeck::tui::screens::kit_slots::Reply::Usage(Ok(Usage { used: 1, total: 2 })),
            ));
            continue;
        }
        if req.job::<LoadDetail>().is_some() {
            let Request::Load { id, .. } = req else {
                continue;
            };
            app.update(Msg::reply(
                id,
                hubdeck::tui::screens::users::Reply::Detail(Ok(vec![
                    ("Email".to_string(), d("alice@acme.example")),
                    ("Grants".into(), d("admin")),
                    ("Mandates".into(), d("Acme Research (admin)")),
                    ("Registration".into(), d("complete")),
                ])),
            ));
            continue;
        }
        if let Some(LoadRoleChoices(target)) = req.job::<LoadRoleChoices>() {
            let choices = role_choices_for(target);
            let Request::Load { id, .. } = req else {
                continue;
            };
            app.update(Msg::reply(id, Reply::Choices(Ok(choices))));
            continue;
        }
        if req.job::<PickUsers>().is_some() {
            let Request::Load { id, .. } = req else {
                continue;
            };
            app.update(Msg::reply(
                id,
                Reply::Picked(Ok(vec![Row::new(
                    "00000000-0000-0000-0000-0000000000a3",
                    [d("carol@nhs.example"), d("Carol Viewer")],
                )])),
            ));
            continue;
        }
        match req {
            Request::Op { id, op } => ops.push((id, op)),
            Request::Page {
                id, list, query, ..
            } => {
                let (_, page) = rows_for(list, &query);
                app.update(Msg::reply(id, page));
            }
            Request::FilterValues { id, column, .. } => app.update(Msg::reply(
                id,
                Reply::FilterValues {
                    column,
                    values: Ok(vec!["true".to_string(), "false".to_string()]),
                },
            )),
            _ => {}
        }
    }
    ops
}

pub fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| app.draw(f)).expect("draw");
    t
}

fn snap(name: &str, app: &App) {
    for (w, h) in SIZES {
        let t = render(app, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
    }
}

pub fn text_of(buf: &Buffer) -> String {
    let mut s = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

/// Position of the first cell of `needle` on screen.
pub fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut xs = Vec::new();
        for x in 0..buf.area.width {
            let sym = buf[(x, y)].symbol();
            for _ in sym.chars() {
                xs.push(x);
            }
            line.push_str(sym);
        }
        if let Some(i) = line.find(needle) {
            let ci = line[..i].chars().count();
            return Some((xs[ci], y));
        }
    }
    None
}

#[test]
fn screens() {
    let mut a = app();
    snap("mandates", &a);
    a.update(ch('2'));
    answer_all(&mut a);
    snap("users", &a);
    a.update(key(KeyCode::Enter));
    answer_all(&mut a);
    snap("user_detail", &a);
    a.update(key(KeyCode::Esc));
    a.update(ch('3'));
    answer_all(&mut a);
    snap("registrations", &a);
    a.update(ch('4'));
    answer_all(&mut a);
    snap("trusts", &a);
    a.update(ch('5'));
    answer_all(&mut a);
    snap("kit_slots", &a);
    a.update(ch('6'));
    answer_all(&mut a);
    snap("audit", &a);
    a.update(ch('1'));
    a.update(key(KeyCode::Enter));
    answer_all(&mut a);
    snap("members", &a);
}

#[test]
fn sign_in_and_new_password() {
    let mut a = App::new(
        config(false),
        Keymap::defaults(),
        Theme::default_for(false, "green"),
        None,
    );
    snap("sign_in", &a);
    type_str(&mut a, "not-an-email");
    snap("sign_in_invalid_email", &a);
    let mut a = App::new(
        config(false),
        Keymap::defaults(),
        Theme::default_for(false, "green"),
        None,
    );
    type_str(&mut a, "ops@hub.example");
    a.update(key(KeyCode::Tab));
    type_str(&mut a, "secret-pw");
    a.update(key(KeyCode::Enter));
    let reqs = a.take_requests();
    let id = reqs
        .iter()
        .find_map(|r| match r.job::<SignInJob>() {
            Some(SignInJob::Password { email, password }) => {
                assert_eq!(email, "ops@hub.example");
                assert_eq!(password.expose(), "secret-pw");
                r.read_id()
            }
            _ => None,
        })
        .expect("a sign-in request");
    a.update(Msg::reply(
        id,
        Reply::SignIn(Err(ErrorReport::msg(
            "sign-in refused: wrong email or password",
        ))),
    ));
    snap("sign_in_refused", &a);
    let screen = text_of(render(&a, 80, 24).backend().buffer());
    assert!(!screen.contains("secret-pw"));
    a.update(Msg::reply(
        id,
        Reply::SignIn(Ok(hubdeck::tui::action::SignInReply::NewPasswordRequired(
            hubdeck::directory::NewPasswordChallenge {
                username: "ops@hub.example".into(),
                sub: None,
                session: Secret::new("s"),
            },
        ))),
    ));
    // The earlier answer was consumed; a second one with the same id is stale.
    assert!(a.operator.is_none());
    assert!(a.signin.challenge.is_none());
}

#[test]
fn forms() {
    let mut a = app();
    a.update(ch('n'));
    snap("form_create_mandate", &a);
    a.update(key(KeyCode::Enter));
    snap("form_create_mandate_invalid", &a);
    a.update(key(KeyCode::Esc));
    a.update(ch('e'));
    snap("form_edit_mandate", &a);
    a.update(key(KeyCode::Esc));
    a.update(key(KeyCode::Enter));
    answer_all(&mut a);
    a.update(ch('n'));
    type_str(&mut a, "carol");
    answer_all(&mut a);
    snap("form_add_member", &a);
    a.update(key(KeyCode::Esc));
    a.update(ch('r'));
    answer_all(&mut a);
    snap("form_member_roles", &a);
    a.update(key(KeyCode::Esc));
    a.update(ch('2'));
    answer_all(&mut a);
    a.update(ch('n'));
    type_str(&mut a, "bad-email");
    snap("form_register_user", &a);
    a.update(key(KeyCode::Esc));
    a.update(ch('r'));
    answer_all(&mut a);
    snap("form_user_roles", &a);
    a.update(key(KeyCode::Esc));
    a.update(ch('4'));
    answer_all(&mut a);
    a.update(ch('n'));
    type_str(&mut a, "Leeds");
    a.update(key(KeyCode::Tab));
    type_str(&mut a, "x");
    a.update(key(KeyCode::Tab));
    a.update(key(KeyCode::Right));
    snap("form_register_trust", &a);
    a.update(key(KeyCode::Esc));
    a.update(ch('3'));
    answer_all(&mut a);
    a.update(ch('m'));
    snap("form_resolve_registration", &a);
}

#[test]
fn dialogs() {
    let mut a = app();
    a.update(ch('d'));
    wait(&a);
    snap("dialog_confirm_delete", &a);
    a.update(ch('n'));
    assert!(a.dialog.is_none());
    a.update(ch('D'));
    wait(&a);
    type_str(&mut a, "wrong");
    a.update(key(KeyCode::Enter));
    snap("dialog_type_name_mismatch", &a);
    assert!(
        a.take_requests()
            .iter()
            .all(|r| !matches!(r, Request::Op { .. }))
    );
    a.update(key(KeyCode::Esc));
    a.update(ch('f'));
    snap("dialog_filter_columns", &a);
    // The operator picks among the columns' titles, never the list's raw column names.
    let shown = text_of(render(&a, 80, 24).backend().buffer());
    assert!(
        shown.contains("▶ Plan") && shown.contains("Enabled"),
        "{shown}"
    );
    assert!(!shown.contains("▶ plan"), "{shown}");
    a.update(key(KeyCode::Down));
    a.update(key(KeyCode::Enter));
    answer_all(&mut a);
    snap("dialog_filter_values", &a);
    let shown = text_of(render(&a, 80, 24).backend().buffer());
    assert!(shown.contains("Filter Enabled"), "{shown}");
    a.update(key(KeyCode::Esc));
    a.update(ch('?'));
    snap("help", &a);
    a.update(key(KeyCode::Esc));
    a.update(ch(':'));
    type_str(&mut a, "mandate acme");
    snap("palette", &a);
    a.update(key(KeyCode::Esc));
    // An error dialog with the full cause chain.
    a.update(ch('n'));
    type_str(&mut a, "Acme");
    a.update(key(KeyCode::Enter));
    let id = a
        .take_requests()
        .into_iter()
        .find_map(|r| match r {
            Request::Op { id, .. } => Some(id),
            _ => None,
        })
        .expect("op request");
    a.update(Msg::OpDone {
        id,
        result: Err(ErrorReport {
            chain: vec![
                "mandate \"Acme\" already exists".into(),
                "unique constraint mandate_name_key violated".into(),
            ],
            ..Default::default()
        }),
    });
    snap("dialog_error", &a);
    let buf = render(&a, 80, 24).backend().buffer().clone();
    let (x, y) = find(&buf, "mandate \"Acme\" already exists").expect("error shown");
    assert_eq!(buf[(x, y)].fg, Color::LightRed, "errors are red");
    assert!(
        find(
            &buf,
            "caused by: unique constraint mandate_name_key violated"
        )
        .is_some()
    );
}

fn reveal_app() -> App {
    let mut a = app();
    a.update(ch('4'));
    answer_all(&mut a);
    a.update(ch('n'));
    type_str(&mut a, "Leeds Teaching");
    a.update(key(KeyCode::Tab));
    type_str(&mut a, "leeds");
    a.update(key(KeyCode::Enter));
    let id = a
        .take_requests()
        .into_iter()
        .find_map(|r| match r {
            Request::Op { id, op } => {
                assert!(matches!(op.downcast_ref(), Some(TrustOp::Register { code, .. }) if code == "LEEDS"));
                Some(id)
            }
            _ => None,
        })
        .expect("register request");
    a.update(Msg::OpDone {
        id,
        result: Ok(OpOutcome {
            toast: "trust Leeds Teaching registered".into(),
            reveal: Some(RevealKeys {
                title: "Trust registered — keys".into(),
                trust: d("Leeds Teaching (LEEDS)"),
                details: vec![("Kit slot".into(), d("Trust_001 (#1)"))],
                api_key: Secret::new("hubk_TESTKEY0123456789abcdefghijklmnopqrstuvwxyzAB_c0ffee"),
                internal_key: Some(Secret::new(
                    "hubi_INTERNAL0123456789abcdefghijklmnopqrstuv_beef01",
                )),
                on_acknowledged: None,
            }),
        }),
    });
    answer_all(&mut a);
    a
}

#[test]
fn reveal_panel() {
    let mut a = reveal_app();
    snap("reveal", &a);
    let text = text_of(render(&a, 160, 48).backend().buffer());
    assert!(text.contains("hubk_TESTKEY0123456789abcdefghijklmnopqrstuvwxyzAB_c0ffee"));
    assert!(text.contains("shown once"));
    // Esc and q do not close it.
    a.update(key(KeyCode::Esc));
    a.update(ch('q'));
    assert!(a.reveal.is_some() && !a.quit);
    a.update(ch('c'));
    wait(&a);
    snap("reveal_copy_warning", &a);
    a.update(ch('y'));
    let effects = a.take_effects();
    assert_eq!(effects.len(), 1, "one OSC 52 copy");
    a.update(key(KeyCode::Enter));
    type_str(&mut a, "ffe");
    snap("reveal_acknowledge", &a);
    a.update(key(KeyCode::Enter));
    assert!(a.reveal.is_some(), "wrong acknowledgement keeps it open");
    a.update(key(KeyCode::Enter)); // already in acknowledge mode
    type_str(&mut a, "ffee");
    a.update(key(KeyCode::Enter));
    assert!(a.reveal.is_none(), "acknowledged");
    let text = text_of(render(&a, 160, 48).backend().buffer());
    assert!(!text.contains("TESTKEY"), "the key is gone from the screen");
}

#[test]
fn too_small_and_read_only_and_monochrome() {
    let a = app();
    let t = render(&a, 79, 23);
    insta::assert_snapshot!("too_small", t.backend());
    let a = app_with(true, false);
    snap("read_only", &a);
    let buf = render(&a, 80, 24).backend().buffer().clone();
    let (x, y) = find(&buf, "READ-ONLY").expect("badge");
    assert_eq!(buf[(x, y)].bg, Color::Yellow);
    // Mutation hints are struck through.
    let (x, y) = find(&buf, "n new").expect("new hint");
    assert!(buf[(x, y)].modifier.contains(Modifier::CROSSED_OUT));

    let a = app_with(false, true);
    let buf = render(&a, 80, 24).backend().buffer().clone();
    for y in 0..24 {
        for x in 0..80 {
            let c = &buf[(x, y)];
            assert!(
                c.fg == Color::Reset && c.bg == Color::Reset,
                "colour at {x},{y} under NO_COLOR"
            );
        }
    }
    let (x, y) = find(&buf, "Acme Research").expect("row");
    assert!(
        buf[(x, y)].modifier.contains(Modifier::REVERSED),
        "selection is reverse video"
    );
    assert!(
        find(&buf, "▶ Acme Research").is_some(),
        "glyph cue for the selection"
    );
}

#[test]
fn styles_selected_row_and_environment() {
    let mut a = app();
    a.update(key(KeyCode::Down));
    let buf = render(&a, 80, 24).backend().buffer().clone();
    let (x, y) = find(&buf, "Beta Hospital").expect("row");
    assert_eq!(buf[(x, y)].bg, Color::Cyan, "selected row highlighted");
    let (x2, y2) = find(&buf, "Acme Research").expect("row");
    assert_ne!(buf[(x2, y2)].bg, Color::Cyan);
    let (ex, ey) = find(&buf, "staging").expect("environment");
    assert_eq!(ey, 0);
    assert_eq!(
        buf[(ex, ey)].bg,
        Color::Green,
        "environment colour from settings"
    );
    assert!(find(&buf, "rows 1–3 of 12,345").is_some());
}

#[test]
fn hostile_names_are_escaped() {
    let a = app();
    let text = text_of(render(&a, 160, 48).backend().buffer());
    assert!(text.contains("Evil\\x1b[31mRed\\u{202e}txt"), "{text}");
    assert!(!text.contains('\u{1b}') && !text.contains('\u{202e}'));
}

#[test]
fn stale_page_is_dropped() {
    let mut a = app();
    // Two reloads in a row: only the second answer counts.
    a.update(ch('s'));
    a.update(ch('s'));
    let reqs = a.take_requests();
    let ids: Vec<u64> = reqs
        .iter()
        .filter_map(|r| match r {
            Request::Page {
                id,
                list: "mandates",
                query,
                ..
            } if query.want == hubdeck::domain::page::Want::Rows => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 2);
    let page = |name: &str| Page {
        items: vec![MandateRow {
            id: MandateId(uuid::Uuid::from_u128(1)),
            name: name.into(),
            label: None,
            enabled: true,
            created_at: at("2026-11-01 09:00"),
            plan: None,
            deleted_at: None,
            version: hubdeck::service::versions::Version(1),
        }],
        total: 1,
        page: 1,
        page_size: 50,
        next_cursor: None,
        nav: Default::default(),
    };
    a.update(Msg::reply(ids[1], mandates_page(page("fresh"))));
    a.update(Msg::reply(ids[0], mandates_page(page("stale"))));
    assert_eq!(a.screen(Tab::Mandates).table().rows()[0].cell(0), "fresh");
    assert!(!a.screen(Tab::Mandates).table().loading());
    // Sort indicator on the name column after two presses: descending.
    let text = text_of(render(&a, 80, 24).backend().buffer());
    assert!(text.contains("Name ▼"), "{text}");
}

#[test]
fn failed_page_opens_error_dialog_and_keeps_previous_page() {
    let mut a = app();
    let before = a.screen(Tab::Mandates).table().rows().to_vec();
    a.update(key(KeyCode::PageDown));
    let id = a
        .take_requests()
        .into_iter()
        .find_map(|r| match r {
            Request::Page { id, .. } => Some(id),
            _ => None,
        })
        .expect("page 2 requested");
    // While loading, the previous page stays on screen with a spinner.
    let text = text_of(render(&a, 80, 24).backend().buffer());
    assert!(
        text.contains("Acme Research") && text.contains("loading"),
        "{text}"
    );
    a.update(Msg::reply(
        id,
        hubdeck::tui::screens::mandates::Reply::Page(Fetched {
            want: hubdeck::domain::page::Want::Rows,
            page: Err(ErrorReport {
                chain: vec!["database unavailable".into(), "connection refused".into()],
                ..Default::default()
            }),
        }),
    ));
    assert!(matches!(
        a.dialog,
        Some(hubdeck::tui::widgets::dialog::Dialog::Error { .. })
    ));
    assert_eq!(a.screen(Tab::Mandates).table().rows(), before.as_slice());
    assert_eq!(
        a.screen(Tab::Mandates).table().query.page,
        1,
        "query rolled back to the visible page"
    );
    let text = text_of(render(&a, 80, 24).backend().buffer());
    assert!(text.contains("caused by: connection refused"), "{text}");
    a.update(key(KeyCode::Esc));
    assert!(a.dialog.is_none());
    assert!(text_of(render(&a, 80, 24).backend().buffer()).contains("Acme Research"));
}

#[test]
fn debounced_search_and_palette() {
    let mut a = app();
    a.update(ch('/'));
    type_str(&mut a, "acme");
    assert!(
        a.take_requests()
            .iter()
            .all(|r| !matches!(r, Request::Page { .. })),
        "no request per keystroke"
    );
    for _ in 0..3 {
        a.update(Msg::Tick);
    }
    let reqs = a.take_requests();
    let q = reqs
        .iter()
        .find_map(|r| match r {
            Request::Page { query, .. } => Some(query.clone()),
            _ => None,
        })
        .expect("search after the debounce");
    assert_eq!(q.search.as_deref(), Some("acme"));
    assert_eq!(q.page, 1);
    a.update(key(KeyCode::Enter));
    // Palette: `:user bob` switches to Users with a search; history recalls it.
    a.update(ch(':'));
    type_str(&mut a, "user bob@x.example");
    a.update(key(KeyCode::Enter));
    assert_eq!(a.tab, Tab::Users);
    assert_eq!(
        a.screen(Tab::Users).table().query.search.as_deref(),
        Some("bob@x.example")
    );
    a.update(ch(':'));
    a.update(key(KeyCode::Up));
    assert_eq!(
        a.palette
            .as_ref()
            .map(|p| p.input.value().to_string())
            .as_deref(),
        Some("user bob@x.example")
    );
    a.update(key(KeyCode::Esc));
    // `:since` sets the audit time range (shown as a filter, sent with the page request).
    a.update(ch(':'));
    type_str(&mut a, "since 2026-11-01");
    a.update(key(KeyCode::Enter));
    assert_eq!(a.tab, Tab::Audit);
    let q = a
        .take_requests()
        .into_iter()
        .rev()
        .find_map(|r| match r {
            Request::Page {
                list: "audit",
                query,
                ..
            } => Some(query),
            _ => None,
        })
        .expect("audit page request");
    assert_eq!(q.filters[0].column, "since");
    a.update(ch(':'));
    type_str(&mut a, "quit");
    a.update(key(KeyCode::Enter));
    assert!(a.quit);
}

/// Measures (never asserts) a full redraw of a 200×60 table screen with 50 rows; the SPEC §8
/// budget is a median ≤ 2 ms. Run with `--nocapture` to see the number.
#[test]
fn redraw_200x60_is_measured() {
    let mut a = app();
    a.screen_mut(Tab::Mandates)
        .table_mut()
        .reload_for_test_page((0..50).map(|i| {
            Row::new(
                format!("{i}"),
                [
                    d(&format!("Mandate {i:05} with a longer name")),
                    d("label"),
                    d("yes"),
                    d("2026-11-01 09:00"),
                ],
            )
        }));
    let mut t = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    let mut times = Vec::new();
    for _ in 0..200 {
        let start = std::time::Instant::now();
        // A full redraw: clear the previous frame so every cell is rendered and diffed.
        t.clear().expect("clear");
        t.draw(|f| a.draw(f)).expect("draw");
        times.push(start.elapsed());
        a.update(Msg::Tick);
    }
    times.sort();
    eprintln!(
        "redraw 200x60 (50 rows): median {:?}, p95 {:?}",
        times[100], times[190]
    );
    assert!(text_of(t.backend().buffer()).contains("Mandate 00049"));
}

#[test]
fn new_password_challenge() {
    let mut a = App::new(
        config(false),
        Keymap::defaults(),
        Theme::default_for(false, "green"),
        None,
    );
    type_str(&mut a, "ops@hub.example");
    a.update(key(KeyCode::Tab));
    type_str(&mut a, "temporary-1");
    a.update(key(KeyCode::Enter));
    let id = a
        .take_requests()
        .into_iter()
        .find_map(|r| match r.job::<SignInJob>() {
            Some(SignInJob::Password { .. }) => r.read_id(),
            _ => None,
        })
        .expect("sign-in request");
    a.update(Msg::reply(
        id,
        Reply::SignIn(Ok(hubdeck::tui::action::SignInReply::NewPasswordRequired(
            hubdeck::directory::NewPasswordChallenge {
                username: "ops@hub.example".into(),
                sub: None,
                session: Secret::new("opaque"),
            },
        ))),
    ));
    type_str(&mut a, "new-password-1");
    a.update(key(KeyCode::Tab));
    type_str(&mut a, "new-password-2");
    a.update(key(KeyCode::Enter));
    snap("sign_in_new_password_mismatch", &a);
    assert!(
        a.take_requests()
            .iter()
            .all(|r| !matches!(r.job::<SignInJob>(), Some(SignInJob::NewPassword { .. })))
    );
    for _ in 0.."new-password-2".len() {
        a.update(key(KeyCode::Backspace));
    }
    type_str(&mut a, "new-password-1");
    a.update(key(KeyCode::Enter));
    let (id, pw) = a
        .take_requests()
        .into_iter()
        .find_map(|r| match r.job::<SignInJob>() {
            Some(SignInJob::NewPassword { password, .. }) => Some((r.read_id()?, password.clone())),
            _ => None,
        })
        .expect("new-password request");
    assert_eq!(pw.expose(), "new-password-1");
    a.update(Msg::reply(
        id,
        Reply::SignIn(Ok(hubdeck::tui::action::SignInReply::SignedIn(operator()))),
    ));
    assert!(a.operator.is_some());
    assert_eq!(a.tab, Tab::Mandates);
    assert!(a.take_requests().iter().any(|r| matches!(
        r,
        Request::Page {
            list: "mandates",
            ..
        }
    )));
}

#[test]
fn lost_database_shows_a_banner_and_recovers() {
    let mut a = app();
    let health = |db| Msg::Health {
        db,
        directory: true,
        latency: std::time::Duration::ZERO,
        approvals: None,
    };
    a.update(health(false));
    let buf = render(&a, 80, 24).backend().buffer().clone();
    let (x, y) = find(&buf, "database unreachable").expect("banner");
    assert_eq!(buf[(x, y)].fg, Color::LightRed);
    assert!(
        find(&buf, "Acme Research").is_some(),
        "the last data stays visible"
    );
    assert!(find(&buf, "DB ✗").is_some());
    a.update(health(true));
    let text = text_of(render(&a, 80, 24).backend().buffer());
    assert!(!text.contains("database unreachable") && text.contains("DB ●"));
    // Health is pinged periodically from ticks.
    for _ in 0..60 {
        a.update(Msg::Tick);
    }
    assert!(
        a.take_requests()
            .iter()
            .any(|r| matches!(r, Request::Health))
    );
}

#[test]
fn permissions_grey_out_what_the_operator_may_not_do() {
    let mut limited = operator();
    limited.permissions.clear();
    let mut a = App::new(
        config(false),
        Keymap::defaults(),
        Theme::default_for(false, "green"),
        Some(limited),
    );
    answer_all(&mut a);
    let buf = render(&a, 80, 24).backend().buffer().clone();
    let (x, y) = find(&buf, "n new").expect("hint");
    assert!(
        buf[(x, y)].modifier.contains(Modifier::CROSSED_OUT),
        "mandate create needs a SysAdmin"
    );
    let (x, y) = find(&buf, "4 Trusts").expect("tab");
    assert!(
        buf[(x, y)].modifier.contains(Modifier::CROSSED_OUT),
        "trusts need a SysAdmin"
    );
    a.update(ch('n'));
    assert!(a.form.is_none(), "the create form does not open");
    a.update(ch('2'));
    assert!(
        a.take_requests()
            .iter()
            .all(|r| !matches!(r, Request::Page { .. })),
        "no request for a denied tab"
    );
    snap("limited_operator_users", &a);
    assert!(text_of(render(&a, 80, 24).backend().buffer()).contains("not permitted"));
}

#[test]
fn scrolling_keeps_its_place() {
    let mut a = app();
    a.screen_mut(Tab::Mandates)
        .table_mut()
        .reload_for_test_page((0..50).map(|i| {
            Row::new(
                format!("{i}"),
                [d(&format!("Mandate {i:05}")), d("l"), d("yes"), d("x")],
            )
        }));
    let mut t = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    for _ in 0..30 {
        a.update(key(KeyCode::Down));
        t.draw(|f| a.draw(f)).expect("draw");
    }
    let text = text_of(t.backend().buffer());
    assert!(
        text.contains("▶ Mandate 00030") && !text.contains("Mandate 00000"),
        "{text}"
    );
    for _ in 0..5 {
        a.update(key(KeyCode::Up));
        t.draw(|f| a.draw(f)).expect("draw");
    }
    let text = text_of(t.backend().buffer());
    assert!(text.contains("▶ Mandate 00025"), "{text}");
    assert!(
        text.contains("Mandate 00030"),
        "the view did not jump back: {text}"
    );
}

fn snap80(name: &str, app: &App) {
    let t = render(app, 80, 24);
    insta::assert_snapshot!(format!("{name}_80x24"), t.backend());
}

/// The one Op request queued (panics if none); answers it with success and the refresh.
fn the_op<T: hubdeck::tui::action::Operation + Clone>(app: &mut App) -> T {
    let (id, op) = app
        .take_requests()
        .into_iter()
        .find_map(|r| match r {
            Request::Op { id, op } => Some((id, op)),
            _ => None,
        })
        .expect("op request");
    app.update(Msg::OpDone {
        id,
        result: Ok(OpOutcome::default()),
    });
    answer_all(app);
    op.downcast_ref::<T>()
        .cloned()
        .unwrap_or_else(|| panic!("unexpected op {op:?}"))
}

pub fn users_app(read_only: bool) -> App {
    let mut a = app_with(read_only, false);
    a.update(ch('2'));
    answer_all(&mut a);
    a
}

#[test]
fn user_actions_emit_their_requests() {
    use hubdeck::tui::screens::users::data::UserOp as Op;
    let alice = "00000000-0000-0000-0000-0000000000a1";
    let carol = "00000000-0000-0000-0000-0000000000a3";
    let mut a = users_app(false);

    // Disable (alice is enabled): y/n dialog, y runs it.
    a.update(ch('a'));
    wait(&a);
    snap80("dialog_disable_user", &a);
    assert!(a.take_requests().is_empty(), "nothing before confirming");
    a.update(ch('y'));
    match the_op::<Op>(&mut a) {
        Op::SetEnabled {
            sub,
            email,
            enabled,
            ..
        } => {
            assert_eq!(sub.to_string(), alice);
            assert_eq!(email, "alice@acme.example");
            assert!(!enabled);
        }
        other => panic!("unexpected op {other:?}"),
    }

    // Enable (carol is disabled).
    a.update(ch('j'));
    a.update(ch('a'));
    wait(&a);
    snap80("dialog_enable_user", &a);
    a.update(ch('y'));
    assert!(matches!(
        the_op::<Op>(&mut a),
        Op::SetEnabled { sub, enabled: true, .. } if sub.to_string() == carol
    ));

    // Cancel leaves nothing queued.
    a.update(ch('a'));
    wait(&a);
    a.update(ch('n'));
    assert!(a.dialog.is_none());
    assert!(
        a.take_requests()
            .iter()
            .all(|r| !matches!(r, Request::Op { .. }))
    );

    // Resend invite.
    a.update(ch('i'));
    wait(&a);
    snap80("dialog_resend_invite", &a);
    a.update(ch('y'));
    assert!(
        matches!(the_op::<Op>(&mut a), Op::ResendInvite { sub, .. } if sub.to_string() == carol)
    );

    // Edit profile: prefilled, inline validation, then the request.
    a.update(ch('e'));
    snap80("form_edit_profile", &a);
    for _ in 0.."Carol Viewer".len() {
        a.update(key(KeyCode::Backspace));
    }
    a.update(key(KeyCode::Enter));
    snap80("form_edit_profile_invalid", &a);
    assert!(
        a.take_requests()
            .iter()
            .all(|r| !matches!(r, Request::Op { .. })),
        "an empty name is refused before any request"
    );
    type_str(&mut a, "Carol V");
    a.update(key(KeyCode::Enter));
    match the_op::<Op>(&mut a) {
        Op::EditProfile {
            sub,
            name,
            organisation,
            ..
        } => {
            assert_eq!(sub.to_string(), carol);
            assert_eq!(name, "Carol V");
            assert_eq!(organisation, "NHS");
        }
        other => panic!("unexpected op {other:?}"),
    }
    assert!(a.form.is_none(), "the form closes on success");

    // Delete: type the email.
    a.update(ch('d'));
    wait(&a);
    type_str(&mut a, "carol@nhs");
    a.update(key(KeyCode::Enter));
    snap80("dialog_delete_user_mismatch", &a);
    assert!(
        a.take_requests()
            .iter()
            .all(|r| !matches!(r, Request::Op { .. }))
    );
    type_str(&mut a, ".example");
    a.update(key(KeyCode::Enter));
    assert!(matches!(the_op::<Op>(&mut a), Op::Delete { sub, .. } if sub.to_string() == carol));
}

#[test]
fn user_delete_partial_failure_shows_the_message() {
    let mut a = users_app(false);
    a.update(ch('d'));
    wait(&a);
    type_str(&mut a, "alice@acme.example");
    a.update(key(KeyCode::Enter));
    let id = a
        .take_requests()
        .into_iter()
        .find_map(|r| match r {
            Request::Op { id, .. } => Some(id),
            _ => None,
        })
        .expect("op request");
    a.update(Msg::OpDone {
        id,
        result: Err(ErrorReport {
            chain: vec![
                "grants (1) and profile of alice@acme.example were removed and audited, but \
                 deleting the directory identity failed: directory unavailable"
                    .into(),
            ],
            ..Default::default()
        }),
    });
    snap80("dialog_delete_user_partial_failure", &a);
    assert!(text_of(render(&a, 80, 24).backend().buffer()).contains("deleting the directory"));
}

#[test]
fn user_actions_do_nothing_in_read_only_mode() {
    let mut a = users_app(true);
    for c in ['a', 'i', 'e', 'd'] {
        a.update(ch(c));
        assert!(a.dialog.is_none(), "{c} opens no dialog in read-only mode");
        assert!(a.form.is_none(), "{c} opens no form in read-only mode");
        a.update(ch('y'));
        assert!(
            a.take_requests()
                .iter()
                .all(|r| !matches!(r, Request::Op { .. })),
            "{c} sends nothing in read-only mode"
        );
    }
    // At 120 columns every hint of the users footer fits (at 80 the screen's own hints give way
    // to `? help  q quit`, see footer_keeps_help_and_quit_in_sight).
    let buf = render(&a, 120, 24).backend().buffer().clone();
    let (x, y) = find(&buf, "a on/off").expect("hint");
    assert!(buf[(x, y)].modifier.contains(Modifier::CROSSED_OUT));
}

#[test]
fn footer_keeps_help_and_quit_in_sight() {
    let a = users_app(false);
    for w in [80u16, 100, 120, 200] {
        let buf = render(&a, w, 24).backend().buffer().clone();
        let footer = text_of(&buf).lines().last().unwrap_or_default().to_string();
        assert!(footer.contains("? help  q quit"), "{w} columns: {footer:?}");
        if w >= 120 {
            assert!(footer.contains("a on/off"), "{w} columns: {footer:?}");
        }
    }
}

#[test]
fn member_toggle_emits_its_request() {
    use hubdeck::tui::screens::mandates::data::MandateOp as Op;
    let mut a = app();
    a.update(key(KeyCode::Enter));
    answer_all(&mut a);
    a.update(ch('a'));
    wait(&a);
    snap80("dialog_disable_membership", &a);
    a.update(ch('y'));
    match the_op::<Op>(&mut a) {
        Op::SetMemberEnabled {
            mandate_id,
            user_sub,
            enabled,
            ..
        } => {
            assert_eq!(
                mandate_id.to_string(),
                "00000000-0000-0000-0000-00000000000a"
            );
            assert_eq!(user_sub.to_string(), "00000000-0000-0000-0000-0000000000a1");
            assert!(!enabled);
        }
        other => panic!("unexpected op {other:?}"),
    }
    // The service's last-admin refusal comes back as the error dialog.
    a.update(ch('a'));
    wait(&a);
    a.update(ch('y'));
    let id = a
        .take_requests()
        .into_iter()
        .find_map(|r| match r {
            Request::Op { id, .. } => Some(id),
            _ => None,
        })
        .expect("op request");
    a.update(Msg::OpDone {
        id,
        result: Err(ErrorReport {
            chain: vec!["conflict: alice@acme.example is the last admin of Acme Research".into()],
            ..Default::default()
        }),
    });
    assert!(matches!(
        a.dialog,
        Some(hubdeck::tui::widgets::dialog::Dialog::Error { .. })
    ));
    let mut ro = app_with(true, false);
    ro.update(key(KeyCode::Enter));
    answer_all(&mut ro);
    ro.update(ch('a'));
    ro.update(ch('y'));
    assert!(
        ro.take_requests()
            .iter()
            .all(|r| !matches!(r, Request::Op { .. }))
    );
}

/// PgUp back to page 1 asks for page 1 itself (the start of the list as it is now, and the same
/// statement as the query's first page, whose plan the store remembers); PgUp to any other page
/// is the keyset walk back from the first row shown.
#[test]
fn pgup_back_to_page_1_asks_for_page_1() {
    use hubdeck::domain::page::{Cursor, PageNav, Position, Want};
    let mut a = app();
    a.take_requests();
    let cursor = |n: u128| Cursor {
        keys: vec![Some(format!("Mandate {n}"))],
        id: uuid::Uuid::from_u128(n).to_string(),
    };
    let page = |first: u128, at_start: bool| Page {
        items: (first..first + 2)
            .map(|n| MandateRow {
                id: MandateId(uuid::Uuid::from_u128(n)),
                name: format!("Mandate {n}"),
                label: None,
                enabled: true,
                created_at: at("2026-11-01 09:00"),
                plan: None,
                deleted_at: None,
                version: hubdeck::service::versions::Version(1),
            })
            .collect(),
        total: 0,
        page: 1,
        page_size: 2,
        next_cursor: None,
        nav: PageNav {
            first: Some(cursor(first)),
            last: Some(cursor(first + 1)),
            at_start,
            at_end: false,
        },
    };
    // The rows request the key just sent, answered with `answer`; returns its query.
    let step = |a: &mut App, code: KeyCode, answer: Page<MandateRow>| {
        a.update(key(code));
        let (id, query) = a
            .take_requests()
            .into_iter()
            .find_map(|r| match r {
                Request::Page {
                    id,
                    list: "mandates",
                    query,
                    ..
                } if query.want == Want::Rows => Some((id, query)),
                _ => None,
            })
            .expect("a page request");
        a.update(Msg::reply(id, mandates_page(answer)));
        query
    };
    step(&mut a, KeyCode::Char('s'), page(1, true)); // a new sort: page 1
    let q = step(&mut a, KeyCode::PageDown, page(3, false));
    assert_eq!(q.position, Position::After(cursor(2)));
    let q = step(&mut a, KeyCode::PageDown, page(5, false));
    assert_eq!((q.page, q.position), (3, Position::After(cursor(4))));
    let q = step(&mut a, KeyCode::PageUp, page(3, false));
    assert_eq!((q.page, q.position), (2, Position::Before(cursor(5))));
    let q = step(&mut a, KeyCode::PageUp, page(1, true));
    assert_eq!((q.page, q.position), (1, Position::Offset));
}
