//! Seed well-known users: the configured admin/researcher/viewer emails get their
//! role only if they hold no grant at all (later changes are never undone). The seed never
//! creates identities. Missing → warn, skip; transient directory failure → warn, skip,
//! continue; definitive failure → stop (the CLI exits non-zero).

use serde::Serialize;

use super::{Actor, ServiceResult, Services};
use crate::directory::{DirectoryError, UserKey};
use crate::domain::{DisplayText, Email, PermissionRef, RoleRef};
use crate::store::{directory_cache, grants, users as ustore};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum SeedOutcome {
    /// The user had no grant; the configured role was granted.
    Granted,
    /// The user already held a grant; nothing changed.
    AlreadyHadRoles,
    /// No identity with this email in the directory.
    Missing,
    /// A transient directory failure; try again later.
    Skipped(String),
}

#[derive(Clone, Debug, Serialize)]
pub struct SeedLine {
    pub email: String,
    pub role: RoleRef,
    #[serde(flatten)]
    pub outcome: SeedOutcome,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SeedSummary {
    pub lines: Vec<SeedLine>,
    /// Set when a definitive failure stopped the seed (the rest was not attempted).
    pub stopped: Option<String>,
}

impl SeedSummary {
    pub fn count(&self, f: impl Fn(&SeedOutcome) -> bool) -> usize {
        self.lines.iter().filter(|l| f(&l.outcome)).count()
    }

    /// "granted 1, already had roles 2, missing 0, skipped 1"
    pub fn totals(&self) -> String {
        format!(
            "granted {}, already had roles {}, missing {}, skipped {}",
            self.count(|o| *o == SeedOutcome::Granted),
            self.count(|o| *o == SeedOutcome::AlreadyHadRoles),
            self.count(|o| *o == SeedOutcome::Missing),
            self.count(|o| matches!(o, SeedOutcome::Skipped(_))),
        )
    }
}

impl Services {
    /// Runs the seed over `seed.{admin,researcher,viewer}_emails`, in that order.
    pub async fn seed_users(&self, actor: &Actor) -> ServiceResult<SeedSummary> {
        actor.require(PermissionRef::CanManageUsers, "seeding users")?;
        self.ensure_writable("seed users")?;
        let s = &self.settings.seed;
        let plan = s
            .admin_emails
            .iter()
            .map(|e| (e, RoleRef::Admin))
            .chain(s.researcher_emails.iter().map(|e| (e, RoleRef::Researcher)))
            .chain(s.viewer_emails.iter().map(|e| (e, RoleRef::Viewer)));
        let mut summary = SeedSummary::default();
        for (raw, role) in plan {
            let shown = DisplayText::new(raw).into_string();
            let email = match Email::parse(raw) {
                Ok(e) => e,
                Err(e) => {
                    summary.stopped = Some(format!("seed.{}_emails: {e}", role.key()));
                    break;
                }
            };
            let identity = match self
                .directory
                .get_user(&UserKey::Email(email.clone()))
                .await
            {
                Ok(i) => i,
                Err(DirectoryError::NotFound(_)) => {
                    tracing::warn!("seed-users: {shown} is not in the directory; skipped");
                    summary.lines.push(SeedLine {
                        email: shown,
                        role,
                        outcome: SeedOutcome::Missing,
                    });
                    continue;
                }
                Err(e) if e.is_transient() => {
                    tracing::warn!("seed-users: {shown}: {e}; skipped, continuing");
                    summary.lines.push(SeedLine {
                        email: shown,
                        role,
                        outcome: SeedOutcome::Skipped(e.to_string()),
                    });
                    continue;
                }
                Err(e) => {
                    summary.stopped = Some(format!("{shown}: {e}"));
                    break;
                }
            };
            let sub = identity.sub;
            let mut tx = self.db.begin().await?;
            super::actor::authorize(
                &mut tx,
                actor,
                crate::domain::PermissionRef::CanManageUsers,
                "seeding users",
            )
            .await?;
            directory_cache::upsert(&mut tx, &identity).await?;
            grants::lock_user(&mut tx, sub).await?;
            // Ensure a profile exists (never overwrite one an operator edited).
            let (local, domain) = email
                .as_str()
                .split_once('@')
                .unwrap_or((email.as_str(), ""));
            let profile_created =
                ustore::insert_profile_if_missing(&mut tx, sub, local, domain).await?;
            let held = grants::roles_of_conn(&mut tx, sub).await?;
            let outcome = if held.is_empty() {
                grants::grant_missing(&mut tx, sub, &[role.id()]).await?;
                SeedOutcome::Granted
            } else {
                SeedOutcome::AlreadyHadRoles
            };
            if outcome == SeedOutcome::Granted || profile_created {
                ustore::insert_audit(
                    &mut tx,
                    &ustore::AuditEntry {
                        action: "Seeded user",
                        user_id: sub,
                        who: actor.audit(),
                        details: serde_json::json!({
                            "email": identity.email,
                            "role_granted": (outcome == SeedOutcome::Granted).then_some(role),
                            "profile_created": profile_created,
                        }),
                    },
                )
                .await?;
            }
            tx.commit().await?;
            summary.lines.push(SeedLine {
                email: shown,
                role,
                outcome,
            });
        }
        Ok(summary)
    }
}
