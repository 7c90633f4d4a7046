//! Opening the cluster's files and directories without following symlinks.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::{LocalPgError, io};

/// Opens an existing directory without following a symlink at its last component, so the
/// chmod/chown that follow act on the directory itself and never on a planted link's target.
pub(crate) fn open_dir_nofollow(p: &Path) -> Result<std::fs::File, LocalPgError> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
        .open(p)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) | Some(libc::ENOTDIR) => LocalPgError::NotPlain(p.to_path_buf()),
            _ => io(p)(e),
        })
}

/// Creates `p` (0700) or checks that what is there is a real directory, then makes it 0700.
pub(crate) fn private_dir(p: &Path) -> Result<std::fs::File, LocalPgError> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if !m.is_dir() => return Err(LocalPgError::NotPlain(p.to_path_buf())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(p)
            .map_err(io(p))?,
        Err(e) => return Err(io(p)(e)),
    }
    let f = open_dir_nofollow(p)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o700))
        .map_err(io(p))?;
    Ok(f)
}

/// Opens the server log for appending (created 0600) without following a symlink: a link
/// planted where the log goes (say to /etc/sudoers) is refused, never written or chowned.
pub fn open_log(p: &Path) -> Result<std::fs::File, LocalPgError> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(p)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => LocalPgError::NotPlain(p.to_path_buf()),
            _ => io(p)(e),
        })?;
    let meta = f.metadata().map_err(io(p))?;
    if !meta.is_file() {
        return Err(LocalPgError::NotPlain(p.to_path_buf()));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io(p))?;
    }
    Ok(f)
}
