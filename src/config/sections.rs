//! Settings sections of the audit trail, the two-person rule and the console's session.

use serde::{Deserialize, Serialize};

/// The sealed audit trail (`hubdeck audit seal` / `audit verify`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// Hex Ed25519 public key of whoever seals the audit trail; `audit verify` trusts only
    /// seals signed by it. Empty: verification needs `--public-key`.
    pub seal_public_key: String,
}

/// The two-person rule: which actions a second operator must approve, and for how long a
/// proposal waits.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApprovalSettings {
    /// Action names (`global_admin_grant`, `hard_delete`, `trust_key_rotation`,
    /// `trust_delete`, `user_delete`); `"default"` is all five in a production-like
    /// environment (its name starts with "prod") and none elsewhere; `"none"` is none.
    pub require: Vec<String>,
    /// How long a proposal waits for a decision before it expires.
    pub expiry_hours: u32,
}

impl Default for ApprovalSettings {
    fn default() -> Self {
        Self {
            require: vec!["default".into()],
            expiry_hours: 24,
        }
    }
}

/// The console's session (`[console]`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleSettings {
    /// After this many minutes without a key press the console signs its operator out and
    /// asks them to sign in again (MFA included); signing in again as the same operator
    /// returns to the screen they were on. Fractions allowed; 0 never signs out.
    pub idle_minutes: f64,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self { idle_minutes: 15.0 }
    }
}
