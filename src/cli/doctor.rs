//! `hubdeck doctor`: prints the health report (service::health) as lines or JSON.

use std::io::IsTerminal;

use super::output::outln;
use super::{Cli, Output, print_json};
use crate::config::{ConfigError, Settings};
use crate::domain::DisplayText;
use crate::service::health::{self, ConfigFacts, Status, TerminalFacts};

pub async fn run(cli: &Cli, loaded: Result<Settings, ConfigError>) -> i32 {
    let file = match &cli.config {
        Some(p) => Some(p.clone()),
        None => crate::config::default_config_path().filter(|p| p.exists()),
    };
    // An unknown --env / HUBDECK_ENV is a usage error (exit 2), as for every command; the
    // report still shows it as the failing config line.
    let usage_error = matches!(loaded, Err(ConfigError::UnknownEnv { .. }));
    // Credential files: the config file, the registered environments, this person's session.
    let mut config_files: Vec<std::path::PathBuf> = file.iter().cloned().collect();
    let data_dir = crate::config::data_dir();
    if let Ok(rd) = std::fs::read_dir(crate::config::registered_env_dir(&data_dir)) {
        config_files.extend(rd.flatten().map(|e| e.path()));
    }
    let env_name = match &loaded {
        Ok(s) => s.env.clone().unwrap_or_else(|| "default".into()),
        Err(_) => "default".into(),
    };
    let session = super::login::session_path_for(&env_name);
    let config = ConfigFacts {
        file,
        settings: loaded.map_err(|e| e.to_string()),
    };
    let mut report = health::diagnose(config, &terminal_facts()).await;
    report
        .checks
        .extend(crate::service::credential_files::checks(
            &config_files,
            Some(&session),
        ));
    let printed = if cli.output == Output::Json {
        print_json(&report)
    } else {
        print_lines(&report).map_err(anyhow::Error::from)
    };
    if let Err(e) = printed
        && !super::output::is_broken_pipe(&e)
    {
        super::report_error(&e);
        return 1;
    }
    if usage_error {
        2
    } else if report.ok {
        0
    } else {
        1
    }
}

/// One line per check (`PASS  id  detail`), the remedy indented under a non-pass.
fn print_lines(report: &health::Report) -> std::io::Result<()> {
    if let Some(env) = &report.environment {
        outln!("environment {}", DisplayText::new(env))?;
    }
    let w = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(8);
    for c in &report.checks {
        outln!(
            "{}  {:w$}  {}",
            c.status.label(),
            c.id,
            DisplayText::new(&c.detail)
        )?;
        if let Some(r) = &c.remedy {
            outln!("      {:w$}  → {}", "", DisplayText::new(r))?;
        }
    }
    let fails = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .count();
    if report.ok {
        outln!("all needed checks pass")
    } else {
        outln!("{fails} check(s) failed")
    }
}

/// What this process can see of its terminal.
fn terminal_facts() -> TerminalFacts {
    let is_terminal = std::io::stdout().is_terminal();
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let in_tmux = !var("TMUX").is_empty();
    let tmux_set_clipboard = (is_terminal && in_tmux)
        .then(|| {
            std::process::Command::new("tmux")
                .args(["show-options", "-gv", "set-clipboard"])
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        })
        .flatten();
    TerminalFacts {
        is_terminal,
        size: is_terminal
            .then(|| crossterm::terminal::size().ok())
            .flatten(),
        term: var("TERM"),
        colorterm: var("COLORTERM"),
        no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        tmux_set_clipboard,
        in_tmux,
    }
}
