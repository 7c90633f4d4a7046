//! `hubdeck approvals list|show|approve|reject|complete`, and proposing a command the
//! environment puts under the two-person rule (`--reason TEXT` on that command).

use clap::Subcommand;

use super::mandates::print_table;
use super::{Context, Output, print_json};
use crate::domain::DisplayText;
use crate::domain::approval::ChangeRequest;
use crate::service::approvals::{Approved, PendingChange};

#[derive(Debug, Subcommand)]
pub enum ApprovalsCmd {
    /// Changes waiting for a decision (with --all: every change, newest first).
    List {
        #[arg(long)]
        all: bool,
    },
    /// One change: its reason, proposer, state and the exact preview.
    Show { id: i64 },
    /// Approve a change another operator proposed; it is executed at once when its targets
    /// still match the preview (a key rotation waits for its proposer to complete it).
    Approve { id: i64 },
    /// Reject a change (give the reason with --reason TEXT).
    Reject { id: i64 },
    /// Complete an approved key rotation you proposed: the keys are shown to you, once.
    Complete { id: i64 },
}

fn t(s: &str) -> String {
    DisplayText::new(s).into_string()
}

fn utc(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The change and its preview, as text (every cell through the sanitizer).
fn print_change(c: &PendingChange) -> std::io::Result<()> {
    println!(
        "change #{} — {} ({})",
        c.id,
        t(&c.preview.summary),
        c.state.key()
    );
    println!("action:    {}", c.action.key());
    println!("proposer:  {}", t(&c.proposer));
    println!("reason:    {}", t(&c.reason));
    println!("proposed:  {}", utc(&c.proposed_at));
    println!("expires:   {}", utc(&c.expires_at));
    if let Some(by) = &c.decided_by {
        println!(
            "decided:   {} by {}",
            c.decided_at.as_ref().map(utc).unwrap_or_default(),
            t(by)
        );
    }
    if let Some(n) = &c.decision_note {
        println!("note:      {}", t(n));
    }
    if let Some(o) = &c.outcome {
        println!("outcome:   {}", t(o));
    }
    println!("fingerprint {}", c.fingerprint);
    let rows: Vec<Vec<String>> = c
        .preview
        .rows
        .iter()
        .map(|r| {
            vec![
                r.record.clone(),
                r.field.clone(),
                r.before.clone(),
                r.after.clone(),
            ]
        })
        .collect();
    print_table(&["RECORD", "FIELD", "BEFORE", "AFTER"], &rows)
}

pub async fn run(ctx: &Context, cmd: ApprovalsCmd) -> anyhow::Result<i32> {
    super::init_stderr_logging(&ctx.settings);
    let svc = ctx.services().await?;
    let actor = ctx.actor(&svc.db).await?;
    match cmd {
        ApprovalsCmd::List { all } => {
            let items = svc.list_changes(&actor, all).await?;
            match ctx.output {
                Output::Json => print_json(&items)?,
                Output::Table => {
                    let rows: Vec<Vec<String>> = items
                        .iter()
                        .map(|c| {
                            vec![
                                c.id.to_string(),
                                c.state.key().into(),
                                c.action.key().into(),
                                c.preview.summary.clone(),
                                c.proposer.clone(),
                                c.reason.clone(),
                                utc(&c.expires_at),
                            ]
                        })
                        .collect();
                    print_table(
                        &[
                            "ID",
                            "STATE",
                            "ACTION",
                            "CHANGE",
                            "PROPOSER",
                            "REASON",
                            "EXPIRES (UTC)",
                        ],
                        &rows,
                    )?;
                }
            }
            Ok(0)
        }
        ApprovalsCmd::Show { id } => {
            let c = svc.show_change(&actor, id).await?;
            match ctx.output {
                Output::Json => print_json(&c)?,
                Output::Table => print_change(&c)?,
            }
            Ok(0)
        }
        ApprovalsCmd::Approve { id } => {
            let c = svc.show_change(&actor, id).await?;
            let done = svc.approve_change(&actor, id).await?;
            match ctx.output {
                Output::Json => print_json(&done)?,
                Output::Table => match &done {
                    Approved::Executed { outcome } => println!(
                        "approved and executed change #{id} ({}): {}",
                        t(&c.preview.summary),
                        t(outcome)
                    ),
                    Approved::AwaitsProposer => println!(
                        "approved change #{id} ({}); {} completes it with `hubdeck approvals \
                         complete {id}` and alone receives the keys",
                        t(&c.preview.summary),
                        t(&c.proposer)
                    ),
                },
            }
            Ok(0)
        }
        ApprovalsCmd::Reject { id } => {
            let Some(reason) = ctx.reason.as_deref() else {
                eprintln!("hubdeck: a rejection carries a reason: add --reason TEXT");
                return Ok(2);
            };
            svc.reject_change(&actor, id, reason).await?;
            match ctx.output {
                Output::Json => print_json(&serde_json::json!({"result": "rejected", "id": id}))?,
                Output::Table => println!("rejected change #{id}"),
            }
            Ok(0)
        }
        ApprovalsCmd::Complete { id } => {
            let keys = svc.complete_change(&actor, id).await?;
            super::trust_keys::hand_over_rotated(ctx, &svc.trusts(), &actor, keys).await
        }
    }
}

/// A command refused because its action needs a second operator: with `--reason`, propose
/// it (printing the preview) and exit 0; without, say how (exit 4 with the refusal).
pub async fn propose_instead(
    ctx: &Context,
    request: &ChangeRequest,
    refusal: &anyhow::Error,
) -> anyhow::Result<i32> {
    let Some(reason) = ctx.reason.as_deref() else {
        super::report_error(refusal);
        return Ok(4);
    };
    let svc = ctx.services().await?;
    let actor = ctx.actor(&svc.db).await?;
    let c = svc.propose_change(&actor, request, reason, None).await?;
    match ctx.output {
        Output::Json => print_json(&c)?,
        Output::Table => {
            print_change(&c)?;
            eprintln!(
                "hubdeck: proposed as change #{}; another operator approves it with `hubdeck \
                 approvals approve {}` (or rejects it) before {}",
                c.id,
                c.id,
                utc(&c.expires_at)
            );
        }
    }
    Ok(0)
}
