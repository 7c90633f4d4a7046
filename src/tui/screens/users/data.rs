//! The users screen's data: typed user rows, the list source, one user's detail and the
//! operations on users, over service functions.

use crate::domain::{DisplayText, Page, PageQuery, RoleRef, UserSub};
use crate::service::registration::RegisterRequest;
use crate::service::user_roles::RolesEdit;
use crate::service::versions::Version;
use crate::service::{Actor, Services};
use crate::tui::action::{Job, JobFuture, ListSource, OpOutcome, Operation, Progress};
use crate::tui::screens::{opt, yes_no};
use crate::tui::widgets::table::TableRow;

/// One user as the list shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct UserRow {
    pub sub: UserSub,
    pub email: String,
    pub name: Option<String>,
    pub organisation: Option<String>,
    /// Global role names.
    pub roles: Vec<String>,
    pub enabled: bool,
    /// The directory's account status.
    pub status: String,
    /// The version shown: confirmations and forms opened on this row carry it.
    pub version: Version,
}

/// Role names as keys ("admin, viewer").
fn role_keys(names: &[String]) -> DisplayText {
    DisplayText::new(
        &names
            .iter()
            .map(|n| n.to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(", "),
    )
}

impl TableRow for UserRow {
    fn key(&self) -> Option<String> {
        Some(self.sub.to_string())
    }

    fn cells(&self) -> Vec<DisplayText> {
        vec![
            DisplayText::new(&self.email),
            opt(&self.name),
            opt(&self.organisation),
            role_keys(&self.roles),
            yes_no(self.enabled),
            DisplayText::new(&self.status),
        ]
    }
}

/// The users list (the directory cache with profiles and grants).
#[derive(Debug)]
pub struct Users;

impl ListSource<UserRow> for Users {
    fn page(&self, s: Services, a: Actor, q: PageQuery) -> JobFuture<Page<UserRow>> {
        Box::pin(async move {
            let page = s.list_users(&a, &q).await?;
            Ok(page.map(|u| UserRow {
                sub: u.sub,
                email: u.email,
                name: u.name,
                organisation: u.organisation,
                roles: u.roles,
                enabled: u.enabled,
                status: u.status,
                version: Version(u.version),
            }))
        })
    }
    fn filter_values(
        &self,
        s: Services,
        a: Actor,
        column: String,
        q: PageQuery,
    ) -> JobFuture<Vec<String>> {
        Box::pin(async move { Ok(s.user_filter_values(&a, &column, &q).await?) })
    }
}

/// Label/value lines of one user's detail.
pub type DetailLines = Vec<(String, DisplayText)>;

/// Reads one user's detail (profile, grants, mandates, registrations, audit).
#[derive(Debug)]
pub struct LoadDetail(pub UserSub);

impl Job for LoadDetail {
    type Out = DetailLines;
    fn run(self, s: Services, a: Actor) -> JobFuture<DetailLines> {
        Box::pin(async move { detail(&s, &a, self.0).await })
    }
}

async fn detail(s: &Services, a: &Actor, sub: UserSub) -> anyhow::Result<DetailLines> {
    let d = s.user_detail(a, sub).await?;
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

/// What the users screen changes.
#[derive(Clone, Debug)]
pub enum UserOp {
    Register {
        email: String,
        name: String,
        organisation: String,
        roles: Vec<String>,
        /// Create the identity without the directory's invitation email.
        suppress_invite: bool,
    },
    /// What the operator ticked and unticked against the roles the form showed; every
    /// other grant stays as it is when the change is written.
    SetRoles {
        sub: UserSub,
        add: Vec<String>,
        remove: Vec<String>,
    },
    SetEnabled {
        sub: UserSub,
        email: String,
        enabled: bool,
        version: Option<Version>,
    },
    ResendInvite {
        sub: UserSub,
        email: String,
    },
    EditProfile {
        sub: UserSub,
        name: String,
        organisation: String,
        version: Option<Version>,
    },
    Delete {
        sub: UserSub,
        version: Option<Version>,
    },
}

fn roles_of(names: &[String]) -> anyhow::Result<Vec<RoleRef>> {
    Ok(names
        .iter()
        .map(|n| RoleRef::parse(n))
        .collect::<Result<Vec<_>, _>>()?)
}

impl Operation for UserOp {
    fn describe(&self) -> &'static str {
        match self {
            UserOp::Register { .. } => "register user",
            UserOp::SetRoles { .. } => "set user roles",
            UserOp::SetEnabled { enabled: true, .. } => "enable user",
            UserOp::SetEnabled { enabled: false, .. } => "disable user",
            UserOp::ResendInvite { .. } => "resend invite",
            UserOp::EditProfile { .. } => "edit profile",
            UserOp::Delete { .. } => "delete user",
        }
    }

    fn subject(&self) -> Option<String> {
        match self {
            UserOp::Register { .. } => None,
            UserOp::SetRoles { sub, .. }
            | UserOp::SetEnabled { sub, .. }
            | UserOp::ResendInvite { sub, .. }
            | UserOp::EditProfile { sub, .. }
            | UserOp::Delete { sub, .. } => Some(sub.to_string()),
        }
    }

    fn sets_roles_of(&self) -> Option<&UserSub> {
        match self {
            UserOp::SetRoles { sub, .. } => Some(sub),
            _ => None,
        }
    }

    fn run(self: Box<Self>, s: Services, a: Actor, _progress: Progress) -> JobFuture<OpOutcome> {
        Box::pin(async move {
            Ok(match *self {
                UserOp::Register {
                    email,
                    name,
                    organisation,
                    roles,
                    suppress_invite,
                } => {
                    let req = RegisterRequest {
                        email,
                        name,
                        organisation,
                        roles: roles_of(&roles)?,
                        suppress_invite,
                    };
                    let out = s.register_user(&a, &req).await?;
                    OpOutcome::toast(DisplayText::with_max(&out.message, 120).into_string())
                }
                UserOp::SetRoles { sub, add, remove } => {
                    let edit = RolesEdit::Change {
                        add: roles_of(&add)?,
                        remove: roles_of(&remove)?,
                    };
                    s.change_roles(&a, sub, &edit, None).await?;
                    OpOutcome::toast("roles updated")
                }
                UserOp::SetEnabled {
                    sub,
                    email,
                    enabled,
                    version,
                } => {
                    s.set_enabled_expecting(&a, sub, enabled, version).await?;
                    OpOutcome::toast(format!(
                        "user {} {}",
                        DisplayText::with_max(&email, 80),
                        if enabled { "enabled" } else { "disabled" }
                    ))
                }
                UserOp::ResendInvite { sub, email } => {
                    s.resend_invite(&a, sub).await?;
                    OpOutcome::toast(format!(
                        "invitation resent to {}",
                        DisplayText::with_max(&email, 80)
                    ))
                }
                UserOp::EditProfile {
                    sub,
                    name,
                    organisation,
                    version,
                } => {
                    s.edit_profile_expecting(&a, sub, &name, &organisation, version)
                        .await?;
                    OpOutcome::toast("profile updated")
                }
                UserOp::Delete { sub, version } => {
                    let out = s.delete_user_expecting(&a, sub, version).await?;
                    OpOutcome::toast(DisplayText::with_max(&out.message, 120).into_string())
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
        let u = UserRow {
            sub: UserSub(uuid::Uuid::from_u128(1)),
            email: "alice@acme.example".into(),
            name: Some("Alice Admin".into()),
            organisation: None,
            roles: vec!["ADMIN".into(), "viewer".into()],
            enabled: false,
            status: "CONFIRMED".into(),
            version: Version(0),
        };
        assert_eq!(
            u.texts(),
            [
                "alice@acme.example",
                "Alice Admin",
                "",
                "admin, viewer",
                "no",
                "CONFIRMED"
            ]
        );
    }
}
