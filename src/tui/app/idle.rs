//! Sessions end after a quiet spell: after `[console] idle_minutes` without a key press the
//! operator is signed out (an unattended console must not keep acting for them) and sees the
//! sign-in screen, MFA included. Their screens — tab, selection, search, filters, an open
//! form — are parked, not dropped: signing in again as the same operator brings them back and
//! reloads them with the authority read at that sign-in; anybody else starts afresh.

use std::time::Duration;

use super::{App, Tab};
use crate::domain::UserSub;
use crate::tui::screens::Screens;
use crate::tui::widgets::form::Form;

/// What an idle sign-out set aside for its operator's return.
pub struct Parked {
    sub: UserSub,
    tab: Tab,
    screens: Screens,
    form: Option<Form>,
}

impl App {
    /// A key was pressed: the quiet spell starts again.
    pub(super) fn touch(&mut self) {
        self.last_key = self.clock.now();
    }

    /// Signs the operator out once the console has been quiet for the configured time.
    pub(super) fn idle_check(&mut self) {
        let Some(limit) = self.config.idle else {
            return;
        };
        let Some(sub) = self.operator.as_ref().map(|o| o.sub) else {
            return;
        };
        if self.clock.now().saturating_sub(self.last_key) < limit {
            return;
        }
        tracing::info!(operator = %sub, "operator signed out: idle");
        let tab = self.tab;
        let screens = std::mem::take(&mut self.screens);
        let form = self.form.take();
        self.clear_session();
        self.parked = Some(Parked {
            sub,
            tab,
            screens,
            form,
        });
        self.signin.error = Some(format!(
            "Signed out after {} without a key press. Sign in again to return to {}.",
            quiet(limit),
            tab.title()
        ));
    }

    /// After a sign-in: the same operator gets the parked screens back (reloaded now); true
    /// when they did. Anybody else finds nothing of the previous operator's.
    pub(super) fn resume(&mut self, sub: UserSub) -> bool {
        match self.parked.take() {
            Some(p) if p.sub == sub => {
                self.screens = p.screens;
                self.loaded.clear();
                self.switch_tab(p.tab);
                self.form = p.form;
                true
            }
            _ => false,
        }
    }
}

/// "15 min", "30 s".
fn quiet(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}
