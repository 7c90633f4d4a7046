//! The account the server runs as.

use std::path::Path;

use super::{LocalPgError, io};

/// The account the server runs as: ourselves, or `postgres` when we are root.
#[derive(Clone, Copy, Debug)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

impl RunAs {
    pub fn resolve() -> Result<Option<Self>, LocalPgError> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(None);
        }
        let name = std::env::var("HUBDECK_PG_USER").unwrap_or_else(|_| "postgres".into());
        let cname = std::ffi::CString::new(name.clone())
            .map_err(|_| LocalPgError::NoUnprivilegedUser(name.clone()))?;
        // SAFETY: getpwnam returns a pointer into static storage or NULL; we copy out at once.
        let pw = unsafe { libc::getpwnam(cname.as_ptr()) };
        if pw.is_null() {
            return Err(LocalPgError::NoUnprivilegedUser(name));
        }
        // SAFETY: pw is non-null and points to a valid passwd struct.
        let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
        if uid == 0 {
            return Err(LocalPgError::NoUnprivilegedUser(name));
        }
        Ok(Some(Self { uid, gid }))
    }

    /// Hands `f` (opened without following symlinks) to the server account.
    pub(crate) fn fchown(&self, f: &std::fs::File, p: &Path) -> Result<(), LocalPgError> {
        std::os::unix::fs::fchown(f, Some(self.uid), Some(self.gid)).map_err(io(p))
    }
}
