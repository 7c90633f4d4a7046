//! `hubdeck demo`

use clap::Args;

use super::Context;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Wipe the demo cluster and regenerate the dataset.
    #[arg(long)]
    pub fresh: bool,
    /// Stop the demo cluster and exit.
    #[arg(long)]
    pub stop: bool,
    /// Leave the cluster running when the console exits.
    #[arg(long)]
    pub keep_running: bool,
}

pub async fn run(_ctx: &Context, _a: DemoArgs) -> anyhow::Result<i32> {
    super::not_yet("demo")
}
