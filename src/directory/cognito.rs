//! `CognitoDirectory`: AWS Cognito user pools through aws-sdk-cognitoidentityprovider.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_cognitoidentityprovider as cip;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use crate::config::DirectorySettings;

/// Builds the SDK client once (clone it freely): explicit HTTP client on rustls+ring, explicit
/// connect/attempt/operation timeouts, bounded retries, optional endpoint override (emulator).
pub async fn sdk_client(settings: &DirectorySettings) -> cip::Client {
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
    let conf = loader.load().await;
    cip::Client::new(&conf)
}
