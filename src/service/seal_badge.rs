//! The Audit tab's seal badge: the state of the sealed trail at a glance. The full
//! verification (every seal's rows recomputed) runs once per console session, as a job; later
//! refreshes only count the rows written since the newest seal — an index range count.

use serde::Serialize;

use super::access::Area;
use super::seal::public_key;
use super::{Actor, ServiceResult, Services};
use crate::store::seal as store;

/// What the badge says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SealBadge {
    /// No `audit.seal_public_key` configured: nothing to verify against.
    NoKey,
    /// Every seal and sealed row verified (at the session's first look); rows not sealed yet.
    Verified { unsealed: i64 },
    /// Tampering found: how many seals are broken.
    Tampered { broken: usize },
    /// Only counted (the verification ran earlier this session): rows not sealed yet.
    Unsealed { unsealed: i64 },
}

impl SealBadge {
    /// "seal: verified ✓ · 12 unsealed", "seal: tampered ✗ (2 seals)".
    pub fn label(&self) -> String {
        match self {
            SealBadge::NoKey => "seal: no public key configured".into(),
            SealBadge::Verified { unsealed: 0 } => "seal: verified ✓".into(),
            SealBadge::Verified { unsealed } => format!("seal: verified ✓ · {unsealed} unsealed"),
            SealBadge::Unsealed { unsealed } => format!("seal: {unsealed} unsealed"),
            SealBadge::Tampered { broken } => format!(
                "seal: tampered ✗ ({broken} seal{}; run `hubdeck audit verify`)",
                if *broken == 1 { "" } else { "s" }
            ),
        }
    }
}

impl Services {
    /// The seal badge: `full` verifies the whole trail (the session's first look); otherwise
    /// only the rows not sealed yet are counted.
    pub async fn seal_badge(&self, actor: &Actor, full: bool) -> ServiceResult<SealBadge> {
        self.read_area(actor, Area::Audit, "reading the seal state")
            .await?;
        let key = self.settings.audit.seal_public_key.trim();
        if key.is_empty() {
            return Ok(SealBadge::NoKey);
        }
        if full {
            let report = self.verify_audit(actor, &public_key(key)?).await?;
            let broken = report.seals.iter().filter(|s| !s.intact()).count();
            return Ok(if broken > 0 {
                SealBadge::Tampered { broken }
            } else {
                SealBadge::Verified {
                    unsealed: report.unsealed_rows,
                }
            });
        }
        let mut conn = self.db.acquire().await?;
        let last = store::last(&mut conn).await?;
        let unsealed = store::count_after(&mut conn, last.map(|s| s.body.last).as_ref()).await?;
        Ok(SealBadge::Unsealed { unsealed })
    }
}
