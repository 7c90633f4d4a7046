//! Resolving a bulk target (ids, emails, or "all matching") to membership ids, outside any
//! transaction; names that are not members become refused rows.

use std::collections::{BTreeMap, BTreeSet};

use super::{BULK_MAX, BulkRow, BulkTarget, RowOutcome};
use crate::domain::page::{Position, Want};
use crate::domain::{DisplayText, Email, MandateId, MembershipId, PageQuery, ValidationError};
use crate::service::{ServiceError, ServiceResult, Services};
use crate::store::bulk as store;
use crate::store::members as members_store;

/// The target resolved to membership ids (outside any transaction), plus rows already refused.
pub(super) struct Resolved {
    pub(super) ids: Vec<MembershipId>,
    pub(super) inputs: BTreeMap<MembershipId, String>,
    pub(super) unresolved: Vec<BulkRow>,
}

pub(super) fn refused_input(input: &str, reason: String) -> BulkRow {
    BulkRow {
        input: Some(DisplayText::new(input).into_string()),
        membership_id: None,
        user_id: None,
        email: None,
        outcome: RowOutcome::Refused,
        reason: Some(reason),
        roles_before: Vec::new(),
        roles_after: Vec::new(),
        enabled_before: None,
        enabled_after: None,
        removed: false,
    }
}

pub(super) fn too_many(n: usize) -> ServiceError {
    ValidationError::Invalid {
        field: "bulk",
        message: format!("{n} memberships: one bulk action takes at most {BULK_MAX}; narrow it"),
    }
    .into()
}
impl Services {
    pub(super) async fn bulk_resolve(
        &self,
        mandate: MandateId,
        target: &BulkTarget,
    ) -> ServiceResult<Resolved> {
        let mut out = Resolved {
            ids: Vec::new(),
            inputs: BTreeMap::new(),
            unresolved: Vec::new(),
        };
        match target {
            BulkTarget::Memberships(ids) => out.ids = ids.clone(),
            BulkTarget::Emails(lines) => {
                if lines.len() > BULK_MAX {
                    return Err(too_many(lines.len()));
                }
                let mut valid = Vec::new();
                for line in lines {
                    match Email::parse(line) {
                        Ok(e) => valid.push((line.clone(), e.as_str().to_lowercase())),
                        Err(e) => out.unresolved.push(refused_input(line, e.to_string())),
                    }
                }
                let emails: Vec<String> = valid.iter().map(|(_, e)| e.clone()).collect();
                let found: BTreeMap<String, MembershipId> =
                    store::ids_by_email(&self.db, mandate, &emails)
                        .await?
                        .into_iter()
                        .collect();
                let mut seen = BTreeSet::new();
                for (line, email) in valid {
                    match found.get(&email) {
                        Some(id) if seen.insert(*id) => {
                            out.ids.push(*id);
                            out.inputs.insert(*id, line);
                        }
                        Some(_) => out
                            .unresolved
                            .push(refused_input(&line, "listed twice".into())),
                        None => out
                            .unresolved
                            .push(refused_input(&line, "not a member of this mandate".into())),
                    }
                }
            }
            BulkTarget::Matching(q) => {
                let mut page_q = PageQuery {
                    page: 1,
                    page_size: crate::domain::page::MAX_PAGE_SIZE,
                    search: q.search.clone(),
                    filters: q.filters.clone(),
                    sort: Vec::new(),
                    position: Position::Offset,
                    want: Want::Rows,
                };
                loop {
                    let page = members_store::list(&self.db, mandate, &page_q).await?;
                    out.ids.extend(page.items.iter().map(|m| m.membership_id));
                    if out.ids.len() > BULK_MAX {
                        return Err(too_many(out.ids.len()));
                    }
                    match (page.nav.at_end, page.nav.last.clone()) {
                        (false, Some(last)) if !page.items.is_empty() => {
                            page_q = page_q.at(Position::After(last));
                        }
                        _ => break,
                    }
                }
            }
        }
        out.ids.sort();
        out.ids.dedup();
        if out.ids.len() > BULK_MAX {
            return Err(too_many(out.ids.len()));
        }
        Ok(out)
    }
}
