//! The live view: the console polls the change feed (`Services::poll_changes`) while the
//! operator is at it, and what others committed reaches the screen without a key press — the
//! active page is read again, changed rows are marked (who, how long ago), a row that
//! disappeared says so, and an open form on a changed record warns before it is saved.
//!
//! Polling costs the hub a few index probes per poll; it runs every [`ACTIVE_EVERY`] ticks
//! while the operator was active in the last [`IDLE_AFTER`] ticks, slows to [`IDLE_EVERY`]
//! after that, stops after [`ASLEEP_AFTER`] ticks without a key, and stops while the terminal
//! says it lost focus or the database is unreachable. A key press resumes it at once.

use chrono::Utc;

use super::{App, Owner};
use crate::service::changes::{ChangeBatch, ChangeCursor, ChangeSource};
use crate::service::{Actor, Services};
use crate::tui::action::{ErrorReport, Job, JobFuture, ask};
use crate::tui::msg::Reply;
use crate::tui::screens::Tab;
use crate::tui::widgets::live_marks::{LiveMark, ago};

/// Poll every 500 ms (5 ticks) while the operator is active: commit → screen within a second.
pub const ACTIVE_EVERY: u64 = 5;
/// After 5 minutes without a key, every 10 s.
pub const IDLE_AFTER: u64 = 3_000;
pub const IDLE_EVERY: u64 = 100;
/// After 30 minutes without a key, not at all (until the next key).
pub const ASLEEP_AFTER: u64 = 18_000;

/// The live view's state.
#[derive(Clone, Debug)]
pub struct Live {
    /// Where the next poll starts (None: the first poll only takes the starting mark).
    pub cursor: Option<ChangeCursor>,
    /// The tick of the last poll sent.
    pub last_poll: Option<u64>,
    /// The tick of the operator's last key.
    pub last_activity: u64,
    /// The terminal has focus (focus events, where the terminal sends them; else assumed).
    pub focused: bool,
    /// The record the open form edits (its row key), when it edits one.
    pub form_subject: Option<String>,
    /// Someone else changed that record while the form was open: (who, when).
    pub form_notice: Option<(String, chrono::DateTime<Utc>)>,
    /// Rows changed elsewhere that may be gone after the next page: (tab, key, name, mark).
    watch_gone: Vec<(Tab, String, String, LiveMark)>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            cursor: None,
            last_poll: None,
            last_activity: 0,
            focused: true,
            form_subject: None,
            form_notice: None,
            watch_gone: Vec::new(),
        }
    }
}

/// One poll of the change feed.
#[derive(Debug)]
pub struct PollChanges(pub Option<ChangeCursor>);

impl Job for PollChanges {
    type Out = ChangeBatch;
    fn run(self, services: Services, actor: Actor) -> JobFuture<ChangeBatch> {
        Box::pin(async move {
            let batch = services.poll_changes(&actor, self.0).await?;
            Ok(batch)
        })
    }
}

/// The change sources whose changes a tab shows.
fn shows(tab: Tab, source: ChangeSource) -> bool {
    use ChangeSource as S;
    match tab {
        // Membership changes are mandate audit rows (the user in `target_user`).
        Tab::Mandates => source == S::Mandates,
        Tab::Users | Tab::Registrations => source == S::Users,
        Tab::Trusts | Tab::KitSlots => source == S::Trusts,
        Tab::Drift => matches!(source, S::Users | S::Mandates),
        Tab::Audit | Tab::Approvals => true,
    }
}

/// Changes that add or remove rows (the count is asked again).
fn changes_count(action: &str) -> bool {
    [
        "CREATE", "DELETE", "REGISTER", "RESTORE", "ADDED", "REMOVED", "PURGE",
    ]
    .iter()
    .any(|w| action.contains(w))
}

impl App {
    /// How many ticks between polls now (None: no polling).
    fn poll_every(&self) -> Option<u64> {
        if self.operator.is_none() || self.db_down() || !self.live.focused {
            return None;
        }
        let idle = self.tick.saturating_sub(self.live.last_activity);
        if idle >= ASLEEP_AFTER {
            None
        } else if idle >= IDLE_AFTER {
            Some(IDLE_EVERY)
        } else {
            Some(ACTIVE_EVERY)
        }
    }

    /// On every tick: send a poll when one is due and none is in flight.
    pub(super) fn live_tick(&mut self) {
        let Some(every) = self.poll_every() else {
            return;
        };
        if self.live.last_poll.is_some_and(|t| self.tick < t + every) {
            return;
        }
        if self.inbox.waits_for(Owner::Live) {
            return;
        }
        self.live.last_poll = Some(self.tick);
        let job = PollChanges(self.live.cursor.clone());
        self.ask(Owner::Live, ask(job, Reply::Changes));
    }

    /// The operator pressed a key (polling resumes at full pace).
    pub(super) fn live_activity(&mut self) {
        let was_asleep = self.poll_every().is_none();
        self.live.last_activity = self.tick;
        if was_asleep {
            self.live.last_poll = None;
        }
    }

    /// The terminal gained or lost focus.
    pub(super) fn live_focus(&mut self, focused: bool) {
        self.live.focused = focused;
        if focused {
            self.live_activity();
        }
    }

    /// A poll's answer: read the active page again if it shows what changed, mark the rows,
    /// warn the open form.
    pub(super) fn live_reply(&mut self, result: Result<ChangeBatch, ErrorReport>) {
        let batch = match result {
            Ok(b) => b,
            Err(e) => {
                // A lost connection is the outage banner's (already raised by the reply
                // routing); anything else is logged, and the next poll tries again.
                tracing::debug!("change feed: {}", e.joined());
                return;
            }
        };
        self.live.cursor = Some(batch.cursor);
        if self.tab_denied(self.tab).is_some() {
            return;
        }
        let me = self.operator.as_ref().map(|o| o.sub);
        let mut reload = batch.overflow;
        let mut recount = batch.overflow;
        let tab = self.tab;
        for c in &batch.changes {
            let keys: Vec<String> = [c.subject, c.target_user]
                .into_iter()
                .flatten()
                .map(|u| u.to_string())
                .collect();
            let others = c.actor.is_none() || c.actor != me;
            if others
                && let Some(subject) = &self.live.form_subject
                && self.form.is_some()
                && keys.contains(subject)
            {
                self.live.form_notice = Some((c.who.clone(), c.at));
            }
            if !shows(tab, c.source) {
                continue;
            }
            reload = true;
            recount |= changes_count(&c.action);
            if !others {
                continue;
            }
            let table = self.screens.get_mut(tab).table_mut();
            for key in keys {
                let mark = LiveMark::new(key.clone(), &c.who, &c.action, c.at);
                if let Some(r) = table.rows().iter().find(|r| r.id == key) {
                    let name = r.cell(0).to_string();
                    self.live.watch_gone.push((tab, key, name, mark.clone()));
                }
                table.marks.retain(|m| m.key != mark.key);
                table.marks.push(mark);
            }
        }
        if reload {
            if recount {
                self.active().table_mut().invalidate_count();
            }
            self.reload_active();
            let cmds = self.active().on_live_change();
            self.screen_cmds(tab, cmds);
        }
    }

    /// A page arrived for `tab`: rows changed elsewhere that are no longer in it are gone.
    pub(super) fn live_page_arrived(&mut self, tab: Tab) {
        if self.live.watch_gone.iter().all(|(t, ..)| *t != tab) {
            return;
        }
        let watched = std::mem::take(&mut self.live.watch_gone);
        let table = self.screens.get_mut(tab).table_mut();
        if table.loading() {
            self.live.watch_gone = watched;
            return;
        }
        for (t, key, name, mark) in watched {
            if t != tab {
                self.live.watch_gone.push((t, key, name, mark));
            } else if !table.rows().iter().any(|r| r.id == key) {
                table.gone = Some((name, mark));
            }
        }
    }

    /// Marks that have faded are dropped (every tick).
    pub(super) fn live_fade(&mut self) {
        let now = Utc::now();
        let table = self.active().table_mut();
        table.marks.retain(|m| m.fresh(now));
        if table.gone.as_ref().is_some_and(|(_, m)| !m.fresh(now)) {
            table.gone = None;
        }
    }

    /// The open form's warning, if its record changed since it opened.
    pub fn form_notice(&self) -> Option<String> {
        self.form.as_ref()?;
        let (who, at) = self.live.form_notice.as_ref()?;
        Some(format!(
            "⚠ changed by {} {} — review before saving",
            crate::domain::DisplayText::with_max(who, 60),
            ago(*at, Utc::now())
        ))
    }
}
