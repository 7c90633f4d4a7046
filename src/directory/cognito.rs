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
pub fn check_value(what: &str, value: &str) -> DirectoryResult<()> {
    if value.contains('"') || value.contains('\\') {
        return Err(DirectoryError::InvalidInput(format!(
            "{what} must not contain '\"' or '\\'"
        )));
    }
    if value.is_empty() {
        return Err(DirectoryError::InvalidInput(format!("{what} is empty")));
    }
    Ok(())
}

/// The pure part of error classification: HTTP status and (modelled or parsed) error code.
pub fn classify_status_code(
    status: Option<u16>,
    code: Option<&str>,
    message: &str,
) -> DirectoryError {
    let m = message.to_string();
    match code {
        Some("TooManyRequestsException" | "ThrottlingException" | "LimitExceededException") => {
            return DirectoryError::Throttled(m);
        }
        Some("UserNotFoundException") => return DirectoryError::NotFound(m),
        Some("UsernameExistsException" | "AliasExistsException") => {
            return DirectoryError::AlreadyExists(m);
        }
        Some("InvalidParameterException" | "InvalidPasswordException") => {
            return DirectoryError::InvalidInput(m);
        }
        Some("NotAuthorizedException") => return DirectoryError::NotAuthorized(m),
        // A wrong or expired one-time code: the same words as the local directory.
        Some(
            "CodeMismatchException" | "ExpiredCodeException" | "EnableSoftwareTokenMFAException",
        ) => {
            return DirectoryError::NotAuthorized(WRONG_CODE.to_string());
        }
        _ => {}
    }
    match status {
        Some(s) if s >= 500 => DirectoryError::Unavailable(m),
        Some(429) => DirectoryError::Throttled(m),
        _ => DirectoryError::Rejected(m),
    }
}

/// THE classification of SDK errors (every operation's error type goes through here).
pub fn classify<E>(err: &SdkError<E, HttpResponse>) -> DirectoryError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let e = se.err();
            let msg = format!(
                "{} (HTTP {status}): {}",
                e.code().unwrap_or("unknown error"),
                e.message().unwrap_or("")
            );
            classify_status_code(Some(status), e.code(), &msg)
        }
        SdkError::ResponseError(re) => {
            let status = re.raw().status().as_u16();
            classify_status_code(
                Some(status),
                None,
                &format!("unexpected response (HTTP {status})"),
            )
        }
        SdkError::TimeoutError(_) => {
            DirectoryError::Unavailable("timed out waiting for the directory".into())
        }
        SdkError::DispatchFailure(_) if credentials_error(err).is_some() => {
            DirectoryError::Rejected(no_credentials_message(credentials_error(err)))
        }
        SdkError::DispatchFailure(df) => {
            let detail = DisplayErrorContext(err).to_string();
            if df.is_io() || df.is_timeout() {
                DirectoryError::Unavailable(format!("cannot reach the directory: {detail}"))
            } else {
                DirectoryError::Rejected(format!("directory client configuration: {detail}"))
            }
        }
        SdkError::ConstructionFailure(_) => DirectoryError::Rejected(format!(
            "cannot build the request: {}",
            DisplayErrorContext(err)
        )),
        _ => DirectoryError::Rejected(format!("directory error: {}", DisplayErrorContext(err))),
    }
}

/// The credential-chain failure behind an SDK error, if that is what it is.
fn credentials_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a aws_credential_types::provider::error::CredentialsError> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(ce) =
            e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
        {
            return Some(ce);
        }
        cur = e.source();
    }
    None
}

/// ONE line: what is missing and how to fix it (never the SDK's multi-line chain dump).
fn no_credentials_message(
    ce: Option<&aws_credential_types::provider::error::CredentialsError>,
) -> String {
    use aws_credential_types::provider::error::CredentialsError as C;
    let why = match ce {
        Some(C::CredentialsNotLoaded(_)) | None => "no AWS credentials found".to_string(),
        Some(other) => {
            // The provider's own reason (e.g. a profile that does not exist), first line only.
            let detail = std::error::Error::source(other)
                .map(|s| s.to_string())
                .unwrap_or_else(|| other.to_string());
            let first = detail.lines().next().unwrap_or_default().trim().to_string();
            format!(
                "cannot load AWS credentials ({})",
                crate::domain::DisplayText::with_max(&first, 160)
            )
        }
    };
    format!(
        "{why}; set AWS_PROFILE (a profile in ~/.aws/config) or AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY, or run with an instance role; for the embedded directory set \
         directory.kind = \"local\""
    )
}

fn attr<'a>(attrs: &'a [AttributeType], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|a| a.name() == name)
        .and_then(|a| a.value())
}

fn to_identity(
    username: Option<&str>,
    attrs: &[AttributeType],
    enabled: bool,
    status: Option<&UserStatusType>,
    created: Option<&aws_smithy_types::DateTime>,
) -> DirectoryResult<Identity> {
    let username = username.ok_or_else(|| {
        DirectoryError::Rejected("directory returned a user without username".into())
    })?;
    let sub = attr(attrs, "sub")
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .ok_or_else(|| DirectoryError::Rejected(format!("user {username} has no valid sub")))?;
    Ok(Identity {
        sub: UserSub(sub),
        username: username.to_string(),
        email: attr(attrs, "email").unwrap_or_default().to_string(),
        enabled,
        status: IdentityStatus::parse(status.map(|s| s.as_str()).unwrap_or("UNKNOWN")),
        created_at: created.and_then(|d| {
            chrono::DateTime::<chrono::Utc>::from_timestamp(d.secs(), d.subsec_nanos())
        }),
        registration_marker: attr(attrs, &marker_attribute()).map(str::to_string),
    })
}

fn from_user(u: &UserType) -> DirectoryResult<Identity> {
    to_identity(
        u.username(),
        u.attributes(),
        u.enabled(),
        u.user_status(),
        u.user_create_date(),
    )
}

fn build_attr(name: &str, value: &str) -> DirectoryResult<AttributeType> {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(|e| DirectoryError::InvalidInput(e.to_string()))
}

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

#[async_trait]
impl Directory for CognitoDirectory {
    fn kind(&self) -> &'static str {
        "cognito"
    }

    async fn create_user(&self, new: &NewIdentity) -> DirectoryResult<Identity> {
        self.create(new, None).await
    }

    async fn create_registered_user(
        &self,
        new: &NewIdentity,
        registration: &str,
    ) -> DirectoryResult<Identity> {
        let marked = match self.supports_registration_marker().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("DescribeUserPool failed ({e}); creating without the marker");
                false
            }
        };
        self.create(new, marked.then_some(registration)).await
    }

    async fn supports_registration_marker(&self) -> DirectoryResult<bool> {
        if let Some(known) = self.marker.get() {
            return Ok(*known);
        }
        self.pace(Quota::Read).await;
        let out = self
            .client
            .describe_user_pool()
            .user_pool_id(&self.user_pool_id)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let name = marker_attribute();
        let has = out.user_pool().is_some_and(|p| {
            p.schema_attributes()
                .iter()
                .any(|a| a.name() == Some(name.as_str()))
        });
        if !has {
            tracing::warn!(
                "user pool {} has no {name} attribute: registrations cannot mark the identities \
                 they create, so an identity found after a lost answer is never adopted (see \
                 README, \"Proof of authorship\")",
                self.user_pool_id
            );
        }
        let _ = self.marker.set(has);
        Ok(has)
    }

    async fn get_user(&self, key: &UserKey) -> DirectoryResult<Identity> {
        match key {
            UserKey::Username(u) => self.get_by_username(u).await,
            UserKey::Email(e) => self.get_by_username(e.as_str()).await,
        }
    }

    async fn find_by_sub(&self, sub: UserSub) -> DirectoryResult<Identity> {
        // A canonical hyphenated UUID: cannot contain a quote or backslash.
        let filter = format!("sub = \"{}\"", sub.0.hyphenated());
        self.pace(Quota::List).await;
        let out = self
            .client
            .list_users()
            .user_pool_id(&self.user_pool_id)
            .filter(filter)
            .limit(1)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        match out.users().first() {
            Some(u) => from_user(u),
            None => Err(DirectoryError::NotFound(format!("sub {}", sub.0))),
        }
    }

    async fn list_page(&self, cursor: Option<&str>) -> DirectoryResult<IdentityPage> {
        self.pace(Quota::List).await;
        let out = self
            .client
            .list_users()
            .user_pool_id(&self.user_pool_id)
            .limit(LIST_LIMIT)
            .set_pagination_token(cursor.map(str::to_string))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let identities = out
            .users()
            .iter()
            .map(from_user)
            .collect::<DirectoryResult<Vec<_>>>()?;
        Ok(IdentityPage {
            identities,
            next: out
                .pagination_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        })
    }

    async fn set_enabled(&self, username: &str, enabled: bool) -> DirectoryResult<()> {
        check_value("username", username)?;
        self.pace(Quota::Update).await;
        if enabled {
            self.client
                .admin_enable_user()
                .user_pool_id(&self.user_pool_id)
                .username(username)
                .send()
                .await
                .map_err(|e| classify(&e))?;
        } else {
            self.client
                .admin_disable_user()
                .user_pool_id(&self.user_pool_id)
                .username(username)
                .send()
                .await
                .map_err(|e| classify(&e))?;
        }
        Ok(())
    }

    async fn delete_user(&self, username: &str) -> DirectoryResult<()> {
        check_value("username", username)?;
        self.pace(Quota::Update).await;
        self.client
            .admin_delete_user()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    async fn resend_invite(&self, username: &str) -> DirectoryResult<()> {
        check_value("username", username)?;
        self.pace(Quota::Create).await;
        self.client
            .admin_create_user()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .message_action(MessageActionType::Resend)
            .desired_delivery_mediums(DeliveryMediumType::Email)
            .customize()
            .config_override(single_attempt())
            .send()
            .await
            .map_err(|e| match classify(&e) {
                DirectoryError::Unavailable(m) => DirectoryError::Unavailable(format!(
                    "{m}; the invitation may or may not have been sent (not retried: each \
                     attempt sends an email) — check with the user before resending"
                )),
                other => other,
            })?;
        Ok(())
    }

    async fn authenticate(&self, email: &Email, password: &Secret) -> DirectoryResult<AuthOutcome> {
        let username = email.as_str();
        check_value("email", username)?;
        let out = self
            .client
            .admin_initiate_auth()
            .user_pool_id(&self.user_pool_id)
            .client_id(&self.client_id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", password.expose())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        self.outcome(
            username,
            out.challenge_name(),
            out.session(),
            out.challenge_parameters(),
        )
        .await
    }

    async fn respond_new_password(
        &self,
        challenge: &NewPasswordChallenge,
        new_password: &Secret,
    ) -> DirectoryResult<AuthOutcome> {
        self.respond(
            ChallengeNameType::NewPasswordRequired,
            &challenge.username,
            &challenge.session,
            &[("NEW_PASSWORD", new_password.expose())],
        )
        .await
    }

    async fn respond_mfa_code(
        &self,
        challenge: &MfaChallenge,
        code: &TotpCode,
    ) -> DirectoryResult<AuthOutcome> {
        self.respond(
            ChallengeNameType::SoftwareTokenMfa,
            &challenge.username,
            &challenge.session,
            &[("SOFTWARE_TOKEN_MFA_CODE", code.expose())],
        )
        .await
    }

    async fn associate_software_token(
        &self,
        challenge: &MfaChallenge,
    ) -> DirectoryResult<MfaEnrolment> {
        let out = self
            .client
            .associate_software_token()
            .session(challenge.session.expose())
            .customize()
            .config_override(single_attempt())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let secret = out.secret_code().ok_or_else(|| {
            DirectoryError::Rejected("AssociateSoftwareToken returned no secret".into())
        })?;
        let secret = TotpSecret::from_base32(secret).map_err(|e| {
            DirectoryError::Rejected(format!("AssociateSoftwareToken returned {e}"))
        })?;
        let session = out
            .session()
            .map(Secret::new)
            .unwrap_or_else(|| challenge.session.clone());
        Ok(MfaEnrolment {
            username: challenge.username.clone(),
            secret,
            session,
        })
    }

    async fn verify_software_token(
        &self,
        enrolment: &MfaEnrolment,
        code: &TotpCode,
    ) -> DirectoryResult<AuthOutcome> {
        check_value("username", &enrolment.username)?;
        let verified = self
            .client
            .verify_software_token()
            .session(enrolment.session.expose())
            .user_code(code.expose())
            .friendly_device_name("hubdeck")
            .send()
            .await
            .map_err(|e| classify(&e))?;
        if verified.status() != Some(&VerifySoftwareTokenResponseType::Success) {
            return Err(DirectoryError::NotAuthorized(WRONG_CODE.to_string()));
        }
        let session = verified
            .session()
            .map(Secret::new)
            .unwrap_or_else(|| enrolment.session.clone());
        let outcome = self
            .respond(
                ChallengeNameType::MfaSetup,
                &enrolment.username,
                &session,
                &[],
            )
            .await?;
        if matches!(outcome, AuthOutcome::Authenticated { .. }) {
            // Make the verified token the preferred MFA, so every later sign-in asks for it.
            self.pace(Quota::Update).await;
            if let Err(e) = self
                .client
                .admin_set_user_mfa_preference()
                .user_pool_id(&self.user_pool_id)
                .username(&enrolment.username)
                .software_token_mfa_settings(
                    SoftwareTokenMfaSettingsType::builder()
                        .enabled(true)
                        .preferred_mfa(true)
                        .build(),
                )
                .send()
                .await
            {
                tracing::warn!(
                    "could not make the software token the preferred MFA: {}",
                    classify(&e)
                );
            }
        }
        Ok(outcome)
    }

    async fn set_password(
        &self,
        username: &str,
        password: &Secret,
        permanent: bool,
    ) -> DirectoryResult<()> {
        check_value("username", username)?;
        self.pace(Quota::Update).await;
        self.client
            .admin_set_user_password()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .password(password.expose())
            .permanent(permanent)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    async fn temporary_password_validity_days(&self) -> DirectoryResult<u32> {
        self.pace(Quota::Read).await;
        let out = self
            .client
            .describe_user_pool()
            .user_pool_id(&self.user_pool_id)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let days = out
            .user_pool()
            .and_then(|p| p.policies())
            .and_then(|p| p.password_policy())
            .map(|p| p.temporary_password_validity_days())
            .and_then(|d| u32::try_from(d).ok())
            .filter(|d| *d > 0);
        Ok(days.unwrap_or(super::DEFAULT_TEMPORARY_PASSWORD_DAYS))
    }

    async fn estimated_count(&self) -> DirectoryResult<Option<u64>> {
        self.pace(Quota::Read).await;
        let out = self
            .client
            .describe_user_pool()
            .user_pool_id(&self.user_pool_id)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(out
            .user_pool()
            .and_then(|p| u64::try_from(p.estimated_number_of_users()).ok()))
    }

    async fn health(&self) -> DirectoryResult<()> {
        self.pace(Quota::Read).await;
        self.client
            .describe_user_pool()
            .user_pool_id(&self.user_pool_id)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        use DirectoryError as D;
        let c = |s: Option<u16>, code: Option<&str>| classify_status_code(s, code, "m");
        assert!(matches!(c(Some(503), None), D::Unavailable(_)));
        assert!(matches!(
            c(Some(500), Some("InternalErrorException")),
            D::Unavailable(_)
        ));
        assert!(matches!(c(Some(502), None), D::Unavailable(_)));
        assert!(matches!(c(Some(429), None), D::Throttled(_)));
        for code in [
            "TooManyRequestsException",
            "ThrottlingException",
            "LimitExceededException",
        ] {
            assert!(
                matches!(c(Some(400), Some(code)), D::Throttled(_)),
                "{code}"
            );
        }
        assert!(matches!(
            c(Some(400), Some("UserNotFoundException")),
            D::NotFound(_)
        ));
        assert!(matches!(
            c(Some(400), Some("UsernameExistsException")),
            D::AlreadyExists(_)
        ));
        assert!(matches!(
            c(Some(400), Some("InvalidParameterException")),
            D::InvalidInput(_)
        ));
        assert!(matches!(
            c(Some(400), Some("InvalidPasswordException")),
            D::InvalidInput(_)
        ));
        assert!(matches!(
            c(Some(400), Some("NotAuthorizedException")),
            D::NotAuthorized(_)
        ));
        assert!(matches!(
            c(Some(400), Some("UnsupportedUserStateException")),
            D::Rejected(_)
        ));
        assert!(matches!(c(Some(404), None), D::Rejected(_)));
        assert!(!c(Some(404), None).is_transient());
        assert!(c(Some(503), None).is_transient());
    }

    #[test]
    fn filter_values_with_quotes_or_backslashes_are_refused() {
        assert!(check_value("email", "a@x.org").is_ok());
        assert!(matches!(
            check_value("email", "a\"b@x.org"),
            Err(DirectoryError::InvalidInput(_))
        ));
        assert!(matches!(
            check_value("email", "a\\b@x.org"),
            Err(DirectoryError::InvalidInput(_))
        ));
    }

    #[tokio::test]
    async fn pacer_spaces_requests() {
        let p = Pacer::new(100);
        let t = tokio::time::Instant::now();
        for _ in 0..5 {
            p.acquire().await;
        }
        // 5 requests at 100/s: the 5th waits at least 4 intervals.
        assert!(t.elapsed() >= Duration::from_millis(40));
    }
}
