//! Issue 17 in the real binary (tmux, real PostgreSQL, LocalDirectory): a bracketed paste is
//! text — never keystrokes — so pasting `body`, `today\n` or `day` on a list changes nothing;
//! the same paste in the search box searches; a two-line paste fills one form field and
//! submits nothing; ctrl-c on the reveal panel does not open the copy prompt; keys pressed
//! behind "terminal too small" change nothing. Database state is compared before and after.

use crate::support::readback::global_role_ids;
use hubdeck::domain::RoleRef;

use crate::support::pg::fresh_db;
use crate::tui_e2e::{
    key_on_screen, seed_identity, seed_mandate, seed_operator, services, sha256_hex,
    start_signed_in,
};

/// Everything a stray key could change: trusts (with key hashes and slots), mandates, members,
/// and the audit row counts.
async fn state(pool: &hubdeck::store::Db) -> String {
    let trusts: Vec<(uuid::Uuid, String, String, String)> =
        sqlx::query_as("SELECT id, name, code, api_key_hash FROM trust ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("trusts");
    let slots: Vec<(String, Option<uuid::Uuid>)> = sqlx::query_as(
        "SELECT slot_name, assigned_to_trust_id FROM fl_kit_slot ORDER BY slot_name",
    )
    .fetch_all(pool)
    .await
    .expect("slots");
    let mandates: Vec<(uuid::Uuid, String, bool, bool)> =
        sqlx::query_as("SELECT id, name, enabled, deleted_at IS NOT NULL FROM mandate ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("mandates");
    let members: Vec<(uuid::Uuid, uuid::Uuid, bool)> =
        sqlx::query_as("SELECT user_id, mandate_id, enabled FROM user_mandate ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("members");
    let audits: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM trusts_audit), (SELECT count(*) FROM mandate_audit), \
         (SELECT count(*) FROM users_audit)",
    )
    .fetch_one(pool)
    .await
    .expect("audit counts");
    format!("{trusts:?}\n{slots:?}\n{mandates:?}\n{members:?}\n{audits:?}")
}

async fn seed_trust(pool: &hubdeck::store::Db, name: &str, code: &str) {
    sqlx::query("INSERT INTO trust (name, code, api_key_hash) VALUES ($1, $2, $3)")
        .bind(name)
        .bind(code)
        .bind(sha256_hex(name))
        .execute(pool)
        .await
        .expect("trust");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bracketed_paste_is_text_never_keystrokes() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let op = seed_operator(&s).await;
    seed_mandate(&db, "Acme Research", op).await;
    seed_trust(&db.pool, "Leeds Teaching", "LEEDS").await;
    seed_trust(&db.pool, "Everybody Health", "EVERY").await;
    let before = state(&db.pool).await;

    let t = start_signed_in(&db, &[]);
    t.wait_for(&["Acme Research"]);
    // `day` on Mandates: d (delete) + a + y would confirm a deletion if replayed as keys.
    t.paste("day");
    t.wait_for(&["paste ignored"]);
    t.keys(&["4"]);
    t.wait_for(&["Leeds Teaching", "Everybody Health"]);
    // `body` on Trusts: o (rotate) + y (confirm) would rotate the selected key.
    t.paste("body");
    t.paste("today\n");
    t.settle();
    t.paste("y");
    // The loop has handled the pastes once a later key is drawn.
    t.keys(&["/"]);
    let cap = t.wait_for(&["/ search", "Leeds Teaching"]);
    assert!(!cap.contains("Rotate API key"), "no dialog opened:\n{cap}");
    assert!(!cap.contains("shown once"), "{cap}");
    // The same paste in the search box searches for it.
    t.paste("body");
    let cap = t.wait_for(&["Everybody Health", "rows 1–1 of 1"]);
    assert!(!cap.contains("Leeds Teaching"), "{cap}");
    t.keys(&["Escape"]);
    t.wait_for(&["Leeds Teaching", "rows 1–2 of 2"]);
    // A two-line paste into the trust form fills one field and submits nothing.
    t.keys(&["n"]);
    t.wait_for(&["Register trust"]);
    t.paste("Bradford Royal\nBRAD\n");
    t.wait_for(&["Bradford Royal BRAD"]);
    t.settle();
    let cap = t.capture();
    assert!(
        cap.contains("Register trust") && !cap.contains("shown once"),
        "{cap}"
    );
    t.keys(&["Escape"]);
    t.wait_gone(&["Register trust"]);
    assert_eq!(
        state(&db.pool).await,
        before,
        "nothing changed in the database"
    );
    t.keys(&["q"]);
    t.wait_for(&["__EXIT:0", "__TTY:icanon"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_on_the_reveal_panel_does_not_open_the_copy_prompt() {
    let db = fresh_db().await;
    let s = services(&db).await;
    seed_operator(&s).await;
    let t = start_signed_in(&db, &[]);
    t.keys(&["4"]);
    t.wait_for(&["Trusts", "rows"]);
    t.keys(&["n"]);
    t.wait_for(&["Register trust"]);
    t.text("Leeds Teaching");
    t.keys(&["Tab"]);
    t.text("leeds");
    t.keys(&["Enter"]);
    let cap = t.wait_for(&["shown once", "Trust API key"]);
    let key = key_on_screen(&cap, "hubk").unwrap_or_else(|| panic!("no key:\n{cap}"));
    t.keys(&["C-c"]);
    // Ctrl-C is not `c` and not quit: the panel stays, with a note, and no copy prompt.
    let cap = t.wait_for(&["acknowledge the keys on the panel first"]);
    assert!(cap.contains("shown once"), "{cap}");
    assert!(!cap.contains("Copy the"), "no copy prompt:\n{cap}");
    assert!(!cap.contains("__EXIT"), "{cap}");
    // `q` on the panel does not quit either; acknowledging closes it.
    t.keys(&["q"]);
    t.keys(&["Enter"]);
    t.wait_for(&["last four characters"]);
    let last4: String = key.chars().skip(key.chars().count() - 4).collect();
    t.text(&last4);
    t.keys(&["Enter"]);
    t.wait_gone(&["shown once"]);
    let hash: String = sqlx::query_scalar("SELECT api_key_hash FROM trust WHERE code = 'LEEDS'")
        .fetch_one(&db.pool)
        .await
        .expect("trust");
    assert_eq!(hash, sha256_hex(&key));
    t.keys(&["q"]);
    t.wait_for(&["__EXIT:0", "__TTY:icanon"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_behind_terminal_too_small_change_nothing() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let op = seed_operator(&s).await;
    seed_mandate(&db, "Acme Research", op).await;
    seed_trust(&db.pool, "Leeds Teaching", "LEEDS").await;
    let before = state(&db.pool).await;
    let t = start_signed_in(&db, &[]);
    t.wait_for(&["Acme Research"]);
    t.resize(60, 20);
    t.wait_for(&["terminal too small"]);
    for k in ["d", "y", "D", "n", "Enter", "4", "o", "y", "a", "y"] {
        t.keys(&[k]);
    }
    t.paste("Acme Research\n");
    t.settle();
    for k in ["y", "Enter"] {
        t.keys(&[k]);
    }
    // Every key is read (and handled behind the notice) before the terminal grows again.
    t.wait_input_read();
    t.resize(120, 40);
    let cap = t.wait_for(&["1 Mandates", "Acme Research"]);
    for dialog in [
        "Delete mandate",
        "Hard-delete",
        "Create mandate",
        "Members of",
        "Rotate",
    ] {
        assert!(
            !cap.contains(dialog),
            "{dialog} opened behind the notice:\n{cap}"
        );
    }
    assert_eq!(
        state(&db.pool).await,
        before,
        "nothing changed in the database"
    );
    // Quit still acts behind the notice.
    t.resize(60, 20);
    t.wait_for(&["terminal too small"]);
    t.keys(&["q"]);
    t.wait_for(&["__EXIT:0", "__TTY:icanon"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_whose_grant_was_removed_is_signed_out_on_the_next_action() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let op = seed_operator(&s).await;
    seed_trust(&db.pool, "Leeds Teaching", "LEEDS").await;
    let t = start_signed_in(&db, &[]);
    t.keys(&["4"]);
    t.wait_for(&["Leeds Teaching"]);
    // Another operator removes the grant while this console is open.
    sqlx::query("DELETE FROM user_role WHERE user_id = $1")
        .bind(op)
        .execute(&db.pool)
        .await
        .expect("revoke");
    let before = state(&db.pool).await;
    t.keys(&["o"]);
    t.wait_for(&["Rotate API key"]);
    t.settle();
    t.keys(&["y"]);
    let cap = t.wait_for(&["You were signed out", "Sign in"]);
    assert!(!cap.contains("Leeds Teaching"), "{cap}");
    assert!(!cap.contains("shown once"), "{cap}");
    assert_eq!(state(&db.pool).await, before, "the rotation was refused");
    t.keys(&["Escape"]);
    t.wait_for(&["__EXIT:0", "__TTY:icanon"]);
}

/// Everything the pane ever showed, scrollback included.
fn scrollback(t: &crate::tui_e2e::Tmux) -> String {
    let out = t
        .command()
        .args(["capture-pane", "-p", "-J", "-S", "-", "-E", "-"])
        .output()
        .expect("capture-pane");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_keys_on_a_terminal_go_to_the_reveal_panel_not_the_scrollback() {
    let db = fresh_db().await;
    let t = crate::tui_e2e::Tmux::start(
        &[
            crate::support::cli::INFRA_FLAG,
            "--database-url",
            &db.url,
            "register-trust",
            "--name",
            "Leeds Teaching",
            "--code",
            "leeds",
        ],
        &[crate::support::cli::INFRA_ENV],
    );
    let cap = t.wait_for(&["shown once", "Trust API key", "Internal-service key"]);
    assert!(t.alternate_on(), "the panel is on the alternate screen");
    let key = key_on_screen(&cap, "hubk").unwrap_or_else(|| panic!("no key:\n{cap}"));
    // Same acknowledgement as the console: ctrl-c and q do not close it.
    t.keys(&["C-c"]);
    t.keys(&["q"]);
    t.keys(&["Enter"]);
    t.wait_for(&["last four characters"]);
    assert!(!t.capture().contains("__EXIT"));
    let last4: String = key.chars().skip(key.chars().count() - 4).collect();
    t.text(&last4);
    t.keys(&["Enter"]);
    let cap = t.wait_for(&["__EXIT:0", "__TTY:icanon", "\"trust_code\": \"LEEDS\""]);
    assert!(!t.alternate_on());
    assert!(cap.contains("not printed"), "{cap}");
    let all = scrollback(&t);
    assert!(
        !all.contains(&key[..24]),
        "the key is not in the scrollback:\n{all}"
    );
    assert!(!all.contains("trust_api_key"), "{all}");
    let hash: String = sqlx::query_scalar("SELECT api_key_hash FROM trust WHERE code = 'LEEDS'")
        .fetch_one(&db.pool)
        .await
        .expect("trust");
    assert_eq!(hash, sha256_hex(&key), "the panel showed the stored key");

    // rotate-key the same way.
    let t = crate::tui_e2e::Tmux::start(
        &[
            crate::support::cli::INFRA_FLAG,
            "--database-url",
            &db.url,
            "trusts",
            "rotate-key",
            "LEEDS",
        ],
        &[crate::support::cli::INFRA_ENV],
    );
    let cap = t.wait_for(&["shown once", "Trust API key"]);
    let new_key = key_on_screen(&cap, "hubk").unwrap_or_else(|| panic!("no key:\n{cap}"));
    assert_ne!(new_key, key);
    t.keys(&["Enter"]);
    t.wait_for(&["last four characters"]);
    let last4: String = new_key.chars().skip(new_key.chars().count() - 4).collect();
    t.text(&last4);
    t.keys(&["Enter"]);
    t.wait_for(&["__EXIT:0", "\"trust_name\": \"Leeds Teaching\""]);
    let all = scrollback(&t);
    assert!(!all.contains(&new_key[..24]), "{all}");
    let hash: String = sqlx::query_scalar("SELECT api_key_hash FROM trust WHERE code = 'LEEDS'")
        .fetch_one(&db.pool)
        .await
        .expect("trust");
    assert_eq!(hash, sha256_hex(&new_key));
}

/// After the console exits, a paste reaches the shell's tty as plain text: had bracketed paste
/// been left on, tmux would wrap it in `ESC[200~ … ESC[201~`, which the cooked tty echoes.
fn assert_bracketed_paste_off(t: &crate::tui_e2e::Tmux) {
    t.paste("AFTERWARDS");
    let cap = t.wait_for(&["AFTERWARDS"]);
    assert!(
        !cap.contains("200~") && !cap.contains("201~"),
        "bracketed paste is still on:\n{cap}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bracketed_paste_is_off_after_quit_and_after_a_panic() {
    let db = fresh_db().await;
    let s = services(&db).await;
    seed_operator(&s).await;
    let t = start_signed_in(&db, &[]);
    t.keys(&["q"]);
    t.wait_for(&["__EXIT:0", "__TTY:icanon"]);
    assert_bracketed_paste_off(&t);
    let t =
        crate::tui_e2e::Tmux::start(&["--database-url", &db.url], &[("HUBDECK_TEST_PANIC", "1")]);
    t.wait_for(&["injected test panic", "__EXIT:101", "__TTY:icanon"]);
    assert_bracketed_paste_off(&t);
}

async fn member_role_labels(
    pool: &hubdeck::store::Db,
    mandate: uuid::Uuid,
    user: uuid::Uuid,
) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT r.label FROM user_mandate um JOIN user_mandate_role umr ON umr.user_mandate_id = um.id \
         JOIN mandate_role r ON r.id = umr.mandate_role_id \
         WHERE um.mandate_id = $1 AND um.user_id = $2 ORDER BY r.label",
    )
    .bind(mandate)
    .bind(user)
    .fetch_all(pool)
    .await
    .expect("member roles")
}

#[tokio::test(flavor = "multi_thread")]
async fn member_roles_form_shows_and_keeps_the_mandates_own_role() {
    let db = fresh_db().await;
    let s = services(&db).await;
    let op = seed_operator(&s).await;
    let carol = seed_identity(&s, "carol@site.example", None, None).await;
    let mandate = seed_mandate(&db, "Acme Research", op).await;
    let steward: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO mandate_role (label, mandate_id) VALUES ('data steward', $1) RETURNING id",
    )
    .bind(mandate)
    .fetch_one(&db.pool)
    .await
    .expect("own role");
    let um: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO user_mandate (user_id, mandate_id) VALUES ($1, $2) RETURNING id",
    )
    .bind(carol)
    .bind(mandate)
    .fetch_one(&db.pool)
    .await
    .expect("membership");
    sqlx::query(
        "INSERT INTO user_mandate_role (user_mandate_id, mandate_role_id) \
         VALUES ($1, '9e0c1a52-5d1f-4f7e-9a55-0a4a1c2d3e02'), ($1, $2)",
    )
    .bind(um)
    .bind(steward)
    .execute(&db.pool)
    .await
    .expect("roles");
    let t = start_signed_in(&db, &[]);
    t.wait_for(&["Acme Research"]);
    t.keys(&["Enter"]);
    t.wait_for(&["Members of Acme Research", "carol@site.example"]);
    t.search("carol");
    t.wait_for(&["carol@site.example", "rows 1–1 of 1"]);
    t.keys(&["r"]);
    // Opened with what carol holds now, the mandate's own role included.
    t.wait_for(&[
        "Roles of carol@site.example",
        "[ ] admin",
        "[x] member",
        "[ ] viewer",
        "[x] data steward (this mandate)",
    ]);
    t.keys(&["j", "j", "Space"]);
    t.wait_for(&["[x] viewer"]);
    t.keys(&["Enter"]);
    t.wait_for(&["Save roles", "Add: viewer. Remove: nothing."]);
    t.settle();
    t.keys(&["y"]);
    t.wait_gone(&["Roles of carol"]);
    t.wait_for(&["member roles updated"]);
    assert_eq!(
        member_role_labels(&db.pool, mandate, carol.0).await,
        vec!["data steward", "member", "viewer"],
        "the mandate's own role is kept"
    );
    t.quit();
}

#[tokio::test(flavor = "multi_thread")]
async fn user_roles_form_from_the_detail_screen_starts_with_the_current_grants() {
    let db = fresh_db().await;
    let s = services(&db).await;
    seed_operator(&s).await;
    let carol = seed_identity(&s, "carol@site.example", None, Some(RoleRef::Admin)).await;
    let t = start_signed_in(&db, &[]);
    t.keys(&["2"]);
    t.wait_for(&["carol@site.example"]);
    t.search("carol");
    t.wait_for(&["carol@site.example", "rows 1–1 of 1"]);
    t.keys(&["Enter"]);
    t.wait_for(&["User carol@site.example", "Grants"]);
    t.keys(&["r"]);
    t.wait_for(&["Roles of carol@site.example", "[x] admin", "[ ] viewer"]);
    t.keys(&["j", "j", "Space"]);
    t.wait_for(&["[x] viewer"]);
    t.keys(&["Enter"]);
    t.wait_for(&["Add: viewer. Remove: nothing."]);
    t.settle();
    t.keys(&["y"]);
    t.wait_for(&["roles updated"]);
    let roles = global_role_ids(&db.pool, carol).await;
    let mut want = vec![RoleRef::Admin.id(), RoleRef::Viewer.id()];
    want.sort();
    assert_eq!(roles, want, "ticking viewer kept admin");
    // Esc and the next key must not arrive in one read (that would be alt-q).
    t.keys(&["Escape"]);
    t.wait_gone(&["User carol@site.example"]);
    t.quit();
}
