//! The one way integration tests run the real binary for commands that need the services:
//! explicitly as infrastructure. A CLI command acts as the operator signed in with
//! `hubdeck login`; without a session it runs as infrastructure only when the environment
//! allows it (`cli.infrastructure`) *and* the command asks (`--as-infrastructure`). The tests
//! that exercise the unattended flows take that route here, in one place, rather than weakening
//! the default.

use std::process::Command;

/// The environment variable that allows the infrastructure identity, for commands started
/// another way (in tmux: `Tmux::start(&[INFRA_FLAG, ...], &[INFRA_ENV, ...])`).
pub const INFRA_ENV: (&str, &str) = ("HUBDECK_CLI__INFRASTRUCTURE", "true");
/// The flag that asks for it.
pub const INFRA_FLAG: &str = "--as-infrastructure";

/// `hubdeck` with the infrastructure identity allowed and asked for.
pub fn infra() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hubdeck"));
    as_infrastructure(&mut c);
    c
}

/// Adds the infrastructure route to a command built elsewhere (e.g. a tokio `Command`'s std
/// half, or one that needs its own environment first).
pub fn as_infrastructure(c: &mut Command) -> &mut Command {
    // Without SUDO_USER the audit trail names exactly [`real_account`].
    c.env(INFRA_ENV.0, INFRA_ENV.1)
        .env_remove("SUDO_USER")
        .arg(INFRA_FLAG)
}

/// The same for a tokio command.
pub fn tokio_infra() -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_hubdeck"));
    c.env(INFRA_ENV.0, INFRA_ENV.1)
        .env_remove("SUDO_USER")
        .arg(INFRA_FLAG);
    c
}

/// The account name of the effective uid, as the password database has it.
pub fn real_account() -> String {
    // SAFETY: geteuid has no preconditions; getpwuid returns a pointer into static storage that
    // is read before any other call in this thread could replace it.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        assert!(!pw.is_null(), "the effective uid has no passwd entry");
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}
