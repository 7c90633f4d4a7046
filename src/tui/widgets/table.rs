//! THE table: one widget for every list. Server-side pages (`PageQuery` → `Page<Row>`), a sort
//! indicator per column (`s` cycles), filters (`f`), debounced `/` search, "rows 51–100 of
//! 12,345", PgUp/PgDn/Home/End, a spinner while a page loads, and the previous page kept on
//! screen until the next one arrives.

use std::sync::Arc;

use ratatui::layout::Constraint;
use tui_input::Input;

use crate::domain::page::{Filter, PageNav, Position, Want};
use crate::domain::{Page, PageQuery, SortDir};
use crate::tui::action::{FilterSource, Row};

pub use super::table_count::Count;
pub use super::typed_table::{Fetched, FilterJob, PageJob, TableRow, Typed};

pub const SPINNER: &[&str] = &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// One column: its title, the whitelisted list column it sorts/filters by, and its width.
///
/// The width is declared, never measured from the rows of a page, so columns stay put while
/// paging: a `Length` column keeps its length, `Fill` columns share the room left by weight.
/// When the room is short, columns that do not identify the row (see [`Column::identifying`])
/// go first, rightmost first; the identifying ones keep a readable width.
#[derive(Clone, Debug)]
pub struct Column {
    pub title: &'static str,
    pub key: Option<&'static str>,
    pub width: Constraint,
    pub sortable: bool,
    pub filterable: bool,
    /// Names the row (name, email, region): dropped never, shrunk last.
    pub identifying: bool,
    /// A detail the row reads without (organisation, origin): the first to go when room is short.
    pub optional: bool,
    /// Empty unless its filter is set (Deleted on the live list): drawn only then.
    pub only_when_filtered: bool,
    /// Cells are times ("2026-11-20 09:15", or "never") drawn as their age ("17d"), styled as
    /// a warning once older than this many seconds.
    pub age_stale_after: Option<i64>,
}

impl Column {
    const fn base(title: &'static str, key: Option<&'static str>, width: Constraint) -> Self {
        Self {
            title,
            key,
            width,
            sortable: key.is_some(),
            filterable: false,
            identifying: false,
            optional: false,
            only_when_filtered: false,
            age_stale_after: None,
        }
    }
    /// A column sortable by the list column `key`.
    pub const fn new(title: &'static str, key: &'static str, width: Constraint) -> Self {
        Self::base(title, Some(key), width)
    }
    /// Also filterable by `key`'s values.
    pub const fn filterable(mut self) -> Self {
        self.filterable = true;
        self
    }
    /// Filterable by `key` but not sortable.
    pub const fn filter_only(title: &'static str, key: &'static str, width: Constraint) -> Self {
        let mut c = Self::base(title, Some(key), width);
        c.sortable = false;
        c.filterable = true;
        c
    }
    /// Display only.
    pub const fn plain(title: &'static str, width: Constraint) -> Self {
        Self::base(title, None, width)
    }
    /// The column names the row: it keeps a readable width and is never dropped.
    pub const fn identifying(mut self) -> Self {
        self.identifying = true;
        self
    }
    /// Dropped before the other columns when the room is short.
    pub const fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
    /// Drawn only while its filter is set (the column is empty otherwise).
    pub const fn only_when_filtered(mut self) -> Self {
        self.only_when_filtered = true;
        self
    }
    /// Times shown as their age; older than `stale_after_secs` is styled as a warning.
    pub const fn age(mut self, stale_after_secs: i64) -> Self {
        self.age_stale_after = Some(stale_after_secs);
        self
    }
}

/// State of one table.
#[derive(Debug)]
pub struct TableView {
    /// The list's name (logs, errors) and where its filter menus' values come from (the
    /// screen's data.rs; its pages are read through [`Typed`]).
    pub list: &'static str,
    pub filters: Option<Arc<dyn FilterSource>>,
    pub title: String,
    pub columns: Vec<Column>,
    pub query: PageQuery,
    /// The last page that arrived (kept visible while the next one loads).
    pub page: Option<Page<Row>>,
    pub selected: usize,
    /// A page of rows was asked for and has not arrived (the console's inbox drops the
    /// answers of superseded requests, so the one that arrives is the one wanted).
    loading: bool,
    pub search: Input,
    pub search_active: bool,
    /// Ticks since the search text last changed (debounce).
    pub search_idle_ticks: Option<u32>,
    pub last_error: Option<String>,
    /// First visible row (kept between frames so scrolling does not jump).
    pub(super) offset: std::cell::Cell<usize>,
    /// The shown page counted from the end (1 = the last page, reached with End), or None when
    /// counted from the start (`query.page`).
    pub from_end: Option<u32>,
    /// Position of the page on screen (restored when the next page fails to load).
    shown: (u32, Position, Option<u32>),
    /// The total of the current search/filters/sort: separate requests, once per query change,
    /// never awaited by a page.
    pub count: Count,
    /// The query the count belongs to (a new search, filter or sort asks again).
    pub(super) counted_for: Option<PageQuery>,
    /// The capped count was asked for and has not arrived.
    pub(super) counting: bool,
    /// The capped count's query, sent once the page it counts has arrived (see
    /// [`TableView::deferred_count`]).
    pub(super) count_deferred: Option<PageQuery>,
    /// Bumped whenever a new page replaces the shown one (the typed rows follow it).
    pub page_gen: u64,
    /// Rows changed by someone else a moment ago (the live view).
    pub marks: Vec<super::live_marks::LiveMark>,
    /// A row that was on screen and is gone after someone else's change: (its name, the mark).
    pub gone: Option<(String, super::live_marks::LiveMark)>,
    /// The time ages are counted to: None is the wall clock (a fixed one in snapshot tests).
    pub ages_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl TableView {
    pub fn new(list: &'static str, title: impl Into<String>, columns: Vec<Column>) -> Self {
        Self {
            list,
            filters: None,
            title: title.into(),
            columns,
            query: PageQuery::default(),
            page: None,
            selected: 0,
            loading: false,
            search: Input::default(),
            search_active: false,
            search_idle_ticks: None,
            last_error: None,
            offset: std::cell::Cell::new(0),
            from_end: None,
            shown: (1, Position::Offset, None),
            count: Count::Unknown,
            counted_for: None,
            counting: false,
            count_deferred: None,
            page_gen: 0,
            marks: Vec::new(),
            gone: None,
            ages_at: None,
        }
    }

    pub fn loading(&self) -> bool {
        self.loading
    }

    /// Whether a page of rows is on its way (tests install pages directly).
    pub fn set_loading(&mut self, loading: bool) {
        self.loading = loading;
    }

    /// Starts loading the current query (rows only: the page never waits for a count);
    /// returns the query for the screen's page read.
    pub fn request(&mut self) -> PageQuery {
        self.loading = true;
        self.query.clone().wanting(Want::Rows)
    }

    /// Takes a page (`want`: rows) or a count (an estimate or the capped count). False when
    /// the page of rows was not taken (the rows after a cursor were gone).
    pub fn accept(&mut self, want: Want, page: Page<Row>) -> bool {
        match want {
            Want::Estimate => {
                if !matches!(self.count, Count::Exact(_)) {
                    self.count = Count::Estimate(page.total);
                }
                return false;
            }
            Want::CappedCount => {
                self.counting = false;
                self.count = Count::Exact(page.total);
                return false;
            }
            Want::Rows | Want::RowsAndTotal => {}
        }
        self.loading = false;
        self.last_error = None;
        // A source that counted with the page (tests, small lists) gives its total.
        if page.total > 0 && !self.counting {
            self.count = Count::Exact(page.total);
        }
        if page.items.is_empty() && !matches!(self.query.position, Position::Offset) {
            // The rows after/before the cursor are gone (deleted meanwhile): stay where we were
            // if there is a page on screen, else fall back to page 1 on the next load.
            if self.page.is_some() {
                self.restore_shown();
                if let Some(p) = self.page.as_mut() {
                    if matches!(self.query.position, Position::After(_) | Position::Last) {
                        p.nav.at_end = true;
                    } else {
                        p.nav.at_start = true;
                    }
                }
                return false;
            }
        }
        self.selected = self.selected.min(page.items.len().saturating_sub(1));
        self.shown = (self.query.page, self.query.position.clone(), self.from_end);
        self.page = Some(page);
        self.page_gen += 1;
        true
    }

    fn restore_shown(&mut self) {
        let (page, position, from_end) = self.shown.clone();
        self.query.page = page;
        self.query.position = position;
        self.from_end = from_end;
    }

    /// A failed load: keep the previous page. True when the operator is told (a page of rows;
    /// a count is a nicety).
    pub fn fail(&mut self, want: Want, error: &str) -> bool {
        match want {
            Want::Estimate => return false,
            Want::CappedCount => {
                // Keep the estimate, allow a retry on the next query change.
                self.counting = false;
                self.counted_for = None;
                return false;
            }
            Want::Rows | Want::RowsAndTotal => {}
        }
        self.loading = false;
        self.last_error = Some(error.to_string());
        // The query that failed is rolled back to what the visible page shows.
        if self.page.is_some() {
            self.restore_shown();
        }
        true
    }

    pub fn rows(&self) -> &[Row] {
        self.page
            .as_ref()
            .map(|p| p.items.as_slice())
            .unwrap_or(&[])
    }

    pub fn selected_row(&self) -> Option<&Row> {
        self.rows().get(self.selected)
    }

    /// Pages in the list, when the count is known (estimated or exact).
    pub fn total_pages(&self) -> Option<u32> {
        let n = self.count.approx()?;
        let size = u64::from(self.query.page_size.max(1));
        Some(u32::try_from(n.div_ceil(size)).unwrap_or(u32::MAX).max(1))
    }

    fn nav(&self) -> PageNav {
        self.page
            .as_ref()
            .map(|p| p.nav.clone())
            .unwrap_or_default()
    }

    pub fn up(&mut self) {
        self.selected = self.selected.saturating_sub(1);
    }

    pub fn down(&mut self) {
        if self.selected + 1 < self.rows().len() {
            self.selected += 1;
        }
    }

    /// Jumps to page `page` counted from the start (OFFSET; an explicit jump).
    pub fn goto_page(&mut self, page: u32) -> bool {
        let page = page.max(1);
        if page == self.query.page
            && self.from_end.is_none()
            && matches!(self.query.position, Position::Offset)
        {
            return false;
        }
        self.query.page = page;
        self.query.position = Position::Offset;
        self.from_end = None;
        self.selected = 0;
        true
    }

    /// PgDn: the rows after the last one shown (keyset), unless this is the end.
    pub fn next_page(&mut self) -> bool {
        let nav = self.nav();
        let Some(last) = nav.last.filter(|_| !nav.at_end) else {
            return false;
        };
        self.query.position = Position::After(last);
        match self.from_end {
            Some(k) if k > 1 => self.from_end = Some(k - 1),
            Some(_) => self.from_end = None,
            None => self.query.page = self.query.page.saturating_add(1),
        }
        self.selected = 0;
        true
    }

    /// PgUp: the rows before the first one shown (keyset backwards), unless this is the start.
    /// Back to page 1 it asks for page 1 itself: the start of the list as it is now, and the
    /// same statement as the query's first page, whose plan the store remembers.
    pub fn prev_page(&mut self) -> bool {
        let nav = self.nav();
        let Some(first) = nav.first.filter(|_| !nav.at_start) else {
            return false;
        };
        self.query.position = Position::Before(first);
        match self.from_end {
            Some(k) => self.from_end = Some(k.saturating_add(1)),
            None => {
                self.query.page = self.query.page.saturating_sub(1).max(1);
                if self.query.page == 1 {
                    self.query.position = Position::Offset;
                }
            }
        }
        self.selected = 0;
        true
    }

    /// Home: page 1.
    pub fn first_page(&mut self) -> bool {
        self.selected = 0;
        if self.nav().at_start && self.from_end.is_none() && self.query.page == 1 {
            return false;
        }
        self.query.page = 1;
        self.query.position = Position::Offset;
        self.from_end = None;
        true
    }

    /// End: the true last rows of the whole list (the sort order scanned backwards).
    pub fn last_page(&mut self) -> bool {
        if self.nav().at_end && self.page.is_some() {
            self.selected = self.rows().len().saturating_sub(1);
            return false;
        }
        self.query.position = Position::Last;
        self.from_end = Some(1);
        self.selected = usize::MAX;
        true
    }

    /// Back to page 1 of a changed query (search, sort, filters).
    fn restart(&mut self) {
        self.query.page = 1;
        self.query.position = Position::Offset;
        self.from_end = None;
        self.selected = 0;
    }

    /// `s`: none → first sortable asc → desc → next column asc → … → none (default order).
    pub fn cycle_sort(&mut self) {
        let sortable: Vec<&'static str> = self
            .columns
            .iter()
            .filter(|c| c.sortable)
            .filter_map(|c| c.key)
            .collect();
        let next = match self.query.sort.first() {
            None => sortable.first().map(|c| (*c, SortDir::Asc)),
            Some(k) => {
                let pos = sortable.iter().position(|c| *c == k.column);
                match (pos, k.dir) {
                    (Some(i), SortDir::Asc) => Some((sortable[i], SortDir::Desc)),
                    (Some(i), SortDir::Desc) => sortable.get(i + 1).map(|c| (*c, SortDir::Asc)),
                    (None, _) => sortable.first().map(|c| (*c, SortDir::Asc)),
                }
            }
        };
        self.query.sort.clear();
        if let Some((c, d)) = next {
            self.query = std::mem::take(&mut self.query).sort(c, d);
        }
        self.restart();
    }

    /// Sets (or clears, with no values) a filter and goes back to page 1.
    pub fn set_filter(&mut self, column: &str, values: Vec<String>) {
        self.query.filters.retain(|f| f.column != column);
        if !values.is_empty() {
            self.query.filters.push(Filter {
                column: column.to_string(),
                values,
            });
        }
        self.restart();
    }

    /// The title of the column filtered by the list column `key` (the operator reads titles;
    /// the key itself when no column has it).
    pub fn title_of(&self, key: &str) -> String {
        self.columns
            .iter()
            .find(|c| c.key == Some(key))
            .map_or_else(|| key.to_string(), |c| c.title.to_string())
    }

    /// The list column a filterable column's title stands for.
    pub fn filter_key_of(&self, title: &str) -> Option<&'static str> {
        self.columns
            .iter()
            .filter(|c| c.filterable)
            .find(|c| c.title == title)
            .and_then(|c| c.key)
    }

    pub fn filter_values_of(&self, column: &str) -> Vec<String> {
        self.query
            .filters
            .iter()
            .find(|f| f.column == column)
            .map(|f| f.values.clone())
            .unwrap_or_default()
    }

    /// Search text typed; the query changes after the debounce (see [`TableView::tick`]).
    pub fn search_edited(&mut self) {
        self.search_idle_ticks = Some(0);
    }

    /// Applies the search now (Enter in the search box). True when the query changed.
    pub fn apply_search(&mut self) -> bool {
        self.search_idle_ticks = None;
        let text = self.search.value().trim().to_string();
        let new = if text.is_empty() { None } else { Some(text) };
        if new == self.query.search {
            return false;
        }
        self.query.search = new;
        self.restart();
        true
    }

    /// One tick: true when the debounce elapsed and the search must be applied.
    pub fn tick(&mut self, debounce_ticks: u32) -> bool {
        if let Some(n) = self.search_idle_ticks.as_mut() {
            *n += 1;
            if *n >= debounce_ticks {
                return self.apply_search();
            }
        }
        false
    }
}
