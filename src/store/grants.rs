//! Global role grants (`user_role`) and the permissions they carry.

use sqlx::PgPool;
use uuid::Uuid;

use super::StoreResult;
use crate::domain::UserSub;

/// Permission ids held through the user's global grants (one join).
pub async fn permissions_of(db: &PgPool, sub: UserSub) -> StoreResult<Vec<Uuid>> {
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
pub async fn roles_of(db: &PgPool, sub: UserSub) -> StoreResult<Vec<Uuid>> {
    let rows: Vec<Uuid> =
        sqlx::query_scalar("SELECT role_id FROM user_role WHERE user_id = $1 ORDER BY role_id")
            .bind(sub)
            .fetch_all(db)
            .await?;
    Ok(rows)
}

/// Serialises every grant change of one user for the rest of the transaction
/// (`pg_advisory_xact_lock` keyed on the sub), so concurrent full replaces cannot interleave.
pub async fn lock_user(conn: &mut sqlx::PgConnection, sub: UserSub) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('user_role:' || $1::text, 0))")
        .bind(sub)
        .execute(conn)
        .await?;
    Ok(())
}

/// Role ids granted to the user, read inside a transaction.
pub async fn roles_of_conn(conn: &mut sqlx::PgConnection, sub: UserSub) -> StoreResult<Vec<Uuid>> {
    let rows: Vec<Uuid> =
        sqlx::query_scalar("SELECT role_id FROM user_role WHERE user_id = $1 ORDER BY role_id")
            .bind(sub)
            .fetch_all(conn)
            .await?;
    Ok(rows)
}

/// Full replace: afterwards the user holds exactly `roles` (call [`lock_user`] first).
pub async fn replace(
    conn: &mut sqlx::PgConnection,
    sub: UserSub,
    roles: &[Uuid],
) -> StoreResult<()> {
    sqlx::query("DELETE FROM user_role WHERE user_id = $1 AND NOT (role_id = ANY($2))")
        .bind(sub)
        .bind(roles)
        .execute(&mut *conn)
        .await?;
    grant_missing(conn, sub, roles).await?;
    Ok(())
}

/// Adds the grants the user does not hold yet (idempotent); returns how many were added.
pub async fn grant_missing(
    conn: &mut sqlx::PgConnection,
    sub: UserSub,
    roles: &[Uuid],
) -> StoreResult<u64> {
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

/// Removes every global grant of the user; returns how many were removed.
pub async fn revoke_all(conn: &mut sqlx::PgConnection, sub: UserSub) -> StoreResult<u64> {
    let r = sqlx::query("DELETE FROM user_role WHERE user_id = $1")
        .bind(sub)
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}
