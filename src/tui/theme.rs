//! Styles in one place. Defaults come from `assets/theme.toml`; `theme.toml` in the config dir
//! is merged over them. `NO_COLOR` gives a monochrome theme (modifiers and glyphs only).

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

const DEFAULT_THEME: &str = include_str!("../../assets/theme.toml");

#[derive(Debug, Deserialize)]
struct ThemeFile {
    #[serde(default)]
    styles: BTreeMap<String, StyleSpec>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    modifiers: Vec<String>,
}

/// Every style the console uses.
#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    pub monochrome: bool,
    pub base: Style,
    pub muted: Style,
    pub border: Style,
    pub border_focus: Style,
    pub title: Style,
    pub header: Style,
    pub selected: Style,
    pub tab: Style,
    pub tab_active: Style,
    pub key: Style,
    pub disabled: Style,
    pub error: Style,
    pub warning: Style,
    pub ok: Style,
    pub badge: Style,
    pub secret: Style,
    pub input: Style,
    pub gauge: Style,
    /// The environment name in the top bar, in its configured colour.
    pub environment: Style,
}

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("theme file {path}: {message}")]
    File { path: String, message: String },
    #[error("theme style {name:?}: {message}")]
    Style { name: String, message: String },
}

fn parse_modifier(s: &str) -> Option<Modifier> {
    Some(match s.to_ascii_lowercase().as_str() {
        "bold" => Modifier::BOLD,
        "dim" => Modifier::DIM,
        "italic" => Modifier::ITALIC,
        "underlined" | "underline" => Modifier::UNDERLINED,
        "reversed" | "reverse" => Modifier::REVERSED,
        "crossed_out" | "strikethrough" => Modifier::CROSSED_OUT,
        _ => return None,
    })
}

/// Parses a colour name, `#rrggbb` or index.
pub fn parse_color(s: &str) -> Option<Color> {
    Color::from_str(s.trim()).ok()
}

impl StyleSpec {
    fn to_style(&self, name: &str, monochrome: bool) -> Result<Style, ThemeError> {
        let bad = |message: String| ThemeError::Style {
            name: name.to_string(),
            message,
        };
        let mut style = Style::default();
        if !monochrome {
            if let Some(fg) = &self.fg {
                style = style.fg(parse_color(fg).ok_or_else(|| bad(format!("bad colour {fg:?}")))?);
            }
            if let Some(bg) = &self.bg {
                style = style.bg(parse_color(bg).ok_or_else(|| bad(format!("bad colour {bg:?}")))?);
            }
        }
        for m in &self.modifiers {
            let m = parse_modifier(m).ok_or_else(|| bad(format!("unknown modifier {m:?}")))?;
            style = style.add_modifier(m);
        }
        Ok(style)
    }
}

impl Theme {
    /// The built-in theme (colour or monochrome) with the environment colour.
    pub fn default_for(monochrome: bool, environment_color: &str) -> Self {
        // The embedded default always parses (a unit test proves it); fall back to plain
        // styles rather than panic.
        Self::build(&[DEFAULT_THEME], monochrome, environment_color)
            .unwrap_or_else(|_| Self::plain(monochrome))
    }

    /// Defaults merged with an optional override file (`theme.toml` in the config dir).
    pub fn load(
        override_path: Option<&Path>,
        monochrome: bool,
        environment_color: &str,
    ) -> Result<Self, ThemeError> {
        let extra = match override_path {
            Some(p) if p.exists() => {
                Some(std::fs::read_to_string(p).map_err(|e| ThemeError::File {
                    path: p.display().to_string(),
                    message: e.to_string(),
                })?)
            }
            _ => None,
        };
        let mut sources = vec![DEFAULT_THEME];
        if let Some(e) = extra.as_deref() {
            sources.push(e);
        }
        Self::build(&sources, monochrome, environment_color)
    }

    fn plain(monochrome: bool) -> Self {
        let s = Style::default();
        Self {
            monochrome,
            base: s,
            muted: s,
            border: s,
            border_focus: s,
            title: s.add_modifier(Modifier::BOLD),
            header: s.add_modifier(Modifier::BOLD),
            selected: s.add_modifier(Modifier::REVERSED),
            tab: s,
            tab_active: s.add_modifier(Modifier::REVERSED),
            key: s.add_modifier(Modifier::BOLD),
            disabled: s.add_modifier(Modifier::CROSSED_OUT),
            error: s.add_modifier(Modifier::BOLD),
            warning: s.add_modifier(Modifier::BOLD),
            ok: s,
            badge: s.add_modifier(Modifier::REVERSED),
            secret: s.add_modifier(Modifier::BOLD),
            input: s.add_modifier(Modifier::UNDERLINED),
            gauge: s,
            environment: s.add_modifier(Modifier::REVERSED | Modifier::BOLD),
        }
    }

    fn build(
        sources: &[&str],
        monochrome: bool,
        environment_color: &str,
    ) -> Result<Self, ThemeError> {
        let mut specs: BTreeMap<String, StyleSpec> = BTreeMap::new();
        for (i, src) in sources.iter().enumerate() {
            let file: ThemeFile = toml::from_str(src).map_err(|e| ThemeError::File {
                path: if i == 0 {
                    "(built-in)".into()
                } else {
                    "theme.toml".into()
                },
                message: e.to_string(),
            })?;
            for (k, v) in file.styles {
                specs.insert(k, v);
            }
        }
        let mut t = Self::plain(monochrome);
        for (name, spec) in &specs {
            let mut style = spec.to_style(name, monochrome)?;
            if monochrome {
                // Keep the structure visible without colour.
                style = match name.as_str() {
                    "selected" | "tab_active" | "badge" => style.add_modifier(Modifier::REVERSED),
                    "muted" => style.add_modifier(Modifier::DIM),
                    _ => style,
                };
            }
            let slot = match name.as_str() {
                "base" => &mut t.base,
                "muted" => &mut t.muted,
                "border" => &mut t.border,
                "border_focus" => &mut t.border_focus,
                "title" => &mut t.title,
                "header" => &mut t.header,
                "selected" => &mut t.selected,
                "tab" => &mut t.tab,
                "tab_active" => &mut t.tab_active,
                "key" => &mut t.key,
                "disabled" => &mut t.disabled,
                "error" => &mut t.error,
                "warning" => &mut t.warning,
                "ok" => &mut t.ok,
                "badge" => &mut t.badge,
                "secret" => &mut t.secret,
                "input" => &mut t.input,
                "gauge" => &mut t.gauge,
                other => {
                    return Err(ThemeError::Style {
                        name: other.to_string(),
                        message: "unknown style name".into(),
                    });
                }
            };
            *slot = style;
        }
        t.environment = if monochrome {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            let c = parse_color(environment_color).unwrap_or(Color::Red);
            Style::default()
                .fg(Color::Black)
                .bg(c)
                .add_modifier(Modifier::BOLD)
        };
        Ok(t)
    }

    /// `NO_COLOR` set to any non-empty value (https://no-color.org).
    pub fn no_color_requested() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_parses_and_monochrome_has_no_colour() {
        let t = Theme::build(&[DEFAULT_THEME], false, "green").unwrap();
        assert_eq!(t.environment.bg, Some(Color::Green));
        assert_eq!(t.selected.bg, Some(Color::Cyan));
        let m = Theme::build(&[DEFAULT_THEME], true, "green").unwrap();
        for s in [m.base, m.selected, m.error, m.environment, m.tab_active] {
            assert_eq!(s.fg, None);
            assert_eq!(s.bg, None);
        }
        assert!(m.selected.add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn override_merges() {
        let t = Theme::build(
            &[DEFAULT_THEME, "[styles]\nselected = { fg = \"red\" }\n"],
            false,
            "red",
        )
        .unwrap();
        assert_eq!(t.selected.fg, Some(Color::Red));
        assert!(Theme::build(&[DEFAULT_THEME, "[styles]\nbogus = {}\n"], false, "red").is_err());
    }
}
