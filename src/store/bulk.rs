//! SQL of bulk member actions (`service::bulk`): resolving a set of memberships and locking
//! them, in id order, after the mandate row and its admin memberships.

use crate::store::{Conn, Db};
use uuid::Uuid;

use super::StoreResult;
use crate::domain::{MandateId, MembershipId, UserSub};

/// A membership as a bulk action sees it (locked).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct BulkMember {
    pub id: MembershipId,
    pub user_id: UserSub,
    pub email: Option<String>,
    pub enabled: bool,
    /// The user is not disabled or gone (a disabled user's admin membership is no admin).
    pub active: bool,
    /// Mandate-level roles (feature-instance roles excluded), sorted.
    pub role_ids: Vec<Uuid>,
}

/// Locks the memberships `ids` of `mandate` in id order (call after the mandate row and
/// `members::lock_admins`, the order every membership change takes).
pub async fn lock_memberships(
    conn: &mut Conn,
    mandate: MandateId,
    ids: &[MembershipId],
) -> StoreResult<Vec<BulkMember>> {
    let ids: Vec<Uuid> = ids.iter().map(|i| i.0).collect();
    let q = concat!(
        "SELECT um.id, um.user_id, um.member_email AS email, um.enabled, ",
        super::grants::active_identity!("um.user_id"),
        " AS active, COALESCE((SELECT array_agg(DISTINCT r.id ORDER BY r.id) \
         FROM user_mandate_role umr JOIN mandate_role r ON r.id = umr.mandate_role_id \
         WHERE umr.user_mandate_id = um.id AND r.feature_instance_id IS NULL), '{}') AS role_ids \
         FROM user_mandate um WHERE um.mandate_id = $1 AND um.id = ANY($2) \
         ORDER BY um.id FOR UPDATE OF um"
    );
    Ok(sqlx::query_as(q)
        .bind(mandate)
        .bind(ids)
        .fetch_all(conn)
        .await?)
}

/// Memberships of `mandate` by member email (case-insensitive): (lower(email), id).
pub async fn ids_by_email(
    db: &Db,
    mandate: MandateId,
    emails: &[String],
) -> StoreResult<Vec<(String, MembershipId)>> {
    let lower: Vec<String> = emails.iter().map(|e| e.to_lowercase()).collect();
    Ok(sqlx::query_as(
        "SELECT lower(um.member_email), um.id FROM user_mandate um \
         WHERE um.mandate_id = $1 AND lower(um.member_email) = ANY($2)",
    )
    .bind(mandate)
    .bind(lower)
    .fetch_all(db)
    .await?)
}

/// The role ids that make a membership of `mandate` an admin (label `admin`, global or the
/// mandate's own, no feature instance).
pub async fn admin_role_ids(conn: &mut Conn, mandate: MandateId) -> StoreResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM mandate_role WHERE label = 'admin' AND feature_instance_id IS NULL \
         AND (mandate_id IS NULL OR mandate_id = $1)",
    )
    .bind(mandate)
    .fetch_all(conn)
    .await?)
}

// ---------------------------------------------------------------------------------------------
// Set-based writes: one statement per kind for the whole bulk (the label triggers on
// user_mandate_role are statement-level, so N rows cost one refresh, not N).
// ---------------------------------------------------------------------------------------------

fn uuids(ids: &[MembershipId]) -> Vec<Uuid> {
    ids.iter().map(|i| i.0).collect()
}

/// Replaces the mandate-level roles of every membership in `ids` with `roles`.
pub async fn replace_roles_many(
    conn: &mut Conn,
    ids: &[MembershipId],
    roles: &[Uuid],
) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM user_mandate_role umr USING mandate_role r \
         WHERE umr.user_mandate_id = ANY($1) AND r.id = umr.mandate_role_id \
         AND r.feature_instance_id IS NULL",
    )
    .bind(uuids(ids))
    .execute(&mut *conn)
    .await?;
    add_role_many(conn, ids, roles).await
}

/// Adds `roles` to every membership in `ids` (existing grants kept).
pub async fn add_role_many(
    conn: &mut Conn,
    ids: &[MembershipId],
    roles: &[Uuid],
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO user_mandate_role (user_mandate_id, mandate_role_id) \
         SELECT m, r FROM unnest($1::uuid[]) m CROSS JOIN unnest($2::uuid[]) r \
         ON CONFLICT DO NOTHING",
    )
    .bind(uuids(ids))
    .bind(roles)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes `roles` from every membership in `ids`.
pub async fn remove_role_many(
    conn: &mut Conn,
    ids: &[MembershipId],
    roles: &[Uuid],
) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM user_mandate_role WHERE user_mandate_id = ANY($1) AND mandate_role_id = ANY($2)",
    )
    .bind(uuids(ids))
    .bind(roles)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_enabled_many(
    conn: &mut Conn,
    ids: &[MembershipId],
    enabled: bool,
) -> StoreResult<()> {
    sqlx::query("UPDATE user_mandate SET enabled = $2, updated_at = now() WHERE id = ANY($1)")
        .bind(uuids(ids))
        .bind(enabled)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_many(conn: &mut Conn, ids: &[MembershipId]) -> StoreResult<()> {
    sqlx::query("DELETE FROM user_mandate WHERE id = ANY($1)")
        .bind(uuids(ids))
        .execute(conn)
        .await?;
    Ok(())
}

/// The same notification to every user in `users`, in one statement.
pub async fn insert_notifications(
    conn: &mut Conn,
    users: &[UserSub],
    mandate: MandateId,
    text: &super::audit::NotificationText,
) -> StoreResult<()> {
    super::audit::insert_notifications(conn, users, Some(mandate), text).await
}
