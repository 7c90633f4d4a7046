//! Drawing: the top bar (environment, operator, health, what runs), the tab bar, the active
//! screen, the footer of its actions, and the overlays on top.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{App, MIN_HEIGHT, MIN_WIDTH};
use crate::domain::DisplayText;
use crate::tui::keymap::Action;
use crate::tui::screens::Tab;
use crate::tui::widgets::table::SPINNER;
use crate::tui::widgets::toast::Toast;

impl App {
    // ---------- drawing ----------

    pub fn draw(&self, frame: &mut Frame) {
        let area = frame.area();
        self.render(area, frame.buffer_mut());
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        let theme = &self.theme;
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            Paragraph::new(vec![
                Line::from(Span::styled("terminal too small", theme.error)),
                Line::from(format!(
                    "need {MIN_WIDTH}×{MIN_HEIGHT}, have {}×{}",
                    area.width, area.height
                )),
            ])
            .render(area, buf);
            return;
        }
        let [top, tabs, body, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(area);
        self.render_top(top, buf);
        if self.operator.is_none() {
            self.signin.render(
                &self.config.environment,
                Rect {
                    y: tabs.y,
                    height: tabs.height + body.height,
                    ..body
                },
                buf,
                theme,
            );
            if let Some(d) = &self.dialog {
                d.render(area, buf, theme);
            }
            Toast::render_stack(&self.toasts, body, buf, theme);
            // Keys from replies that arrived after a sign-out are still shown (once).
            if let Some(r) = &self.reveal {
                r.render(body, buf, theme);
            }
            return;
        }
        self.render_tabs(tabs, buf);
        let body = if let Some(line) = self.form_notice() {
            let [banner, rest] =
                Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(body);
            Paragraph::new(Span::styled(line, theme.warning)).render(banner, buf);
            rest
        } else {
            body
        };
        let body = if let Some(line) = self.outage_banner() {
            let [banner, rest] =
                Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(body);
            Paragraph::new(Span::styled(line, theme.error)).render(banner, buf);
            rest
        } else {
            body
        };
        self.active_ref().render(body, buf, theme, self.tick);
        self.render_footer(footer, buf);
        if let Some(f) = &self.form {
            f.render(body, buf, theme, true);
        }
        if self.help {
            crate::tui::widgets::help::render(
                &self.keymap,
                &describe_action,
                self.config.read_only,
                self.config.demo_credentials.as_ref(),
                self.help_scroll,
                body,
                buf,
                theme,
            );
        }
        if let Some(d) = &self.dialog {
            d.render(body, buf, theme);
        }
        Toast::render_stack(&self.toasts, body, buf, theme);
        if let Some(notice) = self.blocking_notice() {
            // At the top of the body, so a failure dialog below it stays readable.
            let w = body.width.saturating_sub(4).min(72);
            let r = Rect {
                x: body.x + (body.width.saturating_sub(w)) / 2,
                y: body.y,
                width: w,
                height: 3.min(body.height),
            };
            ratatui::widgets::Clear.render(r, buf);
            Paragraph::new(Span::styled(notice, theme.warning))
                .block(
                    ratatui::widgets::Block::default()
                        .borders(ratatui::widgets::Borders::ALL)
                        .border_style(theme.warning),
                )
                .render(r, buf);
        }
        // The reveal panel is on top of everything.
        if let Some(r) = &self.reveal {
            r.render(body, buf, theme);
        }
    }

    fn render_top(&self, area: Rect, buf: &mut Buffer) {
        let t = &self.theme;
        let dot = |h: Option<bool>| match h {
            Some(true) => ("●", t.ok),
            Some(false) => ("✗", t.error),
            None => ("…", t.muted),
        };
        let mut spans = vec![
            Span::styled(" hubdeck ", t.title),
            Span::styled(
                format!(" {} ", DisplayText::with_max(&self.config.environment, 24)),
                t.environment,
            ),
            Span::raw(" "),
        ];
        if self.config.read_only {
            spans.push(Span::styled(" READ-ONLY ", t.badge));
            spans.push(Span::raw(" "));
        }
        if let Some(op) = &self.operator {
            spans.push(Span::styled(
                DisplayText::with_max(&op.email, 40).into_string(),
                t.base,
            ));
            spans.push(Span::raw(" "));
        }
        let (db, dbs) = dot(self.health.db);
        let (dir, dirs) = dot(self.health.directory);
        spans.push(Span::styled("DB ", t.muted));
        spans.push(Span::styled(db, dbs));
        spans.push(Span::styled(
            format!(" directory({}) ", self.config.directory_kind),
            t.muted,
        ));
        spans.push(Span::styled(dir, dirs));
        if let Some(n) = self.health.approvals.filter(|n| *n > 0) {
            spans.push(Span::styled(format!("  {n} to approve (8)"), t.warning));
        }
        if !self.ops.inflight.is_empty() {
            let n = self.ops.inflight.len();
            spans.push(Span::styled(
                if n == 1 {
                    format!(
                        "  {} working",
                        SPINNER[(self.tick as usize) % SPINNER.len()]
                    )
                } else {
                    format!(
                        "  {} {n} changes running",
                        SPINNER[(self.tick as usize) % SPINNER.len()]
                    )
                },
                t.warning,
            ));
        }
        Paragraph::new(Line::from(spans)).render(area, buf);
    }

    fn render_tabs(&self, area: Rect, buf: &mut Buffer) {
        let t = &self.theme;
        let mut spans = Vec::new();
        // Padded labels when they all fit, else compact ones (every tab stays readable).
        let padded: usize = Tab::ALL
            .iter()
            .enumerate()
            .map(|(i, t)| format!(" {} {} │", i + 1, t.title()).chars().count())
            .sum();
        let pad = if padded <= usize::from(area.width) {
            " "
        } else {
            ""
        };
        for (i, tab) in Tab::ALL.iter().enumerate() {
            let active = *tab == self.tab;
            let label = format!("{pad}{} {}{pad}", i + 1, tab.title());
            let style = match (active, self.tab_denied(*tab).is_some()) {
                (true, _) => t.tab_active,
                (false, true) => t.disabled,
                (false, false) => t.tab,
            };
            spans.push(Span::styled(label, style));
            spans.push(Span::raw("│"));
        }
        Paragraph::new(Line::from(spans)).render(area, buf);
    }

    fn render_footer(&self, area: Rect, buf: &mut Buffer) {
        let t = &self.theme;
        if let Some(p) = &self.palette {
            let width = area.width.saturating_sub(2) as usize;
            let scroll = p.input.visual_scroll(width);
            let v: String = p.input.value().chars().skip(scroll).collect();
            Paragraph::new(Line::from(vec![
                Span::styled(":", t.key),
                Span::styled(v, t.input),
                Span::styled("▏", t.key),
            ]))
            .render(area, buf);
            return;
        }
        // Three parts: the screen's status, its key hints, the global hints (`? help` and
        // `q quit` last) and what runs. On a narrow terminal the screen's hints give way first
        // (from the end), then search/filter/sort/cmd: help, quit and what runs stay in sight.
        let mut lead = Vec::new();
        if let Some(status) = self.active_ref().status() {
            lead.push(Span::styled(format!("{status}  "), t.warning));
        }
        let hint = |a: Action, label: &str| -> Option<[Span<'static>; 2]> {
            let k = self.keymap.first_key(a);
            if k.is_empty() {
                return None;
            }
            let disabled = self.action_denied(a).is_some();
            Some([
                Span::styled(k, if disabled { t.disabled } else { t.key }),
                Span::styled(
                    format!(" {label}  "),
                    if disabled { t.disabled } else { t.muted },
                ),
            ])
        };
        let mut screen: Vec<[Span; 2]> = self
            .active_ref()
            .actions()
            .iter()
            .filter_map(|a| hint(*a, short_label(*a)))
            .collect();
        let mut global: Vec<[Span; 2]> = [
            (Action::Search, "search"),
            (Action::Filter, "filter"),
            (Action::Sort, "sort"),
            (Action::Palette, "cmd"),
        ]
        .into_iter()
        .filter_map(|(a, l)| hint(a, l))
        .collect();
        let always: Vec<[Span; 2]> = [(Action::Help, "help"), (Action::Quit, "quit")]
            .into_iter()
            .filter_map(|(a, l)| hint(a, l))
            .collect();
        // What runs: the task Esc cancels first, then the changes that run to their reply.
        let mut tail = Vec::new();
        if let Some((id, what)) = self.cancellable() {
            let done = self.ops.inflight.get(&id).and_then(|j| j.done);
            tail.push(Span::styled("Esc", t.key));
            tail.push(Span::styled(
                match done {
                    Some(n) => format!(
                        " cancel {what} ({} rows)  ",
                        crate::domain::page::thousands(n)
                    ),
                    None => format!(" cancel {what}  "),
                },
                t.warning,
            ));
        }
        let running: Vec<&str> = self
            .ops
            .inflight
            .values()
            .filter(|j| !j.cancellable)
            .map(|j| j.what)
            .collect();
        if !running.is_empty() {
            tail.push(Span::styled(
                format!("running: {}", running.join(", ")),
                t.warning,
            ));
        }
        let width = |v: &[[Span; 2]]| v.iter().flatten().map(Span::width).sum::<usize>();
        let fixed = lead.iter().chain(&tail).map(Span::width).sum::<usize>() + width(&always);
        let room = usize::from(area.width);
        while !screen.is_empty() && fixed + width(&screen) + width(&global) > room {
            screen.pop();
        }
        while !global.is_empty() && fixed + width(&global) > room {
            global.pop();
        }
        let mut spans = lead;
        spans.extend(screen.into_iter().chain(global).chain(always).flatten());
        spans.extend(tail);
        Paragraph::new(Line::from(spans)).render(area, buf);
    }
}

fn short_label(a: Action) -> &'static str {
    match a {
        Action::Open => "open",
        Action::Back => "back",
        Action::New => "new",
        Action::Edit => "edit",
        Action::Delete => "delete",
        Action::HardDelete => "hard-del",
        Action::Roles => "roles",
        Action::Retry => "retry",
        Action::Rollback => "rollback",
        Action::Resolve => "resolve",
        Action::Rotate => "rotate",
        Action::RotateInternal => "rot+int",
        Action::Export => "export",
        Action::ToggleEnabled => "on/off",
        Action::ResendInvite => "invite",
        Action::Mark => "mark",
        Action::MarkRange => "range",
        Action::MarkAll => "all",
        Action::Bulk => "bulk",
        Action::Undo => "undo",
        Action::Repair => "repair",
        Action::RepairClass => "repair class",
        Action::Restore => "restore",
        Action::ChangePlan => "plan",
        _ => "",
    }
}

/// An action's line in `?`: a tab key says which tab (from the registry).
fn describe_action(action: crate::tui::keymap::Action) -> &'static str {
    match action {
        crate::tui::keymap::Action::Tab(n) => Tab::ALL
            .get(usize::from(n))
            .map_or("no such tab", |t| t.help()),
        other => other.description(),
    }
}
