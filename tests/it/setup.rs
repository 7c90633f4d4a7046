//! The README's run command sets itself up: `./demo.sh` runs `scripts/setup.sh` (the same
//! install script `./test.sh` uses), which reports exactly what it installs or what the user
//! must install when the PostgreSQL server binaries are absent, and goes straight on to
//! `cargo run --release -- demo` when they are present.
//!
//! A fresh machine is played with a PATH holding only the basic tools (no pg_config, initdb,
//! postgres) and HUBDECK_PG_ROOT pointing at an empty directory; `apt-get` and `cargo` are
//! stand-ins that record how they were called.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const TOOLS: [&str; 6] = ["bash", "sh", "dirname", "id", "cat", "env"];

struct Machine {
    dir: tempfile::TempDir,
}

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn which(tool: &str) -> PathBuf {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{tool} not found");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

impl Machine {
    /// A copy of the two scripts and a bin dir with the basic tools, readable by anyone (the
    /// non-root case runs as `nobody`).
    fn new(with_apt: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("scripts")).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR"));
        for f in ["demo.sh", "scripts/setup.sh"] {
            std::fs::copy(src.join(f), repo.join(f)).unwrap();
        }
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for t in TOOLS {
            std::os::unix::fs::symlink(which(t), bin.join(t)).unwrap();
        }
        let log = dir.path().join("calls.log");
        write_exec(
            &bin.join("cargo"),
            &format!(
                "#!/bin/sh\necho \"cargo $*\" >> '{}'\necho FAKE-CARGO-RAN\n",
                log.display()
            ),
        );
        if with_apt {
            // Records the call and installs nothing (so the script must say so afterwards).
            write_exec(
                &bin.join("apt-get"),
                &format!("#!/bin/sh\necho \"apt-get $*\" >> '{}'\n", log.display()),
            );
        }
        std::fs::create_dir_all(dir.path().join("pgroot")).unwrap();
        // The unprivileged run (as nobody) must be able to record a call, or a wrong call
        // would go unseen.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        Self { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Fake server binaries where a Debian package puts them (`<pg root>/15/bin`).
    fn install_server(&self) -> PathBuf {
        let bindir = self.root().join("pgroot/15/bin");
        std::fs::create_dir_all(&bindir).unwrap();
        for b in ["initdb", "postgres"] {
            write_exec(&bindir.join(b), "#!/bin/sh\nexit 0\n");
        }
        bindir
    }

    fn calls(&self) -> String {
        std::fs::read_to_string(self.root().join("calls.log")).unwrap_or_default()
    }

    /// Runs `./demo.sh ARGS` (as `nobody` when `unprivileged` and we are root).
    fn demo(
        &self,
        args: &[&str],
        vars: &[(&str, &str)],
        unprivileged: bool,
    ) -> (Option<i32>, String) {
        let mut c = if unprivileged && is_root() {
            let mut c = Command::new(which("setpriv"));
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
            c.arg(self.root().join("repo/demo.sh"));
            c
        } else {
            Command::new(self.root().join("repo/demo.sh"))
        };
        c.args(args)
            .env_clear()
            .env("PATH", self.root().join("bin"))
            .env("HOME", self.root())
            .env("HUBDECK_PG_ROOT", self.root().join("pgroot"));
        for (k, v) in vars {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        (out.status.code(), text)
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn without_server_binaries_as_root_it_says_what_it_installs() {
    let m = Machine::new(true);
    if !is_root() {
        // Not root: apt-get is never attempted; the instruction is given instead.
        let (code, out) = m.demo(&[], &[], false);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("sudo apt-get install postgresql"), "{out}");
        assert_eq!(m.calls(), "");
        return;
    }
    // Dry run: names the packages, runs neither apt-get nor cargo.
    let (code, out) = m.demo(&["--no-console"], &[("HUBDECK_SETUP_DRY_RUN", "1")], false);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("missing: PostgreSQL server binaries (initdb, postgres); would install with apt-get: postgresql postgresql-contrib"),
        "{out}"
    );
    assert!(
        out.contains("would then run: cargo run --release -- demo --no-console"),
        "{out}"
    );
    assert_eq!(m.calls(), "");

    // For real: it runs exactly that apt-get install; the stand-in installs nothing, so the
    // script says the binaries are still missing and does not start the demo.
    let (code, out) = m.demo(&["--no-console"], &[], false);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("installing with apt-get: postgresql postgresql-contrib"),
        "{out}"
    );
    assert!(out.contains("still not found after installing"), "{out}");
    let calls = m.calls();
    assert!(calls.contains("apt-get update"), "{calls}");
    assert!(
        calls.contains(
            "apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib"
        ),
        "{calls}"
    );
    assert!(!calls.contains("cargo"), "{calls}");
    assert!(!out.contains("FAKE-CARGO-RAN"));
}

#[test]
fn without_server_binaries_unprivileged_it_says_what_to_install() {
    let m = Machine::new(true);
    let (code, out) = m.demo(&[], &[], true);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("missing: PostgreSQL server binaries (initdb, postgres). Install it: sudo apt-get install postgresql postgresql-contrib"),
        "{out}"
    );
    assert!(!out.contains("installing"), "{out}");
    assert_eq!(m.calls(), "", "neither apt-get nor cargo ran");
}

#[test]
fn with_server_binaries_it_goes_straight_to_the_demo() {
    let m = Machine::new(true);
    let bindir = m.install_server();
    let (code, out) = m.demo(&["--no-console"], &[], false);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "ok: PostgreSQL server binaries in {}",
            bindir.display()
        )),
        "{out}"
    );
    assert!(out.contains("FAKE-CARGO-RAN"), "{out}");
    assert_eq!(m.calls(), "cargo run --release -- demo --no-console\n");
    assert!(!out.contains("apt-get"), "{out}");

    // HUBDECK_PG_BINDIR is the only place looked at when set (as in hubdeck itself).
    let empty = m.root().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, out) = m.demo(
        &[],
        &[("HUBDECK_PG_BINDIR", empty.to_str().unwrap())],
        false,
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("HUBDECK_PG_BINDIR"), "{out}");
}

#[test]
fn test_sh_uses_the_same_setup_script() {
    let test_sh =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("test.sh")).unwrap();
    assert!(
        test_sh.contains("scripts/setup.sh pg tmux zsh sudo mandoc faketime moto cargo"),
        "{test_sh}"
    );
    let ci =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/run")).unwrap();
    assert!(ci.contains("exec ./test.sh"), "{ci}");
}
