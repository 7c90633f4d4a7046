//! `hubdeck register-trust`, `hubdeck trusts ...`, `hubdeck kit-slots ...`

use clap::{Args, Subcommand};

use super::Context;

#[derive(Debug, Args)]
pub struct RegisterTrustArgs {
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub code: String,
    #[arg(long)]
    pub region: Option<String>,
    /// Exit 3 instead of 0 when a trust with this name exists.
    #[arg(long)]
    pub fail_if_exists: bool,
}

#[derive(Debug, Subcommand)]
pub enum TrustsCmd {
    /// List trusts.
    List,
}

#[derive(Debug, Subcommand)]
pub enum KitSlotsCmd {
    /// List kit slots.
    List,
}

pub async fn register(_ctx: &Context, _a: RegisterTrustArgs) -> anyhow::Result<i32> {
    super::not_yet("register-trust")
}

pub async fn run(_ctx: &Context, _cmd: TrustsCmd) -> anyhow::Result<i32> {
    super::not_yet("trusts")
}

pub async fn run_kit_slots(_ctx: &Context, _cmd: KitSlotsCmd) -> anyhow::Result<i32> {
    super::not_yet("kit-slots")
}
