//! Sealing the audit trail and verifying the seals.
//!
//! `seal` covers every audit row not yet sealed whose transaction lies below the horizon (every
//! transaction below it has finished, so no row can appear there later), in chunks of at most
//! [`SEAL_ROWS`] rows, each seal chained to the previous one and signed with an Ed25519 key held
//! outside the database. `verify` walks the chain with the public key from the configuration,
//! recomputes every row's digest and names each row edited, removed, moved or inserted inside a
//! sealed period, and counts the rows not sealed yet.
//!
//! Someone who can disable the audit triggers can still change rows, and can even append seals
//! of their own — but only with the signing key, which the database never holds; without it the
//! chain cannot be re-made to match.

use crate::store::Db;
use std::io::Write;
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::Serialize;

use super::actor::authorize;
use super::health::Check;
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::domain::PermissionRef;
use crate::domain::seal::{
    self, Finding, GENESIS, RowKey, SealBody, chain_hash, decode_row_list, encode_row_list,
    rows_digest,
};
use crate::store::seal as store;

/// Rows per seal at most: a seal's row list then stays under 2 MB.
pub const SEAL_ROWS: i64 = 50_000;

/// The signing key, read from a file holding its 32-byte seed in hex (zeroized on drop).
pub struct SealKey(SigningKey);

impl SealKey {
    /// Reads the key file; refuses a file that others than its owner can read.
    pub fn load(path: &Path) -> ServiceResult<Self> {
        use std::os::unix::fs::PermissionsExt;
        let invalid = |m: String| {
            ServiceError::Invalid(crate::domain::ValidationError::Invalid {
                field: "seal key",
                message: m,
            })
        };
        let meta = std::fs::metadata(path)
            .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(invalid(format!(
                "{} is readable by others (mode {:o}): chmod 600 it",
                path.display(),
                meta.permissions().mode() & 0o777
            )));
        }
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?,
        );
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), &mut seed[..]).map_err(|_| {
            invalid(format!(
                "{} does not hold a hex Ed25519 seed",
                path.display()
            ))
        })?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// Creates a new key file (0600, refused when it exists) and returns the public key in hex.
    pub fn generate(path: &Path) -> ServiceResult<String> {
        use rand::TryRng;
        use std::os::unix::fs::OpenOptionsExt;
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        rand::rngs::SysRng
            .try_fill_bytes(&mut seed[..])
            .map_err(|e| {
                ServiceError::Internal(format!("the OS random number generator failed: {e}"))
            })?;
        let key = SigningKey::from_bytes(&seed);
        let text = zeroize::Zeroizing::new(hex::encode(&seed[..]));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                ServiceError::Conflict(format!("cannot create {}: {e}", path.display()))
            })?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.write_all(b"\n"))
            .and_then(|_| f.sync_all())
            .map_err(|e| ServiceError::Internal(format!("writing {}: {e}", path.display())))?;
        Ok(hex::encode(key.verifying_key().as_bytes()))
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().as_bytes())
    }
}

/// Parses a public key given in hex.
pub fn public_key(hex_text: &str) -> ServiceResult<VerifyingKey> {
    let mut b = [0u8; 32];
    hex::decode_to_slice(hex_text.trim(), &mut b)
        .ok()
        .and_then(|_| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| {
            ServiceError::Invalid(crate::domain::ValidationError::Invalid {
                field: "audit.seal_public_key",
                message: "must be an Ed25519 public key in hex (64 characters)".into(),
            })
        })
}

/// What one `seal` run wrote.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SealReport {
    pub seals_written: u64,
    pub rows_sealed: u64,
    /// The newest seal's number after the run (None: there is none).
    pub last_seq: Option<i64>,
}

/// The verdict on one seal.
#[derive(Clone, Debug, Serialize)]
pub struct SealCheck {
    pub seq: i64,
    pub sealed_at: chrono::DateTime<chrono::Utc>,
    pub rows: i64,
    /// Problems with the seal itself: broken chain, bad signature, unknown key.
    pub seal_problems: Vec<String>,
    /// Rows changed since the seal, named.
    pub rows_changed: Vec<String>,
}

impl SealCheck {
    pub fn intact(&self) -> bool {
        self.seal_problems.is_empty() && self.rows_changed.is_empty()
    }
}

/// The verdict on the whole trail.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    pub seals: Vec<SealCheck>,
    /// Rows written after the newest seal (not sealed yet).
    pub unsealed_rows: i64,
}

impl VerifyReport {
    pub fn intact(&self) -> bool {
        self.seals.iter().all(SealCheck::intact)
    }
}

impl Services {
    /// Seals every audit row below the horizon not sealed yet (see the module doc).
    pub async fn seal_audit(&self, actor: &Actor, key: &SealKey) -> ServiceResult<SealReport> {
        actor.require(
            PermissionRef::CanAccessAdminPanel,
            "sealing the audit trail",
        )?;
        super::ensure_writable(&self.settings, "audit sealing")?;
        let mut tx = self.db.begin().await?;
        store::begin_sealing(&mut tx, true).await?;
        authorize(
            &mut tx,
            actor,
            PermissionRef::CanAccessAdminPanel,
            "sealing the audit trail",
        )
        .await?;
        let horizon = store::horizon(&mut tx).await?;
        let mut prev = store::last(&mut tx).await?;
        let mut report = SealReport {
            last_seq: prev.as_ref().map(|p| p.body.seq),
            ..SealReport::default()
        };
        loop {
            let after = prev.as_ref().map(|p| p.body.last);
            let rows = store::rows(&mut tx, after.as_ref(), None, Some(horizon), SEAL_ROWS).await?;
            let Some(last) = rows.last() else { break };
            let body = SealBody {
                seq: prev.as_ref().map_or(1, |p| p.body.seq + 1),
                horizon,
                last: last.key,
                row_count: rows.len() as i64,
                rows_digest: rows_digest(&rows),
                prev_hash: prev.as_ref().map_or(GENESIS, |p| to_hash(&p.hash)),
            };
            let hash = chain_hash(&body);
            let signature = key.0.sign(&hash);
            let sealed = store::StoredSeal {
                body,
                sealed_at: chrono::Utc::now(),
                row_list: encode_row_list(&rows),
                hash: hash.to_vec(),
                public_key: key.0.verifying_key().as_bytes().to_vec(),
                signature: signature.to_bytes().to_vec(),
            };
            store::insert(&mut tx, &sealed).await?;
            report.seals_written += 1;
            report.rows_sealed += rows.len() as u64;
            report.last_seq = Some(sealed.body.seq);
            let full = rows.len() as i64 == SEAL_ROWS;
            prev = Some(sealed);
            if !full {
                break;
            }
        }
        tx.commit().await?;
        tracing::info!(
            seals = report.seals_written,
            rows = report.rows_sealed,
            "audit trail sealed"
        );
        Ok(report)
    }

    /// Verifies the chain of seals and every sealed row against `trusted` (the public key of
    /// whoever seals).
    pub async fn verify_audit(
        &self,
        actor: &Actor,
        trusted: &VerifyingKey,
    ) -> ServiceResult<VerifyReport> {
        actor.require(
            PermissionRef::CanAccessAdminPanel,
            "verifying the audit trail",
        )?;
        let mut tx = self.db.begin().await?;
        store::begin_sealing(&mut tx, false).await?;
        authorize(
            &mut tx,
            actor,
            PermissionRef::CanAccessAdminPanel,
            "verifying the audit trail",
        )
        .await?;
        tx.commit().await?;
        verify_with(&self.db, trusted).await
    }
}

/// Seals whose rows are recomputed at the same time, each on its own connection: the digests
/// are computed by the server, one backend per connection, so two keep both cores of a small
/// database server busy (1,000,000 rows: 11.0 s one seal at a time, release build).
const VERIFY_PARALLEL: usize = 2;

/// Walks the chain of seals: the seals and the unsealed count from one snapshot, then each
/// seal's rows recomputed, [`VERIFY_PARALLEL`] seals at a time.
async fn verify_with(db: &Db, trusted: &VerifyingKey) -> ServiceResult<VerifyReport> {
    use futures::{StreamExt, TryStreamExt};
    let mut tx = db.begin().await?;
    store::begin_sealing(&mut tx, false).await?;
    let seals = store::all(&mut tx).await?;
    let unsealed = store::count_after(&mut tx, seals.last().map(|p| p.body.last).as_ref()).await?;
    tx.commit().await?;
    let seals = &seals;
    let checks: Vec<SealCheck> = futures::stream::iter(0..seals.len())
        .map(|i| async move {
            let prev = i.checked_sub(1).map(|j| &seals[j]);
            let s = &seals[i];
            let mut tx = db.begin().await?;
            store::begin_sealing(&mut tx, false).await?;
            let after = prev.map(|p| p.body.last);
            let now =
                store::rows(&mut tx, after.as_ref(), Some(&s.body.last), None, i64::MAX).await?;
            tx.commit().await?;
            Ok::<_, ServiceError>(check_seal(s, prev, &now, trusted))
        })
        .buffered(VERIFY_PARALLEL)
        .try_collect()
        .await?;
    Ok(VerifyReport {
        seals: checks,
        unsealed_rows: unsealed,
    })
}

/// The `audit.seal` line of `doctor`: the whole chain verified with `audit.seal_public_key`.
pub(crate) async fn seal_check(settings: &crate::config::Settings, db: &Db) -> Check {
    let id = "audit.seal";
    let key = settings.audit.seal_public_key.trim();
    if key.is_empty() {
        return Check::skip(
            id,
            "no audit.seal_public_key: the audit trail's seals are not verified here",
        );
    }
    let trusted = match public_key(key) {
        Ok(k) => k,
        Err(e) => {
            return Check::fail(
                id,
                e.to_string(),
                "set audit.seal_public_key to the key `hubdeck audit seal-key` printed",
            );
        }
    };
    let report = verify_with(db, &trusted).await;
    match report {
        Ok(r) if r.seals.is_empty() => Check::warn(
            id,
            format!("no seal yet; {} audit rows not sealed", r.unsealed_rows),
            "run `hubdeck audit seal --key-file KEY` from cron or a systemd timer (README)",
        ),
        Ok(r) if r.intact() => Check::pass(
            id,
            format!(
                "{} seals intact; {} audit rows not sealed yet",
                r.seals.len(),
                r.unsealed_rows
            ),
        ),
        Ok(r) => {
            let bad = r.seals.iter().filter(|s| !s.intact()).count();
            Check::fail(
                id,
                format!("TAMPERING: {bad} of {} seals do not verify", r.seals.len()),
                "run `hubdeck audit verify` for the seals and rows involved",
            )
        }
        Err(e) => Check::skip(id, format!("cannot verify the seals: {e}")),
    }
}

fn to_hash(v: &[u8]) -> [u8; 32] {
    let mut a = [0u8; 32];
    let n = v.len().min(32);
    a[..n].copy_from_slice(&v[..n]);
    a
}

/// One seal against its predecessor, the rows its range holds now and the trusted key.
fn check_seal(
    s: &store::StoredSeal,
    prev: Option<&store::StoredSeal>,
    now: &[seal::RowDigest],
    trusted: &VerifyingKey,
) -> SealCheck {
    let mut problems = Vec::new();
    let expected_seq = prev.map_or(1, |p| p.body.seq + 1);
    if s.body.seq != expected_seq {
        problems.push(format!(
            "seal {} follows seal {} (a seal is missing)",
            s.body.seq,
            expected_seq - 1
        ));
    }
    let prev_hash = prev.map_or(GENESIS, |p| to_hash(&p.hash));
    if s.body.prev_hash != prev_hash {
        problems.push("does not chain to the seal before it".into());
    }
    let hash = chain_hash(&s.body);
    if s.hash != hash {
        problems.push("its hash does not match its contents".into());
    }
    if s.public_key != trusted.as_bytes() {
        problems.push("signed by a key that is not the configured seal key".into());
    }
    let signed = Signature::from_slice(&s.signature)
        .ok()
        .is_some_and(|sig| trusted.verify(&hash, &sig).is_ok());
    if !signed {
        problems.push("its signature does not verify with the configured key".into());
    }
    let listed = decode_row_list(&s.row_list);
    let rows_changed: Vec<String> = match listed {
        None => {
            problems.push("its row list is damaged".into());
            Vec::new()
        }
        Some(listed) => {
            let listed_digest_ok = listed.len() as i64 == s.body.row_count
                && listed.last().map(|(k, _)| *k) == Some(s.body.last);
            if !listed_digest_ok {
                problems.push("its row list does not match its row count".into());
            }
            let mut f = seal::compare(&listed, now);
            if f.is_empty() && rows_digest(now) != s.body.rows_digest {
                // Every listed digest prefix matches, yet the full digests differ: name the
                // seal rather than a row.
                f.push(Finding::Edited(RowKey {
                    txid: s.body.last.txid,
                    source: s.body.last.source,
                    id: s.body.last.id,
                }));
            }
            f.iter().map(ToString::to_string).collect()
        }
    };
    SealCheck {
        seq: s.body.seq,
        sealed_at: s.sealed_at,
        rows: s.body.row_count,
        seal_problems: problems,
        rows_changed,
    }
}
