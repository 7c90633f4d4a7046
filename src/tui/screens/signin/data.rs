//! The sign-in screen's requests, one step each through the service's step-by-step sign-in
//! (`service::mfa`): the directory's password check, a new password when the directory demands
//! one, an authenticator code (SOFTWARE_TOKEN_MFA), and a first-time software-token setup
//! (MFA_SETUP: started at once, its secret and QR code shown, then verified with a code).

use std::sync::Arc;

use crate::directory::{MfaChallenge, NewPasswordChallenge};
use crate::domain::Secret;
use crate::service::mfa::{MfaSetup, SignInStep};
use crate::service::{ServiceResult, Services};
use crate::tui::action::{ErrorReport, SignInReply};

fn report(e: impl Into<anyhow::Error>) -> ErrorReport {
    ErrorReport::from_anyhow(&e.into())
}

/// A sign-in step as the screen's reply; an MFA_SETUP challenge starts the software token's
/// enrolment at once (the screen then shows its secret and QR code).
async fn step(s: &Services, r: ServiceResult<SignInStep>) -> Result<SignInReply, ErrorReport> {
    match r {
        Ok(SignInStep::SignedIn(op)) => Ok(SignInReply::SignedIn(op)),
        Ok(SignInStep::NewPasswordRequired(ch)) => Ok(SignInReply::NewPasswordRequired(ch)),
        Ok(SignInStep::MfaCodeRequired(ch)) => Ok(SignInReply::MfaCodeRequired(ch)),
        Ok(SignInStep::MfaSetupRequired(ch)) => s
            .start_mfa_setup(&ch)
            .await
            .map(|setup| SignInReply::MfaSetup(Arc::new(setup)))
            .map_err(report),
        Err(e) => Err(report(e)),
    }
}

/// Email + password, verified by the directory.
pub async fn sign_in(
    s: &Services,
    email: &str,
    password: &Secret,
) -> Result<SignInReply, ErrorReport> {
    step(s, s.begin_sign_in(email, password).await).await
}

/// Answers a NEW_PASSWORD_REQUIRED challenge.
pub async fn new_password(
    s: &Services,
    challenge: &NewPasswordChallenge,
    password: &Secret,
) -> Result<SignInReply, ErrorReport> {
    step(s, s.answer_new_password(challenge, password).await).await
}

/// Answers SOFTWARE_TOKEN_MFA (a wrong code is refused; the same challenge may be answered
/// again).
pub async fn mfa_code(
    s: &Services,
    challenge: &MfaChallenge,
    code: &Secret,
) -> Result<SignInReply, ErrorReport> {
    step(s, s.answer_mfa_code(challenge, code.expose()).await).await
}

/// Verifies a code from the app just set up (MFA_SETUP) and completes the sign-in.
pub async fn mfa_setup_code(
    s: &Services,
    setup: &MfaSetup,
    code: &Secret,
) -> Result<SignInReply, ErrorReport> {
    step(s, s.finish_mfa_setup(setup, code.expose()).await).await
}
