//! Every confirmation fits the terminal: at 80×24 and at 120×32 the prompt, the input and the
//! keys of the drift repairs' confirmations (the longest messages the console asks about) are
//! on screen, and a message longer than the box scrolls — the real binary in tmux.

use crate::mandates::cached_user;
use crate::support::pg::fresh_db;
use crate::tui_e2e::{seed_mandate, seed_operator, services, start_signed_in};

#[tokio::test(flavor = "multi_thread")]
async fn drift_confirmations_show_their_prompt_and_input_at_80x24_and_120x32() {
    let db = fresh_db().await;
    let s = services(&db).await;
    seed_operator(&s).await;
    // A mandate whose only admin is gone: its repair leaves it without an admin (a typed
    // confirmation with a warning), and its class repair has the longest message.
    let gone = cached_user(&db.pool, "gone-admin@site.example", "Gone Admin").await;
    seed_mandate(&db, "Barnet Emergency Medicine Research Network", gone).await;
    sqlx::query("UPDATE directory_user SET gone_at = now() WHERE sub = $1")
        .bind(gone)
        .execute(&db.pool)
        .await
        .unwrap();

    let t = start_signed_in(&db, &[]);
    t.keys(&["7"]);
    t.wait_for(&["gone-admin@site", "NO WORKING ADMIN"]);
    for (w, h) in [(80, 24), (120, 32)] {
        t.resize(w, h);
        for key in ["p", "A"] {
            t.keys(&[key]);
            let cap = t.wait_for(&[
                "Type",
                "repair",
                "to confirm",
                "Enter confirm",
                "Esc cancel",
            ]);
            assert!(cap.contains("> "), "{w}×{h} {key}: the input line\n{cap}");
            t.settle();
            t.text("re");
            t.wait_for(&["> re"]);
            if key == "A" && w == 80 {
                // The message is longer than the box: it says so and scrolls.
                t.wait_for(&["more lines"]);
                t.keys(&["Down", "Down"]);
                t.wait_for(&["above"]);
            }
            t.keys(&["Escape"]);
            t.wait_gone(&["to confirm"]);
        }
    }
    t.quit();
}
