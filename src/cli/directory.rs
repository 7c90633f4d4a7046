//! `hubdeck directory sync`

use crate::cli::output::outln;
use std::io::IsTerminal;

use clap::Subcommand;

use super::{Context, Output, print_json};
use crate::directory::sync::{SyncProgress, sync_all};

#[derive(Debug, Subcommand)]
pub enum DirectoryCmd {
    /// Refresh the directory_user cache from the directory (paced within the quota).
    Sync,
}

pub async fn run(ctx: &Context, cmd: DirectoryCmd) -> anyhow::Result<i32> {
    super::init_stderr_logging(&ctx.settings);
    match cmd {
        DirectoryCmd::Sync => sync(ctx).await,
    }
}

async fn sync(ctx: &Context) -> anyhow::Result<i32> {
    let svc = ctx.services().await?;
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        b.set_message(format!("syncing the {} directory", svc.directory.kind()));
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        Some(b)
    } else {
        None
    };
    let mut on_progress = |p: SyncProgress| {
        if let Some(b) = &bar {
            b.set_message(format!("{} identities, {} pages", p.seen, p.pages));
        }
    };
    let result = sync_all(svc.directory.as_ref(), &svc.db, &mut on_progress).await;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = result?;
    if ctx.output == Output::Json {
        print_json(&report)?;
    } else {
        outln!(
            "seen {}  upserted {}  marked gone {}  pages {}",
            report.seen,
            report.upserted,
            report.marked_gone,
            report.pages
        )?;
    }
    Ok(0)
}
