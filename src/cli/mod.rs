//! clap subcommands calling the same services as the console. One file per subcommand group
//! (`hubdeck users …` → `users.rs`); every list flattens [`page_args::PageArgs`]. A command
//! parses its flags into domain types, calls one `Services` use case and prints the result
//! (through [`output`], the sanitizer on every cell). It never reaches the database or the
//! directory itself: the services come from the composition root ([`crate::app`]) through
//! [`Context::services`], and `cli` imports no `store` (`tests/it/architecture.rs`).

pub mod approvals;
pub mod audit;
pub mod audit_seal;
pub mod completions;
pub mod demo;
pub mod directory;
pub mod doctor;
pub mod drift;
pub mod drift_class;
pub mod env;
pub mod login;
pub mod mandates;
pub mod members_bulk;
pub mod migrate;
pub mod output;
pub mod page_args;
pub mod plans;
pub mod registration_show;
pub mod target_args;
pub mod trust_keys;
pub mod trusts;
pub mod users;

use crate::service::Db;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Settings;
use crate::service::{ServiceError, Services};

pub const EXIT_CODES: &str = "\
Exit codes:
  0  ok
  1  failure (directory or database unavailable, unexpected error)
  2  usage error or invalid input
  3  conflict / already exists
  4  not found / permission denied / not signed in (`hubdeck login`) / the operator's
     authority was revoked

Settings: built-in defaults < config.toml in the config dir (or --config PATH) <
the selected environment ([env.NAME], chosen by --env / HUBDECK_ENV / default_env) <
HUBDECK_<SECTION>__<KEY> environment variables (e.g. HUBDECK_DATABASE__URL) < flags.";

/// The heading of the flags every command takes, apart from each command's own.
const GLOBAL: &str = "Global options";

#[derive(Debug, Parser)]
#[command(name = "hubdeck", version, about = "Terminal admin console for a federated-learning hub: mandates, members, users and trusts", after_help = EXIT_CODES)]
pub struct Cli {
    /// Read settings from this TOML file instead of config.toml in the config dir.
    #[arg(long, global = true, help_heading = GLOBAL, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Use the environment NAME ([env.NAME] in the config file, or one registered by
    /// `hubdeck demo`); `hubdeck env list` shows them.
    #[arg(long = "env", global = true, help_heading = GLOBAL, value_name = "NAME", env = "HUBDECK_ENV")]
    pub env: Option<String>,
    /// Output format of list and result commands.
    #[arg(long, global = true, help_heading = GLOBAL, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Refuse every mutation (also `ui.read_only`).
    #[arg(long, global = true, help_heading = GLOBAL, conflicts_with = "read_write")]
    pub read_only: bool,
    /// Allow mutations in an environment that is read-only by default (`ui.read_only`).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub read_write: bool,
    /// Act as infrastructure (every permission, audited with the OS account) instead of the
    /// operator signed in with `hubdeck login`; only where `cli.infrastructure = true`.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub as_infrastructure: bool,
    /// Where the environment puts the command's action under the two-person rule
    /// (`[approvals] require`): propose it as a pending change with this reason instead of
    /// refusing. Also the reason of `approvals reject`.
    #[arg(long, global = true, value_name = "TEXT")]
    pub reason: Option<String>,
    /// PostgreSQL URL (overrides `database.url`). Other local accounts can read it in the
    /// process list: for a URL with a password prefer --database-url-file.
    #[arg(long, global = true, help_heading = GLOBAL, value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Read the PostgreSQL URL from the first line of this file (keep it mode 0600).
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        value_name = "PATH",
        conflicts_with = "database_url"
    )]
    pub database_url_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the interactive console (the default when no command is given).
    Tui,
    /// Open a fully populated console on a private local PostgreSQL cluster.
    Demo(demo::DemoArgs),
    /// Sign in for CLI commands in this environment (email, password, authenticator code).
    Login(login::LoginArgs),
    /// End this environment's CLI session (here and on the server).
    Logout,
    /// Apply the embedded database migrations (a no-op when up to date).
    Migrate,
    /// Grant the configured roles to the well-known users (seed.*_emails).
    SeedUsers,
    /// Register a trust and print its kit (with both keys, once) as JSON on stdout.
    RegisterTrust(trusts::RegisterTrustArgs),
    /// List, rotate keys of, or delete trusts.
    #[command(subcommand)]
    Trusts(trusts::TrustsCmd),
    /// The FL kit slot pool.
    #[command(subcommand)]
    KitSlots(trusts::KitSlotsCmd),
    /// Register, list and manage users.
    #[command(subcommand)]
    Users(users::UsersCmd),
    /// Mandates (tenants) and their members.
    #[command(subcommand)]
    Mandates(mandates::MandatesCmd),
    /// Remove soft-deleted mandates past the retention period.
    PurgeMandates(mandates::PurgeArgs),
    /// Changes waiting for a second operator (two-person rule): list, show, approve, reject.
    #[command(subcommand)]
    Approvals(approvals::ApprovalsCmd),
    /// Browse and export the audit trail.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// The identity directory (Cognito or local).
    #[command(subcommand)]
    Directory(directory::DirectoryCmd),
    /// The configured environments (hubs): list them, show the current one.
    #[command(subcommand)]
    Env(env::EnvCmd),
    /// Check everything the console needs, each with a remedy (exit 0 only when all pass).
    Doctor,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff) on stdout, or write hubdeck.1 with --out DIR.
    Man(completions::ManArgs),
}

/// What a command needs: settings, output format, and (on demand) the services.
pub struct Context {
    pub settings: Arc<Settings>,
    pub output: Output,
    /// `--config PATH`, if given.
    pub config_path: Option<PathBuf>,
    /// `--read-only` was given (kept when the console switches environments).
    pub read_only_flag: bool,
    /// `--as-infrastructure` was given.
    pub as_infrastructure: bool,
    /// `--reason TEXT`: propose a change that needs approval; the reason of a rejection.
    pub reason: Option<String>,
    /// Who the command acts as, once resolved ([`Context::actor`]).
    pub acting: std::sync::OnceLock<crate::service::Actor>,
}

impl Context {
    /// Connects to the database (no migration) and the configured directory, through the
    /// composition root.
    pub async fn services(&self) -> anyhow::Result<Services> {
        login::precheck(self)?;
        crate::app::services(self.settings.clone()).await
    }

    /// The services for `hubdeck login` itself, which has no session yet.
    pub async fn services_to_sign_in(&self) -> anyhow::Result<Services> {
        crate::app::services(self.settings.clone()).await
    }

    /// Who this command acts as: the signed-in operator of `hubdeck login`, or infrastructure
    /// when allowed and asked for (see [`login::resolve`]). Resolved once per command.
    pub async fn actor(&self, db: &Db) -> anyhow::Result<crate::service::Actor> {
        if let Some(a) = self.acting.get() {
            return Ok(a.clone());
        }
        let a = login::resolve(self, db).await?;
        let _ = self.acting.set(a.clone());
        Ok(a)
    }

    /// What `:env NAME` in the console needs from this command line.
    pub fn env_switch(&self) -> crate::tui::EnvSwitch {
        crate::tui::EnvSwitch {
            config_path: self.config_path.clone(),
            read_only: self.read_only_flag,
        }
    }
}

/// Loads settings with the flags applied on top.
pub fn settings_for(cli: &Cli) -> Result<Settings, crate::config::ConfigError> {
    let mut s = Settings::load(cli.config.as_deref(), cli.env.as_deref())?;
    if cli.read_only {
        s.ui.read_only = true;
    }
    if cli.read_write {
        s.ui.read_only = false;
    }
    if let Some(url) = &cli.database_url {
        s.database.url = crate::config::DatabaseUrl::new(url.clone());
        crate::config::warn_password_on_command_line(&s.database.url);
    }
    if let Some(path) = &cli.database_url_file {
        s.database.url = crate::config::read_url_file(path)?;
    }
    Ok(s)
}

/// Settings for `hubdeck demo` without any environment selected.
fn demo_settings(cli: &Cli) -> Result<Settings, crate::config::ConfigError> {
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k != "HUBDECK_ENV")
        .collect();
    let mut s = Settings::load_env(
        cli.config.as_deref(),
        crate::config::default_config_path().as_deref(),
        &env,
        None,
    )?;
    if cli.read_only {
        s.ui.read_only = true;
    }
    Ok(s)
}

/// Runs the command line; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    // Commands that need no settings.
    match &cli.command {
        Some(Command::Completions(a)) => return completions::completions(a),
        Some(Command::Man(a)) => return completions::man(a),
        _ => {}
    }
    let loaded = match settings_for(&cli) {
        // `HUBDECK_ENV=demo` (from `eval "$(hubdeck demo --print-env)"`) must not stop the
        // command that registers the demo environment when its file is gone.
        Err(crate::config::ConfigError::UnknownEnv { name, .. })
            if name == crate::demo::DEMO_ENV && matches!(cli.command, Some(Command::Demo(_))) =>
        {
            demo_settings(&cli)
        }
        other => other,
    };
    if matches!(cli.command, Some(Command::Doctor)) {
        // The doctor reports a broken configuration as its first failing line.
        return doctor::run(&cli, loaded).await;
    }
    let settings = match loaded {
        Ok(s) => Arc::new(s),
        Err(e) => {
            // The deploy Makefile parses stdout of register-trust: it always gets a JSON array.
            if matches!(cli.command, Some(Command::RegisterTrust(_))) {
                println!("[]");
            }
            report_error(&anyhow::Error::from(e));
            return 2;
        }
    };
    let ctx = Context {
        settings,
        output: cli.output,
        config_path: cli.config.clone(),
        read_only_flag: cli.read_only,
        as_infrastructure: cli.as_infrastructure,
        reason: cli.reason.clone(),
        acting: std::sync::OnceLock::new(),
    };
    let result = match cli.command.unwrap_or(Command::Tui) {
        Command::Tui => {
            let launch =
                crate::app::ConsoleLaunch::from_settings(ctx.settings.clone(), ctx.env_switch());
            crate::app::run_console(launch).await
        }
        Command::Demo(a) => demo::run(&ctx, a).await,
        Command::Login(a) => login::login(&ctx, a).await,
        Command::Logout => login::logout(&ctx).await,
        Command::Migrate => migrate::run(&ctx).await,
        Command::SeedUsers => users::seed(&ctx).await,
        Command::RegisterTrust(a) => trusts::register(&ctx, a).await,
        Command::Trusts(c) => trusts::run(&ctx, c).await,
        Command::KitSlots(c) => trusts::run_kit_slots(&ctx, c).await,
        Command::Users(c) => users::run(&ctx, c).await,
        Command::Mandates(c) => mandates::run(&ctx, c).await,
        Command::PurgeMandates(a) => mandates::purge(&ctx, a).await,
        Command::Approvals(c) => approvals::run(&ctx, c).await,
        Command::Audit(c) => audit::run(&ctx, c).await,
        Command::Directory(c) => directory::run(&ctx, c).await,
        Command::Env(c) => env::run(&ctx, c),
        Command::Doctor | Command::Completions(_) | Command::Man(_) => Ok(0),
    };
    let result = match result {
        Err(e) => match approval_required(&e) {
            Some(req) => approvals::propose_instead(&ctx, &req, &e).await,
            None => Err(e),
        },
        ok => ok,
    };
    match result {
        Ok(code) => code,
        // The reader of stdout went away (`| head`): nothing more to say, not a failure.
        Err(e) if output::is_broken_pipe(&e) => 0,
        Err(e) => {
            let code = exit_code_of(&e);
            match ctx.acting.get().and_then(|a| a.operator()) {
                // A refusal names who was refused: the operator of the CLI session.
                Some(op) if code == 4 => report_error(&e.context(format!(
                    "refused for {} (signed in with `hubdeck login`)",
                    op.email
                ))),
                _ => report_error(&e),
            }
            code
        }
    }
}

/// Prints an error with its cause chain on stderr, on one line, through the sanitizer: a
/// cause may quote untrusted text (a name, a directory message).
pub fn report_error(e: &anyhow::Error) {
    eprintln!(
        "hubdeck: {}",
        crate::domain::DisplayText::with_max(&chain_line(e), 4000)
    );
}

/// The cause chain joined by ": ", each cause once: a cause whose text the level above already
/// printed is skipped (the driver's own errors quote their source in their message and also
/// return it as the source).
pub fn chain_line(e: &anyhow::Error) -> String {
    let mut said: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if said.last().is_some_and(|above| above.contains(&text)) {
            continue;
        }
        said.push(text);
    }
    said.join(": ")
}

/// The change to propose when a command was refused for want of a second operator.
fn approval_required(e: &anyhow::Error) -> Option<crate::domain::approval::ChangeRequest> {
    e.chain()
        .find_map(|c| match c.downcast_ref::<ServiceError>() {
            Some(ServiceError::ApprovalRequired { request, .. }) => Some((**request).clone()),
            _ => None,
        })
}

/// Exit code for an error (service errors carry their own; anything else is 1).
pub fn exit_code_of(e: &anyhow::Error) -> i32 {
    for cause in e.chain() {
        if let Some(se) = cause.downcast_ref::<ServiceError>() {
            return se.exit_code();
        }
        if let Some(v) = cause.downcast_ref::<crate::domain::ValidationError>() {
            let _ = v;
            return 2;
        }
    }
    1
}

/// Logs for CLI commands go to stderr (stdout carries results); the console logs to a file.
/// See [`crate::app::init_logging`].
pub fn init_stderr_logging(settings: &Settings) {
    crate::app::init_logging(settings, crate::app::LogTo::Stderr);
}

/// Prints a value as pretty JSON on stdout (invisible characters escaped, see
/// [`output::to_json`]).
pub fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    output::print_json(v)
}

#[cfg(test)]
mod chain_tests {
    use super::chain_line;

    /// An error that quotes its source in its own message AND returns it as the source.
    #[derive(Debug)]
    struct Quoting(std::io::Error);

    impl std::fmt::Display for Quoting {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "reading the kit: {}", self.0)
        }
    }

    impl std::error::Error for Quoting {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::other("disk full");
        let e = anyhow::Error::new(Quoting(io)).context("registering the trust");
        assert_eq!(
            chain_line(&e),
            "registering the trust: reading the kit: disk full"
        );
        let plain = anyhow::anyhow!("inner").context("middle").context("outer");
        assert_eq!(chain_line(&plain), "outer: middle: inner");
    }
}
