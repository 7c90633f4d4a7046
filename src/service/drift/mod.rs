//! Drift: the classes where the directory, the global grants and the
//! mandate memberships disagree, and their repairs. A repair is first a [`RepairPreview`] —
//! exactly what will change in PostgreSQL and in the directory, and the audit row — then
//! [`Services::apply_drift_repair`], which computes the preview again and refuses when it
//! differs (the premise no longer holds). Every repair goes through the ordinary use case
//! (delete user, set roles, remove member), which writes its audit row in its transaction.

mod class_repair;
mod preview;
mod repair;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::{Actor, ServiceError, ServiceResult, Services};
use crate::domain::page::Want;
use crate::domain::{DisplayText, Page, PageQuery, UserSub};
use crate::service::access::Area;
use crate::store::drift as store;
/// The report's row types (the console's drift screen shows them).
pub use crate::store::drift::{BrokenMembership, DriftUser, ExpiredInvitation};
use crate::store::drift_page;
pub use crate::store::drift_page::DriftEntry;
pub use class_repair::{ClassRepairPlan, ClassRepairProgress, ClassRepairReport};

/// The drift classes, in the order a report lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftClass {
    /// Memberships of live mandates whose identity is gone or disabled (mandates left without
    /// a working admin first).
    Memberships,
    /// Global roles held by a sub the directory no longer has.
    OrphanGrants,
    /// Disabled identities still holding global roles.
    DisabledWithGrants,
    /// Identities holding no global role and no membership.
    NoGrants,
    /// Invitations still in FORCE_CHANGE_PASSWORD after the pool's temporary-password
    /// validity (the invited user can no longer sign in with it).
    ExpiredInvitations,
}

impl DriftClass {
    pub const ALL: [DriftClass; 5] = [
        Self::Memberships,
        Self::OrphanGrants,
        Self::DisabledWithGrants,
        Self::NoGrants,
        Self::ExpiredInvitations,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Self::Memberships => "memberships",
            Self::OrphanGrants => "orphan-grants",
            Self::DisabledWithGrants => "disabled-with-grants",
            Self::NoGrants => "no-grants",
            Self::ExpiredInvitations => "expired-invitations",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Memberships => "memberships whose identity is gone or disabled",
            Self::OrphanGrants => "grants whose identity is gone",
            Self::DisabledWithGrants => "disabled users still holding grants",
            Self::NoGrants => "identities without grants",
            Self::ExpiredInvitations => "invitations past the temporary-password validity",
        }
    }
}

impl fmt::Display for DriftClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for DriftClass {
    type Err = ServiceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.key() == s.trim())
            .ok_or_else(|| {
                invalid(format!(
                    "unknown drift class {:?}: expected one of {}",
                    DisplayText::new(s).into_string(),
                    Self::ALL.map(|c| c.key()).join(", ")
                ))
            })
    }
}

/// One drift row to repair: its class and its id (a sub, or a membership id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DriftTarget {
    pub class: DriftClass,
    pub id: uuid::Uuid,
}

impl DriftTarget {
    /// Parses `CLASS:ID`.
    pub fn parse(s: &str) -> ServiceResult<Self> {
        let (class, id) = s.split_once(':').ok_or_else(|| {
            invalid(format!(
                "expected CLASS:ID, got {:?}",
                DisplayText::new(s).into_string()
            ))
        })?;
        let class = class.parse()?;
        let id = id.trim().parse().map_err(|_| {
            invalid(format!(
                "{:?} is not an id (a UUID)",
                DisplayText::new(id).into_string()
            ))
        })?;
        Ok(Self { class, id })
    }
}

impl fmt::Display for DriftTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.class, self.id)
    }
}

/// Every class with its rows (up to the report's limit each).
#[derive(Clone, Debug, Serialize)]
pub struct DriftReport {
    pub memberships: Vec<BrokenMembership>,
    pub orphan_grants: Vec<DriftUser>,
    pub disabled_with_grants: Vec<DriftUser>,
    pub no_grants: Vec<DriftUser>,
    pub expired_invitations: Vec<ExpiredInvitation>,
    /// The pool's temporary-password validity the invitations were measured against.
    pub temporary_password_days: u32,
    /// The per-class limit the report was read with (the rows above; never a count).
    pub limit: u32,
    /// Every class's exact total (the rows above are the first `limit` of each).
    pub totals: DriftTotals,
}

/// Every class's exact total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DriftTotals {
    pub memberships: u64,
    pub orphan_grants: u64,
    pub disabled_with_grants: u64,
    pub no_grants: u64,
    pub expired_invitations: u64,
}

impl DriftTotals {
    fn from_ranks(n: [u64; 5]) -> Self {
        Self {
            memberships: n[0],
            orphan_grants: n[1],
            disabled_with_grants: n[2],
            no_grants: n[3],
            expired_invitations: n[4],
        }
    }

    pub fn of(&self, class: DriftClass) -> u64 {
        match class {
            DriftClass::Memberships => self.memberships,
            DriftClass::OrphanGrants => self.orphan_grants,
            DriftClass::DisabledWithGrants => self.disabled_with_grants,
            DriftClass::NoGrants => self.no_grants,
            DriftClass::ExpiredInvitations => self.expired_invitations,
        }
    }

    pub fn sum(&self) -> u64 {
        DriftClass::ALL.iter().map(|c| self.of(*c)).sum()
    }
}

impl DriftReport {
    /// Every row as a repair target, in report order.
    pub fn targets(&self) -> Vec<DriftTarget> {
        self.targets_of(None)
    }

    /// The rows of one class (or all) as repair targets.
    pub fn targets_of(&self, class: Option<DriftClass>) -> Vec<DriftTarget> {
        let users = |class, rows: &[DriftUser]| -> Vec<DriftTarget> {
            rows.iter()
                .map(|u| DriftTarget { class, id: u.sub.0 })
                .collect()
        };
        let mut all: Vec<DriftTarget> = self
            .memberships
            .iter()
            .map(|m| DriftTarget {
                class: DriftClass::Memberships,
                id: m.membership_id.0,
            })
            .collect();
        all.extend(users(DriftClass::OrphanGrants, &self.orphan_grants));
        all.extend(users(
            DriftClass::DisabledWithGrants,
            &self.disabled_with_grants,
        ));
        all.extend(users(DriftClass::NoGrants, &self.no_grants));
        all.extend(self.expired_invitations.iter().map(|i| DriftTarget {
            class: DriftClass::ExpiredInvitations,
            id: i.sub.0,
        }));
        all.retain(|t| class.is_none_or(|c| t.class == c));
        all
    }

    pub fn is_empty(&self) -> bool {
        self.memberships.is_empty()
            && self.orphan_grants.is_empty()
            && self.disabled_with_grants.is_empty()
            && self.no_grants.is_empty()
            && self.expired_invitations.is_empty()
    }
}

/// Exactly what a repair will change, and the audit rows it writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RepairPreview {
    pub target: DriftTarget,
    /// One line naming the row.
    pub summary: String,
    /// Each change in PostgreSQL.
    pub database: Vec<String>,
    /// Each change in the directory (empty: none).
    pub directory: Vec<String>,
    /// The audit rows written in the transaction of the change.
    pub audit: Vec<String>,
    /// What still needs a person after the repair (e.g. a mandate left without an admin).
    pub warnings: Vec<String>,
}

/// What an applied repair did.
#[derive(Clone, Debug, Serialize)]
pub struct RepairOutcome {
    pub preview: RepairPreview,
    pub message: String,
}

pub(super) fn invalid(message: String) -> ServiceError {
    ServiceError::Invalid(crate::domain::ValidationError::Invalid {
        field: "drift repair",
        message,
    })
}

pub(super) fn show(s: &str) -> String {
    DisplayText::new(s).into_string()
}

pub(super) fn who(email: Option<&str>, sub: UserSub) -> String {
    match email {
        Some(e) => format!("{} ({sub})", show(e)),
        None => sub.to_string(),
    }
}

pub(super) fn not_drift(target: DriftTarget, why: &str) -> ServiceError {
    ServiceError::NotFound(format!("{target} is not drift ({why})"))
}

impl Services {
    /// Every drift class, up to `limit` rows each.
    pub async fn drift_report(&self, actor: &Actor, limit: u32) -> ServiceResult<DriftReport> {
        self.read_area(actor, Area::Drift, "reading drift").await?;
        let n = i64::from(limit);
        let days = self.directory.temporary_password_validity_days().await?;
        Ok(DriftReport {
            memberships: store::broken_memberships(&self.db, n).await?,
            orphan_grants: store::grants_without_identity(&self.db, n).await?,
            disabled_with_grants: store::disabled_with_grants(&self.db, n).await?,
            no_grants: store::identities_without_grants(&self.db, n).await?,
            expired_invitations: store::expired_invitations(&self.db, days, n).await?,
            temporary_password_days: days,
            limit,
            totals: DriftTotals::from_ranks(drift_page::class_totals(&self.db, days).await?),
        })
    }

    /// Every class's exact total.
    pub async fn drift_totals(&self, actor: &Actor) -> ServiceResult<DriftTotals> {
        self.read_area(actor, Area::Drift, "reading drift").await?;
        let days = self.directory.temporary_password_validity_days().await?;
        Ok(DriftTotals::from_ranks(
            drift_page::class_totals(&self.db, days).await?,
        ))
    }

    /// One page of the drift list — every class in report order, paged like every other list
    /// (`q.want`: the rows, or the exact count of the class filter and search as the total).
    pub async fn drift_page(
        &self,
        actor: &Actor,
        q: &PageQuery,
    ) -> ServiceResult<Page<DriftEntry>> {
        self.read_area(actor, Area::Drift, "reading drift").await?;
        let days = self.directory.temporary_password_validity_days().await?;
        match q.want {
            Want::Rows => Ok(drift_page::page(&self.db, q, days).await?),
            Want::Estimate | Want::CappedCount => {
                let mut p = Page::empty(q);
                p.total = drift_page::count(&self.db, q, days).await?;
                Ok(p)
            }
            Want::RowsAndTotal => {
                let mut p = drift_page::page(&self.db, q, days).await?;
                p.total = drift_page::count(&self.db, q, days).await?;
                Ok(p)
            }
        }
    }
}

impl DriftClass {
    /// The class's place in the list (the store's rank).
    pub(super) fn rank(self) -> usize {
        Self::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }

    /// The class of a list row.
    pub fn of_entry(e: &DriftEntry) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.key() == e.class)
    }
}

#[cfg(test)]
mod tests {
    use super::DriftClass;

    #[test]
    fn the_store_lists_the_classes_in_report_order() {
        let keys: Vec<&str> = DriftClass::ALL.iter().map(|c| c.key()).collect();
        assert_eq!(keys, crate::store::drift_page::CLASSES);
        assert_eq!(DriftClass::ExpiredInvitations.rank(), 4);
    }
}
