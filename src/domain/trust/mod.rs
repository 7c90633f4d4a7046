//! Trusts (partner hospital sites): validated name, code and region, the FL kit slot numbering,
//! the error vocabulary of registration, and the trust key format. No I/O: key minting takes
//! the random number generator as a parameter (the service passes the OS CSPRNG).
//!
//! The key format is in [`key`].

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::TrustId;
use super::error::{ValidationError, bounded_text};
use super::secret::Secret;

/// Longest trust name accepted (characters, after trimming).
pub const MAX_TRUST_NAME: usize = 255;

/// Slot number of a slot name without a trailing `_<digits>`: such slots are claimed last.
pub const UNNUMBERED_SLOT: i32 = 10_000;

/// The NHS England regions; a trust's region is one of these or none.
pub const NHS_REGIONS: &[&str] = &[
    "East of England",
    "London",
    "Midlands",
    "North East and Yorkshire",
    "North West",
    "South East",
    "South West",
];

/// Which unique property of a trust clashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum TrustField {
    Name,
    Code,
}

impl fmt::Display for TrustField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrustField::Name => "name",
            TrustField::Code => "code",
        })
    }
}

/// Why a trust operation was refused. The service maps these into `ServiceError`
/// (`Invalid` for input errors, `Conflict` for duplicates and an exhausted pool).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum TrustError {
    #[error("a trust name is required (got a blank name)")]
    EmptyTrustName,
    #[error("a trust code is required (got a blank code)")]
    EmptyTrustCode,
    #[error(
        "trust code {0:?} is invalid: use 2–16 characters of A–Z, 0–9, '_' or '-' (letters are upper-cased)"
    )]
    InvalidTrustCode(String),
    #[error(transparent)]
    InvalidTrustName(ValidationError),
    #[error("unknown region {value:?}: expected one of {}", NHS_REGIONS.join(", "))]
    UnknownRegion { value: String },
    /// `value` has passed through `DisplayText`.
    #[error("a trust with {field} {value:?} already exists")]
    DuplicateTrust { field: TrustField, value: String },
    #[error("{}", NO_FREE_KIT_SLOT)]
    NoFreeKitSlot,
}

/// The NoFreeKitSlot message, with the operator's remedy.
pub const NO_FREE_KIT_SLOT: &str = "no free FL kit slot: every configured slot is assigned. \
Pre-provision more FL kits, add their slot names to trusts.kit_slot_names \
(or HUBDECK_TRUSTS__KIT_SLOT_NAMES) and register again";

impl TrustError {
    /// The field a validation error is about (for forms).
    pub fn field(&self) -> &'static str {
        match self {
            TrustError::EmptyTrustName | TrustError::InvalidTrustName(_) => "name",
            TrustError::EmptyTrustCode | TrustError::InvalidTrustCode(_) => "code",
            TrustError::UnknownRegion { .. } => "region",
            TrustError::DuplicateTrust { field, .. } => match field {
                TrustField::Name => "name",
                TrustField::Code => "code",
            },
            TrustError::NoFreeKitSlot => "fl_kit_slot",
        }
    }

    /// True for refusals caused by existing state (duplicates, exhausted pool) rather than input.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            TrustError::DuplicateTrust { .. } | TrustError::NoFreeKitSlot
        )
    }
}

/// A trust's display name: trimmed, 1–255 characters, no control characters. Untrusted text
/// (render through `DisplayText`). Unique case-insensitively (enforced by the database).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrustName(String);

impl TrustName {
    pub fn parse(value: &str) -> Result<Self, TrustError> {
        if value.trim().is_empty() {
            return Err(TrustError::EmptyTrustName);
        }
        bounded_text("trust name", value, MAX_TRUST_NAME)
            .map(TrustName)
            .map_err(TrustError::InvalidTrustName)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrustName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::DisplayText::new(&self.0).into_string())
    }
}

/// A trust's short code: trimmed, upper-cased, `[A-Z0-9_-]{2,16}`. Unique.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrustCode(String);

impl TrustCode {
    pub fn parse(value: &str) -> Result<Self, TrustError> {
        let v = value.trim();
        if v.is_empty() {
            return Err(TrustError::EmptyTrustCode);
        }
        let upper = v.to_ascii_uppercase();
        let ok = (2..=16).contains(&upper.len())
            && upper
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(TrustCode(upper))
        } else {
            Err(TrustError::InvalidTrustCode(
                super::DisplayText::new(v).into_string(),
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrustCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One of [`NHS_REGIONS`] (matched case-insensitively, stored in its canonical spelling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region(&'static str);

impl Region {
    /// Blank or absent → `None`; otherwise one of the NHS England regions.
    pub fn parse(value: Option<&str>) -> Result<Option<Self>, TrustError> {
        let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let norm = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        let wanted = norm(v);
        NHS_REGIONS
            .iter()
            .find(|r| norm(r) == wanted)
            .map(|r| Some(Region(r)))
            .ok_or_else(|| TrustError::UnknownRegion {
                value: super::DisplayText::new(v).into_string(),
            })
    }
    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// One trust as stored, with the kit slot assigned to it (if any). Name and region are
/// untrusted text: render through `DisplayText`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Trust {
    pub id: TrustId,
    pub name: String,
    pub code: String,
    pub region: Option<String>,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub slot_name: Option<String>,
    pub slot_number: Option<i32>,
    /// Set when keys were minted and their hand-over was never confirmed (the CLI could not
    /// write them, the operator never acknowledged the reveal): nobody is known to hold the
    /// trust's current keys until they are rotated and handed over.
    pub keys_unconfirmed_since: Option<DateTime<Utc>>,
    /// Moved on by every change an operator sees (not the heartbeat): a rotate or delete is
    /// conditional on the version its operator saw.
    pub version: i64,
}

/// One FL kit slot and the trust it is assigned to (if any).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct KitSlot {
    pub slot_name: String,
    pub slot_number: i32,
    pub assigned_to_trust_id: Option<TrustId>,
    pub trust_name: Option<String>,
    pub trust_code: Option<String>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl KitSlot {
    pub fn is_free(&self) -> bool {
        self.assigned_to_trust_id.is_none()
    }
}

/// The result of a registration: the only place the plaintext keys exist. They are shown once
/// (CLI JSON or the TUI's reveal panel) and then dropped (zeroized). Debug prints redactions.
#[derive(Clone, Debug)]
pub struct RegisteredTrust {
    pub trust: Trust,
    pub fl_kit_slot: String,
    pub fl_kit_slot_number: i32,
    pub api_key: Secret,
    pub internal_service_key: Secret,
    /// When the keys were minted (the trust's `keys_unconfirmed_since` until handed over).
    pub keys_minted_at: DateTime<Utc>,
}

/// The result of a key rotation: the new key(s), shown once.
#[derive(Clone, Debug)]
pub struct RotatedKeys {
    pub trust_id: TrustId,
    pub trust_name: String,
    pub api_key: Secret,
    /// Present when the internal-service key was rotated too.
    pub internal_service_key: Option<Secret>,
    /// When the keys were minted (the trust's `keys_unconfirmed_since` until handed over).
    pub keys_minted_at: DateTime<Utc>,
}

/// The result of a trust deletion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeletedTrust {
    pub trust_id: TrustId,
    pub trust_name: String,
    pub trust_code: String,
    /// The kit slot that became free.
    pub freed_slot: Option<String>,
}

/// Validated input of a trust registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTrust {
    pub name: TrustName,
    pub code: TrustCode,
    pub region: Option<Region>,
}

impl NewTrust {
    /// Trims and validates in the order the operator reads the form: name, code, region.
    pub fn parse(name: &str, code: &str, region: Option<&str>) -> Result<Self, TrustError> {
        Ok(Self {
            name: TrustName::parse(name)?,
            code: TrustCode::parse(code)?,
            region: Region::parse(region)?,
        })
    }
}

/// `slot_number` of a kit slot: the trailing `_<digits>` (`Trust_007` → 7); names without one
/// (or with a number too large) get [`UNNUMBERED_SLOT`] so they are claimed last.
pub fn slot_number(slot_name: &str) -> i32 {
    slot_name
        .rsplit_once('_')
        .map(|(_, digits)| digits)
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<i32>().ok())
        .unwrap_or(UNNUMBERED_SLOT)
}

/// The configured slot names, trimmed, blanks dropped, de-duplicated and sorted (a stable order
/// so concurrent reconciles insert in the same order), each with its slot number.
pub fn configured_slots(names: &[String]) -> Vec<(String, i32)> {
    let mut v: Vec<String> = names
        .iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    v.sort();
    v.dedup();
    v.into_iter()
        .map(|n| {
            let num = slot_number(&n);
            (n, num)
        })
        .collect()
}

mod key;
pub use key::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_trimmed_upper_cased_and_checked() {
        assert_eq!(TrustCode::parse(" gstt ").unwrap().as_str(), "GSTT");
        assert_eq!(TrustCode::parse("a-1_b").unwrap().as_str(), "A-1_B");
        assert_eq!(TrustCode::parse("  "), Err(TrustError::EmptyTrustCode));
        assert!(matches!(
            TrustCode::parse("X"),
            Err(TrustError::InvalidTrustCode(_))
        ));
        assert!(matches!(
            TrustCode::parse("ABCDEFGHIJKLMNOPQ"),
            Err(TrustError::InvalidTrustCode(_))
        ));
        assert!(matches!(
            TrustCode::parse("GS TT"),
            Err(TrustError::InvalidTrustCode(_))
        ));
        assert!(matches!(
            TrustCode::parse("ÄB"),
            Err(TrustError::InvalidTrustCode(_))
        ));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(TrustName::parse("  Guy's  ").unwrap().as_str(), "Guy's");
        assert_eq!(TrustName::parse(" \t "), Err(TrustError::EmptyTrustName));
        assert!(matches!(
            TrustName::parse("a\u{1b}[31m"),
            Err(TrustError::InvalidTrustName(_))
        ));
        assert!(TrustName::parse(&"x".repeat(256)).is_err());
    }

    #[test]
    fn regions_come_from_the_nhs_list() {
        assert_eq!(Region::parse(None).unwrap(), None);
        assert_eq!(Region::parse(Some("  ")).unwrap(), None);
        assert_eq!(
            Region::parse(Some("north  east AND yorkshire"))
                .unwrap()
                .unwrap()
                .as_str(),
            "North East and Yorkshire"
        );
        assert!(matches!(
            Region::parse(Some("Narnia")),
            Err(TrustError::UnknownRegion { .. })
        ));
    }

    #[test]
    fn slot_numbers() {
        assert_eq!(slot_number("Trust_007"), 7);
        assert_eq!(slot_number("kit_12"), 12);
        assert_eq!(slot_number("Spare"), UNNUMBERED_SLOT);
        assert_eq!(slot_number("Trust_"), UNNUMBERED_SLOT);
        assert_eq!(slot_number("Trust_99999999999"), UNNUMBERED_SLOT);
        let c = configured_slots(&["B_2".into(), " A_1 ".into(), "B_2".into(), "".into()]);
        assert_eq!(c, vec![("A_1".into(), 1), ("B_2".into(), 2)]);
    }
}
