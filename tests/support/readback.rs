//! What tests read back from the database after acting (one query each, shared).

use sqlx::Postgres;
use uuid::Uuid;

/// The global role ids a user holds, sorted.
pub async fn global_role_ids<S>(pool: &hubdeck::store::Db, sub: S) -> Vec<Uuid>
where
    S: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send,
{
    sqlx::query_scalar("SELECT role_id FROM user_role WHERE user_id = $1 ORDER BY role_id")
        .bind(sub)
        .fetch_all(pool)
        .await
        .expect("global role ids")
}

/// A registration's saga state.
pub async fn registration_state<I>(pool: &hubdeck::store::Db, id: I) -> String
where
    I: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send,
{
    sqlx::query_scalar("SELECT state FROM registration WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("registration state")
}
