//! `hubdeck demo`: a private PostgreSQL cluster under the data dir, migrated and filled with the
//! generated dataset on first run, the LocalDirectory, and the console signed in as the demo
//! admin. The cluster stops when the console exits unless `--keep-running`.
//!
//! Where the cluster lives: `<data dir>/demo` (data dir = `HUBDECK_DATA_DIR` or the platform
//! data dir). PostgreSQL refuses to run as root, so as root the server runs as the `postgres`
//! account; when that account cannot reach the data dir (e.g. `/root` is mode 700) the cluster
//! goes to `/var/tmp/hubdeck-demo-<uid>/<hash of the data dir>` instead and a note says so.
//! A cluster directory is only used when this account created it (see [`claim`]).

use std::io::IsTerminal;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::Digest;

use crate::config::{DatabaseUrl, DirectoryKind, Settings};
use crate::domain::page::thousands;
use crate::localpg::{LocalCluster, PgBinaries, RunAs, free_port};
use crate::store::dataset::{self, DatasetSpec, DemoAdmin, Outcome};

mod claim;

/// The demo operator's credentials (printed before the console starts and shown in its help).
pub const DEMO_ADMIN_EMAIL: &str = "admin@hubdeck.example";
pub const DEMO_ADMIN_PASSWORD: &str = "hubdeck-demo";
pub const DEMO_ADMIN_NAME: &str = "Demo Administrator";
/// The database the demo uses inside its cluster.
pub const DEMO_DATABASE: &str = "hubdeck";

/// What `hubdeck demo` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct DemoOptions {
    pub fresh: bool,
    pub stop: bool,
    pub keep_running: bool,
    /// Prepare and start the cluster, print its URL, leave it running; no console.
    pub no_console: bool,
    /// Like `no_console`, but print `export` lines (for `eval`) instead of the URL.
    pub print_env: bool,
}

/// The name the demo registers itself under (`hubdeck --env demo ...`).
pub const DEMO_ENV: &str = "demo";

/// What the demo puts under the two-person rule, to show it.
pub const DEMO_APPROVALS: [&str; 2] = ["hard_delete", "trust_delete"];

/// The overlay of the `demo` environment: its database and the local directory.
pub fn env_overlay(database_url: &str) -> String {
    let url = toml::Value::String(database_url.to_string());
    format!(
        "# Written by `hubdeck demo` each time it starts the demo cluster: the environment\n\
         # `demo` (hubdeck --env demo ...). Replaced on the next start; do not edit.\n\
         [database]\nurl = {url}\n\n[directory]\nkind = \"local\"\n\n\
         [ui]\nenvironment_color = \"green\"\nread_only = false\n\n\
         # The demo's scripted flows may act as infrastructure (--as-infrastructure).\n\
         [cli]\ninfrastructure = true\n\n\
         # Two-person rule: these need a second operator's approval (Approvals tab).\n\
         [approvals]\nrequire = {DEMO_APPROVALS:?}\n"
    )
}

/// Registers the running demo cluster as the environment `demo` under `data_dir`.
pub fn register(data_dir: &Path, database_url: &str) -> anyhow::Result<PathBuf> {
    crate::config::register_env(data_dir, DEMO_ENV, &env_overlay(database_url))
        .with_context(|| format!("registering the environment {DEMO_ENV:?}"))
}

/// The cluster root for a data dir, and a note when the fallback location is used.
pub fn cluster_root(data_dir: &Path, run_as: Option<RunAs>) -> (PathBuf, Option<String>) {
    let preferred = data_dir.join("demo");
    let Some(r) = run_as else {
        return (preferred, None);
    };
    if reachable_by(&preferred, r) {
        return (preferred, None);
    }
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    // One cluster per data dir (tests use temporary data dirs), named by the dir's hash.
    let canonical = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let digest = sha2::Sha256::digest(canonical.as_os_str().as_encoded_bytes());
    let fallback =
        PathBuf::from(format!("/var/tmp/hubdeck-demo-{uid}")).join(&hex::encode(digest)[..12]);
    let note = format!(
        "note: PostgreSQL runs as an unprivileged account (uid {}) that cannot reach {}; \
         the demo cluster lives in {} instead",
        r.uid,
        data_dir.display(),
        fallback.display()
    );
    (fallback, Some(note))
}

/// Whether every existing ancestor of `path` can be traversed by the account `r`.
fn reachable_by(path: &Path, r: RunAs) -> bool {
    let mut cur = Some(path);
    while let Some(p) = cur {
        if let Ok(m) = std::fs::metadata(p) {
            let mode = m.mode();
            let ok = if m.uid() == r.uid {
                mode & 0o100 != 0
            } else if m.gid() == r.gid {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            if !ok {
                return false;
            }
        }
        cur = p.parent();
    }
    true
}

/// The dataset size: `HUBDECK_DEMO_SCALE` = small | demo (default) | bench.
pub fn spec_from_env() -> anyhow::Result<DatasetSpec> {
    let name = std::env::var("HUBDECK_DEMO_SCALE").unwrap_or_default();
    DatasetSpec::named(&name)
        .with_context(|| format!("HUBDECK_DEMO_SCALE must be small, demo or bench (got {name:?})"))
}

/// Progress lines: a bar on a terminal, plain lines otherwise (stderr).
pub struct Reporter {
    bar: Option<ProgressBar>,
}

impl Reporter {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(1);
            b.set_style(
                ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Self { bar }
    }

    pub fn step(&self, step: usize, total: usize, what: &str) {
        match &self.bar {
            Some(b) => {
                b.set_length(total as u64);
                b.set_position(step.saturating_sub(1) as u64);
                b.set_message(what.to_string());
            }
            None => eprintln!("hubdeck demo: [{step}/{total}] {what}"),
        }
    }

    pub fn line(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.println(msg),
            None => eprintln!("{msg}"),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Default for Reporter {
    fn default() -> Self {
        Self::new()
    }
}

/// A prepared demo: the running cluster and a migrated, populated database.
pub struct PreparedDemo {
    pub cluster: LocalCluster,
    pub settings: Settings,
    pub db: crate::service::Db,
    pub outcome: Outcome,
    /// Whether this run started the server (rather than finding it running).
    pub started: bool,
}

/// Locates the server binaries and builds the cluster description for the data dir.
pub fn cluster_for(data_dir: &Path) -> anyhow::Result<(LocalCluster, Option<String>)> {
    let bins = PgBinaries::locate()?;
    let run_as = RunAs::resolve()?;
    let (root, note) = cluster_root(data_dir, run_as);
    let cluster = LocalCluster::new(bins, &root, 0)?;
    Ok((cluster, note))
}

/// Stops the demo cluster of `data_dir`. Returns whether one was running.
pub fn stop(data_dir: &Path) -> anyhow::Result<bool> {
    let (cluster, _) = cluster_for(data_dir)?;
    if let Some(root) = cluster.data_dir.parent() {
        if std::fs::symlink_metadata(root).is_err() {
            return Ok(false);
        }
        claim::check(root, cluster.run_as)?;
    }
    if !cluster.is_running() {
        return Ok(false);
    }
    cluster.stop()?;
    Ok(true)
}

/// Initialises or re-uses the cluster, starts it, migrates, and generates the dataset if the
/// database does not hold it yet.
pub async fn prepare(
    base: &Settings,
    data_dir: &Path,
    opts: &DemoOptions,
    spec: &DatasetSpec,
    report: &Reporter,
) -> anyhow::Result<PreparedDemo> {
    let (mut cluster, note) = cluster_for(data_dir)?;
    if let Some(n) = note {
        report.line(&n);
    }
    let root = cluster
        .data_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    if opts.fresh && std::fs::symlink_metadata(&root).is_ok() {
        // Stopping runs the server tools on the directory: only on one this account made.
        if claim::check(&root, cluster.run_as).is_ok() && cluster.is_running() {
            report.line("hubdeck demo: --fresh: stopping the running demo cluster");
            cluster.stop()?;
        }
        report.line(&format!(
            "hubdeck demo: --fresh: removing {}",
            root.display()
        ));
        claim::remove(&root)?;
    }
    claim::claim(&root, cluster.run_as)?;
    let running = cluster.is_running();
    let started = !running;
    if running {
        cluster.port = cluster
            .running_port()
            .context("the demo cluster runs but its postmaster.pid names no port")?;
    } else {
        if !cluster.is_initialised() {
            report.line(&format!(
                "hubdeck demo: creating a PostgreSQL cluster in {} (from {})",
                cluster.data_dir.display(),
                cluster.bins.bindir.display()
            ));
            cluster.init()?;
        }
        cluster.port = free_port()?;
        cluster.start_daemon()?;
    }
    let result = async {
        cluster.wait_ready(Duration::from_secs(30)).await?;
        let server = sqlx::PgPool::connect(&cluster.url("postgres")).await?;
        dataset::create_database_if_missing(&server, DEMO_DATABASE).await?;
        server.close().await;

        let mut settings = base.clone();
        settings.database.url = DatabaseUrl::new(cluster.url(DEMO_DATABASE));
        settings.directory.kind = DirectoryKind::Local;
        settings.ui.environment = DEMO_ENV.into();
        settings.env = Some(DEMO_ENV.into());
        settings.ui.environment_color = "green".into();
        if settings.approvals.require == ["default"] {
            settings.approvals.require = DEMO_APPROVALS.map(String::from).to_vec();
        }
        let db = crate::service::schema::connect(&settings).await?;
        crate::service::schema::migrate(&db).await?;
        let outcome = match dataset::current_hash(&db).await? {
            Some(h) if h == spec.hash() => Outcome::Reused,
            Some(_) => anyhow::bail!(
                "the demo database holds a dataset generated with other settings (seed or \
                 HUBDECK_DEMO_SCALE); run `hubdeck demo --fresh` to regenerate it"
            ),
            None => {
                report.line(&format!(
                    "hubdeck demo: generating the demo dataset ({} mandates, {} users)",
                    spec.mandates, spec.users
                ));
                let admin = DemoAdmin {
                    email: DEMO_ADMIN_EMAIL.into(),
                    name: DEMO_ADMIN_NAME.into(),
                    password_hash: hash_password(DEMO_ADMIN_PASSWORD)?,
                };
                let progress = |e: dataset::ProgressEvent| report.step(e.step, e.total, e.what);
                dataset::ensure(&db, spec, Some(&admin), &progress).await?
            }
        };
        anyhow::Ok((settings, db, outcome))
    }
    .await;
    match result {
        Ok((settings, db, outcome)) => Ok(PreparedDemo {
            cluster,
            settings,
            db,
            outcome,
            started,
        }),
        Err(e) => {
            if started && !opts.keep_running {
                let _ = cluster.stop();
            }
            Err(e)
        }
    }
}

/// An argon2 PHC string for the demo password (the LocalDirectory's own hashing).
fn hash_password(password: &str) -> anyhow::Result<String> {
    let secret = crate::domain::Secret::new(password);
    Ok(crate::directory::local::hash_password(&secret)?)
}

/// What `hubdeck demo` leaves to its caller.
pub enum DemoRun {
    /// Done (stopped, printed the environment, or refused): exit with this code.
    Exit(i32),
    /// The cluster is ready: open the console on [`PreparedDemo::launch`] through the
    /// composition root, then call [`PreparedDemo::finish`].
    Console(Box<PreparedDemo>),
}

/// `hubdeck demo`: stops, or prepares the cluster and the dataset. It never opens the console
/// itself: it hands the prepared environment back ([`DemoRun::Console`]).
pub async fn run(base: &Settings, opts: DemoOptions) -> anyhow::Result<DemoRun> {
    let data_dir = crate::files::ensure_data_dir()
        .with_context(|| format!("creating {}", crate::config::data_dir().display()))?;
    if opts.stop {
        let was = stop(&data_dir)?;
        eprintln!(
            "hubdeck demo: {}",
            if was {
                "stopped the demo cluster"
            } else {
                "the demo cluster is not running"
            }
        );
        return Ok(DemoRun::Exit(0));
    }
    let spec = match spec_from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hubdeck: {e:#}");
            return Ok(DemoRun::Exit(2));
        }
    };
    let t0 = Instant::now();
    let report = Reporter::new();
    let prepared = prepare(base, &data_dir, &opts, &spec, &report).await;
    report.finish();
    let prepared = prepared?;
    // Counting rows costs ~0.5 s at the benchmark scale: only after generating; a re-used
    // dataset is described by its (recorded, unchanged) spec.
    match prepared.outcome {
        Outcome::Generated => {
            let counts = dataset::counts(&prepared.db).await?;
            eprintln!(
                "hubdeck demo: generated dataset: {} mandates, {} users, {} memberships, {} trusts ({} ms)",
                thousands(counts.live_mandates as u64),
                thousands(counts.users as u64),
                thousands(counts.memberships as u64),
                counts.trusts,
                t0.elapsed().as_millis()
            );
        }
        Outcome::Reused => eprintln!(
            "hubdeck demo: re-using the dataset (seed {}, {} mandates, {} users) ({} ms)",
            spec.seed,
            thousands(u64::from(spec.mandates)),
            thousands(u64::from(spec.users)),
            t0.elapsed().as_millis()
        ),
    }
    let url = prepared.cluster.url(DEMO_DATABASE);
    let registered = register(&data_dir, &url)?;
    if opts.print_env {
        // For `eval "$(hubdeck demo --print-env)"`: the environment name is enough (the
        // registered file holds the URL), so a later --env still switches cleanly.
        println!("export HUBDECK_ENV={DEMO_ENV}");
        if std::env::var_os("HUBDECK_DATA_DIR").is_some() {
            println!(
                "export HUBDECK_DATA_DIR={}",
                shell_quote(&data_dir.display().to_string())
            );
        }
        eprintln!("hubdeck demo: the cluster keeps running; stop it with `hubdeck demo --stop`");
        return Ok(DemoRun::Exit(0));
    }
    if opts.no_console {
        println!("{url}");
        eprintln!(
            "hubdeck demo: the cluster keeps running, registered as the environment \"{DEMO_ENV}\" \
             ({}). Use it with:\n\
             \x20 hubdeck --env {DEMO_ENV} login                  # CLI commands act as who signs in ({DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD})\n\
             \x20 hubdeck --env {DEMO_ENV} users list\n\
             \x20 hubdeck --env {DEMO_ENV} mandates list\n\
             \x20 hubdeck --env {DEMO_ENV} --as-infrastructure mandates list   # or as infrastructure, which the demo allows\n\
             \x20 hubdeck --env {DEMO_ENV}                 # the console (sign in as {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD})\n\
             \x20 eval \"$(hubdeck demo --print-env)\"    # then plain `hubdeck users list`\n\
             \x20 hubdeck demo --stop                    # stop the cluster",
            registered.display()
        );
        return Ok(DemoRun::Exit(0));
    }
    eprintln!(
        "hubdeck demo: sign in as {DEMO_ADMIN_EMAIL} with password {DEMO_ADMIN_PASSWORD} \
         (also shown on the help screen, `?`)"
    );
    Ok(DemoRun::Console(Box::new(prepared)))
}

impl PreparedDemo {
    /// The console on the demo database, signed in as the demo admin.
    pub fn launch(&self) -> crate::app::ConsoleLaunch {
        crate::app::ConsoleLaunch {
            settings: Arc::new(self.settings.clone()),
            db: Some(self.db.clone()),
            signed_in_as: Some((dataset::DEMO_ADMIN_SUB.into(), DEMO_ADMIN_EMAIL.into())),
            demo_credentials: Some((DEMO_ADMIN_EMAIL.into(), DEMO_ADMIN_PASSWORD.into())),
            env_switch: crate::tui::EnvSwitch::default(),
        }
    }

    /// After the console: stops the cluster unless `keep_running`, or unless this run found it
    /// running (`demo --no-console` started it for other terminals, which still use it).
    pub async fn finish(self, keep_running: bool) -> anyhow::Result<()> {
        if !self.started {
            eprintln!(
                "hubdeck demo: the cluster was already running when this console started; left \
                 running for whoever started it (stop it with `hubdeck demo --stop`)"
            );
        } else if !keep_running {
            self.db.close().await;
            self.cluster.stop()?;
            eprintln!("hubdeck demo: stopped the demo cluster");
        } else {
            eprintln!(
                "hubdeck demo: the cluster keeps running at {}; stop it with `hubdeck demo --stop`",
                self.cluster.url(DEMO_DATABASE)
            );
        }
        Ok(())
    }
}

/// Single-quotes a value for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
