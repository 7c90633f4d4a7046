//! The live view's marks on a table: rows another operator changed a moment ago ("changed by
//! X 4 s ago"), and a row that disappeared from the list. The marks fade after [`MARK_FOR`].

use chrono::{DateTime, Utc};

use crate::domain::DisplayText;

/// How long a changed row stays marked.
pub const MARK_FOR: chrono::TimeDelta = chrono::TimeDelta::seconds(15);

/// One change shown on a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveMark {
    /// The row's key (the record id its `TableRow::key` gives).
    pub key: String,
    /// Who changed it (sanitized when made).
    pub who: String,
    /// What happened, in words ("updated", "deleted").
    pub what: String,
    pub at: DateTime<Utc>,
}

impl LiveMark {
    pub fn new(key: String, who: &str, action: &str, at: DateTime<Utc>) -> Self {
        Self {
            key,
            who: DisplayText::with_max(who, 60).into_string(),
            what: action_words(action),
            at,
        }
    }

    /// Still worth showing at `now`.
    pub fn fresh(&self, now: DateTime<Utc>) -> bool {
        now - self.at < MARK_FOR
    }
}

/// "MANDATE_UPDATED" → "updated" (the verb of the audit action, lower case).
pub fn action_words(action: &str) -> String {
    let verb = action.rsplit('_').next().unwrap_or(action);
    DisplayText::with_max(&verb.to_ascii_lowercase(), 24).into_string()
}

/// "4 s ago", "2 min ago" (never negative: clocks of two machines may disagree a little).
pub fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - at).num_seconds().max(0);
    if s < 120 {
        format!("{s} s ago")
    } else {
        format!("{} min ago", s / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_say_what_who_and_how_long_ago_and_fade() {
        let now = Utc::now();
        let m = LiveMark::new(
            "k".into(),
            "eve\u{1b}[31m@x",
            "MANDATE_UPDATED",
            now - chrono::TimeDelta::seconds(4),
        );
        assert_eq!(m.what, "updated");
        assert!(!m.who.contains('\u{1b}'), "sanitized: {:?}", m.who);
        assert_eq!(ago(m.at, now), "4 s ago");
        assert!(m.fresh(now));
        assert!(!m.fresh(now + MARK_FOR));
        assert_eq!(ago(now + chrono::TimeDelta::seconds(3), now), "0 s ago");
        assert_eq!(ago(now - chrono::TimeDelta::seconds(300), now), "5 min ago");
    }
}
