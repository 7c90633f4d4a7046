//! What a table knows about its row count, and the requests that find it out: the planner's
//! estimate with the page, the capped count once the page has arrived (never awaited by a page).

use crate::domain::PageQuery;
use crate::domain::page::{Position, TOTAL_CAP, Want, thousands};

use super::table::TableView;

/// What the console knows about the number of matching rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Count {
    /// Not known yet ("counting…").
    #[default]
    Unknown,
    /// The planner's estimate ("≈N"), while the count runs.
    Estimate(u64),
    /// Counted: exact up to [`TOTAL_CAP`], `TOTAL_CAP + 1` = "more than 100,000".
    Exact(u64),
}

impl Count {
    /// "12,345", "≈980,000", "more than 100,000" or "counting…".
    pub fn label(self) -> String {
        match self {
            Count::Unknown => "counting…".into(),
            Count::Estimate(n) => format!("≈{}", thousands(n)),
            Count::Exact(n) if n > TOTAL_CAP => format!("more than {}", thousands(TOTAL_CAP)),
            Count::Exact(n) => thousands(n),
        }
    }

    /// An exact row count (not capped), when known.
    pub fn exact(self) -> Option<u64> {
        match self {
            Count::Exact(n) if n <= TOTAL_CAP => Some(n),
            _ => None,
        }
    }

    /// Best guess of the row count (exact, capped or estimated).
    pub fn approx(self) -> Option<u64> {
        match self {
            Count::Unknown => None,
            Count::Estimate(n) | Count::Exact(n) => Some(n),
        }
    }
}

impl TableView {
    /// The count queries for the current query, once per change of search, filters or sort:
    /// the planner's estimate (fast, shown as "≈N"), returned to go with the page, and the
    /// capped count, held back until the page has arrived ([`TableView::deferred_count`]): on a
    /// small machine a broad search's count would otherwise compete with its own page. Empty
    /// when the count of this query is known or already asked for.
    pub fn count_requests(&mut self) -> Vec<PageQuery> {
        if self
            .counted_for
            .as_ref()
            .is_some_and(|q| q.same_rows_as(&self.query))
        {
            return Vec::new();
        }
        self.counted_for = Some(self.query.clone());
        self.count = Count::Unknown;
        self.counting = true;
        let mut base = self.query.clone().at(Position::Offset);
        base.page = 1;
        self.count_deferred = Some(base.clone().wanting(Want::CappedCount));
        vec![base.wanting(Want::Estimate)]
    }

    /// The held-back count query, once no page is loading.
    pub fn deferred_count(&mut self) -> Option<PageQuery> {
        if self.loading() {
            return None;
        }
        self.count_deferred.take()
    }

    /// Forgets the count (after a change to the rows, e.g. a create or delete).
    pub fn invalidate_count(&mut self) {
        self.counted_for = None;
    }
}
