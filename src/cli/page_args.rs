//! The one set of paging, search, filter and sort flags of every CLI list (`mandates list`,
//! `mandates members list`, `users list`, `trusts list`, `kit-slots list`, `audit list`),
//! flattened into each command with `#[command(flatten)]`. One sort syntax everywhere:
//! `--sort COLUMN[:asc|desc]` (repeatable, the first is primary).

use clap::Args;

use crate::domain::page::{Cursor, DEFAULT_PAGE_SIZE, Position, SortDir};
use crate::domain::{DisplayText, PageQuery, ValidationError};

/// Paging, search, filters and sort shared by every list command.
#[derive(Debug, Args, Clone, Default)]
pub struct PageArgs {
    /// Page number (1-based; a jump: OFFSET). To walk a whole list use --after.
    #[arg(long, default_value_t = 1)]
    pub page: u32,
    /// Continue after this row: the `next_cursor` of the previous page's JSON (keyset paging,
    /// stable while rows are added; absent on the last page). Same search/filter/sort required.
    #[arg(long, value_name = "CURSOR", conflicts_with = "page")]
    pub after: Option<String>,
    /// Rows per page (1–500; default 50, `kit-slots list` 500).
    #[arg(long)]
    pub page_size: Option<u32>,
    /// Substring search over the list's searchable columns.
    #[arg(long)]
    pub search: Option<String>,
    /// Filter as COLUMN=VALUE[,VALUE...] (repeatable).
    #[arg(long = "filter", value_name = "COLUMN=VALUES")]
    pub filters: Vec<String>,
    /// Sort as COLUMN or COLUMN:asc or COLUMN:desc (repeatable; first is primary).
    #[arg(
        long = "sort",
        value_name = "COLUMN[:asc|desc]",
        allow_hyphen_values = true
    )]
    pub sorts: Vec<String>,
}

impl PageArgs {
    /// The query these flags ask for, 50 rows a page unless `--page-size`.
    pub fn to_query(&self) -> Result<PageQuery, ValidationError> {
        self.to_query_sized(DEFAULT_PAGE_SIZE)
    }

    /// [`PageArgs::to_query`] with another default page size.
    pub fn to_query_sized(&self, default_page_size: u32) -> Result<PageQuery, ValidationError> {
        let mut q = PageQuery::new(self.page, self.page_size.unwrap_or(default_page_size));
        if let Some(c) = &self.after {
            let cursor = Cursor::decode(c).map_err(|e| ValidationError::Invalid {
                field: "--after",
                message: e.to_string(),
            })?;
            q = q.at(Position::After(cursor));
        }
        if let Some(s) = &self.search {
            q = q.search(s.clone());
        }
        for f in &self.filters {
            let (col, vals) = f.split_once('=').ok_or_else(|| ValidationError::Invalid {
                field: "--filter",
                message: format!("expected COLUMN=VALUE, got {}", DisplayText::new(f)),
            })?;
            q = q.filter(col.trim(), vals.split(',').map(|v| v.trim().to_string()));
        }
        for s in &self.sorts {
            let (col, dir) = parse_sort(s)?;
            q = q.sort(col, dir);
        }
        Ok(q)
    }
}

/// `COLUMN`, `COLUMN:asc` or `COLUMN:desc` — and nothing else (a leading `-` is refused with
/// the spelling to use). Whether the column exists is the list's whitelist's to say.
pub fn parse_sort(raw: &str) -> Result<(String, SortDir), ValidationError> {
    let bad = |hint: String| ValidationError::Invalid {
        field: "--sort",
        message: hint,
    };
    let s = raw.trim();
    if let Some(col) = s.strip_prefix('-') {
        return Err(bad(format!(
            "expected COLUMN[:asc|desc], got {}; for descending write {}:desc",
            DisplayText::new(s),
            DisplayText::new(col)
        )));
    }
    let (col, dir) = match s.split_once(':') {
        None => (s, SortDir::Asc),
        Some((c, d)) if d.trim().eq_ignore_ascii_case("asc") => (c, SortDir::Asc),
        Some((c, d)) if d.trim().eq_ignore_ascii_case("desc") => (c, SortDir::Desc),
        Some(_) => {
            return Err(bad(format!(
                "expected COLUMN[:asc|desc], got {}",
                DisplayText::new(s)
            )));
        }
    };
    let col = col.trim();
    if col.is_empty() || !col.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(bad(format!(
            "expected COLUMN[:asc|desc], got {}",
            DisplayText::new(s)
        )));
    }
    Ok((col.to_string(), dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sort_syntax() {
        let ok = [
            ("name", "name", SortDir::Asc),
            ("name:asc", "name", SortDir::Asc),
            ("created_at:desc", "created_at", SortDir::Desc),
            (" email:DESC ", "email", SortDir::Desc),
        ];
        for (raw, col, dir) in ok {
            assert_eq!(parse_sort(raw).unwrap(), (col.to_string(), dir), "{raw}");
        }
        for bad in ["-name", "name:down", "", ":desc", "na me", "name:asc:desc"] {
            let e = parse_sort(bad).unwrap_err().to_string();
            assert!(e.starts_with("--sort:"), "{bad}: {e}");
        }
        // The old `-COL` spelling says what to write instead.
        let e = parse_sort("-created_at").unwrap_err().to_string();
        assert!(e.contains("created_at:desc"), "{e}");
    }

    #[test]
    fn page_size_defaults_per_list() {
        let a = PageArgs {
            page: 1,
            ..PageArgs::default()
        };
        assert_eq!(a.to_query().unwrap().page_size, DEFAULT_PAGE_SIZE);
        assert_eq!(a.to_query_sized(500).unwrap().page_size, 500);
        let a = PageArgs {
            page: 1,
            page_size: Some(7),
            sorts: vec!["name:desc".into(), "code".into()],
            ..PageArgs::default()
        };
        let q = a.to_query_sized(500).unwrap();
        assert_eq!(q.page_size, 7);
        assert_eq!(q.sort.len(), 2);
    }
}
