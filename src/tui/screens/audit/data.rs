//! The audit screen's data: typed audit rows over the users, trusts and mandates audit, the
//! list source, and the export (a cancellable task), over service functions.

use chrono::{DateTime, Utc};

use crate::domain::audit::TimeRange;
use crate::domain::{DisplayText, PageQuery};
use crate::service::{Actor, Services};
use crate::tui::action::{JobFuture, ListSource, OpOutcome, Operation, Reply};
use crate::tui::screens::when;
use crate::tui::widgets::table::TableRow;

/// One audit event as the list shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRow {
    pub occurred_at: DateTime<Utc>,
    /// `users`, `trusts` or `mandates`.
    pub source: String,
    pub action: String,
    /// The acting user's id, else `via:os-user`, else the channel.
    pub actor: String,
    pub subject: String,
    pub via: String,
}

impl TableRow for AuditRow {
    fn cells(&self) -> Vec<DisplayText> {
        vec![
            when(&self.occurred_at),
            DisplayText::new(&self.source),
            DisplayText::new(&self.action),
            DisplayText::new(&self.actor),
            DisplayText::new(&self.subject),
            DisplayText::new(&self.via),
        ]
    }
}

/// The audit screen's time range travels as two pseudo-filters (`since`, `until`) set from the
/// command palette; they are taken out of the query here and parsed by the one
/// [`TimeRange::parse`].
pub fn audit_range(mut q: PageQuery) -> anyhow::Result<(PageQuery, TimeRange)> {
    let value = |col: &str| {
        q.filters
            .iter()
            .find(|f| f.column == col)
            .and_then(|f| f.values.first().cloned())
    };
    let (since, until) = (value("since"), value("until"));
    let range = TimeRange::parse(since.as_deref(), until.as_deref())?;
    q.filters
        .retain(|f| f.column != "since" && f.column != "until");
    Ok((q, range))
}

/// The audit list.
#[derive(Debug)]
pub struct Audit;

impl ListSource for Audit {
    fn page(&self, s: Services, a: Actor, q: PageQuery) -> JobFuture<Reply> {
        Box::pin(async move {
            let (q, range) = audit_range(q)?;
            let page = s.list_audit(&a, &q, range).await?;
            Ok(Box::new(page.map(|e| {
                AuditRow {
                    actor: match (&e.actor_user_id, &e.os_user) {
                        (Some(u), _) => u.to_string(),
                        (None, Some(os)) => format!("{}:{os}", e.via),
                        (None, None) => e.via.clone(),
                    },
                    subject: e
                        .subject_name
                        .clone()
                        .or(e.subject_id.map(|u| u.to_string()))
                        .unwrap_or_default(),
                    occurred_at: e.occurred_at,
                    source: e.source,
                    action: e.action,
                    via: e.via,
                }
            })) as Reply)
        })
    }
    fn filter_values(
        &self,
        s: Services,
        a: Actor,
        column: String,
        q: PageQuery,
    ) -> JobFuture<Vec<String>> {
        Box::pin(async move {
            let (q, range) = audit_range(q)?;
            Ok(s.audit_filter_values(&a, &column, &q, range).await?)
        })
    }
}

/// Writes the audit rows matching the screen's query to a file (CSV or JSON).
#[derive(Clone, Debug)]
pub struct Export {
    pub json: bool,
    pub query: PageQuery,
}

impl Operation for Export {
    fn describe(&self) -> &'static str {
        "export audit"
    }

    /// Cancelling only stops writing the export file (nothing in the database changes).
    fn cancellable(&self) -> bool {
        true
    }

    fn run(self: Box<Self>, s: Services, a: Actor) -> JobFuture<OpOutcome> {
        Box::pin(async move {
            use crate::service::audit::{ExportFormat, default_export_path};
            let format = if self.json {
                ExportFormat::Json
            } else {
                ExportFormat::Csv
            };
            let path = default_export_path(format)?;
            let (query, range) = audit_range(self.query)?;
            let n = s.export_to_file(&a, &query, range, format, &path).await?;
            Ok(OpOutcome::toast(format!(
                "{n} audit rows exported to {}",
                DisplayText::new(&path.display().to_string())
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_range_is_taken_out_of_the_query() {
        let q = PageQuery::default()
            .filter("since", ["2026-11-01"])
            .filter("until", ["2026-11-20T12:00:00Z"])
            .filter("action", ["REGISTERED"]);
        let (q, r) = audit_range(q).unwrap();
        assert_eq!(q.filters.len(), 1);
        assert_eq!(q.filters[0].column, "action");
        assert_eq!(r.from.unwrap().to_rfc3339(), "2026-11-01T00:00:00+00:00");
        assert_eq!(r.to.unwrap().to_rfc3339(), "2026-11-20T12:00:00+00:00");
        assert!(audit_range(PageQuery::default().filter("since", ["yesterday"])).is_err());
    }

    #[test]
    fn typed_rows_render_the_cells_the_list_showed() {
        let e = AuditRow {
            occurred_at: "2026-11-05T12:00:00Z".parse().unwrap(),
            source: "trusts".into(),
            action: "REGISTERED".into(),
            actor: "cli:ops".into(),
            subject: "Leeds Teaching".into(),
            via: "cli".into(),
        };
        assert_eq!(
            e.texts(),
            [
                "2026-11-05 12:00",
                "trusts",
                "REGISTERED",
                "cli:ops",
                "Leeds Teaching",
                "cli"
            ]
        );
    }
}
