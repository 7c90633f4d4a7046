//! The tabs: one table, one line per tab — its screen, title, the area of the hub it reads
//! (and so the permission), its palette words and its line in `?`. Everything the router
//! needs about tabs is generated from it: [`Tab`] (order = the number key that shows it),
//! [`TabReply`] (a tab's own reply enum, routed by its variant), and [`Screens`] (one screen
//! per tab, reached as a [`TabScreen`]).
//!
//! A new tab is one folder under `screens/` (a `Screen` with its `Reply` enum), one line
//! below, and its `tab_N` entry in `assets/keymap.toml`.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{Cmd, Ctx, Screen};
use super::{approvals, audit, drift, kit_slots, mandates, registrations, trusts, users};
use crate::domain::{PageQuery, PermissionRef};
use crate::service::access::Area;
use crate::tui::action::{Lift, LoadBox};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crate::tui::widgets::table::TableView;

macro_rules! registry {
    ($(
        $tab:ident => $module:ident :: $screen:ident,
        $title:literal, Area::$area:ident, words [$($word:literal),*], $help:literal;
    )*) => {
        /// The tabs, in order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Tab {
            $($tab),*
        }

        impl Tab {
            pub const ALL: &'static [Tab] = &[$(Tab::$tab),*];

            pub fn title(self) -> &'static str {
                match self { $(Tab::$tab => $title),* }
            }

            /// The area of the hub this tab reads (the service decides what reading it needs).
            pub fn area(self) -> Area {
                match self { $(Tab::$tab => Area::$area),* }
            }

            /// The palette words that show this tab and search it (`:user EMAIL`).
            pub fn words(self) -> &'static [&'static str] {
                match self { $(Tab::$tab => &[$($word),*]),* }
            }

            /// The tab's line in `?`.
            pub fn help(self) -> &'static str {
                match self { $(Tab::$tab => $help),* }
            }
        }

        /// A reply for one tab's screen: its own reply enum, in the tab's variant.
        #[derive(Debug)]
        pub enum TabReply {
            $($tab($module::Reply)),*
        }

        $(
            impl From<$module::Reply> for TabReply {
                fn from(r: $module::Reply) -> Self {
                    TabReply::$tab(r)
                }
            }
        )*

        /// One screen per tab.
        pub struct Screens {
            $(pub $module: $module::$screen),*
        }

        impl Screens {
            pub fn new() -> Self {
                Self { $($module: $module::$screen::new()),* }
            }

            pub fn get(&self, tab: Tab) -> &dyn TabScreen {
                match tab { $(Tab::$tab => &self.$module),* }
            }

            pub fn get_mut(&mut self, tab: Tab) -> &mut dyn TabScreen {
                match tab { $(Tab::$tab => &mut self.$module),* }
            }

            /// Hands a reply to the screen it is for: which tab, and what the screen asks.
            pub fn deliver(&mut self, reply: TabReply) -> (Tab, Vec<Cmd<TabReply>>) {
                match reply {
                    $(TabReply::$tab(r) => (Tab::$tab, lift(self.$module.on_reply(r)))),*
                }
            }
        }
    };
}

registry! {
    Mandates => mandates::MandatesScreen,
        "Mandates", Area::Mandates, words ["mandate", "mandates", "m"], "Mandates tab";
    Users => users::UsersScreen,
        "Users", Area::Users, words ["user", "users", "u"], "Users tab";
    Registrations => registrations::RegistrationsScreen,
        "Registrations", Area::Registrations, words ["registrations", "reg", "r"],
        "Registrations tab";
    Trusts => trusts::TrustsScreen,
        "Trusts", Area::Trusts, words ["trust", "trusts", "t"], "Trusts tab";
    KitSlots => kit_slots::KitSlotsScreen,
        "Kit slots", Area::KitSlots, words ["kit-slots", "slots"], "Kit slots tab";
    Audit => audit::AuditScreen,
        "Audit", Area::Audit, words ["audit"], "Audit tab";
    Drift => drift::DriftScreen,
        "Drift", Area::Drift, words [], "Drift tab (also :drift)";
    Approvals => approvals::ApprovalsScreen,
        "Approvals", Area::Approvals, words [],
        "Approvals tab: changes waiting for a second operator";
}

impl Default for Screens {
    fn default() -> Self {
        Self::new()
    }
}

impl Tab {
    /// The tab's place in the bar (its number key is one more).
    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// The permission reading this tab needs, and how the console says so.
    pub fn requires(self) -> Option<(PermissionRef, &'static str)> {
        let area = self.area();
        area.read_permission().map(|p| (p, area.needs()))
    }

    /// The tab a palette word shows (`:users`, `:m`).
    pub fn by_word(word: &str) -> Option<Tab> {
        Tab::ALL.iter().copied().find(|t| t.words().contains(&word))
    }
}

fn lift<R: Send + 'static>(cmds: Vec<Cmd<R>>) -> Vec<Cmd<TabReply>>
where
    TabReply: From<R>,
{
    cmds.into_iter().map(Cmd::lift).collect()
}

/// A tab's screen as the router sees it: every [`Screen`] method but the reply, with the
/// screen's commands lifted into [`TabReply`].
pub trait TabScreen {
    fn table(&self) -> &TableView;
    fn table_mut(&mut self) -> &mut TableView;
    fn page(&self, query: PageQuery) -> LoadBox<TabReply>;
    fn on_action(&mut self, action: Action, ctx: &Ctx) -> Option<Cmd<TabReply>>;
    fn actions(&self) -> &'static [Action];
    fn commands(&self) -> &'static [&'static str];
    fn command(&mut self, cmd: &str, arg: &str) -> Vec<Cmd<TabReply>>;
    fn top(&mut self);
    fn on_select(&mut self) -> Vec<Cmd<TabReply>>;
    fn on_live_change(&mut self) -> Vec<Cmd<TabReply>>;
    fn on_reload(&mut self) -> Vec<Cmd<TabReply>>;
    fn on_submitted(&mut self) -> Vec<Cmd<TabReply>>;
    fn write_denied(&self, has: &dyn Fn(PermissionRef) -> bool) -> Option<&'static str>;
    fn status(&self) -> Option<String>;
    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, tick: u64);
}

impl<S: Screen> TabScreen for S
where
    TabReply: From<S::Reply>,
{
    fn table(&self) -> &TableView {
        Screen::table(self)
    }
    fn table_mut(&mut self) -> &mut TableView {
        Screen::table_mut(self)
    }
    fn page(&self, query: PageQuery) -> LoadBox<TabReply> {
        Box::new(Lift(Screen::page(self, query)))
    }
    fn on_action(&mut self, action: Action, ctx: &Ctx) -> Option<Cmd<TabReply>> {
        Screen::on_action(self, action, ctx).map(Cmd::lift)
    }
    fn actions(&self) -> &'static [Action] {
        Screen::actions(self)
    }
    fn commands(&self) -> &'static [&'static str] {
        Screen::commands(self)
    }
    fn command(&mut self, cmd: &str, arg: &str) -> Vec<Cmd<TabReply>> {
        lift(Screen::command(self, cmd, arg))
    }
    fn top(&mut self) {
        Screen::top(self)
    }
    fn on_select(&mut self) -> Vec<Cmd<TabReply>> {
        lift(Screen::on_select(self))
    }
    fn on_live_change(&mut self) -> Vec<Cmd<TabReply>> {
        lift(Screen::on_live_change(self))
    }
    fn on_reload(&mut self) -> Vec<Cmd<TabReply>> {
        lift(Screen::on_reload(self))
    }
    fn on_submitted(&mut self) -> Vec<Cmd<TabReply>> {
        lift(Screen::on_submitted(self))
    }
    fn write_denied(&self, has: &dyn Fn(PermissionRef) -> bool) -> Option<&'static str> {
        Screen::write_denied(self, has)
    }
    fn status(&self) -> Option<String> {
        Screen::status(self)
    }
    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, tick: u64) {
        Screen::render(self, area, buf, theme, tick)
    }
}
