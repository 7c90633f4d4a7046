//! A private PostgreSQL cluster started from the server binaries on this machine — for
//! `hubdeck demo` and the test harness. Never downloads anything.
//!
//! PostgreSQL refuses to run as root; when we are root the server runs as the unprivileged
//! `postgres` account (override with `HUBDECK_PG_USER`).

use std::ffi::OsString;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use thiserror::Error;

mod nofollow;
mod run_as;
pub use nofollow::open_log;
use nofollow::{open_dir_nofollow, private_dir};
pub use run_as::RunAs;

/// The Debian/Ubuntu package that provides the server binaries.
pub const SERVER_PACKAGE_HINT: &str = "install the PostgreSQL server package (Debian/Ubuntu: `apt-get install postgresql`; Fedora: `dnf install postgresql-server`; macOS: `brew install postgresql`)";

#[derive(Debug, Error)]
pub enum LocalPgError {
    #[error(
        "PostgreSQL server binaries (initdb, postgres, pg_ctl) not found; searched: {searched}. To fix: {SERVER_PACKAGE_HINT}, or set HUBDECK_PG_BINDIR to the directory holding them"
    )]
    BinariesMissing { searched: String },
    #[error(
        "running as root, but the unprivileged account {0:?} that PostgreSQL must run as does not exist (create it, or set HUBDECK_PG_USER)"
    )]
    NoUnprivilegedUser(String),
    #[error("{step} failed: {message}")]
    Command { step: &'static str, message: String },
    #[error("PostgreSQL did not accept connections within {0:?}; see its log at {1}")]
    NotReady(Duration, PathBuf),
    #[error(
        "{0} is a symbolic link or not a plain file or directory; refusing to follow it (remove it if you did not create it)"
    )]
    NotPlain(PathBuf),
    #[error("I/O error at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LocalPgError + '_ {
    move |source| LocalPgError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where the server binaries live.
#[derive(Clone, Debug)]
pub struct PgBinaries {
    pub bindir: PathBuf,
}

impl PgBinaries {
    /// Searches `HUBDECK_PG_BINDIR` alone when it is set; otherwise `pg_config --bindir`, PATH
    /// and /usr/lib/postgresql/*/bin (newest first).
    pub fn locate() -> Result<Self, LocalPgError> {
        Self::locate_in(&default_candidates())
    }

    /// Searches only `candidates` (first that holds initdb, postgres and pg_ctl wins).
    pub fn locate_in(candidates: &[PathBuf]) -> Result<Self, LocalPgError> {
        for dir in candidates {
            if ["initdb", "postgres", "pg_ctl"]
                .iter()
                .all(|b| is_executable(&dir.join(b)))
            {
                return Ok(Self {
                    bindir: dir.clone(),
                });
            }
        }
        Err(LocalPgError::BinariesMissing {
            searched: if candidates.is_empty() {
                "(nothing)".into()
            } else {
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The default search list for [`PgBinaries::locate`]. An explicit `HUBDECK_PG_BINDIR` is the
/// whole list (a wrong setting is reported, never silently replaced by another server).
pub fn default_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(d) = std::env::var_os("HUBDECK_PG_BINDIR").filter(|d| !d.is_empty()) {
        out.push(PathBuf::from(d));
        return out;
    }
    if let Ok(o) = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
        && o.status.success()
    {
        let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if !s.is_empty() {
            out.push(PathBuf::from(s));
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        out.extend(std::env::split_paths(&path));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.sort_by_key(|p| {
        std::cmp::Reverse(
            p.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0),
        )
    });
    out.extend(versions);
    out
}

/// A cluster directory plus how to run it.
#[derive(Clone, Debug)]
pub struct LocalCluster {
    pub bins: PgBinaries,
    /// `PGDATA`
    pub data_dir: PathBuf,
    /// Private directory for the unix socket.
    pub socket_dir: PathBuf,
    pub port: u16,
    pub log_file: PathBuf,
    pub run_as: Option<RunAs>,
    /// Speed over durability (tests, benchmarks): fsync and friends off.
    pub unsafe_fast: bool,
}

impl LocalCluster {
    /// A cluster rooted at `root` (`root/data`, `root/sock`, `root/postgres.log`).
    pub fn new(bins: PgBinaries, root: &Path, port: u16) -> Result<Self, LocalPgError> {
        Ok(Self {
            bins,
            data_dir: root.join("data"),
            socket_dir: root.join("sock"),
            port,
            log_file: root.join("postgres.log"),
            run_as: RunAs::resolve()?,
            unsafe_fast: false,
        })
    }

    pub fn is_initialised(&self) -> bool {
        self.data_dir.join("PG_VERSION").exists()
    }

    fn command(&self, bin: &str) -> Command {
        let mut c = Command::new(self.bins.bin(bin));
        if let Some(r) = self.run_as {
            c.uid(r.uid).gid(r.gid);
        }
        c.env("LC_ALL", "C").env_remove("PGDATA");
        c
    }

    /// Creates or checks the cluster's directories and log. Nothing here follows a symlink:
    /// as root these are chowned to the server account, and a link planted in a directory
    /// another account could write would otherwise hand that account any file on the host.
    fn prepare_dirs(&self) -> Result<(), LocalPgError> {
        let data = private_dir(&self.data_dir)?;
        let sock = private_dir(&self.socket_dir)?;
        let log = open_log(&self.log_file)?;
        if let Some(r) = self.run_as {
            // The server account must reach its files: the cluster root is handed to it.
            if let Some(root) = self.data_dir.parent() {
                r.fchown(&open_dir_nofollow(root)?, root)?;
            }
            r.fchown(&data, &self.data_dir)?;
            r.fchown(&sock, &self.socket_dir)?;
            r.fchown(&log, &self.log_file)?;
        }
        Ok(())
    }

    /// Runs initdb unless the directory already holds a cluster.
    pub fn init(&self) -> Result<(), LocalPgError> {
        if self.is_initialised() {
            return Ok(());
        }
        self.prepare_dirs()?;
        let out = self
            .command("initdb")
            .arg("-D")
            .arg(&self.data_dir)
            .args([
                "-U",
                "postgres",
                // Local (socket) connections only; the socket dir's 0700 is the lock.
                "--auth-local=trust",
                "--auth-host=reject",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| LocalPgError::Command {
                step: "initdb",
                message: e.to_string(),
            })?;
        if !out.status.success() {
            return Err(LocalPgError::Command {
                step: "initdb",
                message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(())
    }

    fn server_options(&self) -> Vec<OsString> {
        let mut o: Vec<OsString> = vec![
            "-p".into(),
            self.port.to_string().into(),
            "-k".into(),
            self.socket_dir.clone().into_os_string(),
            // No TCP at all: the only way in is the unix socket in `socket_dir` (0700), so
            // only this account (and root) can connect on a shared machine. The port only
            // names the socket file (`.s.PGSQL.<port>`).
            "-c".into(),
            "listen_addresses=".into(),
            "-c".into(),
            "max_connections=200".into(),
            "-c".into(),
            "shared_buffers=256MB".into(),
            // Explicit: the visibility map autovacuum maintains is what makes index-only
            // scans (keyset pages, counts) work on the demo and bench datasets.
            "-c".into(),
            "autovacuum=on".into(),
        ];
        if self.unsafe_fast {
            for s in [
                "fsync=off",
                "synchronous_commit=off",
                "full_page_writes=off",
            ] {
                o.push("-c".into());
                o.push(s.into());
            }
        }
        o
    }

    /// Starts the server as a daemon (`pg_ctl start -w`); it outlives this process.
    pub fn start_daemon(&self) -> Result<(), LocalPgError> {
        self.prepare_dirs()?;
        let opts: Vec<String> = self
            .server_options()
            .iter()
            .map(|s| {
                let s = s.to_string_lossy();
                if s.contains(' ') {
                    format!("'{s}'")
                } else {
                    s.into_owned()
                }
            })
            .collect();
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&self.log_file)
            .args(["-w", "-t", "30", "-o"])
            .arg(opts.join(" "))
            .arg("start")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| LocalPgError::Command {
                step: "pg_ctl start",
                message: e.to_string(),
            })?;
        if !out.status.success() {
            let log_tail = std::fs::read_to_string(&self.log_file).unwrap_or_default();
            let tail: Vec<&str> = log_tail.lines().rev().take(5).collect();
            return Err(LocalPgError::Command {
                step: "pg_ctl start",
                message: format!(
                    "{} {}",
                    String::from_utf8_lossy(&out.stderr).trim(),
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                ),
            });
        }
        Ok(())
    }

    /// Starts `postgres` as a child of the calling thread. With `die_with_parent` the server
    /// gets SIGQUIT when that thread ends (test harness: no orphaned servers).
    pub fn spawn_attached(&self, die_with_parent: bool) -> Result<Child, LocalPgError> {
        self.prepare_dirs()?;
        let mut c = self.command("postgres");
        c.arg("-D").arg(&self.data_dir).args(self.server_options());
        let log = open_log(&self.log_file)?;
        let log2 = log.try_clone().map_err(io(&self.log_file))?;
        c.stdin(Stdio::null()).stdout(log).stderr(log2);
        if die_with_parent {
            // SAFETY: prctl is async-signal-safe; runs in the child after setuid (std applies
            // uid/gid before pre_exec closures), so the death signal survives the credential change.
            unsafe {
                c.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        c.spawn().map_err(|e| LocalPgError::Command {
            step: "postgres",
            message: e.to_string(),
        })
    }

    /// Stops a daemon started by [`Self::start_daemon`] (fast shutdown). No-op when not running.
    pub fn stop(&self) -> Result<(), LocalPgError> {
        let pid_file = self.data_dir.join("postmaster.pid");
        if !pid_file.exists() {
            return Ok(());
        }
        // The postmaster's pid, so "stopped" means its process is gone, not only its pid file
        // (pg_ctl returns once the file is removed, a moment before the process exits).
        let postmaster: Option<u32> = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.lines().next().and_then(|l| l.trim().parse().ok()));
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w", "-t", "30", "stop"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| LocalPgError::Command {
                step: "pg_ctl stop",
                message: e.to_string(),
            })?;
        if !out.status.success() && self.data_dir.join("postmaster.pid").exists() {
            return Err(LocalPgError::Command {
                step: "pg_ctl stop",
                message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        if let Some(pid) = postmaster {
            // A zombie (exited, not yet reaped by its parent) counts as gone.
            let alive = || {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|st| {
                    st.rsplit_once(')')
                        .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
                })
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while alive() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }

    /// Whether a server is running on this data dir (`pg_ctl status`).
    pub fn is_running(&self) -> bool {
        self.command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// The port recorded in a running server's postmaster.pid (line 4).
    pub fn running_port(&self) -> Option<u16> {
        let pid = std::fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        pid.lines().nth(3)?.trim().parse().ok()
    }

    /// A connection URL over the private unix socket, in the form both sqlx and libpq
    /// (`psql`) accept: `postgres:///DB?host=/socket/dir&port=N&user=postgres`. (sqlx refuses
    /// `postgres://user@/DB`: "empty host".)
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres:///{}?host={}&port={}&user=postgres",
            database,
            encode_query_value(&self.socket_dir.to_string_lossy()),
            self.port,
        )
    }

    /// Waits until the server accepts connections.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), LocalPgError> {
        let deadline = Instant::now() + timeout;
        let url = self.url("postgres");
        loop {
            if let Ok(c) = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await {
                let _ = sqlx::Connection::close(c).await;
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(LocalPgError::NotReady(timeout, self.log_file.clone()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Percent-encodes what a query value may not hold raw (`/` stays readable).
fn encode_query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A TCP port on 127.0.0.1 that was free a moment ago (the cluster uses it only to name its
/// socket file; a free TCP port keeps clusters started side by side apart).
pub fn free_port() -> Result<u16, LocalPgError> {
    let l = TcpListener::bind(("127.0.0.1", 0)).map_err(io(Path::new("127.0.0.1:0")))?;
    let port = l.local_addr().map_err(io(Path::new("127.0.0.1:0")))?.port();
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_names_the_remedy() {
        let e = PgBinaries::locate_in(&[PathBuf::from("/nonexistent/bin")]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("apt-get install postgresql"), "{msg}");
        assert!(msg.contains("/nonexistent/bin"), "{msg}");
    }
}
