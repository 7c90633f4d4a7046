//! SQL of undo (`service::undo`): the audit row to undo, later changes to the same grant, and
//! the row that already undid it (migration 1201's `undoes` link).

use crate::store::{Conn, Db};
use chrono::{DateTime, Utc};

use uuid::Uuid;

use super::StoreResult;
use crate::domain::{MandateId, UserSub};

/// Which audit table a row lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditSource {
    Mandates,
    Users,
}

impl AuditSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mandates => "mandates",
            Self::Users => "users",
        }
    }
}

/// One audit row, as undo reads it.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    pub id: Uuid,
    pub source: AuditSource,
    pub action: String,
    pub at: DateTime<Utc>,
    /// The user whose grant changed.
    pub user_id: Option<UserSub>,
    pub mandate_id: Option<MandateId>,
    pub mandate_name: Option<String>,
    pub details: serde_json::Value,
}

type Row = (
    Uuid,
    String,
    DateTime<Utc>,
    Option<UserSub>,
    Option<MandateId>,
    Option<String>,
    serde_json::Value,
);

/// The audit row `id` in `mandate_audit` or `users_audit` (trust rows are never undoable).
pub async fn find(db: &Db, id: Uuid) -> StoreResult<Option<AuditRecord>> {
    let m: Option<Row> = sqlx::query_as(
        "SELECT id, action, created_at, target_user_id, mandate_id, mandate_name, details \
         FROM mandate_audit WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    let (source, row) = match m {
        Some(r) => (AuditSource::Mandates, Some(r)),
        None => (
            AuditSource::Users,
            sqlx::query_as(
                "SELECT id, action, \"timestamp\", user_id, NULL::uuid, NULL::text, details \
                 FROM users_audit WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(db)
            .await?,
        ),
    };
    Ok(row.map(
        |(id, action, at, user_id, mandate_id, mandate_name, details)| AuditRecord {
            id,
            source,
            action,
            at,
            user_id,
            mandate_id,
            mandate_name,
            details,
        },
    ))
}

/// Later audit rows (id, action) that changed the same grant as `r`: same table, same user
/// (and mandate), one of `actions`, written after `r`.
pub async fn later_changes(
    conn: &mut Conn,
    r: &AuditRecord,
    actions: &[&str],
) -> StoreResult<Vec<(Uuid, String)>> {
    let actions: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
    Ok(match r.source {
        AuditSource::Mandates => sqlx::query_as(
            "SELECT id, action FROM mandate_audit WHERE mandate_id = $1 AND target_user_id = $2 \
             AND action = ANY($3) AND id <> $4 AND created_at >= $5 ORDER BY created_at, id",
        )
        .bind(r.mandate_id)
        .bind(r.user_id)
        .bind(actions)
        .bind(r.id)
        .bind(r.at)
        .fetch_all(conn)
        .await?,
        AuditSource::Users => {
            sqlx::query_as(
                "SELECT id, action FROM users_audit WHERE user_id = $1 AND action = ANY($2) \
             AND id <> $3 AND \"timestamp\" >= $4 ORDER BY \"timestamp\", id",
            )
            .bind(r.user_id)
            .bind(actions)
            .bind(r.id)
            .bind(r.at)
            .fetch_all(conn)
            .await?
        }
    })
}

/// The audit row that undid `id`, if any.
pub async fn undone_by(conn: &mut Conn, id: Uuid) -> StoreResult<Option<Uuid>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM mandate_audit WHERE undoes = $1 UNION ALL \
         SELECT id FROM users_audit WHERE undoes = $1 LIMIT 1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// The newest audit row among `actions` for a member of a mandate (the console's `z` on a row).
pub async fn latest_member_change(
    db: &Db,
    mandate: MandateId,
    user: UserSub,
    actions: &[&str],
) -> StoreResult<Option<Uuid>> {
    let actions: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
    Ok(sqlx::query_scalar(
        "SELECT id FROM mandate_audit WHERE mandate_id = $1 AND target_user_id = $2 \
         AND action = ANY($3) ORDER BY created_at DESC, id LIMIT 1",
    )
    .bind(mandate)
    .bind(user)
    .bind(actions)
    .fetch_optional(db)
    .await?)
}

/// The newest audit row among `actions` for a user's global grants or account.
pub async fn latest_user_change(
    db: &Db,
    user: UserSub,
    actions: &[&str],
) -> StoreResult<Option<Uuid>> {
    let actions: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
    Ok(sqlx::query_scalar(
        "SELECT id FROM users_audit WHERE user_id = $1 AND action = ANY($2) \
         ORDER BY \"timestamp\" DESC, id LIMIT 1",
    )
    .bind(user)
    .bind(actions)
    .fetch_optional(db)
    .await?)
}
