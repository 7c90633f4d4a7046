//! Global role grants (`user_role`) and the permissions they carry.

use crate::store::{Conn, Db};
use uuid::Uuid;

use super::StoreResult;
use crate::domain::UserSub;

/// Permission ids held through the user's global grants (one join).
pub async fn permissions_of(db: &Db, sub: UserSub) -> StoreResult<Vec<Uuid>> {
    let rows: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT rp.permission_id FROM user_role ur \
         JOIN role_permission rp ON rp.role_id = ur.role_id WHERE ur.user_id = $1",
    )
    .bind(sub)
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// Role ids granted to the user.
pub async fn roles_of(db: &Db, sub: UserSub) -> StoreResult<Vec<Uuid>> {
    let rows: Vec<Uuid> =
        sqlx::query_scalar("SELECT role_id FROM user_role WHERE user_id = $1 ORDER BY role_id")
            .bind(sub)
            .fetch_all(db)
            .await?;
    Ok(rows)
}

/// Serialises every grant change of one user for the rest of the transaction
/// (`pg_advisory_xact_lock` keyed on the sub), so concurrent full replaces cannot interleave.
pub async fn lock_user(conn: &mut Conn, sub: UserSub) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('user_role:' || $1::text, 0))")
        .bind(sub)
        .execute(conn)
        .await?;
    Ok(())
}

/// Role ids granted to the user, read inside a transaction.
pub async fn roles_of_conn(conn: &mut Conn, sub: UserSub) -> StoreResult<Vec<Uuid>> {
    let rows: Vec<Uuid> =
        sqlx::query_scalar("SELECT role_id FROM user_role WHERE user_id = $1 ORDER BY role_id")
            .bind(sub)
            .fetch_all(conn)
            .await?;
    Ok(rows)
}

/// Full replace: afterwards the user holds exactly `roles` (call [`lock_user`] first).
pub async fn replace(conn: &mut Conn, sub: UserSub, roles: &[Uuid]) -> StoreResult<()> {
    sqlx::query("DELETE FROM user_role WHERE user_id = $1 AND NOT (role_id = ANY($2))")
        .bind(sub)
        .bind(roles)
        .execute(&mut *conn)
        .await?;
    grant_missing(conn, sub, roles).await?;
    Ok(())
}

/// Adds the grants the user does not hold yet (idempotent); returns how many were added.
pub async fn grant_missing(conn: &mut Conn, sub: UserSub, roles: &[Uuid]) -> StoreResult<u64> {
    let r = sqlx::query(
        "INSERT INTO user_role (user_id, role_id) SELECT $1, r FROM unnest($2::uuid[]) AS r \
         ON CONFLICT ON CONSTRAINT user_role_grant_key DO NOTHING",
    )
    .bind(sub)
    .bind(roles)
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// [`grant_missing`] returning the role ids it added (the ones the user did not hold yet).
pub async fn grant_missing_ids(
    conn: &mut Conn,
    sub: UserSub,
    roles: &[Uuid],
) -> StoreResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "INSERT INTO user_role (user_id, role_id) SELECT $1, r FROM unnest($2::uuid[]) AS r \
         ON CONFLICT ON CONSTRAINT user_role_grant_key DO NOTHING RETURNING role_id",
    )
    .bind(sub)
    .bind(roles)
    .fetch_all(conn)
    .await?)
}

/// Removes the user's grants of exactly `roles` (others stay); returns how many were removed.
pub async fn revoke_only(conn: &mut Conn, sub: UserSub, roles: &[Uuid]) -> StoreResult<u64> {
    let r = sqlx::query("DELETE FROM user_role WHERE user_id = $1 AND role_id = ANY($2)")
        .bind(sub)
        .bind(roles)
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}

/// Removes every global grant of the user; returns how many were removed.
pub async fn revoke_all(conn: &mut Conn, sub: UserSub) -> StoreResult<u64> {
    let r = sqlx::query("DELETE FROM user_role WHERE user_id = $1")
        .bind(sub)
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}

/// An operator's standing as PostgreSQL knows it right now: the permissions of their global
/// grants and the enabled / gone marks of their directory-cache row (None: not cached).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Standing {
    pub enabled: Option<bool>,
    pub gone: Option<bool>,
    pub permissions: Vec<Uuid>,
}

/// Reads [`Standing`] in ONE statement inside the caller's transaction.
pub async fn standing(conn: &mut Conn, sub: UserSub) -> StoreResult<Standing> {
    Ok(sqlx::query_as(
        "SELECT d.enabled, d.gone_at IS NOT NULL AS gone, \
         ARRAY(SELECT DISTINCT rp.permission_id FROM user_role ur \
               JOIN role_permission rp ON rp.role_id = ur.role_id WHERE ur.user_id = $1) AS permissions \
         FROM (SELECT 1) AS one LEFT JOIN directory_user d ON d.sub = $1",
    )
    .bind(sub)
    .fetch_one(conn)
    .await?)
}

/// Serialises every change that could lower the number of global ADMIN holders (demote,
/// disable, delete) for the rest of the transaction. Taken FIRST, before any per-user lock.
pub async fn lock_global_admins(conn: &mut Conn) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('global-admin-set', 0))")
        .execute(conn)
        .await?;
    Ok(())
}

/// SQL condition: the identity `$col` is not known to be disabled or gone (an uncached
/// identity counts as active — the cache is written by every disable/delete through hubdeck).
macro_rules! active_identity {
    ($col:literal) => {
        concat!(
            "NOT EXISTS (SELECT 1 FROM directory_user dx WHERE dx.sub = ",
            $col,
            " AND (NOT dx.enabled OR dx.gone_at IS NOT NULL))"
        )
    };
}
pub(crate) use active_identity;

/// Active holders of the global role `role` other than `except` (call [`lock_global_admins`]
/// first when the answer guards a change).
pub async fn other_active_holders(
    conn: &mut Conn,
    role: Uuid,
    except: UserSub,
) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(concat!(
        "SELECT count(DISTINCT ur.user_id) FROM user_role ur WHERE ur.role_id = $1 \
         AND ur.user_id <> $2 AND ",
        active_identity!("ur.user_id")
    ))
    .bind(role)
    .bind(except)
    .fetch_one(conn)
    .await?)
}

/// Whether `sub` holds the global role `role` (inside the caller's transaction).
pub async fn holds(conn: &mut Conn, sub: UserSub, role: Uuid) -> StoreResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM user_role WHERE user_id = $1 AND role_id = $2)",
    )
    .bind(sub)
    .bind(role)
    .fetch_one(conn)
    .await?)
}
