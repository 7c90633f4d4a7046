//! References typed on the command line for destructive commands. A trust is named by its id,
//! code or name and a mandate by its id or name; resolving in a fixed order ("id, then code,
//! then name") lets `trusts delete nhs-a` delete the trust whose *code* is NHS-A when the
//! operator meant the one *named* nhs-a. So every field is tried, a reference that matches
//! different records through different fields is refused naming each match, and an explicit
//! form (`id:…`, `code:…`, `name:…`) picks one field.

use super::access::Area;
use super::trusts::Trusts;
use super::{Actor, ServiceError, ServiceResult, Services};
use crate::domain::trust::{Trust, TrustCode};
use crate::domain::{DisplayText, MandateId, PageQuery, TrustId, ValidationError};
use crate::store::trusts as store;

/// Which field a reference names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefField {
    Id,
    Code,
    Name,
}

impl RefField {
    fn as_str(self) -> &'static str {
        match self {
            RefField::Id => "id",
            RefField::Code => "code",
            RefField::Name => "name",
        }
    }
}

/// `id:…`, `code:…` or `name:…` → that field alone; anything else → every field.
pub fn split_reference(reference: &str) -> (Option<RefField>, &str) {
    let r = reference.trim();
    for (prefix, field) in [
        ("id:", RefField::Id),
        ("code:", RefField::Code),
        ("name:", RefField::Name),
    ] {
        if let Some(rest) = r.strip_prefix(prefix) {
            return (Some(field), rest.trim());
        }
    }
    (None, r)
}

/// One record per distinct id, with the fields it matched through; more than one record is
/// refused, naming each.
fn one<T, K: PartialEq + std::fmt::Display>(
    kind: &str,
    reference: &str,
    found: Vec<(RefField, T)>,
    key: impl Fn(&T) -> K,
    label: impl Fn(&T) -> String,
) -> ServiceResult<Option<T>> {
    let mut distinct: Vec<(Vec<RefField>, T)> = Vec::new();
    for (field, t) in found {
        match distinct.iter_mut().find(|(_, d)| key(d) == key(&t)) {
            Some((fields, _)) => fields.push(field),
            None => distinct.push((vec![field], t)),
        }
    }
    if distinct.len() > 1 {
        let which: Vec<String> = distinct
            .iter()
            .map(|(fields, t)| {
                let by: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
                let label = label(t);
                let label = if label.is_empty() {
                    label
                } else {
                    format!("{label} ")
                };
                format!(
                    "{} matches the {kind} {label}(id {})",
                    by.join(" and "),
                    key(t)
                )
            })
            .collect();
        return Err(ValidationError::Invalid {
            field: "reference",
            message: format!(
                "{} names more than one {kind}: {}; say which with id:…, code:… or name:…",
                DisplayText::new(reference),
                which.join("; ")
            ),
        }
        .into());
    }
    Ok(distinct.pop().map(|(_, t)| t))
}

impl Trusts {
    /// The one trust `reference` names (id, code or name — or `id:`/`code:`/`name:` for one
    /// field); refuses a reference matching different trusts through different fields.
    pub async fn resolve_unambiguous(
        &self,
        actor: &Actor,
        reference: &str,
    ) -> ServiceResult<Trust> {
        crate::service::authority::read_area_on(&self.db, actor, Area::Trusts, "viewing a trust")
            .await?;
        let (only, r) = split_reference(reference);
        let wants = |f: RefField| only.is_none_or(|o| o == f);
        let mut found = Vec::new();
        if wants(RefField::Id)
            && let Ok(id) = r.parse::<TrustId>()
            && let Some(t) = store::get(&self.db, id).await?
        {
            found.push((RefField::Id, t));
        }
        if wants(RefField::Code)
            && let Ok(code) = TrustCode::parse(r)
            && let Some(t) = store::find_by_code(&self.db, code.as_str()).await?
        {
            found.push((RefField::Code, t));
        }
        if wants(RefField::Name)
            && let Some(t) = store::find_by_name(&self.db, r).await?
        {
            found.push((RefField::Name, t));
        }
        let label = |t: &Trust| {
            format!(
                "{} ({})",
                DisplayText::new(&t.name),
                DisplayText::new(&t.code)
            )
        };
        one("trust", r, found, |t| t.id, label)?.ok_or_else(|| {
            ServiceError::NotFound(format!(
                "no trust with {} {:?}",
                only.map_or("id, code or name", RefField::as_str),
                DisplayText::new(r).into_string()
            ))
        })
    }
}

impl Services {
    /// The one mandate `reference` names (its id or exact name, live or — for a system admin —
    /// soft-deleted; `id:`/`name:` for one field); refuses a reference that is one mandate's
    /// id and another's name, or the name of several.
    pub async fn resolve_mandate_unambiguous(
        &self,
        actor: &Actor,
        reference: &str,
    ) -> ServiceResult<MandateId> {
        let (only, r) = split_reference(reference);
        if only == Some(RefField::Code) {
            return Err(ValidationError::Invalid {
                field: "reference",
                message: "a mandate has no code; use id:… or name:…".into(),
            }
            .into());
        }
        let mut found: Vec<(RefField, (MandateId, String))> = Vec::new();
        if only.is_none_or(|o| o == RefField::Id)
            && let Ok(id) = r.parse::<MandateId>()
        {
            // A well-formed id that names no mandate still goes to the use case, which says so
            // (and a soft-deleted one may be hidden from this actor's lists).
            found.push((RefField::Id, (id, String::new())));
        }
        if only.is_none_or(|o| o == RefField::Name) {
            let q = PageQuery::new(1, 10).filter("name", [r.to_string()]);
            let mut named = self.list_mandates(actor, &q).await?.items;
            if named.is_empty() && actor.is_sysadmin() {
                named = self.list_deleted_mandates(actor, &q).await?.items;
            }
            for m in named {
                found.push((RefField::Name, (m.id, m.name)));
            }
        }
        let names = found.iter().filter(|(f, _)| *f == RefField::Name).count();
        if names > 1 {
            return Err(ServiceError::Conflict(format!(
                "several mandates are named {}; use id:…",
                DisplayText::new(r)
            )));
        }
        let label = |m: &(MandateId, String)| DisplayText::new(&m.1).into_string();
        one("mandate", r, found, |m| m.0, label)?
            .map(|m| m.0)
            .ok_or_else(|| {
                ServiceError::NotFound(format!("no mandate named {}", DisplayText::new(r)))
            })
    }
}
