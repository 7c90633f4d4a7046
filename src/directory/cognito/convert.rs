//! Cognito user records to and from the directory's own types.

use super::*;

pub(super) fn attr<'a>(attrs: &'a [AttributeType], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|a| a.name() == name)
        .and_then(|a| a.value())
}

pub(super) fn to_identity(
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

pub(super) fn from_user(u: &UserType) -> DirectoryResult<Identity> {
    to_identity(
        u.username(),
        u.attributes(),
        u.enabled(),
        u.user_status(),
        u.user_create_date(),
    )
}

pub(super) fn build_attr(name: &str, value: &str) -> DirectoryResult<AttributeType> {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(|e| DirectoryError::InvalidInput(e.to_string()))
}
