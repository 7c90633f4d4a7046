//! `hubdeck audit list|export` — one listing over users_audit, trusts_audit and mandate_audit.

use clap::{Args, Subcommand, ValueEnum};

use super::mandates::{print_range, print_table};
use super::page_args::PageArgs;
use super::{Context, Output, print_json};
use crate::domain::audit::TimeRange;
use crate::domain::{PageQuery, ValidationError};
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
}

pub async fn run(ctx: &Context, cmd: AuditCmd) -> anyhow::Result<i32> {
    super::init_stderr_logging(&ctx.settings);
    let svc = ctx.services().await?;
    let actor = Actor::cli();
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
                        &["TIME", "SOURCE", "EVENT", "ACTOR", "SUBJECT", "TARGET"],
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
                    svc.export_audit_to_file(&actor, &q, range, format, &path)
                        .await?
                }
                None => {
                    let mut stdout =
                        super::output::PipeWatch::new(std::io::BufWriter::new(std::io::stdout()));
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
    }
    Ok(0)
}
