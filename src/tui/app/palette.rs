//! The command palette (`:`): its keys (history on ↑/↓) and its language — jump-and-search
//! commands, `:env`, `:quit`, and each screen's own commands (`:since`, `:drift`, `:deleted`).

use crossterm::event::{KeyCode, KeyEvent};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::App;
use crate::domain::DisplayText;
use crate::tui::screens::Tab;
use crate::tui::widgets::toast::Toast;

impl App {
    pub(super) fn palette_key(&mut self, key: KeyEvent) {
        let Some(p) = self.palette.as_mut() else {
            return;
        };
        match key.code {
            KeyCode::Esc => self.palette = None,
            KeyCode::Up | KeyCode::Down => {
                if self.palette_history.is_empty() {
                    return;
                }
                let n = self.palette_history.len();
                let pos = match (p.history_pos, key.code) {
                    (None, KeyCode::Up) => n - 1,
                    (Some(i), KeyCode::Up) => i.saturating_sub(1),
                    (Some(i), _) if i + 1 < n => i + 1,
                    _ => {
                        p.history_pos = None;
                        p.input = Input::default();
                        return;
                    }
                };
                p.history_pos = Some(pos);
                p.input = Input::new(self.palette_history[pos].clone());
            }
            KeyCode::Enter => {
                let line = p.input.value().trim().to_string();
                self.palette = None;
                if !line.is_empty() {
                    self.palette_history.retain(|h| h != &line);
                    self.palette_history.push(line.clone());
                    if self.palette_history.len() > 50 {
                        self.palette_history.remove(0);
                    }
                    self.run_command(&line);
                }
            }
            _ => {
                p.input.handle_event(&crossterm::event::Event::Key(key));
            }
        }
    }

    /// Runs a palette command (`mandate NAME`, `user EMAIL`, `trust CODE`, `registrations`,
    /// `env NAME`, `quit`).
    pub fn run_command(&mut self, line: &str) {
        let line = line.trim().trim_start_matches(':');
        let (cmd, arg) = line.split_once(' ').unwrap_or((line, ""));
        let arg = arg.trim();
        let search_in = |app: &mut App, tab: Tab, arg: &str| {
            app.screens.get_mut(tab).top();
            if app.tab_denied(tab).is_some() {
                app.switch_tab(tab);
                return;
            }
            app.tab = tab;
            if !app.loaded.contains(&tab) {
                app.loaded.push(tab);
            }
            let t = app.active().table_mut();
            t.search = Input::new(arg.to_string());
            t.apply_search();
            app.reload_active();
        };
        if let Some(tab) = Tab::by_word(cmd) {
            return search_in(self, tab, arg);
        }
        match cmd {
            "quit" | "q" => self.request_quit(),
            "help" => self.help = true,
            "env" => self.switch_env(arg),
            other => {
                // A screen's own command (`:since` on the audit screen), else unknown.
                if let Some(tab) = Tab::ALL
                    .iter()
                    .copied()
                    .find(|t| self.screens.get(*t).commands().contains(&other))
                {
                    self.tab = tab;
                    if !self.loaded.contains(&tab) {
                        self.loaded.push(tab);
                    }
                    let cmds = self.screens.get_mut(tab).command(other, arg);
                    self.screen_cmds(tab, cmds);
                    return;
                }
                self.toasts.push(Toast::warn(format!(
                "unknown command :{} (try :mandate, :user, :trust, :registrations, :drift, :deleted, :since, :until, :env, :quit)",
                DisplayText::with_max(other, 20)
            )));
            }
        }
    }
}
