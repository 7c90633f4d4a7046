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
