//! `hubdeck migrate`

use super::Context;

pub async fn run(ctx: &Context) -> anyhow::Result<i32> {
    super::init_stderr_logging(&ctx.settings);
    let db = crate::store::connect(&ctx.settings.database).await?;
    let before = crate::store::applied_migrations(&db).await.unwrap_or(0);
    crate::store::migrate(&db).await?;
    let after = crate::store::applied_migrations(&db).await?;
    if after > before {
        eprintln!(
            "applied {} migration(s); schema at version {}",
            after - before,
            crate::MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
        );
    } else {
        eprintln!("schema up to date ({after} migrations applied); nothing to do");
    }
    Ok(0)
}
