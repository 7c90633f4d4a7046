//! The drift list: every class's rows in one order — the class, then the class's own key —
//! paged by keyset like every other list (next, previous, last by cursor; OFFSET only for a
//! jump to page N), with exact totals per class counted apart from the page. A page reads the
//! classes one after the other from the cursor's class and stops as soon as it is full, so the
//! first page of a long class never waits for the classes behind it.

use crate::store::Db;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::StoreResult;
use super::drift::BROKEN_SELECT;
use super::query::escape_like;
use crate::domain::Page;
use crate::domain::page::{ColumnKind, ColumnSpec, Cursor, ListSpec, PageNav, PageQuery, Position};

/// The class keys, in the order the list shows them (a class's rank is its index).
pub const CLASSES: [&str; 5] = [
    "memberships",
    "orphan-grants",
    "disabled-with-grants",
    "no-grants",
    "expired-invitations",
];

/// Whitelist of the drift list: a filter on the class; the order is fixed.
pub static DRIFT_SPEC: ListSpec = ListSpec {
    name: "drift",
    columns: &[ColumnSpec::filter_only("class", ColumnKind::Text)],
    default_sort: &[],
};

/// One drift row, whatever its class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DriftEntry {
    /// The class key ([`CLASSES`]).
    pub class: String,
    /// The membership id (memberships) or the user's sub (every other class).
    pub id: Uuid,
    /// The user's sub.
    pub sub: Uuid,
    /// The email as the cache last saw it; None when the cache never saw the sub.
    pub email: Option<String>,
    /// The mandate of a membership row.
    pub mandate: Option<String>,
    /// `gone` or `disabled` (memberships, orphan grants, disabled users), the directory
    /// status (identities without grants).
    pub reason: Option<String>,
    /// Global role names, or the membership's mandate role labels.
    pub roles: Vec<String>,
    /// Working admins the membership's mandate has (memberships only).
    pub working_admins: Option<i64>,
    /// When the last invitation went out (expired invitations only).
    pub invited_at: Option<DateTime<Utc>>,
    /// The row's key inside its class (the cursor).
    #[serde(skip)]
    pub k: String,
}

/// Pushes the select of one class: the uniform columns, `k` its order inside the class
/// (bytewise: `COLLATE "C"` so that the keyset comparison and the ORDER BY agree).
fn push_class(qb: &mut QueryBuilder<Postgres>, rank: usize, validity_days: u32) {
    let days = i32::try_from(validity_days).unwrap_or(i32::MAX);
    match rank {
        0 => {
            qb.push(
                "SELECT 'memberships'::text AS class, b.membership_id AS id, b.user_id AS sub, \
                 b.email, b.mandate_name AS mandate, b.reason, b.roles, \
                 b.working_admins::bigint AS working_admins, NULL::timestamptz AS invited_at, \
                 ((CASE WHEN b.working_admins = 0 THEN '0' ELSE '1' END) || \
                  lower(b.mandate_name) || chr(1) || b.user_id::text) COLLATE \"C\" AS k \
                 FROM (",
            )
            .push(BROKEN_SELECT)
            .push(") b");
        }
        1 => {
            qb.push(
                "SELECT 'orphan-grants'::text AS class, ur.user_id AS id, ur.user_id AS sub, \
                 max(d.email) AS email, NULL::text AS mandate, 'gone'::text AS reason, \
                 array_agg(r.name ORDER BY r.name) AS roles, NULL::bigint AS working_admins, \
                 NULL::timestamptz AS invited_at, ur.user_id::text COLLATE \"C\" AS k \
                 FROM user_role ur JOIN roles r ON r.id = ur.role_id \
                 LEFT JOIN directory_user d ON d.sub = ur.user_id \
                 WHERE d.sub IS NULL OR d.gone_at IS NOT NULL GROUP BY ur.user_id",
            );
        }
        2 => {
            qb.push(
                "SELECT 'disabled-with-grants'::text AS class, d.sub AS id, d.sub, d.email, \
                 NULL::text AS mandate, 'disabled'::text AS reason, \
                 array_agg(r.name ORDER BY r.name) AS roles, NULL::bigint AS working_admins, \
                 NULL::timestamptz AS invited_at, \
                 (lower(d.email) || chr(1) || d.sub::text) COLLATE \"C\" AS k \
                 FROM directory_user d JOIN user_role ur ON ur.user_id = d.sub \
                 JOIN roles r ON r.id = ur.role_id \
                 WHERE d.gone_at IS NULL AND NOT d.enabled GROUP BY d.sub, d.email",
            );
        }
        3 => {
            qb.push(
                "SELECT 'no-grants'::text AS class, d.sub AS id, d.sub, d.email, \
                 NULL::text AS mandate, d.status AS reason, ARRAY[]::text[] AS roles, \
                 NULL::bigint AS working_admins, NULL::timestamptz AS invited_at, \
                 (lower(d.email) || chr(1) || d.sub::text) COLLATE \"C\" AS k \
                 FROM directory_user d WHERE d.gone_at IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM user_role ur WHERE ur.user_id = d.sub) \
                 AND NOT EXISTS (SELECT 1 FROM user_mandate um WHERE um.user_id = d.sub)",
            );
        }
        _ => {
            qb.push(
                "SELECT 'expired-invitations'::text AS class, i.sub AS id, i.sub, i.email, \
                 NULL::text AS mandate, NULL::text AS reason, ARRAY[]::text[] AS roles, \
                 NULL::bigint AS working_admins, i.invited_at, \
                 (to_char(i.invited_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || \
                  chr(1) || i.sub::text) COLLATE \"C\" AS k \
                 FROM (SELECT d.sub, d.email, ",
            )
            .push(super::drift::INVITED_AT)
            .push(
                " AS invited_at FROM directory_user d \
                 WHERE d.gone_at IS NULL AND d.status = 'FORCE_CHANGE_PASSWORD') i \
                 WHERE i.invited_at < now() - make_interval(days => ",
            )
            .push_bind(days)
            .push(")");
        }
    }
}

/// `SELECT <cols> FROM (<class>) dr WHERE TRUE [AND search]` — the rows of one class.
fn push_rows(qb: &mut QueryBuilder<Postgres>, cols: &str, rank: usize, q: &PageQuery, days: u32) {
    qb.push("SELECT ").push(cols).push(" FROM (");
    push_class(qb, rank, days);
    qb.push(") dr WHERE TRUE");
    if let Some(text) = q.search_text() {
        let pattern = format!("%{}%", escape_like(text));
        qb.push(" AND (dr.email ILIKE ")
            .push_bind(pattern.clone())
            .push(" OR dr.mandate ILIKE ")
            .push_bind(pattern.clone())
            .push(" OR dr.sub::text ILIKE ")
            .push_bind(pattern)
            .push(")");
    }
}

/// The class ranks the query's class filter keeps, in list order.
fn ranks(q: &PageQuery) -> Vec<usize> {
    (0..CLASSES.len())
        .filter(|&r| {
            q.filters
                .iter()
                .filter(|f| f.column == "class")
                .all(|f| f.values.iter().any(|v| v.trim() == CLASSES[r]))
        })
        .collect()
}

const COLS: &str = "dr.class, dr.id, dr.sub, dr.email, dr.mandate, dr.reason, dr.roles, \
                    dr.working_admins, dr.invited_at, dr.k::text AS k";

/// Up to `limit` rows of one class after (or, `backwards`, before) `from` = (k, id).
async fn class_rows(
    db: &Db,
    rank: usize,
    q: &PageQuery,
    days: u32,
    from: Option<(&str, Uuid)>,
    backwards: bool,
    limit: usize,
) -> StoreResult<Vec<DriftEntry>> {
    let mut qb = QueryBuilder::new("");
    push_rows(&mut qb, COLS, rank, q, days);
    let (cmp, dir) = if backwards {
        (" < ", " DESC")
    } else {
        (" > ", " ASC")
    };
    if let Some((k, id)) = from {
        qb.push(" AND (dr.k, dr.id)")
            .push(cmp)
            .push("(")
            .push_bind(k.to_string())
            .push(" COLLATE \"C\", ")
            .push_bind(id)
            .push(")");
    }
    qb.push(" ORDER BY dr.k")
        .push(dir)
        .push(", dr.id")
        .push(dir)
        .push(" LIMIT ")
        .push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
    Ok(qb.build_query_as().fetch_all(db).await?)
}

fn cursor_of(e: &DriftEntry) -> Cursor {
    let rank = CLASSES.iter().position(|c| *c == e.class).unwrap_or(0);
    Cursor {
        keys: vec![Some(rank.to_string()), Some(e.k.clone())],
        id: e.id.to_string(),
    }
}

fn parse_cursor(c: &Cursor) -> StoreResult<(usize, String, Uuid)> {
    let bad = || crate::domain::PageQueryError::BadCursor;
    let rank: usize = c
        .keys
        .first()
        .cloned()
        .flatten()
        .and_then(|r| r.parse().ok())
        .filter(|r| *r < CLASSES.len())
        .ok_or_else(bad)?;
    let k = c.keys.get(1).cloned().flatten().ok_or_else(bad)?;
    let id = c.id.parse().map_err(|_| bad())?;
    Ok((rank, k, id))
}

/// One page of the drift list (rows only: the totals are [`count`] and [`class_totals`]).
pub async fn page(db: &Db, q: &PageQuery, validity_days: u32) -> StoreResult<Page<DriftEntry>> {
    q.validate(&DRIFT_SPEC)?;
    let want = q.page_size as usize + 1;
    let ranks = ranks(q);
    let (start, backwards) = match &q.position {
        Position::Offset if q.page > 1 => return jump(db, q, validity_days, &ranks).await,
        Position::Offset => (None, false),
        Position::After(c) => (Some(parse_cursor(c)?), false),
        Position::Before(c) => (Some(parse_cursor(c)?), true),
        Position::Last => (None, true),
    };
    let order: Vec<usize> = if backwards {
        ranks.iter().rev().copied().collect()
    } else {
        ranks
    };
    let mut rows: Vec<DriftEntry> = Vec::with_capacity(want);
    for rank in order {
        let from = match &start {
            Some((r, _, _)) if (!backwards && rank < *r) || (backwards && rank > *r) => continue,
            Some((r, k, id)) if rank == *r => Some((k.as_str(), *id)),
            _ => None,
        };
        let more = class_rows(
            db,
            rank,
            q,
            validity_days,
            from,
            backwards,
            want - rows.len(),
        );
        rows.extend(more.await?);
        if rows.len() == want {
            break;
        }
    }
    let more = rows.len() == want;
    rows.truncate(q.page_size as usize);
    if backwards {
        rows.reverse();
    }
    let (at_start, at_end) = match q.position {
        Position::Offset => (true, !more),
        Position::After(_) => (false, !more),
        Position::Before(_) => (!more, false),
        Position::Last => (!more, true),
    };
    Ok(finish(q, rows, at_start, at_end))
}

/// Page N counted from the start (an explicit jump): every kept class in one ordered union.
async fn jump(db: &Db, q: &PageQuery, days: u32, ranks: &[usize]) -> StoreResult<Page<DriftEntry>> {
    if ranks.is_empty() {
        return Ok(finish(q, Vec::new(), false, true));
    }
    let mut qb = QueryBuilder::new("SELECT * FROM (");
    for (i, rank) in ranks.iter().enumerate() {
        if i > 0 {
            qb.push(" UNION ALL ");
        }
        qb.push("(");
        let cols = format!("{rank} AS hubdeck_rank, {COLS}");
        push_rows(&mut qb, &cols, *rank, q, days);
        qb.push(")");
    }
    qb.push(") u ORDER BY u.hubdeck_rank, u.k COLLATE \"C\", u.id LIMIT ")
        .push_bind(i64::from(q.page_size) + 1)
        .push(" OFFSET ")
        .push_bind(i64::try_from(q.offset()).unwrap_or(i64::MAX));
    let mut rows: Vec<DriftEntry> = qb.build_query_as().fetch_all(db).await?;
    let more = rows.len() > q.page_size as usize;
    rows.truncate(q.page_size as usize);
    Ok(finish(q, rows, false, !more))
}

fn finish(q: &PageQuery, items: Vec<DriftEntry>, at_start: bool, at_end: bool) -> Page<DriftEntry> {
    let nav = PageNav {
        first: items.first().map(cursor_of),
        last: items.last().map(cursor_of),
        at_start,
        at_end,
    };
    Page {
        total: 0,
        page: q.page,
        page_size: q.page_size,
        next_cursor: if at_end {
            None
        } else {
            nav.last.as_ref().map(Cursor::encode)
        },
        items,
        nav,
    }
}

/// The rows matching the query (class filter and search), counted exactly.
pub async fn count(db: &Db, q: &PageQuery, validity_days: u32) -> StoreResult<u64> {
    q.validate(&DRIFT_SPEC)?;
    let ranks = ranks(q);
    if ranks.is_empty() {
        return Ok(0);
    }
    let mut qb = QueryBuilder::new("SELECT 0::bigint");
    for rank in ranks {
        qb.push(" + (");
        push_rows(&mut qb, "count(*)", rank, q, validity_days);
        qb.push(")");
    }
    let n: i64 = qb.build_query_scalar().fetch_one(db).await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Every class's exact total, in list order (one statement).
pub async fn class_totals(db: &Db, validity_days: u32) -> StoreResult<[u64; 5]> {
    let all = PageQuery::default();
    let mut qb = QueryBuilder::new("SELECT ARRAY[");
    for rank in 0..CLASSES.len() {
        if rank > 0 {
            qb.push(", ");
        }
        qb.push("(");
        push_rows(&mut qb, "count(*)", rank, &all, validity_days);
        qb.push(")");
    }
    qb.push("]::bigint[]");
    let v: Vec<i64> = qb.build_query_scalar().fetch_one(db).await?;
    let mut out = [0u64; 5];
    for (o, n) in out.iter_mut().zip(v) {
        *o = u64::try_from(n).unwrap_or(0);
    }
    Ok(out)
}

/// Up to `limit` ids of one class's rows after `after`, by id (the repair of a whole class
/// walks these; a repaired row leaves the class, a refused one stays behind the walk).
pub async fn class_ids(
    db: &Db,
    rank: usize,
    validity_days: u32,
    after: Option<Uuid>,
    limit: u32,
) -> StoreResult<Vec<Uuid>> {
    let mut qb = QueryBuilder::new("");
    push_rows(&mut qb, "dr.id", rank, &PageQuery::default(), validity_days);
    if let Some(after) = after {
        qb.push(" AND dr.id > ").push_bind(after);
    }
    qb.push(" ORDER BY dr.id LIMIT ")
        .push_bind(i64::from(limit));
    Ok(qb.build_query_scalar().fetch_all(db).await?)
}
