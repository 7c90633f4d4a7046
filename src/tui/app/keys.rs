//! Keys and paste: overlays first (reveal panel, dialog, sign-in, form, palette, help), then
//! the active table's search box, then the keymap's actions — global ones here, the rest
//! handed to the screen. The command palette's keys and language are in `palette.rs`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::{App, Effect, MAX_PASTE, Palette};
use crate::tui::action::Request;
use crate::tui::keymap::Action;
use crate::tui::screens::Tab;
use crate::tui::widgets::dialog::{Dialog, DialogOutcome, PickPurpose, Picker};
use crate::tui::widgets::form::{Form, FormOutcome, Submission};
use crate::tui::widgets::reveal::{GUARD, Reveal, RevealOutcome};
use crate::tui::widgets::toast::Toast;

impl App {
    /// Anything on top of the screen (reveal panel, dialog, form, palette, help, sign-in).
    pub(super) fn overlay_open(&self) -> bool {
        self.reveal.is_some()
            || self.dialog.is_some()
            || self.form.is_some()
            || self.palette.is_some()
            || self.help
            || self.operator.is_none()
    }

    pub(super) fn on_key(&mut self, key: KeyEvent) {
        self.live_activity();
        self.touch();
        let now = self.clock.now();
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let ctrl_c = ctrl && matches!(key.code, KeyCode::Char('c' | 'C'));
        let ctrl_d = ctrl && matches!(key.code, KeyCode::Char('d' | 'D'));
        // Behind a blocking notice only quit acts (the reveal panel and error dialogs, which
        // replies can open while quitting waits, keep their own keys).
        let reply_on_screen =
            self.reveal.is_some() || matches!(self.dialog, Some(Dialog::Error { .. }));
        if self.too_small() || (self.quit_pending && !reply_on_screen) {
            if ctrl_c || (self.keymap.is(&key, Action::Quit) && !ctrl_d) {
                self.request_quit();
            }
            return;
        }
        // Ctrl-C is quit and nothing else; in an overlay Ctrl-D is nothing at all.
        if ctrl_c {
            self.request_quit();
            return;
        }
        if ctrl_d && self.overlay_open() {
            return;
        }
        if let Some(r) = self.reveal.as_mut() {
            match r.handle_key(&key, now) {
                RevealOutcome::Stay => {}
                RevealOutcome::Copy(s) => self.effects.push(Effect::Copy(s)),
                RevealOutcome::Close => {
                    let acknowledged = self.reveal.as_mut().and_then(|r| r.take_acknowledged());
                    // Dropping the panel zeroizes both keys; nothing can reopen it.
                    self.reveal = self.reveal_queue.pop_front().map(Reveal::new);
                    if let Some(r) = self.reveal.as_mut() {
                        r.queued_after = self.reveal_queue.len();
                    }
                    self.toasts
                        .push(Toast::ok("keys acknowledged; they are gone from memory"));
                    if self.reveal.is_none() {
                        let held = std::mem::take(&mut self.deferred_toasts);
                        self.toasts.extend(held);
                    }
                    if let Some(op) = acknowledged {
                        self.run_op(op, false);
                    }
                    self.maybe_finish_quit();
                }
            }
            return;
        }
        if let Some(d) = self.dialog.as_mut() {
            if d.is_confirmation() && now.saturating_sub(self.dialog_opened) < GUARD {
                // A pasted burst, key repeat or reflexive double key: not an answer.
                return;
            }
            match d.handle_key(&key) {
                DialogOutcome::Stay => {}
                DialogOutcome::Close => {
                    self.close_dialog();
                    self.maybe_finish_quit();
                }
                DialogOutcome::Run(op) => {
                    let from_form = self.dialog_from_form && self.form.is_some();
                    self.close_dialog();
                    self.run_op(op, from_form);
                }
                DialogOutcome::Picked { purpose, values } => {
                    self.close_dialog();
                    self.picked(purpose, values);
                }
                DialogOutcome::QuitWhenDone => {
                    self.close_dialog();
                    self.quit_pending = true;
                    self.maybe_finish_quit();
                }
            }
            return;
        }
        if self.operator.is_none() {
            self.signin_key(key);
            return;
        }
        if let Some(f) = self.form.as_mut() {
            match f.handle_key(&key) {
                FormOutcome::Stay => {}
                FormOutcome::Cancel => self.close_form(),
                FormOutcome::Refused(why) => self.toasts.push(Toast::warn(why)),
                FormOutcome::SearchUsers(text) => self.pick_users(text),
                FormOutcome::Submit(Submission::Op(op)) => {
                    match self.form.as_ref().and_then(Form::role_change) {
                        Some(change) => self.confirm_role_change(op, change),
                        None => {
                            // A cancellable task (an export) is watched from the footer,
                            // where Esc cancels it, not from a busy form.
                            let watched_in_form = !op.cancellable();
                            if !watched_in_form && !self.db_down() {
                                self.close_form();
                            }
                            self.run_op(op, watched_in_form);
                        }
                    }
                }
                FormOutcome::Submit(Submission::Load(job)) => {
                    self.close_form();
                    let tab = self.tab;
                    self.screen_cmd(tab, crate::tui::screens::Cmd::Load { slot: "form", job });
                }
                FormOutcome::Submit(_) => {}
            }
            return;
        }
        if self.palette.is_some() {
            self.palette_key(key);
            return;
        }
        if self.help {
            if matches!(key.code, KeyCode::Esc | KeyCode::Char('q'))
                || self.keymap.is(&key, Action::Help)
            {
                self.help = false;
                self.help_scroll = 0;
            } else if self.keymap.is(&key, Action::Down) {
                self.help_scroll = self.help_scroll.saturating_add(1);
            } else if self.keymap.is(&key, Action::Up) {
                self.help_scroll = self.help_scroll.saturating_sub(1);
            } else if self.keymap.is(&key, Action::PageDown) {
                self.help_scroll = self.help_scroll.saturating_add(10);
            } else if self.keymap.is(&key, Action::PageUp) {
                self.help_scroll = self.help_scroll.saturating_sub(10);
            }
            return;
        }
        if self.active_ref().table().search_active {
            self.search_key(key);
            return;
        }
        for action in self.keymap.actions(&key) {
            if self.global_action(action) {
                return;
            }
        }
    }

    fn signin_key(&mut self, key: KeyEvent) {
        if key.code == KeyCode::Esc && !self.signin.form.busy {
            self.request_quit();
            return;
        }
        match self.signin.form.handle_key(&key) {
            FormOutcome::Submit(Submission::SignIn { email, password }) => {
                self.signin.form.busy = true;
                let id = self.id();
                self.signin.awaiting = Some(id);
                self.signin.error = None;
                self.outbox.push(Request::SignIn {
                    id,
                    email,
                    password,
                });
            }
            FormOutcome::Submit(Submission::NewPassword { password }) => {
                if let Some(ch) = self.signin.challenge.clone() {
                    self.signin.form.busy = true;
                    let id = self.id();
                    self.signin.awaiting = Some(id);
                    self.outbox.push(Request::NewPassword {
                        id,
                        challenge: ch,
                        password,
                    });
                }
            }
            FormOutcome::Submit(Submission::MfaCode { code }) => {
                let id = self.id();
                let req = if let Some(setup) = self.signin.setup.clone() {
                    Request::MfaSetupCode { id, setup, code }
                } else if let Some(challenge) = self.signin.mfa.clone() {
                    Request::MfaCode {
                        id,
                        challenge,
                        code,
                    }
                } else {
                    return;
                };
                self.signin.form.busy = true;
                self.signin.awaiting = Some(id);
                self.signin.error = None;
                self.outbox.push(req);
            }
            FormOutcome::Cancel => self.request_quit(),
            _ => {}
        }
    }

    fn search_key(&mut self, key: KeyEvent) {
        let t = self.active().table_mut();
        match key.code {
            KeyCode::Esc => {
                t.search_active = false;
                t.search.reset();
                if t.apply_search() {
                    self.reload_active();
                }
            }
            KeyCode::Enter => {
                t.search_active = false;
                if t.apply_search() {
                    self.reload_active();
                }
            }
            _ => {
                if t.search
                    .handle_event(&crossterm::event::Event::Key(key))
                    .is_some()
                {
                    t.search_edited();
                }
            }
        }
    }

    /// Handles an action; false when nothing on this screen uses it.
    fn global_action(&mut self, action: Action) -> bool {
        if let Some(why) = self.action_denied(action) {
            if self.active_ref().actions().contains(&action) {
                self.toasts.push(Toast::warn(why));
                return true;
            }
            return false;
        }
        match action {
            Action::Quit => self.request_quit(),
            Action::Help => self.help = true,
            Action::Palette => self.palette = Some(Palette::default()),
            Action::NextTab | Action::PrevTab => {
                let i = self.tab.index();
                let n = Tab::ALL.len();
                let j = if action == Action::NextTab {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                self.switch_tab(Tab::ALL[j]);
            }
            Action::TabMandates => self.switch_tab(Tab::Mandates),
            Action::TabUsers => self.switch_tab(Tab::Users),
            Action::TabRegistrations => self.switch_tab(Tab::Registrations),
            Action::TabTrusts => self.switch_tab(Tab::Trusts),
            Action::TabKitSlots => self.switch_tab(Tab::KitSlots),
            Action::TabAudit => self.switch_tab(Tab::Audit),
            Action::TabDrift => self.switch_tab(Tab::Drift),
            Action::TabApprovals => self.switch_tab(Tab::Approvals),
            Action::Up | Action::Down => {
                let t = self.active().table_mut();
                if action == Action::Up {
                    t.up();
                } else {
                    t.down();
                }
                let tab = self.tab;
                let cmds = self.active().on_select();
                self.screen_cmds(tab, cmds);
            }
            Action::PageUp => {
                if self.active().table_mut().prev_page() {
                    self.reload_active();
                }
            }
            Action::PageDown => {
                if self.active().table_mut().next_page() {
                    self.reload_active();
                }
            }
            Action::First => {
                if self.active().table_mut().first_page() {
                    self.reload_active();
                }
            }
            Action::Last => {
                if self.active().table_mut().last_page() {
                    self.reload_active();
                }
            }
            Action::Search => {
                let t = self.active().table_mut();
                t.search_active = true;
                t.search = Input::new(t.query.search.clone().unwrap_or_default());
            }
            Action::Sort => {
                self.active().table_mut().cycle_sort();
                self.reload_active();
            }
            Action::Filter => {
                let cols: Vec<String> = self
                    .active_ref()
                    .table()
                    .columns
                    .iter()
                    .filter(|c| c.filterable)
                    .filter_map(|c| c.key.map(str::to_string))
                    .collect();
                if cols.is_empty() {
                    self.toasts.push(Toast::warn("this list has no filters"));
                } else {
                    self.open_dialog(Dialog::Picker(Picker::new(
                        "Filter by column",
                        PickPurpose::FilterColumn,
                        cols,
                        false,
                    )));
                }
            }
            Action::Refresh => {
                self.active().table_mut().invalidate_count();
                self.reload_active();
            }
            other => {
                let ctx = super::super::screens::Ctx {
                    operator: self.operator.as_ref(),
                };
                let tab = self.tab;
                // The record an edit form is about: the live view warns the form when
                // someone else changes it.
                let subject = self.screens[tab.index()]
                    .table()
                    .selected_row()
                    .map(|r| r.id.clone());
                let edits = matches!(other, Action::Edit | Action::Roles | Action::ChangePlan);
                match self.screens[tab.index()].on_action(other, &ctx) {
                    Some(cmd) => {
                        self.screen_cmd(tab, cmd);
                        if edits && self.form.is_some() {
                            self.live.form_subject = subject;
                        }
                    }
                    None if other == Action::Back => match self.cancellable() {
                        // Esc with nothing to go back to cancels long work that allows it.
                        Some((id, _)) => self.cancel(id),
                        None => return false,
                    },
                    None => return false,
                }
            }
        }
        true
    }

    /// Bracketed paste: text for the focused text input only (search box, form field, palette,
    /// type-the-name confirmation), newlines and controls stripped; it never submits and is
    /// never replayed as keys. With no text input focused it is ignored, with a toast.
    pub(super) fn on_paste(&mut self, raw: &str) {
        // Wiped when dropped: the text may be a password.
        let text: zeroize::Zeroizing<String> = zeroize::Zeroizing::new(
            raw.chars()
                .filter(|c| !c.is_control())
                .take(MAX_PASTE)
                .collect(),
        );
        if self.too_small() || (self.quit_pending && self.reveal.is_none()) {
            return;
        }
        let ignored = |app: &mut App, why: &str| {
            app.toasts
                .push(Toast::warn(format!("paste ignored: {why}")));
        };
        if self.reveal.is_some() {
            return ignored(self, "the key panel takes no paste");
        }
        if let Some(d) = self.dialog.as_mut() {
            if !d.paste(&text) {
                ignored(self, "this dialog takes no text");
            }
            return;
        }
        if self.operator.is_none() {
            if self.signin.form.paste(&text).is_none() {
                ignored(self, "no text field has focus");
            }
            return;
        }
        if let Some(f) = self.form.as_mut() {
            match f.paste(&text) {
                None => ignored(self, "the focused field takes no text"),
                Some(FormOutcome::SearchUsers(search)) => self.pick_users(search),
                Some(_) => {}
            }
            return;
        }
        if let Some(p) = self.palette.as_mut() {
            for c in text.chars() {
                p.input.handle(tui_input::InputRequest::InsertChar(c));
            }
            return;
        }
        if self.help {
            return ignored(self, "no text field has focus");
        }
        let t = self.active().table_mut();
        if t.search_active {
            for c in text.chars() {
                t.search.handle(tui_input::InputRequest::InsertChar(c));
            }
            t.search_edited();
            return;
        }
        ignored(self, "no text field has focus (press / to search)");
    }
}
