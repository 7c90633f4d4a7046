//! `LocalDirectory`: the embedded identity provider on PostgreSQL, for the demo and development.
//! Same semantics as Cognito where hubdeck relies on them: sub is a UUID v4, usernames are
//! emails, email unique case-insensitively, FORCE_CHANGE_PASSWORD → CONFIRMED, disabled users
//! cannot sign in, invitations are recorded (`local_invitation`) instead of sent. Passwords are
//! argon2id hashes (PHC strings).

use crate::store::Db;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::RngExt;
use sha2::{Digest, Sha256};

use super::{
    AuthOutcome, Directory, DirectoryError, DirectoryResult, Identity, IdentityPage,
    IdentityStatus, MfaChallenge, MfaEnrolment, NewIdentity, NewPasswordChallenge, UserKey,
    WRONG_CODE,
};
use crate::config::LocalMfa;
use crate::domain::totp::{TotpCode, TotpSecret};
use crate::domain::{Email, Secret, UserSub};
use crate::store::StoreError;
use crate::store::local_directory::{self as store, LocalIdentityRow, NewLocalIdentity};
use crate::store::local_totp;

mod calls;

/// Page size of `list_page` (Cognito's maximum).
pub const PAGE_SIZE: i64 = 60;
/// How long a NEW_PASSWORD_REQUIRED session stays valid.
pub const CHALLENGE_MINUTES: i64 = 10;

/// Wrong codes one MFA session accepts before it ends (the operator signs in again).
pub const MAX_CODE_ATTEMPTS: i32 = 5;
/// TOTP steps accepted either side of now (phone/host clock drift).
pub const TOTP_WINDOW: u64 = 1;

const NEW_PASSWORD: &str = "NEW_PASSWORD_REQUIRED";
const SOFTWARE_TOKEN_MFA: &str = "SOFTWARE_TOKEN_MFA";
const MFA_SETUP: &str = "MFA_SETUP";

pub struct LocalDirectory {
    db: Db,
    mfa: LocalMfa,
}

impl LocalDirectory {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            mfa: LocalMfa::default(),
        }
    }

    /// The MFA policy (`directory.local_mfa`).
    pub fn with_mfa(mut self, mfa: LocalMfa) -> Self {
        self.mfa = mfa;
        self
    }
}

fn expired() -> DirectoryError {
    DirectoryError::NotAuthorized("Invalid session for the user, session is expired.".into())
}

fn now_unix() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or(0)
}

fn store_err(e: StoreError) -> DirectoryError {
    match e {
        StoreError::Unique { constraint } => DirectoryError::AlreadyExists(constraint),
        StoreError::Unavailable(m) => DirectoryError::Unavailable(m),
        other => DirectoryError::Unavailable(other.to_string()),
    }
}

fn identity(r: LocalIdentityRow) -> Identity {
    Identity {
        sub: r.sub,
        username: r.username,
        email: r.email,
        enabled: r.enabled,
        status: IdentityStatus::parse(&r.status),
        created_at: Some(r.created_at),
        registration_marker: r.registration_marker,
    }
}

/// Hashes a password as an argon2id PHC string (as stored in `local_identity.password_hash`).
pub fn hash_password(password: &Secret) -> Result<String, DirectoryError> {
    let mut salt_bytes = [0u8; 16];
    rand::rng().fill(&mut salt_bytes);
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| DirectoryError::Rejected(e.to_string()))?;
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DirectoryError::Rejected(format!("cannot hash password: {e}")))
}

fn verify_password(password: &Secret, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.expose().as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random temporary password meeting common pool policies (upper, lower, digit, symbol).
fn temporary_password() -> Secret {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let mut s: String = (0..14)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    s.push_str("a7#Q");
    Secret::new(s)
}

/// Minimum password policy (Cognito's default: 8+ chars, upper, lower, digit).
fn check_policy(p: &Secret) -> DirectoryResult<()> {
    let s = p.expose();
    let ok = s.chars().count() >= 8
        && s.chars().any(|c| c.is_uppercase())
        && s.chars().any(|c| c.is_lowercase())
        && s.chars().any(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(DirectoryError::InvalidInput(
            "password must have at least 8 characters with an upper-case letter, a lower-case letter and a digit".into(),
        ))
    }
}

async fn hash_blocking(p: Secret) -> DirectoryResult<String> {
    tokio::task::spawn_blocking(move || hash_password(&p))
        .await
        .map_err(|e| DirectoryError::Unavailable(e.to_string()))?
}

fn session_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn cursor_encode(at: DateTime<Utc>, sub: UserSub) -> String {
    format!("{}|{}", at.timestamp_micros(), sub)
}

fn cursor_decode(c: &str) -> DirectoryResult<(DateTime<Utc>, UserSub)> {
    let bad = || DirectoryError::InvalidInput("invalid pagination cursor".into());
    let (micros, sub) = c.split_once('|').ok_or_else(bad)?;
    let at = DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok((at, sub.parse().map_err(|_| bad())?))
}

impl LocalDirectory {
    async fn create(&self, new: &NewIdentity, marker: Option<&str>) -> DirectoryResult<Identity> {
        let password = new
            .temporary_password
            .clone()
            .unwrap_or_else(temporary_password);
        let hash = hash_blocking(password).await?;
        let email = new.email.as_str();
        let row = store::insert(
            &self.db,
            &NewLocalIdentity {
                sub: UserSub::new_v4(),
                username: email,
                email,
                email_verified: new.email_verified,
                status: IdentityStatus::ForceChangePassword.as_str(),
                password_hash: &hash,
                invite: new.invite == super::Invite::Email,
                registration_marker: marker,
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::Unique { .. } => {
                DirectoryError::AlreadyExists(format!("User with email {email} already exists"))
            }
            other => store_err(other),
        })?;
        Ok(identity(row))
    }

    async fn by_username(&self, username: &str) -> DirectoryResult<LocalIdentityRow> {
        store::find_by_username_or_email(&self.db, username)
            .await
            .map_err(store_err)?
            .filter(|r| r.username == username)
            .ok_or_else(|| {
                DirectoryError::NotFound(crate::domain::DisplayText::new(username).into_string())
            })
    }
}

impl LocalDirectory {
    /// After a verified password: the MFA challenge the policy and the identity's token call
    /// for, or signed in.
    async fn after_password(&self, sub: UserSub, username: String) -> DirectoryResult<AuthOutcome> {
        if self.mfa == LocalMfa::Off {
            return Ok(AuthOutcome::Authenticated { sub });
        }
        let enrolled = local_totp::has_verified(&self.db, sub)
            .await
            .map_err(store_err)?;
        let kind = match (enrolled, self.mfa) {
            (true, _) => SOFTWARE_TOKEN_MFA,
            (false, LocalMfa::Required) => MFA_SETUP,
            (false, _) => return Ok(AuthOutcome::Authenticated { sub }),
        };
        let mut bytes = [0u8; 32];
        rand::rng().fill(&mut bytes);
        let token = Secret::new(hex::encode(bytes));
        bytes.fill(0);
        let expires = Utc::now() + chrono::Duration::minutes(CHALLENGE_MINUTES);
        local_totp::insert_challenge(&self.db, &session_hash(token.expose()), sub, kind, expires)
            .await
            .map_err(store_err)?;
        let ch = MfaChallenge {
            username,
            sub: Some(sub),
            session: token,
        };
        Ok(if kind == MFA_SETUP {
            AuthOutcome::MfaSetupRequired(ch)
        } else {
            AuthOutcome::MfaCodeRequired(ch)
        })
    }

    /// The challenged identity still exists under that username and may sign in.
    async fn check_challenged(&self, sub: UserSub, username: &str) -> DirectoryResult<()> {
        let row = store::find_by_sub(&self.db, sub)
            .await
            .map_err(store_err)?
            .ok_or_else(|| DirectoryError::NotFound(sub.to_string()))?;
        if row.username != username {
            return Err(DirectoryError::NotAuthorized(
                "Invalid session for the user.".into(),
            ));
        }
        if !row.enabled {
            return Err(DirectoryError::NotAuthorized("User is disabled.".into()));
        }
        Ok(())
    }

    /// Checks `code` against the challenged identity's token (verified for SOFTWARE_TOKEN_MFA,
    /// the enrolment in progress for MFA_SETUP) in one transaction: a match consumes the
    /// session and the TOTP step (never accepted twice); a miss counts an attempt and ends the
    /// session after [`MAX_CODE_ATTEMPTS`].
    async fn check_code(
        &self,
        challenge: &MfaChallenge,
        kind: &str,
        code: &TotpCode,
        want_verified: bool,
    ) -> DirectoryResult<UserSub> {
        let hash = session_hash(challenge.session.expose());
        let db_err = |e: sqlx::Error| store_err(e.into());
        let mut tx = self.db.begin().await.map_err(store_err)?;
        let (sub, _) = local_totp::lock_challenge(&mut tx, &hash, kind)
            .await
            .map_err(store_err)?
            .ok_or_else(expired)?;
        let token = local_totp::lock_totp(&mut tx, sub)
            .await
            .map_err(store_err)?
            .filter(|t| t.verified == want_verified)
            .ok_or_else(|| {
                DirectoryError::Rejected(if want_verified {
                    "no software token is enrolled for this account".into()
                } else {
                    "no software token enrolment is in progress: start the setup again".into()
                })
            })?;
        let step = token
            .secret
            .verify(code, now_unix(), TOTP_WINDOW)
            .and_then(|s| i64::try_from(s).ok())
            .filter(|s| token.last_step.is_none_or(|last| *s > last));
        match step {
            Some(step) => {
                local_totp::accept_step(&mut tx, sub, step)
                    .await
                    .map_err(store_err)?;
                local_totp::take_challenge(&mut tx, &hash, kind)
                    .await
                    .map_err(store_err)?;
                tx.commit().await.map_err(db_err)?;
                self.check_challenged(sub, &challenge.username).await?;
                Ok(sub)
            }
            None => {
                let attempts = local_totp::count_attempt(&mut tx, &hash)
                    .await
                    .map_err(store_err)?;
                let ended = attempts >= MAX_CODE_ATTEMPTS;
                if ended {
                    local_totp::take_challenge(&mut tx, &hash, kind)
                        .await
                        .map_err(store_err)?;
                }
                tx.commit().await.map_err(db_err)?;
                Err(DirectoryError::NotAuthorized(if ended {
                    format!("{WRONG_CODE}; too many wrong codes, sign in again")
                } else {
                    WRONG_CODE.to_string()
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let p = Secret::new("Corr3ct-horse");
        let a = hash_password(&p).unwrap();
        let b = hash_password(&p).unwrap();
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_password(&p, &a));
        assert!(!verify_password(&Secret::new("wrong"), &a));
    }

    #[test]
    fn cursor_round_trip() {
        let sub = UserSub::new_v4();
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        assert_eq!(cursor_decode(&cursor_encode(at, sub)).unwrap(), (at, sub));
        assert!(cursor_decode("garbage").is_err());
    }
}
