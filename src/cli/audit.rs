//! `hubdeck audit list|export|undo` (seal, verify and seal-key: [`super::audit_seal`]) — one listing over users_audit, trusts_audit and mandate_audit, and undo of a grant change by its row.

use std::io::IsTerminal as _;

use clap::{Args, Subcommand, ValueEnum};

use super::mandates::{print_range, print_table};
use super::output::{EscapeAs, Escaping};
use super::page_args::PageArgs;
use super::{Context, Output, print_json};
use crate::domain::audit::TimeRange;
use crate::domain::{DisplayText, PageQuery, ValidationError};
use crate::service::Actor;
use crate::service::audit::ExportFormat;

/// Filters shared by list and export.
#[derive(Debug, Args, Clone)]
pub struct AuditFilter {
    /// Actor's sub.
    #[arg(long)]
    pub actor: Option<String>,
    /// Subject id (user sub, trust id or mandate id).
    #[arg(long)]
    pub subject: Option<String>,
    /// Event code, one vocabulary over the three tables, e.g. MEMBER_ADDED, USER_DISABLED,
    /// TRUST_KEY_ROTATED (repeatable; the `event` column of the list).
    #[arg(long = "action", visible_alias = "event")]
    pub actions: Vec<String>,
    /// users, trusts or mandates (repeatable).
    #[arg(long = "source")]
    pub sources: Vec<String>,
    /// From this time, inclusive: RFC 3339, `YYYY-MM-DD HH:MM` or `YYYY-MM-DD` (UTC).
    #[arg(long, visible_alias = "since")]
    pub from: Option<String>,
    /// Until this time, exclusive: RFC 3339, `YYYY-MM-DD HH:MM` or `YYYY-MM-DD` (a bare date
    /// or minute includes all of it: `--until 2026-12-01` includes that day).
    #[arg(long, visible_alias = "until")]
    pub to: Option<String>,
}

impl AuditFilter {
    fn apply(&self, mut q: PageQuery) -> Result<(PageQuery, TimeRange), ValidationError> {
        if let Some(a) = &self.actor {
            q = q.filter("actor", [a.clone()]);
        }
        if let Some(s) = &self.subject {
            q = q.filter("subject", [s.clone()]);
        }
        if !self.actions.is_empty() {
            q = q.filter(
                "event",
                self.actions.iter().map(|a| a.trim().to_ascii_uppercase()),
            );
        }
        if !self.sources.is_empty() {
            q = q.filter("source", self.sources.clone());
        }
        let range =
            TimeRange::parse_named(self.from.as_deref(), self.to.as_deref(), ["--from", "--to"])?;
        Ok((q, range))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// List audit rows, newest first, actor and subject as email or name. Sort/filter columns:
    /// occurred_at, source, action (as stored), event (filter), actor, subject, subject_name,
    /// target, via.
    List {
        #[command(flatten)]
        list: PageArgs,
        #[command(flatten)]
        filter: AuditFilter,
    },
    /// Export every matching row, newest first, to stdout (or --out, created 0600) as CSV or
    /// JSON, with actor and subject resolved to email or name. Rows written while the export
    /// runs neither repeat nor push others out; with --out a failure leaves no file behind.
    Export {
        /// The file format.
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "PATH")]
        out: Option<std::path::PathBuf>,
        /// Substring search (action, subject name, OS user).
        #[arg(long)]
        search: Option<String>,
        #[command(flatten)]
        filter: AuditFilter,
    },
    /// Undo a reversible grant change (member roles, member enable/disable, user roles, user
    /// enable/disable) by its audit row id: restores the state the row recorded before the
    /// change, refused when the grant changed since. Its own audit row links the undone one.
    #[command(after_help = UNDO_HELP)]
    Undo {
        /// The audit row's id (`audit list` shows it with --output json).
        id: String,
        /// Print what would be restored (or why it cannot); change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply without asking (required when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Seal every audit row not sealed yet: SHA-256 over the rows, chained to the previous seal
    /// and signed with the Ed25519 key in --key-file (never stored in the database). Cheap enough
    /// to run every few minutes from cron or a systemd timer.
    Seal {
        /// The signing key file (`audit seal-key` creates it; must be mode 0600).
        #[arg(long, value_name = "PATH", env = "HUBDECK_SEAL_KEY_FILE")]
        key_file: std::path::PathBuf,
    },
    /// Verify the chain of seals and every sealed row; names each row edited, removed, moved or
    /// inserted into a sealed period, and counts the rows not sealed yet.
    #[command(after_help = super::audit_seal::VERIFY_HELP)]
    Verify {
        /// The sealer's public key in hex (default: audit.seal_public_key).
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
    /// Create a new seal signing key file (0600; refused when it exists) and print its public
    /// key, to put in audit.seal_public_key wherever the trail is verified.
    SealKey {
        /// Where to write the key file.
        #[arg(long, value_name = "PATH")]
        out: std::path::PathBuf,
    },
}

pub const UNDO_HELP: &str = "\
Exit codes (undo):
  0  undone (with --dry-run: can be undone)
  1  declined at the confirmation prompt, or a failure
  2  invalid id, or no --yes without a terminal to confirm on
  3  refused: changed since (current state differs, or a later change), already undone, not a
     reversible change, or the last-admin rule
  4  audit row not found / permission denied";

pub async fn run(ctx: &Context, cmd: AuditCmd) -> anyhow::Result<i32> {
    super::init_stderr_logging(&ctx.settings);
    if let Some(code) = super::audit_seal::run(ctx, &cmd).await? {
        return Ok(code);
    }
    let svc = ctx.services().await?;
    let actor = ctx.actor(&svc.db).await?;
    match cmd {
        AuditCmd::List { list, filter } => {
            let (q, range) = filter.apply(list.to_query()?)?;
            let page = svc.list_audit_readable(&actor, &q, range).await?;
            match ctx.output {
                Output::Json => print_json(&page)?,
                Output::Table => {
                    let rows: Vec<Vec<String>> = page
                        .items
                        .iter()
                        .map(|e| {
                            vec![
                                e.raw.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                                e.raw.source.clone(),
                                e.raw.event.clone(),
                                e.actor.clone(),
                                e.subject.clone(),
                                e.target.clone().unwrap_or_default(),
                            ]
                        })
                        .collect();
                    print_table(
                        &[
                            "TIME (UTC)",
                            "SOURCE",
                            "EVENT",
                            "ACTOR",
                            "SUBJECT",
                            "TARGET",
                        ],
                        &rows,
                    )?;
                    print_range(&page);
                }
            }
        }
        AuditCmd::Export {
            format,
            out,
            search,
            filter,
        } => {
            let mut q = PageQuery::default();
            if let Some(s) = search {
                q = q.search(s);
            }
            let (q, range) = filter.apply(q)?;
            let format = match format {
                Format::Csv => ExportFormat::Csv,
                Format::Json => ExportFormat::Json,
            };
            let n = match out {
                Some(path) => {
                    // 0600 (the audit trail names users and what was done to them), written
                    // to a temporary file renamed into place: a failure leaves no file.
                    svc.export_to_file(&actor, &q, range, format, &path).await?
                }
                None => {
                    // JSON always escapes hidden characters (same meaning, safe to view);
                    // CSV is data and stays exact unless a terminal would interpret it.
                    let how = match format {
                        ExportFormat::Json => EscapeAs::Json,
                        ExportFormat::Csv if std::io::stdout().is_terminal() => EscapeAs::Display,
                        ExportFormat::Csv => EscapeAs::Exact,
                    };
                    let mut stdout = super::output::PipeWatch::new(Escaping::new(
                        std::io::BufWriter::new(std::io::stdout()),
                        how,
                    ));
                    let result = svc
                        .export_audit(&actor, &q, range, format, &mut stdout)
                        .await;
                    // `audit export | head`: the reader left; end quietly, not as a failure.
                    stdout.check()?;
                    result?
                }
            };
            eprintln!("exported {n} audit row(s)");
        }
        AuditCmd::Undo { id, dry_run, yes } => {
            return undo(ctx, &svc, &actor, &id, dry_run, yes).await;
        }
        // Answered by `audit_seal::run` above.
        AuditCmd::Seal { .. } | AuditCmd::Verify { .. } | AuditCmd::SealKey { .. } => {}
    }
    Ok(0)
}

fn print_undo(ctx: &Context, plan: &crate::service::undo::UndoPlan) -> anyhow::Result<()> {
    match ctx.output {
        Output::Json => print_json(plan),
        Output::Table => {
            let who = plan.user_id.map(|u| u.to_string()).unwrap_or_default();
            let state = if plan.applied {
                "undone".to_string()
            } else if let Some(why) = &plan.refusal {
                format!("REFUSED: {why}")
            } else {
                "can be undone".to_string()
            };
            print_table(
                &[
                    "AUDIT ROW",
                    "ACTION",
                    "USER",
                    "MANDATE",
                    "NOW",
                    "RESTORE",
                    "STATE",
                ],
                &[vec![
                    plan.audit_id.to_string(),
                    plan.action.clone(),
                    who,
                    plan.mandate_name.clone().unwrap_or_default(),
                    plan.current.to_string(),
                    plan.restore.to_string(),
                    state,
                ]],
            )?;
            Ok(())
        }
    }
}

async fn undo(
    ctx: &Context,
    svc: &crate::service::Services,
    actor: &Actor,
    id: &str,
    dry_run: bool,
    yes: bool,
) -> anyhow::Result<i32> {
    use std::io::IsTerminal;
    let id = uuid::Uuid::parse_str(id.trim()).map_err(|_| {
        crate::service::ServiceError::from(ValidationError::InvalidId {
            kind: "audit row id",
            value: DisplayText::new(id).into_string(),
        })
    })?;
    let plan = svc.undo_preview(actor, id).await?;
    if dry_run || plan.refusal.is_some() {
        print_undo(ctx, &plan)?;
        if let Some(why) = &plan.refusal {
            eprintln!("cannot undo: {}", DisplayText::new(why));
            return Ok(3);
        }
        eprintln!("preview (--dry-run): nothing changed");
        return Ok(0);
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(
                crate::service::ServiceError::from(ValidationError::Invalid {
                    field: "--yes",
                    message: "undo changes grants: pass --yes (or run on a terminal to confirm)"
                        .into(),
                })
                .into(),
            );
        }
        print_undo(ctx, &plan)?;
        eprint!(
            "Restore {} for this grant? Type yes to undo: ",
            plan.restore
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            eprintln!("not undone");
            return Ok(1);
        }
    }
    let done = svc.undo(actor, id).await?;
    print_undo(ctx, &done)?;
    eprintln!("undone: audit row {id}");
    Ok(0)
}
