//! Loading the settings: defaults < file < selected environment < `HUBDECK_*` variables,
//! then validation.

use super::{ConfigError, EnvCatalog, Settings, data_dir_from, default_config_path};
use std::path::Path;

impl Settings {
    /// Loads defaults < file < selected environment < `HUBDECK_*` variables. `explicit` is
    /// `--config PATH` (must exist); otherwise the default config file is read when present.
    /// `env_flag` is `--env NAME` (else `HUBDECK_ENV`, else the file's `default_env`).
    pub fn load(explicit: Option<&Path>, env_flag: Option<&str>) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_env(explicit, default_config_path().as_deref(), &env, env_flag)
    }

    /// Testable core of [`Settings::load`] without an `--env` flag.
    pub fn load_from(
        explicit: Option<&Path>,
        default_path: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<Self, ConfigError> {
        Self::load_env(explicit, default_path, env, None)
    }

    /// Testable core of [`Settings::load`].
    pub fn load_env(
        explicit: Option<&Path>,
        default_path: Option<&Path>,
        env: &[(String, String)],
        env_flag: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let catalog = EnvCatalog::read(explicit, default_path, &data_dir_from(env))?;
        Self::resolve(&catalog, env, env_flag)
    }

    /// Settings from a catalog already read.
    pub fn resolve(
        catalog: &EnvCatalog,
        env: &[(String, String)],
        env_flag: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let mut value = toml::Value::try_from(Settings::default())
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if let Some(base) = &catalog.base {
            merge(&mut value, base.clone());
        }
        // Every environment must be valid, selected or not: a typo never waits for the day
        // someone switches to it.
        for e in &catalog.envs {
            let mut v = value.clone();
            merge(&mut v, e.overlay.clone());
            if let Err(err) = v.try_into::<Settings>() {
                return Err(ConfigError::BadEnv {
                    name: e.name.clone(),
                    source_path: e
                        .paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" + "),
                    message: err.to_string(),
                });
            }
        }
        let selected = catalog.select(env_flag, env)?;
        if let Some(name) = &selected
            && let Some(e) = catalog.get(name)
        {
            merge(&mut value, e.overlay.clone());
            if let Some(ui) = value.get_mut("ui").and_then(toml::Value::as_table_mut) {
                ui.insert("environment".into(), toml::Value::String(name.clone()));
            }
        }
        for (var, raw) in env {
            let Some(rest) = var.strip_prefix("HUBDECK_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue;
            };
            let section = section.to_ascii_lowercase();
            let key = key.to_ascii_lowercase();
            let Some(table) = value.get_mut(&section).and_then(toml::Value::as_table_mut) else {
                return Err(ConfigError::Env {
                    var: var.clone(),
                    message: format!("unknown section {section:?}"),
                });
            };
            let Some(existing) = table.get(&key) else {
                return Err(ConfigError::Env {
                    var: var.clone(),
                    message: format!("unknown key {key:?} in [{section}]"),
                });
            };
            let parsed = parse_env_value(existing, raw).map_err(|message| ConfigError::Env {
                var: var.clone(),
                message,
            })?;
            table.insert(key, parsed);
        }
        let mut settings: Settings = value
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        // The top bar names the selected environment, whatever ui.environment says.
        if let Some(name) = &selected {
            settings.ui.environment = name.clone();
        }
        settings.env = selected;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.database.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "database.max_connections must be at least 1".into(),
            ));
        }
        if self.trusts.key_prefix.is_empty()
            || !self
                .trusts
                .key_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
            || self.trusts.key_prefix.len() > 16
        {
            return Err(ConfigError::Invalid(
                "trusts.key_prefix must be 1–16 ASCII letters or digits".into(),
            ));
        }
        crate::domain::approval::Requirements::parse(&self.approvals.require, false)
            .map_err(ConfigError::Invalid)?;
        Ok(())
    }
}

pub(super) fn merge(base: &mut toml::Value, overlay: toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Interprets an environment value with the type of the default it replaces.
fn parse_env_value(existing: &toml::Value, raw: &str) -> Result<toml::Value, String> {
    Ok(match existing {
        toml::Value::String(_) => toml::Value::String(raw.to_string()),
        toml::Value::Boolean(_) => toml::Value::Boolean(
            crate::domain::page::parse_bool(raw)
                .ok_or_else(|| format!("expected true or false, got {raw:?}"))?,
        ),
        toml::Value::Integer(_) => toml::Value::Integer(
            raw.trim()
                .parse()
                .map_err(|_| format!("expected an integer, got {raw:?}"))?,
        ),
        toml::Value::Array(_) => {
            let t = raw.trim();
            if t.starts_with('[') {
                let v: toml::Value =
                    toml::from_str(&format!("v = {t}")).map_err(|e| e.to_string())?;
                v.get("v").cloned().ok_or("expected an array")?
            } else {
                toml::Value::Array(
                    t.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.into()))
                        .collect(),
                )
            }
        }
        other => {
            return Err(format!(
                "cannot set a {} from the environment",
                other.type_str()
            ));
        }
    })
}
