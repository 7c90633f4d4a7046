//! The record a command acts on, named either way: `hubdeck users set-roles alice@x.example` or
//! `--user alice@x.example`, `hubdeck mandates update Acme` or `--mandate Acme`. Every command
//! taking one user or one mandate accepts both, so no operator has to remember which is which.

use clap::Args;

/// One user: a positional SUB_OR_EMAIL or `--user SUB_OR_EMAIL` (exactly one of them).
#[derive(Debug, Args)]
pub struct UserRef {
    /// The user's sub (UUID) or email (or give it with --user).
    #[arg(
        value_name = "SUB_OR_EMAIL",
        required_unless_present = "user",
        conflicts_with = "user"
    )]
    user_arg: Option<String>,
    /// The user's sub (UUID) or email.
    #[arg(long, value_name = "SUB_OR_EMAIL")]
    user: Option<String>,
}

impl std::ops::Deref for UserRef {
    type Target = str;
    fn deref(&self) -> &str {
        self.user
            .as_deref()
            .or(self.user_arg.as_deref())
            .unwrap_or("")
    }
}

/// One mandate: a positional id or exact name, or `--mandate` (exactly one of them).
#[derive(Debug, Args)]
pub struct MandateRef {
    /// Mandate id or exact name (or give it with --mandate).
    #[arg(
        value_name = "MANDATE",
        required_unless_present = "mandate",
        conflicts_with = "mandate"
    )]
    mandate_arg: Option<String>,
    /// Mandate id or exact name.
    #[arg(long, value_name = "MANDATE")]
    mandate: Option<String>,
}

impl std::ops::Deref for MandateRef {
    type Target = str;
    fn deref(&self) -> &str {
        self.mandate
            .as_deref()
            .or(self.mandate_arg.as_deref())
            .unwrap_or("")
    }
}
