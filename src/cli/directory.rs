//! `hubdeck directory sync`

use crate::cli::output::outln;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use clap::Subcommand;

use super::{Context, Output, print_json};
use crate::domain::page::thousands;
use crate::service::directory_sync::SyncProgress;

#[derive(Debug, Subcommand)]
pub enum DirectoryCmd {
    /// Refresh the directory_user cache from the directory (paced within the quota). Shows a
    /// progress bar with rate and ETA on a terminal (the total is the pool's estimated user
    /// count), plain progress lines on stderr otherwise.
    Sync,
}

pub async fn run(ctx: &Context, cmd: DirectoryCmd) -> anyhow::Result<i32> {
    super::init_stderr_logging(&ctx.settings);
    match cmd {
        DirectoryCmd::Sync => sync(ctx).await,
    }
}

/// Shows sync progress: an indicatif bar on a terminal, a line per 10 % otherwise.
struct SyncMeter {
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    /// The last tenth reported as a plain line.
    last_tenth: Option<u64>,
}

impl SyncMeter {
    fn new(kind: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_message(format!("syncing the {kind} directory"));
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Self {
            bar,
            started: Instant::now(),
            last_tenth: None,
        }
    }

    fn update(&mut self, p: SyncProgress) {
        // An estimate is only an estimate: never let the count run past the total.
        let total = p
            .estimated
            .map(|e| if p.done { p.seen } else { e.max(p.seen) });
        match &self.bar {
            Some(b) => {
                if let Some(total) = total {
                    if b.length() != Some(total) {
                        if b.length().is_none() {
                            b.set_style(
                                indicatif::ProgressStyle::with_template(
                                    "{spinner} [{bar:30}] {human_pos}/{human_len} ({percent}%) \
                                     {rate} ETA {eta} [{elapsed}]",
                                )
                                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                                .with_key(
                                    "rate",
                                    |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                                        let _ = write!(w, "{:.0}/s", s.per_sec());
                                    },
                                )
                                .progress_chars("=> "),
                            );
                        }
                        b.set_length(total);
                    }
                } else {
                    b.set_message(format!(
                        "{} identities, {} pages",
                        thousands(p.seen),
                        p.pages
                    ));
                }
                b.set_position(p.seen);
                if p.done {
                    // Leave the finished bar (100 %) on the screen.
                    b.finish();
                }
            }
            None => self.line(p, total),
        }
    }

    fn line(&mut self, p: SyncProgress, total: Option<u64>) {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = p.seen as f64 / secs;
        match total {
            Some(total) if total > 0 => {
                let tenth = (p.seen * 10 / total).min(10);
                if p.pages == 0 || (self.last_tenth.is_some_and(|t| tenth <= t) && !p.done) {
                    return;
                }
                self.last_tenth = Some(tenth);
                let pct = p.seen * 100 / total;
                let eta = if rate > 0.0 {
                    (total.saturating_sub(p.seen)) as f64 / rate
                } else {
                    0.0
                };
                eprintln!(
                    "directory sync: {}/{} ({pct}%) {:.0}/s ETA {:.0}s",
                    thousands(p.seen),
                    thousands(total),
                    rate,
                    eta
                );
            }
            _ => {
                if p.done || (p.pages > 0 && p.pages.is_multiple_of(50)) {
                    eprintln!(
                        "directory sync: {} identities, {} pages, {:.0}/s",
                        thousands(p.seen),
                        p.pages,
                        rate
                    );
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            if !b.is_finished() {
                b.abandon();
            }
            // The finished bar stays; what follows starts on its own line.
            eprintln!();
        }
    }
}

async fn sync(ctx: &Context) -> anyhow::Result<i32> {
    let svc = ctx.services().await?;
    let actor = ctx.actor(&svc.db).await?;
    let mut meter = SyncMeter::new(svc.directory.kind());
    let mut on_progress = |p: SyncProgress| meter.update(p);
    let result = svc.sync_directory(&actor, &mut on_progress).await;
    meter.finish();
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
