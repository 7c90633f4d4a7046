//! The table over a screen's typed rows: a screen keeps `Typed<MandateRow>` and reads
//! `m.enabled`; the generic [`TableView`] draws the rows' [`TableRow::cells`].

use super::table::TableView;
use crate::domain::Page;
use crate::tui::action::Row;

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

/// The table over a screen's typed rows: the generic [`TableView`] (query, paging, counts,
/// drawing) plus the typed rows of the page it shows.
#[derive(Debug)]
pub struct Typed<T> {
    pub view: TableView,
    items: Vec<T>,
    gen_seen: u64,
}

impl<T: TableRow> Typed<T> {
    pub fn new(view: TableView) -> Self {
        Self {
            view,
            items: Vec::new(),
            gen_seen: 0,
        }
    }

    /// Takes a reply meant for this table (a `Page<T>`): false when stale or of another type.
    pub fn accept(&mut self, id: u64, reply: crate::tui::action::Reply) -> bool {
        let Ok(page) = reply.downcast::<Page<T>>() else {
            tracing::warn!(list = self.view.list, "page of an unexpected type dropped");
            return false;
        };
        let Page {
            items,
            total,
            page,
            page_size,
            next_cursor,
            nav,
        } = *page;
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
        let ok = self.view.accept(id, shown);
        if self.view.page_gen != self.gen_seen {
            self.gen_seen = self.view.page_gen;
            self.items = items;
        }
        ok
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
        self.gen_seen = self.view.page_gen;
        self.items = items;
    }
}
