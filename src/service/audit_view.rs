//! A readable audit: actor and subject resolved to email or name (falling back to
//! the id), one event vocabulary over the three audit tables with a label per code, the
//! before/after of a row as a list of changed fields.

use crate::store::Db;
use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{Actor, ServiceError, ServiceResult, Services};
use crate::domain::{Page, PageQuery};
use crate::store::audit::{self as store, AuditEvent, KnownUser, TimeRange};

/// One audit row as an operator reads it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReadableAuditEvent {
    #[serde(flatten)]
    pub raw: AuditEvent,
    /// The label of `raw.event`, e.g. "User disabled".
    pub event_label: String,
    /// Email or name of the actor; `cli (os user)` / `system` without one; the id when unknown.
    pub actor: String,
    /// The subject: a user's email or name, a mandate's or trust's name; the id when unknown.
    pub subject: String,
    /// The affected user when it is not the subject (a member of a mandate, a trust contact).
    pub target: Option<String>,
}

/// One field that differs between the row's `before` and `after`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// The field's name; `value` when before/after are not objects (e.g. a list of roles).
    pub field: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// One row with its changes (the detail pane).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditDetail {
    pub event: ReadableAuditEvent,
    pub changes: Vec<FieldChange>,
}

/// The label of a canonical event code (the display half of migration 1110's vocabulary).
pub fn event_label(code: &str) -> String {
    let known = match code {
        "USER_REGISTERED" => "User registered",
        "USER_SEEDED" => "User seeded",
        "USER_ROLES_CHANGED" => "User roles changed",
        "USER_DISABLED" => "User disabled",
        "USER_ENABLED" => "User enabled",
        "USER_DELETED" => "User deleted",
        "USER_PROFILE_UPDATED" => "User profile updated",
        "USER_INVITATION_RESENT" => "Invitation resent",
        "REGISTRATION_ROLLED_BACK" => "Registration rolled back",
        "REGISTRATION_RESOLVED" => "Registration resolved",
        "TRUST_REGISTERED" => "Trust registered",
        "TRUST_KEY_ROTATED" => "Trust API key rotated",
        "TRUST_INTERNAL_KEY_ROTATED" => "Trust internal-service key rotated",
        "TRUST_DELETED" => "Trust deleted",
        "MANDATE_CREATED" => "Mandate created",
        "MANDATE_UPDATED" => "Mandate updated",
        "MANDATE_DISABLED" => "Mandate disabled",
        "MANDATE_SOFT_DELETED" => "Mandate deleted (restorable)",
        "MANDATE_RESTORED" => "Mandate restored",
        "MANDATE_HARD_DELETED" => "Mandate deleted permanently",
        "MANDATE_PURGED" => "Mandate purged",
        "MANDATE_PLAN_CHANGED" => "Mandate plan changed",
        "MANDATE_RENAMED_DUPLICATE" => "Mandate renamed (duplicate name)",
        "MEMBER_ADDED" => "Member added",
        "MEMBER_REMOVED" => "Member removed",
        "MEMBER_ROLES_SET" => "Member roles changed",
        "MEMBER_ENABLED" => "Member enabled",
        "MEMBER_DISABLED" => "Member disabled",
        "APPROVAL_PROPOSED" => "Change proposed (needs approval)",
        "APPROVAL_APPROVED" => "Change approved",
        "APPROVAL_REJECTED" => "Change rejected",
        "APPROVAL_EXPIRED" => "Change expired unapproved",
        "APPROVAL_VOID" => "Change void (targets changed)",
        "APPROVAL_EXECUTED" => "Approved change executed",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    // An unknown code reads as words: "SOME_NEW_THING" → "Some new thing".
    let words = code.to_ascii_lowercase().replace('_', " ");
    let mut c = words.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The fields that differ between `details.before` and `details.after` (empty when the row
/// has no before/after). Objects are compared field by field (a nested object counts as one
/// value); anything else is one `value` change.
pub fn audit_diff(details: &Value) -> Vec<FieldChange> {
    let (Some(before), Some(after)) = (details.get("before"), details.get("after")) else {
        return Vec::new();
    };
    let obj = |v: &Value| v.as_object().cloned();
    match (obj(before), obj(after), before.is_null()) {
        (Some(b), Some(a), _) => fields(Some(&b), &a),
        (None, Some(a), true) => fields(None, &a),
        _ if before == after => Vec::new(),
        _ => vec![FieldChange {
            field: "value".into(),
            before: (!before.is_null()).then(|| before.clone()),
            after: (!after.is_null()).then(|| after.clone()),
        }],
    }
}

fn fields(
    before: Option<&serde_json::Map<String, Value>>,
    after: &serde_json::Map<String, Value>,
) -> Vec<FieldChange> {
    let mut keys: Vec<&String> = after.keys().collect();
    if let Some(b) = before {
        keys.extend(b.keys().filter(|k| !after.contains_key(*k)));
    }
    keys.sort();
    keys.into_iter()
        .filter_map(|k| {
            let b = before.and_then(|b| b.get(k)).filter(|v| !v.is_null());
            let a = after.get(k).filter(|v| !v.is_null());
            (b != a).then(|| FieldChange {
                field: k.clone(),
                before: b.cloned(),
                after: a.cloned(),
            })
        })
        .collect()
}

/// Resolves the users a batch of rows names, in one statement.
pub(crate) struct Names(HashMap<Uuid, KnownUser>);

impl Names {
    pub(crate) async fn of(db: &Db, rows: &[AuditEvent]) -> ServiceResult<Self> {
        let mut subs: Vec<Uuid> = rows
            .iter()
            .flat_map(|e| {
                let subject = (e.source == "users").then_some(e.subject_id).flatten();
                [e.actor_user_id, e.target_user_id, subject]
            })
            .flatten()
            .collect();
        subs.sort();
        subs.dedup();
        let known = store::known_users(db, &subs).await?;
        Ok(Self(known.into_iter().map(|k| (k.sub, k)).collect()))
    }

    fn user(&self, sub: Uuid) -> String {
        match self.0.get(&sub) {
            Some(KnownUser { email: Some(e), .. }) => e.clone(),
            Some(KnownUser { name: Some(n), .. }) => n.clone(),
            _ => sub.to_string(),
        }
    }

    pub(crate) fn readable(&self, e: AuditEvent) -> ReadableAuditEvent {
        let actor = match (e.actor_user_id, &e.os_user) {
            (Some(a), _) => self.user(a),
            (None, Some(os)) => format!("{} ({os})", e.via),
            (None, None) => e.via.clone(),
        };
        let subject = match (&e.subject_name, e.subject_id) {
            (_, Some(s)) if e.source == "users" => self.user(s),
            (Some(n), _) => n.clone(),
            (None, Some(s)) => s.to_string(),
            (None, None) => String::new(),
        };
        let target = e
            .target_user_id
            .filter(|t| e.source != "users" || Some(*t) != e.subject_id)
            .map(|t| self.user(t));
        ReadableAuditEvent {
            event_label: event_label(&e.event),
            actor,
            subject,
            target,
            raw: e,
        }
    }
}

impl Services {
    /// One page of the audit trail with actor, subject and event resolved for reading.
    pub async fn list_audit_readable(
        &self,
        actor: &Actor,
        q: &PageQuery,
        range: TimeRange,
    ) -> ServiceResult<Page<ReadableAuditEvent>> {
        let page = self.list_audit(actor, q, range).await?;
        let names = Names::of(&self.db, &page.items).await?;
        let Page {
            items,
            total,
            page,
            page_size,
            next_cursor,
            nav,
        } = page;
        Ok(Page {
            items: items.into_iter().map(|e| names.readable(e)).collect(),
            total,
            page,
            page_size,
            next_cursor,
            nav,
        })
    }

    /// One audit row with its before/after as changed fields.
    pub async fn audit_detail(&self, actor: &Actor, id: Uuid) -> ServiceResult<AuditDetail> {
        // The same authority as the listing.
        self.list_audit(actor, &PageQuery::new(1, 1), TimeRange::default())
            .await?;
        let e = store::get(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no audit row {id}")))?;
        let names = Names::of(&self.db, std::slice::from_ref(&e)).await?;
        let changes = audit_diff(&e.details);
        Ok(AuditDetail {
            event: names.readable(e),
            changes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_lists_changed_fields_only() {
        let d = json!({"before": {"name": "A", "label": "x", "enabled": true},
                       "after": {"name": "B", "label": "x", "enabled": false}});
        let c = audit_diff(&d);
        assert_eq!(
            c,
            vec![
                FieldChange {
                    field: "enabled".into(),
                    before: Some(json!(true)),
                    after: Some(json!(false))
                },
                FieldChange {
                    field: "name".into(),
                    before: Some(json!("A")),
                    after: Some(json!("B"))
                },
            ]
        );
        let roles = json!({"before": ["ADMIN"], "after": ["VIEWER"], "email": "x@y"});
        assert_eq!(audit_diff(&roles)[0].field, "value");
        let created = json!({"before": null, "after": {"name": "N", "organisation": null}});
        assert_eq!(audit_diff(&created).len(), 1);
        assert!(audit_diff(&json!({"roles": []})).is_empty());
        assert!(audit_diff(&json!({"before": 1, "after": 1})).is_empty());
    }

    #[test]
    fn labels() {
        assert_eq!(event_label("USER_DISABLED"), "User disabled");
        assert_eq!(event_label("SOME_NEW_THING"), "Some new thing");
    }
}
