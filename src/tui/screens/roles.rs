//! The reads behind forms shared by the users and members screens: the choices of a Roles
//! form, and the user picker's search of the directory cache.

use crate::domain::{DisplayText, MandateId, PageQuery, RoleRef, UserSub};
use crate::service::{Actor, Services};
use crate::tui::action::{Job, JobFuture, Row};

/// Whose roles a Roles form edits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleTarget {
    /// A user's global grants.
    User { sub: UserSub },
    /// A mandate membership (`user_sub` None: a new member, nothing held yet).
    Member {
        mandate_id: MandateId,
        user_sub: Option<UserSub>,
    },
}

/// What a Roles form offers, read through the service: every choice as (value, label) and
/// the values currently held (ticked when the form opens).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleChoices {
    pub options: Vec<(String, String)>,
    pub held: Vec<String>,
}

/// Reads the [`RoleChoices`] of a target.
#[derive(Debug)]
pub struct LoadRoleChoices(pub RoleTarget);

impl Job for LoadRoleChoices {
    type Out = RoleChoices;
    fn run(self, s: Services, a: Actor) -> JobFuture<RoleChoices> {
        Box::pin(async move { role_choices(&s, &a, self.0).await })
    }
}

async fn role_choices(s: &Services, a: &Actor, target: RoleTarget) -> anyhow::Result<RoleChoices> {
    match target {
        RoleTarget::User { sub } => {
            let held = s.user_roles(a, sub).await?;
            Ok(RoleChoices {
                options: RoleRef::ALL
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
            let c = s.member_role_choices(a, mandate_id, user_sub).await?;
            let label = |r: &crate::service::roles::MandateRole| {
                let l = DisplayText::with_max(&r.label, 40).into_string();
                match r.mandate_id {
                    None => l,
                    Some(m) if m == mandate_id => format!("{l} (this mandate)"),
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

/// The user picker's search: the first five users matching, as (sub, [email, name]) rows.
#[derive(Debug)]
pub struct PickUsers(pub String);

impl Job for PickUsers {
    type Out = Vec<Row>;
    fn run(self, s: Services, a: Actor) -> JobFuture<Vec<Row>> {
        Box::pin(async move {
            let q = PageQuery::new(1, 5).search(self.0);
            let page = s.list_users(&a, &q).await?;
            let rows: Vec<Row> = page
                .items
                .into_iter()
                .map(|u| {
                    Row::new(
                        u.sub.to_string(),
                        [DisplayText::new(&u.email), super::opt(&u.name)],
                    )
                })
                .collect();
            Ok(rows)
        })
    }
}
