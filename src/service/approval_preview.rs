//! What a change under the two-person rule would do, read from the rows it targets (the
//! preview a proposer confirms and an approval re-reads), and its execution through the
//! ordinary use case, guarded by the version the preview saw.

use super::user_roles::RolesEdit;
use super::versions::Version;
use super::{ServiceError, ServiceResult, Services};
use crate::domain::approval::{ChangeRequest, Preview, PreviewRow};
use crate::domain::{DisplayText, PermissionRef, RoleRef, UserSub};
use crate::store::{mandates as mstore, trusts as tstore, users as ustore, versions as vstore};

/// A preview plus the version of its target row, which the execution must still find.
pub(super) struct Read {
    pub preview: Preview,
    pub version: Option<i64>,
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

fn role_keys(roles: &[RoleRef]) -> Vec<String> {
    let mut v: Vec<String> = roles.iter().map(|r| r.key().to_string()).collect();
    v.sort();
    v.dedup();
    v
}

/// The permissions the action needs — of its proposer and of its approver.
pub(super) fn permissions(req: &ChangeRequest) -> Vec<PermissionRef> {
    match req {
        ChangeRequest::HardDelete { .. }
        | ChangeRequest::TrustDelete { .. }
        | ChangeRequest::TrustKeyRotation { .. } => vec![PermissionRef::CanAccessAdminPanel],
        ChangeRequest::UserDelete { .. } => vec![PermissionRef::CanManageUsers],
        ChangeRequest::GlobalAdminGrant { .. } => {
            let mut p = vec![PermissionRef::CanManageUsers];
            p.extend(RoleRef::Admin.permissions().iter().copied());
            p.sort();
            p.dedup();
            p
        }
    }
}

/// The roles edit of a global ADMIN grant.
pub(super) fn roles_edit(req: &ChangeRequest) -> Option<RolesEdit> {
    match req {
        ChangeRequest::GlobalAdminGrant {
            replace,
            add,
            remove,
            ..
        } => Some(match replace {
            Some(r) => RolesEdit::Replace(r.clone()),
            None => RolesEdit::Change {
                add: add.clone(),
                remove: remove.clone(),
            },
        }),
        _ => None,
    }
}

impl Services {
    async fn user_label(&self, sub: UserSub) -> ServiceResult<String> {
        match ustore::cached(&self.db, sub).await? {
            Some(u) => Ok(u.email),
            None => Err(ServiceError::NotFound(format!("no user {sub}"))),
        }
    }

    /// Reads the rows `req` targets now and what the change would make of them.
    pub(super) async fn read_preview(&self, req: &ChangeRequest) -> ServiceResult<Read> {
        let mut conn = self.db.acquire().await?;
        match req {
            ChangeRequest::UserDelete { user } => {
                let email = self.user_label(*user).await?;
                let version = vstore::user_version(&mut conn, *user).await?;
                let roles = ustore::role_names(&self.db, *user).await?;
                let record = format!("user {email}");
                let mut rows = vec![
                    PreviewRow::new(&record, "version", version, "deleted"),
                    PreviewRow::new(&record, "global roles", list_or_none(&roles), "(none)"),
                ];
                for m in ustore::mandates_of(&self.db, *user).await? {
                    rows.push(PreviewRow::new(
                        &format!("membership in «{}»", m.mandate_name),
                        "roles",
                        list_or_none(&m.roles),
                        "(removed)",
                    ));
                }
                rows.push(PreviewRow::new(&record, "identity", "exists", "deleted"));
                Ok(Read {
                    preview: Preview {
                        target: email.clone(),
                        summary: format!("delete user {email} and all their access"),
                        rows,
                    },
                    version: Some(version),
                })
            }
            ChangeRequest::GlobalAdminGrant { user, .. } => {
                let email = self.user_label(*user).await?;
                let version = vstore::user_version(&mut conn, *user).await?;
                let held: Vec<RoleRef> = crate::store::grants::roles_of(&self.db, *user)
                    .await?
                    .into_iter()
                    .filter_map(|id| RoleRef::ALL.into_iter().find(|r| r.id() == id))
                    .collect();
                let after: Vec<RoleRef> = match roles_edit(req) {
                    Some(RolesEdit::Replace(r)) => r,
                    Some(RolesEdit::Change { add, remove }) => held
                        .iter()
                        .copied()
                        .filter(|r| !remove.contains(r))
                        .chain(add)
                        .collect(),
                    None => held.clone(),
                };
                let record = format!("user {email}");
                let rows = vec![
                    PreviewRow::new(&record, "version", version, version + 1),
                    PreviewRow::new(
                        &record,
                        "global roles",
                        list_or_none(&role_keys(&held)),
                        list_or_none(&role_keys(&after)),
                    ),
                ];
                Ok(Read {
                    preview: Preview {
                        target: email.clone(),
                        summary: format!("grant the global ADMIN role to {email}"),
                        rows,
                    },
                    version: Some(version),
                })
            }
            ChangeRequest::HardDelete { mandate } => {
                let m = mstore::get(&self.db, *mandate)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(format!("no mandate {mandate}")))?;
                let members = mstore::dependent_rows(&self.db, *mandate).await?;
                let record = format!("mandate «{}»", m.name);
                let state = match m.deleted_at {
                    Some(at) => format!("soft-deleted {}", at.format("%Y-%m-%d %H:%M UTC")),
                    None => "live".into(),
                };
                let rows = vec![
                    PreviewRow::new(&record, "version", m.version, "deleted"),
                    PreviewRow::new(&record, "state", state, "deleted for good"),
                    PreviewRow::new(&record, "dependent rows", members, 0),
                ];
                Ok(Read {
                    preview: Preview {
                        target: m.name.clone(),
                        summary: format!("hard-delete mandate «{}» with everything in it", m.name),
                        rows,
                    },
                    version: Some(m.version),
                })
            }
            ChangeRequest::TrustDelete { trust }
            | ChangeRequest::TrustKeyRotation { trust, .. } => {
                let t = tstore::get(&self.db, *trust)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(format!("no trust {trust}")))?;
                let record = format!("trust «{}» ({})", t.name, t.code);
                let updated = t.updated_at.format("%Y-%m-%d %H:%M:%S%.6f UTC").to_string();
                let mut rows = vec![PreviewRow::new(&record, "updated", &updated, "now")];
                let summary = match req {
                    ChangeRequest::TrustKeyRotation { internal, .. } => {
                        rows.push(PreviewRow::new(
                            &record,
                            "API key",
                            "current",
                            "new (revealed once, to the proposer)",
                        ));
                        if *internal {
                            rows.push(PreviewRow::new(
                                &record,
                                "internal-service key",
                                "current",
                                "new (revealed once, to the proposer)",
                            ));
                        }
                        format!("rotate the keys of trust «{}»", t.name)
                    }
                    _ => {
                        rows.push(PreviewRow::new(
                            &record,
                            "kit slot",
                            t.slot_name.as_deref().unwrap_or("(none)"),
                            "(freed)",
                        ));
                        rows.push(PreviewRow::new(&record, "trust", "exists", "deleted"));
                        format!("delete trust «{}»", t.name)
                    }
                };
                Ok(Read {
                    preview: Preview {
                        target: t.name.clone(),
                        summary,
                        rows,
                    },
                    version: None,
                })
            }
        }
    }

    /// Runs the approved change through its ordinary use case as `actor`, only while the
    /// target is at `version` (what the approval compared); returns what happened.
    pub(super) async fn execute_change(
        &self,
        actor: &super::Actor,
        req: &ChangeRequest,
        version: Option<i64>,
    ) -> ServiceResult<String> {
        let expected = version.map(Version);
        match req {
            ChangeRequest::UserDelete { user } => Ok(self
                .delete_user_expecting(actor, *user, expected)
                .await?
                .message),
            ChangeRequest::GlobalAdminGrant { user, .. } => {
                let edit = roles_edit(req).unwrap_or(RolesEdit::Replace(vec![]));
                let saved = self.change_roles(actor, *user, &edit, expected).await?;
                Ok(format!(
                    "global roles now {}",
                    list_or_none(&role_keys(&saved.roles))
                ))
            }
            ChangeRequest::HardDelete { mandate } => {
                let m = mstore::get(&self.db, *mandate)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(format!("no mandate {mandate}")))?;
                self.hard_delete_mandate_expecting(actor, *mandate, &m.name, expected)
                    .await?;
                Ok(format!(
                    "mandate «{}» deleted for good",
                    DisplayText::new(&m.name)
                ))
            }
            ChangeRequest::TrustDelete { trust } => {
                let d = self.delete_trust(actor, *trust, None).await?;
                Ok(format!(
                    "trust «{}» deleted",
                    DisplayText::new(&d.trust_name)
                ))
            }
            ChangeRequest::TrustKeyRotation { .. } => Err(ServiceError::Internal(
                "a key rotation is completed by its proposer".into(),
            )),
        }
    }
}
