//! `hubdeck directory sync`

use clap::Subcommand;

use super::Context;

#[derive(Debug, Subcommand)]
pub enum DirectoryCmd {
    /// Refresh the directory_user cache from the directory.
    Sync,
}

pub async fn run(_ctx: &Context, _cmd: DirectoryCmd) -> anyhow::Result<i32> {
    super::not_yet("directory")
}
