//! Audit-trail types without I/O: the time range an operator asks for.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};

use super::{DisplayText, ValidationError};

/// A half-open time range `[from, to)`; either end may be open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Which end of a range a typed time is for: `until 2026-11-20` includes that whole day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Since,
    Until,
}

impl TimeRange {
    /// The one parser of operator-typed times, for the CLI (`--since/--until`) and the
    /// console (`since`/`until` in the palette). Accepted forms (UTC unless the RFC 3339 text
    /// carries an offset): RFC 3339 (`2026-11-20T12:00:00Z`), `YYYY-MM-DD HH:MM` and
    /// `YYYY-MM-DD`. `since` is inclusive; `until` is exclusive of the instant given, except
    /// that a bare date or a minute includes all of it (`until 2026-11-20` ends at
    /// 2026-11-21T00:00Z, `until 2026-11-20 12:30` at 12:31). Empty or blank ends stay open.
    pub fn parse(since: Option<&str>, until: Option<&str>) -> Result<Self, ValidationError> {
        Self::parse_named(since, until, ["since", "until"])
    }

    /// [`TimeRange::parse`] with the names the caller's operator typed the ends under (the
    /// CLI's `--from`/`--to`), so an error names the flag.
    pub fn parse_named(
        since: Option<&str>,
        until: Option<&str>,
        [since_name, until_name]: [&'static str; 2],
    ) -> Result<Self, ValidationError> {
        let from = since
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_end(s, End::Since, since_name))
            .transpose()?;
        let to = until
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_end(s, End::Until, until_name))
            .transpose()?;
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            return Err(ValidationError::Invalid {
                field: until_name,
                message: format!("the range is empty: {until_name} must be after {since_name}"),
            });
        }
        Ok(Self { from, to })
    }

    pub fn is_open(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

fn parse_end(raw: &str, end: End, field: &'static str) -> Result<DateTime<Utc>, ValidationError> {
    let v = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    let minute = NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M")
        .ok()
        .map(|t| (t, TimeDelta::minutes(1)));
    let day = || {
        NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .ok()
            .map(|d| (d.and_time(NaiveTime::MIN), TimeDelta::days(1)))
    };
    let Some((start, span)) = minute.or_else(day) else {
        return Err(ValidationError::Invalid {
            field,
            message: format!(
                "time {} is none of YYYY-MM-DD, YYYY-MM-DD HH:MM or RFC 3339",
                DisplayText::with_max(v, 40)
            ),
        });
    };
    let t = match end {
        End::Since => start,
        End::Until => start
            .checked_add_signed(span)
            .ok_or_else(|| ValidationError::Invalid {
                field,
                message: "time out of range".into(),
            })?,
    };
    Ok(t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn time_range_parsing_table() {
        // (typed text, as `since`, as `until`)
        let table = [
            ("2026-11-20", "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"),
            (
                " 2026-11-20 ",
                "2026-11-20T00:00:00Z",
                "2026-11-21T00:00:00Z",
            ),
            ("2026-02-28", "2026-02-28T00:00:00Z", "2026-03-01T00:00:00Z"),
            ("2026-12-31", "2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z"),
            (
                "2026-11-20 12:30",
                "2026-11-20T12:30:00Z",
                "2026-11-20T12:31:00Z",
            ),
            (
                "2026-11-20T12:00:00Z",
                "2026-11-20T12:00:00Z",
                "2026-11-20T12:00:00Z",
            ),
            (
                "2026-11-20T13:00:00+01:00",
                "2026-11-20T12:00:00Z",
                "2026-11-20T12:00:00Z",
            ),
            (
                "2026-11-20T12:00:00.5Z",
                "2026-11-20T12:00:00.5Z",
                "2026-11-20T12:00:00.5Z",
            ),
        ];
        for (typed, since, until) in table {
            let r = TimeRange::parse(Some(typed), None).unwrap();
            assert_eq!(r.from, Some(at(since)), "since {typed:?}");
            assert_eq!(r.to, None);
            let r = TimeRange::parse(None, Some(typed)).unwrap();
            assert_eq!(r.to, Some(at(until)), "until {typed:?}");
            assert_eq!(r.from, None);
        }
        // The same day on both ends is that whole day.
        let r = TimeRange::parse(Some("2026-11-20"), Some("2026-11-20")).unwrap();
        assert_eq!(r.to.unwrap() - r.from.unwrap(), TimeDelta::days(1));
        // Blank ends stay open.
        assert!(TimeRange::parse(Some(""), Some("  ")).unwrap().is_open());
        assert!(TimeRange::parse(None, None).unwrap().is_open());
    }

    #[test]
    fn bad_times_are_refused_with_the_field_named() {
        for bad in [
            "yesterday",
            "2026-13-01",
            "2026-11-31",
            "20.11.2026",
            "2026-11-20 25:00",
        ] {
            let e = TimeRange::parse(Some(bad), None).unwrap_err();
            assert!(e.to_string().starts_with("since:"), "{bad}: {e}");
            let e = TimeRange::parse(None, Some(bad)).unwrap_err();
            assert!(e.to_string().starts_with("until:"), "{bad}: {e}");
        }
        let e = TimeRange::parse(Some("2026-11-21"), Some("2026-11-20")).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        // The CLI names its flags.
        let e = TimeRange::parse_named(Some("soon"), None, ["--from", "--to"]).unwrap_err();
        assert!(e.to_string().starts_with("--from:"), "{e}");
        // Untrusted text is sanitized in the message.
        let e = TimeRange::parse(Some("x\u{1b}[2J"), None).unwrap_err();
        assert!(!e.to_string().contains('\u{1b}'));
    }
}
