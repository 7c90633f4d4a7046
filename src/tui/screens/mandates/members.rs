//! The members of one mandate: add (user picker + roles), remove, roles, enable/disable;
//! marking rows for a bulk action with its preview ([`super::bulk_data`]), and `z` to undo
//! the newest grant change of a member.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ratatui::layout::Constraint;

use super::Reply;
use super::bulk_data::{BulkApply, BulkPlan, BulkPreviewJob};
use super::data::{MandateOp, MemberRow, Members};
use crate::domain::{DisplayText, MandateId, MandateRoleId, MembershipId};
use crate::service::bulk::{BulkAction, BulkTarget, RowOutcome};
use crate::tui::action::{ErrorReport, OpBox, ask};
use crate::tui::keymap::Action;
use crate::tui::screens::roles::RoleTarget;
use crate::tui::screens::shown;
use crate::tui::screens::undo::{MemberUndoJob, UndoView, undo_dialog};
use crate::tui::widgets::dialog::Dialog;
use crate::tui::widgets::form::{Field, Form, Submission};
use crate::tui::widgets::table::{Column, Typed};

pub const ACTIONS: &[Action] = &[
    Action::Back,
    Action::New,
    Action::Delete,
    Action::Roles,
    Action::ToggleEnabled,
    Action::Mark,
    Action::Bulk,
    // V (range), * (all matching) and z (undo) act here too; the footer, full at 120 columns,
    // leaves them to `?`.
];

/// The bulk actions offered, as the form's select shows them.
const BULK_ACTIONS: &[&str] = &[
    "set roles",
    "add role",
    "remove role",
    "remove",
    "enable",
    "disable",
];

/// Rows listed in a bulk preview before "… and N more".
const PREVIEW_ROWS: usize = 8;

type Cmd = crate::tui::screens::Cmd<Reply>;

/// Members of one mandate.
pub struct MembersView {
    pub mandate_id: MandateId,
    /// Sanitized, for titles and messages.
    pub mandate_name: String,
    pub table: Typed<MemberRow>,
    /// Marked memberships (kept across pages and searches), with who they are.
    pub marked: BTreeMap<MembershipId, String>,
    /// The row on this page a range mark starts from (the last one marked).
    pub anchor: Option<usize>,
    /// "All matching the current search and filters" is marked.
    pub all_matching: bool,
    /// The preview the bulk form asked for when it was submitted (the form hands it back
    /// through [`MembersView::submitted`]).
    asked_preview: Arc<Mutex<Option<BulkPreviewJob>>>,
}

impl MembersView {
    pub fn new(mandate_id: MandateId, mandate_name: String) -> Self {
        let title = format!("Members of {mandate_name}");
        Self {
            table: Typed::new(
                "members",
                Members(mandate_id),
                title,
                vec![
                    Column::new("Email", "email", Constraint::Fill(3)).identifying(),
                    Column::new("Name", "full_name", Constraint::Fill(2)),
                    Column::new("Roles", "roles", Constraint::Fill(2)),
                    Column::new("Admin", "admin", Constraint::Length(6)).filterable(),
                    Column::new("Enabled", "enabled", Constraint::Length(8)).filterable(),
                ],
            ),
            mandate_id,
            mandate_name,
            marked: BTreeMap::new(),
            anchor: None,
            all_matching: false,
            asked_preview: Arc::default(),
        }
    }

    /// The footer's marked count.
    pub fn status(&self) -> Option<String> {
        if self.all_matching {
            let n = self
                .table
                .view
                .count
                .exact()
                .map_or(String::new(), |n| format!("{n} "));
            Some(format!("marked: all {n}matching"))
        } else if self.marked.is_empty() {
            None
        } else {
            Some(format!("marked: {}", self.marked.len()))
        }
    }

    /// Shows the marks in the list: a marked row's first cell starts with "● ".
    pub fn show_marks(&mut self) {
        let marked: Vec<bool> = self
            .table
            .items()
            .iter()
            .map(|m| self.all_matching || self.marked.contains_key(&m.membership_id))
            .collect();
        let cells: Vec<DisplayText> = self
            .table
            .items()
            .iter()
            .map(|m| DisplayText::new(m.who()))
            .collect();
        if let Some(page) = self.table.view.page.as_mut() {
            for ((row, on), who) in page.items.iter_mut().zip(marked).zip(cells) {
                if let Some(c) = row.cells.first_mut() {
                    *c = if on {
                        DisplayText::new(&format!("● {}", who.as_str()))
                    } else {
                        who
                    };
                }
            }
        }
    }

    fn toggle(&mut self, i: usize, on: Option<bool>) {
        let Some(m) = self.table.items().get(i) else {
            return;
        };
        let (id, who) = (m.membership_id, shown(m.who()));
        let now = on.unwrap_or(!self.marked.contains_key(&id));
        if now {
            self.marked.insert(id, who);
        } else {
            self.marked.remove(&id);
        }
    }

    fn target(&self) -> BulkTarget {
        if self.all_matching {
            BulkTarget::Matching(self.table.view.query.clone())
        } else {
            BulkTarget::Memberships(self.marked.keys().copied().collect())
        }
    }

    fn bulk_form(&self) -> Cmd {
        let mandate_id = self.mandate_id;
        let target = self.target();
        let asked = self.asked_preview.clone();
        let what = match &target {
            BulkTarget::Matching(_) => "all matching members".to_string(),
            _ => format!("{} marked members", self.marked.len()),
        };
        Cmd::OpenRoles {
            form: Form::new(
                format!("Bulk action on {what} of {}", self.mandate_name),
                vec![
                    Field::select(
                        "Action",
                        BULK_ACTIONS.iter().map(|s| s.to_string()).collect(),
                        0,
                    ),
                    Field::multi("Roles", Vec::new(), &[]).optional(),
                ],
                move |f| {
                    let roles: Result<Vec<MandateRoleId>, _> =
                        f.chosen(1).iter().map(|r| r.parse()).collect();
                    let Ok(roles) = roles else {
                        f.fields[1].error = Some("unknown role".into());
                        return None;
                    };
                    let one = |f: &mut Form| match roles.as_slice() {
                        [r] => Some(*r),
                        _ => {
                            f.fields[1].error = Some("choose exactly one role".into());
                            None
                        }
                    };
                    let action = match f.text(0).as_str() {
                        "set roles" if roles.is_empty() => {
                            f.fields[1].error = Some("choose at least one".into());
                            return None;
                        }
                        "set roles" => BulkAction::SetRoles(roles.clone()),
                        "add role" => BulkAction::AddRole(one(f)?),
                        "remove role" => BulkAction::RemoveRole(one(f)?),
                        "remove" => BulkAction::Remove,
                        "enable" => BulkAction::Enable,
                        _ => BulkAction::Disable,
                    };
                    *asked.lock().ok()? = Some(BulkPreviewJob {
                        mandate_id,
                        target: target.clone(),
                        action,
                    });
                    Some(Submission::ToScreen)
                },
            )
            .with_choices(&[]),
            target: RoleTarget::Member {
                mandate_id,
                user_sub: None,
            },
        }
    }

    /// The preview as a confirmation: each membership and what changes, refusals per row.
    fn preview_dialog(&mut self, plan: BulkPlan) -> Cmd {
        let p = &plan.preview;
        let mut lines = vec![format!(
            "{} on {} membership(s) of {}: {} change, {} unchanged, {} refused.",
            p.action,
            n(p.rows.len()),
            self.mandate_name,
            n(p.changes),
            n(p.unchanged),
            n(p.refused)
        )];
        for r in p.rows.iter().take(PREVIEW_ROWS) {
            let who = shown(
                r.email
                    .as_deref()
                    .or(r.input.as_deref())
                    .unwrap_or("(not in directory cache)"),
            );
            let change = match r.outcome {
                RowOutcome::Refused => format!(
                    "REFUSED: {}",
                    shown(r.reason.as_deref().unwrap_or("refused"))
                ),
                RowOutcome::Unchanged => "unchanged".into(),
                RowOutcome::Change if r.removed => "removed".into(),
                RowOutcome::Change => match (r.enabled_before, r.enabled_after) {
                    (Some(a), Some(b)) if a != b => {
                        format!("{} → {}", on_off(a), on_off(b))
                    }
                    _ => format!(
                        "[{}] → [{}]",
                        shown(&r.roles_before.join(", ")),
                        shown(&r.roles_after.join(", "))
                    ),
                },
            };
            lines.push(format!("{} {who}: {change}", mark(r.outcome)));
        }
        if p.rows.len() > PREVIEW_ROWS {
            let more = &p.rows[PREVIEW_ROWS..];
            let refused = more
                .iter()
                .filter(|r| r.outcome == RowOutcome::Refused)
                .count();
            lines.push(format!(
                "… and {} more ({refused} of them refused; `mandates members bulk --dry-run` lists every row)",
                more.len()
            ));
        }
        if p.changes == 0 {
            return Cmd::Error {
                title: "Nothing to change".into(),
                report: ErrorReport::msg(lines.join(" ")),
            };
        }
        lines.push("Refused rows are left as they are. Apply in one transaction?".into());
        let op = BulkApply {
            mandate_id: self.mandate_id,
            target: plan.target,
            action: plan.action,
            fingerprint: p.fingerprint.clone(),
        };
        Cmd::Dialog(Dialog::Confirm {
            title: format!("Bulk {}: preview", p.action),
            message: lines.join("\n"),
            op: OpBox::new(op),
        })
    }

    fn undo_dialog(&self, v: UndoView) -> Cmd {
        let who = self
            .table
            .selected()
            .map(|m| shown(m.who()))
            .unwrap_or_default();
        undo_dialog(&v, &who, &format!(" in {}", self.mandate_name))
    }

    /// The bulk preview asked for: a confirmation with what it would do.
    pub fn preview_reply(&mut self, result: Result<BulkPlan, ErrorReport>) -> Cmd {
        match result {
            Ok(plan) => {
                // The marks become this plan; the list shows the result once it is applied.
                self.marked.clear();
                self.all_matching = false;
                self.anchor = None;
                self.show_marks();
                self.preview_dialog(plan)
            }
            Err(report) => Cmd::Error {
                title: "Bulk preview failed".into(),
                report,
            },
        }
    }

    /// The undo candidate of the selected member: its confirmation.
    pub fn undo_reply(&self, result: Result<UndoView, ErrorReport>) -> Cmd {
        match result {
            Ok(v) => self.undo_dialog(v),
            Err(report) => Cmd::Error {
                title: "Undo failed".into(),
                report,
            },
        }
    }

    /// The bulk form was submitted: read its preview.
    pub fn submitted(&mut self) -> Option<Cmd> {
        let job = self.asked_preview.lock().ok()?.take()?;
        Some(Cmd::Load(ask(job, Reply::BulkPreview)))
    }

    pub fn on_action(&mut self, action: Action) -> Option<Cmd> {
        let mandate_id = self.mandate_id;
        match action {
            Action::Mark => {
                let i = self.table.view.selected;
                self.all_matching = false;
                self.toggle(i, None);
                self.anchor = Some(i);
                self.table.view.down();
                self.show_marks();
                Some(Cmd::Done)
            }
            Action::MarkRange => {
                let i = self.table.view.selected;
                let a = self.anchor.unwrap_or(i);
                self.all_matching = false;
                for j in a.min(i)..=a.max(i) {
                    self.toggle(j, Some(true));
                }
                self.anchor = Some(i);
                self.show_marks();
                Some(Cmd::Done)
            }
            Action::MarkAll => {
                self.all_matching = !self.all_matching;
                self.marked.clear();
                self.show_marks();
                Some(Cmd::Done)
            }
            Action::Bulk => {
                if !self.all_matching && self.marked.is_empty() {
                    return Some(Cmd::Refuse(
                        "mark members first (space, V for a range, * for all matching)".into(),
                    ));
                }
                Some(self.bulk_form())
            }
            Action::Undo => {
                let m = self.table.selected()?;
                Some(Cmd::Load(ask(
                    MemberUndoJob {
                        mandate_id,
                        user_sub: m.user_id,
                    },
                    Reply::MemberUndo,
                )))
            }
            // The roles on offer (global templates and this mandate's own) come from the service.
            Action::New => Some(Cmd::OpenRoles {
                form: Form::op(
                    format!("Add member to {}", self.mandate_name),
                    vec![
                        Field::user_pick("User"),
                        Field::multi("Roles", Vec::new(), &[]),
                    ],
                    move |f| {
                        OpBox::new(MandateOp::AddMember {
                            mandate_id,
                            user: f.text(0),
                            roles: f.chosen(1),
                        })
                    },
                )
                .with_choices(&["member"]),
                target: RoleTarget::Member {
                    mandate_id,
                    user_sub: None,
                },
            }),
            Action::Delete => {
                let m = self.table.selected()?;
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: "Remove member".into(),
                    message: format!("Remove {} from {}?", shown(m.who()), self.mandate_name),
                    op: OpBox::new(MandateOp::RemoveMember {
                        mandate_id,
                        user_sub: m.user_id,
                        version: m.version,
                    }),
                }))
            }
            Action::ToggleEnabled => {
                let m = self.table.selected()?;
                let enable = !m.enabled;
                let verb = if enable { "Enable" } else { "Disable" };
                Some(Cmd::Dialog(Dialog::Confirm {
                    title: format!("{verb} membership"),
                    message: format!(
                        "{verb} the membership of {} in {}?",
                        shown(m.who()),
                        self.mandate_name
                    ),
                    op: OpBox::new(MandateOp::SetMemberEnabled {
                        mandate_id,
                        user_sub: m.user_id,
                        enabled: enable,
                        version: m.version,
                    }),
                }))
            }
            Action::Roles => {
                // Opened with the roles the member holds now, read fresh (not from the row).
                let m = self.table.selected()?;
                let user_sub = m.user_id;
                Some(Cmd::OpenRoles {
                    form: Form::op(
                        format!("Roles of {}", shown(m.who())),
                        vec![Field::multi("Roles", Vec::new(), &[])],
                        move |f| {
                            // Exactly what the confirmation lists: ticked and unticked
                            // against the roles the form showed.
                            let chosen = f.chosen(0);
                            let held = f.held().unwrap_or_default();
                            OpBox::new(MandateOp::SetMemberRoles {
                                mandate_id,
                                user_sub,
                                add: chosen
                                    .iter()
                                    .filter(|r| !held.contains(r))
                                    .cloned()
                                    .collect(),
                                remove: held
                                    .iter()
                                    .filter(|r| !chosen.contains(r))
                                    .cloned()
                                    .collect(),
                            })
                        },
                    )
                    .roles(),
                    target: RoleTarget::Member {
                        mandate_id,
                        user_sub: Some(user_sub),
                    },
                })
            }
            _ => None,
        }
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "enabled" } else { "disabled" }
}

fn mark(o: RowOutcome) -> &'static str {
    match o {
        RowOutcome::Change => "✓",
        RowOutcome::Unchanged => "·",
        RowOutcome::Refused => "✗",
    }
}

/// A count with thousands separators ("6,001").
fn n(count: usize) -> String {
    crate::domain::page::thousands(count as u64)
}
