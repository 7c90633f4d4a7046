//! The sign-in screen's requests, one step each through the service's step-by-step sign-in
//! (`service::mfa`): the directory's password check, a new password when the directory demands
//! one, an authenticator code (SOFTWARE_TOKEN_MFA), and a first-time software-token setup
//! (MFA_SETUP: started at once, its secret and QR code shown, then verified with a code).

use std::sync::Arc;

use crate::directory::{MfaChallenge, NewPasswordChallenge};
use crate::domain::Secret;
use crate::service::mfa::{MfaSetup, SignInStep};
use crate::service::{ServiceResult, Services};
use crate::tui::action::{AnonymousJob, JobFuture, SignInReply};

/// A sign-in step as the screen's reply; an MFA_SETUP challenge starts the software token's
/// enrolment at once (the screen then shows its secret and QR code).
async fn step(s: &Services, r: ServiceResult<SignInStep>) -> anyhow::Result<SignInReply> {
    Ok(match r? {
        SignInStep::SignedIn(op) => SignInReply::SignedIn(op),
        SignInStep::NewPasswordRequired(ch) => SignInReply::NewPasswordRequired(ch),
        SignInStep::MfaCodeRequired(ch) => SignInReply::MfaCodeRequired(ch),
        SignInStep::MfaSetupRequired(ch) => {
            SignInReply::MfaSetup(Arc::new(s.start_mfa_setup(&ch).await?))
        }
    })
}

/// One step of the sign-in, run before anyone is signed in.
#[derive(Debug)]
pub enum SignInJob {
    /// Email + password, verified by the directory.
    Password { email: String, password: Secret },
    /// Answers a NEW_PASSWORD_REQUIRED challenge.
    NewPassword {
        challenge: NewPasswordChallenge,
        password: Secret,
    },
    /// Answers SOFTWARE_TOKEN_MFA (a wrong code is refused; the same challenge may be
    /// answered again).
    MfaCode {
        challenge: MfaChallenge,
        code: Secret,
    },
    /// Verifies a code from the app just set up (MFA_SETUP) and completes the sign-in.
    MfaSetupCode { setup: Arc<MfaSetup>, code: Secret },
}

impl AnonymousJob for SignInJob {
    type Out = SignInReply;
    fn run(self, s: Services) -> JobFuture<SignInReply> {
        Box::pin(async move {
            let r = match &self {
                SignInJob::Password { email, password } => s.begin_sign_in(email, password).await,
                SignInJob::NewPassword {
                    challenge,
                    password,
                } => s.answer_new_password(challenge, password).await,
                SignInJob::MfaCode { challenge, code } => {
                    s.answer_mfa_code(challenge, code.expose()).await
                }
                SignInJob::MfaSetupCode { setup, code } => {
                    s.finish_mfa_setup(setup, code.expose()).await
                }
            };
            step(&s, r).await
        })
    }
}
