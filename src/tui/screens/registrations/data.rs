//! The registrations screen's data: typed rows of stuck registrations, the list source and
//! the recovery operations (retry, roll back, resolve), over service functions.

use chrono::{DateTime, Utc};

use crate::domain::{DisplayText, PageQuery, RegistrationId, RoleRef};
use crate::service::{Actor, Services};
use crate::tui::action::{JobFuture, ListSource, OpOutcome, Operation, Reply};
use crate::tui::screens::{opt, when};
use crate::tui::widgets::table::TableRow;

/// The states an operator can filter by.
pub const STATES: &[&str] = &[
    "pending",
    "identity_created",
    "roles_pending",
    "needs_cleanup",
];

/// One stuck registration as the list shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistrationRow {
    pub id: RegistrationId,
    pub email: String,
    pub state: String,
    /// Requested role keys.
    pub roles: Vec<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl TableRow for RegistrationRow {
    fn cells(&self) -> Vec<DisplayText> {
        vec![
            DisplayText::new(&self.email),
            DisplayText::new(&self.state),
            DisplayText::new(&self.roles.join(", ")),
            opt(&self.last_error),
            when(&self.created_at),
        ]
    }
}

/// The stuck registrations. Reading never writes: `pending` rows are reconciled only when the
/// operator asks (`:reconcile`, [`RegistrationOp::Reconcile`]).
#[derive(Debug)]
pub struct Registrations;

impl ListSource for Registrations {
    fn page(&self, s: Services, a: Actor, q: PageQuery) -> JobFuture<Reply> {
        Box::pin(async move {
            let page = s.list_stuck_page(&a, &q).await?;
            Ok(Box::new(page.map(|r| {
                RegistrationRow {
                    id: r.id,
                    email: r.email,
                    state: r.state,
                    roles: r
                        .requested_roles
                        .iter()
                        .filter_map(|id| RoleRef::from_id(*id))
                        .map(|r| r.key().to_string())
                        .collect(),
                    last_error: r.last_error,
                    created_at: r.created_at,
                }
            })) as Reply)
        })
    }
    fn filter_values(
        &self,
        _s: Services,
        _a: Actor,
        column: String,
        _q: PageQuery,
    ) -> JobFuture<Vec<String>> {
        Box::pin(async move {
            match column.as_str() {
                "state" => Ok(STATES.iter().map(|s| s.to_string()).collect()),
                _ => anyhow::bail!("registrations cannot be filtered by {column}"),
            }
        })
    }
}

/// What the registrations screen changes.
#[derive(Clone, Debug)]
pub enum RegistrationOp {
    Retry {
        id: RegistrationId,
    },
    Rollback {
        id: RegistrationId,
    },
    Resolve {
        id: RegistrationId,
        note: String,
    },
    /// Settle every `pending` row older than a minute by proof (SPEC §5.1).
    Reconcile,
}

impl Operation for RegistrationOp {
    fn describe(&self) -> &'static str {
        match self {
            RegistrationOp::Retry { .. } => "retry registration",
            RegistrationOp::Rollback { .. } => "roll back registration",
            RegistrationOp::Resolve { .. } => "resolve registration",
            RegistrationOp::Reconcile => "reconcile registrations",
        }
    }

    fn subject(&self) -> Option<String> {
        match self {
            RegistrationOp::Retry { id }
            | RegistrationOp::Rollback { id }
            | RegistrationOp::Resolve { id, .. } => Some(id.to_string()),
            RegistrationOp::Reconcile => Some("pending registrations".into()),
        }
    }

    fn run(self: Box<Self>, s: Services, a: Actor) -> JobFuture<OpOutcome> {
        Box::pin(async move {
            Ok(match *self {
                RegistrationOp::Retry { id } => {
                    let out = s.retry_registration(&a, id).await?;
                    OpOutcome::toast(DisplayText::with_max(&out.message, 120).into_string())
                }
                RegistrationOp::Rollback { id } => {
                    let r = s.rollback_registration(&a, id).await?;
                    OpOutcome::toast(format!("registration now {}", DisplayText::new(&r.state)))
                }
                RegistrationOp::Resolve { id, note } => {
                    s.resolve_registration(&a, id, &note).await?;
                    OpOutcome::toast("registration marked resolved")
                }
                RegistrationOp::Reconcile => {
                    let n = s.reconcile_pending(&a, 60).await?.len();
                    OpOutcome::toast(format!("{n} pending registration(s) settled"))
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_rows_render_the_cells_the_list_showed() {
        let r = RegistrationRow {
            id: RegistrationId(uuid::Uuid::from_u128(1)),
            email: "dave@site.example".into(),
            state: "roles_pending".into(),
            roles: vec!["researcher".into(), "viewer".into()],
            last_error: None,
            created_at: "2026-11-20T08:00:00Z".parse().unwrap(),
        };
        assert_eq!(
            r.texts(),
            [
                "dave@site.example",
                "roles_pending",
                "researcher, viewer",
                "",
                "2026-11-20 08:00"
            ]
        );
    }
}
