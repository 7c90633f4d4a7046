//! Debian's PgBouncer in front of the test cluster, in session or transaction pooling mode,
//! one per test (a private config, a free TCP port, trust authentication to the cluster's
//! unix socket). Started on the keeper thread with a parent-death signal, like PostgreSQL, so
//! it never outlives the test run; stopped when dropped. Missing PgBouncer fails the test with
//! the remedy (scripts/setup.sh pgbouncer).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolMode {
    Session,
    Transaction,
}

impl PoolMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
        }
    }
}

pub struct PgBouncer {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

fn binary() -> PathBuf {
    for p in ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    super::fail_missing(
        "PgBouncer",
        "install it: scripts/setup.sh pgbouncer (apt: pgbouncer)",
    )
}

impl PgBouncer {
    /// Starts PgBouncer in `mode` and waits until it accepts connections.
    pub fn start(mode: PoolMode) -> Self {
        let c = super::pg::cluster();
        let bin = binary();
        let dir = tempfile::tempdir().expect("tempdir");
        let port = hubdeck::localpg::free_port().expect("free port");
        let ini = dir.path().join("pgbouncer.ini");
        let users = dir.path().join("userlist.txt");
        std::fs::write(&users, "\"postgres\" \"\"\n").expect("userlist");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n\
                 * = host={socket} port={pgport} user=postgres\n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\n\
                 listen_port = {port}\n\
                 unix_socket_dir =\n\
                 auth_type = trust\n\
                 auth_file = {users}\n\
                 pool_mode = {mode}\n\
                 max_client_conn = 200\n\
                 default_pool_size = 4\n\
                 logfile = {log}\n\
                 pidfile = {pid}\n",
                socket = c.cluster.socket_dir.display(),
                pgport = c.cluster.port,
                users = users.display(),
                mode = mode.as_str(),
                log = dir.path().join("pgbouncer.log").display(),
                pid = dir.path().join("pgbouncer.pid").display(),
            ),
        )
        .expect("ini");
        // PgBouncer refuses to run as root; the cluster's account runs it (it reads the
        // config and writes its log in the private directory).
        let as_root = unsafe { libc::geteuid() } == 0;
        if as_root {
            let _ = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status();
        }
        let mut cmd = Command::new(bin);
        if as_root {
            cmd.args(["-u", "postgres"]);
        }
        cmd.arg(&ini)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = super::on_keeper(move || {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl in the child before exec.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            cmd.spawn()
        })
        .unwrap_or_else(|e| panic!("start pgbouncer: {e}"));
        let me = Self {
            port,
            dir,
            child: Some(child),
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return me;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("pgbouncer did not listen on {port}:\n{}", me.log());
    }

    /// A URL for database `db` through PgBouncer (TCP, no TLS).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
