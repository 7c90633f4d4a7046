//! The database URL: a secret that never prints its password (Debug, Display and every
//! error message go through the redaction here) and is wiped on drop.

use super::secrets;
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::Zeroize;

/// The database URL. Debug/Display never show the password.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The full URL including any password. Only for opening connections.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The URL with any password replaced by `***`.
    ///
    /// Fails safe rather than pretty: the userinfo ends at the LAST `@` (a password may hold
    /// `@`, `/`, `?` or `#`, raw or percent-encoded), everything after the user name's first
    /// `:` up to there is hidden, and every query parameter whose percent-decoded name is
    /// `password` or `sslpassword` in any case is hidden too. A string that is not a
    /// `scheme://` URL at all is never echoed.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }

    /// The raw password text as [`Self::redacted`] sees it (to scrub it from driver messages).
    pub fn password_fragment(&self) -> Option<&str> {
        let (_, rest) = self.0.split_once("://")?;
        let at = rest.rfind('@')?;
        let (_, pw) = rest[..at].split_once(':')?;
        Some(pw)
    }

    /// Refuses a password query parameter spelt in another case (`PASSWORD=`): the driver
    /// would ignore it and log its value. The error names the key, never the value.
    pub fn check_password_params(&self) -> Result<(), String> {
        let Some((_, query)) = self.0.split_once('?') else {
            return Ok(());
        };
        for pair in query.split('&') {
            let key = pair.split_once('=').map(|(k, _)| k).unwrap_or(pair);
            let decoded = percent_decode(key).replace('+', " ");
            if is_password_key(key) && decoded != "password" && decoded != "sslpassword" {
                return Err(format!(
                    "database.url: write the query parameter `{}` as `password` (lower case)",
                    crate::domain::DisplayText::with_max(&decoded, 40)
                ));
            }
            secrets::refuse_unknown_password_param(&decoded)?;
        }
        Ok(())
    }

    /// Whether the URL carries a password (in its userinfo or as a query parameter).
    pub fn holds_password(&self) -> bool {
        self.password_fragment().is_some_and(|p| !p.is_empty())
            || self.0.split_once('?').is_some_and(|(_, q)| {
                q.split('&')
                    .any(|pair| is_password_key(pair.split_once('=').map_or(pair, |(k, _)| k)))
            })
    }
}

fn redact_url(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return format!(
            "<unparseable database URL, {} characters, hidden>",
            s.chars().count()
        );
    };
    let scheme = &s[..scheme_end];
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return format!(
            "<unparseable database URL, {} characters, hidden>",
            s.chars().count()
        );
    }
    let rest = &s[scheme_end + 3..];
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..scheme_end + 3]);
    let after_auth = match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push('@');
            &rest[at + 1..]
        }
        None => rest,
    };
    let (before_query, query) = match after_auth.find('?') {
        Some(q) => (&after_auth[..q], Some(&after_auth[q + 1..])),
        None => (after_auth, None),
    };
    out.push_str(before_query);
    if let Some(query) = query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((key, _)) if is_password_key(key) => {
                    out.push_str(key);
                    out.push_str("=***");
                }
                _ => out.push_str(pair),
            }
        }
    }
    out
}

/// True when a query key, percent-decoded (and `+` as space), names a password in any case.
fn is_password_key(key: &str) -> bool {
    let decoded = percent_decode(key).replace('+', " ");
    let k = decoded.trim().to_ascii_lowercase();
    k == "password" || k == "sslpassword"
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

impl Drop for DatabaseUrl {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}
