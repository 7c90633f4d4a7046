//! The interactive console: event loop, screens, widgets. Never awaits I/O in key handling or
//! drawing: `App::update` queues requests, the loop runs each as a task, and the results come
//! back as messages tagged with the request id (stale ones are dropped).
//!
//! Test hook: `HUBDECK_TEST_PANIC=1` panics right after the first frame, to prove the panic
//! hook restores the terminal (used by the end-to-end tests; harmless otherwise).

pub mod action;
pub mod app;
pub mod backend;
pub mod clock;
pub mod event;
pub mod keymap;
pub mod screens;
pub mod theme;
pub mod widgets;

use std::sync::Mutex;

use anyhow::Context as _;
use tokio::sync::mpsc;

use crate::cli::Context;
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
}

/// `hubdeck` / `hubdeck tui`: connect, sign in, run the console.
pub async fn run_console(ctx: &Context) -> anyhow::Result<i32> {
    init_file_logging(&ctx.settings);
    let services = ctx.services().await.context("cannot start the console")?;
    run_app(services, AppOptions::default()).await?;
    Ok(0)
}

/// Logs go to a file under the data dir (or `log.file`), never to the screen.
pub fn init_file_logging(settings: &crate::config::Settings) {
    let path = if settings.log.file.is_empty() {
        let Ok(dir) = crate::files::ensure_data_dir() else {
            return;
        };
        dir.join("hubdeck.log")
    } else {
        std::path::PathBuf::from(&settings.log.file)
    };
    if let Some(dir) = path.parent() {
        let _ = crate::files::create_private_dir(dir);
    }
    // 0600: a log may name users and mandates.
    let Ok(file) = crate::files::append_private(&path) else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .try_init();
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
        app.update(action::Msg::Resize(size.width, size.height));
    }
    let result = run_loop(&mut terminal.terminal, &mut app, services).await;
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
    use crossterm::event::{DisableBracketedPaste, DisableMouseCapture};
    let _ = crossterm::execute!(std::io::stdout(), DisableBracketedPaste);
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
    services: Services,
) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let events = event::spawn(tx.clone());
    let test_panic = std::env::var_os("HUBDECK_TEST_PANIC").is_some_and(|v| v == "1");
    let result: anyhow::Result<()> = async {
        loop {
            terminal.draw(|f| app.draw(f))?;
            if test_panic {
                injected_panic();
            }
            for req in app.take_requests() {
                let s = services.clone();
                let op = app.operator.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let msg = backend::execute(s, op, req).await;
                    let _ = tx.send(msg);
                });
            }
            for eff in app.take_effects() {
                match eff {
                    Effect::Copy(secret) => {
                        let cmd = crossterm::clipboard::CopyToClipboard::to_clipboard_from(
                            secret.expose().as_bytes(),
                        );
                        crossterm::execute!(std::io::stdout(), cmd)?;
                    }
                }
            }
            if app.quit {
                return Ok(());
            }
            let Some(msg) = rx.recv().await else {
                return Ok(());
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
