//! Operator sign-in: email + password verified by the directory, the
//! NEW_PASSWORD_REQUIRED challenge, and the operator's permissions from their global grants.
//! MFA challenges (SOFTWARE_TOKEN_MFA, MFA_SETUP) are driven step by step through
//! [`super::mfa`]; [`Services::sign_in`] and [`Services::complete_new_password`] are the
//! password-only face of the same flow.

use super::mfa::SignInStep;
use super::{Operator, ServiceError, ServiceResult, Services};
use crate::directory::NewPasswordChallenge;
use crate::domain::Secret;

/// The result of a sign-in attempt.
#[derive(Debug)]
pub enum SignInOutcome {
    SignedIn(Operator),
    /// The directory wants a new password first (answer with
    /// [`Services::complete_new_password`]).
    NewPasswordRequired(NewPasswordChallenge),
}

/// The refusal of a caller that cannot answer an MFA challenge (use the [`super::mfa`] steps).
fn mfa_unsupported() -> ServiceError {
    ServiceError::Denied(
        "this account signs in with MFA (an authenticator code or its first-time setup); \
         answer it with the MFA sign-in steps"
            .into(),
    )
}

impl Services {
    /// After the directory authenticated `sub`: clear a stale disabled/gone mark on the cached
    /// identity, or cache the identity when the cache does not know it yet, so that fresh
    /// authority (`actor::fresh_authority`) can see a later disable or delete. Caching a missing
    /// identity is best effort (one strongly consistent read; a failure is logged).
    pub(super) async fn record_sign_in(&self, sub: crate::domain::UserSub) -> ServiceResult<()> {
        crate::store::users::mark_authenticated(&self.db, sub).await?;
        if crate::store::users::cached(&self.db, sub).await?.is_none() {
            match self.directory.find_by_sub(sub).await {
                Ok(identity) => {
                    crate::store::directory_cache::upsert(&self.db, &identity).await?;
                }
                Err(e) => tracing::warn!(%sub, "could not cache the signed-in identity: {e}"),
            }
        }
        Ok(())
    }

    /// Verifies an operator's email and password with the directory and loads their
    /// permissions. Wrong credentials and disabled accounts are refused by the directory. An
    /// MFA challenge is refused here: drive it with [`Services::begin_sign_in`] and its steps.
    pub async fn sign_in(&self, email: &str, password: &Secret) -> ServiceResult<SignInOutcome> {
        match self.begin_sign_in(email, password).await? {
            SignInStep::SignedIn(op) => Ok(SignInOutcome::SignedIn(op)),
            SignInStep::NewPasswordRequired(ch) => Ok(SignInOutcome::NewPasswordRequired(ch)),
            SignInStep::MfaCodeRequired(_) | SignInStep::MfaSetupRequired(_) => {
                Err(mfa_unsupported())
            }
        }
    }

    /// Answers a NEW_PASSWORD_REQUIRED challenge and signs the operator in (refused when the
    /// directory then asks for MFA: use [`Services::answer_new_password`]).
    pub async fn complete_new_password(
        &self,
        challenge: &NewPasswordChallenge,
        new_password: &Secret,
    ) -> ServiceResult<Operator> {
        match self.answer_new_password(challenge, new_password).await? {
            SignInStep::SignedIn(op) => Ok(op),
            _ => Err(mfa_unsupported()),
        }
    }
}
