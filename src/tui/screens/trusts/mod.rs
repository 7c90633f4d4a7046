//! Trusts: register (then the one-time reveal panel), rotate the API key or both keys (the
//! internal-service key too; same reveal panel), delete (type the name); the last heartbeat
//! and when the keys were set.

pub mod data;

use ratatui::layout::Constraint;

use super::{Ctx, Screen, page_reply, shown};
use crate::domain::PageQuery;
use crate::service::versions::Version;
use crate::tui::action::{LoadBox, OpBox};
use crate::tui::keymap::Action;
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::{Field, Form, v_required_text, v_trust_code};
use crate::tui::widgets::table::{Column, Fetched, TableView, Typed};
use data::{TrustOp, TrustRow};

pub use crate::domain::trust::NHS_REGIONS as REGIONS;

/// The "no region" choice of the region select.
pub const NO_REGION: &str = "(none)";

/// A node that has not sent a heartbeat for a day is shown as stale: kits beat every few
/// minutes while they run, so a day of silence means one is down or gone.
const HEARTBEAT_STALE_SECS: i64 = 86_400;

/// What the trusts screen's reads come back as.
#[derive(Debug)]
pub enum Reply {
    Page(Fetched<TrustRow>),
}

type Cmd = super::Cmd<Reply>;

pub struct TrustsScreen {
    pub table: Typed<TrustRow>,
}

impl Default for TrustsScreen {
    fn default() -> Self {
        Self::new()
    }
}

pub fn register_form() -> Form {
    let mut regions = vec![NO_REGION.to_string()];
    regions.extend(REGIONS.iter().map(|r| r.to_string()));
    Form::op(
        "Register trust",
        vec![
            Field::text("Name", "", v_required_text),
            Field::text("Code", "", v_trust_code),
            Field::select("Region", regions, 0),
        ],
        |f| {
            let region = f.text(2);
            OpBox::new(TrustOp::Register {
                name: f.text(0),
                code: f.text(1).to_ascii_uppercase(),
                region: (region != NO_REGION).then_some(region),
            })
        },
    )
}

impl TrustsScreen {
    pub fn new() -> Self {
        Self {
            table: Typed::new(
                "trusts",
                data::Trusts,
                "Trusts",
                vec![
                    // The name is the key column: it keeps its room on a narrow terminal.
                    Column::new("Name", "name", Constraint::Fill(4)).identifying(),
                    Column::new("Code", "code", Constraint::Length(10)),
                    Column::new("Region", "region", Constraint::Fill(2))
                        .filterable()
                        .identifying(),
                    Column::new("Kit slot", "slot_number", Constraint::Length(9)),
                    Column::plain("Heartbeat", Constraint::Length(9)).age(HEARTBEAT_STALE_SECS),
                    Column::plain("Keys set", Constraint::Length(16)),
                ],
            ),
        }
    }
}

impl Screen for TrustsScreen {
    type Reply = Reply;
    fn page(&self, query: PageQuery) -> LoadBox<Reply> {
        self.table.load(query, Reply::Page)
    }
    fn table(&self) -> &TableView {
        &self.table.view
    }
    fn table_mut(&mut self) -> &mut TableView {
        &mut self.table.view
    }
    fn actions(&self) -> &'static [Action] {
        &[
            Action::New,
            Action::Rotate,
            Action::RotateInternal,
            Action::Delete,
        ]
    }

    fn on_action(&mut self, action: Action, _ctx: &Ctx) -> Option<Cmd> {
        if action == Action::New {
            return Some(Cmd::OpenForm(register_form()));
        }
        let t = self.table.selected()?;
        let (id, name) = (t.id, shown(&t.name));
        let version = Version(t.version);
        match action {
            Action::Rotate => Some(Cmd::Dialog(Dialog::Confirm {
                title: "Rotate API key".into(),
                message: format!(
                    "Mint a new API key for {name}? The current key stops working at once; the new one is shown once."
                ),
                op: OpBox::new(TrustOp::RotateKey {
                    id,
                    internal: false,
                    version,
                }),
            })),
            Action::RotateInternal => Some(Cmd::Dialog(Dialog::Confirm {
                title: "Rotate API and internal-service keys".into(),
                message: format!(
                    "Mint a new API key and a new internal-service key for {name}? Both current keys stop working at once; the new ones are shown once."
                ),
                op: OpBox::new(TrustOp::RotateKey {
                    id,
                    internal: true,
                    version,
                }),
            })),
            Action::Delete => Some(Cmd::Dialog(Dialog::type_name(
                "Delete trust",
                format!("Delete trust {name}? Its kit slot is freed; the audit keeps its name."),
                name,
                OpBox::new(TrustOp::Delete {
                    id,
                    name: t.name.clone(),
                    version,
                }),
            ))),
            _ => None,
        }
    }

    fn on_reply(&mut self, reply: Reply) -> Vec<Cmd> {
        match reply {
            Reply::Page(p) => page_reply(&mut self.table, p),
        }
    }
}
