//! Mandates, their plan subscriptions and their memberships.

use sqlx::postgres::PgConnection;

use super::DatasetSpec;
use super::words::*;
use crate::domain::roles::mandate_roles;
use crate::store::StoreResult;

pub(super) async fn mandates(tx: &mut PgConnection, spec: &DatasetSpec) -> StoreResult<()> {
    let combos = (PLACES.len() * SPECIALTIES.len() * KINDS.len()) as i64;
    // n = 0 is the big mandate; 1..=mandates the ordinary ones. The name is a bijection of n
    // within each block of `combos` rows (7919 is prime), later blocks get a number suffix.
    sqlx::query(
        "CREATE TEMP TABLE gen_mandate ON COMMIT DROP AS
         SELECT n, md5($1::bigint || ':m:' || n)::uuid AS id,
                CASE WHEN n = 0 THEN $9 ELSE
                  ($2::text[])[1 + idx % cardinality($2::text[])] || ' ' ||
                  ($3::text[])[1 + (idx / cardinality($2::text[])) % cardinality($3::text[])] || ' ' ||
                  ($4::text[])[1 + idx / (cardinality($2::text[]) * cardinality($3::text[]))] ||
                  CASE WHEN (n - 1) / $6::bigint > 0 THEN ' ' || ((n - 1) / $6::bigint + 1) ELSE '' END
                END AS name,
                'research-office@' || lower(($2::text[])[1 + idx % cardinality($2::text[])]) || '.example' AS billing_email,
                CASE WHEN n = 0 THEN 'production'
                     WHEN lp < 10 THEN NULL
                     ELSE ($5::text[])[1 + lp % cardinality($5::text[])] END AS label,
                n = 0 OR d >= 7 AS enabled,
                CASE WHEN n > 0 AND d < 2 THEN $8::timestamptz - make_interval(days => (d * 7 + (lp % 7))::int) END AS deleted_at,
                CASE WHEN n = 0 THEN 'ENTERPRISE'
                     WHEN p < 20 THEN 'TRIAL_14D' WHEN p < 60 THEN 'STARTER'
                     WHEN p < 90 THEN 'TEAM' ELSE 'ENTERPRISE' END AS plan_key,
                p,
                CASE WHEN n = 0 THEN 2 ELSE 1 + (hashint8extended(n, $1 + 14) & 2147483647) % 2 END AS admins,
                CASE WHEN n = 0 THEN $10::bigint - 2
                     ELSE (hashint8extended(n, $1 + 15) & 2147483647) % ($11::bigint + 1) END AS extras,
                (hashint8extended(n, $1 + 18) & 2147483647) AS user_base,
                $8::timestamptz - make_interval(secs => CASE WHEN n = 0 THEN 1000 * 86400 ELSE
                    (hashint8extended(n, $1 + 16) & 2147483647) % (3 * 365 * 86400) END) AS created
         FROM (
           SELECT n,
                  ((n - 1) * 7919 + $1) % $6::bigint AS idx,
                  (hashint8extended(n, $1 + 11) & 2147483647) % 100 AS lp,
                  (hashint8extended(n, $1 + 12) & 2147483647) % 100 AS d,
                  (hashint8extended(n, $1 + 13) & 2147483647) % 100 AS p
           FROM generate_series(0::bigint, $7::bigint) AS n
         ) a",
    )
    .bind(spec.seed)
    .bind(strs(PLACES))
    .bind(strs(SPECIALTIES))
    .bind(strs(KINDS))
    .bind(strs(LABELS))
    .bind(combos)
    .bind(i64::from(spec.mandates))
    .bind(BASE_TIME)
    .bind(BIG_MANDATE_NAME)
    .bind(i64::from(spec.big_members().max(2)))
    .bind(i64::from(spec.max_extra_members))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO mandate (id, name, label, enabled, deleted_at, created_at, updated_at, plan_key)
         SELECT id, name, label, enabled, deleted_at, created,
                greatest(created, coalesce(deleted_at, created)),
                CASE WHEN deleted_at IS NULL THEN plan_key END
         FROM gen_mandate ORDER BY n",
    )
    .execute(&mut *tx)
    .await?;
    // Mandate-specific roles: a "data steward" role on every 50th mandate, and a
    // feature-instance role (excluded from member lists) on every 97th.
    sqlx::query(
        "INSERT INTO mandate_role (id, label, description, mandate_id, feature_instance_id, created_at, updated_at)
         SELECT md5($1::bigint || ':mr:' || n)::uuid, 'data steward',
                'Approves data access requests for this mandate', id, NULL::uuid, created, created
         FROM gen_mandate WHERE n > 0 AND n % 50 = 0
         UNION ALL
         SELECT md5($1::bigint || ':fr:' || n)::uuid, 'project lead',
                'Leads one federated training project', id, md5($1::bigint || ':fi:' || n)::uuid, created, created
         FROM gen_mandate WHERE n > 0 AND n % 97 = 0",
    )
    .bind(spec.seed)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(super) async fn subscriptions(tx: &mut PgConnection, spec: &DatasetSpec) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO mandate_billing_settings (mandate_id, billing_email, currency, created_at, updated_at)
         SELECT id, billing_email, CASE WHEN p % 10 = 0 THEN 'EUR' ELSE 'GBP' END, created, created
         FROM gen_mandate",
    )
    .execute(&mut *tx)
    .await?;
    // The live subscription's plan is already on each mandate row (written with it, see
    // `mandates`): the row trigger of migration 1100 that keeps it there would update every
    // mandate once more (all its indexes, trigram ones included), so it is off for this one
    // insert, in this transaction.
    sqlx::query("ALTER TABLE mandate_subscription DISABLE TRIGGER mandate_subscription_plan_key")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO mandate_subscription (id, mandate_id, plan_key, status, recurring, started_at,
                                           current_period_start, current_period_end, trial_ends_at,
                                           created_at, updated_at)
         SELECT md5($1::bigint || ':s:' || n)::uuid, id, plan_key,
                CASE WHEN deleted_at IS NOT NULL THEN 'canceled'
                     WHEN plan_key = 'TRIAL_14D' THEN 'trialing'
                     WHEN p % 20 = 7 THEN 'past_due'
                     ELSE 'active' END,
                plan_key <> 'TRIAL_14D',
                created,
                $2::timestamptz - make_interval(days => (p % 30)::int),
                $2::timestamptz - make_interval(days => (p % 30)::int) + interval '30 days',
                CASE WHEN plan_key = 'TRIAL_14D' THEN created + interval '14 days' END,
                created, created
         FROM gen_mandate",
    )
    .bind(spec.seed)
    .bind(BASE_TIME)
    .execute(&mut *tx)
    .await?;
    sqlx::query("ALTER TABLE mandate_subscription ENABLE TRIGGER mandate_subscription_plan_key")
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub(super) async fn memberships(tx: &mut PgConnection, spec: &DatasetSpec) -> StoreResult<()> {
    if spec.users == 0 {
        return Ok(());
    }
    // Member j of mandate n is user 1 + (base + j * 7919) mod users: distinct for every j of a
    // mandate (7919 is prime), spread over all users. The first `admins` members are admins
    // (always enabled); 3% of the others are disabled; a fifth of them are viewers.
    sqlx::query(
        "CREATE TEMP TABLE gen_member ON COMMIT DROP AS
         SELECT md5($1::bigint || ':um:' || m.n || ':' || j)::uuid AS id,
                md5($1::bigint || ':u:' || (1 + (m.user_base + j * 7919) % $2::bigint))::uuid AS user_id,
                m.id AS mandate_id, m.n, j,
                j < m.admins AS is_admin,
                j < m.admins OR (hashint8extended(m.n * 1000003 + j, $1 + 17) & 2147483647) % 100 >= 3 AS enabled,
                (hashint8extended(m.n * 1000003 + j, $1 + 19) & 2147483647) % 100 AS r,
                m.created + make_interval(mins => j::int) AS created
         FROM gen_mandate m
         CROSS JOIN LATERAL generate_series(0::bigint, m.admins + m.extras - 1) AS j",
    )
    .bind(spec.seed)
    .bind(i64::from(spec.users))
    .execute(&mut *tx)
    .await?;
    // The roles of each generated membership, then (from them) the labels and the admin flag
    // that migrations 0410/0910 keep on the membership: written with the row itself, so no
    // index of user_mandate (13 of them, two of them trigram GINs) is touched twice. The
    // statement trigger that would recompute them after the role insert is off for that one
    // insert, in this transaction (an UPDATE of every membership wrote hundreds of GB at the
    // bench scale).
    sqlx::query(
        "CREATE TEMP TABLE gen_member_role ON COMMIT DROP AS
         SELECT g.id AS user_mandate_id,
                CASE WHEN g.is_admin THEN $2::uuid WHEN g.r < 20 THEN $4::uuid ELSE $3::uuid END AS mandate_role_id,
                g.created
         FROM gen_member g
         UNION ALL
         SELECT g.id, md5($1::bigint || ':mr:' || g.n)::uuid, g.created
         FROM gen_member g
         WHERE g.n > 0 AND g.n % 50 = 0 AND g.j IN (0, 2)
         UNION ALL
         SELECT g.id, md5($1::bigint || ':fr:' || g.n)::uuid, g.created
         FROM gen_member g
         WHERE g.n > 0 AND g.n % 97 = 0 AND g.j = 0",
    )
    .bind(spec.seed)
    .bind(mandate_roles::ADMIN)
    .bind(mandate_roles::MEMBER)
    .bind(mandate_roles::VIEWER)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO user_mandate (id, user_id, mandate_id, enabled, created_at, updated_at,
                                   role_labels, member_admin)
         SELECT g.id, g.user_id, g.mandate_id, g.enabled, g.created, g.created,
                COALESCE(l.labels, ''), COALESCE(l.admin, false)
         FROM gen_member g
         LEFT JOIN (SELECT gr.user_mandate_id AS id,
                           string_agg(DISTINCT r.label, ' ' ORDER BY r.label) AS labels,
                           bool_or(r.label = 'admin'
                                   AND (r.mandate_id IS NULL OR r.mandate_id = gm.mandate_id)) AS admin
                      FROM gen_member_role gr
                      JOIN gen_member gm ON gm.id = gr.user_mandate_id
                      JOIN mandate_role r ON r.id = gr.mandate_role_id
                                         AND r.feature_instance_id IS NULL
                     GROUP BY gr.user_mandate_id) l ON l.id = g.id
         ON CONFLICT DO NOTHING",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("ALTER TABLE user_mandate_role DISABLE TRIGGER user_mandate_role_labels_insert")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO user_mandate_role (user_mandate_id, mandate_role_id, created_at)
         SELECT gr.user_mandate_id, gr.mandate_role_id, gr.created
         FROM gen_member_role gr JOIN user_mandate um ON um.id = gr.user_mandate_id",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("ALTER TABLE user_mandate_role ENABLE TRIGGER user_mandate_role_labels_insert")
        .execute(&mut *tx)
        .await?;
    Ok(())
}
