//! `doctor`'s checks of the files that hold credentials: a config file with a database password
//! or a secret, and the `hubdeck login` session file. On a shared bastion these belong to the
//! service account that runs hubdeck and are readable by it alone (0600); a copy readable by
//! group or others, or owned by the operator who reached hubdeck through `sudo`, hands the
//! credentials to people whose roles should have limited them.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::health::{Check, Status};
use crate::config::DatabaseUrl;

/// What a config file holds that must stay private, if anything (a description, no value).
pub fn credentials_in(text: &str) -> Option<String> {
    let value: toml::Value = toml::from_str(text).ok()?;
    let mut found = Vec::new();
    walk(&value, "", &mut found);
    if found.is_empty() {
        None
    } else {
        Some(found.join(", "))
    }
}

fn walk(v: &toml::Value, path: &str, found: &mut Vec<String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(v, &p, found);
            }
        }
        toml::Value::String(s) if !s.is_empty() => {
            let key = path.rsplit('.').next().unwrap_or(path).to_ascii_lowercase();
            let is_url_password = key == "url" && DatabaseUrl::new(s.clone()).redacted() != *s;
            let named_secret = ["password", "secret", "credential", "token"]
                .iter()
                .any(|w| key.contains(w));
            if is_url_password {
                found.push(format!("a password in {path}"));
            } else if named_secret {
                found.push(path.to_string());
            }
        }
        _ => {}
    }
}

/// The uid of an account name (`getpwnam_r`), for the sudo caller.
fn uid_of(name: &str) -> Option<libc::uid_t> {
    let c = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: `pwd` is plain old data filled by getpwnam_r into `buf` (length passed); `result`
    // is set to `&pwd` on success or null when the name is unknown.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe {
        libc::getpwnam_r(
            c.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then_some(pwd.pw_uid)
}

/// Why a private file is not private enough, if it is not.
fn exposure(path: &Path, meta: &std::fs::Metadata) -> Option<String> {
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Some(format!(
            "{} is readable or writable by group or others (mode {mode:o})",
            path.display()
        ));
    }
    if let Some(invoker) = super::actor::invoking_account()
        && uid_of(&invoker) == Some(meta.uid())
        // SAFETY: geteuid has no preconditions.
        && meta.uid() != unsafe { libc::geteuid() }
    {
        return Some(format!(
            "{} belongs to {invoker}, who reached hubdeck through sudo: the operator can read \
             it without hubdeck",
            path.display()
        ));
    }
    None
}

/// One check per config file that holds credentials (`files.config`), and one for the session
/// file when there is one (`files.session`). Problems are warnings: hubdeck still works.
pub fn checks(config_files: &[PathBuf], session_file: Option<&Path>) -> Vec<Check> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut holding = Vec::new();
    for path in config_files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let Some(what) = credentials_in(&text) else {
            continue;
        };
        holding.push(path.display().to_string());
        if let Ok(meta) = std::fs::metadata(path)
            && let Some(why) = exposure(path, &meta)
        {
            problems.push(format!("{why}; it holds {what}"));
        }
    }
    out.push(if holding.is_empty() {
        Check {
            id: "files.config",
            status: Status::Pass,
            detail: "no config file holds a password or secret".into(),
            remedy: None,
        }
    } else if problems.is_empty() {
        Check {
            id: "files.config",
            status: Status::Pass,
            detail: format!("private to this account: {}", holding.join(", ")),
            remedy: None,
        }
    } else {
        Check {
            id: "files.config",
            status: Status::Warn,
            detail: problems.join("; "),
            remedy: Some(
                "chmod 600 the file and chown it to the service account that runs hubdeck; \
                 operators reach hubdeck through that account (README: Shared bastion)"
                    .into(),
            ),
        }
    });
    if let Some(path) = session_file
        && let Ok(meta) = std::fs::symlink_metadata(path)
    {
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        let problem = if meta.file_type().is_symlink() {
            Some(format!("{} is a symbolic link", path.display()))
        } else if meta.uid() != me {
            Some(format!(
                "{} belongs to uid {}, not to this account",
                path.display(),
                meta.uid()
            ))
        } else {
            exposure(path, &meta)
        };
        out.push(match problem {
            None => Check {
                id: "files.session",
                status: Status::Pass,
                detail: format!("{} is 0600", path.display()),
                remedy: None,
            },
            Some(why) => Check {
                id: "files.session",
                status: Status::Warn,
                detail: format!("{why}; hubdeck refuses to use it"),
                remedy: Some("run `hubdeck logout`, then `hubdeck login` again".into()),
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_passwords_and_secrets_but_not_plain_settings() {
        assert_eq!(
            credentials_in(
                "[database]\nurl = \"postgres://app@db/hub\"\n[trusts]\nkey_prefix = \"hubk\"\n"
            ),
            None
        );
        let found =
            credentials_in("[env.prod]\ndatabase = { url = \"postgres://app:s3cret@db/hub\" }\n")
                .unwrap();
        assert!(found.contains("env.prod.database.url"), "{found}");
        assert!(
            !found.contains("s3cret"),
            "the value is never repeated: {found}"
        );
        assert!(credentials_in("aws_secret_access_key = \"x\"\n").is_some());
    }
}
