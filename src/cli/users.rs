//! `hubdeck users ...`, `hubdeck seed-users`

use clap::Subcommand;

use super::Context;

#[derive(Debug, Subcommand)]
pub enum UsersCmd {
    /// List users.
    List,
}

pub async fn run(_ctx: &Context, _cmd: UsersCmd) -> anyhow::Result<i32> {
    super::not_yet("users")
}

pub async fn seed(_ctx: &Context) -> anyhow::Result<i32> {
    super::not_yet("seed-users")
}
