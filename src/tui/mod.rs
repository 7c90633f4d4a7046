//! The interactive console: event loop, router (`app/`), screens (one folder per feature),
//! widgets. Never awaits I/O in key handling or
//! drawing: `App::update` queues requests, the loop runs each as a task, and the results come
//! back as messages tagged with the request id (stale pages are dropped; every mutation's reply
//! is handled — see `App::inflight`). Bracketed paste is on while the console runs and off again
//! on every exit path ([`TerminalModes`]).
//!
//! Test hook: `HUBDECK_TEST_PANIC=1` panics right after the first frame, to prove the panic
//! hook restores the terminal (used by the end-to-end tests; harmless otherwise).

pub mod action;
pub mod app;
pub mod clipboard;
pub mod clock;
pub mod event;
pub mod keymap;
pub mod msg;
pub mod reveal_once;
pub mod screens;
pub mod task;
pub mod theme;
pub mod widgets;

use anyhow::Context as _;
use tokio::sync::mpsc;

use crate::service::{Operator, Services};
use app::{App, AppConfig, Effect};
use keymap::Keymap;
use theme::Theme;

/// Options of [`run_app`].
#[derive(Clone, Debug, Default)]
pub struct AppOptions {
    /// Pre-signed-in operator (demo); `None` shows the sign-in screen.
    pub operator: Option<Operator>,
    /// Shown on the help screen (demo).
    pub demo_credentials: Option<(String, String)>,
    /// How `:env NAME` loads another environment (None: the console cannot switch).
    pub env_switch: Option<EnvSwitch>,
}

/// What `:env NAME` needs to resolve another environment's settings.
#[derive(Clone, Debug, Default)]
pub struct EnvSwitch {
    /// `--config PATH`, if given (else the default config file).
    pub config_path: Option<std::path::PathBuf>,
    /// `--read-only` was given: every environment switched to stays read-only. (`--read-write`
    /// is never carried over: it lifted one environment's default, not the next one's.)
    pub read_only: bool,
}

/// Connects to the environment `name`: its settings, database pool and directory.
async fn connect_env(sw: Option<EnvSwitch>, name: &str) -> anyhow::Result<Services> {
    let sw = sw.context("switching environments is not available in this console")?;
    let mut settings = crate::config::Settings::load(sw.config_path.as_deref(), Some(name))?;
    if sw.read_only {
        settings.ui.read_only = true;
    }
    Services::connect(std::sync::Arc::new(settings))
        .await
        .with_context(|| format!("cannot connect to the environment {name}"))
}

/// The config dir's override files (`keymap.toml`, `theme.toml`).
fn config_file(name: &str) -> Option<std::path::PathBuf> {
    crate::config::project_dirs().map(|d| d.config_dir().join(name))
}

/// Runs the console on the real terminal until the operator quits.
pub async fn run_app(services: Services, opts: AppOptions) -> anyhow::Result<()> {
    let settings = services.settings.clone();
    let keymap = Keymap::load(config_file("keymap.toml").as_deref())?;
    let theme = Theme::load(
        config_file("theme.toml").as_deref(),
        Theme::no_color_requested(),
        &settings.ui.environment_color,
    )?;
    let mut config = AppConfig::from_settings(&settings);
    config.demo_credentials = opts.demo_credentials.clone();
    config.directory_kind = services.directory.kind().to_string();
    let mut app = App::new(config, keymap, theme, opts.operator.clone());

    let mouse = settings.ui.mouse;
    let mut terminal = TerminalModes::enter(mouse)?;
    if let Ok(size) = terminal.terminal.size() {
        app.update(msg::Msg::Resize(size.width, size.height));
    }
    let result = run_loop(&mut terminal.terminal, &mut app, services, opts.env_switch).await;
    drop(terminal);
    result
}

/// The console's terminal: raw mode and the alternate screen (ratatui), bracketed paste on,
/// mouse capture when configured. Every exit path turns them off again: dropping this (normal
/// exit and errors) and the panic hook (panics).
pub struct TerminalModes {
    pub terminal: ratatui::DefaultTerminal,
    mouse: bool,
}

/// Undoes what [`TerminalModes::enter`] turned on (idempotent: the sequences are harmless
/// when repeated).
fn leave_modes(mouse: bool) {
    use crossterm::event::{DisableBracketedPaste, DisableFocusChange, DisableMouseCapture};
    let _ = crossterm::execute!(std::io::stdout(), DisableBracketedPaste);
    let _ = crossterm::execute!(std::io::stdout(), DisableFocusChange);
    if mouse {
        let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    }
    ratatui::restore();
}

impl TerminalModes {
    pub fn enter(mouse: bool) -> anyhow::Result<Self> {
        // Log panics (the message only) and leave the terminal modes, then let ratatui's hook
        // restore the screen and the default hook print the message.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            tracing::error!("panic: {info}");
            leave_modes(mouse);
            previous(info);
        }));
        let terminal = ratatui::try_init().context("cannot initialise the terminal")?;
        let modes = Self { terminal, mouse };
        crossterm::execute!(std::io::stdout(), crossterm::event::EnableBracketedPaste)
            .context("cannot enable bracketed paste")?;
        // Focus reports (where the terminal sends them) let the live view stop polling while
        // the console is in the background; a terminal without them is taken as focused.
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableFocusChange);
        if mouse {
            let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture);
        }
        Ok(modes)
    }
}

impl Drop for TerminalModes {
    fn drop(&mut self) {
        leave_modes(self.mouse);
    }
}

async fn run_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    mut services: Services,
    env_switch: Option<EnvSwitch>,
) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (env_tx, mut env_rx) = mpsc::unbounded_channel::<(u64, anyhow::Result<Services>)>();
    let events = event::spawn(tx.clone());
    // The tasks of mutations in flight, so a cancellable one can be aborted.
    let mut running: std::collections::HashMap<u64, tokio::task::AbortHandle> =
        std::collections::HashMap::new();
    let test_panic = std::env::var_os("HUBDECK_TEST_PANIC").is_some_and(|v| v == "1");
    let result: anyhow::Result<()> = async {
        loop {
            terminal.draw(|f| app.draw(f))?;
            if test_panic {
                injected_panic();
            }
            for req in app.take_requests() {
                if let msg::Request::SwitchEnv { id, name } = req {
                    let tx = env_tx.clone();
                    let sw = env_switch.clone();
                    tokio::spawn(async move {
                        let _ = tx.send((id, connect_env(sw, &name).await));
                    });
                    continue;
                }
                if let msg::Request::Cancel { id } = req {
                    if let Some(h) = running.remove(&id) {
                        h.abort();
                    }
                    continue;
                }
                let op_id = match &req {
                    msg::Request::Op { id, .. } => Some(*id),
                    _ => None,
                };
                let s = services.clone();
                let op = app.operator.clone();
                let tx = tx.clone();
                let progress_to = Some(tx.clone());
                let handle = tokio::spawn(async move {
                    let msg = task::execute(s, op, req, progress_to).await;
                    let _ = tx.send(msg);
                });
                if let Some(id) = op_id {
                    running.insert(id, handle.abort_handle());
                }
            }
            running.retain(|_, h| !h.is_finished());
            for eff in app.take_effects() {
                match eff {
                    Effect::Copy(secret) => {
                        clipboard::copy_secret(&mut std::io::stdout(), &secret)?
                    }
                }
            }
            if app.quit {
                return Ok(());
            }
            let msg = tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => m,
                    None => return Ok(()),
                },
                Some((id, connected)) = env_rx.recv() => match connected {
                    Ok(new) => {
                        // From here on every request goes to the new environment.
                        let mut config = AppConfig::from_settings(&new.settings);
                        config.directory_kind = new.directory.kind().to_string();
                        match Theme::load(
                            config_file("theme.toml").as_deref(),
                            Theme::no_color_requested(),
                            &new.settings.ui.environment_color,
                        ) {
                            Ok(t) => app.theme = t,
                            Err(e) => tracing::warn!("theme for the new environment: {e}"),
                        }
                        services = new;
                        msg::Msg::EnvSwitched { id, result: Ok(config) }
                    }
                    Err(e) => msg::Msg::EnvSwitched {
                        id,
                        result: Err(action::ErrorReport::from_anyhow(&e)),
                    },
                },
            };
            app.update(msg);
            // Take everything already waiting before drawing again.
            while let Ok(msg) = rx.try_recv() {
                app.update(msg);
                if app.quit {
                    break;
                }
            }
        }
    }
    .await;
    events.abort();
    result
}

#[allow(clippy::panic)]
fn injected_panic() {
    panic!("injected test panic (HUBDECK_TEST_PANIC=1)");
}
