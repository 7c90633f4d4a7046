//! The directory lines of the doctor report: the pool, its settings, the clock of its endpoint.

use super::Check;
use std::time::Duration;

use chrono::Utc;

use crate::config::{DirectoryKind, Settings};
use crate::directory::DirectoryError;
use crate::directory::diagnose::{CognitoFacts, PoolFacts, cognito_facts};

pub(super) async fn directory_checks(
    s: &Settings,
    db: Option<&crate::store::Db>,
    checks: &mut Vec<Check>,
) {
    match s.directory.kind {
        DirectoryKind::Local => {
            let Some(db) = db else {
                checks.push(Check::skip(
                    "directory",
                    "local directory: needs the database",
                ));
                return;
            };
            let local = crate::directory::local::LocalDirectory::new(db.clone());
            use crate::directory::Directory as _;
            match (local.health().await, local.estimated_count().await) {
                (Ok(()), Ok(n)) => checks.push(Check::pass(
                    "directory",
                    format!(
                        "local directory on the database ({} identities)",
                        n.unwrap_or(0)
                    ),
                )),
                (Err(e), _) | (_, Err(e)) => checks.push(Check::fail(
                    "directory",
                    format!("local directory: {e}"),
                    "run hubdeck migrate (the local directory's tables come with the migrations)",
                )),
            }
        }
        DirectoryKind::Cognito => {
            let facts = cognito_facts(&s.directory, Duration::from_secs(10)).await;
            cognito_checks(s, &facts, checks);
        }
    }
}

/// Turns what Cognito said into lines (pure; unit-tested).
pub fn cognito_checks(s: &Settings, facts: &CognitoFacts, checks: &mut Vec<Check>) {
    let d = &s.directory;
    let target = if d.endpoint_url.is_empty() {
        format!("{} in {}", d.user_pool_id, d.region)
    } else {
        format!("{} at {}", d.user_pool_id, d.endpoint_url)
    };
    match &facts.credentials {
        Ok(src) => checks.push(Check::pass(
            "directory.credentials",
            format!("AWS credentials resolved ({src})"),
        )),
        Err(e) => checks.push(Check::fail(
            "directory.credentials",
            format!("no AWS credentials: {e}"),
            "provide credentials the default chain finds: AWS_PROFILE (aws sso login / aws \
             configure), AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, or an instance/task role",
        )),
    }
    match &facts.pool {
        None => checks.push(Check::skip("directory.pool", "needs AWS credentials")),
        Some(Ok(p)) => checks.push(Check::pass(
            "directory.pool",
            format!(
                "user pool {target} ({:?}, about {} users)",
                p.name, p.estimated_users
            ),
        )),
        Some(Err(e)) => checks.push(Check::fail(
            "directory.pool",
            format!("user pool {target}: {e}"),
            pool_remedy(e),
        )),
    }
    match &facts.client {
        None if d.client_id.is_empty() => checks.push(Check::fail(
            "directory.client",
            "directory.client_id is empty: operators cannot sign in",
            "set directory.client_id to an app client of the pool that allows \
             ADMIN_USER_PASSWORD_AUTH",
        )),
        None => checks.push(Check::skip("directory.client", "needs AWS credentials")),
        Some(Ok(c)) if c.allows_admin_password_auth() => checks.push(Check::pass(
            "directory.client",
            format!(
                "app client {} ({:?}) allows ADMIN_USER_PASSWORD_AUTH",
                d.client_id, c.name
            ),
        )),
        Some(Ok(c)) => checks.push(Check::fail(
            "directory.client",
            format!(
                "app client {} ({:?}) does not allow ADMIN_USER_PASSWORD_AUTH (explicit auth flows: {})",
                d.client_id,
                c.name,
                if c.explicit_auth_flows.is_empty() {
                    "none".to_string()
                } else {
                    c.explicit_auth_flows.join(", ")
                }
            ),
            format!(
                "add the flow: aws cognito-idp update-user-pool-client --user-pool-id {} \
                 --client-id {} --explicit-auth-flows ALLOW_ADMIN_USER_PASSWORD_AUTH \
                 ALLOW_REFRESH_TOKEN_AUTH (the update replaces the list: keep the flows you use)",
                d.user_pool_id, d.client_id
            ),
        )),
        Some(Err(e)) => checks.push(Check::fail(
            "directory.client",
            format!("app client {}: {e}", d.client_id),
            "check directory.client_id (an app client of this pool) and that the credentials \
             may call cognito-idp:DescribeUserPoolClient",
        )),
    }
    match &facts.pool {
        Some(Ok(p)) => checks.push(match p.mfa.as_str() {
            "OFF" => Check::pass("directory.mfa", "MFA off"),
            "OPTIONAL" => Check::pass(
                "directory.mfa",
                "MFA optional: operators who enrolled an authenticator app are asked for its \
                 code at sign-in (SMS and email codes are not answered)",
            ),
            "ON" => Check::pass(
                "directory.mfa",
                "MFA required: sign-in asks for an authenticator-app code and sets one up on \
                 the first sign-in (SMS and email codes are not answered)",
            ),
            other => Check::warn(
                "directory.mfa",
                format!("MFA configuration {other} is not one hubdeck knows"),
                "use MFA OFF, OPTIONAL or ON with software-token (authenticator app) MFA",
            ),
        }),
        _ => checks.push(Check::skip("directory.mfa", "needs the user pool")),
    }
    checks.push(match &facts.pool {
        Some(Ok(p)) if p.registration_marker => Check::pass(
            "directory.registration_marker",
            format!(
                "the pool's schema has {}: registrations can prove which identity they created",
                crate::directory::cognito::marker_attribute()
            ),
        ),
        Some(Ok(_)) => Check::warn(
            "directory.registration_marker",
            format!(
                "the pool's schema has no {}: after a lost AdminCreateUser answer a registration \
                 cannot prove the identity is its own and ends `conflict` for an operator",
                crate::directory::cognito::marker_attribute()
            ),
            format!(
                "aws cognito-idp add-custom-attributes --user-pool-id {} --custom-attributes \
                 Name={},AttributeDataType=String,Mutable=false,StringAttributeConstraints={{MinLength=36,MaxLength=36}}",
                d.user_pool_id,
                crate::directory::REGISTRATION_ATTRIBUTE
            ),
        ),
        _ => Check::skip("directory.registration_marker", "needs the user pool"),
    });
    checks.push(match &facts.pool {
        Some(Ok(PoolFacts {
            clock: Some((theirs, ours)),
            ..
        })) => directory_clock_check(*theirs, *ours),
        Some(Ok(_)) => Check::skip(
            "clock.directory",
            "not measurable: the directory's response carried no Date header",
        ),
        _ => Check::skip("clock.directory", "needs the user pool"),
    });
}

/// The directory's `Date` (whole seconds) against this host: SigV4 refuses requests more
/// than 5 minutes off, so a minute is worth a warning and four fail.
pub fn directory_clock_check(theirs: chrono::DateTime<Utc>, ours: chrono::DateTime<Utc>) -> Check {
    let skew = (theirs - ours).abs();
    let secs = skew.num_milliseconds() as f64 / 1000.0;
    let detail = format!(
        "directory clock {} host by about {secs:.0} s (HTTP Date, ±1 s)",
        if theirs >= ours { "ahead of" } else { "behind" }
    );
    let remedy = "synchronise this host's clock (chrony/systemd-timesyncd): AWS refuses signed \
                  requests more than 5 minutes off";
    if secs >= 240.0 {
        Check::fail("clock.directory", detail, remedy)
    } else if secs >= 60.0 {
        Check::warn("clock.directory", detail, remedy)
    } else {
        Check::pass("clock.directory", detail)
    }
}

fn pool_remedy(e: &DirectoryError) -> String {
    match e {
        DirectoryError::NotFound(_) | DirectoryError::Rejected(_) => {
            "check directory.user_pool_id and directory.region, and that the credentials may \
             call cognito-idp:DescribeUserPool"
                .into()
        }
        DirectoryError::NotAuthorized(_) => {
            "the credentials are not allowed: grant cognito-idp:Describe* and the Admin* \
             actions hubdeck uses"
                .into()
        }
        _ => "the directory did not answer: check the network path (VPC endpoint, proxy, \
              directory.endpoint_url) and retry"
            .into(),
    }
}
