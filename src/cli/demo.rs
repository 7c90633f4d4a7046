//! `hubdeck demo`

use clap::Args;

use super::Context;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Wipe the demo cluster and regenerate the dataset.
    #[arg(long)]
    pub fresh: bool,
    /// Stop the demo cluster and exit.
    #[arg(long, conflicts_with_all = ["fresh", "keep_running", "no_console", "print_env"])]
    pub stop: bool,
    /// Leave the cluster running when the console exits.
    #[arg(long)]
    pub keep_running: bool,
    /// Prepare and start the demo database, print its URL on stdout and leave it running,
    /// without opening the console (use it with `--database-url`; stop with `--stop`).
    #[arg(long)]
    pub no_console: bool,
    /// Like --no-console, but print `export` lines for `eval "$(hubdeck demo --print-env)"`
    /// (selecting the registered environment `demo`).
    #[arg(long, conflicts_with = "no_console")]
    pub print_env: bool,
}

/// Prepares the demo and opens the console on it through the composition root.
pub async fn run(ctx: &Context, a: DemoArgs) -> anyhow::Result<i32> {
    let keep_running = a.keep_running;
    let run = crate::demo::run(
        &ctx.settings,
        crate::demo::DemoOptions {
            fresh: a.fresh,
            stop: a.stop,
            keep_running: a.keep_running,
            no_console: a.no_console,
            print_env: a.print_env,
        },
    )
    .await?;
    match run {
        crate::demo::DemoRun::Exit(code) => Ok(code),
        crate::demo::DemoRun::Console(prepared) => {
            let code = crate::app::run_console(prepared.launch()).await;
            prepared.finish(keep_running).await?;
            code
        }
    }
}
