//! `hubdeck mandates ...`, `hubdeck purge-mandates`

use clap::{Args, Subcommand};

use super::Context;

#[derive(Debug, Subcommand)]
pub enum MandatesCmd {
    /// List mandates.
    List,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Only list what would be purged.
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(_ctx: &Context, _cmd: MandatesCmd) -> anyhow::Result<i32> {
    super::not_yet("mandates")
}

pub async fn purge(_ctx: &Context, _a: PurgeArgs) -> anyhow::Result<i32> {
    super::not_yet("purge-mandates")
}
