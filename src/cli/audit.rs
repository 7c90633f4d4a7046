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
    /// Action, e.g. MEMBER_ADDED (repeatable).
    #[arg(long = "action")]
    pub actions: Vec<String>,
    /// users, trusts or mandates (repeatable).
    #[arg(long = "source")]
    pub sources: Vec<String>,
    /// From this time, inclusive: RFC 3339, `YYYY-MM-DD HH:MM` or `YYYY-MM-DD` (UTC).
    #[arg(long)]
    pub from: Option<String>,
    /// Until this time, exclusive: RFC 3339, `YYYY-MM-DD HH:MM` or `YYYY-MM-DD` (a bare date
    /// or minute includes all of it).
    #[arg(long)]
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
            q = q.filter("action", self.actions.clone());
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
    /// List audit rows, newest first. Sort/filter columns: occurred_at, source, action, actor,
    /// subject, subject_name, target, via.
    List {
        #[command(flatten)]
        list: PageArgs,
        #[command(flatten)]
        filter: AuditFilter,
    },
    /// Export every matching row, newest first, to stdout (or --out, created 0600) as CSV or
    /// JSON. Rows written while the export runs neither repeat nor push others out.
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
            let page = svc.list_audit(&actor, &q, range).await?;
            match ctx.output {
                Output::Json => print_json(&page)?,
                Output::Table => {
                    let opt = |u: Option<uuid::Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
                    let rows: Vec<Vec<String>> = page
                        .items
                        .iter()
                        .map(|e| {
                            vec![
                                e.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                                e.source.clone(),
                                e.action.clone(),
                                match (&e.actor_user_id, &e.os_user) {
                                    (Some(a), _) => a.to_string(),
                                    (None, Some(os)) => format!("{}:{os}", e.via),
                                    (None, None) => e.via.clone(),
                                },
                                e.subject_name.clone().unwrap_or_else(|| opt(e.subject_id)),
                                opt(e.target_user_id),
                            ]
                        })
                        .collect();
                    print_table(
                        &["TIME", "SOURCE", "ACTION", "ACTOR", "SUBJECT", "TARGET"],
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
                    // 0600: the audit trail names users and what was done to them.
                    let mut f = std::io::BufWriter::new(crate::files::create_private(&path)?);
                    svc.export_audit(&actor, &q, range, format, &mut f).await?
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
