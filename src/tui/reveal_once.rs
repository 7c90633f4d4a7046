//! The one-time reveal panel outside the console: `hubdeck register-trust` and
//! `hubdeck trusts rotate-key` with stdout on a terminal show the minted keys here, on the
//! alternate screen, instead of printing them into the scrollback. Same panel, same
//! acknowledgement (the last four characters of the API key) as in the console.

use anyhow::Context as _;
use crossterm::event::{Event, KeyEventKind};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::action::RevealKeys;
use super::app::{MIN_HEIGHT, MIN_WIDTH};
use super::clock::Clock;
use super::theme::Theme;
use super::widgets::reveal::{Reveal, RevealOutcome};

/// Shows `keys` until the operator acknowledges them; the keys are dropped (zeroized) when it
/// returns. Blocks a runtime thread (it reads the terminal), so it runs on a blocking task.
pub async fn show(keys: RevealKeys, settings: &crate::config::Settings) -> anyhow::Result<()> {
    let theme = Theme::load(
        super::config_file("theme.toml").as_deref(),
        Theme::no_color_requested(),
        &settings.ui.environment_color,
    )?;
    tokio::task::spawn_blocking(move || run(Reveal::new(keys), &theme))
        .await
        .context("the reveal panel stopped")?
}

fn run(mut reveal: Reveal, theme: &Theme) -> anyhow::Result<()> {
    let mut modes = super::TerminalModes::enter(false)?;
    let clock = Clock::system();
    loop {
        modes.terminal.draw(|f| {
            let area = f.area();
            let buf = f.buffer_mut();
            if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
                Paragraph::new(vec![
                    Line::from(Span::styled("terminal too small", theme.error)),
                    Line::from(format!(
                        "need {MIN_WIDTH}×{MIN_HEIGHT}, have {}×{} — the keys are waiting",
                        area.width, area.height
                    )),
                ])
                .render(area, buf);
                return;
            }
            let [_, body] = ratatui::layout::Layout::vertical([
                ratatui::layout::Constraint::Length(1),
                ratatui::layout::Constraint::Fill(1),
            ])
            .areas::<2>(area);
            Paragraph::new(Span::styled(
                " hubdeck — the keys are shown once, on this screen only ",
                theme.title,
            ))
            .render(Rect { height: 1, ..area }, buf);
            reveal.render(body, buf, theme);
        })?;
        let size = modes.terminal.size()?;
        let too_small = size.width < MIN_WIDTH || size.height < MIN_HEIGHT;
        match crossterm::event::read()? {
            Event::Key(k) if k.kind == KeyEventKind::Press && !too_small => {
                match reveal.handle_key(&k, clock.now()) {
                    RevealOutcome::Stay => {}
                    RevealOutcome::Copy(secret) => {
                        super::clipboard::copy_secret(&mut std::io::stdout(), &secret)?;
                    }
                    RevealOutcome::Close => break,
                }
            }
            // A paste is never keys; resizes just redraw.
            _ => {}
        }
    }
    drop(reveal);
    drop(modes);
    Ok(())
}
