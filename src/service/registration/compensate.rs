//! The saga's own compensation: undo an identity THIS saga created when a definitive
//! failure follows the create, or record `needs_cleanup` with both causes.

use super::rollback::RollbackFailure;
use super::show;

use crate::directory::{DirectoryError, Identity, UserKey};
use crate::domain::{RegistrationId, UserSub};
use crate::service::{Actor, ServiceError, ServiceResult, Services};
use crate::store::directory_cache;
use crate::store::registrations::{self, Change};
use crate::store::registrations::{Registration, RegistrationState};

impl Services {
    /// Deletes the identity THIS saga created (proof: the recorded sub), removes any rows for
    /// that sub, audits, `rolled_back`; on a failed delete → `needs_cleanup` with both causes.
    /// Returns the error to report.
    pub(super) async fn roll_back_created(
        &self,
        actor: &Actor,
        journal: &Registration,
        sub: UserSub,
        cause: &str,
    ) -> ServiceError {
        let id = journal.id;
        let from = match registrations::get(&self.db, id).await {
            Ok(Some(j)) => j.state(),
            _ => journal.state(),
        };
        match self
            .roll_back_identity(actor, journal, from, sub, cause)
            .await
        {
            Ok(()) => ServiceError::Internal(format!(
                "registration {id} of {} failed and was rolled back (the identity it created \
                 was deleted; no grants or profile kept): {cause}",
                show(&journal.email)
            )),
            Err(RollbackFailure::Refused(e)) => ServiceError::Internal(format!(
                "registration {id} of {} failed ({cause}); rolling it back was refused: {e}. The \
                 identity {sub} was kept; nothing was changed",
                show(&journal.email)
            )),
            Err(RollbackFailure::Database(e)) => ServiceError::Internal(format!(
                "registration {id} failed ({cause}); the rollback did not finish: {e}. The \
                 identity may already be deleted; `hubdeck users repair --rollback {id}` \
                 finishes it"
            )),
            Err(RollbackFailure::Directory(rb)) => {
                let rb_msg = format!("deleting the identity failed: {rb}");
                let both = format!(
                    "registration {id} of {} failed: {cause}; rollback also failed: {rb_msg}. The \
                     identity {sub} still exists with no grants; manual cleanup required \
                     (`hubdeck users repair --rollback {id}`).",
                    show(&journal.email)
                );
                if let Err(e) = self
                    .mark_needs_cleanup(id, from, Some(cause), &rb_msg)
                    .await
                {
                    return ServiceError::Internal(format!("{both} (journal: {e})"));
                }
                ServiceError::Internal(both)
            }
        }
    }

    pub(super) async fn mark_needs_cleanup(
        &self,
        id: RegistrationId,
        from: RegistrationState,
        cause: Option<&str>,
        rb_msg: &str,
    ) -> ServiceResult<()> {
        let mut conn = self.db.acquire().await?;
        let change = Change {
            last_error: cause,
            rollback_error: Some(rb_msg),
            ..Default::default()
        };
        if from == RegistrationState::NeedsCleanup {
            registrations::record(&mut conn, id, from, &change).await?;
        } else {
            registrations::transition(
                &mut conn,
                id,
                from,
                RegistrationState::NeedsCleanup,
                &change,
            )
            .await?;
        }
        Ok(())
    }

    /// Deletes `username` only if it still is the identity `sub`; gone already counts as done.
    pub(super) async fn delete_own_identity(
        &self,
        username: &str,
        sub: UserSub,
    ) -> Result<(), DirectoryError> {
        // Identify it with the strongly consistent read by username; fall back to the sub.
        let found = match self
            .directory
            .get_user(&UserKey::Username(username.to_string()))
            .await
        {
            Ok(i) => Some(i),
            Err(DirectoryError::NotFound(_)) => match self.directory.find_by_sub(sub).await {
                Ok(i) => Some(i),
                Err(DirectoryError::NotFound(_)) => None,
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        if let Some(i) = found
            && i.sub == sub
        {
            self.delete_verified(&i.username, sub).await?;
        }
        if let Ok(mut conn) = self.db.acquire().await {
            let _ = directory_cache::mark_gone(&mut conn, sub).await;
        }
        Ok(())
    }
    /// Deletes `username` (the identity `sub`). A not-found answer is only believed after a
    /// strongly consistent read confirms the identity is gone (a 404 can be a lie: a proxy,
    /// lag). Returns whether this call deleted it.
    pub(crate) async fn delete_verified(
        &self,
        username: &str,
        sub: UserSub,
    ) -> Result<bool, DirectoryError> {
        match self.directory.delete_user(username).await {
            Ok(()) => Ok(true),
            Err(DirectoryError::NotFound(nf)) => {
                match self
                    .directory
                    .get_user(&UserKey::Username(username.to_string()))
                    .await
                {
                    Err(DirectoryError::NotFound(_)) => Ok(false),
                    Ok(i) if i.sub != sub => Ok(false),
                    Ok(_) => Err(DirectoryError::Rejected(format!(
                        "the delete answered not found ({nf}) but the identity still exists"
                    ))),
                    Err(e) => Err(e),
                }
            }
            // A timeout may hide a delete that happened: believe the directory's own read.
            Err(e) => match self
                .directory
                .get_user(&UserKey::Username(username.to_string()))
                .await
            {
                Err(DirectoryError::NotFound(_)) => Ok(true),
                Ok(i) if i.sub != sub => Ok(true),
                _ => Err(e),
            },
        }
    }

    pub(super) async fn cache_identity(&self, i: &Identity) {
        if let Ok(mut conn) = self.db.acquire().await
            && let Err(e) = directory_cache::upsert(&mut conn, i).await
        {
            tracing::warn!("directory cache update failed (the next sync fixes it): {e}");
        }
    }
}
