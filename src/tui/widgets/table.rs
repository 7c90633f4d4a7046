//! THE table: one widget for every list. Server-side pages (`PageQuery` → `Page<Row>`), a sort
//! indicator per column (`s` cycles), filters (`f`), debounced `/` search, "rows 51–100 of
//! 12,345", PgUp/PgDn/Home/End, a spinner while a page loads, and the previous page kept on
//! screen until the next one arrives.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Paragraph, Row as TRow, StatefulWidget, Table, TableState, Widget,
};
use tui_input::Input;

use crate::domain::page::Filter;
use crate::domain::{Page, PageQuery, SortDir};
use crate::tui::action::{ListKey, Request, Row};
use crate::tui::theme::Theme;

pub const SPINNER: &[&str] = &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// One column: its title, the whitelisted list column it sorts/filters by, and its width.
#[derive(Clone, Debug)]
pub struct Column {
    pub title: &'static str,
    pub key: Option<&'static str>,
    pub width: Constraint,
    pub sortable: bool,
    pub filterable: bool,
}

impl Column {
    /// A column sortable by the list column `key`.
    pub const fn new(title: &'static str, key: &'static str, width: Constraint) -> Self {
        Self {
            title,
            key: Some(key),
            width,
            sortable: true,
            filterable: false,
        }
    }
    /// Also filterable by `key`'s values.
    pub const fn filterable(mut self) -> Self {
        self.filterable = true;
        self
    }
    /// Filterable by `key` but not sortable.
    pub const fn filter_only(title: &'static str, key: &'static str, width: Constraint) -> Self {
        Self {
            title,
            key: Some(key),
            width,
            sortable: false,
            filterable: true,
        }
    }
    /// Display only.
    pub const fn plain(title: &'static str, width: Constraint) -> Self {
        Self {
            title,
            key: None,
            width,
            sortable: false,
            filterable: false,
        }
    }
}

/// State of one table.
#[derive(Debug)]
pub struct TableView {
    pub list: ListKey,
    pub title: String,
    pub columns: Vec<Column>,
    pub query: PageQuery,
    /// The last page that arrived (kept visible while the next one loads).
    pub page: Option<Page<Row>>,
    pub selected: usize,
    /// Id of the request whose answer we wait for; answers with any other id are stale.
    pub awaiting: Option<u64>,
    pub search: Input,
    pub search_active: bool,
    /// Ticks since the search text last changed (debounce).
    pub search_idle_ticks: Option<u32>,
    pub last_error: Option<String>,
    /// First visible row (kept between frames so scrolling does not jump).
    offset: std::cell::Cell<usize>,
}

impl TableView {
    pub fn new(list: ListKey, title: impl Into<String>, columns: Vec<Column>) -> Self {
        Self {
            list,
            title: title.into(),
            columns,
            query: PageQuery::default(),
            page: None,
            selected: 0,
            awaiting: None,
            search: Input::default(),
            search_active: false,
            search_idle_ticks: None,
            last_error: None,
            offset: std::cell::Cell::new(0),
        }
    }

    pub fn loading(&self) -> bool {
        self.awaiting.is_some()
    }

    /// Starts loading the current query; returns the request for the loop to run.
    pub fn request(&mut self, id: u64) -> Request {
        self.awaiting = Some(id);
        Request::Page {
            id,
            list: self.list.clone(),
            query: self.query.clone(),
        }
    }

    /// Takes a page result. Returns false when it is stale (not the awaited request).
    pub fn accept(&mut self, id: u64, page: Page<Row>) -> bool {
        if self.awaiting != Some(id) {
            return false;
        }
        self.awaiting = None;
        self.last_error = None;
        self.selected = self.selected.min(page.items.len().saturating_sub(1));
        self.page = Some(page);
        true
    }

    /// A failed load: keep the previous page. Returns false when stale.
    pub fn fail(&mut self, id: u64, error: &str) -> bool {
        if self.awaiting != Some(id) {
            return false;
        }
        self.awaiting = None;
        self.last_error = Some(error.to_string());
        // The query that failed is rolled back to what the visible page shows.
        if let Some(p) = &self.page {
            self.query.page = p.page;
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

    pub fn total_pages(&self) -> u32 {
        self.page.as_ref().map(Page::total_pages).unwrap_or(1)
    }

    pub fn up(&mut self) {
        self.selected = self.selected.saturating_sub(1);
    }

    pub fn down(&mut self) {
        if self.selected + 1 < self.rows().len() {
            self.selected += 1;
        }
    }

    /// Moves to another page; true when the query changed (the caller requests it).
    pub fn goto_page(&mut self, page: u32) -> bool {
        let page = page.clamp(1, self.total_pages());
        if page == self.query.page {
            return false;
        }
        self.query.page = page;
        self.selected = 0;
        true
    }

    pub fn next_page(&mut self) -> bool {
        self.goto_page(self.query.page.saturating_add(1))
    }

    pub fn prev_page(&mut self) -> bool {
        self.goto_page(self.query.page.saturating_sub(1).max(1))
    }

    pub fn first_page(&mut self) -> bool {
        self.selected = 0;
        self.goto_page(1)
    }

    pub fn last_page(&mut self) -> bool {
        let changed = self.goto_page(self.total_pages());
        if !changed {
            self.selected = self.rows().len().saturating_sub(1);
        }
        changed
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
        self.query.page = 1;
        self.selected = 0;
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
        self.query.page = 1;
        self.selected = 0;
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
        self.query.page = 1;
        self.selected = 0;
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

    /// "rows 51–100 of 12,345" (or "loading…" before the first page).
    pub fn range_label(&self) -> String {
        match &self.page {
            Some(p) => p.range_label(),
            None => "no rows yet".into(),
        }
    }

    fn header_cell(&self, c: &Column, theme: &Theme) -> Cell<'static> {
        let mut s = c.title.to_string();
        if let Some(k) = c.key
            && let Some(sk) = self.query.sort.iter().find(|s| s.column == k)
        {
            s.push(' ');
            s.push_str(match sk.dir {
                SortDir::Asc => "▲",
                SortDir::Desc => "▼",
            });
        }
        if let Some(k) = c.key
            && self.query.filters.iter().any(|f| f.column == k)
        {
            s.push_str(" ⧩");
        }
        Cell::from(s).style(theme.header)
    }

    /// Renders the table into `area` with its frame, title, filters and range label.
    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, focused: bool, tick: u64) {
        let mut title_spans = vec![Span::styled(format!(" {} ", self.title), theme.title)];
        if let Some(s) = &self.query.search {
            title_spans.push(Span::styled(
                format!("/{} ", crate::domain::DisplayText::with_max(s, 30)),
                theme.key,
            ));
        }
        for f in &self.query.filters {
            title_spans.push(Span::styled(
                format!(
                    "[{}={}] ",
                    f.column,
                    crate::domain::DisplayText::with_max(&f.values.join("|"), 24)
                ),
                theme.warning,
            ));
        }
        let mut status = vec![Span::styled(
            format!(" {} ", self.range_label()),
            theme.muted,
        )];
        if let Some(p) = &self.page {
            status.push(Span::styled(
                format!("page {}/{} ", p.page, p.total_pages()),
                theme.muted,
            ));
        }
        if self.loading() {
            status.push(Span::styled(
                format!("{} loading ", SPINNER[(tick as usize) % SPINNER.len()]),
                theme.warning,
            ));
        }
        if let Some(e) = &self.last_error {
            status.push(Span::styled(
                format!("✗ {} ", crate::domain::DisplayText::with_max(e, 40)),
                theme.error,
            ));
        }
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(if focused {
                theme.border_focus
            } else {
                theme.border
            })
            .title(Line::from(title_spans))
            .title_bottom(Line::from(status).right_aligned());
        let inner = block.inner(area);
        block.render(area, buf);

        let (table_area, search_area) = if self.search_active {
            (
                Rect {
                    height: inner.height.saturating_sub(1),
                    ..inner
                },
                Some(Rect {
                    y: inner.y + inner.height.saturating_sub(1),
                    height: 1,
                    ..inner
                }),
            )
        } else {
            (inner, None)
        };

        if self.page.is_none() {
            let (msg, style) = if self.loading() {
                (
                    format!("{} loading…", SPINNER[(tick as usize) % SPINNER.len()]),
                    theme.muted,
                )
            } else if let Some(e) = &self.last_error {
                (format!("✗ {e}"), theme.error)
            } else {
                ("nothing loaded".into(), theme.muted)
            };
            Paragraph::new(msg)
                .style(style)
                .wrap(ratatui::widgets::Wrap { trim: false })
                .render(table_area, buf);
        } else if self.rows().is_empty() {
            Paragraph::new("no matching rows")
                .style(theme.muted)
                .render(table_area, buf);
        } else {
            let header = TRow::new(self.columns.iter().map(|c| self.header_cell(c, theme)));
            let rows = self.rows().iter().map(|r| {
                TRow::new((0..self.columns.len()).map(|i| Cell::from(r.cell(i).to_string())))
                    .style(theme.base)
            });
            let widths: Vec<Constraint> = self.columns.iter().map(|c| c.width).collect();
            let table = Table::new(rows, widths)
                .header(header)
                .row_highlight_style(theme.selected)
                .highlight_symbol("▶ ")
                .column_spacing(1);
            let mut state = TableState::default()
                .with_offset(self.offset.get().min(self.selected))
                .with_selected(Some(self.selected));
            StatefulWidget::render(table, table_area, buf, &mut state);
            self.offset.set(state.offset());
        }

        if let Some(sa) = search_area {
            let width = sa.width.saturating_sub(2) as usize;
            let scroll = self.search.visual_scroll(width);
            let value: String = self.search.value().chars().skip(scroll).collect();
            Paragraph::new(Line::from(vec![
                Span::styled("/", theme.key),
                Span::styled(value, theme.input),
            ]))
            .render(sa, buf);
            // Cursor cell shown in reverse video (the frame's real cursor is set by the app).
            let cx = sa.x + 1 + (self.search.visual_cursor().saturating_sub(scroll)) as u16;
            if cx < sa.x + sa.width {
                let cell = &mut buf[(cx, sa.y)];
                cell.set_style(Style::default().add_modifier(Modifier::REVERSED));
            }
        }
    }

    /// Installs a page directly (tests and benchmarks; the app always goes through
    /// [`TableView::request`] / [`TableView::accept`]).
    pub fn reload_for_test_page(&mut self, rows: impl IntoIterator<Item = Row>) {
        let items: Vec<Row> = rows.into_iter().collect();
        self.awaiting = None;
        self.page = Some(Page {
            total: items.len() as u64,
            items,
            page: 1,
            page_size: crate::domain::page::DEFAULT_PAGE_SIZE,
        });
    }

    /// Label: value lines of the selected row (the detail pane).
    pub fn detail_lines(&self) -> Vec<(String, String)> {
        match self.selected_row() {
            Some(r) => self
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.title.to_string(), r.cell(i).to_string()))
                .collect(),
            None => Vec::new(),
        }
    }
}
