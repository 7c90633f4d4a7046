//! Writes conditional on what the operator saw. A form or confirmation carries the version of
//! the row it showed; the mutation compares it with the row's version under the row's lock, in
//! the write's own transaction, and refuses with a conflict naming who changed it, when and
//! what (from the audit) instead of overwriting a change the operator never saw.

use serde::Serialize;

use super::{ServiceError, ServiceResult};
use crate::domain::DisplayText;
use crate::store::versions::LastChange;

/// A row's version as shown to the operator (moved on by every committed change).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Version(pub i64);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for Version {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse().map(Version)
    }
}

/// Refuses when the operator saw another version than the one now under lock. `None` (a
/// script without `--expect-version`) always passes.
pub(crate) fn check(
    expected: Option<Version>,
    now: i64,
    what: &str,
    last: Option<LastChange>,
) -> ServiceResult<()> {
    match expected {
        Some(v) if v.0 != now => Err(ServiceError::Conflict(conflict_message(
            what,
            v,
            now,
            last.as_ref(),
        ))),
        _ => Ok(()),
    }
}

/// "mandate «x» was changed by bob@x (cli) 4 s ago: enabled true → false — nothing was
/// written (you saw version 3, it is at 4); review the current state and try again". Who and
/// what come first: a form shows the first line.
pub fn conflict_message(what: &str, saw: Version, now: i64, last: Option<&LastChange>) -> String {
    let by = match last {
        Some(c) => format!("was {}", describe(c)),
        None => "was changed by somebody else".to_string(),
    };
    format!(
        "{what} {by} — nothing was written (you saw version {saw}, it is at {now}); review the \
         current state and try again"
    )
}

/// "changed by bob@x (cli) 4 s ago: enabled true → false".
pub fn describe(c: &LastChange) -> String {
    let who = c.who.as_deref().unwrap_or("an unknown operator");
    let secs = c.seconds_ago.max(0.0).round() as i64;
    let ago = if secs < 120 {
        format!("{secs} s ago")
    } else if secs < 7200 {
        format!("{} min ago", secs / 60)
    } else {
        format!("at {}", c.at.format("%Y-%m-%d %H:%M UTC"))
    };
    let what = diff(&c.details).unwrap_or_else(|| c.action.to_lowercase());
    DisplayText::new(&format!("changed by {who} ({}) {ago}: {what}", c.via)).into_string()
}

/// The fields a before/after audit detail changed: "enabled true → false, label a → b".
fn diff(details: &serde_json::Value) -> Option<String> {
    let before = details.get("before")?;
    let after = details.get("after")?;
    let show = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => "(none)".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    match (before.as_object(), after.as_object()) {
        (Some(b), Some(a)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            let parts: Vec<String> = keys
                .into_iter()
                .filter(|k| b.get(*k) != a.get(*k))
                .map(|k| format!("{k} {} → {}", show(b.get(k)), show(a.get(k))))
                .collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        _ => (before != after).then(|| format!("{} → {}", show(Some(before)), show(Some(after)))),
    }
}
