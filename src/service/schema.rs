//! The database connection and the schema: connecting without touching the schema, and
//! `hubdeck migrate` (the embedded migrations). The CLI, the composition root and the demo
//! call these (the demo reaches `store` only for its generated dataset, `store::dataset`).

use crate::store::Db;

use super::ServiceResult;
use crate::config::Settings;

/// Opens a pool on `database.url` without touching the schema.
pub async fn connect(settings: &Settings) -> ServiceResult<Db> {
    Ok(crate::store::connect(&settings.database).await?)
}

/// What [`migrate`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MigrationRun {
    /// Migrations applied before and after the run.
    pub before: i64,
    pub after: i64,
    /// The newest migration version embedded in this build.
    pub latest_version: i64,
}

/// Applies the embedded migrations; a no-op when they are all applied.
pub async fn migrate(db: &Db) -> ServiceResult<MigrationRun> {
    let before = crate::store::applied_migrations(db).await.unwrap_or(0);
    crate::store::migrate(db).await?;
    let after = crate::store::applied_migrations(db).await?;
    Ok(MigrationRun {
        before,
        after,
        latest_version: crate::MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0),
    })
}
