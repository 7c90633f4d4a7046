//! Undo of a grant change, shared by the members and users screens: `z` reads
//! the newest reversible change of the selected row as its preview (service
//! `member_undo_candidate` / `user_undo_candidate`), the confirmation shows what holds now and
//! what is restored, or the reason it cannot be undone; `y` runs the service's `undo`.

use std::collections::BTreeMap;

use super::Cmd;
use crate::domain::{DisplayText, MandateId, UserSub};
use crate::service::undo::UndoPlan;
use crate::service::{Actor, Services};
use crate::tui::action::{ErrorReport, Job, JobFuture, OpBox, OpOutcome, Operation, Progress};
use crate::tui::widgets::dialog::Dialog;

/// The newest reversible change of a user's global grants (roles, enabled).
#[derive(Debug)]
pub struct UserUndoJob(pub UserSub);

impl Job for UserUndoJob {
    type Out = UndoView;
    fn run(self, s: Services, a: Actor) -> JobFuture<UndoView> {
        Box::pin(async move {
            let plan = s.user_undo_candidate(&a, self.0).await?;
            Ok(UndoView {
                plan,
                labels: BTreeMap::new(),
            })
        })
    }
}

/// The newest reversible change of a member, as its preview, with role ids named.
#[derive(Debug)]
pub struct MemberUndoJob {
    pub mandate_id: MandateId,
    pub user_sub: UserSub,
}

/// An undo preview with the mandate's role labels (role ids in the plan are shown by label).
#[derive(Debug)]
pub struct UndoView {
    pub plan: Option<UndoPlan>,
    pub labels: BTreeMap<String, String>,
}

impl UndoView {
    /// A recorded state as the operator reads it: role labels, or enabled/disabled.
    pub fn state(&self, v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::Bool(true) => "enabled".into(),
            serde_json::Value::Bool(false) => "disabled".into(),
            serde_json::Value::Array(a) => {
                let names: Vec<String> = a
                    .iter()
                    .filter_map(|x| x.as_str())
                    .map(|id| {
                        DisplayText::with_max(self.labels.get(id).map_or(id, String::as_str), 40)
                            .into_string()
                    })
                    .collect();
                if names.is_empty() {
                    "(no roles)".into()
                } else {
                    names.join(", ")
                }
            }
            serde_json::Value::Null => "(unknown)".into(),
            other => DisplayText::with_max(&other.to_string(), 80).into_string(),
        }
    }
}

impl Job for MemberUndoJob {
    type Out = UndoView;
    fn run(self, s: Services, a: Actor) -> JobFuture<UndoView> {
        Box::pin(async move {
            let plan = s
                .member_undo_candidate(&a, self.mandate_id, self.user_sub)
                .await?;
            let labels = s
                .member_role_choices(&a, self.mandate_id, None)
                .await?
                .offered
                .into_iter()
                .map(|r| (r.id.to_string(), r.label))
                .collect();
            Ok(UndoView { plan, labels })
        })
    }
}

/// Undoes one audit row (re-checked and re-authorised by the service when it runs).
#[derive(Clone, Debug)]
pub struct UndoOp {
    pub audit_id: uuid::Uuid,
    pub subject: String,
}

impl Operation for UndoOp {
    fn describe(&self) -> &'static str {
        "undo grant change"
    }
    fn subject(&self) -> Option<String> {
        Some(self.subject.clone())
    }
    fn run(self: Box<Self>, s: Services, a: Actor, _progress: Progress) -> JobFuture<OpOutcome> {
        Box::pin(async move {
            let p = s.undo(&a, self.audit_id).await?;
            Ok(OpOutcome::toast(format!(
                "undone: {}",
                DisplayText::with_max(&p.action, 40)
            )))
        })
    }
}

/// The confirmation of an undo (or why not): `who` and `place` name the row for the operator.
pub fn undo_dialog<R>(v: &UndoView, who: &str, place: &str) -> Cmd<R> {
    let Some(plan) = &v.plan else {
        return Cmd::Refuse(format!("no grant change of {who} to undo"));
    };
    let what = DisplayText::with_max(&plan.action, 40);
    if let Some(why) = &plan.refusal {
        return Cmd::Error {
            title: "Cannot undo".into(),
            report: ErrorReport::msg(format!(
                "cannot undo {what}: {}",
                DisplayText::with_max(why, 300)
            )),
        };
    }
    Cmd::Dialog(Dialog::Confirm {
        title: "Undo grant change".into(),
        message: format!(
            "Undo {what} of {who}{place}?\nnow: {}\nrestores: {}",
            v.state(&plan.current),
            v.state(&plan.restore)
        ),
        op: OpBox::new(UndoOp {
            audit_id: plan.audit_id,
            subject: match (plan.mandate_id, plan.user_id) {
                (Some(m), Some(u)) => format!("{m}/{u}"),
                (_, Some(u)) => u.to_string(),
                _ => plan.audit_id.to_string(),
            },
        }),
    })
}
