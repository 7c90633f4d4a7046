//! The layers over the screen, top first: the reveal panel, a dialog, the sign-in screen, a
//! form, the palette, help, the table's search box, then the screen itself. A key or a paste
//! goes to the topmost open layer, which consumes it — one order, kept here, for both.

use crossterm::event::{KeyCode, KeyEvent};

use super::{App, Effect};
use crate::tui::keymap::Action;
use crate::tui::widgets::dialog::DialogOutcome;
use crate::tui::widgets::form::{Form, FormOutcome, Submission};
use crate::tui::widgets::reveal::{GUARD, Reveal, RevealOutcome};
use crate::tui::widgets::toast::Toast;

/// What takes the next key or paste.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Reveal,
    Dialog,
    SignIn,
    Form,
    Palette,
    Help,
    Search,
    Screen,
}

impl Layer {
    /// A layer that covers the screen (the search box is part of it).
    pub fn is_overlay(self) -> bool {
        !matches!(self, Layer::Search | Layer::Screen)
    }
}

impl App {
    /// The topmost open layer.
    pub fn top_layer(&self) -> Layer {
        if self.reveal.is_some() {
            Layer::Reveal
        } else if self.dialog.is_some() {
            Layer::Dialog
        } else if self.operator.is_none() {
            Layer::SignIn
        } else if self.form.is_some() {
            Layer::Form
        } else if self.palette.is_some() {
            Layer::Palette
        } else if self.help {
            Layer::Help
        } else if self.active_ref().table().search_active {
            Layer::Search
        } else {
            Layer::Screen
        }
    }

    /// A key for the reveal panel.
    pub(super) fn reveal_key(&mut self, key: KeyEvent, now: std::time::Duration) {
        let Some(r) = self.reveal.as_mut() else {
            return;
        };
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
    }

    /// A key for the open dialog.
    pub(super) fn dialog_key(&mut self, key: KeyEvent, now: std::time::Duration) {
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
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
                self.ops.quit_pending = true;
                self.maybe_finish_quit();
            }
        }
    }

    /// A key for the open form.
    pub(super) fn form_key(&mut self, key: KeyEvent) {
        let Some(f) = self.form.as_mut() else {
            return;
        };
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
            FormOutcome::Submit(Submission::ToScreen) => {
                self.close_form();
                let tab = self.tab;
                let cmds = self.active().on_submitted();
                self.screen_cmds(tab, cmds);
            }
            FormOutcome::Submit(_) => {}
        }
    }

    /// A key for the help screen (scrolling, closing).
    pub(super) fn help_key(&mut self, key: KeyEvent) {
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
    }
}
