//! The sign-in screen's requests: the directory's password check (and a new password when
//! the directory demands one), through the session service.

use crate::directory::NewPasswordChallenge;
use crate::domain::Secret;
use crate::service::Services;
use crate::service::session::SignInOutcome;
use crate::tui::action::{ErrorReport, SignInReply};

fn report(e: impl Into<anyhow::Error>) -> ErrorReport {
    ErrorReport::from_anyhow(&e.into())
}

/// Email + password, verified by the directory.
pub async fn sign_in(
    s: &Services,
    email: &str,
    password: &Secret,
) -> Result<SignInReply, ErrorReport> {
    match s.sign_in(email, password).await {
        Ok(SignInOutcome::SignedIn(op)) => Ok(SignInReply::SignedIn(op)),
        Ok(SignInOutcome::NewPasswordRequired(ch)) => Ok(SignInReply::NewPasswordRequired(ch)),
        Err(e) => Err(report(e)),
    }
}

/// Answers a NEW_PASSWORD_REQUIRED challenge.
pub async fn new_password(
    s: &Services,
    challenge: &NewPasswordChallenge,
    password: &Secret,
) -> Result<SignInReply, ErrorReport> {
    s.complete_new_password(challenge, password)
        .await
        .map(SignInReply::SignedIn)
        .map_err(report)
}
