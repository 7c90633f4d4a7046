//! The router: the tab bar, the overlays (dialog, form, reveal panel, palette, help, toasts)
//! and the global keys. It knows screens only through [`Screen`]; every reply goes back to
//! whoever asked, and [`App::pending`] is the one place where stale replies are dropped.
//! `App::update` only changes state and queues [`Request`]s; the loop in `tui/mod.rs` runs
//! them as tasks. Nothing here awaits I/O, so every path is unit-testable.
//!
//! Files: `mod.rs` (state, session, reply routing), `keys.rs` (keys, paste, palette),
//! `ops.rs` (mutations in flight, quitting), `render.rs` (drawing), `routing.rs` (screens,
//! their commands and the routing of replies).

mod idle;
mod keys;
mod live;
mod ops;
mod outage;
mod palette;
mod render;
mod routing;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use tui_input::Input;

use super::action::{ErrorReport, Request, RevealKeys};
use super::clock::Clock;
use super::keymap::Keymap;
use super::screens::signin::SignInScreen;
use super::screens::{Screen, Tab};
use super::theme::Theme;
use super::widgets::dialog::Dialog;
use super::widgets::form::Form;
use super::widgets::reveal::Reveal;
use super::widgets::toast::Toast;
use crate::domain::{DisplayText, Secret};
use crate::service::Operator;

pub use live::Live;
pub use ops::InFlight;
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

/// What the settings give the console.
#[derive(Clone, Debug)]
pub struct AppConfig {
    pub environment: String,
    pub environment_color: String,
    pub read_only: bool,
    pub directory_kind: String,
    pub search_debounce_ms: u64,
    pub demo_credentials: Option<(String, String)>,
    /// Sign the operator out after this long without a key press (None: never).
    pub idle: Option<Duration>,
}

impl AppConfig {
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        Self {
            environment: s.ui.environment.clone(),
            environment_color: s.ui.environment_color.clone(),
            read_only: s.ui.read_only,
            directory_kind: match s.directory.kind {
                crate::config::DirectoryKind::Cognito => "cognito".into(),
                crate::config::DirectoryKind::Local => "local".into(),
            },
            search_debounce_ms: s.ui.search_debounce_ms,
            demo_credentials: None,
            idle: idle::idle_limit(s.console.idle_minutes),
        }
    }
}

/// Who waits for a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// A screen (its [`Screen::on_reply`]).
    Tab(Tab),
    /// The open form (role choices, user picker).
    Form,
    /// The filter menu of a column.
    Filter(String),
    /// The live view's poll of the change feed.
    Live,
}

/// A reply still wanted: by whom, and for what (a newer request of the same owner, slot and
/// list supersedes it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub owner: Owner,
    pub slot: &'static str,
    pub list: &'static str,
}

pub struct App {
    pub config: AppConfig,
    pub keymap: Keymap,
    pub theme: Theme,
    pub operator: Option<Operator>,
    pub signin: SignInScreen,
    pub tab: Tab,
    /// One screen per tab, in [`Tab::ALL`] order.
    pub screens: Vec<Box<dyn Screen>>,
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
    /// Quit was asked for while mutations were in flight: quit once every reply is in and
    /// every key set was acknowledged.
    pub quit_pending: bool,
    /// The console's clock (manual in tests).
    pub clock: Clock,
    /// The terminal's size, from resize events (None until the first one).
    pub screen_size: Option<(u16, u16)>,
    /// Every mutation in flight, by request id.
    pub inflight: BTreeMap<u64, InFlight>,
    /// Cancelled mutations whose late reply is dropped.
    cancelled: BTreeSet<u64>,
    /// Every read whose reply is still wanted, by request id (the one stale check).
    pub pending: BTreeMap<u64, Pending>,
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

fn fresh_screens() -> Vec<Box<dyn Screen>> {
    Tab::ALL.iter().map(|t| t.screen()).collect()
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
            screens: fresh_screens(),
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
            quit_pending: false,
            clock: Clock::system(),
            screen_size: None,
            inflight: BTreeMap::new(),
            cancelled: BTreeSet::new(),
            pending: BTreeMap::new(),
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
    pub fn screen(&self, tab: Tab) -> &dyn Screen {
        self.screens[tab.index()].as_ref()
    }

    /// The screen of a tab, as its concrete type (tests).
    pub fn screen_mut(&mut self, tab: Tab) -> &mut dyn Screen {
        self.screens[tab.index()].as_mut()
    }

    fn active(&mut self) -> &mut dyn Screen {
        self.screens[self.tab.index()].as_mut()
    }

    pub fn active_ref(&self) -> &dyn Screen {
        self.screens[self.tab.index()].as_ref()
    }

    /// Waits for reply `id` on behalf of `owner`; an older request of the same owner, slot
    /// and list is no longer wanted.
    fn expect(&mut self, id: u64, owner: Owner, slot: &'static str, list: &'static str) {
        let p = Pending { owner, slot, list };
        self.pending.retain(|_, q| *q != p);
        self.pending.insert(id, p);
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
        self.pending.retain(|_, p| p.owner != Owner::Form);
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
        self.screens = fresh_screens();
        self.pending.clear();
        self.loaded.clear();
        self.tab = Tab::Mandates;
        self.form = None;
        self.dialog = None;
        self.dialog_queue.clear();
        self.dialog_from_form = false;
        self.palette = None;
        self.help = false;
        for job in self.inflight.values_mut() {
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
        if !self.inflight.is_empty() {
            self.toasts.push(Toast::warn(format!(
                "wait for {} running change(s) before switching environments",
                self.inflight.len()
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
