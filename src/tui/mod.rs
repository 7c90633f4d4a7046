//! The interactive console: event loop, screens, widgets. Never awaits I/O in key handling or
//! drawing.

pub mod screens;
pub mod widgets;

use crate::cli::Context;

/// `hubdeck` / `hubdeck tui`: sign-in, then the console.
pub async fn run_console(_ctx: &Context) -> anyhow::Result<i32> {
    crate::cli::not_yet("tui")
}
