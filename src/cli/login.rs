//! `hubdeck login` / `hubdeck logout`, and who a CLI command acts as.
//!
//! A CLI command acts as the operator signed in with `hubdeck login` (the console's sign-in:
//! password, a new password when the directory demands one, the authenticator code), with the
//! same grants, the same fresh-authority checks and the same audit actor as in the console
//! (`via = cli`). The session token is kept in a 0600 file in the data dir, one per environment
//! and person: `sessions/<env>.<account>.session`, where the account is the sudo caller when
//! the command runs through `sudo -u <service account>`, so operators sharing a service
//! account keep separate sessions. Only the token's hash is stored in the database.
//!
//! The every-permission infrastructure identity runs only when the environment allows it
//! (`cli.infrastructure = true`) and the command asks for it (`--as-infrastructure`).

use crate::service::Db;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use clap::Args;
use serde::{Deserialize, Serialize};

use super::Context;
use crate::domain::{DisplayText, Secret};
use crate::service::actor::{self, Actor};
use crate::service::mfa::SignInStep;
use crate::service::{ServiceError, cli_session};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The operator's email (asked for when not given).
    #[arg(long)]
    pub email: Option<String>,
}

/// What the session file holds. The token is moved into a [`Secret`] as soon as it is read.
#[derive(Serialize, Deserialize)]
struct SessionFile {
    token: String,
    email: String,
    environment: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

impl Drop for SessionFile {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.token);
    }
}

/// The environment name used in messages and file names (`default` when none is selected).
fn env_name(ctx: &Context) -> String {
    ctx.settings
        .env
        .clone()
        .unwrap_or_else(|| "default".to_string())
}

/// The `--env X` part of the advice, empty when no environment is selected.
fn env_flag(ctx: &Context) -> String {
    match &ctx.settings.env {
        Some(e) => format!(" --env {}", DisplayText::new(e)),
        None => String::new(),
    }
}

/// A file-name-safe form of a name (environment or account).
fn file_safe(name: &str) -> String {
    if !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        name.to_string()
    } else {
        format!("x{}", hex::encode(name.as_bytes()))
    }
}

/// Where this person's session for the selected environment lives.
pub fn session_path(ctx: &Context) -> PathBuf {
    session_path_for(&env_name(ctx))
}

/// [`session_path`] for an environment name (also what `doctor` checks).
pub fn session_path_for(env: &str) -> PathBuf {
    crate::config::data_dir().join("sessions").join(format!(
        "{}.{}.session",
        file_safe(env),
        file_safe(&actor::acting_person())
    ))
}

/// The refusal of a command that needs a signed-in operator and has none.
fn not_signed_in(ctx: &Context, why: &str) -> anyhow::Error {
    ServiceError::Denied(format!(
        "not signed in: run `hubdeck login{}` ({why})",
        env_flag(ctx)
    ))
    .into()
}

/// What can be refused before connecting anywhere: `--as-infrastructure` where the
/// environment does not allow it, or no session file at all. Commands that need the services
/// call it first, so an operator without a session is told how to sign in even when the
/// database is down.
pub fn precheck(ctx: &Context) -> anyhow::Result<()> {
    if ctx.as_infrastructure {
        if !ctx.settings.cli.infrastructure {
            return Err(ServiceError::Denied(format!(
                "--as-infrastructure is not allowed in the environment {}: its configuration \
                 must set cli.infrastructure = true (or sign in with `hubdeck login{}`)",
                DisplayText::new(&env_name(ctx)),
                env_flag(ctx)
            ))
            .into());
        }
        return Ok(());
    }
    let path = session_path(ctx);
    match std::fs::symlink_metadata(&path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(not_signed_in(ctx, "no session for this environment"))
        }
        Err(e) => Err(not_signed_in(
            ctx,
            &format!("cannot read the session file {}: {e}", path.display()),
        )),
    }
}

/// Who this command acts as: the infrastructure identity when allowed and asked for,
/// otherwise the operator of this person's live session for the environment.
pub async fn resolve(ctx: &Context, db: &Db) -> anyhow::Result<Actor> {
    precheck(ctx)?;
    if ctx.as_infrastructure {
        return Ok(Actor::cli());
    }
    let path = session_path(ctx);
    let mut file = match read_session(&path) {
        Ok(Some(f)) => f,
        Ok(None) => return Err(not_signed_in(ctx, "no session for this environment")),
        Err(e) => return Err(not_signed_in(ctx, &e)),
    };
    let token = Secret::new(std::mem::take(&mut file.token));
    match cli_session::actor_for(db, &token, actor::os_account()).await? {
        Some(a) => Ok(a),
        None => Err(not_signed_in(ctx, "the session has expired or was ended")),
    }
}

/// Reads a session file: `Ok(None)` when there is none; an error (as text) when it cannot be
/// trusted — a symlink, another owner, or readable by group or others.
fn read_session(path: &Path) -> Result<Option<SessionFile>, String> {
    let mut f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "cannot read the session file {}: {e}",
                path.display()
            ));
        }
    };
    let meta = f.metadata().map_err(|e| e.to_string())?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err(format!(
            "the session file {} is not private to this account (owner {}, mode {:o}); it was \
             not used",
            path.display(),
            meta.uid(),
            meta.mode() & 0o777
        ));
    }
    let mut text = zeroize::Zeroizing::new(String::with_capacity(512));
    f.read_to_string(&mut text).map_err(|e| e.to_string())?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|_| format!("the session file {} is damaged", path.display()))
}

/// Writes the session file 0600 through a fresh temporary file renamed into place (never
/// following a planted symlink).
fn write_session(path: &Path, file: &SessionFile) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::files::create_private_dir(dir)?;
    let tmp = dir.join(format!(".{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let text = zeroize::Zeroizing::new(serde_json::to_vec(file)?);
    let mut out = crate::files::create_new_private(&tmp)?;
    out.write_all(&text)?;
    out.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Line input for the sign-in: the terminal (secrets without echo) or, when stdin is not a
/// terminal (scripts, tests), one line per answer from stdin.
struct Prompter {
    tty: bool,
    stdin: std::io::StdinLock<'static>,
}

impl Prompter {
    fn new() -> Self {
        Self {
            tty: std::io::stdin().is_terminal(),
            stdin: std::io::stdin().lock(),
        }
    }

    fn line(&mut self, prompt: &str, secret: bool) -> anyhow::Result<Secret> {
        if self.tty {
            eprint!("{prompt}");
            std::io::stderr().flush()?;
        }
        let _echo = if self.tty && secret {
            EchoOff::new()
        } else {
            None
        };
        let mut line = String::with_capacity(256);
        let n = self.stdin.read_line(&mut line)?;
        if self.tty && secret {
            eprintln!();
        }
        if n == 0 {
            anyhow::bail!("no answer to {:?} (end of input)", prompt.trim_end());
        }
        while line.ends_with(['\n', '\r']) {
            line.pop();
        }
        Ok(Secret::new(line))
    }
}

/// Turns terminal echo off on stdin for as long as it lives.
struct EchoOff(libc::termios);

impl EchoOff {
    fn new() -> Option<Self> {
        // SAFETY: termios is plain old data; tcgetattr fills it for fd 0 or fails.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
            return None;
        }
        let saved = t;
        t.c_lflag &= !libc::ECHO;
        t.c_lflag |= libc::ECHONL;
        // SAFETY: `t` is a valid termios read from the same descriptor.
        if unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) } != 0 {
            return None;
        }
        Some(Self(saved))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `new`.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.0);
        }
    }
}

/// `hubdeck login`: the console's sign-in, then a session for this environment.
pub async fn login(ctx: &Context, a: LoginArgs) -> anyhow::Result<i32> {
    super::init_stderr_logging(&ctx.settings);
    let svc = ctx.services_to_sign_in().await?;
    let mut p = Prompter::new();
    let email = match a.email {
        Some(e) => e,
        None => p.line("Email: ", false)?.expose().trim().to_string(),
    };
    let password = p.line("Password: ", true)?;
    let mut step = svc.begin_sign_in(&email, &password).await?;
    drop(password);
    let operator = loop {
        step = match step {
            SignInStep::SignedIn(op) => break op,
            SignInStep::NewPasswordRequired(ch) => {
                eprintln!("The directory asks for a new password.");
                let new = p.line("New password: ", true)?;
                let again = p.line("New password again: ", true)?;
                if new.expose() != again.expose() {
                    anyhow::bail!(ServiceError::Denied("the new passwords differ".into()));
                }
                svc.answer_new_password(&ch, &new).await?
            }
            SignInStep::MfaCodeRequired(ch) => {
                let mut tries = 0;
                loop {
                    let code = p.line("Authenticator code: ", true)?;
                    match svc.answer_mfa_code(&ch, code.expose().trim()).await {
                        Ok(s) => break s,
                        // A wrong code may be typed again on a terminal (as in the console).
                        Err(e) if p.tty && tries < 2 && is_wrong_code(&e) => {
                            eprintln!("{}", DisplayText::new(&e.to_string()));
                            tries += 1;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            SignInStep::MfaSetupRequired(_) => {
                // The new secret and its QR code belong on the console's one-time screen, not
                // in a terminal's scrollback.
                return Err(ServiceError::Denied(
                    "this account must set up an authenticator first: sign in once in the \
                     console (`hubdeck tui`), then run `hubdeck login` again"
                        .into(),
                )
                .into());
            }
        };
    };
    let opened = svc
        .open_cli_session(&operator, &actor::os_account())
        .await?;
    let path = session_path(ctx);
    let file = SessionFile {
        token: opened.token.expose().to_string(),
        email: operator.email.clone(),
        environment: env_name(ctx),
        expires_at: opened.expires_at,
    };
    write_session(&path, &file)?;
    eprintln!(
        "signed in as {} in {} until {} (session in {})",
        DisplayText::new(&operator.email),
        DisplayText::new(&env_name(ctx)),
        opened.expires_at.format("%Y-%m-%d %H:%M UTC"),
        path.display()
    );
    Ok(0)
}

fn is_wrong_code(e: &ServiceError) -> bool {
    e.to_string().contains(crate::directory::WRONG_CODE)
}

/// `hubdeck logout`: ends the session on the server (when the database is reachable) and
/// removes the file.
pub async fn logout(ctx: &Context) -> anyhow::Result<i32> {
    super::init_stderr_logging(&ctx.settings);
    let path = session_path(ctx);
    let file = match read_session(&path) {
        Ok(Some(f)) => Some(f),
        Ok(None) => {
            eprintln!(
                "not signed in to {}: nothing to do",
                DisplayText::new(&env_name(ctx))
            );
            return Ok(0);
        }
        // An untrusted file is removed without being used.
        Err(_) => None,
    };
    if let Some(mut f) = file {
        let token = Secret::new(std::mem::take(&mut f.token));
        match crate::service::schema::connect(&ctx.settings).await {
            Ok(db) => {
                cli_session::close(&db, &token).await?;
            }
            Err(e) => eprintln!(
                "warning: the session could not be ended on the server ({}); it expires by \
                 itself",
                DisplayText::new(&e.to_string())
            ),
        }
    }
    std::fs::remove_file(&path)?;
    eprintln!("signed out of {}", DisplayText::new(&env_name(ctx)));
    Ok(0)
}
