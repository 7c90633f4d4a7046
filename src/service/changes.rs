//! The change feed behind the console's live view: what was committed by anyone (another
//! console, the CLI, the hub's own API writing the same audit tables) since the last poll.
//!
//! A keyset poll of the audit tables by writing transaction (see `store::changes`): cheap when
//! nothing happened (three index probes), no lock on the hub's writes (unlike NOTIFY, which
//! serialises committing transactions on a global lock), and it works through a
//! transaction-mode connection pooler because it keeps no session state.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Actor, ServiceResult, Services};
use crate::domain::{PermissionRef, UserSub};
use crate::store::changes as store;

/// The most audit rows one poll reads; a larger burst is reported as an overflow (read the
/// page again, mark nothing) rather than read in full.
pub const POLL_LIMIT: i64 = 500;

/// Which records a change is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeSource {
    Users,
    Trusts,
    Mandates,
}

/// One committed change, as the live view shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub source: ChangeSource,
    /// The record changed (user sub, trust id, mandate id).
    pub subject: Option<Uuid>,
    /// The user a membership change is about, if any.
    pub target_user: Option<Uuid>,
    pub action: String,
    /// Who did it, for display: the operator's email, or "OS-USER via cli", or "system".
    /// Untrusted text: the console sanitizes it before showing it.
    pub who: String,
    pub actor: Option<UserSub>,
    pub at: DateTime<Utc>,
}

/// Where the next poll starts: every transaction below `mark` had ended when it was taken;
/// `seen` holds the changes already reported from transactions at or above it (read again
/// until the mark passes them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeCursor {
    mark: i64,
    seen: HashSet<Uuid>,
}

/// What one poll found.
#[derive(Clone, Debug, Default)]
pub struct ChangeBatch {
    pub cursor: ChangeCursor,
    pub changes: Vec<Change>,
    /// More than [`POLL_LIMIT`] changes at once: read everything again, mark nothing.
    pub overflow: bool,
}

/// How far before its first poll the feed starts: longer than a first page takes to arrive.
const START_LOOKBACK_SECS: i64 = 30;

fn who(r: &store::ChangeRow) -> String {
    match (&r.actor_email, r.actor_user_id, &r.os_user) {
        (Some(e), _, _) => e.clone(),
        (None, Some(sub), _) => format!("user {sub}"),
        (None, None, Some(os)) => format!("{os} via {}", r.via),
        (None, None, None) => r.via.clone(),
    }
}

impl Services {
    /// Changes committed since `cursor` (None: start now, report nothing). Only what the
    /// actor may read is reported: user changes need CAN_MANAGE_USERS, trust changes a
    /// SysAdmin; mandate changes name their author only to a SysAdmin.
    pub async fn poll_changes(
        &self,
        actor: &Actor,
        cursor: Option<ChangeCursor>,
    ) -> ServiceResult<ChangeBatch> {
        let mut conn = self.db.acquire().await?;
        // Fresh, like every read: what an operator demoted since the last poll may no longer
        // read is not reported, and a disabled or deleted one is refused (signed out).
        let now = super::actor::fresh_authority(&mut conn, actor).await?;
        // The horizon first: a transaction below it has ended, so its rows are visible to the
        // read that follows on this connection.
        let horizon = store::horizon(&mut conn).await?;
        let Some(cursor) = cursor else {
            // The console read its first page a moment before this first poll: start a little
            // earlier, so a change committed in between is reported by the next poll instead
            // of falling between the page and the mark.
            let recent = store::recent_mark(&mut conn, START_LOOKBACK_SECS).await?;
            return Ok(ChangeBatch {
                cursor: ChangeCursor {
                    mark: recent.map_or(horizon, |r| r.min(horizon)),
                    seen: HashSet::new(),
                },
                ..Default::default()
            });
        };
        let rows = store::since(&mut conn, cursor.mark, POLL_LIMIT).await?;
        drop(conn);
        let overflow = rows.len() as i64 >= POLL_LIMIT;
        let users = now.has(PermissionRef::CanManageUsers);
        let admin = now.has(PermissionRef::CanAccessAdminPanel);
        let mut seen = HashSet::new();
        let mut changes = Vec::new();
        for r in &rows {
            if r.xid >= horizon {
                seen.insert(r.id);
            }
            if cursor.seen.contains(&r.id) || overflow {
                continue;
            }
            let source = match r.source.as_str() {
                "users" if users => ChangeSource::Users,
                "trusts" if admin => ChangeSource::Trusts,
                "mandates" => ChangeSource::Mandates,
                _ => continue,
            };
            let named = admin || source != ChangeSource::Mandates;
            changes.push(Change {
                source,
                subject: r.subject_id,
                target_user: r.target_user_id.filter(|_| named),
                action: r.action.clone(),
                who: if named {
                    who(r)
                } else {
                    "another operator".into()
                },
                actor: r.actor_user_id.map(UserSub),
                at: r.occurred_at,
            });
        }
        Ok(ChangeBatch {
            cursor: ChangeCursor {
                mark: horizon.max(cursor.mark),
                seen,
            },
            changes,
            overflow,
        })
    }
}
