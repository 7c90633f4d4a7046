//! The application state and its update function. `App::update` only changes state and queues
//! [`Request`]s; the loop in `tui/mod.rs` runs them as tasks and feeds the results back as
//! [`Msg`]s. Nothing here awaits I/O, so every path is unit-testable.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::action::{
    ErrorReport, ListKey, Msg, Op, OpOutcome, Request, RevealKeys, RoleChoices, SignInReply,
};
use super::clock::Clock;
use super::keymap::{Action, Keymap};
use super::screens::audit::AuditScreen;
use super::screens::kit_slots::KitSlotsScreen;
use super::screens::mandates::{MandatesScreen, MembersScreen};
use super::screens::registrations::RegistrationsScreen;
use super::screens::signin::SignInScreen;
use super::screens::trusts::TrustsScreen;
use super::screens::users::UsersScreen;
use super::screens::{Cmd, Screen, Tab};
use super::theme::Theme;
use super::widgets::dialog::{Dialog, DialogOutcome, PickPurpose, Picker};
use super::widgets::form::{Form, FormKind, FormOutcome, RoleChange, Submission};
use super::widgets::reveal::{GUARD, Reveal, RevealOutcome};
use super::widgets::table::{SPINNER, TableView};
use super::widgets::toast::Toast;
use crate::domain::{DisplayText, Secret};
use crate::service::Operator;

/// Smallest usable terminal.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// Health pings every this many ticks.
const HEALTH_EVERY: u64 = 50;
/// The longest paste taken (characters, after stripping newlines and controls).
pub const MAX_PASTE: usize = 4096;

/// One mutation in flight, until its reply arrives.
#[derive(Clone, Debug)]
pub struct InFlight {
    pub what: &'static str,
    /// The record it changes (a second change to it waits for this one).
    pub subject: Option<String>,
    /// Submitted from the open form (the form stays open and cannot close until the reply).
    pub form: bool,
}

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
        }
    }
}

pub struct App {
    pub config: AppConfig,
    pub keymap: Keymap,
    pub theme: Theme,
    pub operator: Option<Operator>,
    pub signin: SignInScreen,
    pub tab: Tab,
    pub mandates: MandatesScreen,
    pub members: Option<MembersScreen>,
    pub users: UsersScreen,
    pub registrations: RegistrationsScreen,
    pub trusts: TrustsScreen,
    pub kit_slots: KitSlotsScreen,
    pub audit: AuditScreen,
    pub dialog: Option<Dialog>,
    pub form: Option<Form>,
    pub reveal: Option<Reveal>,
    pub palette: Option<Palette>,
    pub palette_history: Vec<String>,
    pub help: bool,
    pub help_scroll: u16,
    pub toasts: Vec<Toast>,
    pub health: Health,
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
    /// Key sets that arrived while the reveal panel was showing another.
    pub reveal_queue: VecDeque<RevealKeys>,
    /// Results reported while the reveal panel was up (shown when it closes).
    deferred_toasts: Vec<Toast>,
    /// Error dialogs that arrived while another dialog was open.
    dialog_queue: VecDeque<Dialog>,
    /// When the current dialog opened (confirmations ignore keys for [`GUARD`]).
    dialog_opened: Duration,
    /// The open confirmation belongs to the open form's submission.
    dialog_from_form: bool,
    next_id: u64,
    outbox: Vec<Request>,
    effects: Vec<Effect>,
    filter_awaiting: Option<(u64, String)>,
    /// Which tabs have loaded their first page.
    loaded: Vec<Tab>,
    /// The `:env` switch in progress (its request id).
    env_switch: Option<u64>,
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
            mandates: MandatesScreen::new(),
            members: None,
            users: UsersScreen::new(),
            registrations: RegistrationsScreen::new(),
            trusts: TrustsScreen::new(),
            kit_slots: KitSlotsScreen::new(),
            audit: AuditScreen::new(),
            dialog: None,
            form: None,
            reveal: None,
            palette: None,
            palette_history: Vec::new(),
            help: false,
            help_scroll: 0,
            toasts: Vec::new(),
            health: Health::default(),
            tick: 0,
            quit: false,
            quit_pending: false,
            clock: Clock::system(),
            screen_size: None,
            inflight: BTreeMap::new(),
            reveal_queue: VecDeque::new(),
            deferred_toasts: Vec::new(),
            dialog_queue: VecDeque::new(),
            dialog_opened: Duration::ZERO,
            dialog_from_form: false,
            next_id: 0,
            outbox: Vec::new(),
            effects: Vec::new(),
            filter_awaiting: None,
            loaded: Vec::new(),
            env_switch: None,
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

    fn signed_in(&mut self, op: Operator) {
        tracing::info!(operator = %op.sub, "operator signed in");
        self.users.me = Some(op.sub.to_string());
        self.operator = Some(op);
        self.signin = SignInScreen::new();
        self.switch_tab(Tab::Mandates);
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
        self.mandates = MandatesScreen::new();
        self.members = None;
        self.users = UsersScreen::new();
        self.registrations = RegistrationsScreen::new();
        self.trusts = TrustsScreen::new();
        self.kit_slots = KitSlotsScreen::new();
        self.audit = AuditScreen::new();
        self.loaded.clear();
        self.tab = Tab::Mandates;
        self.form = None;
        self.dialog = None;
        self.dialog_queue.clear();
        self.dialog_from_form = false;
        self.palette = None;
        self.help = false;
        self.filter_awaiting = None;
        for job in self.inflight.values_mut() {
            job.form = false;
        }
        self.signin = SignInScreen::new();
    }

    /// `:env NAME`: asks the loop to connect to another environment. Refused while changes
    /// are in flight (their replies belong to this environment's operator).
    fn switch_env(&mut self, name: &str) {
        if name.is_empty() {
            self.toasts.push(Toast::ok(format!(
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
        self.toasts.push(Toast::ok(format!(
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
                self.outbox.push(Request::Health);
                self.toasts.push(Toast::ok(format!(
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

    /// A notice that blocks every key but quit (and the reveal panel's own keys while quitting).
    pub fn blocking_notice(&self) -> Option<String> {
        if let Some((w, h)) = self.screen_size.filter(|_| self.too_small()) {
            return Some(format!(
                "terminal too small: need {MIN_WIDTH}×{MIN_HEIGHT}, have {w}×{h}"
            ));
        }
        if self.quit_pending {
            return Some(format!(
                "quitting: waiting for {} repl{} ({})",
                self.inflight.len(),
                if self.inflight.len() == 1 { "y" } else { "ies" },
                self.inflight
                    .values()
                    .map(|j| j.what)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        None
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

    /// Keys from a reply: shown now, or queued behind the panel already showing.
    fn show_keys(&mut self, keys: RevealKeys) {
        match self.reveal.as_mut() {
            Some(r) => {
                self.reveal_queue.push_back(keys);
                r.queued_after = self.reveal_queue.len();
            }
            None => self.reveal = Some(Reveal::new(keys)),
        }
    }

    /// Quit now, or (mutations in flight) ask and wait for their replies first.
    fn request_quit(&mut self) {
        if self.reveal.is_some() {
            self.toasts.push(Toast::warn(
                "acknowledge the keys on the panel first: they are shown only once",
            ));
            return;
        }
        if self.inflight.is_empty() {
            self.quit = true;
            return;
        }
        if self.quit_pending {
            return;
        }
        if self.too_small() {
            // The question could not be seen: wait for the replies (the notice says so).
            self.quit_pending = true;
            return;
        }
        let running = self.inflight.values().map(|j| j.what).collect();
        self.open_dialog(Dialog::QuitWhenDone { running });
    }

    /// Quits once every reply is in and was seen: keys acknowledged, failures closed.
    fn maybe_finish_quit(&mut self) {
        if self.quit_pending
            && self.inflight.is_empty()
            && self.reveal.is_none()
            && self.reveal_queue.is_empty()
            && self.dialog.is_none()
        {
            self.quit = true;
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
        use crate::domain::PermissionRef as P;
        match tab {
            Tab::Users | Tab::Registrations if !self.has(P::CanManageUsers) => {
                Some("requires CAN_MANAGE_USERS")
            }
            Tab::Trusts | Tab::KitSlots | Tab::Audit if !self.has(P::CanAccessAdminPanel) => {
                Some("requires a SysAdmin (CAN_ACCESS_ADMIN_PANEL)")
            }
            _ => None,
        }
    }

    /// Why an action is not available to this operator here (read-only mode included).
    pub fn action_denied(&self, action: Action) -> Option<&'static str> {
        use crate::domain::PermissionRef as P;
        if !action.mutates() {
            return None;
        }
        if self.config.read_only {
            return Some("read-only mode: changes are disabled");
        }
        if let Some(why) = self.tab_denied(self.tab) {
            return Some(why);
        }
        match self.tab {
            Tab::Mandates if self.members.is_none() && !self.has(P::CanAccessAdminPanel) => {
                Some("creating, editing and deleting mandates requires a SysAdmin")
            }
            _ => None,
        }
    }

    // ---------- screens ----------

    fn active(&mut self) -> &mut dyn Screen {
        match self.tab {
            Tab::Mandates => match self.members.as_mut() {
                Some(m) => m,
                None => &mut self.mandates,
            },
            Tab::Users => &mut self.users,
            Tab::Registrations => &mut self.registrations,
            Tab::Trusts => &mut self.trusts,
            Tab::KitSlots => &mut self.kit_slots,
            Tab::Audit => &mut self.audit,
        }
    }

    pub fn active_ref(&self) -> &dyn Screen {
        match self.tab {
            Tab::Mandates => match self.members.as_ref() {
                Some(m) => m,
                None => &self.mandates,
            },
            Tab::Users => &self.users,
            Tab::Registrations => &self.registrations,
            Tab::Trusts => &self.trusts,
            Tab::KitSlots => &self.kit_slots,
            Tab::Audit => &self.audit,
        }
    }

    fn table_for(&mut self, list: &ListKey) -> Option<&mut TableView> {
        match list {
            ListKey::Mandates => Some(&mut self.mandates.table),
            ListKey::Members(id) => self
                .members
                .as_mut()
                .filter(|m| &m.mandate_id == id)
                .map(|m| &mut m.table),
            ListKey::Users => Some(&mut self.users.table),
            ListKey::Registrations => Some(&mut self.registrations.table),
            ListKey::Trusts => Some(&mut self.trusts.table),
            ListKey::KitSlots => Some(&mut self.kit_slots.table),
            ListKey::Audit => Some(&mut self.audit.table),
        }
    }

    /// Requests the active table's current query.
    pub fn reload_active(&mut self) {
        let (id, estimate_id, count_id) = (self.id(), self.id(), self.id());
        let table = self.active().table_mut();
        let req = table.request(id);
        let counts = table.count_requests(estimate_id, count_id);
        self.outbox.push(req);
        self.outbox.extend(counts);
        if self.tab == Tab::KitSlots {
            let id = self.id();
            self.kit_slots.awaiting = Some(id);
            self.outbox.push(Request::KitSummary { id });
        }
    }

    pub fn switch_tab(&mut self, tab: Tab) {
        self.tab = tab;
        if let Some(why) = self.tab_denied(tab) {
            self.active().table_mut().last_error = Some(format!("not permitted: {why}"));
            return;
        }
        if !self.loaded.contains(&tab) {
            self.loaded.push(tab);
            self.reload_active();
        }
    }

    fn open_members(&mut self, id: String, name: String) {
        self.members = Some(MembersScreen::new(id, name));
        self.reload_active();
    }

    // ---------- update ----------

    pub fn update(&mut self, msg: Msg) {
        match msg {
            Msg::Tick => self.on_tick(),
            Msg::Key(k) => self.on_key(k),
            Msg::Paste(s) => self.on_paste(&s),
            Msg::Resize(w, h) => self.screen_size = Some((w, h)),
            Msg::Page { id, list, result } => {
                let Some(table) = self.table_for(&list) else {
                    tracing::debug!(list = list.name(), "page for a closed screen dropped");
                    return;
                };
                match result {
                    Ok(page) => {
                        if !table.accept(id, page) {
                            tracing::debug!(list = list.name(), id, "stale page dropped");
                        }
                    }
                    Err(e) => {
                        if table.fail(id, &e.joined()) {
                            if e.revoked {
                                self.sign_out(&e);
                            } else {
                                self.report_error(format!("Could not load {}", list.name()), e);
                            }
                        }
                    }
                }
            }
            Msg::FilterValues { id, result } => {
                let Some((want, column)) = self.filter_awaiting.take() else {
                    return;
                };
                if want != id {
                    self.filter_awaiting = Some((want, column));
                    return;
                }
                match result {
                    Ok(values) => {
                        let mut p = Picker::new(
                            format!("Filter {column}"),
                            PickPurpose::FilterValues {
                                column: column.clone(),
                            },
                            values,
                            true,
                        );
                        let current = self.active().table().filter_values_of(&column);
                        p.chosen = p.values.iter().map(|v| current.contains(v)).collect();
                        self.open_dialog(Dialog::Picker(p));
                    }
                    Err(e) => self.report_error("Could not load filter values", e),
                }
            }
            Msg::PickUsers { id, result } => {
                if let Some(form) = self.form.as_mut() {
                    match result {
                        Ok(rows) => form.picker_results(id, rows),
                        Err(e) => form.note = Some(e.joined()),
                    }
                }
            }
            Msg::Detail { id, result } => {
                if let Some(d) = self.users.detail.as_mut()
                    && d.awaiting == Some(id)
                {
                    d.awaiting = None;
                    match result {
                        Ok(lines) => {
                            d.lines = lines
                                .into_iter()
                                .map(|(k, v)| (k, v.into_string()))
                                .collect()
                        }
                        Err(e) => self.report_error("Could not load the user", e),
                    }
                }
            }
            Msg::KitSummary { id, result } => {
                if self.kit_slots.awaiting == Some(id) {
                    self.kit_slots.awaiting = None;
                    match result {
                        Ok(u) => self.kit_slots.usage = Some(u),
                        Err(e) => self.report_error("Could not load kit slot usage", e),
                    }
                }
            }
            Msg::SignIn { id, result } => {
                if self.signin.awaiting != Some(id) {
                    return;
                }
                self.signin.awaiting = None;
                match result {
                    Ok(SignInReply::SignedIn(op)) => self.signed_in(op),
                    Ok(SignInReply::NewPasswordRequired(ch)) => {
                        self.signin.require_new_password(ch)
                    }
                    Err(e) => self.signin.failed(e.joined()),
                }
            }
            Msg::OpDone { id, result } => self.op_done(id, result),
            Msg::RoleChoices { id, result } => self.role_choices(id, result),
            Msg::Health { db, directory, .. } => {
                self.health = Health {
                    db: Some(db),
                    directory: Some(directory),
                };
            }
            Msg::EnvSwitched { id, result } => self.env_switched(id, result),
        }
    }

    fn on_tick(&mut self) {
        self.tick += 1;
        for t in &mut self.toasts {
            t.ttl = t.ttl.saturating_sub(1);
        }
        self.toasts.retain(|t| t.ttl > 0);
        if self.tick.is_multiple_of(HEALTH_EVERY) {
            self.outbox.push(Request::Health);
        }
        if self.operator.is_some() {
            let d = self.debounce_ticks();
            if self.active().table_mut().tick(d) {
                self.reload_active();
            }
        }
    }

    /// Every reply is handled: its own id says what it belongs to, keys always reach the
    /// reveal panel, and a failure is shown even when something else is on screen.
    fn op_done(&mut self, id: u64, result: Result<OpOutcome, ErrorReport>) {
        let job = self.inflight.remove(&id);
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
                    self.form = None;
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

    fn role_choices(&mut self, id: u64, result: Result<RoleChoices, ErrorReport>) {
        let Some(f) = self.form.as_mut().filter(|f| f.loading == Some(id)) else {
            return;
        };
        match result {
            Ok(c) => {
                let default: &[&str] = if matches!(f.kind, FormKind::AddMember { .. }) {
                    &["member"]
                } else {
                    &[]
                };
                f.set_choices(id, &c.options, &c.held, default);
            }
            Err(e) if e.revoked => self.sign_out(&e),
            Err(e) => {
                self.form = None;
                self.report_error("Could not load the roles", e);
            }
        }
    }

    fn run_op(&mut self, op: Op, from_form: bool) {
        if self.config.read_only {
            self.toasts
                .push(Toast::warn("read-only mode: changes are disabled"));
            return;
        }
        let subject = op.subject();
        if let Some(sub) = &subject
            && let Some(job) = self
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
        self.inflight.insert(
            id,
            InFlight {
                what: op.describe(),
                subject,
                form: from_form,
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
    fn confirm_role_change(&mut self, op: Op, change: RoleChange) {
        if change.added.is_empty() && change.removed.is_empty() {
            self.form = None;
            self.toasts.push(Toast::ok("roles unchanged"));
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
        let own_admin = match (&op, &self.operator) {
            (Op::SetUserRoles { sub, .. }, Some(me)) => {
                *sub == me.sub.to_string() && change.removed.iter().any(|r| r == "admin")
            }
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

    /// Bracketed paste: text for the focused text input only (search box, form field, palette,
    /// type-the-name confirmation), newlines and controls stripped; it never submits and is
    /// never replayed as keys. With no text input focused it is ignored, with a toast.
    fn on_paste(&mut self, raw: &str) {
        let text: String = raw
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_PASTE)
            .collect();
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

    fn pick_users(&mut self, search: String) {
        let id = self.id();
        if let Some(f) = self.form.as_mut() {
            f.picker_awaiting(id);
        }
        self.outbox.push(Request::PickUsers { id, search });
    }

    /// Anything on top of the screen (reveal panel, dialog, form, palette, help, sign-in).
    fn overlay_open(&self) -> bool {
        self.reveal.is_some()
            || self.dialog.is_some()
            || self.form.is_some()
            || self.palette.is_some()
            || self.help
            || self.operator.is_none()
    }

    fn on_key(&mut self, key: KeyEvent) {
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
                FormOutcome::Cancel => self.form = None,
                FormOutcome::Refused(why) => self.toasts.push(Toast::warn(why)),
                FormOutcome::SearchUsers(text) => self.pick_users(text),
                FormOutcome::Submit(Submission::Op(op)) => {
                    match self.form.as_ref().and_then(Form::role_change) {
                        Some(change) => self.confirm_role_change(op, change),
                        None => self.run_op(op, true),
                    }
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

    fn palette_key(&mut self, key: KeyEvent) {
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
            if tab == Tab::Mandates {
                app.members = None;
            }
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
        match cmd {
            "mandate" | "mandates" | "m" => search_in(self, Tab::Mandates, arg),
            "user" | "users" | "u" => search_in(self, Tab::Users, arg),
            "trust" | "trusts" | "t" => search_in(self, Tab::Trusts, arg),
            "registrations" | "reg" | "r" => search_in(self, Tab::Registrations, arg),
            "kit-slots" | "slots" => search_in(self, Tab::KitSlots, arg),
            "audit" => search_in(self, Tab::Audit, arg),
            "since" | "until" => {
                // The audit time range (YYYY-MM-DD or RFC 3339; no argument clears it).
                self.tab = Tab::Audit;
                if !self.loaded.contains(&Tab::Audit) {
                    self.loaded.push(Tab::Audit);
                }
                let values = if arg.is_empty() {
                    Vec::new()
                } else {
                    vec![arg.to_string()]
                };
                self.audit.table.set_filter(cmd, values);
                self.reload_active();
            }
            "quit" | "q" => self.request_quit(),
            "help" => self.help = true,
            "env" => self.switch_env(arg),
            other => self.toasts.push(Toast::warn(format!(
                "unknown command :{} (try :mandate, :user, :trust, :registrations, :since, :until, :env, :quit)",
                DisplayText::with_max(other, 20)
            ))),
        }
    }

    fn picked(&mut self, purpose: PickPurpose, values: Vec<String>) {
        match purpose {
            PickPurpose::FilterColumn => {
                let Some(column) = values.into_iter().next() else {
                    return;
                };
                let id = self.id();
                let t = self.active().table();
                let list = t.list.clone();
                let query = t.query.clone();
                self.filter_awaiting = Some((id, column.clone()));
                self.outbox.push(Request::FilterValues {
                    id,
                    list,
                    column,
                    query,
                });
            }
            PickPurpose::FilterValues { column } => {
                self.active().table_mut().set_filter(&column, values);
                self.reload_active();
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
            Action::Up => self.active().table_mut().up(),
            Action::Down => self.active().table_mut().down(),
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
            Action::Back => {
                if self.tab == Tab::Mandates && self.members.is_some() {
                    self.members = None;
                } else if self.tab == Tab::Users && self.users.detail.is_some() {
                    self.users.detail = None;
                } else {
                    return false;
                }
            }
            other => {
                let Some(cmd) = self.active().on_action(other) else {
                    return false;
                };
                self.screen_cmd(cmd);
            }
        }
        true
    }

    fn screen_cmd(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::OpenForm(f) => self.form = Some(f),
            Cmd::OpenRoles { form, target } => {
                let id = self.id();
                self.form = Some(form.awaiting_choices(id));
                self.outbox.push(Request::RoleChoices { id, target });
            }
            Cmd::Dialog(d) => self.open_dialog(d),
            Cmd::Run(op) => self.run_op(op, false),
            Cmd::OpenMembers { id, name } => self.open_members(id, name),
            Cmd::OpenDetail { row_id } => {
                let id = self.id();
                if let Some(d) = self.users.detail.as_mut() {
                    d.awaiting = Some(id);
                }
                self.outbox.push(Request::Detail {
                    id,
                    list: ListKey::Users,
                    row_id,
                });
            }
            Cmd::Toast(t) => {
                if !t.is_empty() {
                    self.toasts.push(Toast::ok(t));
                }
            }
        }
    }

    // ---------- drawing ----------

    pub fn draw(&self, frame: &mut Frame) {
        let area = frame.area();
        self.render(area, frame.buffer_mut());
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        let theme = &self.theme;
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            Paragraph::new(vec![
                Line::from(Span::styled("terminal too small", theme.error)),
                Line::from(format!(
                    "need {MIN_WIDTH}×{MIN_HEIGHT}, have {}×{}",
                    area.width, area.height
                )),
            ])
            .render(area, buf);
            return;
        }
        let [top, tabs, body, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(area);
        self.render_top(top, buf);
        if self.operator.is_none() {
            self.signin.render(
                &self.config.environment,
                Rect {
                    y: tabs.y,
                    height: tabs.height + body.height,
                    ..body
                },
                buf,
                theme,
            );
            if let Some(d) = &self.dialog {
                d.render(area, buf, theme);
            }
            Toast::render_stack(&self.toasts, body, buf, theme);
            // Keys from replies that arrived after a sign-out are still shown (once).
            if let Some(r) = &self.reveal {
                r.render(body, buf, theme);
            }
            return;
        }
        self.render_tabs(tabs, buf);
        let body = if self.health.db == Some(false) {
            let [banner, rest] =
                Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(body);
            Paragraph::new(Span::styled(
                "✗ database unreachable — showing the last data; retrying in the background",
                theme.error,
            ))
            .render(banner, buf);
            rest
        } else {
            body
        };
        self.active_ref().render(body, buf, theme, self.tick);
        self.render_footer(footer, buf);
        if let Some(f) = &self.form {
            f.render(body, buf, theme, true);
        }
        if self.help {
            super::widgets::help::render(
                &self.keymap,
                self.config.read_only,
                self.config.demo_credentials.as_ref(),
                self.help_scroll,
                body,
                buf,
                theme,
            );
        }
        if let Some(d) = &self.dialog {
            d.render(body, buf, theme);
        }
        Toast::render_stack(&self.toasts, body, buf, theme);
        if let Some(notice) = self.blocking_notice() {
            // At the top of the body, so a failure dialog below it stays readable.
            let w = body.width.saturating_sub(4).min(72);
            let r = Rect {
                x: body.x + (body.width.saturating_sub(w)) / 2,
                y: body.y,
                width: w,
                height: 3.min(body.height),
            };
            ratatui::widgets::Clear.render(r, buf);
            Paragraph::new(Span::styled(notice, theme.warning))
                .block(
                    ratatui::widgets::Block::default()
                        .borders(ratatui::widgets::Borders::ALL)
                        .border_style(theme.warning),
                )
                .render(r, buf);
        }
        // The reveal panel is on top of everything.
        if let Some(r) = &self.reveal {
            r.render(body, buf, theme);
        }
    }

    fn render_top(&self, area: Rect, buf: &mut Buffer) {
        let t = &self.theme;
        let dot = |h: Option<bool>| match h {
            Some(true) => ("●", t.ok),
            Some(false) => ("✗", t.error),
            None => ("…", t.muted),
        };
        let mut spans = vec![
            Span::styled(" hubdeck ", t.title),
            Span::styled(
                format!(" {} ", DisplayText::with_max(&self.config.environment, 24)),
                t.environment,
            ),
            Span::raw(" "),
        ];
        if self.config.read_only {
            spans.push(Span::styled(" READ-ONLY ", t.badge));
            spans.push(Span::raw(" "));
        }
        if let Some(op) = &self.operator {
            spans.push(Span::styled(
                DisplayText::with_max(&op.email, 40).into_string(),
                t.base,
            ));
            spans.push(Span::raw(" "));
        }
        let (db, dbs) = dot(self.health.db);
        let (dir, dirs) = dot(self.health.directory);
        spans.push(Span::styled("DB ", t.muted));
        spans.push(Span::styled(db, dbs));
        spans.push(Span::styled(
            format!(" directory({}) ", self.config.directory_kind),
            t.muted,
        ));
        spans.push(Span::styled(dir, dirs));
        if !self.inflight.is_empty() {
            let n = self.inflight.len();
            spans.push(Span::styled(
                if n == 1 {
                    format!(
                        "  {} working",
                        SPINNER[(self.tick as usize) % SPINNER.len()]
                    )
                } else {
                    format!(
                        "  {} {n} changes running",
                        SPINNER[(self.tick as usize) % SPINNER.len()]
                    )
                },
                t.warning,
            ));
        }
        Paragraph::new(Line::from(spans)).render(area, buf);
    }

    fn render_tabs(&self, area: Rect, buf: &mut Buffer) {
        let t = &self.theme;
        let mut spans = Vec::new();
        for (i, tab) in Tab::ALL.iter().enumerate() {
            let active = *tab == self.tab;
            let label = format!(" {} {} ", i + 1, tab.title());
            let style = match (active, self.tab_denied(*tab).is_some()) {
                (true, _) => t.tab_active,
                (false, true) => t.disabled,
                (false, false) => t.tab,
            };
            spans.push(Span::styled(label, style));
            spans.push(Span::raw("│"));
        }
        Paragraph::new(Line::from(spans)).render(area, buf);
    }

    fn render_footer(&self, area: Rect, buf: &mut Buffer) {
        let t = &self.theme;
        if let Some(p) = &self.palette {
            let width = area.width.saturating_sub(2) as usize;
            let scroll = p.input.visual_scroll(width);
            let v: String = p.input.value().chars().skip(scroll).collect();
            Paragraph::new(Line::from(vec![
                Span::styled(":", t.key),
                Span::styled(v, t.input),
                Span::styled("▏", t.key),
            ]))
            .render(area, buf);
            return;
        }
        let mut spans = Vec::new();
        let mut hint = |a: Action, label: &str| {
            let k = self.keymap.first_key(a);
            if k.is_empty() {
                return;
            }
            let disabled = self.action_denied(a).is_some();
            spans.push(Span::styled(k, if disabled { t.disabled } else { t.key }));
            spans.push(Span::styled(
                format!(" {label}  "),
                if disabled { t.disabled } else { t.muted },
            ));
        };
        for a in self.active_ref().actions() {
            hint(*a, short_label(*a));
        }
        for (a, l) in [
            (Action::Search, "search"),
            (Action::Filter, "filter"),
            (Action::Sort, "sort"),
            (Action::Palette, "cmd"),
            (Action::Help, "help"),
            (Action::Quit, "quit"),
        ] {
            hint(a, l);
        }
        Paragraph::new(Line::from(spans)).render(area, buf);
    }
}

fn short_label(a: Action) -> &'static str {
    match a {
        Action::Open => "open",
        Action::Back => "back",
        Action::New => "new",
        Action::Edit => "edit",
        Action::Delete => "delete",
        Action::HardDelete => "hard-del",
        Action::Roles => "roles",
        Action::Retry => "retry",
        Action::Rollback => "rollback",
        Action::Resolve => "resolve",
        Action::Rotate => "rotate",
        Action::Export => "export",
        Action::ToggleEnabled => "on/off",
        Action::ResendInvite => "invite",
        _ => "",
    }
}
