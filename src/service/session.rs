//! Operator sign-in (SPEC §4): email + password verified by the directory, the
//! NEW_PASSWORD_REQUIRED challenge, and the operator's permissions from their global grants.

use super::{Operator, ServiceError, ServiceResult, Services, actor::load_operator};
use crate::directory::{AuthOutcome, NewPasswordChallenge};
use crate::domain::{Email, Secret};

/// The result of a sign-in attempt.
#[derive(Debug)]
pub enum SignInOutcome {
    SignedIn(Operator),
    /// The directory wants a new password first (answer with
    /// [`Services::complete_new_password`]).
    NewPasswordRequired(NewPasswordChallenge),
}

impl Services {
    /// After the directory authenticated `sub`: clear a stale disabled/gone mark on the cached
    /// identity, or cache the identity when the cache does not know it yet, so that fresh
    /// authority (`actor::fresh_authority`) can see a later disable or delete. Caching a missing
    /// identity is best effort (one strongly consistent read; a failure is logged).
    async fn record_sign_in(&self, sub: crate::domain::UserSub) -> ServiceResult<()> {
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
    /// permissions. Wrong credentials and disabled accounts are refused by the directory.
    pub async fn sign_in(&self, email: &str, password: &Secret) -> ServiceResult<SignInOutcome> {
        let email = Email::parse(email)?;
        if password.is_empty() {
            return Err(ServiceError::Denied("a password is required".into()));
        }
        match self.directory.authenticate(&email, password).await {
            Ok(AuthOutcome::Authenticated { sub }) => {
                tracing::info!(%sub, "operator authenticated");
                self.record_sign_in(sub).await?;
                let op = load_operator(&self.db, sub, email.as_str()).await?;
                Ok(SignInOutcome::SignedIn(op))
            }
            Ok(AuthOutcome::NewPasswordRequired(ch)) => {
                tracing::info!("operator must set a new password");
                Ok(SignInOutcome::NewPasswordRequired(ch))
            }
            Err(e) => {
                tracing::warn!(error = %e, "operator sign-in refused");
                Err(e.into())
            }
        }
    }

    /// Answers a NEW_PASSWORD_REQUIRED challenge and signs the operator in.
    pub async fn complete_new_password(
        &self,
        challenge: &NewPasswordChallenge,
        new_password: &Secret,
    ) -> ServiceResult<Operator> {
        if new_password.expose().chars().count() < 8 {
            return Err(crate::domain::ValidationError::Invalid {
                field: "password",
                message: "must be at least 8 characters".into(),
            }
            .into());
        }
        let sub = self
            .directory
            .respond_new_password(challenge, new_password)
            .await?;
        tracing::info!(%sub, "operator set a new password");
        self.record_sign_in(sub).await?;
        let email = match self.directory.find_by_sub(sub).await {
            Ok(identity) => identity.email,
            Err(_) => challenge.username.clone(),
        };
        load_operator(&self.db, sub, &email).await
    }
}
