//! CLI sessions: `hubdeck login` signs an operator in with the console's own sign-in steps
//! ([`super::mfa`]) and opens a session; every later CLI command acts as that operator
//! ([`Actor::CliOperator`]) until it expires or `hubdeck logout` ends it.
//!
//! The session is a random 256-bit token. The operator keeps it (a 0600 file in the data dir,
//! see `cli::login`); the database keeps only its SHA-256 with the operator's sub and an expiry
//! decided by the database's clock. The password never leaves the sign-in call. Ending the
//! session deletes the row, so a copied token file stops working at logout for every
//! directory (Cognito or local) alike.

use crate::store::Db;
use chrono::{DateTime, Utc};
use sha2::Digest;

use super::actor::{Actor, Operator, load_operator};
use super::{ServiceError, ServiceResult, Services};
use crate::domain::{DisplayText, Secret};

/// Longest session a configuration may ask for (a week): a forgotten session file on a shared
/// host should not outlive a working week.
pub const MAX_SESSION_HOURS: u32 = 24 * 7;

/// A session just opened: the token to keep (shown to nobody) and its expiry.
#[derive(Debug)]
pub struct OpenedSession {
    pub token: Secret,
    pub expires_at: DateTime<Utc>,
}

/// The stored form of a token.
fn token_hash(token: &Secret) -> String {
    hex::encode(sha2::Sha256::digest(token.expose().as_bytes()))
}

impl Services {
    /// Opens a CLI session for an operator who has just signed in (through
    /// [`Services::begin_sign_in`] and its steps), lasting `cli.session_hours`.
    pub async fn open_cli_session(
        &self,
        operator: &Operator,
        os_user: &str,
    ) -> ServiceResult<OpenedSession> {
        let hours = self.settings.cli.session_hours.clamp(1, MAX_SESSION_HOURS);
        let bytes: [u8; 32] = rand::random();
        let token = Secret::new(hex::encode(bytes));
        let expires_at = crate::store::cli_sessions::insert(
            &self.db,
            &token_hash(&token),
            operator.sub,
            &operator.email,
            os_user,
            i32::try_from(hours).unwrap_or(12),
        )
        .await?;
        tracing::info!(sub = %operator.sub, "CLI session opened");
        Ok(OpenedSession { token, expires_at })
    }
}

/// The actor a session token stands for: the operator with their grants as of now, the OS
/// account the command runs as recorded beside them. `Ok(None)` when the token names no live
/// session (expired, ended by logout, or never issued by this database); an account that was
/// disabled or deleted since is refused like a revoked operator in the console.
pub async fn actor_for(db: &Db, token: &Secret, os_user: String) -> ServiceResult<Option<Actor>> {
    let Some(session) = crate::store::cli_sessions::live(db, &token_hash(token)).await? else {
        return Ok(None);
    };
    let mut conn = db.acquire().await?;
    let standing = crate::store::grants::standing(&mut conn, session.sub).await?;
    drop(conn);
    let who = DisplayText::new(&session.email);
    if standing.gone == Some(true) || standing.enabled == Some(false) {
        return Err(ServiceError::OperatorRevoked(format!(
            "the account {who} of this CLI session is disabled or deleted; sign in again"
        )));
    }
    let operator = load_operator(db, session.sub, &session.email).await?;
    Ok(Some(Actor::CliOperator { operator, os_user }))
}

/// Ends a session on the server side; whether it was still there.
pub async fn close(db: &Db, token: &Secret) -> ServiceResult<bool> {
    Ok(crate::store::cli_sessions::delete(db, &token_hash(token)).await?)
}
