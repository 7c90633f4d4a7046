//! The table over a screen's typed rows: a screen keeps `Typed<MandateRow>` and reads
//! `m.enabled`; the generic [`TableView`] draws the rows' [`TableRow::cells`]. Its pages are
//! read through the list's typed [`ListSource`] and come back as the screen's own reply
//! variant ([`Typed::load`]).

use std::sync::Arc;

use super::table::{Column, TableView};
use crate::domain::page::Want;
use crate::domain::{Page, PageQuery};
use crate::service::{Actor, Services};
use crate::tui::action::{
    ErrorReport, FilterSource, Filters, Job, JobFuture, ListSource, LoadBox, Row, ask_page,
};

/// A row type a screen shows in the table: its id and its display cells (through the one
/// sanitizer). The screen keeps the typed rows and reads their fields; the table draws cells.
pub trait TableRow: Send + 'static {
    fn cells(&self) -> Vec<crate::domain::DisplayText>;

    /// The record's id, when the row is one record (the live view marks a row another
    /// operator changed by it); None: rows are keyed by position.
    fn key(&self) -> Option<String> {
        None
    }

    /// The cells as plain strings (tests).
    fn texts(&self) -> Vec<String> {
        self.cells()
            .into_iter()
            .map(crate::domain::DisplayText::into_string)
            .collect()
    }
}

/// A page (or a count: `want`) of a typed list as it came back, or why not.
#[derive(Debug)]
pub struct Fetched<T> {
    pub want: Want,
    pub page: Result<Page<T>, ErrorReport>,
}

/// The read of one page of a list.
pub struct PageJob<T> {
    pub source: Arc<dyn ListSource<T>>,
    pub query: PageQuery,
}

impl<T> std::fmt::Debug for PageJob<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageJob")
            .field("source", &self.source)
            .field("query", &self.query)
            .finish()
    }
}

impl<T: Send + 'static> Job for PageJob<T> {
    type Out = Page<T>;
    fn run(self, services: Services, actor: Actor) -> JobFuture<Page<T>> {
        self.source.page(services, actor, self.query)
    }
}

/// The read of a column's filter values.
#[derive(Debug)]
pub struct FilterJob {
    pub source: Arc<dyn FilterSource>,
    pub column: String,
    pub query: PageQuery,
}

impl Job for FilterJob {
    type Out = Vec<String>;
    fn run(self, services: Services, actor: Actor) -> JobFuture<Vec<String>> {
        self.source
            .filter_values(services, actor, self.column, self.query)
    }
}

/// The table over a screen's typed rows: the generic [`TableView`] (query, paging, counts,
/// drawing), the list's typed source, and the typed rows of the page it shows.
pub struct Typed<T> {
    pub view: TableView,
    source: Arc<dyn ListSource<T>>,
    items: Vec<T>,
}

impl<T> std::fmt::Debug for Typed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Typed")
            .field("view", &self.view)
            .finish_non_exhaustive()
    }
}

impl<T: TableRow> Typed<T> {
    pub fn new(
        list: &'static str,
        source: impl ListSource<T> + 'static,
        title: impl Into<String>,
        columns: Vec<Column>,
    ) -> Self {
        let source: Arc<dyn ListSource<T>> = Arc::new(source);
        let mut view = TableView::new(list, title, columns);
        view.filters = Some(Arc::new(Filters(source.clone())));
        Self {
            view,
            source,
            items: Vec::new(),
        }
    }

    /// The read of `query` (rows, an estimate or a count); its answer comes back as
    /// `wrap(fetched)`, the screen's reply variant for this list's pages.
    pub fn load<R: 'static>(
        &self,
        query: PageQuery,
        wrap: impl FnOnce(Fetched<T>) -> R + Send + 'static,
    ) -> LoadBox<R> {
        let want = query.want;
        let job = PageJob {
            source: self.source.clone(),
            query,
        };
        ask_page(job, want, move |page| wrap(Fetched { want, page }))
    }

    /// Takes a page of this list (or a count, as `want` says).
    pub fn accept(&mut self, want: Want, page: Page<T>) {
        let Page {
            items,
            total,
            page,
            page_size,
            next_cursor,
            nav,
        } = page;
        let rows = items
            .iter()
            .enumerate()
            .map(|(i, t)| Row::new(t.key().unwrap_or_else(|| i.to_string()), t.cells()))
            .collect();
        let shown = Page {
            items: rows,
            total,
            page,
            page_size,
            next_cursor,
            nav,
        };
        if self.view.accept(want, shown) {
            self.items = items;
        }
    }

    /// The typed rows of the page on screen.
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// The selected typed row.
    pub fn selected(&self) -> Option<&T> {
        self.items.get(self.view.selected)
    }

    /// Installs rows directly (tests and benchmarks; the app goes through requests).
    pub fn set_rows(&mut self, items: Vec<T>) {
        self.view.reload_for_test_page(
            items
                .iter()
                .enumerate()
                .map(|(i, t)| Row::new(i.to_string(), t.cells())),
        );
        self.items = items;
    }
}
