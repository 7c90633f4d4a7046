//! Directory → `directory_user` cache synchronisation: the use case behind
//! `hubdeck directory sync` (and the console, which runs it as an abortable task).
//!
//! Asks the directory for its estimated size first (Cognito's `EstimatedNumberOfUsers`, for the
//! progress bar), then pages through the whole directory (the adapter paces itself per quota
//! category and caps a page at 60), upserts each page in one transaction, then marks every
//! cached identity that was not seen in this run as gone. Transactions never span a directory
//! call.

use crate::store::Db;
use serde::Serialize;

use super::actor::authorize;
use super::{Actor, ServiceError};
use crate::directory::Directory;
use crate::domain::PermissionRef;
use crate::store::directory_cache;

const WHAT: &str = "syncing the directory cache";

/// Progress after each page.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SyncProgress {
    pub pages: u64,
    pub seen: u64,
    /// The directory's estimate of its size, read before the first page (None when it gives
    /// none or the estimate could not be read — the sync does not depend on it).
    pub estimated: Option<u64>,
    /// Whether this was the last page.
    pub done: bool,
}

/// What one sync did.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SyncReport {
    pub pages: u64,
    pub seen: u64,
    pub upserted: u64,
    pub marked_gone: u64,
}

/// [`sync_all_as`] as the CLI (infrastructure) actor.
pub async fn sync_all(
    directory: &dyn Directory,
    db: &Db,
    progress: &mut (dyn FnMut(SyncProgress) + Send),
) -> Result<SyncReport, ServiceError> {
    sync_all_as(directory, db, &Actor::cli(), progress).await
}

/// Refreshes the whole cache. A failure part-way leaves the pages written so far (each is
/// consistent) and marks nothing as gone, so a partial run never hides live users.
///
/// Marking identities gone or disabled changes what they may do (fresh authority reads these
/// marks), so every transaction re-reads the actor's authority first and audits each
/// identity it marks, in the same transaction.
///
/// Safe to cancel (drop the future) at any await point: every page commits whole or not at
/// all, and "gone" is only marked after the last page — a cancelled run is a partial run.
pub async fn sync_all_as(
    directory: &dyn Directory,
    db: &Db,
    actor: &Actor,
    progress: &mut (dyn FnMut(SyncProgress) + Send),
) -> Result<SyncReport, ServiceError> {
    let started = directory_cache::db_now(db).await?;
    let estimated = match directory.estimated_count().await {
        Ok(n) => n,
        Err(e) => {
            tracing::debug!("directory sync: no size estimate ({e}); progress without a total");
            None
        }
    };
    progress(SyncProgress {
        pages: 0,
        seen: 0,
        estimated,
        done: false,
    });
    let mut report = SyncReport::default();
    let mut cursor: Option<String> = None;
    loop {
        let page = directory.list_page(cursor.as_deref()).await?;
        report.pages += 1;
        report.seen += page.identities.len() as u64;
        if !page.identities.is_empty() {
            let mut tx = db.begin().await?;
            authorize(&mut tx, actor, PermissionRef::CanManageUsers, WHAT).await?;
            let disabled: Vec<uuid::Uuid> = page
                .identities
                .iter()
                .filter(|i| !i.enabled)
                .map(|i| i.sub.0)
                .collect();
            if !disabled.is_empty() {
                directory_cache::audit_disabled_by_sync(&mut tx, &disabled, actor.audit()).await?;
            }
            report.upserted += directory_cache::upsert_many(&mut tx, &page.identities).await?;
            tx.commit().await?;
        }
        progress(SyncProgress {
            pages: report.pages,
            seen: report.seen,
            estimated,
            done: page.next.is_none(),
        });
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut tx = db.begin().await?;
    authorize(&mut tx, actor, PermissionRef::CanManageUsers, WHAT).await?;
    report.marked_gone =
        directory_cache::mark_unseen_gone_audited(&mut tx, started, actor.audit()).await?;
    tx.commit().await?;
    Ok(report)
}

impl super::Services {
    /// `hubdeck directory sync` and the console's sync: refreshes the `directory_user` cache
    /// from the configured directory for an actor who manages users, reporting progress after
    /// every page. Cancel-safe as [`sync_all`] is.
    pub async fn sync_directory(
        &self,
        actor: &super::Actor,
        progress: &mut (dyn FnMut(SyncProgress) + Send),
    ) -> Result<SyncReport, ServiceError> {
        actor.require(PermissionRef::CanManageUsers, WHAT)?;
        // It writes the cache (and, through the gone/disabled marks, authority): a mutation.
        self.ensure_writable(WHAT)?;
        sync_all_as(self.directory.as_ref(), &self.db, actor, progress).await
    }
}
