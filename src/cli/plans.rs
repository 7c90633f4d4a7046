//! `hubdeck mandates plan NAME PLAN`, `hubdeck mandates plans` and the detail of `mandates
//! show`: the plan catalogue, the plan change and members against the plan's capacity.

use super::mandates::print_table;
use super::{Context, Output, print_json};
use crate::cli::output::outln;
use crate::domain::page::thousands;
use crate::domain::{DisplayText, MandateId};
use crate::service::{Actor, Services};

fn ts(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// `mandates plans`: the catalogue with trial days and member limit.
pub async fn catalogue(ctx: &Context, svc: &Services, actor: &Actor) -> anyhow::Result<i32> {
    let plans = svc.plan_catalogue(actor).await?;
    match ctx.output {
        Output::Json => print_json(&plans)?,
        Output::Table => {
            let rows: Vec<Vec<String>> = plans
                .iter()
                .map(|p| {
                    vec![
                        p.key.clone(),
                        p.name.clone(),
                        p.trial_days.to_string(),
                        thousands(u64::try_from(p.max_members).unwrap_or(0)),
                        format!("{:.2}", f64::from(p.monthly_price_cents) / 100.0),
                    ]
                })
                .collect();
            print_table(
                &["PLAN", "NAME", "TRIAL DAYS", "MAX MEMBERS", "MONTHLY"],
                &rows,
            )?;
        }
    }
    Ok(0)
}

/// `mandates show`: plan, subscription status, trial end, members against capacity, admins.
pub async fn show(
    ctx: &Context,
    svc: &Services,
    actor: &Actor,
    id: MandateId,
) -> anyhow::Result<i32> {
    let d = svc.mandate_overview(actor, id).await?;
    if ctx.output == Output::Json {
        print_json(&d)?;
        return Ok(0);
    }
    let m = &d.mandate;
    let mut rows = vec![
        vec!["id".into(), m.id.to_string()],
        vec!["name".into(), m.name.clone()],
        vec!["label".into(), m.label.clone().unwrap_or_default()],
        vec!["enabled".into(), m.enabled.to_string()],
        vec!["created".into(), ts(Some(m.created_at))],
    ];
    if m.deleted_at.is_some() {
        rows.push(vec!["deleted".into(), ts(m.deleted_at)]);
    }
    match &d.subscription {
        Some(s) => {
            rows.push(vec![
                "plan".into(),
                format!("{} ({})", s.plan_name, s.plan_key),
            ]);
            rows.push(vec!["status".into(), s.status.clone()]);
            rows.push(vec!["trial ends".into(), ts(s.trial_ends_at)]);
        }
        None => rows.push(vec!["plan".into(), "(no live subscription)".into()]),
    }
    rows.push(vec!["members".into(), d.members_label()]);
    let admins: Vec<String> = d
        .admins
        .iter()
        .map(|a| {
            let who = a.email.clone().unwrap_or_else(|| a.user_id.to_string());
            if a.working {
                who
            } else {
                format!("{who} (disabled or gone)")
            }
        })
        .collect();
    rows.push(vec![
        "admins".into(),
        if admins.is_empty() {
            "(none)".into()
        } else {
            admins.join(", ")
        },
    ]);
    print_table(&["FIELD", "VALUE"], &rows)?;
    if d.working_admins() == 0 {
        eprintln!("warning: the mandate has no working admin");
    }
    Ok(0)
}

/// `mandates plan NAME PLAN`.
pub async fn change(
    ctx: &Context,
    svc: &Services,
    actor: &Actor,
    id: MandateId,
    (plan, expected): (&str, Option<crate::service::versions::Version>),
) -> anyhow::Result<i32> {
    let c = svc.change_plan(actor, id, plan, expected).await?;
    match ctx.output {
        Output::Json => print_json(&c)?,
        Output::Table => outln!(
            "mandate «{}» moved from {} to {} ({}; {} of {} members{})",
            DisplayText::new(&c.mandate.name),
            c.before
                .as_ref()
                .map(|b| b.plan_key.clone())
                .unwrap_or_else(|| "no plan".into()),
            DisplayText::new(&c.after.plan_key),
            c.after.status,
            thousands(u64::try_from(c.members).unwrap_or(0)),
            thousands(u64::try_from(c.after.max_members).unwrap_or(0)),
            c.after
                .trial_ends_at
                .map(|t| format!("; trial ends {}", ts(Some(t))))
                .unwrap_or_default()
        )?,
    }
    Ok(0)
}
