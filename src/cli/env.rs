//! `hubdeck env list|current`: the environments (hubs) of the config file and the data dir.

use clap::Subcommand;
use serde::Serialize;

use super::output::{outln, print_table};
use super::{Context, Output, print_json};
use crate::config::{EnvCatalog, EnvSource, Settings};
use crate::domain::DisplayText;

#[derive(Debug, Subcommand)]
pub enum EnvCmd {
    /// List the environments, the current one marked with `*`.
    List,
    /// Print the name of the current environment (nothing when none is selected).
    Current,
}

/// One row of `env list`.
#[derive(Debug, Serialize)]
pub struct EnvRow {
    pub name: String,
    pub current: bool,
    pub source: EnvSource,
    /// The database URL without its password.
    pub database: String,
    pub directory: String,
    pub read_only: bool,
    pub color: String,
}

pub fn run(ctx: &Context, cmd: EnvCmd) -> anyhow::Result<i32> {
    match cmd {
        EnvCmd::Current => {
            if let Some(name) = &ctx.settings.env {
                outln!("{}", DisplayText::new(name))?;
            }
            Ok(0)
        }
        EnvCmd::List => list(ctx),
    }
}

fn list(ctx: &Context) -> anyhow::Result<i32> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let catalog = EnvCatalog::read(
        ctx.config_path.as_deref(),
        crate::config::default_config_path().as_deref(),
        &crate::config::data_dir_from(&env),
    )?;
    let mut rows = Vec::new();
    for e in &catalog.envs {
        // Each environment as it resolves on its own (the HUBDECK_* variables apply to all).
        let s = Settings::resolve(&catalog, &env, Some(&e.name))?;
        rows.push(EnvRow {
            name: e.name.clone(),
            current: ctx.settings.env.as_deref() == Some(e.name.as_str()),
            source: e.source.clone(),
            database: s.database.url.redacted(),
            directory: match s.directory.kind {
                crate::config::DirectoryKind::Local => "local".into(),
                crate::config::DirectoryKind::Cognito => {
                    format!("cognito {}", s.directory.user_pool_id)
                }
            },
            read_only: s.ui.read_only,
            color: s.ui.environment_color.clone(),
        });
    }
    if ctx.output == Output::Json {
        print_json(&rows)?;
        return Ok(0);
    }
    if rows.is_empty() {
        outln!(
            "no environments: add [env.NAME] tables to {} (see config.example.toml), or run `hubdeck demo`",
            catalog
                .config_file
                .as_deref()
                .or(crate::config::default_config_path().as_deref())
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "the config file".into())
        )?;
        return Ok(0);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                if r.current { "*" } else { "" }.to_string(),
                r.name.clone(),
                if r.read_only { "read-only" } else { "writable" }.to_string(),
                match r.source {
                    EnvSource::ConfigFile => "config",
                    EnvSource::Registered => "registered",
                    EnvSource::Both => "both",
                }
                .to_string(),
                r.directory.clone(),
                r.database.clone(),
            ]
        })
        .collect();
    print_table(
        &["", "NAME", "MODE", "SOURCE", "DIRECTORY", "DATABASE"],
        &cells,
    )?;
    if ctx.settings.env.is_none() {
        outln!(
            "(no environment selected: the top-level settings apply; use --env NAME or HUBDECK_ENV)"
        )?;
    }
    Ok(0)
}
