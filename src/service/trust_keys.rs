//! Trust keys: rotating the internal-service key on its own (the API key stays),
//! and the trust detail with its last heartbeat and each key's age.

use crate::store::Conn;
use crate::store::Db;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::actor::authorize;
use super::health::{Check, Status};
use super::outcome::mutate;
use super::trusts::Trusts;
use super::versions::{self, Version};
use super::{Actor, ServiceError, ServiceResult};
use crate::domain::DisplayText;
use crate::domain::trust::Trust;
use crate::domain::{PermissionRef, Secret, TrustId};
use crate::store::trusts as store;

/// A freshly minted internal-service key, returned once (zeroized on drop, never stored: the
/// hub keeps no copy of it, so it is shown exactly once).
#[derive(Debug)]
pub struct RotatedInternalKey {
    pub trust_id: TrustId,
    pub trust_name: String,
    pub internal_service_key: Secret,
    /// When the key was minted (the trust's `keys_unconfirmed_since` until handed over).
    pub keys_minted_at: DateTime<Utc>,
}

/// The trust detail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrustDetail {
    pub trust: Trust,
    /// The last heartbeat the trust's FL kit sent (None: never).
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub api_key_rotated_at: DateTime<Utc>,
    pub internal_key_rotated_at: DateTime<Utc>,
    /// Whole days since each key was minted (by the database's clock; never negative).
    pub api_key_age_days: i64,
    pub internal_key_age_days: i64,
    /// The database's clock when this was read: "now" for the heartbeat's age.
    pub as_of: DateTime<Utc>,
}

impl TrustDetail {
    /// "3 min ago", "5 h ago", "12 d ago" or "never".
    pub fn heartbeat_label(&self, now: DateTime<Utc>) -> String {
        match self.last_heartbeat {
            None => "never".into(),
            Some(t) => {
                let s = (now - t).num_seconds().max(0);
                match s {
                    0..60 => "just now".into(),
                    60..3600 => format!("{} min ago", s / 60),
                    3600..86_400 => format!("{} h ago", s / 3600),
                    _ => format!("{} d ago", s / 86_400),
                }
            }
        }
    }
}

impl Trusts {
    /// Mints a new internal-service key and records the rotation (INTERNAL_KEY_ROTATED) — one
    /// transaction, authority re-read inside it. The API key is untouched.
    pub async fn rotate_internal_key(
        &self,
        actor: &Actor,
        id: TrustId,
        expected: Option<Version>,
    ) -> ServiceResult<RotatedInternalKey> {
        actor.require(
            PermissionRef::CanAccessAdminPanel,
            "rotating a trust's internal-service key",
        )?;
        super::ensure_writable(&self.settings, "trust internal-service key rotation")?;
        if super::approvals::requirements(&self.settings)
            .requires(crate::domain::approval::ApprovalAction::TrustKeyRotation)
        {
            return Err(ServiceError::Denied(
                "rotating a trust's keys needs a second operator's approval in this \
                 environment: propose `hubdeck trusts rotate-key REF --internal --reason TEXT`"
                    .into(),
            ));
        }
        let key = self.mint()?;
        let (name, keys_minted_at) = mutate(&self.db, async |tx| {
            authorize(
                tx,
                actor,
                PermissionRef::CanAccessAdminPanel,
                "rotating a trust's internal-service key",
            )
            .await?;
            check_trust_version(tx, id, expected).await?;
            let Some((name, minted_at)) = store::mark_rotated(tx, id, false, true).await? else {
                return Err(ServiceError::NotFound(format!("no trust with id {id}")));
            };
            store::insert_audit(
                tx,
                id,
                &name,
                "INTERNAL_KEY_ROTATED",
                &actor.audit(),
                serde_json::json!({ "api_key_rotated": false }),
            )
            .await?;
            Ok((name, minted_at))
        })
        .await?;
        tracing::info!(trust_id = %id, "trust internal-service key rotated");
        Ok(RotatedInternalKey {
            trust_id: id,
            trust_name: name,
            internal_service_key: key,
            keys_minted_at,
        })
    }

    /// Records that the keys minted at `minted_at` reached their holder (`how`: "stdout" when
    /// the CLI wrote and flushed them, "reveal" when the console's operator acknowledged the
    /// reveal): clears the trust's "keys not confirmed" mark and writes KEYS_HANDED_OVER (no
    /// key material) — one transaction. A later minting's mark is left alone. Returns whether
    /// this call cleared the mark.
    pub async fn confirm_keys_handed_over(
        &self,
        actor: &Actor,
        id: TrustId,
        minted_at: DateTime<Utc>,
        how: &'static str,
    ) -> ServiceResult<bool> {
        mutate(&self.db, async |tx| {
            authorize(
                tx,
                actor,
                PermissionRef::CanAccessAdminPanel,
                "confirming a trust's keys were handed over",
            )
            .await?;
            let Some(name) = store::confirm_keys_handed_over(tx, id, minted_at).await? else {
                return Ok(false);
            };
            store::insert_audit(
                tx,
                id,
                &name,
                "KEYS_HANDED_OVER",
                &actor.audit(),
                serde_json::json!({ "via": how, "keys_minted_at": minted_at }),
            )
            .await?;
            Ok(true)
        })
        .await
    }

    /// Records that the keys minted at `minted_at` are about to be shown on the console's
    /// reveal panel: a KEYS_REVEALED audit row (no key material). The trust stays marked "keys
    /// not confirmed" until the operator acknowledges ([`Self::confirm_keys_handed_over`]); a
    /// session that ends first leaves the mark and this row says the keys were on screen.
    pub async fn record_keys_revealed(
        &self,
        actor: &Actor,
        id: TrustId,
        trust_name: &str,
        minted_at: DateTime<Utc>,
    ) -> ServiceResult<()> {
        mutate(&self.db, async |tx| {
            authorize(
                tx,
                actor,
                PermissionRef::CanAccessAdminPanel,
                "recording the reveal of a trust's keys",
            )
            .await?;
            store::insert_audit(
                tx,
                id,
                trust_name,
                "KEYS_REVEALED",
                &actor.audit(),
                serde_json::json!({ "via": "reveal", "keys_minted_at": minted_at }),
            )
            .await?;
            Ok(())
        })
        .await
    }

    /// One trust with its last heartbeat and key ages.
    pub async fn detail(&self, actor: &Actor, id: TrustId) -> ServiceResult<TrustDetail> {
        let trust = self.get(actor, id).await?;
        let times = store::key_times(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no trust with id {id}")))?;
        Ok(TrustDetail {
            last_heartbeat: trust.last_heartbeat,
            api_key_rotated_at: times.api_key_rotated_at,
            internal_key_rotated_at: times.internal_key_rotated_at,
            api_key_age_days: times.api_key_age_days,
            internal_key_age_days: times.internal_key_age_days,
            as_of: times.as_of,
            trust,
        })
    }
}

/// The doctor line `trusts.keys`: trusts whose current keys were minted but never confirmed
/// handed over (a warning: nobody is known to hold them until they are rotated).
pub(crate) async fn unconfirmed_keys_check(db: &Db) -> Check {
    let (id, detail, remedy, status) = match store::unconfirmed_keys(db).await {
        Ok((0, _)) => (
            "trusts.keys",
            "every trust's keys were handed over".to_string(),
            None,
            Status::Pass,
        ),
        Ok((n, oldest)) => (
            "trusts.keys",
            format!(
                "{n} trust(s) with keys not confirmed received (the oldest since {})",
                oldest
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default()
            ),
            Some(
                "nobody is known to hold their keys: rotate them (hubdeck trusts rotate-key \
                 TRUST --internal) and hand them over; `hubdeck trusts list --output json` \
                 shows which (keys_unconfirmed_since)"
                    .to_string(),
            ),
            Status::Warn,
        ),
        Err(e) => (
            "trusts.keys",
            format!("cannot read the trusts' key hand-over marks: {e}"),
            None,
            Status::Skip,
        ),
    };
    Check {
        id,
        status,
        detail,
        remedy,
    }
}

impl super::Services {
    pub async fn rotate_trust_internal_key(
        &self,
        actor: &Actor,
        id: TrustId,
        expected: Option<Version>,
    ) -> ServiceResult<RotatedInternalKey> {
        self.trusts().rotate_internal_key(actor, id, expected).await
    }

    pub async fn trust_detail(&self, actor: &Actor, id: TrustId) -> ServiceResult<TrustDetail> {
        self.trusts().detail(actor, id).await
    }
}

/// Locks the trust and refuses, naming the change from the audit, when it is no longer at the
/// version the operator saw (`None`: a script without a guard, always passes).
pub(super) async fn check_trust_version(
    tx: &mut Conn,
    id: TrustId,
    expected: Option<Version>,
) -> ServiceResult<()> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let Some((name, now)) = store::lock_version(tx, id).await? else {
        let gone = crate::store::versions::last_trust_change(tx, id).await?;
        return Err(ServiceError::Conflict(match gone {
            Some(c) => format!(
                "trust {id} is gone: it was {} — nothing was written",
                versions::describe(&c)
            ),
            None => format!("no trust with id {id}"),
        }));
    };
    if expected.0 == now {
        return Ok(());
    }
    let last = crate::store::versions::last_trust_change(tx, id).await?;
    versions::check(
        Some(expected),
        now,
        &format!("trust «{}»", DisplayText::new(&name)),
        last,
    )
}
