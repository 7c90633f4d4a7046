//! The console under a database outage: the banner (since when, what is kept), changes
//! refused before they are sent while the database is known to be unreachable, a change whose
//! answer was lost reported as "outcome unknown" (never "failed": it may have committed), and
//! recovery without a restart — the pool opens new connections on its own once the server is
//! back, so the console only has to notice, clear the banner and read the page again.

use super::App;
use crate::tui::action::ErrorReport;
use crate::tui::msg::Request;
use crate::tui::widgets::toast::Toast;

/// Health pings every this many ticks while the database is unreachable (sooner than the
/// usual pace, so the banner clears within a second or so of the server coming back).
pub(super) const HEALTH_EVERY_DOWN: u64 = 10;

/// The outage the console is living through, if any.
#[derive(Clone, Debug, Default)]
pub struct Outage {
    /// Wall-clock time the database was first seen unreachable (shown in the banner).
    pub since: Option<chrono::DateTime<chrono::Local>>,
    /// Changes sent whose answer was lost with the connection: their outcome is found out by
    /// reading again once the database is back.
    pub unknown: Vec<&'static str>,
}

impl App {
    /// The database is known to be unreachable.
    pub fn db_down(&self) -> bool {
        self.outage.since.is_some()
    }

    /// The banner line while the database is unreachable.
    pub fn outage_banner(&self) -> Option<String> {
        let since = self.outage.since?;
        let mut s = format!(
            "✗ database unreachable since {} — retrying; your screen and form input are kept",
            since.format("%H:%M:%S")
        );
        if !self.outage.unknown.is_empty() {
            s.push_str(&format!(
                " · outcome unknown: {}",
                self.outage.unknown.join(", ")
            ));
        }
        Some(s)
    }

    /// Why a change cannot be sent now, if the database is known to be unreachable.
    pub(super) fn outage_refusal(&self) -> Option<String> {
        let since = self.outage.since?;
        Some(format!(
            "not sent: the database is unreachable since {} — your input is kept; submit again \
             once it is back",
            since.format("%H:%M:%S")
        ))
    }

    /// A health ping or a reply said the database cannot be reached.
    pub(super) fn db_unreachable(&mut self) {
        if self.outage.since.is_none() {
            tracing::warn!("database unreachable");
            self.outage.since = Some(chrono::Local::now());
            // Ask again at once: the health ping decides when the outage is over.
            self.outbox.push(Request::Health);
        }
    }

    /// A health ping reached the database again: clear the banner and read the page again
    /// (what is on screen may be stale, and a change whose answer was lost may have landed).
    pub(super) fn db_reachable(&mut self) {
        if self.outage.since.take().is_none() {
            return;
        }
        tracing::info!("database reachable again");
        let unknown = std::mem::take(&mut self.outage.unknown);
        if unknown.is_empty() {
            self.toasts.push(Toast::info(
                "database reachable again; the page was read again",
            ));
        } else {
            self.toasts.push(Toast::warn(format!(
                "database reachable again: check on the page read again whether {} was saved \
                 before submitting again",
                unknown.join(", ")
            )));
        }
        if self.operator.is_some() && self.tab_denied(self.tab).is_none() {
            self.active().table_mut().invalidate_count();
            self.reload_active();
        }
    }

    /// A change was sent and its answer lost with the connection: what the operator is told
    /// (the form, if it was one, stays open with its input).
    pub(super) fn outcome_unknown(&mut self, what: &'static str, from_form: bool, e: ErrorReport) {
        tracing::warn!(
            op = what,
            "outcome unknown: the database connection was lost"
        );
        self.outage.unknown.push(what);
        self.db_unreachable();
        if from_form && let Some(f) = self.form.as_mut() {
            f.busy = false;
            f.note = Some(
                "outcome unknown: the connection was lost before the answer came — it may have \
                 been saved; check the list once the database is back"
                    .into(),
            );
        }
        let mut title = format!("{what}: outcome unknown");
        if let Some(first) = title.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        let mut chain = vec![
            "the connection to the database was lost before its answer arrived: the change may \
             or may not have been saved. The page is read again once the database is back."
                .to_string(),
        ];
        chain.extend(e.chain);
        self.report_error(
            title,
            ErrorReport {
                chain,
                ..Default::default()
            },
        );
    }
}
