//! The only place the console calls services. Each list has a data source — a boxed async fn
//! from `PageQuery` to `Page<Row>` of sanitized display strings — and each [`Request`] becomes
//! one task whose result comes back as a [`Msg`] carrying the request id.

use futures::future::BoxFuture;

use super::action::{
    ErrorReport, ListKey, Msg, Op, OpOutcome, Request, RevealKeys, RoleChoices, RoleTarget, Row,
    SignInReply,
};
use crate::domain::{DisplayText, Page, PageQuery};
use crate::service::session::SignInOutcome;
use crate::service::{Actor, Operator, Services};

/// A list's data source.
pub type Source =
    Box<dyn Fn(PageQuery) -> BoxFuture<'static, anyhow::Result<Page<Row>>> + Send + Sync>;

/// Filter values of one column, honouring the other active filters.
pub type FilterSource =
    Box<dyn Fn(String, PageQuery) -> BoxFuture<'static, anyhow::Result<Vec<String>>> + Send + Sync>;

fn not_in_build(what: &'static str) -> anyhow::Error {
    anyhow::anyhow!("the {what} service is not part of this build yet")
}

fn when(t: &chrono::DateTime<chrono::Utc>) -> DisplayText {
    DisplayText::new(&t.format("%Y-%m-%d %H:%M").to_string())
}

fn yes_no(b: bool) -> DisplayText {
    DisplayText::new(if b { "yes" } else { "no" })
}

fn opt(s: &Option<String>) -> DisplayText {
    DisplayText::new(s.as_deref().unwrap_or(""))
}

fn parse_id<T: std::str::FromStr<Err = crate::domain::ValidationError>>(
    s: &str,
) -> anyhow::Result<T> {
    Ok(s.parse::<T>()?)
}

fn role_keys(names: &[String]) -> DisplayText {
    DisplayText::new(
        &names
            .iter()
            .map(|n| n.to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// The audit screen's time range travels as two pseudo-filters (`since`, `until`) set from the
/// command palette; they are taken out of the query here and parsed by the one
/// [`TimeRange::parse`](crate::domain::audit::TimeRange::parse).
fn audit_range(mut q: PageQuery) -> anyhow::Result<(PageQuery, crate::domain::audit::TimeRange)> {
    let value = |col: &str| {
        q.filters
            .iter()
            .find(|f| f.column == col)
            .and_then(|f| f.values.first().cloned())
    };
    let (since, until) = (value("since"), value("until"));
    let range = crate::domain::audit::TimeRange::parse(since.as_deref(), until.as_deref())?;
    q.filters
        .retain(|f| f.column != "since" && f.column != "until");
    Ok((q, range))
}

/// The data source of a list for this actor.
pub fn source(services: &Services, actor: &Actor, list: &ListKey) -> Source {
    let s = services.clone();
    let a = actor.clone();
    match list {
        ListKey::Users => Box::new(move |q| {
            let (s, a) = (s.clone(), a.clone());
            Box::pin(async move {
                let page = s.list_users(&a, &q).await?;
                Ok(page.map(|u| {
                    Row::new(
                        u.sub.to_string(),
                        [
                            DisplayText::new(&u.email),
                            opt(&u.name),
                            opt(&u.organisation),
                            role_keys(&u.roles),
                            yes_no(u.enabled),
                            DisplayText::new(&u.status),
                        ],
                    )
                }))
            })
        }),
        ListKey::Registrations => Box::new(move |q| {
            let (s, a) = (s.clone(), a.clone());
            Box::pin(async move {
                // SPEC §5.1: `pending` rows older than a minute are reconciled by looking the
                // email up (best effort; skipped in read-only mode).
                if !s.settings.ui.read_only
                    && let Err(e) = s.reconcile_pending(&a, 60).await
                {
                    tracing::warn!("reconciling pending registrations failed: {e}");
                }
                let page = s.list_stuck_page(&a, &q).await?;
                Ok(page.map(|r| {
                    let roles: Vec<String> = r
                        .requested_roles
                        .iter()
                        .filter_map(|id| crate::domain::RoleRef::from_id(*id))
                        .map(|r| r.key().to_string())
                        .collect();
                    Row::new(
                        r.id.to_string(),
                        [
                            DisplayText::new(&r.email),
                            DisplayText::new(&r.state),
                            DisplayText::new(&roles.join(", ")),
                            opt(&r.last_error),
                            when(&r.created_at),
                        ],
                    )
                }))
            })
        }),
        ListKey::Mandates => Box::new(move |q| {
            let (s, a) = (s.clone(), a.clone());
            Box::pin(async move {
                let page = s.list_mandates(&a, &q).await?;
                Ok(page.map(|m| {
                    Row::new(
                        m.id.to_string(),
                        [
                            DisplayText::new(&m.name),
                            opt(&m.label),
                            yes_no(m.enabled),
                            when(&m.created_at),
                        ],
                    )
                }))
            })
        }),
        ListKey::Members(mandate) => {
            let mandate = mandate.clone();
            Box::new(move |q| {
                let (s, a, mandate) = (s.clone(), a.clone(), mandate.clone());
                Box::pin(async move {
                    let page = s.list_members(&a, parse_id(&mandate)?, &q).await?;
                    Ok(page.map(|m| {
                        Row::new(
                            m.user_id.to_string(),
                            [
                                DisplayText::new(
                                    m.email
                                        .as_deref()
                                        .or(m.username.as_deref())
                                        .unwrap_or("(not in directory cache)"),
                                ),
                                opt(&m.full_name),
                                DisplayText::new(&m.role_labels.join(", ")),
                                yes_no(m.is_admin),
                                yes_no(m.enabled),
                            ],
                        )
                    }))
                })
            })
        }
        ListKey::Audit => Box::new(move |q| {
            let (s, a) = (s.clone(), a.clone());
            Box::pin(async move {
                let (q, range) = audit_range(q)?;
                let page = s.list_audit(&a, &q, range).await?;
                Ok(page.map(|e| {
                    let actor = match (&e.actor_user_id, &e.os_user) {
                        (Some(u), _) => u.to_string(),
                        (None, Some(os)) => format!("{}:{os}", e.via),
                        (None, None) => e.via.clone(),
                    };
                    let subject = e
                        .subject_name
                        .clone()
                        .or(e.subject_id.map(|u| u.to_string()))
                        .unwrap_or_default();
                    Row::new(
                        e.id.to_string(),
                        [
                            when(&e.occurred_at),
                            DisplayText::new(&e.source),
                            DisplayText::new(&e.action),
                            DisplayText::new(&actor),
                            DisplayText::new(&subject),
                            DisplayText::new(&e.via),
                        ],
                    )
                }))
            })
        }),
        ListKey::Trusts => Box::new(move |q| {
            let (s, a) = (s.clone(), a.clone());
            Box::pin(async move {
                let page = s.list_trusts(&a, &q).await?;
                Ok(page.map(|t| {
                    Row::new(
                        t.id.to_string(),
                        [
                            DisplayText::new(&t.name),
                            DisplayText::new(&t.code),
                            opt(&t.region),
                            opt(&t.slot_name),
                            when(&t.created_at),
                        ],
                    )
                }))
            })
        }),
        ListKey::KitSlots => Box::new(move |q| {
            let (s, a) = (s.clone(), a.clone());
            Box::pin(async move {
                let page = s.list_kit_slots(&a, &q).await?;
                Ok(page.map(|k| {
                    let trust = match (&k.trust_name, &k.trust_code) {
                        (Some(n), Some(c)) => format!("{n} ({c})"),
                        (Some(n), None) => n.clone(),
                        _ => String::new(),
                    };
                    Row::new(
                        k.slot_name.clone(),
                        [
                            DisplayText::new(&k.slot_name),
                            DisplayText::new(&k.slot_number.to_string()),
                            yes_no(k.assigned_to_trust_id.is_none()),
                            DisplayText::new(&trust),
                            k.assigned_at.as_ref().map(when).unwrap_or_default(),
                        ],
                    )
                }))
            })
        }),
    }
}

/// The filter-value source of a list.
pub fn filter_source(services: &Services, actor: &Actor, list: &ListKey) -> FilterSource {
    let list = list.clone();
    let s = services.clone();
    let a = actor.clone();
    Box::new(move |column, q| {
        let list = list.clone();
        let (s, a) = (s.clone(), a.clone());
        Box::pin(async move {
            match &list {
                ListKey::Trusts => return Ok(s.trust_filter_values(&a, &column, &q).await?),
                ListKey::Mandates => return Ok(s.mandate_filter_values(&a, &column, &q).await?),
                ListKey::Members(m) => {
                    return Ok(s
                        .member_filter_values(&a, parse_id(m)?, &column, &q)
                        .await?);
                }
                ListKey::Audit => {
                    let (q, range) = audit_range(q)?;
                    return Ok(s.audit_filter_values(&a, &column, &q, range).await?);
                }
                _ => {}
            }
            let fixed: &[&str] = match (&list, column.as_str()) {
                (ListKey::Users, "role") => &["admin", "researcher", "viewer"],
                (ListKey::Users | ListKey::Mandates | ListKey::Members(_), "enabled") => {
                    &["true", "false"]
                }
                (ListKey::Users, "status") => &[
                    "CONFIRMED",
                    "FORCE_CHANGE_PASSWORD",
                    "RESET_REQUIRED",
                    "UNCONFIRMED",
                ],
                (ListKey::KitSlots, "free") => &["true", "false"],
                (ListKey::Registrations, "state") => &[
                    "pending",
                    "identity_created",
                    "roles_pending",
                    "needs_cleanup",
                ],
                _ => return Err(not_in_build(list.name())),
            };
            Ok(fixed.iter().map(|s| s.to_string()).collect())
        })
    })
}

/// Detail lines of one user (profile, grants, mandates, registration state, audit).
async fn user_detail(
    services: &Services,
    actor: &Actor,
    sub: &str,
) -> anyhow::Result<Vec<(String, DisplayText)>> {
    let d = services.user_detail(actor, parse_id(sub)?).await?;
    let mut out = vec![("Sub".to_string(), DisplayText::new(&d.sub.to_string()))];
    if let Some(i) = &d.identity {
        out.push(("Email".into(), DisplayText::new(&i.email)));
        out.push((
            "Directory".into(),
            DisplayText::new(&format!(
                "{} · {}",
                i.status.as_str(),
                if i.enabled { "enabled" } else { "disabled" }
            )),
        ));
    } else {
        out.push(("Directory".into(), DisplayText::new("no identity found")));
    }
    if let Some(p) = &d.profile {
        out.push(("Name".into(), DisplayText::new(&p.name)));
        out.push(("Organisation".into(), DisplayText::new(&p.organisation)));
    }
    out.push(("Grants".into(), role_keys(&d.roles)));
    let mandates: Vec<String> = d
        .mandates
        .iter()
        .map(|m| format!("{} ({})", m.mandate_name, m.roles.join(", ")))
        .collect();
    out.push(("Mandates".into(), DisplayText::new(&mandates.join("; "))));
    let regs: Vec<String> = d
        .registrations
        .iter()
        .map(|r| format!("{} ({})", r.state, r.created_at.format("%Y-%m-%d %H:%M")))
        .collect();
    out.push(("Registrations".into(), DisplayText::new(&regs.join("; "))));
    for a in d.audit.iter().take(8) {
        out.push((
            format!("Audit {}", a.timestamp.format("%Y-%m-%d %H:%M")),
            DisplayText::new(&format!("{} via {}", a.action, a.via)),
        ));
    }
    Ok(out)
}

fn err(e: impl Into<anyhow::Error>) -> ErrorReport {
    ErrorReport::from_anyhow(&e.into())
}

/// Runs one request to completion and returns its message.
pub async fn execute(services: Services, operator: Option<Operator>, req: Request) -> Msg {
    let actor = operator.clone().map(Actor::Operator);
    let need_actor = || {
        actor
            .clone()
            .ok_or_else(|| ErrorReport::msg("not signed in"))
    };
    match req {
        Request::Page { id, list, query } => {
            let result = match need_actor() {
                Ok(a) => source(&services, &a, &list)(query).await.map_err(err),
                Err(e) => Err(e),
            };
            Msg::Page { id, list, result }
        }
        Request::FilterValues {
            id,
            list,
            column,
            query,
        } => {
            let result = match need_actor() {
                Ok(a) => filter_source(&services, &a, &list)(column, query)
                    .await
                    .map_err(err),
                Err(e) => Err(e),
            };
            Msg::FilterValues { id, result }
        }
        Request::PickUsers { id, search } => {
            let q = PageQuery::new(1, 5).search(search);
            let result = match need_actor() {
                Ok(a) => source(&services, &a, &ListKey::Users)(q)
                    .await
                    .map(|p| {
                        p.items
                            .into_iter()
                            .map(|r| Row::new(r.id.clone(), r.cells.into_iter().take(2)))
                            .collect()
                    })
                    .map_err(err),
                Err(e) => Err(e),
            };
            Msg::PickUsers { id, result }
        }
        Request::Detail { id, row_id, .. } => {
            let result = match need_actor() {
                Ok(a) => user_detail(&services, &a, &row_id).await.map_err(err),
                Err(e) => Err(e),
            };
            Msg::Detail { id, result }
        }
        Request::RoleChoices { id, target } => {
            let result = match need_actor() {
                Ok(a) => role_choices(&services, &a, target).await.map_err(err),
                Err(e) => Err(e),
            };
            Msg::RoleChoices { id, result }
        }
        Request::KitSummary { id } => {
            let result = match need_actor() {
                Ok(a) => kit_usage(&services, &a).await.map_err(err),
                Err(e) => Err(e),
            };
            Msg::KitSummary { id, result }
        }
        Request::SignIn {
            id,
            email,
            password,
        } => {
            let result = match services.sign_in(&email, &password).await {
                Ok(SignInOutcome::SignedIn(op)) => Ok(SignInReply::SignedIn(op)),
                Ok(SignInOutcome::NewPasswordRequired(ch)) => {
                    Ok(SignInReply::NewPasswordRequired(ch))
                }
                Err(e) => Err(err(e)),
            };
            Msg::SignIn { id, result }
        }
        Request::NewPassword {
            id,
            challenge,
            password,
        } => {
            let result = services
                .complete_new_password(&challenge, &password)
                .await
                .map(SignInReply::SignedIn)
                .map_err(err);
            Msg::SignIn { id, result }
        }
        Request::Op { id, op } => {
            let result = match need_actor() {
                Ok(a) => run_op(&services, &a, op).await.map_err(err),
                Err(e) => Err(e),
            };
            Msg::OpDone { id, result }
        }
        // The loop connects environments itself (it owns the services); never sent here.
        Request::SwitchEnv { id, .. } => Msg::EnvSwitched {
            id,
            result: Err(ErrorReport::msg(
                "environment switches are handled by the console loop",
            )),
        },
        Request::Health => {
            let p = services.probe().await;
            Msg::Health {
                db: p.db,
                directory: p.directory,
                latency: p.latency,
            }
        }
    }
}

/// (used, total) kit slots.
async fn kit_usage(services: &Services, actor: &Actor) -> anyhow::Result<(u64, u64)> {
    let u = services.kit_usage(actor).await?;
    Ok((u.used, u.total))
}

fn reveal_keys(
    title: &str,
    trust: String,
    details: Vec<(String, DisplayText)>,
    api_key: crate::domain::Secret,
    internal_key: Option<crate::domain::Secret>,
) -> RevealKeys {
    RevealKeys {
        title: title.to_string(),
        trust: DisplayText::new(&trust),
        details,
        api_key,
        internal_key,
    }
}

/// The choices of a Roles form, read through the service.
async fn role_choices(
    services: &Services,
    actor: &Actor,
    target: RoleTarget,
) -> anyhow::Result<RoleChoices> {
    match target {
        RoleTarget::User { sub } => {
            let held = services.user_roles(actor, parse_id(&sub)?).await?;
            Ok(RoleChoices {
                options: crate::domain::RoleRef::ALL
                    .iter()
                    .map(|r| (r.key().to_string(), r.key().to_string()))
                    .collect(),
                held: held.iter().map(|r| r.key().to_string()).collect(),
            })
        }
        RoleTarget::Member {
            mandate_id,
            user_sub,
        } => {
            let mandate: crate::domain::MandateId = parse_id(&mandate_id)?;
            let user = match user_sub {
                Some(u) => Some(parse_id(&u)?),
                None => None,
            };
            let c = services.member_role_choices(actor, mandate, user).await?;
            let label = |r: &crate::service::roles::MandateRole| {
                let l = DisplayText::with_max(&r.label, 40).into_string();
                match r.mandate_id {
                    None => l,
                    Some(m) if m == mandate => format!("{l} (this mandate)"),
                    Some(_) => format!("{l} (another mandate)"),
                }
            };
            Ok(RoleChoices {
                options: c
                    .offered
                    .iter()
                    .map(|r| (r.id.to_string(), label(r)))
                    .collect(),
                held: c.held.iter().map(|r| r.id.to_string()).collect(),
            })
        }
    }
}

fn roles_of(names: &[String]) -> anyhow::Result<Vec<crate::domain::RoleRef>> {
    Ok(names
        .iter()
        .map(|n| crate::domain::RoleRef::parse(n))
        .collect::<Result<Vec<_>, _>>()?)
}

/// Runs one mutation through the services.
async fn run_op(services: &Services, actor: &Actor, op: Op) -> anyhow::Result<OpOutcome> {
    let toast = |s: String| OpOutcome {
        toast: s,
        reveal: None,
    };
    match op {
        Op::RegisterUser {
            email,
            name,
            organisation,
            roles,
        } => {
            let req = crate::service::registration::RegisterRequest {
                email,
                name,
                organisation,
                roles: roles_of(&roles)?,
                suppress_invite: false,
            };
            let out = services.register_user(actor, &req).await?;
            Ok(toast(
                DisplayText::with_max(&out.message, 120).into_string(),
            ))
        }
        Op::SetUserRoles { sub, roles } => {
            services
                .set_roles(actor, parse_id(&sub)?, &roles_of(&roles)?)
                .await?;
            Ok(toast("roles updated".into()))
        }
        Op::SetUserEnabled {
            sub,
            email,
            enabled,
        } => {
            services
                .set_enabled(actor, parse_id(&sub)?, enabled)
                .await?;
            Ok(toast(format!(
                "user {} {}",
                DisplayText::with_max(&email, 80),
                if enabled { "enabled" } else { "disabled" }
            )))
        }
        Op::ResendInvite { sub, email } => {
            services.resend_invite(actor, parse_id(&sub)?).await?;
            Ok(toast(format!(
                "invitation resent to {}",
                DisplayText::with_max(&email, 80)
            )))
        }
        Op::EditProfile {
            sub,
            name,
            organisation,
        } => {
            services
                .edit_profile(actor, parse_id(&sub)?, &name, &organisation)
                .await?;
            Ok(toast("profile updated".into()))
        }
        Op::DeleteUser { sub } => {
            let out = services.delete_user(actor, parse_id(&sub)?).await?;
            Ok(toast(
                DisplayText::with_max(&out.message, 120).into_string(),
            ))
        }
        Op::RetryRegistration { id } => {
            let out = services.retry_registration(actor, parse_id(&id)?).await?;
            Ok(toast(
                DisplayText::with_max(&out.message, 120).into_string(),
            ))
        }
        Op::RollbackRegistration { id } => {
            let r = services
                .rollback_registration(actor, parse_id(&id)?)
                .await?;
            Ok(toast(format!(
                "registration now {}",
                DisplayText::new(&r.state)
            )))
        }
        Op::ResolveRegistration { id, note } => {
            services
                .resolve_registration(actor, parse_id(&id)?, &note)
                .await?;
            Ok(toast("registration marked resolved".into()))
        }
        Op::RegisterTrust { name, code, region } => {
            let r = services
                .register_trust(actor, &name, &code, region.as_deref())
                .await?;
            let label = format!("{} ({})", r.trust.name, r.trust.code);
            let toast_text = format!(
                "trust {} registered",
                DisplayText::with_max(&r.trust.name, 60)
            );
            let details = vec![
                (
                    "Trust id".to_string(),
                    DisplayText::new(&r.trust.id.to_string()),
                ),
                (
                    "Kit slot".to_string(),
                    DisplayText::new(&format!("{} (#{})", r.fl_kit_slot, r.fl_kit_slot_number)),
                ),
                ("Region".to_string(), opt(&r.trust.region)),
            ];
            let crate::domain::trust::RegisteredTrust {
                api_key,
                internal_service_key,
                ..
            } = r;
            Ok(OpOutcome {
                toast: toast_text,
                reveal: Some(reveal_keys(
                    "Trust registered — its keys",
                    label,
                    details,
                    api_key,
                    Some(internal_service_key),
                )),
            })
        }
        Op::RotateTrustKey { id } => {
            let r = services
                .rotate_trust_keys(actor, parse_id(&id)?, false)
                .await?;
            let toast_text = format!(
                "API key of {} rotated",
                DisplayText::with_max(&r.trust_name, 60)
            );
            let crate::domain::trust::RotatedKeys {
                trust_name,
                api_key,
                internal_service_key,
                ..
            } = r;
            Ok(OpOutcome {
                toast: toast_text,
                reveal: Some(reveal_keys(
                    "API key rotated — the new key",
                    trust_name,
                    Vec::new(),
                    api_key,
                    internal_service_key,
                )),
            })
        }
        Op::DeleteTrust { id, .. } => {
            let d = services.delete_trust(actor, parse_id(&id)?).await?;
            Ok(toast(format!(
                "trust {} deleted{}",
                DisplayText::with_max(&d.trust_name, 60),
                d.freed_slot
                    .map(|s| format!("; slot {} freed", DisplayText::new(&s)))
                    .unwrap_or_default()
            )))
        }
        Op::CreateMandate {
            name,
            label,
            enabled,
            plan,
        } => {
            let input = crate::service::mandates::MandateInput {
                name,
                label: Some(label),
                enabled,
            };
            let d = services.create_mandate(actor, &input, Some(&plan)).await?;
            Ok(toast(format!(
                "mandate {} created",
                DisplayText::with_max(&d.mandate.name, 60)
            )))
        }
        Op::UpdateMandate {
            id,
            name,
            label,
            enabled,
        } => {
            let input = crate::service::mandates::MandateInput {
                name,
                label: Some(label),
                enabled,
            };
            let m = services
                .update_mandate(actor, parse_id(&id)?, &input)
                .await?;
            Ok(toast(format!(
                "mandate {} updated",
                DisplayText::with_max(&m.name, 60)
            )))
        }
        Op::SoftDeleteMandate { id, name } => {
            services.soft_delete_mandate(actor, parse_id(&id)?).await?;
            Ok(toast(format!(
                "mandate {} deleted (restorable until purged)",
                DisplayText::with_max(&name, 60)
            )))
        }
        Op::HardDeleteMandate { id, name } => {
            services
                .hard_delete_mandate(actor, parse_id(&id)?, &name)
                .await?;
            Ok(toast(format!(
                "mandate {} permanently deleted",
                DisplayText::with_max(&name, 60)
            )))
        }
        Op::AddMember {
            mandate_id,
            user_sub,
            roles,
        } => {
            let mandate = parse_id(&mandate_id)?;
            let role_ids = services
                .resolve_member_roles(actor, mandate, &roles)
                .await?;
            let who = crate::service::members::MemberRef::parse(&user_sub)?;
            services.add_member(actor, mandate, &who, &role_ids).await?;
            Ok(toast("member added".into()))
        }
        Op::SetMemberEnabled {
            mandate_id,
            user_sub,
            enabled,
        } => {
            services
                .set_member_enabled(actor, parse_id(&mandate_id)?, parse_id(&user_sub)?, enabled)
                .await?;
            Ok(toast(
                if enabled {
                    "membership enabled"
                } else {
                    "membership disabled"
                }
                .into(),
            ))
        }
        Op::RemoveMember {
            mandate_id,
            user_sub,
        } => {
            services
                .remove_member(actor, parse_id(&mandate_id)?, parse_id(&user_sub)?)
                .await?;
            Ok(toast("member removed".into()))
        }
        Op::SetMemberRoles {
            mandate_id,
            user_sub,
            roles,
        } => {
            let mandate = parse_id(&mandate_id)?;
            let role_ids = services
                .resolve_member_roles(actor, mandate, &roles)
                .await?;
            services
                .set_member_roles(actor, mandate, parse_id(&user_sub)?, &role_ids)
                .await?;
            Ok(toast("member roles updated".into()))
        }
        Op::ExportAudit { json, query } => {
            use crate::service::audit::{ExportFormat, default_export_path};
            let format = if json {
                ExportFormat::Json
            } else {
                ExportFormat::Csv
            };
            let path = default_export_path(format)?;
            let (query, range) = audit_range(query)?;
            let n = services
                .export_to_file(actor, &query, range, format, &path)
                .await?;
            Ok(toast(format!(
                "{n} audit rows exported to {}",
                DisplayText::new(&path.display().to_string())
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_range_is_taken_out_of_the_query() {
        let q = PageQuery::default()
            .filter("since", ["2026-11-01"])
            .filter("until", ["2026-11-20T12:00:00Z"])
            .filter("action", ["REGISTERED"]);
        let (q, r) = audit_range(q).unwrap();
        assert_eq!(q.filters.len(), 1);
        assert_eq!(q.filters[0].column, "action");
        assert_eq!(r.from.unwrap().to_rfc3339(), "2026-11-01T00:00:00+00:00");
        assert_eq!(r.to.unwrap().to_rfc3339(), "2026-11-20T12:00:00+00:00");
        assert!(audit_range(PageQuery::default().filter("since", ["yesterday"])).is_err());
    }
}
