//! Named environments: `[env.NAME]` tables of the config file and the files under
//! `<data dir>/environments` (written by `hubdeck demo`), merged into one catalogue.

use super::load::merge;
use super::{ConfigError, secrets};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where an environment is defined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvSource {
    /// `[env.NAME]` in the config file.
    ConfigFile,
    /// `<data dir>/environments/NAME.toml` (e.g. written by `hubdeck demo`).
    Registered,
    /// Both: the config file's table is merged over the registered one.
    Both,
}

/// One named environment and its overlay.
#[derive(Clone, Debug)]
pub struct EnvEntry {
    pub name: String,
    pub source: EnvSource,
    /// The file(s) it comes from, for messages.
    pub paths: Vec<PathBuf>,
    pub(super) overlay: toml::Value,
}

/// Every environment the config file and the data dir define, and the file's `default_env`.
#[derive(Clone, Debug, Default)]
pub struct EnvCatalog {
    pub config_file: Option<PathBuf>,
    pub default_env: Option<String>,
    pub envs: Vec<EnvEntry>,
    /// The base settings of the file (without any `[env.*]`).
    pub(super) base: Option<toml::Value>,
}

impl EnvCatalog {
    pub fn names(&self) -> Vec<String> {
        self.envs.iter().map(|e| e.name.clone()).collect()
    }

    pub fn get(&self, name: &str) -> Option<&EnvEntry> {
        self.envs.iter().find(|e| e.name == name)
    }

    /// Reads the config file (`explicit` must exist; `default_path` only when present) and the
    /// registered environments under `<data dir>/environments`.
    pub fn read(
        explicit: Option<&Path>,
        default_path: Option<&Path>,
        data_dir: &Path,
    ) -> Result<Self, ConfigError> {
        let mut cat = EnvCatalog::default();
        let file = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => default_path.filter(|p| p.exists()).map(Path::to_path_buf),
        };
        let mut file_envs = toml::map::Map::new();
        if let Some(path) = &file {
            let mut overlay = read_toml(path)?;
            if let Some(t) = overlay.as_table_mut() {
                match t.remove("default_env") {
                    Some(toml::Value::String(d)) => cat.default_env = Some(d),
                    Some(_) => {
                        return Err(ConfigError::Invalid(format!(
                            "{}: default_env must be a string",
                            path.display()
                        )));
                    }
                    None => {}
                }
                match t.remove("env") {
                    Some(toml::Value::Table(envs)) => file_envs = envs,
                    Some(_) => {
                        return Err(ConfigError::Invalid(format!(
                            "{}: env must be a table of [env.NAME] tables",
                            path.display()
                        )));
                    }
                    None => {}
                }
            }
            cat.base = Some(overlay);
            cat.config_file = Some(path.clone());
        }
        // Registered environments first, so the config file's tables merge over them.
        let reg_dir = registered_env_dir(data_dir);
        if let Ok(rd) = std::fs::read_dir(&reg_dir) {
            let mut files: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for p in files {
                let Some(name) = p.file_stem().and_then(|s| s.to_str()).map(str::to_string) else {
                    continue;
                };
                if !valid_env_name(&name) {
                    continue;
                }
                let overlay = read_toml(&p)?;
                cat.envs.push(EnvEntry {
                    name,
                    source: EnvSource::Registered,
                    paths: vec![p],
                    overlay,
                });
            }
        }
        for (name, overlay) in file_envs {
            let path = file.clone().unwrap_or_default();
            if !valid_env_name(&name) {
                return Err(ConfigError::BadEnv {
                    name,
                    source_path: path.display().to_string(),
                    message: "names are 1–64 letters, digits, '-' or '_'".into(),
                });
            }
            if !overlay.is_table() {
                return Err(ConfigError::BadEnv {
                    name,
                    source_path: path.display().to_string(),
                    message: "must be a table ([env.NAME] with [env.NAME.database] ...)".into(),
                });
            }
            match cat.envs.iter_mut().find(|e| e.name == name) {
                Some(e) => {
                    merge(&mut e.overlay, overlay);
                    e.source = EnvSource::Both;
                    e.paths.push(path);
                }
                None => cat.envs.push(EnvEntry {
                    name,
                    source: EnvSource::ConfigFile,
                    paths: vec![path],
                    overlay,
                }),
            }
        }
        cat.envs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(cat)
    }

    /// The environment to use: the flag, else `HUBDECK_ENV`, else the file's `default_env`.
    pub fn select(
        &self,
        flag: Option<&str>,
        env: &[(String, String)],
    ) -> Result<Option<String>, ConfigError> {
        let from_env = env
            .iter()
            .find(|(k, _)| k == "HUBDECK_ENV")
            .map(|(_, v)| v.as_str());
        let chosen = flag
            .or(from_env)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or_else(|| self.default_env.clone());
        match chosen {
            None => Ok(None),
            Some(name) if self.get(&name).is_some() => Ok(Some(name)),
            Some(name) => Err(ConfigError::UnknownEnv {
                name,
                known: self.names(),
            }),
        }
    }
}

/// Environment names: 1–64 of `[A-Za-z0-9_-]`.
pub fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Where registered environments live: `<data dir>/environments`.
pub fn registered_env_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("environments")
}

/// Registers (or replaces) the environment `name` with the given overlay, atomically and
/// readable only by the owner. Used by `hubdeck demo`.
pub fn register_env(data_dir: &Path, name: &str, overlay: &str) -> std::io::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if !valid_env_name(name) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("invalid environment name {name:?}"),
        ));
    }
    let dir = registered_env_dir(data_dir);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.toml"));
    let tmp = dir.join(format!(".{name}.toml.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(overlay.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

fn read_toml(path: &Path) -> Result<toml::Value, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let value = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: secrets::toml_error_without_values(&text, &e),
    })?;
    secrets::warn_if_exposed(path, &value);
    Ok(value)
}
