//! `hubdeck users repair`: the repairs of stuck registrations (each conditional on the version
//! shown with `--expect-version`), and `--show ID`, the on-call detail of one registration,
//! with the CLI's own remedies (the commands to run) under the console's plain-language next
//! step.

use super::mandates::print_table;
use super::users::{RepairArgs, result, show};
use super::{Context, Output, print_json};
use crate::cli::output::outln;
use crate::domain::RegistrationId;
use crate::service::registration::{Registration, RegistrationState};
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

fn print_registrations(rows: &[Registration]) -> std::io::Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut err = r.last_error.clone().unwrap_or_default();
            if let Some(rb) = &r.rollback_error {
                err.push_str(" | rollback: ");
                err.push_str(rb);
            }
            if let Some(ev) = &r.evidence {
                // What the saga saw when it refused to adopt or delete (for the operator's decision).
                err.push_str(" | evidence: ");
                err.push_str(&ev.to_string());
            }
            vec![
                r.id.to_string(),
                r.state.to_string(),
                r.email.clone(),
                r.sub.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                r.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                err,
            ]
        })
        .collect();
    print_table(
        &["ID", "STATE", "EMAIL", "SUB", "CREATED", "LAST ERROR"],
        &cells,
    )
}

/// `hubdeck users repair`: show, retry, roll back, resolve or reconcile registrations.
pub(super) async fn repair(
    ctx: &Context,
    svc: &Services,
    actor: &Actor,
    a: RepairArgs,
) -> anyhow::Result<i32> {
    if let Some(id) = a.show {
        return run(ctx, svc, actor, id).await;
    }
    if let Some(id) = a.retry {
        let out = svc
            .retry_registration_expecting(actor, id, a.expect_version)
            .await?;
        if ctx.output == Output::Json {
            print_json(&out)?;
        } else {
            outln!("{}", show(&out.message))?;
        }
        return Ok(if out.state == RegistrationState::Complete {
            0
        } else {
            1
        });
    }
    if let Some(id) = a.rollback {
        let r = svc
            .rollback_registration_expecting(actor, id, a.expect_version)
            .await?;
        return result(ctx, &r, &format!("registration {id} is now {}", r.state));
    }
    if let Some(id) = a.resolve {
        let note = a.note.unwrap_or_default();
        let r = svc
            .resolve_registration_expecting(actor, id, &note, a.expect_version)
            .await?;
        return result(ctx, &r, &format!("registration {id} is now {}", r.state));
    }
    if a.reconcile {
        let out = svc.reconcile_pending(actor, 60).await?;
        if ctx.output == Output::Json {
            print_json(
                &out.iter()
                    .map(|(id, s)| serde_json::json!({"id": id, "result": s}))
                    .collect::<Vec<_>>(),
            )?;
        } else {
            for (id, s) in &out {
                outln!("{id}  {s}")?;
            }
            eprintln!("{} pending registration(s) reconciled", out.len());
        }
        return Ok(0);
    }
    let rows = svc.stuck_registrations(actor).await?;
    if ctx.output == Output::Json {
        print_json(&rows)?;
    } else {
        print_registrations(&rows)?;
        eprintln!("{} stuck registration(s)", rows.len());
    }
    Ok(0)
}
