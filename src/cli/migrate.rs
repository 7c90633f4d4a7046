//! `hubdeck migrate`

use super::Context;
use crate::service::schema;

pub async fn run(ctx: &Context) -> anyhow::Result<i32> {
    super::init_stderr_logging(&ctx.settings);
    super::login::precheck(ctx)?;
    // Changing the schema is the largest write of all: refused like every other mutation.
    crate::service::ensure_writable(&ctx.settings, "applying migrations")?;
    let db = schema::connect(&ctx.settings).await?;
    // A schema change is a deploy step: infrastructure, or a signed-in system administrator
    // (whose session can only be checked once the sessions table exists).
    let actor = ctx.actor(&db).await?;
    actor.require(
        crate::domain::PermissionRef::CanAccessAdminPanel,
        "applying migrations",
    )?;
    let run = schema::migrate(&db).await?;
    if run.after > run.before {
        eprintln!(
            "applied {} migration(s); schema at version {}",
            run.after - run.before,
            run.latest_version
        );
    } else {
        eprintln!(
            "schema up to date ({} migrations applied); nothing to do",
            run.after
        );
    }
    Ok(0)
}
