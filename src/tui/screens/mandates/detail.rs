//! The mandate detail pane (plan, subscription status, trial end, members against the plan's
//! capacity, admins — `service::plans::mandate_overview`) and the plan picker (each plan's
//! trial days and member limit, from the catalogue).

use crate::domain::MandateId;
use crate::service::plans::MandateOverview;
use crate::service::plans::Plan;
use crate::service::versions::Version;
use crate::service::{Actor, Services};
use crate::tui::action::{Job, JobFuture, OpBox};
use crate::tui::screens::{shown, when, yes_no};
use crate::tui::widgets::form::{Field, Form};

use super::data::MandateOp;

/// Reads the detail pane of one mandate (plan, subscription, members against capacity,
/// admins).
#[derive(Debug)]
pub struct LoadOverview(pub MandateId);

impl Job for LoadOverview {
    type Out = MandateOverview;
    fn run(self, s: Services, a: Actor) -> JobFuture<MandateOverview> {
        Box::pin(async move { Ok(s.mandate_overview(&a, self.0).await?) })
    }
}

/// Reads the plan catalogue (for the plan picker).
#[derive(Debug)]
pub struct LoadCatalogue;

impl Job for LoadCatalogue {
    type Out = Vec<Plan>;
    fn run(self, s: Services, a: Actor) -> JobFuture<Vec<Plan>> {
        Box::pin(async move { Ok(s.plan_catalogue(&a).await?) })
    }
}

/// The detail pane's lines for a mandate overview.
pub fn overview_lines(o: &MandateOverview) -> Vec<(String, String)> {
    let m = &o.mandate;
    let mut lines = vec![
        ("Name".to_string(), shown(&m.name)),
        ("Label".to_string(), shown(m.label.as_deref().unwrap_or(""))),
        ("Enabled".to_string(), yes_no(m.enabled).into_string()),
    ];
    if let Some(d) = &m.deleted_at {
        lines.push(("Deleted".to_string(), when(d).into_string()));
    }
    match &o.subscription {
        Some(sub) => {
            lines.push((
                "Plan".to_string(),
                format!("{} ({})", shown(&sub.plan_name), shown(&sub.plan_key)),
            ));
            lines.push(("Subscription".to_string(), shown(&sub.status)));
            lines.push((
                "Trial ends".to_string(),
                sub.trial_ends_at
                    .as_ref()
                    .map_or_else(|| "no trial".to_string(), |t| when(t).into_string()),
            ));
        }
        None => lines.push(("Plan".to_string(), "no live subscription".to_string())),
    }
    lines.push(("Members".to_string(), o.members_label()));
    let admins = if o.admins.is_empty() {
        "none".to_string()
    } else {
        o.admins
            .iter()
            .map(|a| {
                let who = a
                    .email
                    .as_deref()
                    .map_or_else(|| a.user_id.to_string(), shown);
                if a.working {
                    who
                } else {
                    format!("{who} (not working)")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let working = o.working_admins();
    lines.push((
        format!("Admins ({working} working)"),
        if working == 0 {
            format!("{admins} — NO WORKING ADMIN")
        } else {
            admins
        },
    ));
    lines.push(("Created".to_string(), when(&m.created_at).into_string()));
    lines
}

/// The plan picker for `id`: each plan described with its member limit and trial, the
/// current plan (when known) chosen first. The change is conditional on the mandate's version
/// the list showed.
pub fn plan_form(
    (id, version): (MandateId, Version),
    name: &str,
    plans: &[Plan],
    current: Option<&str>,
) -> Form {
    let options: Vec<String> = plans.iter().map(Plan::describe).collect();
    let keys: Vec<String> = plans.iter().map(|p| p.key.clone()).collect();
    let idx = current
        .and_then(|c| keys.iter().position(|k| k == c))
        .unwrap_or(0);
    let title = match current {
        Some(c) => format!("Change plan of {} (now {})", shown(name), shown(c)),
        None => format!("Change plan of {}", shown(name)),
    };
    Form::op(
        title,
        vec![Field::select("Plan", options.clone(), idx)],
        move |f| {
            let chosen = f.text(0);
            let plan = options
                .iter()
                .position(|o| *o == chosen)
                .and_then(|i| keys.get(i).cloned())
                .unwrap_or_default();
            OpBox::new(MandateOp::ChangePlan { id, plan, version })
        },
    )
}

/// The create form with the plan select describing each plan (limits and trial).
pub fn create_form_described(plans: &[Plan]) -> Form {
    use crate::tui::widgets::form::{v_optional_text, v_required_text};
    let options: Vec<String> = plans.iter().map(Plan::describe).collect();
    let keys: Vec<String> = plans.iter().map(|p| p.key.clone()).collect();
    Form::op(
        "Create mandate",
        vec![
            Field::text("Name", "", v_required_text),
            Field::text("Label", "", v_optional_text),
            Field::select("Plan", options.clone(), 0),
            Field::check("Enabled", true),
        ],
        move |f| {
            let chosen = f.text(2);
            let plan = options
                .iter()
                .position(|o| *o == chosen)
                .and_then(|i| keys.get(i).cloned())
                .unwrap_or_default();
            OpBox::new(MandateOp::Create {
                name: f.text(0),
                label: f.text(1),
                plan,
                enabled: f.flag(3),
            })
        },
    )
}
