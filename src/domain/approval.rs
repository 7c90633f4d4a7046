//! Two-person approval: the actions that may need a second operator, the change a proposer
//! asks for, the preview they confirmed (every target row, before → after) and its
//! fingerprint. No I/O: the service reads the rows, this module names, compares and hashes.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{MandateId, RoleRef, TrustId, UserSub};

/// An action the configuration can put under the two-person rule (`[approvals] require`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalAction {
    GlobalAdminGrant,
    HardDelete,
    TrustKeyRotation,
    TrustDelete,
    UserDelete,
}

impl ApprovalAction {
    pub const ALL: [ApprovalAction; 5] = [
        Self::GlobalAdminGrant,
        Self::HardDelete,
        Self::TrustKeyRotation,
        Self::TrustDelete,
        Self::UserDelete,
    ];

    /// What production-like environments require when the config says `"default"`.
    pub const PRODUCTION_DEFAULT: [ApprovalAction; 5] = [
        Self::GlobalAdminGrant,
        Self::HardDelete,
        Self::TrustKeyRotation,
        Self::TrustDelete,
        Self::UserDelete,
    ];

    /// The name the config, the CLI and the audit use.
    pub const fn key(self) -> &'static str {
        match self {
            Self::GlobalAdminGrant => "global_admin_grant",
            Self::HardDelete => "hard_delete",
            Self::TrustKeyRotation => "trust_key_rotation",
            Self::TrustDelete => "trust_delete",
            Self::UserDelete => "user_delete",
        }
    }

    /// A human label ("delete user").
    pub const fn label(self) -> &'static str {
        match self {
            Self::GlobalAdminGrant => "grant global ADMIN",
            Self::HardDelete => "hard-delete mandate",
            Self::TrustKeyRotation => "rotate trust keys",
            Self::TrustDelete => "delete trust",
            Self::UserDelete => "delete user",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.key() == s.trim())
    }
}

impl std::fmt::Display for ApprovalAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// The actions an environment puts under the two-person rule, parsed from
/// `[approvals] require`. `"default"` stands for [`ApprovalAction::PRODUCTION_DEFAULT`] in a
/// production-like environment and for nothing elsewhere; `"none"` is the empty list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requirements {
    actions: Vec<ApprovalAction>,
}

impl Requirements {
    pub fn parse(names: &[String], production_like: bool) -> Result<Self, String> {
        let mut actions = Vec::new();
        for n in names {
            match n.trim() {
                "default" if production_like => actions.extend(ApprovalAction::PRODUCTION_DEFAULT),
                "default" | "none" => {}
                other => match ApprovalAction::parse(other) {
                    Some(a) => actions.push(a),
                    None => {
                        let known: Vec<&str> =
                            ApprovalAction::ALL.iter().map(|a| a.key()).collect();
                        return Err(format!(
                            "approvals.require: unknown action {other:?} (known: default, none, {})",
                            known.join(", ")
                        ));
                    }
                },
            }
        }
        actions.sort();
        actions.dedup();
        Ok(Self { actions })
    }

    pub fn requires(&self, a: ApprovalAction) -> bool {
        self.actions.contains(&a)
    }

    pub fn actions(&self) -> &[ApprovalAction] {
        &self.actions
    }
}

/// An environment is production-like when its name starts with "prod" (any case).
pub fn production_like(env: Option<&str>) -> bool {
    env.is_some_and(|n| n.trim().to_ascii_lowercase().starts_with("prod"))
}

/// What a proposer asks to be done — everything the execution needs, nothing secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ChangeRequest {
    HardDelete {
        mandate: MandateId,
    },
    UserDelete {
        user: UserSub,
    },
    TrustDelete {
        trust: TrustId,
    },
    TrustKeyRotation {
        trust: TrustId,
        internal: bool,
    },
    /// A roles edit that grants the global ADMIN role: either exactly `replace`, or `add`
    /// and `remove` against what the user holds at execution.
    GlobalAdminGrant {
        user: UserSub,
        replace: Option<Vec<RoleRef>>,
        add: Vec<RoleRef>,
        remove: Vec<RoleRef>,
    },
}

impl ChangeRequest {
    pub fn action(&self) -> ApprovalAction {
        match self {
            Self::HardDelete { .. } => ApprovalAction::HardDelete,
            Self::UserDelete { .. } => ApprovalAction::UserDelete,
            Self::TrustDelete { .. } => ApprovalAction::TrustDelete,
            Self::TrustKeyRotation { .. } => ApprovalAction::TrustKeyRotation,
            Self::GlobalAdminGrant { .. } => ApprovalAction::GlobalAdminGrant,
        }
    }

    /// The same action on the same record (what an executing approval lets through).
    pub fn same_target(&self, other: &ChangeRequest) -> bool {
        use ChangeRequest::*;
        match (self, other) {
            (HardDelete { mandate: a }, HardDelete { mandate: b }) => a == b,
            (UserDelete { user: a }, UserDelete { user: b })
            | (GlobalAdminGrant { user: a, .. }, GlobalAdminGrant { user: b, .. }) => a == b,
            (TrustDelete { trust: a }, TrustDelete { trust: b })
            | (TrustKeyRotation { trust: a, .. }, TrustKeyRotation { trust: b, .. }) => a == b,
            _ => false,
        }
    }

    /// Whether executing mints secrets only the proposer may see: then approval does not
    /// execute; the proposer completes the change and receives the keys through the reveal.
    pub fn proposer_executes(&self) -> bool {
        matches!(self, Self::TrustKeyRotation { .. })
    }
}

/// One target row of a preview: which record, which field, its value now and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewRow {
    pub record: String,
    pub field: String,
    pub before: String,
    pub after: String,
}

impl PreviewRow {
    pub fn new(record: &str, field: &str, before: impl ToString, after: impl ToString) -> Self {
        Self {
            record: record.to_string(),
            field: field.to_string(),
            before: before.to_string(),
            after: after.to_string(),
        }
    }
}

/// The exact preview a proposer confirms and an approver sees: a one-line summary and every
/// target row before → after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    /// The record the change is about, as its audit rows name it (mandate or trust name,
    /// user email).
    pub target: String,
    pub summary: String,
    pub rows: Vec<PreviewRow>,
}

impl Preview {
    /// SHA-256 (hex) over the request and every row, in order: what an approval must still find.
    pub fn fingerprint(&self, request: &ChangeRequest) -> String {
        let mut h = Sha256::new();
        let canon = serde_json::json!({"request": request, "rows": self.rows});
        h.update(canon.to_string().as_bytes());
        hex::encode(h.finalize())
    }

    /// What changed between the preview a proposer confirmed (`self`) and one read now:
    /// "user x: roles admin → viewer", "trust y: gone". Empty when nothing did.
    pub fn changes_since(&self, now: &Preview) -> Vec<String> {
        let mut out = Vec::new();
        for old in &self.rows {
            match now
                .rows
                .iter()
                .find(|r| r.record == old.record && r.field == old.field)
            {
                None => out.push(format!("{} {}: no longer there", old.record, old.field)),
                Some(r) if r.before != old.before => out.push(format!(
                    "{} {}: {} → {}",
                    old.record, old.field, old.before, r.before
                )),
                Some(r) if r.after != old.after => out.push(format!(
                    "{} {}: would now become {} (not {})",
                    old.record, old.field, r.after, old.after
                )),
                Some(_) => {}
            }
        }
        for r in &now.rows {
            if !self
                .rows
                .iter()
                .any(|o| o.record == r.record && o.field == r.field)
            {
                out.push(format!("{} {}: new ({})", r.record, r.field, r.before));
            }
        }
        out
    }
}

/// Where a pending change stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeState {
    Proposed,
    Approved,
    Rejected,
    Expired,
    Executed,
    Void,
}

impl ChangeState {
    pub const fn key(self) -> &'static str {
        match self {
            Self::Proposed => "proposed",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Executed => "executed",
            Self::Void => "void",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Proposed,
            Self::Approved,
            Self::Rejected,
            Self::Expired,
            Self::Executed,
            Self::Void,
        ]
        .into_iter()
        .find(|x| x.key() == s)
    }

    /// Still waiting for someone (a decision, or the proposer's completion).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Proposed | Self::Approved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preview(before: &str) -> Preview {
        Preview {
            target: "a@x".into(),
            summary: "delete user".into(),
            rows: vec![PreviewRow::new("user a@x", "roles", before, "(none)")],
        }
    }

    #[test]
    fn requirements_parse_default_by_environment_and_refuse_unknown_names() {
        let d = vec!["default".to_string()];
        assert!(
            Requirements::parse(&d, true)
                .unwrap()
                .requires(ApprovalAction::UserDelete)
        );
        assert!(Requirements::parse(&d, false).unwrap().actions().is_empty());
        let extra = vec!["default".into(), "trust_delete".into()];
        let r = Requirements::parse(&extra, false).unwrap();
        assert_eq!(r.actions(), &[ApprovalAction::TrustDelete]);
        let bad = vec!["user_delet".to_string()];
        let e = Requirements::parse(&bad, true).unwrap_err();
        assert!(e.contains("user_delet") && e.contains("user_delete"), "{e}");
        assert!(production_like(Some("Production")) && !production_like(Some("staging")));
        assert!(!production_like(None));
    }

    #[test]
    fn the_fingerprint_moves_with_any_row_and_the_change_is_named() {
        let req = ChangeRequest::UserDelete {
            user: UserSub::new_v4(),
        };
        let a = preview("admin");
        let b = preview("viewer");
        assert_eq!(a.fingerprint(&req), preview("admin").fingerprint(&req));
        assert_ne!(a.fingerprint(&req), b.fingerprint(&req));
        assert_eq!(a.changes_since(&b), vec!["user a@x roles: admin → viewer"]);
        let gone = Preview {
            target: String::new(),
            summary: String::new(),
            rows: vec![],
        };
        assert_eq!(
            a.changes_since(&gone),
            vec!["user a@x roles: no longer there"]
        );
        assert!(a.changes_since(&preview("admin")).is_empty());
    }
}
