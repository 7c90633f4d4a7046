//! `hubdeck users repair`: the on-call view of stuck registrations and its actions.

use crate::cli::output::{outln, print_table};
use clap::Args;

use super::{result, show};
use crate::cli::{Context, Output, print_json};
use crate::domain::RegistrationId;
use crate::service::registration::{Registration, RegistrationState};
use crate::service::{Actor, Services};

#[derive(Debug, Args)]
pub struct RepairArgs {
    /// Show one registration: id, email, sub, state with its meaning and the next step, both
    /// causes (the failure and the rollback's own error), age, who started it.
    #[arg(long, value_name = "ID", group = "action")]
    pub show: Option<RegistrationId>,
    /// Retry role assignment of a registration (idempotent).
    #[arg(long, value_name = "ID", group = "action")]
    pub retry: Option<RegistrationId>,
    /// Roll a registration back (deletes only the identity it provably created).
    #[arg(long, value_name = "ID", group = "action")]
    pub rollback: Option<RegistrationId>,
    /// Mark a registration resolved (with --note): the operator's decision, also for `conflict`.
    #[arg(long, value_name = "ID", group = "action", requires = "note")]
    pub resolve: Option<RegistrationId>,
    /// Reconcile `pending` registrations older than a minute: a consistent read by email plus
    /// proof of authorship (never adopts a stranger; unprovable → `conflict`).
    #[arg(long, group = "action")]
    pub reconcile: bool,
    /// The operator's note for --resolve.
    #[arg(long, value_name = "TEXT", requires = "resolve")]
    pub note: Option<String>,
    /// With --retry, --rollback or --resolve: only while the registration is at this version
    /// (the `version` of `--show ID --output json`); a change since refuses with exit 3.
    #[arg(long, value_name = "VERSION")]
    pub expect_version: Option<crate::service::versions::Version>,
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

pub(super) async fn repair(
    ctx: &Context,
    svc: &Services,
    actor: &Actor,
    a: RepairArgs,
) -> anyhow::Result<i32> {
    if let Some(id) = a.show {
        return crate::cli::registration_show::run(ctx, svc, actor, id).await;
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
