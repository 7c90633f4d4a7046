//! Routing: loading the active screen's table, carrying out what screens ask for, and
//! giving each reply to whoever asked (screen, form or filter menu).

use super::{App, HEALTH_EVERY, Health, Owner};
use crate::tui::action::{ErrorReport, Msg, Reply, Request, Row, SignInReply};
use crate::tui::screens::roles::{LoadRoleChoices, RoleChoices};
use crate::tui::screens::{Cmd, Tab};
use crate::tui::widgets::dialog::{Dialog, PickPurpose, Picker};
use crate::tui::widgets::toast::Toast;

impl App {
    // ---------- screens ----------

    /// Requests the active table's current query (and whatever the screen reads with it).
    pub fn reload_active(&mut self) {
        let tab = self.tab;
        let (id, estimate_id, count_id) = (self.id(), self.id(), self.id());
        let table = self.active().table_mut();
        let list = table.list;
        let req = table.request(id);
        let counts = table.count_requests(estimate_id, count_id);
        self.expect(id, Owner::Tab(tab), "page", list);
        if !counts.is_empty() {
            self.expect(estimate_id, Owner::Tab(tab), "estimate", list);
        }
        self.outbox.push(req);
        self.outbox.extend(counts);
        let cmds = self.active().on_reload();
        self.screen_cmds(tab, cmds);
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
    pub(super) fn screen_cmds(&mut self, tab: Tab, cmds: Vec<Cmd>) {
        for cmd in cmds {
            self.screen_cmd(tab, cmd);
        }
    }

    pub(super) fn screen_cmd(&mut self, tab: Tab, cmd: Cmd) {
        match cmd {
            Cmd::OpenForm(f) => self.open_form(f),
            Cmd::OpenRoles { form, target } => {
                self.open_form(form);
                let id = self.id();
                self.expect(id, Owner::Form, "choices", "");
                self.outbox.push(Request::Load {
                    id,
                    job: Box::new(LoadRoleChoices(target)),
                });
            }
            Cmd::Dialog(d) => self.open_dialog(d),
            Cmd::Run(op) => self.run_op(op, false),
            Cmd::Load { slot, job } => {
                let id = self.id();
                self.expect(id, Owner::Tab(tab), slot, "");
                self.outbox.push(Request::Load { id, job });
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
            Msg::Reply { id, result } => self.on_reply(id, result),
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
                    Ok(SignInReply::MfaCodeRequired(ch)) => self.signin.require_mfa_code(ch),
                    Ok(SignInReply::MfaSetup(setup)) => self.signin.require_mfa_setup(setup),
                    Err(e) => self.signin.failed(e.joined()),
                }
            }
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
    pub(super) fn on_reply(&mut self, id: u64, result: Result<Reply, ErrorReport>) {
        if matches!(&result, Err(e) if e.connection_lost) {
            self.db_unreachable();
        }
        let Some(p) = self.pending.remove(&id) else {
            tracing::debug!(id, "stale reply dropped");
            return;
        };
        match p.owner {
            Owner::Tab(tab) => {
                let cmds = self.screens[tab.index()].on_reply(p.slot, id, result);
                self.screen_cmds(tab, cmds);
                self.send_deferred_count(tab);
                if p.slot == "page" {
                    self.live_page_arrived(tab);
                }
            }
            Owner::Live => self.live_reply(result),
            Owner::Form => self.form_reply(p.slot, result),
            Owner::Filter(column) => self.filter_values(column, result),
        }
    }

    /// The tab's capped count, once its page is on screen (see `TableView::deferred_count`).
    fn send_deferred_count(&mut self, tab: Tab) {
        let table = self.screens[tab.index()].table_mut();
        let list = table.list;
        if let Some((id, req)) = table.deferred_count() {
            self.expect(id, Owner::Tab(tab), "count", list);
            self.outbox.push(req);
        }
    }

    /// The open form's role choices or user-picker results.
    fn form_reply(&mut self, slot: &'static str, result: Result<Reply, ErrorReport>) {
        let Some(f) = self.form.as_mut() else {
            return;
        };
        match (slot, result) {
            ("choices", Ok(r)) => {
                if let Ok(c) = r.downcast::<RoleChoices>() {
                    f.set_choices(&c.options, &c.held);
                }
            }
            ("choices", Err(e)) if e.revoked => self.sign_out(&e),
            ("choices", Err(e)) => {
                self.close_form();
                self.report_error("Could not load the roles", e);
            }
            (_, Ok(r)) => {
                if let Ok(rows) = r.downcast::<Vec<Row>>() {
                    f.picker_results(*rows);
                }
            }
            (_, Err(e)) => f.note = Some(e.joined()),
        }
    }

    fn filter_values(&mut self, column: String, result: Result<Reply, ErrorReport>) {
        match result.map(|r| r.downcast::<Vec<String>>()) {
            Ok(Ok(values)) => {
                let mut p = Picker::new(
                    format!("Filter {column}"),
                    PickPurpose::FilterValues {
                        column: column.clone(),
                    },
                    *values,
                    true,
                );
                let current = self.active_ref().table().filter_values_of(&column);
                p.chosen = p.values.iter().map(|v| current.contains(v)).collect();
                self.open_dialog(Dialog::Picker(p));
            }
            Ok(Err(_)) => {}
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
                let Some(column) = values.into_iter().next() else {
                    return;
                };
                let id = self.id();
                let t = self.active_ref().table();
                let (list, query, source) = (t.list, t.query.clone(), t.source.clone());
                self.expect(id, Owner::Filter(column.clone()), "filter", list);
                self.outbox.push(Request::FilterValues {
                    id,
                    list,
                    column,
                    query,
                    source,
                });
            }
            PickPurpose::FilterValues { column } => {
                self.active().table_mut().set_filter(&column, values);
                self.reload_active();
            }
        }
    }

    pub(super) fn pick_users(&mut self, search: String) {
        let id = self.id();
        if let Some(f) = self.form.as_mut() {
            f.picker_awaiting();
        }
        self.expect(id, Owner::Form, "pick", "");
        self.outbox.push(Request::Load {
            id,
            job: Box::new(crate::tui::screens::roles::PickUsers(search)),
        });
    }
}
