//! What a Cognito failure means for the caller: transient, definitive, a credentials problem.

#[allow(unused_imports)]
use super::*;

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
pub(super) fn credentials_error<'a>(
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
pub(super) fn no_credentials_message(
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
