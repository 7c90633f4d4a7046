//! The one failure classification of the saga and its proof of authorship.

use crate::directory::{DirectoryError, Identity};
use crate::store::registrations::Registration;

/// Which directory step failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Create,
    /// The existence check right after creation (AdminGetUser).
    ConfirmRead,
    Other,
}

/// The ONE failure classification of the saga.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureClass {
    /// 5xx, throttling, timeouts, connection errors, and a not-found on the existence check
    /// right after creation (propagation lag): may succeed later; never roll back.
    Transient,
    /// Every other 4xx, validation and constraint errors, anything unexpected.
    Definitive,
}

pub fn classify(err: &DirectoryError, step: Step) -> FailureClass {
    if err.is_transient() {
        return FailureClass::Transient;
    }
    match (err, step) {
        (DirectoryError::NotFound(_), Step::ConfirmRead) => FailureClass::Transient,
        _ => FailureClass::Definitive,
    }
}

/// Proof of authorship: `identity` was created by the saga of `journal` — it carries the
/// journal's id as its marker, or it is the sub the journal recorded from a create answer.
/// Nothing else (no timestamps, no email match) counts.
pub fn proven(identity: &Identity, journal: &Registration) -> bool {
    let id = journal.id.to_string();
    identity.registration_marker.as_deref() == Some(id.as_str())
        || journal.sub == Some(identity.sub)
}

/// What a strongly consistent read by username says about a registration's identity.
pub(super) enum Found {
    Ours(Identity),
    Stranger(Identity),
    Absent,
    Unknown(DirectoryError),
}

pub(super) fn evidence(
    journal: &Registration,
    found: &Identity,
    reason: &str,
    cause: Option<&str>,
) -> serde_json::Value {
    serde_json::json!({
        "reason": reason,
        "registration_id": journal.id,
        "email": journal.email,
        "recorded_sub": journal.sub,
        "found_sub": found.sub,
        "found_username": found.username,
        "found_status": found.status.as_str(),
        "found_enabled": found.enabled,
        "found_created_at": found.created_at,
        "found_marker": found.registration_marker,
        "call_started_at": journal.call_started_at,
        "call_finished_at": journal.call_finished_at,
        "cause": cause,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RegistrationId, UserSub};
    use chrono::Utc;
    fn journal(sub: Option<UserSub>) -> Registration {
        let now = Utc::now();
        Registration {
            id: RegistrationId::new_v4(),
            email: "bob@example.org".into(),
            name: "Bob".into(),
            organisation: "Org".into(),
            requested_roles: vec![],
            suppress_invite: true,
            state: "pending".into(),
            sub,
            identity_created: sub.is_some(),
            last_error: None,
            rollback_error: None,
            note: None,
            actor_user_id: None,
            via: "cli".into(),
            os_user: None,
            call_started_at: Some(now),
            call_finished_at: Some(now),
            evidence: None,
            created_at: now - chrono::TimeDelta::seconds(5),
            updated_at: now,
            version: 1,
        }
    }

    fn identity(marker: Option<String>) -> Identity {
        Identity {
            sub: UserSub::new_v4(),
            username: "bob@example.org".into(),
            email: "bob@example.org".into(),
            enabled: true,
            status: crate::directory::IdentityStatus::ForceChangePassword,
            // Created inside the call window: still no proof.
            created_at: Some(Utc::now()),
            registration_marker: marker,
        }
    }

    #[test]
    fn proof_is_the_marker_or_the_recorded_sub_never_timestamps_or_email() {
        let j = journal(None);
        assert!(proven(&identity(Some(j.id.to_string())), &j));
        assert!(
            !proven(&identity(None), &j),
            "same email, fitting time: not proof"
        );
        assert!(!proven(
            &identity(Some(RegistrationId::new_v4().to_string())),
            &j
        ));
        let i = identity(None);
        assert!(proven(&i, &journal(Some(i.sub))));
        assert!(!proven(&i, &journal(Some(UserSub::new_v4()))));
    }

    #[test]
    fn classification() {
        use DirectoryError::*;
        let t = FailureClass::Transient;
        let d = FailureClass::Definitive;
        for step in [Step::Create, Step::ConfirmRead, Step::Other] {
            assert_eq!(classify(&Unavailable("503".into()), step), t);
            assert_eq!(classify(&Throttled("429".into()), step), t);
            assert_eq!(classify(&Rejected("400".into()), step), d);
            assert_eq!(classify(&InvalidInput("bad".into()), step), d);
            assert_eq!(classify(&AlreadyExists("x".into()), step), d);
            assert_eq!(classify(&NotAuthorized("x".into()), step), d);
        }
        assert_eq!(classify(&NotFound("lag".into()), Step::ConfirmRead), t);
        assert_eq!(classify(&NotFound("x".into()), Step::Create), d);
        assert_eq!(classify(&NotFound("x".into()), Step::Other), d);
    }
}
