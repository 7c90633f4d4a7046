//! Trusts with their kit slots, registrations in every state, and audit history.

use sqlx::postgres::PgConnection;

use super::words::*;
use super::{DEMO_ADMIN_SUB, DatasetSpec};
use crate::domain::RoleRef;
use crate::store::StoreResult;
use sha2::{Digest, Sha256};

pub(super) async fn trusts(tx: &mut PgConnection, spec: &DatasetSpec) -> StoreResult<()> {
    let n = (spec.trusts as usize).min(TRUSTS.len());
    let names: Vec<String> = TRUSTS[..n].iter().map(|t| t.0.to_string()).collect();
    let codes: Vec<String> = TRUSTS[..n].iter().map(|t| t.1.to_string()).collect();
    let regions: Vec<String> = TRUSTS[..n].iter().map(|t| t.2.to_string()).collect();
    // Hashes of random keys that nobody ever sees: the demo trusts cannot authenticate until
    // an operator rotates their key.
    let hashes: Vec<String> = (0..n)
        .map(|_| {
            let key: [u8; 32] = rand::random();
            hex::encode(Sha256::digest(key))
        })
        .collect();
    sqlx::query(
        "INSERT INTO trust (id, name, code, region, api_key_hash, last_heartbeat, created_at, updated_at)
         SELECT md5($1::bigint || ':t:' || i)::uuid, name, code, region, hash,
                CASE WHEN i % 5 = 0 THEN NULL ELSE $6::timestamptz - make_interval(mins => (i * 7)::int) END,
                $6::timestamptz - make_interval(days => (400 - i * 11)::int),
                $6::timestamptz - make_interval(days => (400 - i * 11)::int)
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS t(name, code, region, hash, i)",
    )
    .bind(spec.seed)
    .bind(names)
    .bind(codes)
    .bind(regions)
    .bind(hashes)
    .bind(BASE_TIME)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO fl_kit_slot (slot_name, slot_number, assigned_to_trust_id, assigned_at, created_at)
         SELECT 'Trust_' || lpad(s::text, 3, '0'), s,
                CASE WHEN s <= $2 THEN md5($1::bigint || ':t:' || s)::uuid END,
                CASE WHEN s <= $2 THEN $4::timestamptz - make_interval(days => (400 - s * 11)::int) END,
                $4::timestamptz - interval '420 days'
         FROM generate_series(1::bigint, $2::bigint + $3::bigint) AS s",
    )
    .bind(spec.seed)
    .bind(n as i64)
    .bind(i64::from(spec.free_slots))
    .bind(BASE_TIME)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Registrations: completed ones for the first generated users, plus stuck sagas to repair.
pub(super) async fn registrations(tx: &mut PgConnection, spec: &DatasetSpec) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO registration (id, email, name, organisation, requested_roles, state, sub,
                                   identity_created, actor_user_id, via, os_user, created_at, updated_at)
         SELECT md5($1::bigint || ':reg:' || n)::uuid, u.email, u.name, u.org, ARRAY[$2::uuid],
                'complete', u.sub, true,
                CASE WHEN n % 2 = 0 THEN $3::uuid END,
                CASE WHEN n % 2 = 0 THEN 'tui' ELSE 'cli' END,
                CASE WHEN n % 2 = 0 THEN NULL ELSE 'deploy' END,
                u.created, u.created
         FROM gen_user u WHERE n <= 12",
    )
    .bind(spec.seed)
    .bind(RoleRef::Researcher.id())
    .bind(DEMO_ADMIN_SUB)
    .execute(&mut *tx)
    .await?;
    // (email, name, organisation, state, last_error, rollback_error)
    let stuck: [(&str, &str, &str, &str, &str, &str); 6] = [
        (
            "nadia.rahman@ucl.example",
            "Nadia Rahman",
            "University College London",
            "roles_pending",
            "granting roles failed: database connection lost",
            "",
        ),
        (
            "tom.whitfield@ouh.example",
            "Tom Whitfield",
            "Oxford University Hospitals NHS Foundation Trust",
            "roles_pending",
            "granting roles failed: statement timeout",
            "",
        ),
        (
            "grace.adeyemi@kcl.example",
            "Grace Adeyemi",
            "King's College London",
            "roles_pending",
            "granting roles failed: database connection lost",
            "",
        ),
        (
            "liam.oconnor@mft.example",
            "Liam O'Connor",
            "Manchester University NHS Foundation Trust",
            "needs_cleanup",
            "saving the profile failed: database connection lost",
            "deleting the directory identity failed: directory unavailable (transient): 503",
        ),
        (
            "sara.lindqvist@turing.example",
            "Sara Lindqvist",
            "The Alan Turing Institute",
            "needs_cleanup",
            "saving the profile failed: statement timeout",
            "deleting the directory identity failed: directory throttled the request",
        ),
        (
            "marek.kowalski@hdruk.example",
            "Marek Kowalski",
            "Health Data Research UK",
            "rolled_back",
            "creating the directory identity failed: directory unavailable (transient): 503",
            "",
        ),
    ];
    let mut emails = Vec::new();
    let mut names = Vec::new();
    let mut orgs = Vec::new();
    let mut states = Vec::new();
    let mut errors = Vec::new();
    let mut rollback = Vec::new();
    for s in stuck {
        emails.push(s.0.to_string());
        names.push(s.1.to_string());
        orgs.push(s.2.to_string());
        states.push(s.3.to_string());
        errors.push(s.4.to_string());
        rollback.push(s.5.to_string());
    }
    sqlx::query(
        "CREATE TEMP TABLE gen_stuck ON COMMIT DROP AS
         SELECT i, email, name, org, state, err, rb,
                CASE WHEN state <> 'rolled_back' THEN md5($1::bigint || ':stuck:' || i)::uuid END AS sub,
                $8::timestamptz - make_interval(hours => (i * 5)::int) AS created
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
              WITH ORDINALITY AS s(email, name, org, state, err, rb, i)",
    )
    .bind(spec.seed)
    .bind(emails)
    .bind(names)
    .bind(orgs)
    .bind(states)
    .bind(errors)
    .bind(rollback)
    .bind(BASE_TIME)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO registration (id, email, name, organisation, requested_roles, state, sub,
                                   identity_created, last_error, rollback_error, actor_user_id,
                                   via, created_at, updated_at)
         SELECT md5($1::bigint || ':regs:' || i)::uuid, email, name, org, ARRAY[$2::uuid], state, sub,
                sub IS NOT NULL, err, nullif(rb, ''), $3::uuid, 'tui', created, created
         FROM gen_stuck",
    )
    .bind(spec.seed)
    .bind(RoleRef::Researcher.id())
    .bind(DEMO_ADMIN_SUB)
    .execute(&mut *tx)
    .await?;
    // The stuck sagas' identities exist in the directory (that is what makes them stuck).
    sqlx::query(
        "INSERT INTO local_identity (sub, username, email, email_verified, enabled, status, created_at, updated_at)
         SELECT sub, email, email, true, true, 'FORCE_CHANGE_PASSWORD', created, created
         FROM gen_stuck WHERE sub IS NOT NULL",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO directory_user (sub, username, email, enabled, status, synced_at, created_at, updated_at)
         SELECT sub, email, email, true, 'FORCE_CHANGE_PASSWORD', created, created, created
         FROM gen_stuck WHERE sub IS NOT NULL",
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(super) async fn audit(tx: &mut PgConnection, spec: &DatasetSpec) -> StoreResult<()> {
    let admin = DEMO_ADMIN_SUB;
    sqlx::query(
        "INSERT INTO mandate_audit (actor_user_id, via, os_user, mandate_id, mandate_name, action, target_user_id, details, created_at)
         SELECT CASE WHEN n % 3 = 0 THEN NULL ELSE $2::uuid END,
                CASE WHEN n % 3 = 0 THEN 'cli' ELSE 'tui' END,
                CASE WHEN n % 3 = 0 THEN 'deploy' END,
                id, name, 'MANDATE_CREATED', NULL::uuid,
                jsonb_build_object('plan', plan_key, 'label', label), created
         FROM gen_mandate WHERE n % 10 = 0
         UNION ALL
         SELECT $2::uuid, 'tui', NULL, id, name, 'MANDATE_DISABLED', NULL, '{}'::jsonb,
                created + interval '40 days'
         FROM gen_mandate WHERE NOT enabled AND deleted_at IS NULL AND n % 2 = 0
         UNION ALL
         SELECT $2::uuid, 'tui', NULL, id, name, 'MANDATE_SOFT_DELETED', NULL, '{}'::jsonb, deleted_at
         FROM gen_mandate WHERE deleted_at IS NOT NULL
         UNION ALL
         SELECT $2::uuid, 'tui', NULL, g.mandate_id, m.name,
                CASE WHEN g.is_admin THEN 'MEMBER_ADDED_AS_ADMIN' ELSE 'MEMBER_ADDED' END,
                g.user_id, '{}'::jsonb, g.created
         FROM gen_member g JOIN gen_mandate m ON m.n = g.n WHERE g.n = 0 AND g.j < 200",
    )
    .bind(spec.seed)
    .bind(admin)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO users_audit (action, user_id, modified_by_user_id, via, os_user, details, \"timestamp\", created_at)
         SELECT 'REGISTERED', sub, CASE WHEN n % 2 = 0 THEN $1::uuid END,
                CASE WHEN n % 2 = 0 THEN 'tui' ELSE 'cli' END,
                CASE WHEN n % 2 = 0 THEN NULL ELSE 'deploy' END,
                jsonb_build_object('email', email), created, created
         FROM gen_user WHERE n % 20 = 0
         UNION ALL
         SELECT 'ROLES_CHANGED', sub, $1::uuid, 'tui', NULL,
                jsonb_build_object('roles', CASE WHEN role_pick < 3 THEN 'ADMIN' ELSE 'RESEARCHER' END),
                created + interval '3 days', created + interval '3 days'
         FROM gen_user WHERE n % 37 = 0 AND role_pick < 33
         UNION ALL
         SELECT 'DISABLED', sub, $1::uuid, 'tui', NULL, '{}'::jsonb,
                created + interval '90 days', created + interval '90 days'
         FROM gen_user WHERE NOT enabled AND n % 3 = 0",
    )
    .bind(admin)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO trusts_audit (trust_id, trust_name, action, modified_by_user_id, via, os_user, details, audit_date, created_at)
         SELECT id, name, 'REGISTERED', NULL, 'cli', 'deploy', jsonb_build_object('code', code, 'region', region), created_at, created_at
         FROM trust
         UNION ALL
         SELECT id, name, 'KEY_ROTATED', $1::uuid, 'tui', NULL, '{}'::jsonb,
                created_at + interval '120 days', created_at + interval '120 days'
         FROM trust WHERE code < 'H'",
    )
    .bind(admin)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
