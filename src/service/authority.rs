//! Fresh authority on reads. A mutation re-reads its operator's standing inside its own
//! transaction ([`super::actor::authorize`]); a read does the same before it answers, so an
//! operator demoted, disabled or deleted since signing in cannot go on listing users or
//! exporting what they may no longer see — the console's tabs follow at the next read.

use super::access::Area;
use super::actor::{Authority, fresh_authority, lacks};
use super::{Actor, ServiceResult, Services};
use crate::domain::PermissionRef;
use crate::store::Db;

/// The actor's authority now, read on `db` (for use cases that hold only a pool, such as
/// the trusts'), refused like [`Services::fresh_read`].
pub(crate) async fn fresh_read_on(
    db: &Db,
    actor: &Actor,
    need: Option<PermissionRef>,
    what: &str,
) -> ServiceResult<Authority> {
    if let Some(p) = need {
        // What the operator never held is refused before any query.
        actor.require(p, what)?;
    }
    let mut conn = db.acquire().await?;
    let now = fresh_authority(&mut conn, actor).await?;
    match need {
        Some(p) if !now.has(p) => Err(lacks(actor, p, what)),
        _ => Ok(now),
    }
}

/// [`fresh_read_on`] with the permission reading `area` needs.
pub(crate) async fn read_area_on(
    db: &Db,
    actor: &Actor,
    area: Area,
    what: &str,
) -> ServiceResult<Authority> {
    fresh_read_on(db, actor, area.read_permission(), what).await
}

impl Services {
    /// The actor's authority now (one read of their grants and directory standing), refused
    /// when their account is disabled or gone, or — with `need` — when they no longer hold it.
    pub(crate) async fn fresh_read(
        &self,
        actor: &Actor,
        need: Option<PermissionRef>,
        what: &str,
    ) -> ServiceResult<Authority> {
        fresh_read_on(&self.db, actor, need, what).await
    }

    /// [`Self::fresh_read`] with the permission reading `area` needs.
    pub(crate) async fn read_area(
        &self,
        actor: &Actor,
        area: Area,
        what: &str,
    ) -> ServiceResult<Authority> {
        self.fresh_read(actor, area.read_permission(), what).await
    }
}
