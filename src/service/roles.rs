//! Mandate role resolution: the one rule that turns what an operator typed or picked (a role
//! label or id) into mandate role ids, for the CLI (`--role admin`) and the console's member
//! forms alike.
//!
//! The rule: an id is taken as is (the service checks it is assignable when it is used); a
//! label matches case-insensitively among the roles assignable in the mandate, and the
//! mandate's own role wins over a global template of the same label. Within one scope an exact
//! spelling wins over a different case; two candidates left at the same rank are ambiguous and
//! refused (use the id).

use super::{Actor, ServiceResult, Services};
use crate::domain::{DisplayText, MandateId, MandateRoleId, ValidationError};

pub use crate::store::members::MandateRole;

/// Resolves `inputs` (labels or ids) against `known`, the roles assignable in `mandate`.
/// Duplicates collapse; the order of first appearance is kept.
pub fn resolve_labels(
    known: &[MandateRole],
    mandate: MandateId,
    inputs: &[String],
) -> Result<Vec<MandateRoleId>, ValidationError> {
    let mut out: Vec<MandateRoleId> = Vec::with_capacity(inputs.len());
    for raw in inputs {
        let typed = raw.trim();
        let id = match typed.parse::<MandateRoleId>() {
            Ok(id) => id,
            Err(_) => resolve_one(known, mandate, typed)?,
        };
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

fn resolve_one(
    known: &[MandateRole],
    mandate: MandateId,
    typed: &str,
) -> Result<MandateRoleId, ValidationError> {
    // Lower rank wins: own exact, own other case, global exact, global other case.
    let rank = |k: &MandateRole| -> Option<u8> {
        if !k.label.eq_ignore_ascii_case(typed) {
            return None;
        }
        let scope = match k.mandate_id {
            Some(m) if m == mandate => 0,
            None => 2,
            Some(_) => return None,
        };
        Some(scope + u8::from(k.label != typed))
    };
    let best = known.iter().filter_map(&rank).min();
    let Some(best) = best else {
        return Err(ValidationError::Invalid {
            field: "role",
            message: format!(
                "unknown role {} (known: {})",
                DisplayText::with_max(typed, 60),
                known
                    .iter()
                    .map(|k| DisplayText::with_max(&k.label, 40).into_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    };
    let winners: Vec<&MandateRole> = known.iter().filter(|k| rank(k) == Some(best)).collect();
    match winners.as_slice() {
        [one] => Ok(one.id),
        _ => Err(ValidationError::Invalid {
            field: "role",
            message: format!(
                "several roles are labelled {}; use the id ({})",
                DisplayText::with_max(typed, 60),
                winners
                    .iter()
                    .map(|k| k.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

impl Services {
    /// Role labels or ids → role ids assignable in `mandate` (see the module rule). Reads the
    /// mandate's assignable roles once; requires a member manager of the mandate.
    pub async fn resolve_member_roles(
        &self,
        actor: &Actor,
        mandate: MandateId,
        inputs: &[String],
    ) -> ServiceResult<Vec<MandateRoleId>> {
        if inputs
            .iter()
            .all(|r| r.trim().parse::<MandateRoleId>().is_ok())
        {
            return Ok(resolve_labels(&[], mandate, inputs)?);
        }
        let known = self.mandate_roles(actor, mandate).await?;
        Ok(resolve_labels(&known, mandate, inputs)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(label: &str, mandate: Option<MandateId>) -> MandateRole {
        MandateRole {
            id: MandateRoleId::from(uuid::Uuid::new_v4()),
            label: label.into(),
            description: None,
            mandate_id: mandate,
            feature_instance_id: None,
        }
    }

    fn one(
        known: &[MandateRole],
        m: MandateId,
        typed: &str,
    ) -> Result<MandateRoleId, ValidationError> {
        resolve_labels(known, m, &[typed.to_string()]).map(|v| v[0])
    }

    #[test]
    fn the_mandates_own_role_wins_over_a_global_template() {
        let m = MandateId::from(uuid::Uuid::new_v4());
        let global = role("admin", None);
        let own = role("Admin", Some(m));
        let viewer = role("viewer", None);
        let known = vec![global.clone(), own.clone(), viewer.clone()];
        // Case-insensitive, and the mandate's own role wins whatever the order or the case.
        for typed in ["admin", "ADMIN", "Admin", " admin "] {
            assert_eq!(one(&known, m, typed).unwrap(), own.id, "{typed}");
        }
        let reversed: Vec<_> = known.iter().rev().cloned().collect();
        assert_eq!(one(&reversed, m, "admin").unwrap(), own.id);
        assert_eq!(one(&known, m, "Viewer").unwrap(), viewer.id);
        // Without an own role the global template is taken.
        assert_eq!(
            one(std::slice::from_ref(&global), m, "ADMIN").unwrap(),
            global.id
        );
    }

    #[test]
    fn ids_pass_unknown_and_ambiguous_labels_are_refused() {
        let m = MandateId::from(uuid::Uuid::new_v4());
        let other = MandateId::from(uuid::Uuid::new_v4());
        let a = role("ops", Some(m));
        let b = role("OPS", Some(m));
        let foreign = role("auditor", Some(other));
        let known = vec![a.clone(), b.clone(), foreign];
        // An exact spelling wins inside one scope ...
        assert_eq!(one(&known, m, "ops").unwrap(), a.id);
        assert_eq!(one(&known, m, "OPS").unwrap(), b.id);
        // ... but two other-case candidates at the same rank are ambiguous.
        let e = one(&known, m, "Ops").unwrap_err().to_string();
        assert!(e.contains("use the id"), "{e}");
        // Another mandate's role is never offered.
        let e = one(&known, m, "auditor").unwrap_err().to_string();
        assert!(e.contains("unknown role"), "{e}");
        // An id is taken as is; duplicates collapse.
        let ids = resolve_labels(&known, m, &[a.id.to_string(), "ops".into()]).unwrap();
        assert_eq!(ids, vec![a.id]);
    }
}
