//! How a table's columns fit the room they get: widths from each column's declared width (never
//! from the rows of a page, so they stay put while paging), identifying columns kept readable,
//! the others dropped rightmost first when the room is short, cells cut with "…", and time
//! columns drawn as ages.

use chrono::{DateTime, NaiveDateTime, Utc};
use ratatui::layout::Constraint;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::table::Column;

/// Cells the highlight symbol ("▶ ") takes before the first column.
pub const HIGHLIGHT: usize = 2;
/// Room kept for a sort mark (" ▲") after a title.
const MARK: usize = 2;
/// The readable width of an identifying `Fill` column (a name, an email).
const IDENT_FLOOR: usize = 22;
/// The readable width of any other `Fill` column.
const FLOOR: usize = 10;
/// The least an identifying column is cut to when nothing else is left to give.
const LAST_RESORT: usize = 3;

/// The width of each column in `room` cells (`None`: not drawn), and whether a filler column
/// must take what is left (when no column is a `Fill`).
pub fn column_widths(columns: &[Column], shown: &[bool], room: u16) -> (Vec<Option<u16>>, bool) {
    let room = usize::from(room).saturating_sub(HIGHLIGHT);
    let floor = |c: &Column| match c.width {
        Constraint::Length(n) => usize::from(n),
        _ if c.identifying => IDENT_FLOOR.max(c.title.width() + MARK),
        _ => FLOOR.max(c.title.width() + MARK),
    };
    let mut on: Vec<bool> = shown.to_vec();
    let need = |on: &[bool]| -> usize {
        let n = on.iter().filter(|b| **b).count();
        columns
            .iter()
            .zip(on)
            .filter(|(_, b)| **b)
            .map(|(c, _)| floor(c))
            .sum::<usize>()
            + n.saturating_sub(1)
    };
    // The optional columns go first, then the others, rightmost first; never the identifying.
    while need(&on) > room {
        let droppable = |i: &usize| on[*i] && !columns[*i].identifying;
        let Some(i) = (0..columns.len())
            .rev()
            .filter(droppable)
            .find(|&i| columns[i].optional)
            .or_else(|| (0..columns.len()).rev().find(droppable))
        else {
            break;
        };
        on[i] = false;
    }
    let mut w: Vec<usize> = columns
        .iter()
        .zip(&on)
        .map(|(c, b)| if *b { floor(c) } else { 0 })
        .collect();
    // Still too wide: the identifying columns give, the widest first.
    let mut over = need(&on).saturating_sub(room);
    while over > 0 {
        let Some(i) = (0..w.len())
            .filter(|&i| on[i] && w[i] > LAST_RESORT)
            .max_by_key(|&i| (w[i], std::cmp::Reverse(i)))
        else {
            break;
        };
        w[i] -= 1;
        over -= 1;
    }
    // Room left: the `Fill` columns share it by weight (the first ones take the remainder).
    let mut spare = room.saturating_sub(need(&on).min(room));
    let weights: Vec<(usize, usize)> = columns
        .iter()
        .enumerate()
        .filter(|(i, _)| on[*i])
        .filter_map(|(i, c)| match c.width {
            Constraint::Fill(n) => Some((i, usize::from(n.max(1)))),
            _ => None,
        })
        .collect();
    let filler = weights.is_empty();
    if !filler {
        let total: usize = weights.iter().map(|(_, n)| n).sum();
        let shared = spare;
        for (i, n) in &weights {
            let share = shared * n / total;
            w[*i] += share;
            spare -= share;
        }
        for (i, _) in weights.iter().cycle().take(spare) {
            w[*i] += 1;
        }
    }
    let widths = w
        .into_iter()
        .zip(on)
        .map(|(n, b)| b.then(|| u16::try_from(n).unwrap_or(u16::MAX)))
        .collect();
    (widths, filler)
}

/// `s` cut to `width` display cells, ending with "…" when it was cut.
pub fn fit(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if used + cw + 1 > width {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push('…');
    out
}

/// A title cut to `width` with its sort/filter marks kept whole: the marks say how the list is
/// ordered, the title is known from the screen.
pub fn fit_title(title: &str, marks: &str, width: usize) -> String {
    let room = width.saturating_sub(marks.width());
    format!("{}{marks}", fit(title, room))
}

/// How long ago a shown time was ("17d", "3h", "12m", "40s"), with whether it is older than
/// `stale_after` seconds; times that do not parse ("never") are stale and shown as they are.
pub fn age(cell: &str, now: DateTime<Utc>, stale_after: i64) -> (String, bool) {
    match NaiveDateTime::parse_from_str(cell, "%Y-%m-%d %H:%M") {
        Ok(t) => {
            let secs = (now - t.and_utc()).num_seconds().max(0);
            (age_label(secs), secs > stale_after)
        }
        Err(_) => (cell.to_string(), !cell.is_empty()),
    }
}

/// "40s", "12m", "3h", "17d": the largest unit with at least two of it (k9s' AGE).
pub fn age_label(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use ratatui::layout::Constraint::{Fill, Length};

    use super::*;

    fn users() -> Vec<Column> {
        vec![
            Column::new("Email", "email", Fill(3)).identifying(),
            Column::new("Name", "name", Fill(2)).identifying(),
            Column::new("Organisation", "organisation", Fill(2)).optional(),
            Column::filter_only("Roles", "role", Length(18)).optional(),
            Column::new("Enabled", "enabled", Length(8)),
            Column::new("Status", "status", Length(12)),
        ]
    }

    fn sum(w: &[Option<u16>]) -> usize {
        let n = w.iter().flatten().count();
        w.iter().flatten().map(|n| usize::from(*n)).sum::<usize>() + n - 1
    }

    #[test]
    fn wide_tables_use_the_full_width_and_fixed_columns_keep_their_length() {
        let c = users();
        let (w, filler) = column_widths(&c, &[true; 6], 198);
        assert!(!filler);
        assert_eq!(sum(&w), 196, "{w:?}");
        assert_eq!(&w[3..], [Some(18), Some(8), Some(12)]);
        assert!(w[0] > w[1], "the email weighs more: {w:?}");
    }

    #[test]
    fn on_narrow_tables_the_optional_columns_go_first_then_the_rightmost() {
        let c = users();
        let (w, _) = column_widths(&c, &[true; 6], 78);
        assert_eq!((w[2], w[3]), (None, None), "{w:?}");
        assert_eq!((w[4], w[5]), (Some(8), Some(12)), "{w:?}");
        assert!(w[0].unwrap() >= 22 && w[1].unwrap() >= 22, "{w:?}");
        assert_eq!(sum(&w), 76, "{w:?}");
        let (w, _) = column_widths(&c, &[true; 6], 62);
        assert_eq!(w[5], None, "then the rightmost: {w:?}");
        assert_eq!(w[4], Some(8), "{w:?}");
        // Tiny: only the identifying columns are left, cut as a last resort.
        let (w, _) = column_widths(&c, &[true; 6], 30);
        assert_eq!(w.iter().flatten().count(), 2, "{w:?}");
        assert!(sum(&w) <= 28, "{w:?}");
    }

    #[test]
    fn widths_do_not_depend_on_the_rows_and_hidden_columns_take_nothing() {
        let c = users();
        let mut shown = [true; 6];
        shown[2] = false;
        let (w, _) = column_widths(&c, &shown, 120);
        assert_eq!(w[2], None);
        assert_eq!(sum(&w), 118);
    }

    #[test]
    fn cut_text_ends_with_an_ellipsis_and_marks_survive() {
        assert_eq!(fit("Barnet Emergency Medicine", 12), "Barnet Emer…");
        assert_eq!(fit("North West", 10), "North West");
        assert_eq!(fit("日本語テキスト", 6), "日本…");
        assert_eq!(fit_title("Organisation", " ▲", 8), "Organ… ▲");
    }

    #[test]
    fn ages_read_like_k9s_and_old_ones_are_stale() {
        let now = NaiveDateTime::parse_from_str("2026-12-07 09:15", "%Y-%m-%d %H:%M")
            .expect("time")
            .and_utc();
        assert_eq!(age("2026-11-20 09:15", now, 3600), ("17d".into(), true));
        assert_eq!(age("2026-12-07 08:00", now, 3600), ("75m".into(), true));
        assert_eq!(age("2026-12-07 09:05", now, 3600), ("10m".into(), false));
        assert_eq!(age("never", now, 3600), ("never".into(), true));
    }
}
