//! `PageQuery`: page, page size, search, filters and sort over a whitelist of columns per list.
//! The whitelist is data ([`ListSpec`], in `domain::list`); `store::query` maps each name to SQL.
//! Column names from a user never reach SQL text.

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use super::list::{ColumnKind, ColumnSpec, ListSpec};

pub const MAX_PAGE_SIZE: u32 = 500;
pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_SEARCH_CHARS: usize = 200;
/// Totals are counted exactly up to this many rows; beyond it a page reports `TOTAL_CAP + 1`
/// and the console shows "more than 100,000" (counting a million rows on every page flip
/// would cost more than the page itself).
pub const TOTAL_CAP: u64 = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SortDir {
    #[default]
    Asc,
    Desc,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortKey {
    pub column: String,
    pub dir: SortDir,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub column: String,
    /// Matches when the column equals any of the values (parsed per the column's kind).
    pub values: Vec<String>,
}

/// A position in a list's sort order: the sort-key values and the unique tie-breaker of one
/// row, as text (cast back to each key's SQL type by the store). Opaque to callers; the CLI
/// prints it encoded ([`Cursor::encode`]) as `next_cursor` for `--after`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub keys: Vec<Option<String>>,
    pub id: String,
}

impl Cursor {
    /// Hex of the JSON form: one shell-safe word.
    pub fn encode(&self) -> String {
        hex::encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(s: &str) -> Result<Self, PageQueryError> {
        let bytes = hex::decode(s.trim()).map_err(|_| PageQueryError::BadCursor)?;
        serde_json::from_slice(&bytes).map_err(|_| PageQueryError::BadCursor)
    }
}

/// Where the page starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Position {
    /// Page number `page` counted from the start (OFFSET: only for an explicit jump to page N).
    #[default]
    Offset,
    /// The rows right after this row (keyset, next page).
    After(Cursor),
    /// The rows right before this row (keyset backwards, previous page).
    Before(Cursor),
    /// The last rows of the whole list (the sort order scanned backwards).
    Last,
}

/// What a list request asks for. The page never waits for the count: the console asks for
/// [`Want::Rows`] and, once per query change, separately for an estimate and a capped count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Want {
    /// Rows and the exact total (two statements; the CLI's JSON keeps an exact `total`).
    #[default]
    RowsAndTotal,
    /// Rows only (`total` is 0).
    Rows,
    /// No rows; `total` is the planner's estimate of the matching rows.
    Estimate,
    /// No rows; `total` is exact up to [`TOTAL_CAP`], `TOTAL_CAP + 1` above.
    CappedCount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageQuery {
    pub page: u32,
    pub page_size: u32,
    pub search: Option<String>,
    pub filters: Vec<Filter>,
    pub sort: Vec<SortKey>,
    #[serde(default)]
    pub position: Position,
    #[serde(default)]
    pub want: Want,
}

impl Default for PageQuery {
    fn default() -> Self {
        Self {
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
            search: None,
            filters: Vec::new(),
            sort: Vec::new(),
            position: Position::Offset,
            want: Want::RowsAndTotal,
        }
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PageQueryError {
    #[error("page must be 1 or more (got {0})")]
    Page(u32),
    #[error("page size must be between 1 and {MAX_PAGE_SIZE} (got {0})")]
    PageSize(u32),
    #[error("search text is longer than {MAX_SEARCH_CHARS} characters")]
    SearchTooLong,
    #[error("{list}: cannot sort by unknown column {column:?} (sortable: {allowed})")]
    UnknownSortColumn {
        list: &'static str,
        column: String,
        allowed: String,
    },
    #[error("{list}: cannot filter by unknown column {column:?} (filterable: {allowed})")]
    UnknownFilterColumn {
        list: &'static str,
        column: String,
        allowed: String,
    },
    #[error("not a valid cursor (use the next_cursor of a previous page)")]
    BadCursor,
    #[error("{list}: filter value {value:?} is not a valid {kind:?} for column {column:?}")]
    BadFilterValue {
        list: &'static str,
        column: String,
        value: String,
        kind: ColumnKind,
    },
}

impl PageQuery {
    pub fn new(page: u32, page_size: u32) -> Self {
        Self {
            page,
            page_size,
            ..Self::default()
        }
    }

    pub fn search(mut self, s: impl Into<String>) -> Self {
        let s = s.into();
        self.search = if s.trim().is_empty() { None } else { Some(s) };
        self
    }

    pub fn filter(
        mut self,
        column: impl Into<String>,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let column = column.into();
        self.filters.retain(|f| f.column != column);
        self.filters.push(Filter {
            column,
            values: values.into_iter().map(Into::into).collect(),
        });
        self
    }

    pub fn sort(mut self, column: impl Into<String>, dir: SortDir) -> Self {
        self.sort.push(SortKey {
            column: column.into(),
            dir,
        });
        self
    }

    /// The same query at another position (keeps search, filters, sort).
    pub fn at(mut self, position: Position) -> Self {
        self.position = position;
        self
    }

    /// The same query asking for something else (rows, a count, an estimate).
    pub fn wanting(mut self, want: Want) -> Self {
        self.want = want;
        self
    }

    /// Search, filters and sort — what a cached count depends on (not the position).
    pub fn same_rows_as(&self, other: &PageQuery) -> bool {
        self.search_text() == other.search_text()
            && self.filters == other.filters
            && self.sort == other.sort
    }

    /// Zero-based row offset of the first row of this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.page_size)
    }

    /// The trimmed search text, if any.
    pub fn search_text(&self) -> Option<&str> {
        self.search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// Checks the query against a list's whitelist. Every list entry point calls this first.
    pub fn validate(&self, spec: &ListSpec) -> Result<(), PageQueryError> {
        if self.page < 1 {
            return Err(PageQueryError::Page(self.page));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(PageQueryError::PageSize(self.page_size));
        }
        if self
            .search
            .as_deref()
            .is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS)
        {
            return Err(PageQueryError::SearchTooLong);
        }
        for s in &self.sort {
            match spec.column(&s.column) {
                Some(c) if c.sortable => {}
                _ => {
                    return Err(PageQueryError::UnknownSortColumn {
                        list: spec.name,
                        column: super::DisplayText::new(&s.column).into_string(),
                        allowed: names(spec, |c| c.sortable),
                    });
                }
            }
        }
        for f in &self.filters {
            let col = match spec.column(&f.column) {
                Some(c) if c.filterable => c,
                _ => {
                    return Err(PageQueryError::UnknownFilterColumn {
                        list: spec.name,
                        column: super::DisplayText::new(&f.column).into_string(),
                        allowed: names(spec, |c| c.filterable),
                    });
                }
            };
            for v in &f.values {
                if !value_parses(col.kind, v) {
                    return Err(PageQueryError::BadFilterValue {
                        list: spec.name,
                        column: f.column.clone(),
                        value: super::DisplayText::new(v).into_string(),
                        kind: col.kind,
                    });
                }
            }
        }
        Ok(())
    }
}

fn names(spec: &ListSpec, pred: impl Fn(&ColumnSpec) -> bool) -> String {
    spec.columns
        .iter()
        .filter(|c| pred(c))
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `v` is a valid filter value for a column of `kind`.
pub fn value_parses(kind: ColumnKind, v: &str) -> bool {
    match kind {
        ColumnKind::Text => true,
        ColumnKind::Bool => parse_bool(v).is_some(),
        ColumnKind::Uuid => uuid::Uuid::parse_str(v.trim()).is_ok(),
        ColumnKind::Int => v.trim().parse::<i64>().is_ok(),
        ColumnKind::Timestamp => chrono::DateTime::parse_from_rfc3339(v.trim()).is_ok(),
    }
}

pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" | "enabled" => Some(true),
        "false" | "no" | "0" | "off" | "disabled" => Some(false),
        _ => None,
    }
}

/// One page of a list with the total number of matching rows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
    /// Cursor of the last row when more rows follow (CLI `--after`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Where the page sits in the list (for the console's paging).
    #[serde(skip)]
    pub nav: PageNav,
}

/// Keyset navigation facts of a page.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PageNav {
    /// Cursors of the first and last row.
    pub first: Option<Cursor>,
    pub last: Option<Cursor>,
    /// No rows before the first / after the last row.
    pub at_start: bool,
    pub at_end: bool,
}

impl<T> Page<T> {
    pub fn empty(q: &PageQuery) -> Self {
        Self {
            items: Vec::new(),
            total: 0,
            page: q.page,
            page_size: q.page_size,
            next_cursor: None,
            nav: PageNav {
                at_start: true,
                at_end: true,
                ..PageNav::default()
            },
        }
    }

    /// 1-based number of the first row shown (0 when empty).
    pub fn first_row(&self) -> u64 {
        if self.items.is_empty() {
            0
        } else {
            u64::from(self.page - 1) * u64::from(self.page_size) + 1
        }
    }

    pub fn last_row(&self) -> u64 {
        if self.items.is_empty() {
            0
        } else {
            self.first_row() + self.items.len() as u64 - 1
        }
    }

    pub fn total_pages(&self) -> u32 {
        let size = u64::from(self.page_size.max(1));
        u32::try_from(self.total.div_ceil(size))
            .unwrap_or(u32::MAX)
            .max(1)
    }

    /// Whether the total is a lower bound (more than [`TOTAL_CAP`] rows match).
    pub fn total_is_capped(&self) -> bool {
        self.total > TOTAL_CAP
    }

    /// "rows 51–100 of 12,345" (or "… of more than 100,000").
    pub fn range_label(&self) -> String {
        let of = if self.total_is_capped() {
            format!("more than {}", thousands(TOTAL_CAP))
        } else {
            thousands(self.total)
        };
        format!("rows {}–{} of {of}", self.first_row(), self.last_row())
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            page: self.page,
            page_size: self.page_size,
            next_cursor: self.next_cursor,
            nav: self.nav,
        }
    }
}

/// 12345 → "12,345"
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        let p = Page {
            items: vec![0; 50],
            total: 12345,
            page: 2,
            page_size: 50,
            next_cursor: None,
            nav: PageNav::default(),
        };
        assert_eq!(p.range_label(), "rows 51–100 of 12,345");
        assert_eq!(p.total_pages(), 247);
    }

    #[test]
    fn cursor_round_trip_and_garbage() {
        let c = Cursor {
            keys: vec![Some("o'brien \"x\"".into()), None],
            id: "42".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert_eq!(Cursor::decode("zz"), Err(PageQueryError::BadCursor));
        assert_eq!(Cursor::decode("7b7d"), Err(PageQueryError::BadCursor));
    }
}
