//! What `hubdeck doctor` asks a Cognito user pool, in hubdeck's own types: whether AWS
//! credentials resolve, the pool (MFA, estimated size), and whether the app client allows
//! `ADMIN_USER_PASSWORD_AUTH`. SDK types stay in this module.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cognitoidentityprovider as cip;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use chrono::{DateTime, Utc};
use cip::config::ProvideCredentials;

use super::DirectoryError;
use super::cognito::{check_value, classify, marker_attribute, sdk_config};
use crate::config::DirectorySettings;

/// The pool as DescribeUserPool reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolFacts {
    pub name: String,
    /// `OFF`, `ON` or `OPTIONAL`.
    pub mfa: String,
    pub estimated_users: u64,
    /// The schema has `custom:hubdeck_reg`, the registration saga's proof-of-authorship marker.
    pub registration_marker: bool,
    /// The directory's clock from the response's `Date` header (second precision), and this
    /// host's clock halfway through the request; None when the response had no usable date.
    pub clock: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// Keeps the `Date` header of the response it sees.
#[derive(Clone, Debug, Default)]
struct DateProbe(Arc<Mutex<Option<String>>>);

impl Intercept for DateProbe {
    fn name(&self) -> &'static str {
        "hubdeck-doctor-date-probe"
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(d) = context.response().headers().get("date")
            && let Ok(mut slot) = self.0.lock()
        {
            *slot = Some(d.to_string());
        }
        Ok(())
    }
}

/// The app client as DescribeUserPoolClient reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFacts {
    pub name: String,
    /// e.g. `ALLOW_ADMIN_USER_PASSWORD_AUTH`, `ALLOW_REFRESH_TOKEN_AUTH`.
    pub explicit_auth_flows: Vec<String>,
}

impl ClientFacts {
    /// Operator sign-in uses AdminInitiateAuth with ADMIN_USER_PASSWORD_AUTH (or the legacy
    /// ADMIN_NO_SRP_AUTH name of the same flow).
    pub fn allows_admin_password_auth(&self) -> bool {
        self.explicit_auth_flows
            .iter()
            .any(|f| f == "ALLOW_ADMIN_USER_PASSWORD_AUTH" || f == "ADMIN_NO_SRP_AUTH")
    }
}

/// Everything the doctor learns from Cognito.
#[derive(Clone, Debug)]
pub struct CognitoFacts {
    /// Where the credentials came from (never the credentials themselves).
    pub credentials: Result<String, DirectoryError>,
    /// `None` when not asked (no credentials).
    pub pool: Option<Result<PoolFacts, DirectoryError>>,
    /// `None` when not asked (no credentials, or no `client_id` configured).
    pub client: Option<Result<ClientFacts, DirectoryError>>,
}

/// Asks Cognito what the doctor needs. `budget` bounds the credential resolution (the default
/// chain may try the instance metadata service).
pub async fn cognito_facts(settings: &DirectorySettings, budget: Duration) -> CognitoFacts {
    let conf = sdk_config(settings).await;
    let credentials = match conf.credentials_provider() {
        None => Err(DirectoryError::Rejected(
            "no AWS credentials provider is configured".into(),
        )),
        Some(p) => match tokio::time::timeout(budget, p.provide_credentials()).await {
            Err(_) => Err(DirectoryError::Unavailable(format!(
                "resolving AWS credentials took longer than {} s",
                budget.as_secs()
            ))),
            Ok(Err(e)) => Err(DirectoryError::Rejected(short_cause(
                // The chain names the providers tried, never a secret.
                &cip::error::DisplayErrorContext(&e).to_string(),
            ))),
            Ok(Ok(c)) => {
                let key = c.access_key_id();
                let tail: String = key
                    .chars()
                    .rev()
                    .take(4)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                Ok(format!("access key …{tail}"))
            }
        },
    };
    if credentials.is_err() {
        return CognitoFacts {
            credentials,
            pool: None,
            client: None,
        };
    }
    let client = cip::Client::new(&conf);
    let pool = Some(describe_pool(&client, &settings.user_pool_id).await);
    let app = if settings.client_id.is_empty() {
        None
    } else {
        Some(describe_client(&client, &settings.user_pool_id, &settings.client_id).await)
    };
    CognitoFacts {
        credentials,
        pool,
        client: app,
    }
}

/// The readable head of an SDK error chain (the tail repeats it as Debug output).
fn short_cause(full: &str) -> String {
    let head = full.split(" (").next().unwrap_or(full).trim();
    if head.chars().count() > 240 {
        let mut s: String = head.chars().take(240).collect();
        s.push('…');
        s
    } else {
        head.to_string()
    }
}

async fn describe_pool(client: &cip::Client, pool_id: &str) -> Result<PoolFacts, DirectoryError> {
    check_value("user pool id", pool_id)?;
    let probe = DateProbe::default();
    let before = Utc::now();
    let out = client
        .describe_user_pool()
        .user_pool_id(pool_id)
        .customize()
        .interceptor(probe.clone())
        .send()
        .await
        .map_err(|e| classify(&e))?;
    let after = Utc::now();
    let date = probe.0.lock().ok().and_then(|d| d.clone());
    let clock = date
        .and_then(|d| DateTime::parse_from_rfc2822(&d).ok())
        .map(|d| (d.with_timezone(&Utc), before + (after - before) / 2));
    let p = out
        .user_pool()
        .ok_or_else(|| DirectoryError::Rejected("DescribeUserPool returned no pool".into()))?;
    Ok(PoolFacts {
        name: p.name().unwrap_or_default().to_string(),
        mfa: p
            .mfa_configuration()
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| "OFF".into()),
        estimated_users: u64::try_from(p.estimated_number_of_users()).unwrap_or(0),
        registration_marker: p
            .schema_attributes()
            .iter()
            .any(|a| a.name() == Some(marker_attribute().as_str())),
        clock,
    })
}

async fn describe_client(
    client: &cip::Client,
    pool_id: &str,
    client_id: &str,
) -> Result<ClientFacts, DirectoryError> {
    check_value("client id", client_id)?;
    let out = client
        .describe_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(client_id)
        .send()
        .await
        .map_err(|e| classify(&e))?;
    let c = out.user_pool_client().ok_or_else(|| {
        DirectoryError::Rejected("DescribeUserPoolClient returned no client".into())
    })?;
    Ok(ClientFacts {
        name: c.client_name().unwrap_or_default().to_string(),
        explicit_auth_flows: c
            .explicit_auth_flows()
            .iter()
            .map(|f| f.as_str().to_string())
            .collect(),
    })
}
