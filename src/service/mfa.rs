//! The sign-in state machine with MFA, one step per call so the console
//! can drive it: password → (new password) → (authenticator code | software-token setup) →
//! signed in.
//!
//! ```text
//! begin_sign_in ──► SignedIn
//!      │      ├──► NewPasswordRequired ── answer_new_password ──► (any step)
//!      │      ├──► MfaCodeRequired ────── answer_mfa_code ──────► SignedIn (wrong code: error, ask again)
//!      │      └──► MfaSetupRequired ───── start_mfa_setup ──► MfaSetup (secret, otpauth URI, QR)
//!      │                                                           └─ finish_mfa_setup ──► SignedIn
//! ```
//!
//! Secrets (the token secret, its URI and QR code, typed codes) stay in zeroize-on-drop types
//! and are never logged; only the step names are.

use std::fmt;

use super::actor::load_operator;
use super::{Operator, ServiceError, ServiceResult, Services};
use crate::directory::{AuthOutcome, MfaChallenge, MfaEnrolment, NewPasswordChallenge};
use crate::domain::totp::{self, TotpCode};
use crate::domain::{Email, Secret, UserSub};

/// Where a sign-in stands.
#[derive(Debug)]
pub enum SignInStep {
    SignedIn(Operator),
    /// Set a new password: [`Services::answer_new_password`].
    NewPasswordRequired(NewPasswordChallenge),
    /// Type the authenticator app's code: [`Services::answer_mfa_code`].
    MfaCodeRequired(MfaChallenge),
    /// Enrol a software token first: [`Services::start_mfa_setup`].
    MfaSetupRequired(MfaChallenge),
}

/// A software token being set up: what the console shows (the secret to type into an app, the
/// `otpauth://` URI and its QR code drawn as text), then [`Services::finish_mfa_setup`] with a
/// code from the app. Every field holding the secret is a zeroize-on-drop [`Secret`].
pub struct MfaSetup {
    pub enrolment: MfaEnrolment,
    /// The account name the app shows (the operator's email).
    pub account: String,
    /// The secret in base32, grouped in fours for typing.
    pub secret_text: Secret,
    pub otpauth_uri: Secret,
    /// The QR code of `otpauth_uri` in Unicode half blocks (one line per two module rows).
    pub qr: Secret,
}

impl fmt::Debug for MfaSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MfaSetup")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

fn grouped(s: &Secret) -> Secret {
    let mut out = String::with_capacity(s.expose().len() * 5 / 4);
    for (i, c) in s.expose().chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    Secret::new(out)
}

impl Services {
    async fn step(&self, outcome: AuthOutcome, email: &str) -> ServiceResult<SignInStep> {
        match outcome {
            AuthOutcome::Authenticated { sub } => {
                tracing::info!(%sub, "operator authenticated");
                Ok(SignInStep::SignedIn(self.signed_in(sub, email).await?))
            }
            AuthOutcome::NewPasswordRequired(ch) => {
                tracing::info!("operator must set a new password");
                Ok(SignInStep::NewPasswordRequired(ch))
            }
            AuthOutcome::MfaCodeRequired(ch) => {
                tracing::info!("operator must give an authenticator code");
                Ok(SignInStep::MfaCodeRequired(ch))
            }
            AuthOutcome::MfaSetupRequired(ch) => {
                tracing::info!("operator must set up a software token");
                Ok(SignInStep::MfaSetupRequired(ch))
            }
        }
    }

    async fn signed_in(&self, sub: UserSub, email: &str) -> ServiceResult<Operator> {
        self.record_sign_in(sub).await?;
        let email = match self.directory.find_by_sub(sub).await {
            Ok(identity) if !identity.email.is_empty() => identity.email,
            _ => email.to_string(),
        };
        load_operator(&self.db, sub, &email).await
    }

    fn refused(e: crate::directory::DirectoryError) -> ServiceError {
        tracing::warn!(error = %e, "operator sign-in step refused");
        e.into()
    }

    /// Step 1: email and password.
    pub async fn begin_sign_in(&self, email: &str, password: &Secret) -> ServiceResult<SignInStep> {
        let email = Email::parse(email)?;
        if password.is_empty() {
            return Err(ServiceError::Denied("a password is required".into()));
        }
        let outcome = self
            .directory
            .authenticate(&email, password)
            .await
            .map_err(Self::refused)?;
        self.step(outcome, email.as_str()).await
    }

    /// Answers NEW_PASSWORD_REQUIRED (at least 8 characters; the directory's policy applies).
    pub async fn answer_new_password(
        &self,
        challenge: &NewPasswordChallenge,
        new_password: &Secret,
    ) -> ServiceResult<SignInStep> {
        if new_password.expose().chars().count() < 8 {
            return Err(crate::domain::ValidationError::Invalid {
                field: "password",
                message: "must be at least 8 characters".into(),
            }
            .into());
        }
        let outcome = self
            .directory
            .respond_new_password(challenge, new_password)
            .await
            .map_err(Self::refused)?;
        tracing::info!("operator set a new password");
        self.step(outcome, &challenge.username).await
    }

    /// Answers SOFTWARE_TOKEN_MFA with the code typed by the operator. A malformed code is
    /// refused before the directory is asked; a wrong one is refused by the directory
    /// ([`crate::directory::WRONG_CODE`]) and the same challenge may be answered again.
    pub async fn answer_mfa_code(
        &self,
        challenge: &MfaChallenge,
        code: &str,
    ) -> ServiceResult<SignInStep> {
        let code = TotpCode::parse(code)?;
        let outcome = self
            .directory
            .respond_mfa_code(challenge, &code)
            .await
            .map_err(Self::refused)?;
        self.step(outcome, &challenge.username).await
    }

    /// MFA_SETUP: asks the directory for a new software-token secret and prepares what the
    /// operator scans or types.
    pub async fn start_mfa_setup(&self, challenge: &MfaChallenge) -> ServiceResult<MfaSetup> {
        let enrolment = self
            .directory
            .associate_software_token(challenge)
            .await
            .map_err(Self::refused)?;
        let account = challenge.username.clone();
        let uri = totp::otpauth_uri(
            &self.settings.directory.mfa_issuer,
            &account,
            &enrolment.secret,
        );
        let qr = totp::qr_text(&uri)?;
        let secret_text = grouped(&enrolment.secret.to_base32());
        tracing::info!("software token enrolment started");
        Ok(MfaSetup {
            enrolment,
            account,
            secret_text,
            otpauth_uri: uri,
            qr,
        })
    }

    /// MFA_SETUP: verifies a code from the newly set-up app and completes the sign-in.
    pub async fn finish_mfa_setup(
        &self,
        setup: &MfaSetup,
        code: &str,
    ) -> ServiceResult<SignInStep> {
        let code = TotpCode::parse(code)?;
        let outcome = self
            .directory
            .verify_software_token(&setup.enrolment, &code)
            .await
            .map_err(Self::refused)?;
        tracing::info!("software token verified");
        self.step(outcome, &setup.account).await
    }
}
