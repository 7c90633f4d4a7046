//! Every use case, every authorization check, every transaction boundary. One file per
//! capability (`hubdeck mandates …` and the Mandates screen → `mandates.rs`); each public fn
//! on [`Services`] is one use case, written once and called by both the CLI and the console.
//!
//! The house rules a use case follows, each in one place:
//! - who acts: [`Actor`] (`require`, fresh authority in [`actor`]); the audit columns of every
//!   audit row come from [`Actor::audit`];
//! - mutations check [`Services::ensure_writable`] (read-only mode) before writing, and write
//!   the change and its audit row in one transaction;
//! - a transaction hit by a serialization failure or deadlock runs again through
//!   `retry::retrying` — the one retry policy;
//! - long-running work (audit export, directory sync, registration, bulk actions) is a plain
//!   async fn that is safe to drop at any await point, so the console runs it as an abortable
//!   task; where the operator waits on it, it takes a progress callback
//!   ([`Services::export_to_file_with`], [`Services::sync_directory`]).
//!
//! Below it: `store` (SQL) and `directory` (the identity provider port); above it: `cli`,
//! `tui` and the composition root `app`. Nothing here imports those.

pub mod access;
pub mod actor;
pub mod approval_decisions;
pub mod approval_preview;
pub mod approvals;
pub mod audit;
pub mod audit_view;
pub mod authority;
pub mod bulk;
pub mod changes;
pub mod cli_session;
pub mod credential_files;
pub mod directory_sync;
pub mod drift;
pub mod error;
pub mod health;
pub mod mandate_lifecycle;
pub mod mandates;
pub mod member_writes;
pub mod members;
pub mod mfa;
pub mod outage;
pub mod outcome;
pub mod plans;
pub mod pooler;
pub mod references;
pub mod registration;
pub mod registration_detail;
pub mod retry;
pub mod role_forms;
pub mod roles;
pub mod schema;
pub mod seal;
pub mod seal_badge;
pub mod seed_users;
pub mod session;
pub mod trust_keys;
pub mod trusts;
pub mod undo;
pub mod user_access;
pub mod user_roles;
pub mod users;
pub mod versions;

pub use crate::store::{Conn, Db};
use std::sync::Arc;

use crate::config::Settings;
use crate::directory::Directory;

pub use actor::{Actor, Operator, Via};
pub use error::{ServiceError, ServiceResult};

/// The shared service context: database pool, directory, settings.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub directory: Arc<dyn Directory>,
    pub settings: Arc<Settings>,
}

impl Services {
    /// Settings → database pool (no migration) → the configured directory → services. The
    /// composition root ([`crate::app`]) and the console's environment switch both use it.
    pub async fn connect(settings: Arc<Settings>) -> ServiceResult<Self> {
        let db = schema::connect(&settings).await?;
        Self::on_pool(db, settings).await
    }

    /// Services over an open pool (the demo's freshly migrated database).
    pub async fn on_pool(db: Db, settings: Arc<Settings>) -> ServiceResult<Self> {
        let directory = crate::directory::connect(&settings, &db).await?;
        Ok(Self::new(db, directory, settings))
    }

    pub fn new(db: Db, directory: Arc<dyn Directory>, settings: Arc<Settings>) -> Self {
        Self {
            db,
            directory,
            settings,
        }
    }

    /// Refuses a mutation in read-only mode (`--read-only` / `ui.read_only`).
    pub fn ensure_writable(&self, what: &'static str) -> ServiceResult<()> {
        ensure_writable(&self.settings, what)
    }
}

/// The one read-only check (`--read-only` / `ui.read_only`): every mutation calls it (through
/// [`Services::ensure_writable`] or, for [`trusts::Trusts`], directly) before it writes.
pub(crate) fn ensure_writable(settings: &Settings, what: &'static str) -> ServiceResult<()> {
    if settings.ui.read_only {
        return Err(ServiceError::ReadOnly(what));
    }
    Ok(())
}
