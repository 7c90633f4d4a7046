//! `hubdeck mandates list|show|create|update|delete|restore`, `hubdeck mandates members
//! list|add|remove|set-roles|enable|disable`, `hubdeck purge-mandates [--dry-run]`.

use crate::cli::output::outln;
use clap::{Args, Subcommand};
use serde_json::json;

use super::{Context, Output, page_args::PageArgs, print_json, target_args::MandateRef};
use crate::domain::{DisplayText, MandateId, Page, PageQuery};
use crate::service::mandates::{MandateInput, MandatePatch};
use crate::service::{Actor, ServiceError, Services, members::MemberRef, versions::Version};

#[derive(Debug, Subcommand)]
pub enum MandatesCmd {
    /// List mandates (SysAdmin: all; a mandate admin: theirs). Columns: name, label, enabled,
    /// created_at, deleted_at; filter also by plan (`--plan` or `--filter plan=TEAM`).
    List {
        #[command(flatten)]
        list: PageArgs,
        /// List soft-deleted mandates instead (restore candidates).
        #[arg(long, conflicts_with = "plan")]
        deleted: bool,
        /// Only mandates on this plan (repeatable), e.g. --plan TEAM.
        #[arg(long = "plan", value_name = "PLAN")]
        plan: Vec<String>,
    },
    /// The plan catalogue: key, name, trial days, member limit, price.
    Plans,
    /// Move a mandate to another plan (SysAdmin). Refused with exit 3 when the mandate has more
    /// members than the plan allows or is already on it; 2 for an unknown plan; 4 not found.
    Plan {
        /// Mandate id or exact name.
        mandate: String,
        /// Plan key (see `mandates plans`), e.g. TEAM.
        plan: String,
        /// Apply only while the mandate is at this version (the `version` of its JSON; a plan
        /// change moves it on): a change by anyone since refuses with exit 3, naming it.
        #[arg(long, value_name = "VERSION")]
        expect_version: Option<Version>,
    },
    /// Show one mandate: plan, subscription status, trial end, members against the plan's
    /// capacity, admins.
    Show {
        #[command(flatten)]
        mandate: MandateRef,
    },
    /// Create a mandate with billing settings and a subscription.
    Create {
        /// The mandate's name (unique, case-insensitive).
        #[arg(long)]
        name: String,
        /// A short label shown beside the name (optional).
        #[arg(long)]
        label: Option<String>,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
        /// Plan key (default `mandates.default_plan`, e.g. TRIAL_14D).
        #[arg(long)]
        plan: Option<String>,
    },
    /// Change name, label or enabled.
    Update {
        #[command(flatten)]
        mandate: MandateRef,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New label ("" clears it).
        #[arg(long)]
        label: Option<String>,
        /// Enable (true) or disable (false) the mandate.
        #[arg(long)]
        enabled: Option<bool>,
        /// Apply only while the mandate is at this version (the `version` of its JSON): a
        /// change by anyone since refuses with exit 3, naming it, and writes nothing.
        #[arg(long, value_name = "VERSION")]
        expect_version: Option<Version>,
    },
    /// Soft delete (restorable within the retention), or with --hard delete everything.
    Delete {
        /// Mandate id or exact name (refused when it is one mandate's id and another's name;
        /// say which with id:… or name:…).
        mandate: String,
        /// Irreversible: removes the mandate and every dependent row.
        #[arg(long, requires = "confirm_name")]
        hard: bool,
        /// The mandate's exact name (required with --hard).
        #[arg(long, value_name = "NAME")]
        confirm_name: Option<String>,
        /// Apply only while the mandate is at this version (the `version` of its JSON): a
        /// change by anyone since refuses with exit 3, naming it, and writes nothing.
        #[arg(long, value_name = "VERSION")]
        expect_version: Option<Version>,
    },
    /// Restore a soft-deleted mandate within the retention period.
    Restore {
        #[command(flatten)]
        mandate: MandateRef,
        /// Apply only while the mandate is at this version (the `version` of its JSON): a
        /// change by anyone since refuses with exit 3, naming it, and writes nothing.
        #[arg(long, value_name = "VERSION")]
        expect_version: Option<Version>,
    },
    /// Members of a mandate.
    #[command(subcommand)]
    Members(MembersCmd),
}

#[derive(Debug, Subcommand)]
pub enum MembersCmd {
    /// List members. Sort: username, email, full_name, roles, created_at, enabled, admin,
    /// status; filters: enabled, admin, status.
    List {
        /// Mandate id or exact name.
        mandate: String,
        #[command(flatten)]
        list: PageArgs,
    },
    /// Add an identity from the directory (email or sub) with roles.
    Add {
        /// Mandate id or exact name.
        mandate: String,
        /// Email or sub of the identity.
        user: String,
        /// Role label or id (repeatable), e.g. --role admin.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// Remove a member (never the last admin).
    Remove {
        /// Mandate id or exact name.
        mandate: String,
        /// The member's email or sub.
        user: String,
        /// Only while the membership is at this version (the `version` of `members list
        /// --output json`): a change by anyone since refuses with exit 3, naming it.
        #[arg(long, value_name = "VERSION")]
        expect_version: Option<Version>,
    },
    /// Replace a member's roles (never demoting the last admin).
    SetRoles {
        /// Mandate id or exact name.
        mandate: String,
        /// The member's email or sub.
        user: String,
        /// The full set of mandate roles (label or id; repeat for several).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Grant this role, keeping the others (repeat for several).
        #[arg(long = "add-role", value_name = "ROLE", conflicts_with = "roles")]
        add_roles: Vec<String>,
        /// Revoke this role, keeping the others (repeat for several).
        #[arg(long = "remove-role", value_name = "ROLE", conflicts_with = "roles")]
        remove_roles: Vec<String>,
    },
    /// Enable a membership.
    Enable {
        /// Mandate id or exact name.
        mandate: String,
        /// The member's email or sub.
        user: String,
    },
    /// Disable a membership (never the last admin).
    Disable {
        /// Mandate id or exact name.
        mandate: String,
        /// The member's email or sub.
        user: String,
    },
    /// One action over many members (emails from a file or stdin, or a search/filter), with a
    /// preview (--dry-run) and per-row refusals.
    Bulk(super::members_bulk::BulkArgs),
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Only list what would be purged.
    #[arg(long)]
    pub dry_run: bool,
}

/// Prints a table; every cell is untrusted text and goes through [`DisplayText`].
pub(crate) fn print_table(headers: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    super::output::print_table(headers, rows)
}

pub(crate) fn print_range<T>(page: &Page<T>) {
    eprintln!("{}", page.range_label());
}

/// A mandate by id, or by exact name.
pub(super) async fn resolve_mandate(
    svc: &Services,
    actor: &Actor,
    s: &str,
) -> anyhow::Result<MandateId> {
    if let Ok(id) = s.parse::<MandateId>() {
        return Ok(id);
    }
    let q = PageQuery::new(1, 2).filter("name", [s.to_string()]);
    let page = svc.list_mandates(actor, &q).await?;
    match page.items.as_slice() {
        [one] => Ok(one.id),
        [] => {
            let deleted = if actor.is_sysadmin() {
                svc.list_deleted_mandates(actor, &q).await?.items
            } else {
                Vec::new()
            };
            match deleted.as_slice() {
                [one] => Ok(one.id),
                _ => Err(ServiceError::NotFound(format!(
                    "no mandate named {}",
                    DisplayText::new(s)
                ))
                .into()),
            }
        }
        _ => Err(ServiceError::Conflict(format!(
            "several mandates are named {}; use the id",
            DisplayText::new(s)
        ))
        .into()),
    }
}

fn mandate_rows(items: &[crate::service::mandates::Mandate]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|m| {
            vec![
                m.id.to_string(),
                m.name.clone(),
                m.label.clone().unwrap_or_default(),
                m.enabled.to_string(),
                m.created_at.format("%Y-%m-%d %H:%M").to_string(),
                m.deleted_at
                    .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default(),
            ]
        })
        .collect()
}

/// Times are the database's, shown in UTC: the headers say so.
const MANDATE_HEADERS: [&str; 6] = [
    "ID",
    "NAME",
    "LABEL",
    "ENABLED",
    "CREATED (UTC)",
    "DELETED (UTC)",
];

pub async fn run(ctx: &Context, cmd: MandatesCmd) -> anyhow::Result<i32> {
    super::init_stderr_logging(&ctx.settings);
    let svc = ctx.services().await?;
    let actor = ctx.actor(&svc.db).await?;
    match cmd {
        MandatesCmd::List {
            list,
            deleted,
            plan,
        } => {
            let mut q = list.to_query()?;
            if !plan.is_empty() {
                q = q.filter("plan", plan.iter().map(|p| p.trim().to_ascii_uppercase()));
            }
            let page = if deleted {
                svc.list_deleted_mandates(&actor, &q).await?
            } else {
                svc.list_mandates(&actor, &q).await?
            };
            match ctx.output {
                Output::Json => print_json(&page)?,
                Output::Table => {
                    print_table(&MANDATE_HEADERS, &mandate_rows(&page.items))?;
                    print_range(&page);
                }
            }
        }
        MandatesCmd::Plans => return super::plans::catalogue(ctx, &svc, &actor).await,
        MandatesCmd::Plan {
            mandate,
            plan,
            expect_version,
        } => {
            let id = resolve_mandate(&svc, &actor, &mandate).await?;
            return super::plans::change(ctx, &svc, &actor, id, (&plan, expect_version)).await;
        }
        MandatesCmd::Show { mandate } => {
            let id = resolve_mandate(&svc, &actor, &mandate).await?;
            return super::plans::show(ctx, &svc, &actor, id).await;
        }
        MandatesCmd::Create {
            name,
            label,
            disabled,
            plan,
        } => {
            let input = MandateInput {
                name,
                label,
                enabled: !disabled,
            };
            let d = svc.create_mandate(&actor, &input, plan.as_deref()).await?;
            match ctx.output {
                Output::Json => print_json(&d)?,
                Output::Table => print_table(
                    &MANDATE_HEADERS,
                    &mandate_rows(std::slice::from_ref(&d.mandate)),
                )?,
            }
        }
        MandatesCmd::Update {
            mandate,
            name,
            label,
            enabled,
            expect_version,
        } => {
            let id = resolve_mandate(&svc, &actor, &mandate).await?;
            // Only the options given are written; the rest stay as they are at the write.
            let patch = MandatePatch {
                name,
                label: label.map(Some),
                enabled,
            };
            let m = svc.edit_mandate(&actor, id, &patch, expect_version).await?;
            match ctx.output {
                Output::Json => print_json(&m)?,
                Output::Table => print_table(&MANDATE_HEADERS, &mandate_rows(&[m]))?,
            }
        }
        MandatesCmd::Delete {
            mandate,
            hard,
            confirm_name,
            expect_version,
        } => {
            let id = svc.resolve_mandate_unambiguous(&actor, &mandate).await?;
            if hard {
                let confirm = confirm_name.unwrap_or_default();
                svc.hard_delete_mandate_expecting(&actor, id, &confirm, expect_version)
                    .await?;
            } else {
                svc.soft_delete_mandate_expecting(&actor, id, expect_version)
                    .await?;
            }
            let mode = if hard { "hard-deleted" } else { "soft-deleted" };
            match ctx.output {
                Output::Json => print_json(&json!({"id": id, "deleted": mode}))?,
                Output::Table => outln!("mandate {id} {mode}")?,
            }
        }
        MandatesCmd::Restore {
            mandate,
            expect_version,
        } => {
            let id = resolve_mandate(&svc, &actor, &mandate).await?;
            let m = svc
                .restore_mandate_expecting(&actor, id, expect_version)
                .await?;
            match ctx.output {
                Output::Json => print_json(&m)?,
                Output::Table => print_table(&MANDATE_HEADERS, &mandate_rows(&[m]))?,
            }
        }
        MandatesCmd::Members(cmd) => return members(ctx, &svc, &actor, cmd).await,
    }
    Ok(0)
}

async fn members(
    ctx: &Context,
    svc: &Services,
    actor: &Actor,
    cmd: MembersCmd,
) -> anyhow::Result<i32> {
    let done = |what: &str, mandate: MandateId, user: &str| -> anyhow::Result<()> {
        match ctx.output {
            Output::Json => print_json(&json!({"mandate": mandate, "user": user, "done": what})),
            Output::Table => {
                outln!("{what}: {} in mandate {mandate}", DisplayText::new(user))?;
                Ok(())
            }
        }
    };
    match cmd {
        MembersCmd::Bulk(a) => return super::members_bulk::run(ctx, svc, actor, a).await,
        MembersCmd::List { mandate, list } => {
            let id = resolve_mandate(svc, actor, &mandate).await?;
            let page = svc.list_members(actor, id, &list.to_query()?).await?;
            match ctx.output {
                Output::Json => print_json(&page)?,
                Output::Table => {
                    let rows: Vec<Vec<String>> = page
                        .items
                        .iter()
                        .map(|m| {
                            vec![
                                m.user_id.to_string(),
                                m.username.clone().unwrap_or_default(),
                                m.email.clone().unwrap_or_default(),
                                m.full_name.clone().unwrap_or_default(),
                                m.role_labels.join(", "),
                                m.enabled.to_string(),
                            ]
                        })
                        .collect();
                    print_table(
                        &["SUB", "USERNAME", "EMAIL", "FULL NAME", "ROLES", "ENABLED"],
                        &rows,
                    )?;
                    print_range(&page);
                }
            }
        }
        MembersCmd::Add {
            mandate,
            user,
            roles,
        } => {
            let id = resolve_mandate(svc, actor, &mandate).await?;
            let roles = svc.resolve_member_roles(actor, id, &roles).await?;
            let who = MemberRef::parse(&user)?;
            let ms = svc.add_member(actor, id, &who, &roles).await?;
            done("added", id, &ms.user_id.to_string())?;
        }
        MembersCmd::Remove {
            mandate,
            user,
            expect_version,
        } => {
            let id = resolve_mandate(svc, actor, &mandate).await?;
            let sub = svc.resolve_member(&MemberRef::parse(&user)?).await?;
            svc.remove_member_expecting(actor, id, sub, expect_version)
                .await?;
            done("removed", id, &sub.to_string())?;
        }
        MembersCmd::SetRoles {
            mandate,
            user,
            roles,
            add_roles,
            remove_roles,
        } => {
            let id = resolve_mandate(svc, actor, &mandate).await?;
            let sub = svc.resolve_member(&MemberRef::parse(&user)?).await?;
            if add_roles.is_empty() && remove_roles.is_empty() {
                let roles = svc.resolve_member_roles(actor, id, &roles).await?;
                svc.set_member_roles(actor, id, sub, &roles).await?;
            } else {
                let add = svc.resolve_member_roles(actor, id, &add_roles).await?;
                let remove = svc.resolve_member_roles(actor, id, &remove_roles).await?;
                svc.change_member_roles(actor, id, sub, &add, &remove, None)
                    .await?;
            }
            done("roles set", id, &sub.to_string())?;
        }
        MembersCmd::Enable { mandate, user } => {
            let id = resolve_mandate(svc, actor, &mandate).await?;
            let sub = svc.resolve_member(&MemberRef::parse(&user)?).await?;
            svc.set_member_enabled(actor, id, sub, true).await?;
            done("enabled", id, &sub.to_string())?;
        }
        MembersCmd::Disable { mandate, user } => {
            let id = resolve_mandate(svc, actor, &mandate).await?;
            let sub = svc.resolve_member(&MemberRef::parse(&user)?).await?;
            svc.set_member_enabled(actor, id, sub, false).await?;
            done("disabled", id, &sub.to_string())?;
        }
    }
    Ok(0)
}

pub async fn purge(ctx: &Context, a: PurgeArgs) -> anyhow::Result<i32> {
    super::init_stderr_logging(&ctx.settings);
    let svc = ctx.services().await?;
    let actor = ctx.actor(&svc.db).await?;
    let report = svc.purge_mandates(&actor, a.dry_run).await?;
    match ctx.output {
        Output::Json => print_json(&report)?,
        Output::Table => {
            print_table(&MANDATE_HEADERS, &mandate_rows(&report.mandates))?;
            let verb = if report.dry_run {
                "would purge"
            } else {
                "purged"
            };
            eprintln!(
                "{verb} {} mandate(s) deleted more than {} days ago",
                report.mandates.len(),
                report.retention_days
            );
        }
    }
    Ok(0)
}
