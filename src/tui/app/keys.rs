//! Keys and paste: overlays first (reveal panel, dialog, sign-in, form, palette, help), then
//! the active table's search box, then the keymap's actions — global ones here, the rest
//! handed to the screen. The command palette's keys and language are in `palette.rs`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::{App, Layer, MAX_PASTE, Owner, Palette};
use crate::tui::action::{Anonymous, ask};
use crate::tui::keymap::Action;
use crate::tui::msg::Reply;
use crate::tui::screens::Tab;
use crate::tui::screens::signin::data::SignInJob;
use crate::tui::widgets::dialog::{Dialog, PickPurpose, Picker};
use crate::tui::widgets::form::{FormOutcome, Submission};
use crate::tui::widgets::toast::Toast;

impl App {
    /// Anything on top of the screen (reveal panel, dialog, form, palette, help, sign-in).
    pub(super) fn overlay_open(&self) -> bool {
        self.top_layer().is_overlay()
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
        if self.too_small() || (self.ops.quit_pending && !reply_on_screen) {
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
        match self.top_layer() {
            Layer::Reveal => self.reveal_key(key, now),
            Layer::Dialog => self.dialog_key(key, now),
            Layer::SignIn => self.signin_key(key),
            Layer::Form => self.form_key(key),
            Layer::Palette => self.palette_key(key),
            Layer::Help => self.help_key(key),
            Layer::Search => self.search_key(key),
            Layer::Screen => {
                for action in self.keymap.actions(&key) {
                    if self.global_action(action) {
                        return;
                    }
                }
            }
        }
    }

    /// The sign-in screen's keys: each step is an ordinary read of the sign-in screen
    /// (anonymous: nobody is signed in yet), its answer routed like any other.
    fn signin_key(&mut self, key: KeyEvent) {
        if key.code == KeyCode::Esc && !self.signin.form.busy {
            self.request_quit();
            return;
        }
        let job = match self.signin.form.handle_key(&key) {
            FormOutcome::Submit(Submission::SignIn { email, password }) => {
                self.signin.error = None;
                SignInJob::Password { email, password }
            }
            FormOutcome::Submit(Submission::NewPassword { password }) => {
                let Some(challenge) = self.signin.challenge.clone() else {
                    return;
                };
                SignInJob::NewPassword {
                    challenge,
                    password,
                }
            }
            FormOutcome::Submit(Submission::MfaCode { code }) => {
                let job = if let Some(setup) = self.signin.setup.clone() {
                    SignInJob::MfaSetupCode { setup, code }
                } else if let Some(challenge) = self.signin.mfa.clone() {
                    SignInJob::MfaCode { challenge, code }
                } else {
                    return;
                };
                self.signin.error = None;
                job
            }
            FormOutcome::Cancel => return self.request_quit(),
            _ => return,
        };
        self.signin.form.busy = true;
        self.ask(Owner::SignIn, ask(Anonymous(job), Reply::SignIn));
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
            // The tab at that place in the bar (a number past the last tab does nothing).
            Action::Tab(n) => match Tab::ALL.get(usize::from(n)) {
                Some(tab) => self.switch_tab(*tab),
                None => return false,
            },
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
                    .filter(|c| c.filterable && c.key.is_some())
                    .map(|c| c.title.to_string())
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
                let subject = self
                    .screens
                    .get(tab)
                    .table()
                    .selected_row()
                    .map(|r| r.id.clone());
                let edits = matches!(other, Action::Edit | Action::Roles | Action::ChangePlan);
                match self.screens.get_mut(tab).on_action(other, &ctx) {
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
        // Line breaks become spaces; a form's text field gets every other character as it came
        // (its validation refuses and names a control character, as the CLI does), anything
        // else only the printable ones.
        let line: zeroize::Zeroizing<String> = zeroize::Zeroizing::new(
            crate::domain::text::single_line(raw)
                .chars()
                .take(MAX_PASTE)
                .collect(),
        );
        let text: zeroize::Zeroizing<String> =
            zeroize::Zeroizing::new(line.chars().filter(|c| !c.is_control()).collect());
        if self.too_small() || (self.ops.quit_pending && self.reveal.is_none()) {
            return;
        }
        let ignored = |app: &mut App, why: &str| {
            app.toasts
                .push(Toast::warn(format!("paste ignored: {why}")));
        };
        match self.top_layer() {
            Layer::Reveal => ignored(self, "the key panel takes no paste"),
            Layer::Dialog => {
                if self.dialog.as_mut().is_some_and(|d| !d.paste(&text)) {
                    ignored(self, "this dialog takes no text");
                }
            }
            Layer::SignIn => {
                if self.signin.form.paste(&text).is_none() {
                    ignored(self, "no text field has focus");
                }
            }
            Layer::Form => match self.form.as_mut().and_then(|f| f.paste(&line)) {
                None => ignored(self, "the focused field takes no text"),
                Some(FormOutcome::SearchUsers(search)) => self.pick_users(search),
                Some(_) => {}
            },
            Layer::Palette => {
                if let Some(p) = self.palette.as_mut() {
                    for c in text.chars() {
                        p.input.handle(tui_input::InputRequest::InsertChar(c));
                    }
                }
            }
            Layer::Help => ignored(self, "no text field has focus"),
            Layer::Search => {
                let t = self.active().table_mut();
                for c in text.chars() {
                    t.search.handle(tui_input::InputRequest::InsertChar(c));
                }
                t.search_edited();
            }
            Layer::Screen => ignored(self, "no text field has focus (press / to search)"),
        }
    }
}
