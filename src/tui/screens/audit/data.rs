//! The audit screen's data: typed audit rows over the users, trusts and mandates audit, the
//! list source, and the export (a cancellable task), over service functions.

use chrono::{DateTime, Utc};

use crate::domain::audit::TimeRange;
use crate::domain::{DisplayText, Page, PageQuery};
use crate::service::audit_view::{FieldChange, audit_diff};
use crate::service::{Actor, Services};
use crate::tui::action::{JobFuture, ListSource, OpOutcome, Operation, Progress};
use crate::tui::screens::{shown, when};
use crate::tui::widgets::table::TableRow;

/// One audit event as the list shows it: actor and subject resolved to email or name (the id
/// when unknown), the action in the one vocabulary, and the row's before/after as changes.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRow {
    pub id: uuid::Uuid,
    pub occurred_at: DateTime<Utc>,
    /// `users`, `trusts` or `mandates`.
    pub source: String,
    /// The canonical event code (one vocabulary over the three tables).
    pub event: String,
    /// Its label, e.g. "User disabled".
    pub action: String,
    /// The acting user's email or name, else `cli (os user)`, else the channel.
    pub actor: String,
    pub subject: String,
    /// The affected user when it is not the subject.
    pub target: Option<String>,
    pub via: String,
    /// The fields that differ between before and after.
    pub changes: Vec<FieldChange>,
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

/// A JSON value as the detail pane shows it (strings bare; absent as `(none)`).
pub fn value_text(v: &Option<serde_json::Value>) -> String {
    match v {
        None => "(none)".into(),
        Some(serde_json::Value::String(s)) => DisplayText::new(s).into_string(),
        Some(other) => DisplayText::new(&other.to_string()).into_string(),
    }
}

impl AuditRow {
    /// Label/value lines of the detail pane (the changes are drawn after them as a diff).
    pub fn detail_lines(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("When".into(), when(&self.occurred_at).into_string()),
            ("Area".into(), shown(&self.source)),
            (
                "Action".into(),
                format!("{} ({})", shown(&self.action), shown(&self.event)),
            ),
            ("Actor".into(), shown(&self.actor)),
            ("Subject".into(), shown(&self.subject)),
        ];
        if let Some(t) = &self.target {
            v.push(("User".into(), shown(t)));
        }
        v.push(("Via".into(), shown(&self.via)));
        v.push(("Id".into(), self.id.to_string()));
        v
    }

    /// The before/after diff: `- field: before` / `+ field: after` per changed field (a
    /// field that did not exist before has only its `+` line, a removed one only its `-`).
    pub fn diff_lines(&self) -> Vec<(bool, String)> {
        let mut out = Vec::new();
        for c in &self.changes {
            let f = shown(&c.field);
            if c.before.is_some() {
                out.push((false, format!("- {f}: {}", value_text(&c.before))));
            }
            if c.after.is_some() {
                out.push((true, format!("+ {f}: {}", value_text(&c.after))));
            }
        }
        out
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

impl ListSource<AuditRow> for Audit {
    fn page(&self, s: Services, a: Actor, q: PageQuery) -> JobFuture<Page<AuditRow>> {
        Box::pin(async move {
            let (q, range) = audit_range(q)?;
            let page = s.list_audit_readable(&a, &q, range).await?;
            Ok(page.map(|e| AuditRow {
                id: e.raw.id,
                occurred_at: e.raw.occurred_at,
                changes: audit_diff(&e.raw.details),
                source: e.raw.source,
                event: e.raw.event,
                action: e.event_label,
                actor: e.actor,
                subject: e.subject,
                target: e.target,
                via: e.raw.via,
            }))
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

    fn run(self: Box<Self>, s: Services, a: Actor, progress: Progress) -> JobFuture<OpOutcome> {
        Box::pin(async move {
            use crate::service::audit::{ExportFormat, default_export_path};
            let format = if self.json {
                ExportFormat::Json
            } else {
                ExportFormat::Csv
            };
            let path = default_export_path(format)?;
            let (query, range) = audit_range(self.query)?;
            let mut report = |done: u64| progress.report(done);
            let n = s
                .export_to_file_with(&a, &query, range, format, &path, &mut report)
                .await?;
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
            id: uuid::Uuid::from_u128(7),
            occurred_at: "2026-11-05T12:00:00Z".parse().unwrap(),
            source: "trusts".into(),
            event: "TRUST_REGISTERED".into(),
            action: "Trust registered".into(),
            actor: "cli (ops)".into(),
            subject: "Leeds Teaching".into(),
            target: None,
            via: "cli".into(),
            changes: audit_diff(&serde_json::json!({
                "before": {"name": "Leeds", "enabled": true},
                "after": {"name": "Leeds Teaching", "enabled": true, "code": "LEEDS"}
            })),
        };
        assert_eq!(
            e.diff_lines(),
            [
                (true, "+ code: LEEDS".to_string()),
                (false, "- name: Leeds".to_string()),
                (true, "+ name: Leeds Teaching".to_string())
            ]
        );
        assert_eq!(
            e.texts(),
            [
                "2026-11-05 12:00",
                "trusts",
                "Trust registered",
                "cli (ops)",
                "Leeds Teaching",
                "cli"
            ]
        );
    }
}

/// Reads the seal badge (`full`: verify the whole trail; else count the unsealed rows).
#[derive(Debug)]
pub struct LoadSeal {
    pub full: bool,
}

impl crate::tui::action::Job for LoadSeal {
    type Out = crate::service::seal_badge::SealBadge;
    fn run(
        self,
        s: crate::service::Services,
        a: crate::service::Actor,
    ) -> crate::tui::action::JobFuture<crate::service::seal_badge::SealBadge> {
        Box::pin(async move { Ok(s.seal_badge(&a, self.full).await?) })
    }
}
