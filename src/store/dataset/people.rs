//! Directory users, their global grants and the demo admin.

use sqlx::postgres::PgConnection;

use super::words::*;
use super::{DEMO_ADMIN_SUB, DatasetSpec, DemoAdmin};
use crate::domain::RoleRef;
use crate::store::StoreResult;

pub(super) async fn users(tx: &mut PgConnection, spec: &DatasetSpec) -> StoreResult<()> {
    let orgs: Vec<String> = ORGANISATIONS.iter().map(|o| o.0.to_string()).collect();
    let domains: Vec<String> = ORGANISATIONS.iter().map(|o| o.1.to_string()).collect();
    let combos = (FIRST_NAMES.len() * LAST_NAMES.len()) as i64;
    // A bijection n -> (first, last) within each block of `combos` rows (7919 is prime and
    // coprime to the block size), so emails are unique; later blocks get a number suffix.
    sqlx::query(
        "CREATE TEMP TABLE gen_user ON COMMIT DROP AS
         SELECT n, sub, first || ' ' || last AS name, org, status, enabled, role_pick, created,
                regexp_replace(lower(first), '[^a-z]', '', 'g') || '.' ||
                regexp_replace(lower(last), '[^a-z]', '', 'g') ||
                CASE WHEN blk > 0 THEN (blk + 1)::text ELSE '' END || '@' || domain AS email
         FROM (
           SELECT n,
                  md5($1::bigint || ':u:' || n)::uuid AS sub,
                  ($2::text[])[1 + (idx % cardinality($2::text[]))] AS first,
                  ($3::text[])[1 + (idx / cardinality($2::text[]))] AS last,
                  (n - 1) / $6::bigint AS blk,
                  ($4::text[])[o] AS org,
                  ($5::text[])[o] AS domain,
                  CASE WHEN r < 7 THEN 'FORCE_CHANGE_PASSWORD' ELSE 'CONFIRMED' END AS status,
                  NOT (r BETWEEN 7 AND 9) AS enabled,
                  role_pick,
                  $8::timestamptz - make_interval(secs => (hashint8extended(n, $1 + 4) & 2147483647) % (730 * 86400)) AS created
           FROM (
             SELECT n,
                    ((n - 1) * 7919 + $1) % $6::bigint AS idx,
                    1 + (hashint8extended(n, $1 + 1) & 2147483647) % cardinality($4::text[]) AS o,
                    (hashint8extended(n, $1 + 2) & 2147483647) % 100 AS r,
                    (hashint8extended(n, $1 + 3) & 2147483647) % 100 AS role_pick
             FROM generate_series(1::bigint, $7::bigint) AS n
           ) a
         ) b",
    )
    .bind(spec.seed)
    .bind(strs(FIRST_NAMES))
    .bind(strs(LAST_NAMES))
    .bind(orgs)
    .bind(domains)
    .bind(combos)
    .bind(i64::from(spec.users))
    .bind(BASE_TIME)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO local_identity (sub, username, email, email_verified, enabled, status, password_hash, created_at, updated_at)
         SELECT sub, email, email, status = 'CONFIRMED', enabled, status, NULL, created, created FROM gen_user",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status, synced_at, created_at, updated_at)
         SELECT sub, email, email, enabled, status, $1::timestamptz, created, created FROM gen_user",
    )
    .bind(BASE_TIME)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO user_profile (user_id, name, organisation, created_at, updated_at)
         SELECT sub, name, org, created, created FROM gen_user",
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(super) async fn grants(tx: &mut PgConnection, spec: &DatasetSpec) -> StoreResult<()> {
    // 3% Admin, 30% Researcher (a tenth of them also Viewer), 50% Viewer, the rest none.
    sqlx::query(
        "INSERT INTO user_role (id, user_id, role_id, created_at)
         SELECT md5($1::bigint || ':ur:' || n || ':' || g.role_id)::uuid, sub, g.role_id, created
         FROM gen_user
         CROSS JOIN LATERAL (
             SELECT $2::uuid AS role_id WHERE role_pick < 3
             UNION ALL SELECT $3::uuid WHERE role_pick >= 3 AND role_pick < 33
             UNION ALL SELECT $4::uuid WHERE role_pick >= 30 AND role_pick < 83
         ) g",
    )
    .bind(spec.seed)
    .bind(RoleRef::Admin.id())
    .bind(RoleRef::Researcher.id())
    .bind(RoleRef::Viewer.id())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(super) async fn demo_admin(tx: &mut PgConnection, a: &DemoAdmin) -> StoreResult<()> {
    let sub = DEMO_ADMIN_SUB;
    sqlx::query(
        "INSERT INTO local_identity (sub, username, email, email_verified, enabled, status, password_hash, created_at, updated_at)
         VALUES ($1, $2, $2, true, true, 'CONFIRMED', $3, $4::timestamptz, $4::timestamptz)",
    )
    .bind(sub)
    .bind(&a.email)
    .bind(&a.password_hash)
    .bind("2024-11-01 09:00:00+00")
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status, synced_at, created_at, updated_at)
         VALUES ($1, $2, $2, true, 'CONFIRMED', $3::timestamptz, $3::timestamptz, $3::timestamptz)",
    )
    .bind(sub)
    .bind(&a.email)
    .bind("2024-11-01 09:00:00+00")
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO user_profile (user_id, name, organisation) VALUES ($1, $2, 'hubdeck demo')",
    )
    .bind(sub)
    .bind(&a.name)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO user_role (user_id, role_id) VALUES ($1, $2)")
        .bind(sub)
        .bind(RoleRef::Admin.id())
        .execute(&mut *tx)
        .await?;
    Ok(())
}
