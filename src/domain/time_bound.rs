//! Time-range bounds as operators type them (issue 14): a date (`2026-12-01`), a date-time
//! (`2026-12-01 18:40`, `2026-12-01T18:40:05`) in UTC, or RFC 3339 with an offset. A bound
//! covers the whole unit it names: `until 2026-12-01` includes that day, `until 18:40`
//! includes that minute; `from` starts at the beginning of the unit. A bound that does not
//! parse is an error naming what was expected — nothing is applied.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

use super::{DisplayText, ValidationError};

/// Which side of a range a bound is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Inclusive lower bound: the start of the unit.
    From,
    /// Exclusive upper bound: the end of the unit (so the unit itself is included).
    Until,
}

/// The accepted forms, for messages and help.
pub const FORMS: &str = "YYYY-MM-DD, YYYY-MM-DD HH:MM, YYYY-MM-DD HH:MM:SS (UTC) or RFC 3339";

/// Parses one bound; `field` names it in the error.
pub fn parse(field: &'static str, raw: &str, side: Side) -> Result<DateTime<Utc>, ValidationError> {
    let s = raw.trim();
    let (start, unit) = parse_unit(s).ok_or_else(|| ValidationError::Invalid {
        field,
        message: format!(
            "{} is not a time: expected {FORMS}",
            DisplayText::new(if s.is_empty() { "\"\"" } else { s })
        ),
    })?;
    Ok(match side {
        Side::From => start,
        Side::Until => start + unit,
    })
}

/// The start of the named unit and its length.
fn parse_unit(s: &str) -> Option<(DateTime<Utc>, Duration)> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        let unit = if s.contains('.') {
            Duration::zero()
        } else {
            Duration::seconds(1)
        };
        return Some((d.with_timezone(&Utc), unit));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some((d.and_hms_opt(0, 0, 0)?.and_utc(), Duration::days(1)));
    }
    let norm = s.replacen('T', " ", 1);
    if let Ok(t) = NaiveDateTime::parse_from_str(&norm, "%Y-%m-%d %H:%M:%S") {
        return Some((t.and_utc(), Duration::seconds(1)));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(&norm, "%Y-%m-%d %H:%M") {
        return Some((t.and_utc(), Duration::minutes(1)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn dates_and_date_times_cover_their_whole_unit() {
        let p = |s, side| parse("t", s, side).unwrap();
        assert_eq!(p("2026-12-01", Side::From), at("2026-12-01T00:00:00Z"));
        assert_eq!(p("2026-12-01", Side::Until), at("2026-12-02T00:00:00Z"));
        assert_eq!(
            p("2026-12-01 18:40", Side::From),
            at("2026-12-01T18:40:00Z")
        );
        assert_eq!(
            p("2026-12-01 18:40", Side::Until),
            at("2026-12-01T18:41:00Z")
        );
        assert_eq!(
            p(" 2026-12-01T18:40:05 ", Side::Until),
            at("2026-12-01T18:40:06Z")
        );
        assert_eq!(
            p("2026-12-01T18:40:05+02:00", Side::From),
            at("2026-12-01T16:40:05Z")
        );
        assert_eq!(
            p("2026-12-01T18:40:05.5Z", Side::Until),
            at("2026-12-01T18:40:05.5Z")
        );
    }

    #[test]
    fn garbage_is_an_error_naming_the_forms() {
        for bad in ["", "yesterday", "2026-13-01", "2026-12-01 25:00", "18:40"] {
            let e = parse("--until", bad, Side::Until).unwrap_err().to_string();
            assert!(e.contains("YYYY-MM-DD HH:MM"), "{bad}: {e}");
        }
    }
}
