//! The audit seals' SQL: the rows in seal order with their digests, the seals themselves, and
//! the horizon below which every transaction has finished.
//!
//! A row's digest is the SHA-256 of a JSON array of its columns as written by migration 0001
//! plus its `change_xid`, the writing transaction (other columns added later are derived from these or are not part of the
//! record). The text of a timestamp depends on the session's time zone, so every statement here
//! runs in a transaction whose time zone is UTC ([`begin_sealing`]).

use crate::store::Conn;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

use super::StoreResult;
use crate::domain::seal::{RowDigest, RowKey, SOURCES, SealBody};

/// The canonical text of each audit table's row, hashed server-side.
fn digest_sql(source: i16) -> &'static str {
    match source {
        1 => {
            "sha256(convert_to(jsonb_build_array(id, actor_user_id, via, os_user, mandate_id, \
             mandate_name, action, target_user_id, details, created_at, change_xid)::text, 'UTF8'))"
        }
        2 => {
            "sha256(convert_to(jsonb_build_array(id, action, user_id, modified_by_user_id, via, \
             os_user, details, \"timestamp\", created_at, change_xid)::text, 'UTF8'))"
        }
        _ => {
            "sha256(convert_to(jsonb_build_array(id, trust_id, trust_name, action, \
             modified_by_user_id, subject_user_id, via, os_user, details, audit_date, \
             created_at, change_xid)::text, 'UTF8'))"
        }
    }
}

/// Starts what sealing and verifying run in: one snapshot for the horizon and the rows
/// (REPEATABLE READ), timestamps rendered in UTC, and — for sealing — one sealer at a time
/// (the lock is taken before the snapshot, so a second sealer sees the first one's seal).
pub async fn begin_sealing(conn: &mut Conn, exclusive: bool) -> StoreResult<()> {
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *conn)
        .await?;
    if exclusive {
        sqlx::query("LOCK TABLE audit_seal IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("SET LOCAL TimeZone = 'UTC'")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Every transaction of this database with an id below the horizon had finished (committed or
/// rolled back) when the caller's snapshot was taken: rows below it can be sealed, and no row
/// below it can appear later. The snapshot's own lower bound is cluster-wide — a transaction open
/// in another database of the cluster would hold sealing back — so the transactions a backend of
/// another database (or a prepared transaction of one) is known to hold are left out. What
/// cannot be attributed counts as ours: the horizon may be lower than it could be, never higher.
pub async fn horizon(conn: &mut Conn) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "WITH s AS (SELECT txid_current_snapshot() AS snap), \
         other AS ( \
           SELECT backend_xid::text::bigint AS xid FROM pg_stat_activity \
            WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database() \
           UNION ALL \
           SELECT transaction::text::bigint FROM pg_prepared_xacts \
            WHERE database IS DISTINCT FROM current_database()) \
         SELECT coalesce( \
           (SELECT min(x) FROM s, txid_snapshot_xip(s.snap) AS x \
             WHERE (x % 4294967296) NOT IN (SELECT xid FROM other)), \
           (SELECT txid_snapshot_xmax(snap) FROM s))::bigint",
    )
    .fetch_one(conn)
    .await?)
}

/// The cast of a bound transaction id to the audit tables' `change_xid` type.
const XID8: &str = "::text::xid8";

/// Pushes, for table `source`, "the row comes after `k`" (`inclusive`: or is `k`) in seal order,
/// as conditions an index on (change_xid, id) serves (the key's transaction id is bound as a
/// bigint and cast to `xid8`, the column's type).
fn push_bound(qb: &mut QueryBuilder<Postgres>, source: i16, k: &RowKey, after: bool) {
    use std::cmp::Ordering::*;
    // Another table's rows compare by transaction alone (the table decides ties: a table
    // before the key's comes first); the key's own table compares (transaction, id).
    let (with_id, op) = match (source.cmp(&k.source), after) {
        (Less, true) => (false, " > "),
        (Greater, true) => (false, " >= "),
        (Equal, true) => (true, " > "),
        (Less, false) => (false, " <= "),
        (Greater, false) => (false, " < "),
        (Equal, false) => (true, " <= "),
    };
    qb.push(" AND ");
    if with_id {
        qb.push("(change_xid, id)")
            .push(op)
            .push("(")
            .push_bind(k.txid)
            .push(XID8)
            .push(", ")
            .push_bind(k.id)
            .push(")");
    } else {
        qb.push("change_xid").push(op).push_bind(k.txid).push(XID8);
    }
}

/// The rows after `after` (exclusive), up to `upto` (inclusive), below `horizon`, in seal order,
/// at most `limit` — each with its digest.
pub async fn rows(
    conn: &mut Conn,
    after: Option<&RowKey>,
    upto: Option<&RowKey>,
    horizon: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<RowDigest>> {
    let mut qb = QueryBuilder::new("SELECT * FROM (");
    for (i, (source, table)) in SOURCES.iter().enumerate() {
        if i > 0 {
            qb.push(" UNION ALL ");
        }
        qb.push(format!(
            "(SELECT change_xid::text::bigint AS seal_txid, {source}::smallint AS source, id, {} AS digest FROM {table} \
             WHERE TRUE",
            digest_sql(*source)
        ));
        if let Some(k) = after {
            push_bound(&mut qb, *source, k, true);
        }
        if let Some(k) = upto {
            push_bound(&mut qb, *source, k, false);
        }
        if let Some(h) = horizon {
            qb.push(" AND change_xid < ").push_bind(h).push(XID8);
        }
        qb.push(" ORDER BY change_xid, id LIMIT ")
            .push_bind(limit)
            .push(")");
    }
    qb.push(") hubdeck_s ORDER BY seal_txid, source, id LIMIT ")
        .push_bind(limit);
    let rows: Vec<PgRow> = qb.build().fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            let digest: Vec<u8> = r.try_get("digest")?;
            let mut d = [0u8; 32];
            d.copy_from_slice(&digest[..32.min(digest.len())]);
            Ok(RowDigest {
                key: RowKey {
                    txid: r.try_get("seal_txid")?,
                    source: r.try_get("source")?,
                    id: r.try_get::<Uuid, _>("id")?,
                },
                digest: d,
            })
        })
        .collect()
}

/// Rows after `after` (all rows when None) not covered by any seal.
pub async fn count_after(conn: &mut Conn, after: Option<&RowKey>) -> StoreResult<i64> {
    let mut qb = QueryBuilder::new("SELECT (SELECT 0::bigint)");
    for (source, table) in SOURCES {
        qb.push(format!(" + (SELECT count(*) FROM {table} WHERE TRUE"));
        if let Some(k) = after {
            push_bound(&mut qb, source, k, true);
        }
        qb.push(")");
    }
    Ok(qb.build_query_scalar().fetch_one(conn).await?)
}

/// A stored seal.
#[derive(Clone, Debug)]
pub struct StoredSeal {
    pub body: SealBody,
    pub sealed_at: chrono::DateTime<chrono::Utc>,
    pub row_list: Vec<u8>,
    pub hash: Vec<u8>,
    pub public_key: Vec<u8>,
    pub signature: Vec<u8>,
}

fn to_array(v: &[u8]) -> [u8; 32] {
    let mut a = [0u8; 32];
    let n = v.len().min(32);
    a[..n].copy_from_slice(&v[..n]);
    a
}

fn stored(r: &PgRow) -> StoreResult<StoredSeal> {
    Ok(StoredSeal {
        body: SealBody {
            seq: r.try_get("seq")?,
            horizon: r.try_get("horizon")?,
            last: RowKey {
                txid: r.try_get("last_txid")?,
                source: r.try_get("last_source")?,
                id: r.try_get("last_id")?,
            },
            row_count: r.try_get("row_count")?,
            rows_digest: to_array(&r.try_get::<Vec<u8>, _>("rows_digest")?),
            prev_hash: to_array(&r.try_get::<Vec<u8>, _>("prev_hash")?),
        },
        sealed_at: r.try_get("sealed_at")?,
        row_list: r.try_get("row_list")?,
        hash: r.try_get("hash")?,
        public_key: r.try_get("public_key")?,
        signature: r.try_get("signature")?,
    })
}

const SEAL_COLUMNS: &str = "seq, sealed_at, horizon, last_txid, last_source, last_id, \
     row_count, rows_digest, row_list, prev_hash, hash, public_key, signature";

/// The newest seal.
pub async fn last(conn: &mut Conn) -> StoreResult<Option<StoredSeal>> {
    let sql = format!("SELECT {SEAL_COLUMNS} FROM audit_seal ORDER BY seq DESC LIMIT 1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(stored).transpose()
}

/// Every seal, in chain order.
pub async fn all(conn: &mut Conn) -> StoreResult<Vec<StoredSeal>> {
    let sql = format!("SELECT {SEAL_COLUMNS} FROM audit_seal ORDER BY seq");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await?;
    rows.iter().map(stored).collect()
}

/// Writes one seal.
pub async fn insert(conn: &mut Conn, s: &StoredSeal) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_seal (seq, horizon, last_txid, last_source, last_id, row_count, \
         rows_digest, row_list, prev_hash, hash, public_key, signature) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(s.body.seq)
    .bind(s.body.horizon)
    .bind(s.body.last.txid)
    .bind(s.body.last.source)
    .bind(s.body.last.id)
    .bind(s.body.row_count)
    .bind(s.body.rows_digest.to_vec())
    .bind(&s.row_list)
    .bind(s.body.prev_hash.to_vec())
    .bind(&s.hash)
    .bind(&s.public_key)
    .bind(&s.signature)
    .execute(conn)
    .await?;
    Ok(())
}
