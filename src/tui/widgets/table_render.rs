//! Drawing of [`TableView`]: the header with sort and filter marks, the rows, the
//! "rows 51–100 of 12,345" line and the detail pane's label/value lines.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Paragraph, Row as TRow, StatefulWidget, Table, TableState, Widget,
};

use super::table::{Column, Count, SPINNER, TableView};
use super::table_fit::{age, column_widths, fit, fit_title};
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

    /// A column's sort and filter marks: " ▲"/" ▼" when the list is sorted by it, " ⧩" when
    /// filtered.
    fn header_marks(&self, c: &Column) -> String {
        let mut s = String::new();
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

    /// Which columns are drawn: all but those empty unless filtered whose filter is not set.
    pub fn shown_columns(&self) -> Vec<bool> {
        self.columns
            .iter()
            .map(|c| {
                !c.only_when_filtered
                    || c.key
                        .is_some_and(|k| self.query.filters.iter().any(|f| f.column == k))
            })
            .collect()
    }

    /// The drawn columns' widths in `room` cells (see [`column_widths`]): declared, so they
    /// stay put while paging.
    pub fn widths(&self, room: u16) -> Vec<Option<u16>> {
        column_widths(&self.columns, &self.shown_columns(), room).0
    }

    /// The header and body cells of row `r` (None: the header) for the drawn columns, cut to
    /// their widths with "…"; age columns as ages, stale ones styled as warnings.
    fn cells(&self, r: Option<&Row>, widths: &[Option<u16>], theme: &Theme) -> Vec<Cell<'static>> {
        let now = self.ages_at.unwrap_or_else(chrono::Utc::now);
        self.columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((i, c, usize::from(widths[i]?))))
            .map(|(i, c, w)| match r {
                None => {
                    Cell::from(fit_title(c.title, &self.header_marks(c), w)).style(theme.header)
                }
                Some(r) => match c.age_stale_after {
                    Some(stale) => {
                        let (text, old) = age(r.cell(i), now, stale);
                        let cell = Cell::from(fit(&text, w));
                        if old { cell.style(theme.warning) } else { cell }
                    }
                    None => Cell::from(fit(r.cell(i), w)),
                },
            })
            .collect()
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
                    self.title_of(&f.column),
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
            let widths = self.widths(table_area.width);
            let header = TRow::new(self.cells(None, &widths, theme));
            let rows = self.rows().iter().map(|r| {
                let marked = self.marks.iter().any(|m| m.key == r.id);
                TRow::new(self.cells(Some(r), &widths, theme)).style(if marked {
                    theme.warning
                } else {
                    theme.base
                })
            });
            let mut constraints: Vec<Constraint> = widths
                .iter()
                .flatten()
                .map(|n| Constraint::Length(*n))
                .collect();
            if column_widths(&self.columns, &self.shown_columns(), table_area.width).1 {
                constraints.push(Constraint::Fill(1));
            }
            let table = Table::new(rows, constraints)
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
                .map(|(i, c)| {
                    let value = match c.age_stale_after {
                        Some(stale) if !r.cell(i).is_empty() => {
                            let now = self.ages_at.unwrap_or_else(chrono::Utc::now);
                            match age(r.cell(i), now, stale).0 {
                                a if a == r.cell(i) => a,
                                a => format!("{} ({a} ago)", r.cell(i)),
                            }
                        }
                        _ => r.cell(i).to_string(),
                    };
                    (c.title.to_string(), value)
                })
                .collect(),
            None => Vec::new(),
        }
    }
}
