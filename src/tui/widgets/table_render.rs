//! Drawing of [`TableView`]: the header with sort and filter marks, the rows, the
//! "rows 51–100 of 12,345" line and the detail pane's label/value lines.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Paragraph, Row as TRow, StatefulWidget, Table, TableState, Widget,
};
use unicode_width::UnicodeWidthStr;

use super::table::{Column, Count, SPINNER, TableView};
use crate::domain::page::{PageNav, thousands};
use crate::domain::{Page, SortDir};
use crate::tui::action::Row;
use crate::tui::theme::Theme;

impl TableView {
    /// "rows 51–100 of 12,345", "rows 1–50 of ≈980,000", "rows 1–50 of counting…", "last 50
    /// rows of more than 100,000" (or "no rows yet" before the first page).
    pub fn range_label(&self) -> String {
        let Some(p) = &self.page else {
            return "no rows yet".into();
        };
        if p.items.is_empty() {
            return format!("no rows of {}", self.count.label());
        }
        let len = p.items.len() as u64;
        let size = u64::from(p.page_size.max(1));
        match self.from_end {
            None => {
                let first = u64::from(p.page.max(1) - 1) * size + 1;
                format!(
                    "rows {}–{} of {}",
                    thousands(first),
                    thousands(first + len - 1),
                    self.count.label()
                )
            }
            Some(k) => match self.count.exact() {
                Some(total) => {
                    let last = total.saturating_sub(u64::from(k - 1) * size);
                    let first = last.saturating_sub(len - 1).max(1);
                    format!(
                        "rows {}–{} of {}",
                        thousands(first),
                        thousands(last),
                        thousands(total)
                    )
                }
                None if k == 1 => format!("last {len} rows of {}", self.count.label()),
                None => format!(
                    "rows {}–{} from the end of {}",
                    thousands(u64::from(k - 1) * size + 1),
                    thousands(u64::from(k - 1) * size + len),
                    self.count.label()
                ),
            },
        }
    }

    /// "page 3/19,602" ("page 3" while uncounted; from the end: "page 19,602/19,602").
    pub fn page_label(&self) -> Option<String> {
        let p = self.page.as_ref()?;
        let pages = self.total_pages();
        Some(match (self.from_end, pages) {
            (None, Some(n)) => format!("page {}/{}", thousands(p.page.into()), thousands(n.into())),
            (None, None) => format!("page {}", thousands(p.page.into())),
            (Some(k), Some(n)) if self.count.exact().is_some() => format!(
                "page {}/{}",
                thousands(n.saturating_sub(k - 1).into()),
                thousands(n.into())
            ),
            (Some(1), _) => "last page".into(),
            (Some(k), _) => format!("page {} from the end", thousands(k.into())),
        })
    }

    fn header_cell(&self, c: &Column, theme: &Theme) -> Cell<'static> {
        Cell::from(self.header_text(c)).style(theme.header)
    }

    /// A column's title with " ▲"/" ▼" when the list is sorted by it and " ⧩" when filtered.
    fn header_text(&self, c: &Column) -> String {
        let mut s = c.title.to_string();
        if let Some(k) = c.key
            && let Some(sk) = self.query.sort.iter().find(|s| s.column == k)
        {
            s.push(' ');
            s.push_str(match sk.dir {
                SortDir::Asc => "▲",
                SortDir::Desc => "▼",
            });
        }
        if let Some(k) = c.key
            && self.query.filters.iter().any(|f| f.column == k)
        {
            s.push_str(" ⧩");
        }
        s
    }

    /// Column widths from what the page shows: each column takes the width of its longest
    /// value (or its title with the sort and filter marks), up to a cap. When they do not fit in
    /// `room` cells, the widest column gives one cell at a time, in turns: the other columns down
    /// to a readable width, then the first column (the key: name, email, code) down to its own,
    /// then the others down to a few cells, then the key. A column declared with a fixed length
    /// (a date, a flag) keeps that length. Room left over stays at the right end. Before a page
    /// arrives, the declared widths.
    fn fitted_widths(&self, room: u16) -> Vec<Constraint> {
        const KEY_CAP: usize = 60;
        const CAP: usize = 28;
        const FLOOR: usize = 3;
        const READABLE: usize = 8;
        const KEY_READABLE: usize = 24;
        if self.rows().is_empty() {
            return self.columns.iter().map(|c| c.width).collect();
        }
        let mut w: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let title = self.header_text(c).width();
                let longest = self
                    .rows()
                    .iter()
                    .map(|r| r.cell(i).width())
                    .max()
                    .unwrap_or(0)
                    .max(title);
                longest.min(if i == 0 { KEY_CAP } else { CAP })
            })
            .collect();
        let fixed: Vec<Option<usize>> = self
            .columns
            .iter()
            .map(|c| match c.width {
                Constraint::Length(l) => Some(usize::from(l)),
                _ => None,
            })
            .collect();
        // The highlight symbol ("▶ ") and one space before each column after the first and
        // before the filler.
        let room = usize::from(room).saturating_sub(2 + w.len());
        let others: Vec<usize> = (1..w.len()).collect();
        for (cols, soft) in [
            (&others[..], READABLE),
            (&[0][..], KEY_READABLE),
            (&others[..], FLOOR),
            (&[0][..], FLOOR),
        ] {
            while w.iter().sum::<usize>() > room {
                // The widest of these columns that is still above its floor gives one cell.
                let floor = |i: usize| fixed[i].unwrap_or(soft);
                let Some(i) = cols
                    .iter()
                    .copied()
                    .filter(|&i| w[i] > floor(i))
                    .max_by_key(|&i| w[i])
                else {
                    break;
                };
                w[i] -= 1;
            }
        }
        let mut widths: Vec<Constraint> = w
            .into_iter()
            .map(|n| Constraint::Length(n as u16))
            .collect();
        widths.push(Constraint::Fill(1));
        widths
    }

    /// Renders the table into `area` with its frame, title, filters and range label.
    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme, focused: bool, tick: u64) {
        let mut title_spans = vec![Span::styled(format!(" {} ", self.title), theme.title)];
        if let Some(s) = &self.query.search {
            title_spans.push(Span::styled(
                format!("/{} ", crate::domain::DisplayText::with_max(s, 30)),
                theme.key,
            ));
        }
        for f in &self.query.filters {
            title_spans.push(Span::styled(
                format!(
                    "[{}={}] ",
                    f.column,
                    crate::domain::DisplayText::with_max(&f.values.join("|"), 24)
                ),
                theme.warning,
            ));
        }
        let mut status = vec![Span::styled(
            format!(" {} ", self.range_label()),
            theme.muted,
        )];
        if let Some(label) = self.page_label() {
            status.push(Span::styled(format!("{label} "), theme.muted));
        }
        if self.loading() {
            status.push(Span::styled(
                format!("{} loading ", SPINNER[(tick as usize) % SPINNER.len()]),
                theme.warning,
            ));
        }
        if let Some(e) = &self.last_error {
            status.push(Span::styled(
                format!("✗ {} ", crate::domain::DisplayText::with_max(e, 40)),
                theme.error,
            ));
        }
        let live = self.live_status(theme);
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(if focused {
                theme.border_focus
            } else {
                theme.border
            })
            .title(Line::from(title_spans))
            .title_bottom(Line::from(status).right_aligned())
            .title_bottom(Line::from(live).left_aligned());
        let inner = block.inner(area);
        block.render(area, buf);

        let (table_area, search_area) = if self.search_active {
            (
                Rect {
                    height: inner.height.saturating_sub(1),
                    ..inner
                },
                Some(Rect {
                    y: inner.y + inner.height.saturating_sub(1),
                    height: 1,
                    ..inner
                }),
            )
        } else {
            (inner, None)
        };

        if self.page.is_none() {
            let (msg, style) = if self.loading() {
                (
                    format!("{} loading…", SPINNER[(tick as usize) % SPINNER.len()]),
                    theme.muted,
                )
            } else if let Some(e) = &self.last_error {
                (format!("✗ {e}"), theme.error)
            } else {
                ("nothing loaded".into(), theme.muted)
            };
            Paragraph::new(msg)
                .style(style)
                .wrap(ratatui::widgets::Wrap { trim: false })
                .render(table_area, buf);
        } else if self.rows().is_empty() {
            Paragraph::new("no matching rows")
                .style(theme.muted)
                .render(table_area, buf);
        } else {
            let header = TRow::new(self.columns.iter().map(|c| self.header_cell(c, theme)));
            let rows = self.rows().iter().map(|r| {
                let marked = self.marks.iter().any(|m| m.key == r.id);
                TRow::new((0..self.columns.len()).map(|i| Cell::from(r.cell(i).to_string())))
                    .style(if marked { theme.warning } else { theme.base })
            });
            let table = Table::new(rows, self.fitted_widths(table_area.width))
                .header(header)
                .row_highlight_style(theme.selected)
                .highlight_symbol("▶ ")
                .column_spacing(1);
            let mut state = TableState::default()
                .with_offset(self.offset.get().min(self.selected))
                .with_selected(Some(self.selected));
            StatefulWidget::render(table, table_area, buf, &mut state);
            self.offset.set(state.offset());
        }

        if let Some(sa) = search_area {
            let width = sa.width.saturating_sub(2) as usize;
            let scroll = self.search.visual_scroll(width);
            let value: String = self.search.value().chars().skip(scroll).collect();
            Paragraph::new(Line::from(vec![
                Span::styled("/", theme.key),
                Span::styled(value, theme.input),
            ]))
            .render(sa, buf);
            // Cursor cell shown in reverse video (the frame's real cursor is set by the app).
            let cx = sa.x + 1 + (self.search.visual_cursor().saturating_sub(scroll)) as u16;
            if cx < sa.x + sa.width {
                let cell = &mut buf[(cx, sa.y)];
                cell.set_style(Style::default().add_modifier(Modifier::REVERSED));
            }
        }
    }

    /// Installs a page directly (tests and benchmarks; the app always goes through
    /// [`TableView::request`] / [`TableView::accept`]).
    pub fn reload_for_test_page(&mut self, rows: impl IntoIterator<Item = Row>) {
        let items: Vec<Row> = rows.into_iter().collect();
        self.set_loading(false);
        self.page = Some(Page {
            total: items.len() as u64,
            items,
            page: 1,
            page_size: crate::domain::page::DEFAULT_PAGE_SIZE,
            next_cursor: None,
            nav: PageNav {
                at_start: true,
                at_end: true,
                ..PageNav::default()
            },
        });
        self.count = Count::Exact(self.rows().len() as u64);
        self.page_gen += 1;
    }

    /// The live view's notes for the bottom line: the newest changed row on screen ("↻ NAME
    /// updated by X 4 s ago") and a row that disappeared ("✗ NAME gone: deleted by X …").
    fn live_status(&self, theme: &Theme) -> Vec<Span<'static>> {
        let now = chrono::Utc::now();
        let ago = |m: &super::live_marks::LiveMark| super::live_marks::ago(m.at, now);
        let mut out = Vec::new();
        if let Some(m) = self.marks.iter().rev().find(|m| m.fresh(now))
            && let Some(r) = self.rows().iter().find(|r| r.id == m.key)
        {
            out.push(Span::styled(
                format!(
                    " ↻ {} changed by {} {} ",
                    crate::domain::DisplayText::with_max(r.cell(0), 24),
                    m.who,
                    ago(m)
                ),
                theme.warning,
            ));
        }
        if let Some((name, m)) = &self.gone
            && m.fresh(now)
        {
            out.push(Span::styled(
                format!(" ✗ {name} gone: {} by {} {} ", m.what, m.who, ago(m)),
                theme.error,
            ));
        }
        out
    }

    /// Label: value lines of the selected row (the detail pane).
    pub fn detail_lines(&self) -> Vec<(String, String)> {
        match self.selected_row() {
            Some(r) => self
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.title.to_string(), r.cell(i).to_string()))
                .collect(),
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use ratatui::layout::Constraint::{self, Fill, Length};

    use super::*;
    use crate::domain::DisplayText;
    use crate::tui::widgets::table::Column;

    fn view(rows: &[[&str; 3]]) -> TableView {
        let mut v = TableView::new(
            "users",
            "Users",
            vec![
                Column::new("Email", "email", Fill(3)),
                Column::new("Name", "name", Fill(2)),
                Column::new("Created", "created_at", Length(16)),
            ],
        );
        v.reload_for_test_page(
            rows.iter()
                .enumerate()
                .map(|(i, r)| Row::new(i.to_string(), r.iter().map(|c| DisplayText::new(c)))),
        );
        v
    }

    fn lengths(w: &[Constraint]) -> Vec<u16> {
        w.iter()
            .filter_map(|c| match c {
                Length(n) => Some(*n),
                _ => None,
            })
            .collect()
    }

    const LONG: [&str; 3] = [
        "adebayo.harrison@bristol-uni.example",
        "Adebayo Harrison-Whitfield",
        "2026-11-05 12:00",
    ];

    #[test]
    fn columns_take_their_content_and_leave_the_rest_at_the_right() {
        let v = view(&[LONG, ["a@b.example", "A", "2026-11-05 12:00"]]);
        let w = v.fitted_widths(200);
        assert_eq!(lengths(&w), [36, 26, 16]);
        assert_eq!(w.last(), Some(&Fill(1)));
    }

    #[test]
    fn on_a_narrow_table_the_others_give_way_before_the_key_and_dates_keep_their_length() {
        let v = view(&[LONG]);
        // The highlight symbol and 3 gaps take 5 cells: at 80, 75 are left and the name gives 3.
        assert_eq!(lengths(&v.fitted_widths(80)), [36, 23, 16]);
        // Tighter: the name down to 8, then the email down to 24, then the name again.
        assert_eq!(lengths(&v.fitted_widths(65)), [36, 8, 16]);
        assert_eq!(lengths(&v.fitted_widths(55)), [26, 8, 16]);
        assert_eq!(lengths(&v.fitted_widths(50)), [24, 5, 16]);
        // The date keeps its declared length to the end.
        assert_eq!(lengths(&v.fitted_widths(30))[2], 16);
    }
}
