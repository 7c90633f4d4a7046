//! `hubdeck mandates members bulk MANDATE --action …`: one action over many memberships, named
//! by email (a file, or stdin) or by a search/filter resolved by the service. `--dry-run`
//! prints the preview; otherwise the service re-checks and applies in one transaction.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::mandates::{print_table, resolve_mandate};
use super::page_args::PageArgs;
use super::{Context, Output, print_json};
use crate::domain::{DisplayText, ValidationError};
use crate::service::bulk::{BulkAction, BulkPreview, BulkTarget, RowOutcome};
use crate::service::{Actor, Services};

pub const BULK_HELP: &str = "\
Input: one email per line from --emails-file FILE (\"-\" = stdin) or, without it, from stdin;
blank lines and lines starting with # are skipped. With --search/--filter instead, every member
matching them (resolved by the service) is the target.

Apply: ONE transaction for all accepted rows (with one audit row and one notification each);
refused rows (the mandate's last admin, an email that is not a member) are skipped and listed.

Exit codes (bulk):
  0  every row changed or already so (with --dry-run: would be)
  2  invalid input (no emails, unknown role, more than 10000 rows, a role missing for the action)
  3  some rows refused (the others applied, or would be with --dry-run), or the members changed
  4  mandate not found / permission denied
  1  failure (database or directory unavailable)";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ActionArg {
    /// Replace the roles with --role … (repeatable).
    SetRoles,
    /// Add the one --role.
    AddRole,
    /// Remove the one --role.
    RemoveRole,
    Remove,
    Enable,
    Disable,
}

#[derive(Debug, Args)]
#[command(after_help = BULK_HELP)]
pub struct BulkArgs {
    /// Mandate id or exact name.
    pub mandate: String,
    /// What to do to each member.
    #[arg(long, value_enum)]
    pub action: ActionArg,
    /// Role label or id (set-roles: repeatable; add-role/remove-role: exactly one).
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// File with one member email per line ("-" = stdin; the default without --search/--filter).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["search", "filters"])]
    pub emails_file: Option<PathBuf>,
    /// Target every member matching this search (username, email, name, role labels).
    #[arg(long)]
    pub search: Option<String>,
    /// Target every member matching COLUMN=VALUE[,VALUE...] (enabled, admin, status; repeatable).
    #[arg(long = "filter", value_name = "COLUMN=VALUES")]
    pub filters: Vec<String>,
    /// Print the preview; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

fn invalid(message: impl Into<String>) -> anyhow::Error {
    crate::service::ServiceError::from(ValidationError::Invalid {
        field: "bulk",
        message: message.into(),
    })
    .into()
}

fn read_emails(file: Option<&PathBuf>) -> anyhow::Result<Vec<String>> {
    let mut text = String::new();
    match file {
        Some(p) if p.as_os_str() != "-" => {
            text = std::fs::read_to_string(p).map_err(|e| {
                invalid(format!(
                    "cannot read {}: {e}",
                    DisplayText::new(&p.display().to_string())
                ))
            })?;
        }
        _ => {
            if file.is_none() && std::io::stdin().is_terminal() {
                return Err(invalid(
                    "give --emails-file FILE, --search/--filter, or pipe emails on stdin",
                ));
            }
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| invalid(format!("cannot read stdin: {e}")))?;
        }
    }
    let emails: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if emails.is_empty() {
        return Err(invalid("no emails given"));
    }
    Ok(emails)
}

fn print_preview(ctx: &Context, p: &BulkPreview, dry_run: bool) -> anyhow::Result<()> {
    match ctx.output {
        Output::Json => print_json(p)?,
        Output::Table => {
            let rows: Vec<Vec<String>> = p
                .rows
                .iter()
                .map(|r| {
                    let outcome = match r.outcome {
                        RowOutcome::Change if p.applied => "changed",
                        RowOutcome::Change => "will change",
                        RowOutcome::Unchanged => "unchanged",
                        RowOutcome::Refused => "REFUSED",
                    };
                    let roles = if r.removed {
                        format!("{} → (removed)", r.roles_before.join(","))
                    } else {
                        format!("{} → {}", r.roles_before.join(","), r.roles_after.join(","))
                    };
                    let enabled = match (r.enabled_before, r.enabled_after) {
                        (Some(a), Some(b)) if a != b => format!("{a} → {b}"),
                        (Some(a), _) => a.to_string(),
                        _ => String::new(),
                    };
                    vec![
                        r.email
                            .clone()
                            .or_else(|| r.input.clone())
                            .unwrap_or_default(),
                        outcome.to_string(),
                        roles,
                        enabled,
                        r.reason.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print_table(&["MEMBER", "OUTCOME", "ROLES", "ENABLED", "REASON"], &rows)?;
        }
    }
    let verb = if p.applied {
        "applied"
    } else if dry_run {
        "preview (--dry-run, nothing applied)"
    } else {
        "nothing applied"
    };
    eprintln!(
        "{verb}: {} {} in {}: {} change, {} unchanged, {} refused",
        p.action,
        p.rows.len(),
        DisplayText::new(&p.mandate_name),
        p.changes,
        p.unchanged,
        p.refused
    );
    Ok(())
}

pub async fn run(ctx: &Context, svc: &Services, actor: &Actor, a: BulkArgs) -> anyhow::Result<i32> {
    let mandate = resolve_mandate(svc, actor, &a.mandate).await?;
    let roles = svc.resolve_member_roles(actor, mandate, &a.roles).await?;
    let one_role = || match roles.as_slice() {
        [one] => Ok(*one),
        _ => Err(invalid(format!(
            "--action {} takes exactly one --role",
            if a.action == ActionArg::AddRole {
                "add-role"
            } else {
                "remove-role"
            }
        ))),
    };
    let action = match a.action {
        ActionArg::SetRoles => {
            if roles.is_empty() {
                return Err(invalid("--action set-roles needs at least one --role"));
            }
            BulkAction::SetRoles(roles.clone())
        }
        ActionArg::AddRole => BulkAction::AddRole(one_role()?),
        ActionArg::RemoveRole => BulkAction::RemoveRole(one_role()?),
        other => {
            if !roles.is_empty() {
                return Err(invalid(format!(
                    "--role does not go with --action {}",
                    other
                        .to_possible_value()
                        .map(|v| v.get_name().to_string())
                        .unwrap_or_default()
                )));
            }
            match other {
                ActionArg::Remove => BulkAction::Remove,
                ActionArg::Enable => BulkAction::Enable,
                _ => BulkAction::Disable,
            }
        }
    };
    let target = if a.search.is_some() || !a.filters.is_empty() {
        let list = PageArgs {
            page: 1,
            search: a.search.clone(),
            filters: a.filters.clone(),
            ..PageArgs::default()
        };
        BulkTarget::Matching(list.to_query()?)
    } else {
        BulkTarget::Emails(read_emails(a.emails_file.as_ref())?)
    };
    let result = if a.dry_run {
        svc.bulk_preview(actor, mandate, &target, &action).await?
    } else {
        svc.bulk_apply(actor, mandate, &target, &action, None)
            .await?
    };
    print_preview(ctx, &result, a.dry_run)?;
    if result.refused > 0 {
        return Ok(3);
    }
    Ok(0)
}
