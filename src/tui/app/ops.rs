//! Mutations in flight: starting one (refused while another change to the same record
//! runs), its reply (always handled: keys reach the reveal panel, failures a dialog),
//! cancelling long work, and quitting only once every reply is in.

use super::App;
use crate::tui::action::{ErrorReport, OpBox, OpOutcome, RevealKeys};
use crate::tui::msg::Request;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::RoleChange;
use crate::tui::widgets::reveal::Reveal;
use crate::tui::widgets::toast::Toast;

/// One mutation in flight, until its reply arrives.
#[derive(Clone, Debug)]
pub struct InFlight {
    pub what: &'static str,
    /// The record it changes (a second change to it waits for this one).
    pub subject: Option<String>,
    /// Submitted from the open form (the form stays open and cannot close until the reply).
    pub form: bool,
    /// Long work that may be abandoned (Esc cancels it).
    pub cancellable: bool,
    /// How far it got (rows so far), when it reports.
    pub done: Option<u64>,
}

/// The operations tracker: every change in flight by request id, the cancelled ones whose
/// late reply is dropped, and a quit that waits for them.
#[derive(Clone, Debug, Default)]
pub struct Operations {
    pub inflight: std::collections::BTreeMap<u64, InFlight>,
    pub cancelled: std::collections::BTreeSet<u64>,
    /// Quit was asked for while changes were in flight: quit once every reply is in and every
    /// key set was acknowledged.
    pub quit_pending: bool,
}

impl App {
    /// A notice that blocks every key but quit (and the reveal panel's own keys while quitting).
    pub fn blocking_notice(&self) -> Option<String> {
        if let Some((w, h)) = self.screen_size.filter(|_| self.too_small()) {
            return Some(format!(
                "terminal too small: need {}×{}, have {w}×{h}",
                super::MIN_WIDTH,
                super::MIN_HEIGHT
            ));
        }
        if self.ops.quit_pending {
            return Some(format!(
                "quitting: waiting for {} repl{} ({})",
                self.ops.inflight.len(),
                if self.ops.inflight.len() == 1 {
                    "y"
                } else {
                    "ies"
                },
                self.ops
                    .inflight
                    .values()
                    .map(|j| j.what)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        None
    }

    /// Keys from a reply: shown now, or queued behind the panel already showing.
    pub(super) fn show_keys(&mut self, keys: RevealKeys) {
        match self.reveal.as_mut() {
            Some(r) => {
                self.reveal_queue.push_back(keys);
                r.queued_after = self.reveal_queue.len();
            }
            None => self.reveal = Some(Reveal::new(keys)),
        }
    }

    /// Quit now, or (mutations in flight) ask and wait for their replies first.
    pub(super) fn request_quit(&mut self) {
        if self.reveal.is_some() {
            self.toasts.push(Toast::warn(
                "acknowledge the keys on the panel first: they are shown only once",
            ));
            return;
        }
        if self.ops.inflight.is_empty() {
            self.quit = true;
            return;
        }
        if self
            .ops
            .inflight
            .values()
            .all(|j| j.what == crate::tui::action::RECORD_HAND_OVER)
        {
            // Only the record that acknowledged keys were handed over is still running: wait
            // for it without asking (quitting first would leave the trust marked "keys not
            // confirmed" although the operator holds them).
            self.ops.quit_pending = true;
            return;
        }
        if self.ops.quit_pending {
            return;
        }
        if self.too_small() {
            // The question could not be seen: wait for the replies (the notice says so).
            self.ops.quit_pending = true;
            return;
        }
        let running = self.ops.inflight.values().map(|j| j.what).collect();
        self.open_dialog(Dialog::QuitWhenDone { running });
    }

    /// Quits once every reply is in and was seen: keys acknowledged, failures closed.
    pub(super) fn maybe_finish_quit(&mut self) {
        if self.ops.quit_pending
            && self.ops.inflight.is_empty()
            && self.reveal.is_none()
            && self.reveal_queue.is_empty()
            && self.dialog.is_none()
        {
            self.quit = true;
        }
    }

    /// The running task that Esc would cancel, if any.
    pub fn cancellable(&self) -> Option<(u64, &'static str)> {
        self.ops
            .inflight
            .iter()
            .find(|(_, j)| j.cancellable)
            .map(|(id, j)| (*id, j.what))
    }

    /// A running operation reported how far it got.
    pub(super) fn progress(&mut self, id: u64, done: u64) {
        if let Some(j) = self.ops.inflight.get_mut(&id) {
            j.done = Some(done);
        }
    }

    /// Cancels a cancellable task: the loop aborts it and a late reply is dropped.
    pub(super) fn cancel(&mut self, id: u64) {
        let Some(job) = self.ops.inflight.remove(&id) else {
            return;
        };
        tracing::info!(op = job.what, "cancelled");
        self.ops.cancelled.insert(id);
        self.outbox.push(Request::Cancel { id });
        self.toasts
            .push(Toast::warn(format!("{} cancelled", job.what)));
        self.maybe_finish_quit();
    }

    /// Every reply is handled: its own id says what it belongs to, keys always reach the
    /// reveal panel, and a failure is shown even when something else is on screen.
    pub(super) fn op_done(&mut self, id: u64, result: Result<OpOutcome, ErrorReport>) {
        if self.ops.cancelled.remove(&id) {
            tracing::debug!(id, "reply of a cancelled task dropped");
            return;
        }
        let job = self.ops.inflight.remove(&id);
        if job.is_none() {
            tracing::warn!(id, "reply to a mutation that was not tracked");
        }
        let from_form = job.as_ref().is_some_and(|j| j.form);
        let what = job.as_ref().map_or("the action", |j| j.what);
        let mut title = what.to_string();
        if let Some(first) = title.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        match result {
            Ok(outcome) => {
                if from_form {
                    self.close_form();
                }
                if !outcome.toast.is_empty() {
                    self.report(Toast::ok(outcome.toast));
                }
                if let Some(keys) = outcome.reveal {
                    self.show_keys(keys);
                }
                if self.operator.is_some() {
                    // The change may have added or removed rows: count them again.
                    self.active().table_mut().invalidate_count();
                    self.reload_active();
                }
            }
            Err(e) if e.revoked => self.sign_out(&e),
            Err(e) if e.connection_lost => self.outcome_unknown(what, from_form, e),
            Err(e) => {
                if from_form && let Some(f) = self.form.as_mut() {
                    f.busy = false;
                    f.note = Some(e.chain.first().cloned().unwrap_or_default());
                }
                self.report_error(format!("{title} failed"), e);
            }
        }
        self.maybe_finish_quit();
    }

    pub(super) fn run_op(&mut self, op: OpBox, from_form: bool) {
        if self.config.read_only {
            self.toasts
                .push(Toast::warn("read-only mode: changes are disabled"));
            return;
        }
        if let Some(why) = self.outage_refusal() {
            // Known unreachable: sending would only turn a clear refusal into an unknown
            // outcome. The form (if any) stays open with its input.
            if from_form && let Some(f) = self.form.as_mut() {
                f.note = Some(why.clone());
            }
            self.toasts.push(Toast::warn(why));
            return;
        }
        let subject = op.subject();
        if let Some(sub) = &subject
            && let Some(job) = self
                .ops
                .inflight
                .values()
                .find(|j| j.subject.as_ref() == Some(sub))
        {
            self.toasts.push(Toast::warn(format!(
                "{} on this record is still running: wait for its reply",
                job.what
            )));
            return;
        }
        let id = self.id();
        tracing::info!(op = op.describe(), "starting");
        self.ops.inflight.insert(
            id,
            InFlight {
                what: op.describe(),
                subject,
                form: from_form,
                cancellable: op.cancellable(),
                done: None,
            },
        );
        if from_form && let Some(f) = self.form.as_mut() {
            f.busy = true;
            f.note = None;
        }
        self.outbox.push(Request::Op { id, op });
    }

    /// A Roles form was saved: confirm what will be added and removed first (typed, when the
    /// operator removes their own admin role).
    pub(super) fn confirm_role_change(&mut self, op: OpBox, change: RoleChange) {
        if change.added.is_empty() && change.removed.is_empty() {
            self.close_form();
            self.toasts.push(Toast::info("roles unchanged"));
            return;
        }
        let list = |v: &[String]| {
            if v.is_empty() {
                "nothing".to_string()
            } else {
                v.join(", ")
            }
        };
        let message = format!(
            "Add: {}. Remove: {}.",
            list(&change.added),
            list(&change.removed)
        );
        let own_admin = match (op.sets_roles_of(), &self.operator) {
            (Some(sub), Some(me)) => *sub == me.sub && change.removed.iter().any(|r| r == "admin"),
            _ => false,
        };
        let dialog = if own_admin {
            let email = self
                .operator
                .as_ref()
                .map(|o| o.email.clone())
                .unwrap_or_default();
            Dialog::type_to_confirm_self(
                "Remove your own admin role",
                format!(
                    "This is you: {message} You lose the admin permissions at once. Type your \
                     email to confirm."
                ),
                email,
                op,
            )
        } else {
            Dialog::Confirm {
                title: "Save roles".into(),
                message,
                op,
            }
        };
        self.open_dialog(dialog);
        self.dialog_from_form = true;
    }
}
