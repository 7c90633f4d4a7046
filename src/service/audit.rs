//! The audit trail: one listing over users_audit, trusts_audit and mandate_audit
//! (filters actor, subject, action, time range; sort; paging) and export to CSV or JSON.

use crate::service::access::Area;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::audit_view::{Names, ReadableAuditEvent};
use super::{Actor, ServiceError, ServiceResult, Services};
pub use crate::domain::audit::TimeRange;
use crate::domain::page::MAX_PAGE_SIZE;
use crate::domain::{Page, PageQuery};
use crate::store::audit::{self as store, ExportCursor};
pub use crate::store::audit::{AuditActor, AuditEvent};

/// Export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

const CSV_HEADER: [&str; 16] = [
    "occurred_at",
    "source",
    "action",
    "actor_user_id",
    "via",
    "os_user",
    "subject_id",
    "subject_name",
    "target_user_id",
    "details",
    "event",
    "event_label",
    "actor",
    "subject",
    "target",
    "id",
];

/// One CSV field: formula prefixes (`= + - @`, and tab/CR which spreadsheets also act on) are
/// neutralised with a leading `'`; the field is quoted when it holds a quote, comma or line
/// break (quotes doubled).
pub fn csv_field(raw: &str) -> String {
    let mut v = String::with_capacity(raw.len() + 2);
    if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        v.push('\'');
    }
    v.push_str(raw);
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

fn csv_row(r: &ReadableAuditEvent) -> String {
    let e = &r.raw;
    let opt = |u: Option<uuid::Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
    let fields = [
        e.occurred_at.to_rfc3339(),
        e.source.clone(),
        e.action.clone(),
        opt(e.actor_user_id),
        e.via.clone(),
        e.os_user.clone().unwrap_or_default(),
        opt(e.subject_id),
        e.subject_name.clone().unwrap_or_default(),
        opt(e.target_user_id),
        e.details.to_string(),
        e.event.clone(),
        r.event_label.clone(),
        r.actor.clone(),
        r.subject.clone(),
        r.target.clone().unwrap_or_default(),
        e.id.to_string(),
    ];
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }
}

/// Where the console writes an export: `<data dir>/audit-export-<UTC time>.<ext>` (the data
/// dir is created 0700).
pub fn default_export_path(format: ExportFormat) -> std::io::Result<PathBuf> {
    let dir = crate::files::ensure_data_dir()?;
    Ok(dir.join(format!(
        "audit-export-{}.{}",
        chrono::Utc::now().format("%Y%m%d-%H%M%S"),
        format.extension()
    )))
}

/// The file being written: a hidden sibling of the target, created 0600 (O_EXCL), renamed over
/// the target only when the export is complete. Dropped before [`Partial::finish`] — an error,
/// or the task cancelled (Ctrl-C) — it removes itself, so a failed export never leaves an empty
/// or truncated file behind and never clobbers an earlier export at the target path.
struct Partial {
    tmp: PathBuf,
    target: PathBuf,
    done: bool,
}

impl Partial {
    fn create(target: &Path) -> std::io::Result<(Self, std::fs::File)> {
        let name = target
            .file_name()
            .ok_or_else(|| std::io::Error::other("the export path names no file"))?
            .to_string_lossy()
            .into_owned();
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = dir.join(format!(
            ".{name}.partial-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let file = crate::files::create_new_private(&tmp)?;
        Ok((
            Self {
                tmp,
                target: target.to_path_buf(),
                done: false,
            },
            file,
        ))
    }

    fn finish(mut self) -> std::io::Result<()> {
        std::fs::rename(&self.tmp, &self.target)?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl Services {
    /// Exports every row matching `q` and `range` to the file at `path` (created 0600; an
    /// existing file is replaced only once the export is complete). On any failure or
    /// cancellation nothing is left at `path` that was not there before. Returns the number of
    /// rows written. The CLI's `audit export --out` and the console's export both use it.
    pub async fn export_to_file(
        &self,
        actor: &Actor,
        q: &PageQuery,
        range: TimeRange,
        format: ExportFormat,
        path: &Path,
    ) -> ServiceResult<u64> {
        self.export_to_file_with(actor, q, range, format, path, &mut |_| {})
            .await
    }

    /// [`Services::export_to_file`] reporting the rows written so far after every page, for
    /// a footer that shows a running export. Safe to cancel (drop the future) at any await
    /// point: the partial file is removed and an earlier file at `path` stays as it was.
    pub async fn export_to_file_with(
        &self,
        actor: &Actor,
        q: &PageQuery,
        range: TimeRange,
        format: ExportFormat,
        path: &Path,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> ServiceResult<u64> {
        self.require_audit_reader(actor).await?;
        let io = |e: std::io::Error| {
            ServiceError::Internal(format!(
                "cannot write the export to {}: {e}",
                crate::domain::DisplayText::new(&path.display().to_string())
            ))
        };
        let (partial, file) = Partial::create(path).map_err(io)?;
        let mut out = std::io::BufWriter::new(file);
        let n = self
            .export_audit_with(actor, q, range, format, &mut out, progress)
            .await?;
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        drop(file);
        partial.finish().map_err(io)?;
        Ok(n)
    }

    /// Fresh on every call: an operator demoted since signing in reads no more of the trail.
    async fn require_audit_reader(&self, actor: &Actor) -> ServiceResult<()> {
        self.read_area(actor, Area::Audit, "reading the audit trail")
            .await
            .map(drop)
    }

    /// One page of the combined audit trail.
    pub async fn list_audit(
        &self,
        actor: &Actor,
        q: &PageQuery,
        range: TimeRange,
    ) -> ServiceResult<Page<AuditEvent>> {
        self.require_audit_reader(actor).await?;
        Ok(store::list(&self.db, q, range).await?)
    }

    pub async fn audit_filter_values(
        &self,
        actor: &Actor,
        column: &str,
        q: &PageQuery,
        range: TimeRange,
    ) -> ServiceResult<Vec<String>> {
        self.require_audit_reader(actor).await?;
        Ok(store::filter_values(&self.db, column, q, range, 200).await?)
    }

    /// Writes every row matching `q` (search and filters; its sort, page and page size are
    /// ignored) to `out`, newest first, keyset-paged over `(occurred_at, id)` — never more
    /// than one page in memory, and rows written during the export neither repeat nor vanish.
    /// Returns the number of rows written.
    pub async fn export_audit(
        &self,
        actor: &Actor,
        q: &PageQuery,
        range: TimeRange,
        format: ExportFormat,
        out: &mut (dyn Write + Send),
    ) -> ServiceResult<u64> {
        self.export_audit_with(actor, q, range, format, out, &mut |_| {})
            .await
    }

    /// [`Services::export_audit`] calling `progress` with the rows written so far after every
    /// page (a page is at most 500 rows).
    pub async fn export_audit_with(
        &self,
        actor: &Actor,
        q: &PageQuery,
        range: TimeRange,
        format: ExportFormat,
        out: &mut (dyn Write + Send),
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> ServiceResult<u64> {
        self.require_audit_reader(actor).await?;
        let io = |e: std::io::Error| ServiceError::Internal(format!("export write failed: {e}"));
        let mut written = 0u64;
        let mut after: Option<ExportCursor> = None;
        match format {
            ExportFormat::Csv => writeln!(out, "{}", CSV_HEADER.join(",")).map_err(io)?,
            ExportFormat::Json => write!(out, "[").map_err(io)?,
        }
        loop {
            if written > 0 {
                // A long export stops at the next page once its operator loses the right.
                self.require_audit_reader(actor).await?;
            }
            let rows = store::export_page(&self.db, q, range, after, MAX_PAGE_SIZE).await?;
            let names = Names::of(&self.db, &rows).await?;
            let next = match rows.last() {
                Some(last) if rows.len() == MAX_PAGE_SIZE as usize => Some(ExportCursor::of(last)),
                _ => None,
            };
            for e in rows.into_iter().map(|e| names.readable(e)) {
                let e = &e;
                match format {
                    ExportFormat::Csv => writeln!(out, "{}", csv_row(e)).map_err(io)?,
                    ExportFormat::Json => {
                        let sep = if written == 0 { "\n" } else { ",\n" };
                        let json = serde_json::to_string(e)
                            .map_err(|e| ServiceError::Internal(e.to_string()))?;
                        write!(out, "{sep}  {json}").map_err(io)?;
                    }
                }
                written += 1;
            }
            progress(written);
            match next {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        if format == ExportFormat::Json {
            writeln!(out, "\n]").map_err(io)?;
        }
        out.flush().map_err(io)?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("=1+2"), "'=1+2");
        assert_eq!(csv_field("+x"), "'+x");
        assert_eq!(csv_field("-x"), "'-x");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(
            csv_field("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }
}
