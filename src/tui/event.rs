//! One task turns crossterm's `EventStream` and a tick into [`Msg`]s (`tokio::select!`).
//! Key events that are not presses (repeats, releases) never reach the app.

use std::time::Duration;

use crossterm::event::{
    Event, EventStream, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind,
};
use futures::StreamExt;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::msg::Msg;

/// Tick period: spinner frames, search debounce, toast expiry, health pings.
pub const TICK: Duration = Duration::from_millis(100);

/// Spawns the event task; it ends when the receiver is dropped or the terminal closes.
pub fn spawn(tx: UnboundedSender<Msg>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut events = EventStream::new();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let msg = tokio::select! {
                _ = tick.tick() => Some(Msg::Tick),
                ev = events.next() => match ev {
                    Some(Ok(Event::Key(k))) if k.kind == KeyEventKind::Press => Some(Msg::Key(k)),
                    Some(Ok(Event::Resize(w, h))) => Some(Msg::Resize(w, h)),
                    Some(Ok(Event::Paste(s))) => Some(Msg::Paste(s)),
                    // The live view stops polling while the terminal is unfocused.
                    Some(Ok(Event::FocusGained)) => Some(Msg::Focus(true)),
                    Some(Ok(Event::FocusLost)) => Some(Msg::Focus(false)),
                    // Mouse capture is off by default (`ui.mouse`); when on, the wheel scrolls.
                    Some(Ok(Event::Mouse(m))) => match m.kind {
                        MouseEventKind::ScrollUp => Some(Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE))),
                        MouseEventKind::ScrollDown => Some(Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE))),
                        _ => None,
                    },
                    Some(Ok(_)) => None,
                    Some(Err(e)) => {
                        tracing::error!("terminal event stream failed: {e}");
                        break;
                    }
                    None => break,
                },
            };
            if let Some(m) = msg
                && tx.send(m).is_err()
            {
                break;
            }
        }
    })
}
