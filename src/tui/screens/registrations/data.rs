//! The registrations screen's data: typed rows of stuck registrations, the list source and
//! the recovery operations (retry, roll back, resolve), over service functions.

use chrono::{DateTime, Utc};

use crate::domain::{
    DisplayText, Page, PageQuery, RegistrationId, RegistrationState, RoleRef, UserSub,
};
use crate::service::registration_detail::{RegistrationDetail, explain};
use crate::service::versions::Version;
use crate::service::{Actor, Services};
use crate::tui::action::{Job, JobFuture, ListSource, OpOutcome, Operation, Progress};
use crate::tui::screens::{opt, shown, when};
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
    /// The identity's sub once known.
    pub sub: Option<UserSub>,
    /// For `needs_cleanup`: why the rollback itself failed.
    pub rollback_error: Option<String>,
    /// The row's version (a repair confirmed from this row is conditional on it).
    pub version: i64,
}

impl RegistrationRow {
    /// The state as the domain knows it (None for a state this build does not know).
    pub fn state(&self) -> Option<RegistrationState> {
        RegistrationState::parse(&self.state)
    }

    /// The detail pane of the selected row: id, email, sub, state with its meaning and the
    /// next step, both causes and when it started (Enter opens the full detail with its age
    /// and who started it).
    pub fn pane_lines(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("Registration id".to_string(), self.id.to_string()),
            ("Email".into(), shown(&self.email)),
            (
                "Sub".into(),
                self.sub.map_or("(not known yet)".into(), |s| s.to_string()),
            ),
            ("State".into(), shown(&self.state)),
        ];
        if let Some(st) = self.state() {
            let (meaning, next) = explain(st);
            v.push(("Meaning".into(), meaning.into()));
            v.push(("Next step".into(), next.into()));
        }
        v.push((
            "Cause".into(),
            self.last_error
                .as_deref()
                .map_or("(none recorded)".into(), shown),
        ));
        if let Some(r) = &self.rollback_error {
            v.push(("Rollback failed because".into(), shown(r)));
        }
        v.push(("Started".into(), when(&self.created_at).into_string()));
        v
    }
}

/// The full on-call detail of one registration, as label/value lines.
pub fn detail_lines(d: &RegistrationDetail) -> Vec<(String, String)> {
    let mut v = vec![
        ("Registration id".to_string(), d.id.to_string()),
        ("Email".into(), shown(&d.email)),
        (
            "Sub".into(),
            d.sub.map_or("(not known yet)".into(), |s| s.to_string()),
        ),
        ("State".into(), d.state.as_str().to_string()),
        ("Meaning".into(), d.meaning.into()),
        ("Next step".into(), d.next_step.into()),
        (
            "Cause".into(),
            d.cause.as_deref().map_or("(none recorded)".into(), shown),
        ),
    ];
    if let Some(r) = &d.rollback_cause {
        v.push(("Rollback failed because".into(), shown(r)));
    }
    if let Some(n) = &d.note {
        v.push(("Note".into(), shown(n)));
    }
    if let Some(by) = &d.being_repaired_by {
        v.push(("Being repaired by".into(), shown(by)));
    }
    v.push((
        "Requested roles".into(),
        shown(&d.requested_roles.join(", ")),
    ));
    v.push((
        "Age".into(),
        format!("{} (since {})", shown(&d.age), when(&d.created_at)),
    ));
    v.push(("Started by".into(), shown(&d.started_by)));
    v.push((
        "Repairs".into(),
        if d.repairs.is_empty() {
            "none: nothing to do".into()
        } else {
            d.repairs
                .iter()
                .map(|r| r.label())
                .collect::<Vec<_>>()
                .join(" · ")
        },
    ));
    v
}

/// Reads one registration's on-call detail.
#[derive(Debug)]
pub struct LoadRegistration(pub RegistrationId);

impl Job for LoadRegistration {
    type Out = RegistrationDetail;
    fn run(self, s: Services, a: Actor) -> JobFuture<RegistrationDetail> {
        Box::pin(async move { Ok(s.registration_detail(&a, self.0).await?) })
    }
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

impl ListSource<RegistrationRow> for Registrations {
    fn page(&self, s: Services, a: Actor, q: PageQuery) -> JobFuture<Page<RegistrationRow>> {
        Box::pin(async move {
            let page = s.list_stuck_page(&a, &q).await?;
            Ok(page.map(|r| RegistrationRow {
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
                sub: r.sub,
                rollback_error: r.rollback_error,
                version: r.version,
            }))
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
        /// The version the confirmation was based on (None: it was not known).
        version: Option<Version>,
    },
    Rollback {
        id: RegistrationId,
        version: Option<Version>,
    },
    Resolve {
        id: RegistrationId,
        note: String,
        version: Option<Version>,
    },
    /// Settle every `pending` row older than a minute by proof.
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
            RegistrationOp::Retry { id, .. }
            | RegistrationOp::Rollback { id, .. }
            | RegistrationOp::Resolve { id, .. } => Some(id.to_string()),
            RegistrationOp::Reconcile => Some("pending registrations".into()),
        }
    }

    fn run(self: Box<Self>, s: Services, a: Actor, _progress: Progress) -> JobFuture<OpOutcome> {
        Box::pin(async move {
            Ok(match *self {
                RegistrationOp::Retry { id, version } => {
                    let out = s.retry_registration_expecting(&a, id, version).await?;
                    OpOutcome::toast(format!(
                        "registration of {} is now {}",
                        DisplayText::with_max(&out.email, 60),
                        out.state.as_str()
                    ))
                }
                RegistrationOp::Rollback { id, version } => {
                    let r = s.rollback_registration_expecting(&a, id, version).await?;
                    OpOutcome::toast(format!(
                        "registration of {} is now {}",
                        DisplayText::with_max(&r.email, 60),
                        DisplayText::new(&r.state)
                    ))
                }
                RegistrationOp::Resolve { id, note, version } => {
                    s.resolve_registration_expecting(&a, id, &note, version)
                        .await?;
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
            sub: None,
            rollback_error: Some("directory unavailable".into()),
            version: 1,
        };
        let pane = r.pane_lines();
        let get = |k: &str| pane.iter().find(|(l, _)| l == k).map(|(_, v)| v.clone());
        assert_eq!(get("Started").unwrap(), "2026-11-20 08:00");
        assert_eq!(
            get("Rollback failed because").unwrap(),
            "directory unavailable"
        );
        assert!(get("Next step").unwrap().starts_with("Retry"));
        assert!(pane.iter().all(|(_, v)| !v.contains("--")));
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
