//! Routing: loading the active screen's table, carrying out what screens ask for, and
//! giving each reply to whoever asked (screen, form, filter menu, live view, sign-in).

use super::{App, HEALTH_EVERY, Health, Owner};
use crate::tui::action::{Answer, ErrorReport, SignInReply, ask};
use crate::tui::msg::{Msg, Reply, Request};
use crate::tui::screens::roles::{LoadRoleChoices, PickUsers, RoleChoices};
use crate::tui::screens::{Cmd, Tab, TabReply};
use crate::tui::widgets::dialog::{Dialog, PickPurpose, Picker};
use crate::tui::widgets::table::FilterJob;
use crate::tui::widgets::toast::Toast;

impl App {
    // ---------- screens ----------

    /// Requests the active table's current query (and whatever the screen reads with it).
    pub fn reload_active(&mut self) {
        let tab = self.tab;
        let table = self.active().table_mut();
        let list = table.list;
        let query = table.request();
        let counts = table.count_requests();
        for q in std::iter::once(query).chain(counts) {
            self.ask_page(tab, list, q);
        }
        let cmds = self.active().on_reload();
        self.screen_cmds(tab, cmds);
    }

    /// Sends the read of one page (or count) of the table `tab` shows.
    fn ask_page(&mut self, tab: Tab, list: &'static str, query: crate::domain::PageQuery) {
        let load = self.screens.get(tab).page(query.clone());
        let id = self.id();
        self.inbox.expect(id, Owner::Tab(tab), load.purpose());
        self.outbox.push(Request::Page {
            id,
            list,
            query,
            load: Box::new(crate::tui::action::Lift(load)),
        });
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

    /// Carries out what a screen asked for.
    pub(super) fn screen_cmds(&mut self, tab: Tab, cmds: Vec<Cmd<TabReply>>) {
        for cmd in cmds {
            self.screen_cmd(tab, cmd);
        }
    }

    pub(super) fn screen_cmd(&mut self, tab: Tab, cmd: Cmd<TabReply>) {
        match cmd {
            Cmd::OpenForm(f) => self.open_form(f),
            Cmd::OpenRoles { form, target } => {
                self.open_form(form);
                self.ask(Owner::Form, ask(LoadRoleChoices(target), Reply::Choices));
            }
            Cmd::Dialog(d) => self.open_dialog(d),
            Cmd::Run(op) => self.run_op(op, false),
            Cmd::Load(load) => {
                self.ask(Owner::Tab(tab), Box::new(crate::tui::action::Lift(load)));
            }
            Cmd::Reload => self.reload_active(),
            Cmd::Toast(t) => {
                if !t.is_empty() {
                    self.toasts.push(Toast::ok(t));
                }
            }
            Cmd::Refuse(t) => self.toasts.push(Toast::warn(t)),
            Cmd::Info(t) => self.toasts.push(Toast::info(t)),
            Cmd::Error { report, .. } if report.revoked => self.sign_out(&report),
            // The outage banner says it once; a dialog per failed read would bury the screen.
            Cmd::Error { report, .. } if report.connection_lost => self.db_unreachable(),
            Cmd::Error { title, report } => self.report_error(title, report),
            Cmd::Done => {}
        }
    }

    // ---------- update ----------

    pub fn update(&mut self, msg: Msg) {
        match msg {
            Msg::Tick => self.on_tick(),
            Msg::Key(k) => self.on_key(k),
            Msg::Paste(mut s) => {
                self.on_paste(&s);
                // A paste may be a password: wipe the terminal's copy once it is used.
                zeroize::Zeroize::zeroize(&mut s);
            }
            Msg::Resize(w, h) => self.screen_size = Some((w, h)),
            Msg::Focus(focused) => self.live_focus(focused),
            Msg::Reply { id, answer } => self.on_reply(id, answer),
            Msg::OpDone { id, result } => self.op_done(id, result),
            Msg::Progress { id, done } => self.progress(id, done),
            Msg::Health {
                db,
                directory,
                approvals,
                ..
            } => {
                self.health = Health {
                    db: Some(db),
                    directory: Some(directory),
                    approvals,
                };
                if db {
                    self.db_reachable();
                } else {
                    self.db_unreachable();
                }
            }
            Msg::EnvSwitched { id, result } => self.env_switched(id, result),
        }
    }

    /// Routes a reply to whoever asked; replies no longer wanted are dropped here.
    pub(super) fn on_reply(&mut self, id: u64, answer: Answer<Reply>) {
        if answer.connection_lost {
            self.db_unreachable();
        }
        if self.inbox.take(id).is_none() {
            tracing::debug!(id, "stale reply dropped");
            return;
        }
        match answer.reply {
            Reply::Tab(r) => {
                let (tab, cmds) = self.screens.deliver(*r);
                self.screen_cmds(tab, cmds);
                self.send_deferred_count(tab);
                self.live_page_arrived(tab);
            }
            Reply::Changes(r) => self.live_reply(r),
            Reply::Choices(r) => self.choices(r),
            Reply::Picked(r) => {
                if let Some(f) = self.form.as_mut() {
                    match r {
                        Ok(rows) => f.picker_results(rows),
                        Err(e) => f.note = Some(e.joined()),
                    }
                }
            }
            Reply::FilterValues { column, values } => self.filter_values(column, values),
            Reply::SignIn(r) => self.signin_reply(r),
        }
    }

    /// A sign-in step's answer.
    fn signin_reply(&mut self, result: Result<SignInReply, ErrorReport>) {
        match result {
            Ok(SignInReply::SignedIn(op)) => self.signed_in(op),
            Ok(SignInReply::NewPasswordRequired(ch)) => self.signin.require_new_password(ch),
            Ok(SignInReply::MfaCodeRequired(ch)) => self.signin.require_mfa_code(ch),
            Ok(SignInReply::MfaSetup(setup)) => self.signin.require_mfa_setup(setup),
            Err(e) => self.signin.failed(e.joined()),
        }
    }

    /// The tab's capped count, once its page is on screen (see `TableView::deferred_count`).
    fn send_deferred_count(&mut self, tab: Tab) {
        let table = self.screens.get_mut(tab).table_mut();
        let list = table.list;
        if let Some(q) = table.deferred_count() {
            self.ask_page(tab, list, q);
        }
    }

    /// The open Roles form's choices.
    fn choices(&mut self, result: Result<RoleChoices, ErrorReport>) {
        let Some(f) = self.form.as_mut() else {
            return;
        };
        match result {
            Ok(c) => {
                f.set_choices(&c.options, &c.held);
            }
            Err(e) if e.revoked => self.sign_out(&e),
            Err(e) => {
                self.close_form();
                self.report_error("Could not load the roles", e);
            }
        }
    }

    fn filter_values(&mut self, column: String, result: Result<Vec<String>, ErrorReport>) {
        match result {
            Ok(values) => {
                let title = self.active_ref().table().title_of(&column);
                let mut p = Picker::new(
                    format!("Filter {title}"),
                    PickPurpose::FilterValues {
                        column: column.clone(),
                    },
                    values,
                    true,
                );
                let current = self.active_ref().table().filter_values_of(&column);
                p.chosen = p.values.iter().map(|v| current.contains(v)).collect();
                self.open_dialog(Dialog::Picker(p));
            }
            Err(e) => self.report_error("Could not load filter values", e),
        }
    }

    pub(super) fn on_tick(&mut self) {
        self.tick += 1;
        for t in &mut self.toasts {
            t.ttl = t.ttl.saturating_sub(1);
        }
        self.toasts.retain(|t| t.ttl > 0);
        let every = if self.db_down() {
            super::outage::HEALTH_EVERY_DOWN
        } else {
            HEALTH_EVERY
        };
        if self.tick.is_multiple_of(every) {
            self.outbox.push(Request::Health);
        }
        self.idle_check();
        if self.operator.is_some() {
            self.live_fade();
            self.live_tick();
            let d = self.debounce_ticks();
            if self.active().table_mut().tick(d) {
                self.reload_active();
            }
        }
    }

    pub(super) fn picked(&mut self, purpose: PickPurpose, values: Vec<String>) {
        match purpose {
            PickPurpose::FilterColumn => {
                // The picker offers the columns' titles; the query names the list column.
                let table = self.active_ref().table();
                let Some(column) = values
                    .first()
                    .and_then(|title| table.filter_key_of(title))
                    .map(str::to_string)
                else {
                    return;
                };
                let t = self.active_ref().table();
                let (list, query) = (t.list, t.query.clone());
                let Some(source) = t.filters.clone() else {
                    return;
                };
                let job = FilterJob {
                    source,
                    column: column.clone(),
                    query: query.clone(),
                };
                let c = column.clone();
                let load = ask(job, move |values| Reply::FilterValues { column: c, values });
                let id = self.id();
                self.inbox.expect(id, Owner::Filter, load.purpose());
                self.outbox.push(Request::FilterValues {
                    id,
                    list,
                    column,
                    query,
                    load,
                });
            }
            PickPurpose::FilterValues { column } => {
                self.active().table_mut().set_filter(&column, values);
                self.reload_active();
            }
        }
    }

    pub(super) fn pick_users(&mut self, search: String) {
        if let Some(f) = self.form.as_mut() {
            f.picker_awaiting();
        }
        self.ask(Owner::Form, ask(PickUsers(search), Reply::Picked));
    }
}
