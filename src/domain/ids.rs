//! Identifier newtypes over UUID, so a mandate id can never be passed where a trust id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random (v4) id.
            pub fn new_v4() -> Self {
                Self(Uuid::new_v4())
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::domain::ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim())
                    .map(Self)
                    .map_err(|_| crate::domain::ValidationError::InvalidId {
                        kind: stringify!($name),
                        value: crate::domain::DisplayText::new(s).into_string(),
                    })
            }
        }
    };
}

id_type!(
    /// A directory identity's `sub` (Cognito subject, UUID v4).
    UserSub
);
id_type!(
    /// `mandate.id`
    MandateId
);
id_type!(
    /// `trust.id`
    TrustId
);
id_type!(
    /// `registration.id` (a user-registration saga)
    RegistrationId
);
id_type!(
    /// `user_mandate.id` (one membership)
    MembershipId
);
id_type!(
    /// `mandate_role.id`
    MandateRoleId
);
