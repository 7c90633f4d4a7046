//! `hubdeck audit list|export`

use clap::Subcommand;

use super::Context;

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// List audit rows.
    List,
}

pub async fn run(_ctx: &Context, _cmd: AuditCmd) -> anyhow::Result<i32> {
    super::not_yet("audit")
}
