//! Trusts, the FL kit slot pool and `trusts_audit`. All trust SQL lives here.

use crate::store::{Conn, Db};
use chrono::{DateTime, Utc};

use super::StoreResult;
use super::query::{ListSql, SqlColumn, fetch_page, filter_values};
use crate::domain::page::{ColumnKind, ColumnSpec, ListSpec, SortDir};
use crate::domain::trust::{KitSlot, Trust};
use crate::domain::{Page, PageQuery, TrustId};

/// Unique index on `lower(trust.name)`.
pub const NAME_CONSTRAINT: &str = "trust_name_lower_key";
/// Unique index on `trust.code`.
pub const CODE_CONSTRAINT: &str = "trust_code_key";

/// A claimed slot.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimedSlot {
    pub slot_name: String,
    pub slot_number: i32,
}

pub use super::audit::AuditActor;

/// Inserts a trust with its keys not yet confirmed handed over (`keys_unconfirmed_since` =
/// `created_at`); returns (created_at, updated_at). A unique violation surfaces as
/// `StoreError::Unique` naming [`NAME_CONSTRAINT`] or [`CODE_CONSTRAINT`].
pub async fn insert_trust(
    conn: &mut Conn,
    id: TrustId,
    name: &str,
    code: &str,
    region: Option<&str>,
    api_key_hash: &str,
) -> StoreResult<(DateTime<Utc>, DateTime<Utc>)> {
    let row: (DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO trust (id, name, code, region, api_key_hash, keys_unconfirmed_since) \
         VALUES ($1, $2, $3, $4, $5, now()) RETURNING created_at, updated_at",
    )
    .bind(id)
    .bind(name)
    .bind(code)
    .bind(region)
    .bind(api_key_hash)
    .fetch_one(conn)
    .await?;
    Ok(row)
}

/// Claims the lowest free slot for `trust_id` (`FOR UPDATE SKIP LOCKED`: concurrent claimers
/// never wait for each other and never get the same slot). None when no slot is free.
pub async fn claim_free_slot(
    conn: &mut Conn,
    trust_id: TrustId,
) -> StoreResult<Option<ClaimedSlot>> {
    let slot = sqlx::query_as::<_, ClaimedSlot>(
        "UPDATE fl_kit_slot SET assigned_to_trust_id = $1, assigned_at = now() \
         WHERE slot_name = ( \
             SELECT slot_name FROM fl_kit_slot WHERE assigned_to_trust_id IS NULL \
             ORDER BY slot_number, slot_name LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING slot_name, slot_number",
    )
    .bind(trust_id)
    .fetch_optional(conn)
    .await?;
    Ok(slot)
}

/// Adds the configured slots that do not exist yet (never deletes, re-assigns or un-assigns).
/// Runs inside a SAVEPOINT so a failure leaves the caller's transaction usable; a concurrent
/// insert of the same names is tolerated (`ON CONFLICT DO NOTHING` waits for it and skips).
/// Returns the number of slots inserted.
pub async fn insert_missing_slots(conn: &mut Conn, slots: &[(String, i32)]) -> StoreResult<u64> {
    if slots.is_empty() {
        return Ok(0);
    }
    let names: Vec<&str> = slots.iter().map(|(n, _)| n.as_str()).collect();
    let numbers: Vec<i32> = slots.iter().map(|(_, n)| *n).collect();
    let savepoint = conn.in_transaction();
    if savepoint {
        sqlx::raw_sql("SAVEPOINT insert_missing_slots")
            .execute(&mut *conn)
            .await?;
    }
    let res = sqlx::query(
        "INSERT INTO fl_kit_slot (slot_name, slot_number) \
         SELECT n, num FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS s(n, num, ord) \
         ORDER BY ord ON CONFLICT (slot_name) DO NOTHING",
    )
    .bind(&names)
    .bind(&numbers)
    .execute(&mut *conn)
    .await;
    let end = match (&res, savepoint) {
        (_, false) => None,
        (Ok(_), true) => Some("RELEASE SAVEPOINT insert_missing_slots"),
        (Err(_), true) => Some("ROLLBACK TO SAVEPOINT insert_missing_slots"),
    };
    if let Some(end) = end {
        sqlx::raw_sql(end).execute(&mut *conn).await?;
    }
    match res {
        Ok(r) => Ok(r.rows_affected()),
        Err(e) => {
            let e = super::StoreError::from(e);
            if e.unique_constraint().is_some() {
                // Another registration inserted the same slot names first: nothing to add.
                Ok(0)
            } else {
                Err(e)
            }
        }
    }
}

/// Appends one `trusts_audit` row (in the caller's transaction).
pub async fn insert_audit(
    conn: &mut Conn,
    trust_id: TrustId,
    trust_name: &str,
    action: &'static str,
    actor: &AuditActor<'_>,
    details: serde_json::Value,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO trusts_audit (trust_id, trust_name, action, modified_by_user_id, via, os_user, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(trust_id)
    .bind(trust_name)
    .bind(action)
    .bind(actor.sub)
    .bind(actor.via)
    .bind(actor.os_user)
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}

const TRUST_SELECT: &str = "SELECT t.id, t.name, t.code, t.region, t.last_heartbeat, t.created_at, \
     t.updated_at, s.slot_name, s.slot_number, t.keys_unconfirmed_since, t.version \
     FROM trust t LEFT JOIN fl_kit_slot s ON s.assigned_to_trust_id = t.id";

/// The trust with this name, compared case-insensitively (uses `trust_name_lower_key`).
pub async fn find_by_name(pool: &Db, name: &str) -> StoreResult<Option<Trust>> {
    Ok(sqlx::query_as::<_, Trust>(sqlx::AssertSqlSafe(format!(
        "{TRUST_SELECT} WHERE lower(t.name) = lower($1)"
    )))
    .bind(name)
    .fetch_optional(pool)
    .await?)
}

/// The trust with this (upper-case) code (uses `trust_code_key`).
pub async fn find_by_code(pool: &Db, code: &str) -> StoreResult<Option<Trust>> {
    Ok(sqlx::query_as::<_, Trust>(sqlx::AssertSqlSafe(format!(
        "{TRUST_SELECT} WHERE t.code = $1"
    )))
    .bind(code)
    .fetch_optional(pool)
    .await?)
}

pub async fn get(pool: &Db, id: TrustId) -> StoreResult<Option<Trust>> {
    Ok(sqlx::query_as::<_, Trust>(sqlx::AssertSqlSafe(format!(
        "{TRUST_SELECT} WHERE t.id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// Locks the trust's row: (name, version), None when it is gone.
pub async fn lock_version(conn: &mut Conn, id: TrustId) -> StoreResult<Option<(String, i64)>> {
    Ok(
        sqlx::query_as("SELECT name, version FROM trust WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

/// Replaces the stored API key hash; returns the trust's name (None if it does not exist).
pub async fn replace_api_key_hash(
    conn: &mut Conn,
    id: TrustId,
    api_key_hash: &str,
) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "UPDATE trust SET api_key_hash = $2, updated_at = now() WHERE id = $1 RETURNING name",
    )
    .bind(id)
    .bind(api_key_hash)
    .fetch_optional(conn)
    .await?)
}

/// Frees the trust's slot and deletes the trust. Returns (name, code, freed slot name), or None
/// when the trust does not exist.
pub async fn delete_trust(
    conn: &mut Conn,
    id: TrustId,
) -> StoreResult<Option<(String, String, Option<String>)>> {
    let freed: Option<String> = sqlx::query_scalar(
        "UPDATE fl_kit_slot SET assigned_to_trust_id = NULL, assigned_at = NULL \
         WHERE assigned_to_trust_id = $1 RETURNING slot_name",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let deleted: Option<(String, String)> =
        sqlx::query_as("DELETE FROM trust WHERE id = $1 RETURNING name, code")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(deleted.map(|(name, code)| (name, code, freed)))
}

// ---------------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------------

/// Whitelist of the trusts list.
pub static TRUSTS_SPEC: ListSpec = ListSpec {
    name: "trusts",
    columns: &[
        ColumnSpec::sort_only("name", ColumnKind::Text),
        ColumnSpec::sort_only("code", ColumnKind::Text),
        ColumnSpec::new("region", ColumnKind::Text),
        ColumnSpec::filter_only("has_slot", ColumnKind::Bool),
        ColumnSpec::sort_only("slot_number", ColumnKind::Int),
        ColumnSpec::sort_only("created_at", ColumnKind::Timestamp),
    ],
    default_sort: &[("name", SortDir::Asc)],
};

/// Search: name and code (trigram indexes `trust_name_trgm`, `trust_code_trgm`). Sorts:
/// `lower(name)` → `trust_name_lower_key`, code → `trust_code_key`, region →
/// `trust_region_idx (region, lower(name), id)`, created_at → `trust_created_idx`.
pub static TRUSTS_LIST: ListSql = ListSql {
    spec: &TRUSTS_SPEC,
    select: "t.id, t.name, t.code, t.region, t.last_heartbeat, t.created_at, t.updated_at, \
             s.slot_name, s.slot_number, t.keys_unconfirmed_since, t.version",
    from: "trust t LEFT JOIN fl_kit_slot s ON s.assigned_to_trust_id = t.id",
    base_where: "",
    columns: &[
        SqlColumn::sorted_by("name", "t.name", "lower(t.name)"),
        SqlColumn::new("code", "t.code"),
        SqlColumn::new("region", "t.region"),
        SqlColumn::new("has_slot", "(s.slot_name IS NOT NULL)"),
        SqlColumn::new("slot_number", "s.slot_number"),
        SqlColumn::new("created_at", "t.created_at"),
    ],
    search: &["t.name", "t.code"],
    search_with: None,
    tiebreak: "t.id",
    tiebreak_type: "uuid",
};

pub async fn list_trusts(pool: &Db, q: &PageQuery) -> StoreResult<Page<Trust>> {
    fetch_page(pool, &TRUSTS_LIST, q, None).await
}

pub async fn trust_filter_values(
    pool: &Db,
    column: &str,
    q: &PageQuery,
    limit: u32,
) -> StoreResult<Vec<String>> {
    filter_values(pool, &TRUSTS_LIST, column, q, None, limit).await
}

/// Whitelist of the kit slot list.
pub static KIT_SLOTS_SPEC: ListSpec = ListSpec {
    name: "kit slots",
    columns: &[
        ColumnSpec::sort_only("slot_number", ColumnKind::Int),
        ColumnSpec::sort_only("slot_name", ColumnKind::Text),
        ColumnSpec::filter_only("free", ColumnKind::Bool),
        ColumnSpec::sort_only("assigned_at", ColumnKind::Timestamp),
    ],
    default_sort: &[("slot_number", SortDir::Asc)],
};

/// Search: slot name (`fl_kit_slot_name_trgm`, migration 0300); trusts are searched by name in
/// the trusts list.
/// Default sort: `fl_kit_slot_number_idx (slot_number, slot_name)`.
pub static KIT_SLOTS_LIST: ListSql = ListSql {
    spec: &KIT_SLOTS_SPEC,
    select: "s.slot_name, s.slot_number, s.assigned_to_trust_id, t.name AS trust_name, \
             t.code AS trust_code, s.assigned_at, s.created_at",
    from: "fl_kit_slot s LEFT JOIN trust t ON t.id = s.assigned_to_trust_id",
    base_where: "",
    columns: &[
        SqlColumn::new("slot_number", "s.slot_number"),
        SqlColumn::new("slot_name", "s.slot_name"),
        SqlColumn::new("free", "(s.assigned_to_trust_id IS NULL)"),
        SqlColumn::new("assigned_at", "s.assigned_at"),
    ],
    search: &["s.slot_name"],
    search_with: None,
    tiebreak: "s.slot_name",
    tiebreak_type: "text",
};

pub async fn list_kit_slots(pool: &Db, q: &PageQuery) -> StoreResult<Page<KitSlot>> {
    fetch_page(pool, &KIT_SLOTS_LIST, q, None).await
}

/// (free, assigned) slot counts.
pub async fn slot_counts(pool: &Db) -> StoreResult<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT count(*) FILTER (WHERE assigned_to_trust_id IS NULL), \
                count(*) FILTER (WHERE assigned_to_trust_id IS NOT NULL) FROM fl_kit_slot",
    )
    .fetch_one(pool)
    .await?)
}

/// When each key of a trust was last minted (registration or rotation), and the whole days
/// since then — counted by the database's clock (the one that stamped them), never negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct KeyTimes {
    pub api_key_rotated_at: chrono::DateTime<chrono::Utc>,
    pub internal_key_rotated_at: chrono::DateTime<chrono::Utc>,
    pub api_key_age_days: i64,
    pub internal_key_age_days: i64,
    /// The database's now() when read (for any other age shown beside these).
    pub as_of: chrono::DateTime<chrono::Utc>,
}

pub async fn key_times(db: &Db, id: TrustId) -> StoreResult<Option<KeyTimes>> {
    Ok(sqlx::query_as(
        "SELECT api_key_rotated_at, internal_key_rotated_at, \
           GREATEST(0, floor(extract(epoch FROM now() - api_key_rotated_at) / 86400))::int8 \
             AS api_key_age_days, \
           GREATEST(0, floor(extract(epoch FROM now() - internal_key_rotated_at) / 86400))::int8 \
             AS internal_key_age_days, \
           now() AS as_of \
         FROM trust WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// Records a rotation (inside the rotation's transaction) and marks the new keys not yet
/// confirmed handed over; returns the trust's name and the minting time, or None when it does
/// not exist (the row is locked until commit).
pub async fn mark_rotated(
    conn: &mut Conn,
    id: TrustId,
    api_key: bool,
    internal_key: bool,
) -> StoreResult<Option<(String, DateTime<Utc>)>> {
    Ok(sqlx::query_as(
        "UPDATE trust SET \
           api_key_rotated_at = CASE WHEN $2 THEN now() ELSE api_key_rotated_at END, \
           internal_key_rotated_at = CASE WHEN $3 THEN now() ELSE internal_key_rotated_at END, \
           keys_unconfirmed_since = now(), \
           updated_at = now() \
         WHERE id = $1 RETURNING name, keys_unconfirmed_since",
    )
    .bind(id)
    .bind(api_key)
    .bind(internal_key)
    .fetch_optional(conn)
    .await?)
}

/// Clears the "keys not confirmed" mark set by the minting at `minted_at` (a later minting's
/// mark stays: its keys are someone else's hand-over). Returns the trust's name when cleared.
pub async fn confirm_keys_handed_over(
    conn: &mut Conn,
    id: TrustId,
    minted_at: DateTime<Utc>,
) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "UPDATE trust SET keys_unconfirmed_since = NULL \
         WHERE id = $1 AND keys_unconfirmed_since = $2 RETURNING name",
    )
    .bind(id)
    .bind(minted_at)
    .fetch_optional(conn)
    .await?)
}

/// How many trusts have keys whose hand-over was never confirmed, and the oldest such mark.
pub async fn unconfirmed_keys(pool: &Db) -> StoreResult<(i64, Option<DateTime<Utc>>)> {
    Ok(sqlx::query_as(
        "SELECT count(*), min(keys_unconfirmed_since) FROM trust \
         WHERE keys_unconfirmed_since IS NOT NULL",
    )
    .fetch_one(pool)
    .await?)
}
