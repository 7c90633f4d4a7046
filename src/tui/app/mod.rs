//! The router: the tab bar, the overlays (dialog, form, reveal panel, palette, help, toasts)
//! and the global keys. It knows screens only through the tab registry ([`Screens`]); every
//! reply goes back to whoever asked, and the [`Inbox`] is the one place where stale replies
//! are dropped.
//! `App::update` only changes state and queues [`Request`]s; the loop in `tui/mod.rs` runs
//! them as tasks. Nothing here awaits I/O, so every path is unit-testable.
//!
//! Files: `mod.rs` (state, session), `inbox.rs` (which replies are still wanted), `keys.rs`
//! (keys, paste), `palette.rs` (the command palette), `ops.rs` (mutations in flight,
//! quitting), `render.rs` (drawing), `routing.rs` (screens, their commands and the routing of
//! replies), `live.rs` (the change feed), `outage.rs` (a database outage).

mod idle;
mod inbox;
mod keys;
mod layers;
mod live;
mod ops;
mod outage;
mod palette;
mod render;
mod routing;

use std::collections::VecDeque;
use std::time::Duration;

use tui_input::Input;

use super::action::{ErrorReport, LoadBox, RevealKeys};
use super::clock::Clock;
use super::keymap::Keymap;
use super::msg::{Reply, Request};
use super::screens::signin::SignInScreen;
use super::screens::{Screens, Tab, TabScreen};
use super::theme::Theme;
use super::widgets::dialog::Dialog;
use super::widgets::form::Form;
use super::widgets::reveal::Reveal;
use super::widgets::toast::Toast;
use crate::domain::{DisplayText, Secret};
use crate::service::Operator;

pub use super::msg::AppConfig;
pub use inbox::{Inbox, Owner};
pub use layers::Layer;
pub use live::Live;
pub use ops::{InFlight, Operations};
pub use outage::Outage;

/// Smallest usable terminal.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// Health pings every this many ticks.
const HEALTH_EVERY: u64 = 50;
/// The longest paste taken (characters, after stripping newlines and controls).
pub const MAX_PASTE: usize = 4096;

/// Side effects on the terminal itself (the loop performs them).
#[derive(Debug)]
pub enum Effect {
    /// OSC 52 clipboard write of a key from the reveal panel.
    Copy(Secret),
}

/// DB and directory health from the background pings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    pub db: Option<bool>,
    pub directory: Option<bool>,
    /// Changes waiting for a second operator.
    pub approvals: Option<i64>,
}

/// The command palette (`:`), with history.
#[derive(Debug, Default)]
pub struct Palette {
    pub input: Input,
    pub history_pos: Option<usize>,
}

pub struct App {
    pub config: AppConfig,
    pub keymap: Keymap,
    pub theme: Theme,
    pub operator: Option<Operator>,
    pub signin: SignInScreen,
    pub tab: Tab,
    /// One screen per tab.
    pub screens: Screens,
    pub dialog: Option<Dialog>,
    pub form: Option<Form>,
    pub reveal: Option<Reveal>,
    pub palette: Option<Palette>,
    pub palette_history: Vec<String>,
    pub help: bool,
    pub help_scroll: u16,
    pub toasts: Vec<Toast>,
    pub health: Health,
    /// The database outage in progress, if any (banner, refusals, unknown outcomes).
    pub outage: Outage,
    /// The live view (change-feed polling, the open form's warning).
    pub live: Live,
    pub tick: u64,
    pub quit: bool,
    /// The console's clock (manual in tests).
    pub clock: Clock,
    /// The terminal's size, from resize events (None until the first one).
    pub screen_size: Option<(u16, u16)>,
    /// The operations tracker: changes in flight, cancelled ones, a quit waiting for them.
    pub ops: Operations,
    /// Every read whose reply is still wanted (the one stale check).
    pub inbox: Inbox,
    /// Key sets that arrived while the reveal panel was showing another.
    pub reveal_queue: VecDeque<RevealKeys>,
    /// Results reported while the reveal panel was up (shown when it closes).
    deferred_toasts: Vec<Toast>,
    /// Error dialogs that arrived while another dialog was open.
    dialog_queue: VecDeque<Dialog>,
    /// When the current dialog opened (confirmations ignore keys for a moment).
    dialog_opened: Duration,
    /// The open confirmation belongs to the open form's submission.
    dialog_from_form: bool,
    next_id: u64,
    outbox: Vec<Request>,
    effects: Vec<Effect>,
    /// Which tabs have loaded their first page.
    loaded: Vec<Tab>,
    /// The `:env` switch in progress (its request id).
    env_switch: Option<u64>,
    /// When the last key was pressed (the idle sign-out counts from it).
    last_key: Duration,
    /// The screens of an operator signed out for being idle, until they sign in again.
    parked: Option<idle::Parked>,
}

impl App {
    pub fn new(
        config: AppConfig,
        keymap: Keymap,
        theme: Theme,
        operator: Option<Operator>,
    ) -> Self {
        let mut app = Self {
            config,
            keymap,
            theme,
            operator: None,
            signin: SignInScreen::new(),
            tab: Tab::Mandates,
            screens: Screens::new(),
            dialog: None,
            form: None,
            reveal: None,
            palette: None,
            palette_history: Vec::new(),
            help: false,
            help_scroll: 0,
            toasts: Vec::new(),
            health: Health::default(),
            outage: Outage::default(),
            live: Live::default(),
            tick: 0,
            quit: false,
            clock: Clock::system(),
            screen_size: None,
            ops: Operations::default(),
            inbox: Inbox::default(),
            reveal_queue: VecDeque::new(),
            deferred_toasts: Vec::new(),
            dialog_queue: VecDeque::new(),
            dialog_opened: Duration::ZERO,
            dialog_from_form: false,
            next_id: 0,
            outbox: Vec::new(),
            effects: Vec::new(),
            loaded: Vec::new(),
            env_switch: None,
            last_key: Duration::ZERO,
            parked: None,
        };
        if let Some(op) = operator {
            app.signed_in(op);
        }
        app.outbox.push(Request::Health);
        app
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Requests queued since the last call (the loop spawns one task each).
    pub fn take_requests(&mut self) -> Vec<Request> {
        std::mem::take(&mut self.outbox)
    }

    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// The screen of a tab.
    pub fn screen(&self, tab: Tab) -> &dyn TabScreen {
        self.screens.get(tab)
    }

    pub fn screen_mut(&mut self, tab: Tab) -> &mut dyn TabScreen {
        self.screens.get_mut(tab)
    }

    fn active(&mut self) -> &mut dyn TabScreen {
        self.screens.get_mut(self.tab)
    }

    pub fn active_ref(&self) -> &dyn TabScreen {
        self.screens.get(self.tab)
    }

    /// Sends a read for `owner`; its answer comes back through the inbox.
    fn ask(&mut self, owner: Owner, load: LoadBox<Reply>) {
        let id = self.id();
        self.inbox.expect(id, owner, load.purpose());
        self.outbox.push(Request::Load { id, load });
    }

    fn open_form(&mut self, f: Form) {
        self.close_form();
        self.form = Some(f);
    }

    /// Closes the form; replies it waited for are no longer wanted.
    fn close_form(&mut self) {
        self.form = None;
        self.live.form_subject = None;
        self.live.form_notice = None;
        self.inbox.forget(Owner::Form);
    }

    fn signed_in(&mut self, op: Operator) {
        tracing::info!(operator = %op.sub, "operator signed in");
        let sub = op.sub;
        self.operator = Some(op);
        self.signin = SignInScreen::new();
        self.touch();
        if !self.resume(sub) {
            self.switch_tab(Tab::Mandates);
        }
    }

    /// The service refused because the operator's own authority is gone: back to the sign-in
    /// screen with the reason. Replies still in flight are handled (keys are still shown).
    fn sign_out(&mut self, reason: &ErrorReport) {
        tracing::warn!("operator signed out: authority revoked");
        self.clear_session();
        self.signin.error = Some(format!(
            "You were signed out: {}. Ask another operator to restore your access.",
            reason.joined()
        ));
    }

    /// Forgets the operator and every screen's data: back to an empty sign-in screen.
    fn clear_session(&mut self) {
        self.operator = None;
        self.live = Live::default();
        self.screens = Screens::new();
        self.inbox.clear();
        self.loaded.clear();
        self.tab = Tab::Mandates;
        self.form = None;
        self.dialog = None;
        self.dialog_queue.clear();
        self.dialog_from_form = false;
        self.palette = None;
        self.help = false;
        for job in self.ops.inflight.values_mut() {
            job.form = false;
        }
        self.signin = SignInScreen::new();
    }

    /// `:env NAME`: asks the loop to connect to another environment. Refused while changes
    /// are in flight (their replies belong to this environment's operator).
    fn switch_env(&mut self, name: &str) {
        if name.is_empty() {
            self.toasts.push(Toast::info(format!(
                "environment {}; :env NAME switches (and signs you in again)",
                DisplayText::with_max(&self.config.environment, 24)
            )));
            return;
        }
        if !self.ops.inflight.is_empty() {
            self.toasts.push(Toast::warn(format!(
                "wait for {} running change(s) before switching environments",
                self.ops.inflight.len()
            )));
            return;
        }
        let id = self.id();
        self.env_switch = Some(id);
        self.toasts.push(Toast::info(format!(
            "connecting to {}…",
            DisplayText::with_max(name, 24)
        )));
        self.outbox.push(Request::SwitchEnv {
            id,
            name: name.to_string(),
        });
    }

    /// The loop connected to the new environment (and swapped the services), or could not.
    fn env_switched(&mut self, id: u64, result: Result<AppConfig, ErrorReport>) {
        if self.env_switch != Some(id) {
            return;
        }
        self.env_switch = None;
        match result {
            Ok(config) => {
                tracing::info!(environment = %config.environment, "switched environment");
                self.config = config;
                self.clear_session();
                self.health = Health::default();
                self.outage = Outage::default();
                self.outbox.push(Request::Health);
                self.toasts.push(Toast::info(format!(
                    "environment {}: sign in",
                    DisplayText::with_max(&self.config.environment, 24)
                )));
            }
            Err(e) => self.report_error("Could not switch the environment", e),
        }
    }

    /// The terminal is below the minimum size (only resize and quit act).
    pub fn too_small(&self) -> bool {
        self.screen_size
            .is_some_and(|(w, h)| w < MIN_WIDTH || h < MIN_HEIGHT)
    }

    /// Opens an operator-initiated dialog (replacing any open one).
    fn open_dialog(&mut self, d: Dialog) {
        self.dialog = Some(d);
        self.dialog_opened = self.clock.now();
        self.dialog_from_form = false;
    }

    /// Shows a failure; queued behind an open dialog so neither is lost.
    fn report_error(&mut self, title: impl Into<String>, e: ErrorReport) {
        let d = Dialog::error(title, e);
        if self.dialog.is_some() {
            self.dialog_queue.push_back(d);
        } else {
            self.open_dialog(d);
        }
    }

    fn close_dialog(&mut self) {
        self.dialog_from_form = false;
        self.dialog = None;
        if let Some(d) = self.dialog_queue.pop_front() {
            self.open_dialog(d);
        }
    }

    /// A result for the operator; held back while the reveal panel covers the screen.
    fn report(&mut self, t: Toast) {
        if self.reveal.is_some() {
            self.deferred_toasts.push(t);
        } else {
            self.toasts.push(t);
        }
    }

    fn debounce_ticks(&self) -> u32 {
        let t = super::event::TICK.as_millis().max(1) as u64;
        (self.config.search_debounce_ms.div_ceil(t)).max(1) as u32
    }

    // ---------- permissions (mirrors the service's rules; the service still decides) ----------

    fn has(&self, p: crate::domain::PermissionRef) -> bool {
        self.operator
            .as_ref()
            .is_some_and(|o| o.permissions.contains(&p))
    }

    /// Why the operator may not read a tab, if they may not.
    pub fn tab_denied(&self, tab: Tab) -> Option<&'static str> {
        tab.requires()
            .and_then(|(p, why)| (!self.has(p)).then_some(why))
    }

    /// Why an action is not available to this operator here (read-only mode included).
    pub fn action_denied(&self, action: super::keymap::Action) -> Option<&'static str> {
        if !action.mutates() {
            return None;
        }
        if self.config.read_only {
            return Some("read-only mode: changes are disabled");
        }
        if let Some(why) = self.tab_denied(self.tab) {
            return Some(why);
        }
        self.active_ref().write_denied(&|p| self.has(p))
    }
}
