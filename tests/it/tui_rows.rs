//! Each screen's typed rows, read through its own list source from real PostgreSQL, render
//! the cells the console showed before (the formatting `backend.rs` had), and a screen's
//! operation runs its service function.

use hubdeck::domain::{Page, PageQuery};
use hubdeck::service::Actor;
use hubdeck::tui::action::{Job, ListSource, OpBox, Progress};
use hubdeck::tui::screens::audit::data::{Audit, AuditRow};
use hubdeck::tui::screens::kit_slots::data::{KitSlotRow, KitSlots};
use hubdeck::tui::screens::mandates::data::{MandateOp, MandateRow, Mandates};
use hubdeck::tui::screens::trusts::data::{TrustOp, TrustRow, Trusts};
use hubdeck::tui::widgets::table::TableRow;

use crate::mandates::{services, sysadmin};
use crate::support::pg::fresh_db;

fn rows<T: 'static>(page: Page<T>) -> Vec<T> {
    page.items
}

fn minute(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

async fn run(
    s: &hubdeck::service::Services,
    a: &Actor,
    op: impl hubdeck::tui::action::Operation,
) -> String {
    OpBox::new(op)
        .0
        .run(s.clone(), a.clone(), Progress::none())
        .await
        .expect("the operation runs")
        .toast
}

#[tokio::test]
async fn screens_read_typed_rows_and_render_the_same_cells() {
    let db = fresh_db().await;
    let s = services(&db);
    let a = sysadmin(&db.pool).await;
    let q = || PageQuery::new(1, 50);

    // Mandates: created through the screen's own operation.
    let toast = run(
        &s,
        &a,
        MandateOp::Create {
            name: "Acme Research".into(),
            label: String::new(),
            enabled: false,
            plan: "TEAM".into(),
        },
    )
    .await;
    assert_eq!(toast, "mandate Acme Research created");
    let ms: Vec<MandateRow> = rows(Mandates.page(s.clone(), a.clone(), q()).await.unwrap());
    let m = ms
        .iter()
        .find(|m| m.name == "Acme Research")
        .expect("the mandate");
    assert!(!m.enabled);
    assert_eq!(
        m.texts(),
        [
            "Acme Research".to_string(),
            String::new(),
            "TEAM".into(),
            "no".into(),
            String::new(),
            minute(&m.created_at)
        ]
    );

    // Trusts and the kit slot it took.
    let out = OpBox::new(TrustOp::Register {
        name: "Leeds Teaching".into(),
        code: "LEEDS".into(),
        region: None,
    })
    .0
    .run(s.clone(), a.clone(), Progress::none())
    .await
    .expect("register");
    let mut keys = out.reveal.expect("the one-time keys");
    assert!(!keys.api_key.expose().is_empty());
    // Until the operator acknowledges the reveal, the keys are not confirmed handed over.
    let ts: Vec<TrustRow> = rows(Trusts.page(s.clone(), a.clone(), q()).await.unwrap());
    let t = ts.iter().find(|t| t.code == "LEEDS").expect("the trust");
    assert_eq!(t.texts()[5], "not confirmed");
    keys.on_acknowledged
        .take()
        .expect("the acknowledgement records the hand-over")
        .0
        .run(s.clone(), a.clone(), Progress::none())
        .await
        .expect("record the hand-over");
    let ts: Vec<TrustRow> = rows(Trusts.page(s.clone(), a.clone(), q()).await.unwrap());
    let t = ts.iter().find(|t| t.code == "LEEDS").expect("the trust");
    let slot = t.slot_name.clone().expect("a kit slot");
    assert_eq!(
        t.texts(),
        [
            "Leeds Teaching".to_string(),
            "LEEDS".into(),
            String::new(),
            slot.clone(),
            "never".into(),
            minute(&t.key_set_at)
        ]
    );
    let ks: Vec<KitSlotRow> = rows(KitSlots.page(s.clone(), a.clone(), q()).await.unwrap());
    let k = ks.iter().find(|k| k.slot_name == slot).expect("the slot");
    // The free filter's picker offers both values of the boolean, whatever the rows hold; a
    // column that is not a filter is refused.
    let free = KitSlots
        .filter_values(s.clone(), a.clone(), "free".into(), q())
        .await
        .expect("free values");
    assert_eq!(free, ["true", "false"]);
    KitSlots
        .filter_values(s.clone(), a.clone(), "slot_name".into(), q())
        .await
        .expect_err("slot_name is not a filter");
    assert!(!k.free);
    assert_eq!(k.texts()[2], "no");
    assert_eq!(k.texts()[3], "Leeds Teaching (LEEDS)");
    assert!(
        ks.iter()
            .any(|k| k.free && k.texts()[2] == "yes" && k.texts()[4].is_empty())
    );

    // Audit: the registration's row, actor shown as the operator's id.
    let es: Vec<AuditRow> = rows(Audit.page(s.clone(), a.clone(), q()).await.unwrap());
    let e = es
        .iter()
        .find(|e| e.source == "trusts" && e.subject == "Leeds Teaching")
        .expect("the trust's audit row");
    let Actor::Operator(op) = &a else {
        panic!("an operator")
    };
    assert_eq!(e.actor, op.sub.to_string());
    assert_eq!(e.texts()[0], minute(&e.occurred_at));
    assert_eq!(e.texts()[5], e.via);

    // The create form's plans come from the catalogue.
    let plans = hubdeck::tui::screens::mandates::data::LoadPlans
        .run(s.clone(), a.clone())
        .await
        .expect("plan keys");
    assert!(plans.0.iter().any(|p| p == "TEAM"), "{plans:?}");

    // Filter values come from the same source.
    let values = Mandates
        .filter_values(s.clone(), a.clone(), "enabled".into(), q())
        .await
        .unwrap();
    assert!(values.iter().any(|v| v == "false"), "{values:?}");
}
