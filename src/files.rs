//! Private files. What hubdeck writes on a shared bastion — logs, audit exports, the data dir
//! with the demo cluster — is for its owner only: files are created 0600 and directories 0700
//! whatever the umask, and a file that already exists with looser bits is tightened.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const FILE_MODE: u32 = 0o600;
pub const DIR_MODE: u32 = 0o700;

/// Creates `path` and any missing parents with mode 0700. Directories that already exist
/// are left as they are (a parent may be `/tmp` or a shared mount).
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
}

/// The data dir ([`crate::config::data_dir`]), created 0700. The platform default (not an
/// explicit `HUBDECK_DATA_DIR`) is hubdeck's own, so one left group- or world-readable by an
/// earlier version is tightened to 0700.
pub fn ensure_data_dir() -> io::Result<PathBuf> {
    let dir = crate::config::data_dir();
    create_private_dir(&dir)?;
    let explicit = std::env::var_os("HUBDECK_DATA_DIR").is_some_and(|d| !d.is_empty());
    if !explicit {
        tighten(&dir, DIR_MODE)?;
    }
    Ok(dir)
}

/// Creates (or truncates) a file readable by its owner only.
pub fn create_private(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    tighten_file(&f)?;
    Ok(f)
}

/// Creates a new file readable by its owner only; fails if `path` exists (O_EXCL).
pub fn create_new_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Opens a file for appending (a log), creating it readable by its owner only.
pub fn append_private(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)?;
    tighten_file(&f)?;
    Ok(f)
}

/// `mode` on an existing file opened by us: `mode(0o600)` only applies when the file is new.
fn tighten_file(f: &File) -> io::Result<()> {
    let meta = f.metadata()?;
    if meta.mode() & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(())
}

fn tighten(path: &Path, mode: u32) -> io::Result<()> {
    let meta = std::fs::metadata(path)?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() == me && meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o777
    }

    #[test]
    fn files_and_dirs_are_private_whatever_existed() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("a/b");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&t.path().join("a")), 0o700);

        let new = dir.join("export.csv");
        create_private(&new).unwrap();
        assert_eq!(mode(&new), 0o600);

        let old = dir.join("hubdeck.log");
        std::fs::write(&old, b"x").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        append_private(&old).unwrap();
        assert_eq!(mode(&old), 0o600);
        assert_eq!(std::fs::read(&old).unwrap(), b"x", "append keeps the log");
    }
}
