//! Trust onboarding: race-safe registration with one-time keys, the FL kit slot
//! pool, key rotation, deletion, and the trusts / kit slots lists.
//!
//! The use cases need only the database and the settings, never the identity directory, so
//! they live on [`Trusts`]; [`Services`] exposes the same use cases (`register_trust`, ...) for
//! the TUI by delegating to it. The CLI's trust commands build a [`Trusts`] from a database
//! pool alone, so `hubdeck register-trust` works in a deploy pipeline with no directory.

use crate::service::access::Area;
use crate::service::authority::read_area_on;
use crate::service::versions::Version;
/// The kit slot list's columns (the console derives its boolean filter values from them).
pub use crate::store::trusts::KIT_SLOTS_SPEC;
use crate::store::{Conn, Db};
use std::sync::Arc;

use super::actor::authorize;
use super::outcome::mutate;
use super::retry::retrying;
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::config::Settings;
use crate::domain::trust::{
    self, DeletedTrust, KitSlot, NewTrust, RegisteredTrust, RotatedKeys, Trust, TrustCode,
    TrustError, TrustField,
};
use crate::domain::{
    DisplayText, Page, PageQuery, PermissionRef, Secret, TrustId, ValidationError,
};
use crate::store::StoreError;
use crate::store::trusts as store;

/// FL kit slot usage: `used` of `total` slots are assigned to a trust.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KitUsage {
    pub used: u64,
    pub total: u64,
}

/// Maps a trust refusal into the service error: duplicates and an exhausted pool are
/// conflicts (exit 3), everything else is invalid input (exit 2). Messages are kept.
impl From<TrustError> for ServiceError {
    fn from(e: TrustError) -> Self {
        if e.is_conflict() {
            ServiceError::Conflict(e.to_string())
        } else {
            ServiceError::Invalid(ValidationError::Invalid {
                field: e.field(),
                message: e.to_string(),
            })
        }
    }
}

/// The trust use cases over a database pool and the settings.
#[derive(Clone)]
pub struct Trusts {
    pub db: Db,
    pub settings: Arc<Settings>,
}

impl Trusts {
    pub fn new(db: Db, settings: Arc<Settings>) -> Self {
        Self { db, settings }
    }

    /// Mints one key with the configured prefix from the OS CSPRNG.
    pub(super) fn mint(&self) -> ServiceResult<Secret> {
        let prefix = self.settings.trusts.key_prefix.as_str();
        if !trust::valid_key_prefix(prefix) {
            return Err(ServiceError::Invalid(ValidationError::Invalid {
                field: "trusts.key_prefix",
                message: "must be 1–16 ASCII letters or digits".into(),
            }));
        }
        trust::mint_key(prefix, &mut rand::rngs::SysRng).map_err(|e| {
            ServiceError::Internal(format!("the OS random number generator failed: {e}"))
        })
    }

    /// Registers a trust: validates, mints both keys, inserts the trust, claims the lowest free
    /// kit slot (reconciling the configured slot names once when none is free) and writes the
    /// REGISTERED audit row — all in ONE transaction. Name (case-insensitive) and code are
    /// unique in the database, so concurrent registrations can never both win.
    pub async fn register(
        &self,
        actor: &Actor,
        name: &str,
        code: &str,
        region: Option<&str>,
    ) -> ServiceResult<RegisteredTrust> {
        actor.require(PermissionRef::CanAccessAdminPanel, "registering a trust")?;
        super::ensure_writable(&self.settings, "trust registration")?;
        let new = NewTrust::parse(name, code, region)?;
        let api_key = self.mint()?;
        let internal_service_key = self.mint()?;
        let hash = trust::api_key_hash(&api_key);
        let slots = trust::configured_slots(&self.settings.trusts.kit_slot_names);

        let (trust, slot) = retrying(|| self.register_tx(actor, &new, &hash, &slots)).await?;
        tracing::info!(
            trust_id = %trust.id,
            name = %DisplayText::new(&trust.name),
            code = %trust.code,
            slot = %DisplayText::new(&slot.slot_name),
            via = actor.via().as_str(),
            "trust registered"
        );
        Ok(RegisteredTrust {
            keys_minted_at: trust.created_at,
            trust,
            fl_kit_slot: slot.slot_name,
            fl_kit_slot_number: slot.slot_number,
            api_key,
            internal_service_key,
        })
    }

    async fn register_tx(
        &self,
        actor: &Actor,
        new: &NewTrust,
        api_key_hash: &str,
        configured: &[(String, i32)],
    ) -> ServiceResult<(Trust, store::ClaimedSlot)> {
        mutate(&self.db, async |tx| {
            authorize(
                tx,
                actor,
                PermissionRef::CanAccessAdminPanel,
                "registering a trust",
            )
            .await?;
            let id = TrustId::new_v4();
            let region = new.region.map(|r| r.as_str());
            let (created_at, updated_at) = store::insert_trust(
                tx,
                id,
                new.name.as_str(),
                new.code.as_str(),
                region,
                api_key_hash,
            )
            .await
            .map_err(|e| duplicate_or(e, new))?;
            let slot = claim_slot(tx, id, configured).await?;
            store::insert_audit(
                tx,
                id,
                new.name.as_str(),
                "REGISTERED",
                &actor.audit(),
                serde_json::json!({
                    "code": new.code.as_str(),
                    "region": region,
                    "fl_kit_slot": slot.slot_name,
                }),
            )
            .await?;
            let trust = Trust {
                id,
                name: new.name.as_str().to_string(),
                code: new.code.as_str().to_string(),
                region: region.map(str::to_string),
                last_heartbeat: None,
                created_at,
                updated_at,
                slot_name: Some(slot.slot_name.clone()),
                slot_number: Some(slot.slot_number),
                keys_unconfirmed_since: Some(created_at),
                // A new row starts at the column's default.
                version: 1,
            };
            Ok((trust, slot))
        })
        .await
    }

    /// Mints a new API key (and, if asked, a new internal-service key), replaces the stored
    /// hash and writes KEY_ROTATED — one transaction. The keys are returned once.
    pub async fn rotate_keys(
        &self,
        actor: &Actor,
        id: TrustId,
        rotate_internal: bool,
        expected: Option<Version>,
    ) -> ServiceResult<RotatedKeys> {
        actor.require(
            PermissionRef::CanAccessAdminPanel,
            "rotating a trust's keys",
        )?;
        super::ensure_writable(&self.settings, "trust key rotation")?;
        super::approvals::gate(
            &self.settings,
            &crate::domain::approval::ChangeRequest::TrustKeyRotation {
                trust: id,
                internal: rotate_internal,
            },
        )?;
        let api_key = self.mint()?;
        let internal_service_key = if rotate_internal {
            Some(self.mint()?)
        } else {
            None
        };
        let hash = trust::api_key_hash(&api_key);
        let (name, keys_minted_at) = mutate(&self.db, async |tx| {
            authorize(
                tx,
                actor,
                PermissionRef::CanAccessAdminPanel,
                "rotating a trust's keys",
            )
            .await?;
            super::trust_keys::check_trust_version(tx, id, expected).await?;
            if store::replace_api_key_hash(tx, id, &hash).await?.is_none() {
                return Err(ServiceError::NotFound(format!("no trust with id {id}")));
            }
            let (name, minted_at) = store::mark_rotated(tx, id, true, rotate_internal)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("no trust with id {id}")))?;
            store::insert_audit(
                tx,
                id,
                &name,
                "KEY_ROTATED",
                &actor.audit(),
                serde_json::json!({ "internal_service_key_rotated": rotate_internal }),
            )
            .await?;
            Ok((name, minted_at))
        })
        .await?;
        tracing::info!(trust_id = %id, rotate_internal, "trust keys rotated");
        Ok(RotatedKeys {
            trust_id: id,
            trust_name: name,
            api_key,
            internal_service_key,
            keys_minted_at,
        })
    }

    /// Deletes a trust: its kit slot is freed, the DELETED audit row keeps its name.
    pub async fn delete(
        &self,
        actor: &Actor,
        id: TrustId,
        expected: Option<Version>,
    ) -> ServiceResult<DeletedTrust> {
        actor.require(PermissionRef::CanAccessAdminPanel, "deleting a trust")?;
        super::ensure_writable(&self.settings, "trust deletion")?;
        super::approvals::gate(
            &self.settings,
            &crate::domain::approval::ChangeRequest::TrustDelete { trust: id },
        )?;
        let (name, code, freed_slot) = mutate(&self.db, async |tx| {
            authorize(
                tx,
                actor,
                PermissionRef::CanAccessAdminPanel,
                "deleting a trust",
            )
            .await?;
            super::trust_keys::check_trust_version(tx, id, expected).await?;
            let Some((name, code, freed_slot)) = store::delete_trust(tx, id).await? else {
                return Err(ServiceError::NotFound(format!("no trust with id {id}")));
            };
            store::insert_audit(
                tx,
                id,
                &name,
                "DELETED",
                &actor.audit(),
                serde_json::json!({ "code": code, "freed_slot": freed_slot }),
            )
            .await?;
            Ok((name, code, freed_slot))
        })
        .await?;
        tracing::info!(trust_id = %id, "trust deleted");
        Ok(DeletedTrust {
            trust_id: id,
            trust_name: name,
            trust_code: code,
            freed_slot,
        })
    }

    /// One page of trusts: search (name, code), filters (region, has_slot), sort.
    pub async fn list(&self, actor: &Actor, q: &PageQuery) -> ServiceResult<Page<Trust>> {
        read_area_on(&self.db, actor, Area::Trusts, "listing trusts").await?;
        Ok(store::list_trusts(&self.db, q).await?)
    }

    /// Distinct values of a filterable trusts column honouring the other filters.
    pub async fn filter_values(
        &self,
        actor: &Actor,
        column: &str,
        q: &PageQuery,
    ) -> ServiceResult<Vec<String>> {
        read_area_on(&self.db, actor, Area::Trusts, "listing trusts").await?;
        Ok(store::trust_filter_values(&self.db, column, q, 200).await?)
    }

    /// One page of FL kit slots (free and used, with the trust each is assigned to).
    pub async fn list_kit_slots(
        &self,
        actor: &Actor,
        q: &PageQuery,
    ) -> ServiceResult<Page<KitSlot>> {
        read_area_on(&self.db, actor, Area::KitSlots, "listing FL kit slots").await?;
        Ok(store::list_kit_slots(&self.db, q).await?)
    }

    /// How many FL kit slots are used, of how many (the kit-slots screen's gauge).
    pub async fn kit_usage(&self, actor: &Actor) -> ServiceResult<KitUsage> {
        read_area_on(&self.db, actor, Area::KitSlots, "reading FL kit slot usage").await?;
        let (free, used) = store::slot_counts(&self.db).await?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(KitUsage {
            used: count(used),
            total: count(free) + count(used),
        })
    }

    /// One trust by id.
    pub async fn get(&self, actor: &Actor, id: TrustId) -> ServiceResult<Trust> {
        read_area_on(&self.db, actor, Area::Trusts, "viewing a trust").await?;
        store::get(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no trust with id {id}")))
    }

    /// The trust with this name (case-insensitive), if any.
    pub async fn find_by_name(&self, actor: &Actor, name: &str) -> ServiceResult<Option<Trust>> {
        read_area_on(&self.db, actor, Area::Trusts, "viewing a trust").await?;
        Ok(store::find_by_name(&self.db, name.trim()).await?)
    }

    /// Resolves an operator's reference to a trust: its id, its code, or its name.
    pub async fn resolve(&self, actor: &Actor, reference: &str) -> ServiceResult<Trust> {
        read_area_on(&self.db, actor, Area::Trusts, "viewing a trust").await?;
        let r = reference.trim();
        if let Ok(id) = r.parse::<TrustId>()
            && let Some(t) = store::get(&self.db, id).await?
        {
            return Ok(t);
        }
        if let Ok(code) = TrustCode::parse(r)
            && let Some(t) = store::find_by_code(&self.db, code.as_str()).await?
        {
            return Ok(t);
        }
        if let Some(t) = store::find_by_name(&self.db, r).await? {
            return Ok(t);
        }
        Err(ServiceError::NotFound(format!(
            "no trust with id, code or name {:?}",
            DisplayText::new(r).into_string()
        )))
    }
}

/// Claims the lowest free kit slot for `id`, reconciling the configured slot names once when
/// none is free.
async fn claim_slot(
    tx: &mut Conn,
    id: TrustId,
    configured: &[(String, i32)],
) -> ServiceResult<store::ClaimedSlot> {
    if let Some(s) = store::claim_free_slot(tx, id).await? {
        return Ok(s);
    }
    let added = store::insert_missing_slots(tx, configured).await?;
    if added > 0 {
        tracing::info!(added, "added configured FL kit slots to the pool");
    }
    match store::claim_free_slot(tx, id).await? {
        Some(s) => Ok(s),
        None => {
            tracing::warn!(
                configured = configured.len(),
                "no free FL kit slot: pre-provision more FL kits and add their \
                 slot names to trusts.kit_slot_names"
            );
            Err(TrustError::NoFreeKitSlot.into())
        }
    }
}

/// A unique violation on the trust's name or code → DuplicateTrust naming which one clashed.
fn duplicate_or(e: StoreError, new: &NewTrust) -> ServiceError {
    match e.unique_constraint() {
        Some(store::NAME_CONSTRAINT) => TrustError::DuplicateTrust {
            field: TrustField::Name,
            value: DisplayText::new(new.name.as_str()).into_string(),
        }
        .into(),
        Some(store::CODE_CONSTRAINT) => TrustError::DuplicateTrust {
            field: TrustField::Code,
            value: new.code.as_str().to_string(),
        }
        .into(),
        _ => e.into(),
    }
}

/// The trust use cases for the TUI (same code path as the CLI's [`Trusts`]).
impl Services {
    pub fn trusts(&self) -> Trusts {
        Trusts::new(self.db.clone(), self.settings.clone())
    }

    pub async fn register_trust(
        &self,
        actor: &Actor,
        name: &str,
        code: &str,
        region: Option<&str>,
    ) -> ServiceResult<RegisteredTrust> {
        self.trusts().register(actor, name, code, region).await
    }

    pub async fn rotate_trust_keys(
        &self,
        actor: &Actor,
        id: TrustId,
        rotate_internal: bool,
        expected: Option<Version>,
    ) -> ServiceResult<RotatedKeys> {
        self.trusts()
            .rotate_keys(actor, id, rotate_internal, expected)
            .await
    }

    pub async fn delete_trust(
        &self,
        actor: &Actor,
        id: TrustId,
        expected: Option<Version>,
    ) -> ServiceResult<DeletedTrust> {
        self.trusts().delete(actor, id, expected).await
    }

    pub async fn list_trusts(&self, actor: &Actor, q: &PageQuery) -> ServiceResult<Page<Trust>> {
        self.trusts().list(actor, q).await
    }

    pub async fn trust_filter_values(
        &self,
        actor: &Actor,
        column: &str,
        q: &PageQuery,
    ) -> ServiceResult<Vec<String>> {
        self.trusts().filter_values(actor, column, q).await
    }

    pub async fn list_kit_slots(
        &self,
        actor: &Actor,
        q: &PageQuery,
    ) -> ServiceResult<Page<KitSlot>> {
        self.trusts().list_kit_slots(actor, q).await
    }

    pub async fn kit_usage(&self, actor: &Actor) -> ServiceResult<KitUsage> {
        self.trusts().kit_usage(actor).await
    }

    pub async fn get_trust(&self, actor: &Actor, id: TrustId) -> ServiceResult<Trust> {
        self.trusts().get(actor, id).await
    }
}
