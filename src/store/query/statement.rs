//! The page statement of each [`Plan`]: keyset segments in scan order, each an index condition
//! on the sort keys; the page's rows fetched one by one by their unique key.

use sqlx::{Postgres, QueryBuilder};

use super::plan::probe_bound;
use super::{ListSql, Plan, Scope, SortExpr, dir_sql, flip};
use crate::domain::PageQueryError;
use crate::domain::page::{Cursor, PageQuery, Position, SortDir};
use crate::store::StoreResult;

/// Builds the page statement (exposed for EXPLAIN tests and benchmarks). Rows only — the
/// count is a separate request.
pub fn page_statement(
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
    plan: Plan,
) -> StoreResult<QueryBuilder<Postgres>> {
    page_statement_with(list, q, scope, plan, "")
}

/// Segment of the keyset: rows whose first `prefix` keys equal the cursor's, then `tail`.
#[derive(Clone, Copy, Debug)]
enum Tail {
    /// Key `i` strictly after the cursor's value in scan direction.
    Range(usize),
    /// Key `i` IS NULL (nulls after every value: ascending scans).
    IsNull(usize),
    /// Key `i` IS NOT NULL (after a NULL in a descending scan, where nulls come first).
    NotNull(usize),
    /// Every key equal; the tie-breaker after the cursor's.
    Tie,
}

/// The rows after `cursor` in the scan order, as disjoint segments in that order. Each segment
/// is an equality prefix plus one range/null test — an index condition on `(keys…, tiebreak)`.
fn segments(dirs: &[SortDir], cursor: &Cursor) -> Vec<(usize, Tail)> {
    let mut out = vec![(dirs.len(), Tail::Tie)];
    for i in (0..dirs.len()).rev() {
        match (dirs[i], cursor.keys[i].is_some()) {
            (SortDir::Asc, true) => {
                out.push((i, Tail::Range(i)));
                out.push((i, Tail::IsNull(i)));
            }
            (SortDir::Asc, false) => {}
            (SortDir::Desc, true) => out.push((i, Tail::Range(i))),
            (SortDir::Desc, false) => out.push((i, Tail::NotNull(i))),
        }
    }
    out
}

/// Everything one page statement is made of, worked out once from the list, the query and the
/// plan; each `push_*` writes one part of the statement.
struct Shape<'a> {
    list: &'a ListSql,
    q: &'a PageQuery,
    scope: Option<Scope<'a>>,
    plan: Plan,
    keys: Vec<SortExpr>,
    /// Each key's direction in scan order (flipped when the page is read backwards).
    dirs: Vec<SortDir>,
    tie_dir: SortDir,
    cursor: Option<&'a Cursor>,
    /// `hubdeck_k0…`: the sort keys' column names inside the statement.
    key_cols: Vec<String>,
    /// The sort keys as the segments read them: the list's expressions, or the collected set's
    /// columns when the matches are collected first.
    exprs: Vec<String>,
    tie_expr: &'static str,
    /// A page and one (the one tells whether there is a next page).
    limit: i64,
}

impl<'a> Shape<'a> {
    fn new(
        list: &'a ListSql,
        q: &'a PageQuery,
        scope: Option<Scope<'a>>,
        plan: Plan,
    ) -> StoreResult<Self> {
        q.validate(list.spec)?;
        let keys = list.sort_keys(q)?;
        // The tie-breaker follows the last key's direction, so the whole ORDER BY is one btree
        // scanned forwards or backwards. PostgreSQL's default null placement (ASC NULLS LAST,
        // DESC NULLS FIRST) is what such a scan yields; the keyset segments follow the same rule.
        let tie_dir = keys.last().map(|k| k.dir).unwrap_or(SortDir::Asc);
        let backwards = matches!(q.position, Position::Before(_) | Position::Last);
        let orient = |d: SortDir| if backwards { flip(d) } else { d };
        let cursor = match &q.position {
            Position::After(c) | Position::Before(c) => {
                if c.keys.len() != keys.len() {
                    return Err(PageQueryError::BadCursor.into());
                }
                Some(c)
            }
            Position::Offset | Position::Last => None,
        };
        let key_cols: Vec<String> = (0..keys.len()).map(|i| format!("hubdeck_k{i}")).collect();
        let collected = plan == Plan::Materialize;
        let exprs = if collected {
            key_cols.iter().map(|c| format!("hubdeck_m.{c}")).collect()
        } else {
            keys.iter().map(|k| k.expr.to_string()).collect()
        };
        Ok(Self {
            list,
            q,
            scope,
            plan,
            dirs: keys.iter().map(|k| orient(k.dir)).collect(),
            tie_dir: orient(tie_dir),
            keys,
            cursor,
            key_cols,
            exprs,
            tie_expr: if collected {
                "hubdeck_m.hubdeck_id"
            } else {
                list.tiebreak
            },
            limit: i64::from(q.page_size) + 1,
        })
    }

    fn collected(&self) -> bool {
        self.plan == Plan::Materialize
    }

    fn probe(&self) -> bool {
        self.plan.probes()
    }

    /// `WITH hubdeck_m AS MATERIALIZED (...)`: the matching set once (the planner picks the
    /// trigram bitmap for it: no ORDER BY or LIMIT inside to tempt it into walking the sort
    /// index), keys and ids only.
    fn push_collected(&self, qb: &mut QueryBuilder<Postgres>) -> StoreResult<()> {
        qb.push("WITH hubdeck_m AS MATERIALIZED (SELECT ")
            .push(self.list.tiebreak)
            .push(" AS hubdeck_id");
        for (k, col) in self.keys.iter().zip(&self.key_cols) {
            qb.push(", ").push(k.expr).push(" AS ").push(col);
        }
        qb.push(" FROM ").push(self.list.from);
        self.list.push_where(qb, self.q, self.scope, None)?;
        qb.push(") ");
        Ok(())
    }

    /// The outer select list: the row, its cursor as text, and a probe's bookkeeping.
    fn push_select(&self, qb: &mut QueryBuilder<Postgres>) {
        qb.push("SELECT hubdeck_r.*");
        for (i, col) in self.key_cols.iter().enumerate() {
            qb.push(format!(", hubdeck_p.{col}::text AS hubdeck_c{i}"));
        }
        qb.push(", hubdeck_p.hubdeck_id::text AS hubdeck_cid");
        if self.probe() {
            qb.push(", hubdeck_p.hubdeck_seg, hubdeck_p.hubdeck_hit, hubdeck_p.hubdeck_n");
        }
    }

    /// One keyset segment: its keys and id in scan order, at most a page and one (or, for a
    /// probe, a walk of at most its bound).
    fn push_segment(
        &self,
        qb: &mut QueryBuilder<Postgres>,
        si: usize,
        prefix: usize,
        tail: Tail,
    ) -> StoreResult<()> {
        let probe = self.probe();
        let bound = probe_bound(self.plan, self.q);
        if probe {
            // Each segment walks at most `bound` rows in scan order (the search is not a
            // condition of the walk: an index walk that stops), numbered as they come; kept are
            // the matches, up to a page and one, and the `bound`-th row if the walk got that
            // far (then the segment may hold matches beyond it).
            qb.push("(SELECT * FROM (SELECT hubdeck_x.*, row_number() OVER () AS hubdeck_n FROM ");
        }
        qb.push(format!("(SELECT {si} AS hubdeck_seg"));
        for (e, col) in self.exprs.iter().zip(&self.key_cols) {
            qb.push(", ").push(e).push(" AS ").push(col);
        }
        qb.push(", ").push(self.tie_expr).push(" AS hubdeck_id");
        if probe {
            // (A NULL column makes the OR NULL, not false.)
            qb.push(", COALESCE((TRUE");
            self.list.push_search(qb, self.q);
            qb.push("), FALSE) AS hubdeck_hit");
        }
        qb.push(" FROM ");
        if self.collected() {
            qb.push("hubdeck_m WHERE TRUE");
        } else {
            qb.push(self.list.from);
            self.list
                .push_where_with(qb, self.q, self.scope, None, !probe)?;
        }
        if let Some(c) = self.cursor {
            self.push_segment_cond(qb, c, prefix, tail);
        }
        qb.push(" ORDER BY ");
        for (e, d) in self.exprs.iter().zip(&self.dirs) {
            qb.push(e).push(dir_sql(*d)).push(", ");
        }
        qb.push(self.tie_expr).push(dir_sql(self.tie_dir));
        qb.push(" LIMIT ")
            .push_bind(if probe { bound } else { self.limit });
        if matches!(self.q.position, Position::Offset) && self.q.page > 1 {
            qb.push(" OFFSET ")
                .push_bind(i64::try_from(self.q.offset()).unwrap_or(i64::MAX));
        }
        qb.push(")");
        if probe {
            qb.push(" hubdeck_x) hubdeck_y WHERE hubdeck_hit OR hubdeck_n = ")
                .push_bind(bound)
                .push(" LIMIT ")
                .push_bind(self.limit + 1)
                .push(")");
        }
        Ok(())
    }

    /// The segment's condition: its first `prefix` keys equal the cursor's, then `tail`.
    fn push_segment_cond(
        &self,
        qb: &mut QueryBuilder<Postgres>,
        cursor: &Cursor,
        prefix: usize,
        tail: Tail,
    ) {
        for i in 0..prefix {
            qb.push(" AND ").push(&self.exprs[i]);
            match &cursor.keys[i] {
                Some(v) => {
                    qb.push(" = ")
                        .push_bind(v.clone())
                        .push("::")
                        .push(self.keys[i].sql_type);
                }
                None => {
                    qb.push(" IS NULL");
                }
            }
        }
        let op = |d: SortDir| match d {
            SortDir::Asc => " > ",
            SortDir::Desc => " < ",
        };
        match tail {
            Tail::Range(i) => {
                qb.push(" AND ")
                    .push(&self.exprs[i])
                    .push(op(self.dirs[i]))
                    .push_bind(cursor.keys[i].clone().unwrap_or_default())
                    .push("::")
                    .push(self.keys[i].sql_type);
            }
            Tail::IsNull(i) => {
                qb.push(" AND ").push(&self.exprs[i]).push(" IS NULL");
            }
            Tail::NotNull(i) => {
                qb.push(" AND ").push(&self.exprs[i]).push(" IS NOT NULL");
            }
            Tail::Tie => {
                qb.push(" AND ")
                    .push(self.tie_expr)
                    .push(op(self.tie_dir))
                    .push_bind(cursor.id.clone())
                    .push("::")
                    .push(self.list.tiebreak_type);
            }
        }
    }

    /// ORDER BY segment, keys, id — the scan order.
    fn push_order(&self, qb: &mut QueryBuilder<Postgres>, alias: &str) {
        qb.push(format!("{alias}.hubdeck_seg"));
        for (col, d) in self.key_cols.iter().zip(&self.dirs) {
            qb.push(format!(", {alias}.{col}")).push(dir_sql(*d));
        }
        qb.push(format!(", {alias}.hubdeck_id"))
            .push(dir_sql(self.tie_dir));
    }

    /// The page's rows fetched one by one by their unique key (LIMIT 1 keeps the lateral
    /// subquery a parameterised index probe: the select list — joins, role subqueries — is
    /// evaluated for the page only, whatever the planner thinks of the list's size). A probe's
    /// end-of-walk rows that do not match keep their place with nothing joined.
    fn push_rows(&self, qb: &mut QueryBuilder<Postgres>) {
        let probe = self.probe();
        qb.push(if probe {
            ") hubdeck_p LEFT JOIN LATERAL (SELECT "
        } else {
            ") hubdeck_p CROSS JOIN LATERAL (SELECT "
        })
        .push(self.list.select)
        .push(" FROM ")
        .push(self.list.from)
        .push(" WHERE ")
        .push(self.list.tiebreak)
        .push(" = hubdeck_p.hubdeck_id");
        if probe {
            qb.push(" AND hubdeck_p.hubdeck_hit");
        }
        qb.push(" LIMIT 1) hubdeck_r");
        if probe {
            qb.push(" ON TRUE");
        }
    }
}

/// The page statement of `plan`, after `head` (empty, or an EXPLAIN).
pub(super) fn page_statement_with(
    list: &ListSql,
    q: &PageQuery,
    scope: Option<Scope<'_>>,
    plan: Plan,
    head: &'static str,
) -> StoreResult<QueryBuilder<Postgres>> {
    let shape = Shape::new(list, q, scope, plan)?;
    let mut qb = QueryBuilder::new(head);
    if shape.collected() {
        shape.push_collected(&mut qb)?;
    }
    shape.push_select(&mut qb);
    qb.push(" FROM (SELECT * FROM (");
    let segs = match shape.cursor {
        Some(c) => segments(&shape.dirs, c),
        None => vec![(0, Tail::Tie)],
    };
    for (si, (prefix, tail)) in segs.iter().enumerate() {
        if si > 0 {
            qb.push(" UNION ALL ");
        }
        shape.push_segment(&mut qb, si, *prefix, *tail)?;
    }
    // Segments are disjoint and in scan order: at most (segments × page) key tuples are sorted
    // here, never the list.
    qb.push(") hubdeck_u ORDER BY ");
    shape.push_order(&mut qb, "hubdeck_u");
    if !shape.probe() {
        qb.push(" LIMIT ").push_bind(shape.limit);
    }
    shape.push_rows(&mut qb);
    qb.push(" ORDER BY ");
    shape.push_order(&mut qb, "hubdeck_p");
    Ok(qb)
}
