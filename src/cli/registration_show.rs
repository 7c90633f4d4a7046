//! `hubdeck users repair --show ID`: the on-call detail of one registration, with the CLI's
//! own remedies (the commands to run) under the console's plain-language next step.

use super::mandates::print_table;
use super::{Context, Output, print_json};
use crate::cli::output::outln;
use crate::domain::RegistrationId;
use crate::service::registration_detail::RegistrationRepair;
use crate::service::{Actor, Services};

fn remedy(r: RegistrationRepair, id: RegistrationId) -> String {
    match r {
        RegistrationRepair::Retry => format!("hubdeck users repair --retry {id}"),
        RegistrationRepair::RollBack => format!("hubdeck users repair --rollback {id}"),
        RegistrationRepair::Resolve => {
            format!("hubdeck users repair --resolve {id} --note \"what you decided\"")
        }
    }
}

pub async fn run(
    ctx: &Context,
    svc: &Services,
    actor: &Actor,
    id: RegistrationId,
) -> anyhow::Result<i32> {
    let d = svc.registration_detail(actor, id).await?;
    if ctx.output == Output::Json {
        print_json(&d)?;
        return Ok(0);
    }
    let mut rows = vec![
        vec!["id".to_string(), d.id.to_string()],
        vec!["email".into(), d.email.clone()],
        vec![
            "sub".into(),
            d.sub
                .map(|s| s.to_string())
                .unwrap_or_else(|| "(none yet)".into()),
        ],
        vec![
            "state".into(),
            format!("{} — {}", d.state.as_str(), d.meaning),
        ],
        vec!["next step".into(), d.next_step.to_string()],
    ];
    if let Some(c) = &d.cause {
        rows.push(vec!["cause".into(), c.clone()]);
    }
    if let Some(c) = &d.rollback_cause {
        rows.push(vec!["rollback cause".into(), c.clone()]);
    }
    if let Some(n) = &d.note {
        rows.push(vec!["note".into(), n.clone()]);
    }
    if let Some(by) = &d.being_repaired_by {
        rows.push(vec!["being repaired by".into(), by.clone()]);
    }
    rows.push(vec!["roles".into(), d.requested_roles.join(", ")]);
    rows.push(vec![
        "started".into(),
        format!(
            "{} ago ({}) by {}",
            d.age,
            d.created_at.format("%Y-%m-%d %H:%M UTC"),
            d.started_by
        ),
    ]);
    print_table(&["FIELD", "VALUE"], &rows)?;
    for r in &d.repairs {
        outln!("  {:<60} {}", r.label(), remedy(*r, d.id))?;
    }
    Ok(0)
}
