//! The console's log file, rotated by size: a console left open for weeks on a bastion (or one
//! run with `log.level = "debug"`) must not fill the disk. When a write would take the file past
//! `log.max_bytes`, `hubdeck.log` becomes `hubdeck.log.1`, `.1` becomes `.2`, … and the file
//! past `log.keep` is removed. Every file is created 0600 and opened without following a
//! symlink (a log may name users and mandates).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An append-only log file that rotates itself.
pub struct RotatingLog {
    path: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
    keep: u32,
}

impl RotatingLog {
    /// Opens (creating 0600) `path` for appending. `max_bytes` 0 means no rotation; `keep` is
    /// how many rotated files stay beside the current one.
    pub fn open(path: &Path, max_bytes: u64, keep: u32) -> io::Result<Self> {
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_path_buf(),
            file,
            size,
            max_bytes,
            keep,
        })
    }

    /// `hubdeck.log.N`.
    pub fn rotated_path(path: &Path, n: u32) -> PathBuf {
        let mut s = path.as_os_str().to_os_string();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.keep == 0 {
            // Nothing kept: start the file again.
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        let _ = std::fs::remove_file(Self::rotated_path(&self.path, self.keep));
        for n in (1..self.keep).rev() {
            let from = Self::rotated_path(&self.path, n);
            if std::fs::symlink_metadata(&from).is_ok() {
                std::fs::rename(&from, Self::rotated_path(&self.path, n + 1))?;
            }
        }
        std::fs::rename(&self.path, Self::rotated_path(&self.path, 1))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    crate::localpg::open_log(path).map_err(|e| match e {
        crate::localpg::LocalPgError::Io { source, .. } => source,
        other => io::Error::other(other.to_string()),
    })
}

impl Write for RotatingLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.max_bytes > 0 && self.size > 0 && self.size + buf.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
