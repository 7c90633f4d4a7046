//! Drift: where the directory cache, the global grants and the mandate
//! memberships disagree. Read-only queries; the repairs go through the ordinary use cases.

use crate::store::Db;
use serde::Serialize;

use super::StoreResult;
use super::grants::active_identity;
use crate::domain::{MandateId, MembershipId, UserSub};

/// A cached identity (as the cache last saw it) with its global roles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DriftUser {
    pub sub: UserSub,
    /// None when the cache has never seen the sub.
    pub email: Option<String>,
    pub status: Option<String>,
    pub roles: Vec<String>,
}

/// A membership of a live mandate whose identity is gone or disabled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct BrokenMembership {
    pub membership_id: MembershipId,
    pub mandate_id: MandateId,
    pub mandate_name: String,
    pub user_id: UserSub,
    pub email: Option<String>,
    /// `gone` (deleted, or unknown to the cache) or `disabled`.
    pub reason: String,
    /// The membership's mandate role labels.
    pub roles: Vec<String>,
    /// Enabled admin memberships of active users the mandate has (0 = no working admin).
    pub working_admins: i64,
}

/// Identities in the cache (not gone) holding no global role and no mandate membership.
pub async fn identities_without_grants(db: &Db, limit: i64) -> StoreResult<Vec<DriftUser>> {
    Ok(sqlx::query_as(
        "SELECT d.sub, d.email, d.status, ARRAY[]::text[] AS roles FROM directory_user d \
         WHERE d.gone_at IS NULL \
           AND NOT EXISTS (SELECT 1 FROM user_role ur WHERE ur.user_id = d.sub) \
           AND NOT EXISTS (SELECT 1 FROM user_mandate um WHERE um.user_id = d.sub) \
         ORDER BY lower(d.email), d.sub LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Subs holding global roles whose identity the cache does not know or knows as gone.
pub async fn grants_without_identity(db: &Db, limit: i64) -> StoreResult<Vec<DriftUser>> {
    Ok(sqlx::query_as(
        "SELECT ur.user_id AS sub, max(d.email) AS email, max(d.status) AS status, \
                array_agg(r.name ORDER BY r.name) AS roles \
         FROM user_role ur JOIN roles r ON r.id = ur.role_id \
         LEFT JOIN directory_user d ON d.sub = ur.user_id \
         WHERE d.sub IS NULL OR d.gone_at IS NOT NULL \
         GROUP BY ur.user_id ORDER BY ur.user_id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Disabled identities (not gone) still holding global roles.
pub async fn disabled_with_grants(db: &Db, limit: i64) -> StoreResult<Vec<DriftUser>> {
    Ok(sqlx::query_as(
        "SELECT d.sub, d.email, d.status, array_agg(r.name ORDER BY r.name) AS roles \
         FROM directory_user d JOIN user_role ur ON ur.user_id = d.sub \
         JOIN roles r ON r.id = ur.role_id \
         WHERE d.gone_at IS NULL AND NOT d.enabled \
         GROUP BY d.sub, d.email, d.status ORDER BY lower(d.email), d.sub LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// The working admins of the mandate `x.mandate_id`: enabled admin memberships of active
/// identities.
macro_rules! working_admins {
    () => {
        concat!(
            "(SELECT count(*) FROM user_mandate um WHERE um.mandate_id = x.mandate_id \
               AND um.enabled \
               AND EXISTS (SELECT 1 FROM user_mandate_role umr \
                   JOIN mandate_role r ON r.id = umr.mandate_role_id \
                   WHERE umr.user_mandate_id = um.id AND r.label = 'admin' \
                   AND r.feature_instance_id IS NULL \
                   AND (r.mandate_id IS NULL OR r.mandate_id = um.mandate_id)) \
               AND ",
            active_identity!("um.user_id"),
            ")"
        )
    };
}

/// The broken memberships, without their mandates' admin count.
macro_rules! broken_rows {
    () => {
        "SELECT bm.id AS membership_id, bm.mandate_id, m.name AS mandate_name, \
            bm.user_id, d.email, \
            CASE WHEN d.sub IS NULL OR d.gone_at IS NOT NULL THEN 'gone' ELSE 'disabled' END \
              AS reason, \
            ARRAY(SELECT r.label FROM user_mandate_role umr \
                  JOIN mandate_role r ON r.id = umr.mandate_role_id \
                  WHERE umr.user_mandate_id = bm.id ORDER BY r.label) AS roles \
     FROM user_mandate bm JOIN mandate m ON m.id = bm.mandate_id AND m.deleted_at IS NULL \
     LEFT JOIN directory_user d ON d.sub = bm.user_id \
     WHERE (d.sub IS NULL OR d.gone_at IS NOT NULL OR NOT d.enabled)"
    };
}

/// Every broken membership with its mandate's working admins, each mandate's admins counted
/// once (hundreds of gone members of one large mandate must not count its admins hundreds of
/// times).
pub(super) const BROKEN_SELECT: &str = concat!(
    "WITH b AS MATERIALIZED (",
    broken_rows!(),
    "), wa AS (SELECT x.mandate_id, ",
    working_admins!(),
    " AS working_admins FROM (SELECT DISTINCT mandate_id FROM b) x) \
     SELECT b.*, wa.working_admins FROM b JOIN wa ON wa.mandate_id = b.mandate_id"
);

/// Memberships of live mandates whose identity is gone or disabled; the mandates left without
/// a working admin first.
pub async fn broken_memberships(db: &Db, limit: i64) -> StoreResult<Vec<BrokenMembership>> {
    let q = format!(
        "SELECT * FROM ({BROKEN_SELECT}) b \
         ORDER BY b.working_admins = 0 DESC, b.mandate_name, b.user_id, b.membership_id LIMIT $1"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(limit)
        .fetch_all(db)
        .await?)
}

/// One broken membership by id (None when it is not, or no longer, broken).
pub async fn broken_membership(db: &Db, id: MembershipId) -> StoreResult<Option<BrokenMembership>> {
    let q = format!(
        "SELECT b.*, {} AS working_admins FROM ({} AND bm.id = $1) b \
         CROSS JOIN LATERAL (SELECT b.mandate_id) x",
        working_admins!(),
        broken_rows!()
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(id)
        .fetch_optional(db)
        .await?)
}

/// One cached identity (even gone) with its global roles; None when neither exists.
pub async fn user(db: &Db, sub: UserSub) -> StoreResult<Option<DriftUser>> {
    Ok(sqlx::query_as(
        "SELECT $1::uuid AS sub, (SELECT email FROM directory_user WHERE sub = $1) AS email, \
                (SELECT status FROM directory_user WHERE sub = $1) AS status, \
                ARRAY(SELECT r.name FROM user_role ur JOIN roles r ON r.id = ur.role_id \
                      WHERE ur.user_id = $1 ORDER BY r.name) AS roles",
    )
    .bind(sub)
    .fetch_optional(db)
    .await?)
}

/// The live state of one sub the repairs check: cached and gone/disabled flags, profile,
/// memberships (mandate names).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SubState {
    pub cached: bool,
    pub gone: bool,
    pub enabled: bool,
    pub has_profile: bool,
    pub memberships: Vec<String>,
}

pub async fn sub_state(db: &Db, sub: UserSub) -> StoreResult<SubState> {
    Ok(sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM directory_user WHERE sub = $1) AS cached, \
                COALESCE((SELECT gone_at IS NOT NULL FROM directory_user WHERE sub = $1), false) \
                  AS gone, \
                COALESCE((SELECT enabled FROM directory_user WHERE sub = $1), false) AS enabled, \
                EXISTS (SELECT 1 FROM user_profile WHERE user_id = $1) AS has_profile, \
                ARRAY(SELECT m.name FROM user_mandate um JOIN mandate m ON m.id = um.mandate_id \
                      WHERE um.user_id = $1 ORDER BY m.name) AS memberships",
    )
    .bind(sub)
    .fetch_one(db)
    .await?)
}

/// A cached identity still in FORCE_CHANGE_PASSWORD whose last invitation is older than the
/// pool's temporary-password validity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ExpiredInvitation {
    pub sub: UserSub,
    pub email: String,
    pub username: String,
    /// When the last invitation went out: the later of the identity's first sighting and the
    /// last "Resent invitation" audit row.
    pub invited_at: chrono::DateTime<chrono::Utc>,
}

pub(super) const INVITED_AT: &str = "GREATEST(d.created_at, COALESCE((SELECT max(a.\"timestamp\") \
     FROM users_audit a WHERE a.user_id = d.sub AND a.action = 'Resent invitation'), \
     d.created_at))";

/// Invitations whose temporary password has expired (`validity_days` after `invited_at`).
pub async fn expired_invitations(
    db: &Db,
    validity_days: u32,
    limit: i64,
) -> StoreResult<Vec<ExpiredInvitation>> {
    let q = format!(
        "SELECT * FROM (SELECT d.sub, d.email, d.username, {INVITED_AT} AS invited_at \
         FROM directory_user d WHERE d.gone_at IS NULL AND d.status = 'FORCE_CHANGE_PASSWORD') i \
         WHERE i.invited_at < now() - make_interval(days => $1) \
         ORDER BY i.invited_at, i.sub LIMIT $2"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(i32::try_from(validity_days).unwrap_or(i32::MAX))
        .bind(limit)
        .fetch_all(db)
        .await?)
}

/// When `sub` was invited and whether that is more than `validity_days` ago — decided by the
/// database's clock, the one [`expired_invitations`] lists by (never the client's).
pub async fn invitation_expiry(
    db: &Db,
    sub: UserSub,
    validity_days: u32,
) -> StoreResult<Option<(chrono::DateTime<chrono::Utc>, bool)>> {
    let q = format!(
        "SELECT i.invited_at, i.invited_at < now() - make_interval(days => $2) FROM \
           (SELECT {INVITED_AT} AS invited_at FROM directory_user d \
             WHERE d.sub = $1 AND d.gone_at IS NULL) i"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(sub)
        .bind(i32::try_from(validity_days).unwrap_or(i32::MAX))
        .fetch_optional(db)
        .await?)
}
