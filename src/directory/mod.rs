//! The identity-provider port. Services talk to `dyn Directory` and see only hubdeck's own
//! types; SDK types never leave `directory/`.
//!
//! Implementations: [`cognito::CognitoDirectory`] (AWS Cognito through the SDK) and
//! [`local::LocalDirectory`] (embedded, on PostgreSQL, for demo and development).
//!
//! # Mutations: idempotency and unknown outcomes (THE table)
//!
//! A call whose answer was lost (timeout, connection reset after the request was sent, 5xx —
//! all reported as [`DirectoryError::Unavailable`]) may or may not have taken effect. Each
//! mutation is handled as this table says; the SDK's own retries are configured per operation
//! in [`cognito`] to match (`max_attempts` applies only where the table says "SDK retries").
//!
//! | mutation (Cognito operation) | idempotent? | SDK attempts | unknown outcome resolved by |
//! |---|---|---|---|
//! | create user (`AdminCreateUser`) | **no** — a repeat answers `UsernameExistsException` for the identity the first attempt made | exactly 1 | the saga (`service::registration`): strongly consistent read by username (`AdminGetUser`) + proof of authorship (the `custom:hubdeck_reg` marker = registration id, or the sub recorded on the journal). Ours → continue as `identity_created`; absent → the create is tried once more; someone else's → `conflict`, nothing deleted |
//! | resend invite (`AdminCreateUser`, `MessageAction=RESEND`) | **no** — each attempt sends an email | exactly 1 | not resolvable by a read (an email leaves no state): reported as "may or may not have been sent"; the operator decides whether to resend |
//! | delete user (`AdminDeleteUser`) | yes in effect — a repeat answers `UserNotFoundException` | SDK retries | `service::Services::delete_verified`: a not-found or unknown answer is believed only after `AdminGetUser` shows the username gone (or owned by another sub, which is never touched) |
//! | disable / enable (`AdminDisableUser` / `AdminEnableUser`) | yes — same end state | SDK retries | repeating is harmless: when every attempt fails the error is reported, hubdeck writes no audit row or cache change, and the operator repeats the action |
//! | set password (`AdminSetUserPassword`) | yes — same password, same status | SDK retries | repeating is harmless; the error is reported and the operator repeats it |
//! | update attributes (`AdminUpdateUserAttributes`) | yes — same values | — | not called by hubdeck (profiles live in PostgreSQL; the marker is immutable and set only at creation) |
//! | sign-in (`AdminInitiateAuth`, `AdminRespondToAuthChallenge`) | n/a (no directory state hubdeck relies on) | SDK retries | the operator signs in again |
//! | MFA enrolment (`AssociateSoftwareToken`, `VerifySoftwareToken`) | associate: no (each call mints a new secret); verify: yes | exactly 1 | the operator starts the sign-in again (a new secret is shown) |
//! | MFA preference (`AdminSetUserMFAPreference`, after enrolment) | yes | SDK retries | best effort: logged; the pool's own MFA setting still asks for the code |
//!
//! Reads (`AdminGetUser`, `ListUsers`, `DescribeUserPool`) are always safe to retry.
//!
//! # Proof of authorship
//!
//! [`Directory::create_registered_user`] marks the identity with the registration id where the
//! directory can hold it: LocalDirectory always; Cognito when the pool's schema has the custom
//! attribute [`REGISTRATION_ATTRIBUTE`] (checked once with `DescribeUserPool`, see
//! [`Directory::supports_registration_marker`]). Without it the only proof is the sub from a
//! create answer that arrived, and an identity found after a lost answer can never be adopted.

pub mod cognito;
pub mod diagnose;
pub mod local;

use crate::store::Db;
use async_trait::async_trait;
use thiserror::Error;

use crate::domain::totp::{TotpCode, TotpSecret};
use crate::domain::{Email, Secret, UserSub};

pub use crate::domain::identity::{Identity, IdentityStatus};

/// Cognito's default temporary-password validity, in days.
pub const DEFAULT_TEMPORARY_PASSWORD_DAYS: u32 = 7;

/// The Cognito custom attribute holding the registration id (as `custom:hubdeck_reg`).
pub const REGISTRATION_ATTRIBUTE: &str = "hubdeck_reg";

/// How a new identity is told about its account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invite {
    /// The directory emails an invitation with a temporary password.
    Email,
    /// No message (operator tooling that sets a password itself).
    Suppress,
}

#[derive(Clone, Debug)]
pub struct NewIdentity {
    pub email: Email,
    pub email_verified: bool,
    pub invite: Invite,
    /// Optional temporary password (otherwise the directory generates one).
    pub temporary_password: Option<Secret>,
}

/// How to find one identity. Both are strongly consistent reads (AdminGetUser).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserKey {
    Username(String),
    Email(Email),
}

/// One page of identities and the cursor of the next page (None at the end).
#[derive(Clone, Debug, Default)]
pub struct IdentityPage {
    pub identities: Vec<Identity>,
    pub next: Option<String>,
}

/// A NEW_PASSWORD_REQUIRED challenge to answer with [`Directory::respond_new_password`].
#[derive(Clone, Debug)]
pub struct NewPasswordChallenge {
    pub username: String,
    pub sub: Option<UserSub>,
    /// Opaque session token from the directory.
    pub session: Secret,
}

/// An MFA challenge (`SOFTWARE_TOKEN_MFA` or `MFA_SETUP`) to answer with
/// [`Directory::respond_mfa_code`] or [`Directory::associate_software_token`].
#[derive(Clone, Debug)]
pub struct MfaChallenge {
    pub username: String,
    pub sub: Option<UserSub>,
    /// Opaque session token from the directory.
    pub session: Secret,
}

/// A software token being enrolled (MFA_SETUP): the new shared secret, and the session to
/// verify it with ([`Directory::verify_software_token`]).
#[derive(Clone, Debug)]
pub struct MfaEnrolment {
    pub username: String,
    pub secret: TotpSecret,
    pub session: Secret,
}

/// The refusal of a wrong or expired one-time code (both directories say exactly this).
pub const WRONG_CODE: &str = "the authenticator code was not accepted: it is wrong or has expired; enter the code your app shows now";

#[derive(Clone, Debug)]
pub enum AuthOutcome {
    Authenticated {
        sub: UserSub,
    },
    NewPasswordRequired(NewPasswordChallenge),
    /// `SOFTWARE_TOKEN_MFA`: the operator types the authenticator's current code.
    MfaCodeRequired(MfaChallenge),
    /// `MFA_SETUP`: the operator enrols a software token before continuing.
    MfaSetupRequired(MfaChallenge),
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DirectoryError {
    #[error("not found in the directory: {0}")]
    NotFound(String),
    #[error("already exists in the directory: {0}")]
    AlreadyExists(String),
    #[error("invalid input for the directory: {0}")]
    InvalidInput(String),
    /// Wrong password, disabled user, expired challenge.
    #[error("sign-in refused: {0}")]
    NotAuthorized(String),
    /// A definitive refusal (4xx that is not one of the above, unexpected responses).
    #[error("directory refused the request: {0}")]
    Rejected(String),
    /// Transient: 5xx, timeouts, connection errors.
    #[error("directory unavailable (transient): {0}")]
    Unavailable(String),
    /// Transient: throttled by quota.
    #[error("directory throttled the request (transient): {0}")]
    Throttled(String),
}

impl DirectoryError {
    /// Transient failures may succeed on retry; definitive ones will not.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Throttled(_))
    }
}

pub type DirectoryResult<T> = Result<T, DirectoryError>;

#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// "cognito" or "local" (shown in the top bar).
    fn kind(&self) -> &'static str;

    /// Creates an identity with username = email.
    async fn create_user(&self, new: &NewIdentity) -> DirectoryResult<Identity>;

    /// Creates an identity for the registration `registration` and marks it with that id where
    /// the directory can hold the marker (see the module docs). Exactly one attempt on the wire.
    async fn create_registered_user(
        &self,
        new: &NewIdentity,
        registration: &str,
    ) -> DirectoryResult<Identity> {
        let _ = registration;
        self.create_user(new).await
    }

    /// Whether [`Self::create_registered_user`] can mark identities (for Cognito: the pool's
    /// schema has `custom:hubdeck_reg`; checked once and remembered).
    async fn supports_registration_marker(&self) -> DirectoryResult<bool> {
        Ok(false)
    }

    /// Strongly consistent read by username or email.
    async fn get_user(&self, key: &UserKey) -> DirectoryResult<Identity>;

    /// Finds an identity by its sub.
    async fn find_by_sub(&self, sub: UserSub) -> DirectoryResult<Identity>;

    /// One page of the whole directory; `cursor` from the previous page's `next`.
    async fn list_page(&self, cursor: Option<&str>) -> DirectoryResult<IdentityPage>;

    async fn set_enabled(&self, username: &str, enabled: bool) -> DirectoryResult<()>;

    async fn delete_user(&self, username: &str) -> DirectoryResult<()>;

    async fn resend_invite(&self, username: &str) -> DirectoryResult<()>;

    /// Verifies an operator's email + password.
    async fn authenticate(&self, email: &Email, password: &Secret) -> DirectoryResult<AuthOutcome>;

    /// Answers a NEW_PASSWORD_REQUIRED challenge: authenticated, or a further MFA challenge.
    async fn respond_new_password(
        &self,
        challenge: &NewPasswordChallenge,
        new_password: &Secret,
    ) -> DirectoryResult<AuthOutcome>;

    /// Answers a SOFTWARE_TOKEN_MFA challenge with the authenticator's code. A wrong code is
    /// `NotAuthorized(WRONG_CODE)`; the challenge may be answered again until it expires.
    async fn respond_mfa_code(
        &self,
        challenge: &MfaChallenge,
        code: &TotpCode,
    ) -> DirectoryResult<AuthOutcome> {
        let _ = (challenge, code);
        Err(DirectoryError::Rejected(format!(
            "the {} directory cannot answer MFA challenges",
            self.kind()
        )))
    }

    /// MFA_SETUP, step 1: mints a software token secret for the challenged identity
    /// (Cognito `AssociateSoftwareToken`).
    async fn associate_software_token(
        &self,
        challenge: &MfaChallenge,
    ) -> DirectoryResult<MfaEnrolment> {
        let _ = challenge;
        Err(DirectoryError::Rejected(format!(
            "the {} directory cannot enrol software tokens",
            self.kind()
        )))
    }

    /// MFA_SETUP, step 2: verifies a code from the new token and completes the sign-in
    /// (Cognito `VerifySoftwareToken`, then `AdminRespondToAuthChallenge` with `MFA_SETUP`).
    async fn verify_software_token(
        &self,
        enrolment: &MfaEnrolment,
        code: &TotpCode,
    ) -> DirectoryResult<AuthOutcome> {
        let _ = (enrolment, code);
        Err(DirectoryError::Rejected(format!(
            "the {} directory cannot enrol software tokens",
            self.kind()
        )))
    }

    /// Sets a password (permanent = status CONFIRMED; otherwise FORCE_CHANGE_PASSWORD).
    async fn set_password(
        &self,
        username: &str,
        password: &Secret,
        permanent: bool,
    ) -> DirectoryResult<()>;

    /// A cheap call proving the directory answers (TUI health indicator).
    async fn health(&self) -> DirectoryResult<()>;

    /// How many days a temporary password (an invitation) stays valid: Cognito's
    /// `TemporaryPasswordValidityDays` (its default, 7, when the pool sets none).
    async fn temporary_password_validity_days(&self) -> DirectoryResult<u32> {
        Ok(DEFAULT_TEMPORARY_PASSWORD_DAYS)
    }

    /// The directory's own estimate of how many identities it holds (Cognito's
    /// `EstimatedNumberOfUsers`), for progress bars; `None` when it gives none.
    async fn estimated_count(&self) -> DirectoryResult<Option<u64>> {
        Ok(None)
    }
}

/// Builds the directory named by `directory.kind`.
pub async fn connect(
    settings: &crate::config::Settings,
    db: &Db,
) -> DirectoryResult<std::sync::Arc<dyn Directory>> {
    match settings.directory.kind {
        crate::config::DirectoryKind::Local => Ok(std::sync::Arc::new(
            local::LocalDirectory::new(db.clone()).with_mfa(settings.directory.local_mfa),
        )),
        crate::config::DirectoryKind::Cognito => Ok(std::sync::Arc::new(
            cognito::CognitoDirectory::new(&settings.directory).await?,
        )),
    }
}
