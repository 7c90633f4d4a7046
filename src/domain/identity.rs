//! An identity as the directory reports it: the one type the directory adapters return and
//! the `directory_user` cache (in `store`) keeps, so neither layer imports the other.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::UserSub;

/// Account status as the directory reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdentityStatus {
    /// Created with a temporary password; must set a new one at first sign-in.
    ForceChangePassword,
    Confirmed,
    ResetRequired,
    Unconfirmed,
    Other(String),
}

impl IdentityStatus {
    pub fn as_str(&self) -> &str {
        match self {
            Self::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
            Self::Confirmed => "CONFIRMED",
            Self::ResetRequired => "RESET_REQUIRED",
            Self::Unconfirmed => "UNCONFIRMED",
            Self::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "FORCE_CHANGE_PASSWORD" => Self::ForceChangePassword,
            "CONFIRMED" => Self::Confirmed,
            "RESET_REQUIRED" => Self::ResetRequired,
            "UNCONFIRMED" => Self::Unconfirmed,
            other => Self::Other(other.to_string()),
        }
    }
}

/// One identity in the directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub sub: UserSub,
    /// The directory username (hubdeck uses the email as username).
    pub username: String,
    pub email: String,
    pub enabled: bool,
    pub status: IdentityStatus,
    pub created_at: Option<DateTime<Utc>>,
    /// The registration id this identity was created for (the proof-of-authorship marker),
    /// when the directory holds one.
    #[serde(default)]
    pub registration_marker: Option<String>,
}
