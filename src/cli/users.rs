//! `hubdeck users ...`, `hubdeck seed-users`

mod repair;
pub use repair::RepairArgs;
use repair::repair;

use crate::cli::output::{outln, print_table};
use clap::{Args, Subcommand};

use super::page_args::PageArgs;
use super::{Context, Output, print_json};
use crate::domain::{DisplayText, RoleRef};
use crate::service::registration::RegisterRequest;
use crate::service::registration::RegistrationState;
use crate::service::seed_users::SeedOutcome;
use crate::service::user_roles::RolesEdit;
use crate::service::versions::Version;
use crate::service::{Actor, Services};

#[derive(Debug, Subcommand)]
pub enum UsersCmd {
    /// Register a user: directory identity, then roles, profile and audit (a journaled saga).
    /// Exit 3 when the email already exists or already has an open registration.
    Register(RegisterArgs),
    /// List users (from the directory cache joined with profiles and grants). `--search`
    /// matches email, username, name and organisation; the sub only when the term looks like
    /// the start of an id (hex digits and dashes, at least 8, with a digit or dash).
    List(ListArgs),
    /// Show one user: profile, grants, mandates, registrations, audit history.
    Show(UserArg),
    /// Change a user's global roles: `--role` replaces the set; `--add-role` / `--remove-role`
    /// change only those roles and keep every other grant as it is at the write.
    SetRoles(SetRolesArgs),
    /// Disable sign-in.
    Disable(GuardedUserArg),
    /// Enable sign-in.
    Enable(GuardedUserArg),
    /// Delete a user: grants and profile first, then the directory identity (idempotent).
    Delete(GuardedUserArg),
    /// Edit a user's profile.
    EditProfile(EditProfileArgs),
    /// Send the invitation again.
    ResendInvite(UserArg),
    /// Stuck registrations: list them (no flag), retry, roll back, resolve, reconcile. One
    /// operation per registration at a time: a second operator gets exit 3 ("being repaired").
    Repair(RepairArgs),
    /// Drift: memberships whose identity is gone or disabled (mandates without a working
    /// admin first), grants whose identity is gone, disabled users still holding grants,
    /// identities without grants. `--repair` previews (`--dry-run`) and applies repairs.
    Drift(super::drift::DriftArgs),
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub organisation: String,
    /// admin, researcher or viewer (repeat for several).
    #[arg(long = "role", value_name = "ROLE")]
    pub roles: Vec<RoleRef>,
    /// Do not send the invitation email.
    #[arg(long)]
    pub suppress_invite: bool,
}

/// `users list`: the shared paging flags plus the user filters. Search: email, name,
/// organisation, sub. Sort: email, name, organisation, status, enabled, sub, synced_at.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub list: PageArgs,
    /// Only users holding this role (repeat for any of several).
    #[arg(long = "role", value_name = "ROLE")]
    pub roles: Vec<RoleRef>,
    /// Only users holding no role at all.
    #[arg(long)]
    pub no_roles: bool,
    /// true or false.
    #[arg(long)]
    pub enabled: Option<bool>,
    /// Directory status, e.g. CONFIRMED, FORCE_CHANGE_PASSWORD.
    #[arg(long)]
    pub status: Option<String>,
}

#[derive(Debug, Args)]
pub struct UserArg {
    /// The user's sub (UUID) or email.
    #[arg(long, value_name = "SUB_OR_EMAIL")]
    pub user: String,
}

/// A user and the version the change is conditional on.
#[derive(Debug, Args)]
pub struct GuardedUserArg {
    /// The user's sub (UUID) or email.
    #[arg(long, value_name = "SUB_OR_EMAIL")]
    pub user: String,
    /// Apply only while the user is at this version (the `version` of `users show --output
    /// json`); a change by anyone since refuses with exit 3, naming it, and writes nothing.
    #[arg(long, value_name = "VERSION")]
    pub expect_version: Option<Version>,
}

#[derive(Debug, Args)]
pub struct SetRolesArgs {
    /// The user's sub (UUID) or email.
    #[arg(long, value_name = "SUB_OR_EMAIL")]
    pub user: String,
    /// The full set: admin, researcher or viewer (repeat for several).
    #[arg(
        long = "role",
        value_name = "ROLE",
        required_unless_present_any = ["none", "add_roles", "remove_roles"]
    )]
    pub roles: Vec<RoleRef>,
    /// Remove every role (explicit, so an empty list is never an accident).
    #[arg(long, conflicts_with = "roles")]
    pub none: bool,
    /// Grant this role, keeping the others (repeat for several).
    #[arg(long = "add-role", value_name = "ROLE", conflicts_with_all = ["roles", "none"])]
    pub add_roles: Vec<RoleRef>,
    /// Revoke this role, keeping the others (repeat for several).
    #[arg(long = "remove-role", value_name = "ROLE", conflicts_with_all = ["roles", "none"])]
    pub remove_roles: Vec<RoleRef>,
    /// Apply only while the user is at this version (the `version` of `users show --output
    /// json`); a change by anyone since refuses with exit 3, naming it, and writes nothing.
    #[arg(long, value_name = "VERSION")]
    pub expect_version: Option<Version>,
}

#[derive(Debug, Args)]
pub struct EditProfileArgs {
    #[arg(long, value_name = "SUB_OR_EMAIL")]
    pub user: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub organisation: String,
    /// Apply only while the user is at this version (the `version` of `users show --output
    /// json`); a change by anyone since refuses with exit 3, naming it, and writes nothing.
    #[arg(long, value_name = "VERSION")]
    pub expect_version: Option<Version>,
}

fn show(s: &str) -> String {
    DisplayText::new(s).into_string()
}

pub async fn run(ctx: &Context, cmd: UsersCmd) -> anyhow::Result<i32> {
    super::init_stderr_logging(&ctx.settings);
    let svc = ctx.services().await?;
    let actor = ctx.actor(&svc.db).await?;
    match cmd {
        UsersCmd::Register(a) => register(ctx, &svc, &actor, a).await,
        UsersCmd::List(a) => list(ctx, &svc, &actor, a).await,
        UsersCmd::Show(a) => {
            let id = svc.resolve_user(&actor, &a.user).await;
            let sub = match id {
                Ok(i) => i.sub,
                Err(e) => match a.user.parse() {
                    Ok(sub) => sub,
                    Err(_) => return Err(e.into()),
                },
            };
            let d = svc.user_detail(&actor, sub).await?;
            if ctx.output == Output::Json {
                print_json(&d)?;
            } else {
                outln!("sub           {}", d.sub)?;
                if let Some(i) = &d.identity {
                    outln!("email         {}", show(&i.email))?;
                    outln!(
                        "status        {} (enabled: {})",
                        show(i.status.as_str()),
                        i.enabled
                    )?;
                } else {
                    outln!("identity      (not in the directory)")?;
                }
                if let Some(p) = &d.profile {
                    outln!("name          {}", show(&p.name))?;
                    outln!("organisation  {}", show(&p.organisation))?;
                }
                outln!("roles         {}", show(&d.roles.join(", ")))?;
                for m in &d.mandates {
                    outln!(
                        "mandate       {} [{}]{}",
                        show(&m.mandate_name),
                        show(&m.roles.join(", ")),
                        if m.enabled { "" } else { " (disabled)" }
                    )?;
                }
                for r in &d.registrations {
                    outln!(
                        "registration  {} {} {}",
                        r.id,
                        show(&r.state.to_string()),
                        r.created_at
                    )?;
                }
                for a in &d.audit {
                    outln!(
                        "audit         {} {} via {}{}",
                        a.timestamp,
                        show(&a.action),
                        show(&a.via),
                        a.os_user
                            .as_deref()
                            .map(|u| format!(" ({})", show(u)))
                            .unwrap_or_default()
                    )?;
                }
            }
            Ok(0)
        }
        UsersCmd::SetRoles(a) => {
            let i = svc.resolve_user(&actor, &a.user).await?;
            let edit = if a.add_roles.is_empty() && a.remove_roles.is_empty() {
                RolesEdit::Replace(if a.none { Vec::new() } else { a.roles })
            } else {
                RolesEdit::Change {
                    add: a.add_roles,
                    remove: a.remove_roles,
                }
            };
            let saved = svc
                .change_roles(&actor, i.sub, &edit, a.expect_version)
                .await?;
            let set = saved.roles;
            result(
                ctx,
                &serde_json::json!({"sub": i.sub, "roles": set, "version": saved.version}),
                &format!(
                    "{} now holds [{}]",
                    show(&i.email),
                    set.iter().map(|r| r.key()).collect::<Vec<_>>().join(", ")
                ),
            )
        }
        UsersCmd::Disable(a) => enable(ctx, &svc, &actor, &a, false).await,
        UsersCmd::Enable(a) => enable(ctx, &svc, &actor, &a, true).await,
        UsersCmd::Delete(a) => {
            let sub = match a.user.parse() {
                Ok(sub) => sub,
                Err(_) => svc.resolve_user(&actor, &a.user).await?.sub,
            };
            let out = svc
                .delete_user_expecting(&actor, sub, a.expect_version)
                .await?;
            result(ctx, &out, &out.message)
        }
        UsersCmd::EditProfile(a) => {
            let i = svc.resolve_user(&actor, &a.user).await?;
            svc.edit_profile_expecting(&actor, i.sub, &a.name, &a.organisation, a.expect_version)
                .await?;
            result(
                ctx,
                &serde_json::json!({"sub": i.sub, "updated": true}),
                &format!("profile of {} updated", show(&i.email)),
            )
        }
        UsersCmd::ResendInvite(a) => {
            let i = svc.resolve_user(&actor, &a.user).await?;
            svc.resend_invite(&actor, i.sub).await?;
            result(
                ctx,
                &serde_json::json!({"sub": i.sub, "resent": true}),
                &format!("invitation sent again to {}", show(&i.email)),
            )
        }
        UsersCmd::Repair(a) => repair(ctx, &svc, &actor, a).await,
        UsersCmd::Drift(a) => super::drift::run(ctx, &svc, &actor, a).await,
    }
}

fn result<T: serde::Serialize>(ctx: &Context, v: &T, text: &str) -> anyhow::Result<i32> {
    if ctx.output == Output::Json {
        print_json(v)?;
    } else {
        outln!("{text}")?;
    }
    Ok(0)
}

async fn enable(
    ctx: &Context,
    svc: &Services,
    actor: &Actor,
    a: &GuardedUserArg,
    enabled: bool,
) -> anyhow::Result<i32> {
    let i = svc.resolve_user(actor, &a.user).await?;
    svc.set_enabled_expecting(actor, i.sub, enabled, a.expect_version)
        .await?;
    result(
        ctx,
        &serde_json::json!({"sub": i.sub, "enabled": enabled}),
        &format!(
            "{} {}",
            show(&i.email),
            if enabled { "enabled" } else { "disabled" }
        ),
    )
}

async fn register(
    ctx: &Context,
    svc: &Services,
    actor: &Actor,
    a: RegisterArgs,
) -> anyhow::Result<i32> {
    let out = svc
        .register_user(
            actor,
            &RegisterRequest {
                email: a.email,
                name: a.name,
                organisation: a.organisation,
                roles: a.roles,
                suppress_invite: a.suppress_invite,
            },
        )
        .await?;
    if ctx.output == Output::Json {
        print_json(&out)?;
    } else {
        outln!("{}", show(&out.message))?;
    }
    if out.state == RegistrationState::Complete {
        Ok(0)
    } else {
        eprintln!("hubdeck: {}", show(&out.message));
        Ok(1)
    }
}

async fn list(ctx: &Context, svc: &Services, actor: &Actor, a: ListArgs) -> anyhow::Result<i32> {
    let mut q = a.list.to_query()?;
    if !a.roles.is_empty() {
        q = q.filter("role", a.roles.iter().map(|r| r.key()));
    }
    if a.no_roles {
        q = q.filter("has_roles", ["false"]);
    }
    if let Some(e) = a.enabled {
        q = q.filter("enabled", [e.to_string()]);
    }
    if let Some(s) = a.status {
        q = q.filter("status", [s]);
    }
    let page = svc.list_users(actor, &q).await?;
    if ctx.output == Output::Json {
        print_json(&page)?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = page
        .items
        .iter()
        .map(|u| {
            vec![
                u.sub.to_string(),
                u.email.clone(),
                u.name.clone().unwrap_or_else(|| "-".into()),
                u.organisation.clone().unwrap_or_else(|| "-".into()),
                u.enabled.to_string(),
                u.status.clone(),
                u.roles.join(", "),
            ]
        })
        .collect();
    print_table(
        &[
            "SUB",
            "EMAIL",
            "NAME",
            "ORGANISATION",
            "ENABLED",
            "STATUS",
            "ROLES",
        ],
        &rows,
    )?;
    eprintln!("{}", page.range_label());
    Ok(0)
}

/// `hubdeck seed-users`: exit 0 unless a definitive failure stopped the seed.
pub async fn seed(ctx: &Context) -> anyhow::Result<i32> {
    super::init_stderr_logging(&ctx.settings);
    let svc = ctx.services().await?;
    let actor = ctx.actor(&svc.db).await?;
    let summary = svc.seed_users(&actor).await?;
    if ctx.output == Output::Json {
        print_json(&summary)?;
    } else {
        for l in &summary.lines {
            let what = match &l.outcome {
                SeedOutcome::Granted => format!("granted {}", show(&l.role.to_string())),
                SeedOutcome::AlreadyHadRoles => "already had roles".to_string(),
                SeedOutcome::Missing => "missing in the directory (skipped)".to_string(),
                SeedOutcome::Skipped(why) => format!("skipped: {}", show(why)),
            };
            outln!("{:<40}  {}", show(&l.email), what)?;
        }
        outln!("{}", summary.totals())?;
    }
    match &summary.stopped {
        Some(why) => {
            eprintln!("hubdeck: seed-users stopped: {}", show(why));
            Ok(1)
        }
        None => Ok(0),
    }
}
