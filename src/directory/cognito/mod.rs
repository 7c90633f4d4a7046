//! `CognitoDirectory`: AWS Cognito user pools through aws-sdk-cognitoidentityprovider.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_cognitoidentityprovider as cip;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, AuthFlowType, ChallengeNameType, DeliveryMediumType, MessageActionType,
    SoftwareTokenMfaSettingsType, UserStatusType, UserType, VerifySoftwareTokenResponseType,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::{
    AuthOutcome, Directory, DirectoryError, DirectoryResult, Identity, IdentityPage,
    IdentityStatus, Invite, MfaChallenge, MfaEnrolment, NewIdentity, NewPasswordChallenge,
    REGISTRATION_ATTRIBUTE, UserKey, WRONG_CODE,
};
use crate::config::DirectorySettings;
use crate::domain::totp::{TotpCode, TotpSecret};
use crate::domain::{Email, Secret, UserSub};

mod calls;
mod convert;
mod errors;

use convert::*;
pub use errors::{check_value, classify, classify_status_code};

/// Builds the SDK client once (clone it freely): explicit HTTP client on rustls+ring, explicit
/// connect/attempt/operation timeouts, bounded retries, optional endpoint override (emulator).
pub async fn sdk_client(settings: &DirectorySettings) -> cip::Client {
    cip::Client::new(&sdk_config(settings).await)
}

/// The shared SDK configuration behind [`sdk_client`] (also used by the doctor to resolve
/// credentials on their own).
pub async fn sdk_config(settings: &DirectorySettings) -> aws_config::SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .operation_attempt_timeout(Duration::from_millis(settings.attempt_timeout_ms))
        .operation_timeout(Duration::from_millis(settings.operation_timeout_ms))
        .build();
    let retry = if settings.max_attempts <= 1 {
        RetryConfig::disabled()
    } else {
        RetryConfig::standard()
            .with_max_attempts(settings.max_attempts)
            .with_initial_backoff(Duration::from_millis(settings.initial_backoff_ms))
    };
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(aws_config::Region::new(settings.region.clone()))
        .timeout_config(timeouts)
        .retry_config(retry);
    if !settings.endpoint_url.is_empty() {
        loader = loader.endpoint_url(settings.endpoint_url.clone());
    }
    loader.load().await
}

/// Cognito quota categories hubdeck paces itself against.
#[derive(Clone, Copy, Debug)]
enum Quota {
    List,
    Create,
    Update,
    Read,
}

/// A small async pacer: requests of one category are spaced `1/rps` apart (no bursts), so a
/// long sync stays under the category's quota instead of discovering it through throttling.
struct Pacer {
    interval: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pacer {
    fn new(rps: u32) -> Self {
        let interval = if rps == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(1.0 / f64::from(rps))
        };
        Self {
            interval,
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    async fn acquire(&self) {
        if self.interval.is_zero() {
            return;
        }
        let slot = {
            let mut next = self.next.lock().await;
            let now = tokio::time::Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// ListUsers page size: Cognito's maximum (it rejects more; moto would accept more).
pub const LIST_LIMIT: i32 = 60;

pub struct CognitoDirectory {
    client: cip::Client,
    user_pool_id: String,
    client_id: String,
    list: Pacer,
    create: Pacer,
    update: Pacer,
    read: Pacer,
    /// Whether the pool's schema has `custom:hubdeck_reg` (DescribeUserPool, once).
    marker: tokio::sync::OnceCell<bool>,
}

/// The full name of the marker attribute in Cognito.
pub fn marker_attribute() -> String {
    format!("custom:{REGISTRATION_ATTRIBUTE}")
}

/// Per-operation override for calls that are not idempotent (see the table in
/// `directory/mod.rs`): exactly one attempt, whatever `max_attempts` says.
fn single_attempt() -> cip::config::Builder {
    cip::config::Builder::default().retry_config(RetryConfig::disabled())
}

/// Refuses values that could break out of a ListUsers filter string (`attr = "value"`) — or
/// that no Cognito username/email may contain anyway — before any request is sent.
impl CognitoDirectory {
    pub async fn new(settings: &DirectorySettings) -> DirectoryResult<Self> {
        check_value("user pool id", &settings.user_pool_id)?;
        Ok(Self {
            client: sdk_client(settings).await,
            user_pool_id: settings.user_pool_id.clone(),
            client_id: settings.client_id.clone(),
            list: Pacer::new(settings.user_list_rps),
            create: Pacer::new(settings.user_creation_rps),
            update: Pacer::new(settings.user_update_rps),
            read: Pacer::new(settings.user_read_rps),
            marker: tokio::sync::OnceCell::new(),
        })
    }

    async fn create(&self, new: &NewIdentity, marker: Option<&str>) -> DirectoryResult<Identity> {
        let email = new.email.as_str();
        check_value("email", email)?;
        let mut req = self
            .client
            .admin_create_user()
            .user_pool_id(&self.user_pool_id)
            .username(email)
            .user_attributes(build_attr("email", email)?)
            .user_attributes(build_attr(
                "email_verified",
                if new.email_verified { "true" } else { "false" },
            )?);
        if let Some(m) = marker {
            req = req.user_attributes(build_attr(&marker_attribute(), m)?);
        }
        req = match new.invite {
            Invite::Email => req.desired_delivery_mediums(DeliveryMediumType::Email),
            Invite::Suppress => req.message_action(MessageActionType::Suppress),
        };
        if let Some(pw) = &new.temporary_password {
            req = req.temporary_password(pw.expose());
        }
        self.pace(Quota::Create).await;
        let out = req
            .customize()
            .config_override(single_attempt())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let user = out
            .user()
            .ok_or_else(|| DirectoryError::Rejected("AdminCreateUser returned no user".into()))?;
        from_user(user)
    }

    async fn pace(&self, q: Quota) {
        match q {
            Quota::List => self.list.acquire().await,
            Quota::Create => self.create.acquire().await,
            Quota::Update => self.update.acquire().await,
            Quota::Read => self.read.acquire().await,
        }
    }

    /// Answers a sign-in challenge (`AdminRespondToAuthChallenge` with `USERNAME` plus
    /// `responses`) and maps the reply to hubdeck's outcome, whatever challenge comes next.
    async fn respond(
        &self,
        name: ChallengeNameType,
        username: &str,
        session: &Secret,
        responses: &[(&str, &str)],
    ) -> DirectoryResult<AuthOutcome> {
        check_value("username", username)?;
        let mut call = self
            .client
            .admin_respond_to_auth_challenge()
            .user_pool_id(&self.user_pool_id)
            .client_id(&self.client_id)
            .challenge_name(name)
            .session(session.expose())
            .challenge_responses("USERNAME", username);
        for (k, v) in responses {
            call = call.challenge_responses(*k, *v);
        }
        let out = call.send().await.map_err(|e| classify(&e))?;
        self.outcome(
            username,
            out.challenge_name(),
            out.session(),
            out.challenge_parameters(),
        )
        .await
    }

    /// Maps a sign-in answer (no challenge = signed in) to hubdeck's outcome. Challenges other
    /// than NEW_PASSWORD_REQUIRED, SOFTWARE_TOKEN_MFA and MFA_SETUP (with a software token on
    /// offer) are refused with their name.
    async fn outcome(
        &self,
        username: &str,
        challenge: Option<&ChallengeNameType>,
        session: Option<&str>,
        params: Option<&std::collections::HashMap<String, String>>,
    ) -> DirectoryResult<AuthOutcome> {
        let Some(challenge) = challenge else {
            let sub = self.get_by_username(username).await?.sub;
            return Ok(AuthOutcome::Authenticated { sub });
        };
        let session = session.map(Secret::new).ok_or_else(|| {
            DirectoryError::Rejected(format!("{} without a session", challenge.as_str()))
        })?;
        let sub = params
            .and_then(|p| p.get("USER_ID_FOR_SRP"))
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .map(UserSub);
        let username = username.to_string();
        match challenge {
            ChallengeNameType::NewPasswordRequired => {
                Ok(AuthOutcome::NewPasswordRequired(NewPasswordChallenge {
                    username,
                    sub,
                    session,
                }))
            }
            ChallengeNameType::SoftwareTokenMfa => Ok(AuthOutcome::MfaCodeRequired(MfaChallenge {
                username,
                sub,
                session,
            })),
            ChallengeNameType::MfaSetup => {
                let offered = params
                    .and_then(|p| p.get("MFAS_CAN_SETUP"))
                    .map(String::as_str)
                    .unwrap_or("SOFTWARE_TOKEN_MFA");
                if !offered.contains("SOFTWARE_TOKEN_MFA") {
                    return Err(DirectoryError::Rejected(format!(
                        "the pool asks to set up MFA but offers only {offered}; hubdeck enrols \
                         software tokens (enable TOTP MFA on the pool)"
                    )));
                }
                Ok(AuthOutcome::MfaSetupRequired(MfaChallenge {
                    username,
                    sub,
                    session,
                }))
            }
            other => Err(DirectoryError::Rejected(format!(
                "unsupported sign-in challenge {}",
                other.as_str()
            ))),
        }
    }

    async fn get_by_username(&self, username: &str) -> DirectoryResult<Identity> {
        check_value("username", username)?;
        self.pace(Quota::Read).await;
        let out = self
            .client
            .admin_get_user()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        to_identity(
            Some(out.username()),
            out.user_attributes(),
            out.enabled(),
            out.user_status(),
            out.user_create_date(),
        )
    }
}
