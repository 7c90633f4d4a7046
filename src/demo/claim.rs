//! Whose cluster directory this is. As root the cluster may live under the world-writable
//! /var/tmp, where another local account can prepare the path before root first runs the
//! demo: a directory of its own, or a `postgres.log` symlink to a file root would then chown
//! and append to. So a cluster root is used only when this account created it: created here
//! with mode 0700 and a marker file owned by us, and checked on every later run without
//! following symlinks. The shared parent (`/var/tmp/hubdeck-demo-<uid>`) must be ours and
//! writable by nobody else, or anyone could swap the root out from under the checks.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

use anyhow::{Context as _, bail};

use crate::localpg::RunAs;

/// Written at creation, owned by the account that ran `hubdeck demo`; another account cannot
/// make a file owned by us, so its presence proves the directory is ours.
const MARKER: &str = ".hubdeck-demo-cluster";

const REMEDY: &str = "remove it, or run `hubdeck demo --fresh` to delete and recreate it";

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// The parent of a cluster root under `/var/tmp`: ours, not a symlink, writable only by us.
/// It stays traversable (0711) so the server account reaches the root inside it.
fn claim_shared_parent(parent: &Path) -> anyhow::Result<()> {
    match std::fs::DirBuilder::new().mode(0o711).create(parent) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", parent.display())),
    }
    let m = std::fs::symlink_metadata(parent)
        .with_context(|| format!("checking {}", parent.display()))?;
    if !m.is_dir() {
        bail!(
            "{} is a symbolic link or not a directory; hubdeck demo did not create it \
             (remove it, or set HUBDECK_DATA_DIR to a directory the server account can reach)",
            parent.display()
        );
    }
    if m.uid() != euid() || m.mode() & 0o022 != 0 {
        bail!(
            "{} is owned by uid {} with mode {:o}; hubdeck demo did not create it and will not \
             put a cluster where another account can replace it (remove it, or set \
             HUBDECK_DATA_DIR to a directory the server account can reach)",
            parent.display(),
            m.uid(),
            m.mode() & 0o7777
        );
    }
    Ok(())
}

/// Creates the cluster root (0700, with the marker) or checks that an existing one is ours.
pub fn claim(root: &Path, run_as: Option<RunAs>) -> anyhow::Result<()> {
    if let Some(parent) = root.parent()
        && parent.starts_with("/var/tmp")
    {
        claim_shared_parent(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(root) {
        Ok(()) => {
            crate::files::create_new_private(&root.join(MARKER))
                .with_context(|| format!("marking {} as this demo's", root.display()))?;
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => check(root, run_as),
        Err(e) => Err(e).with_context(|| format!("creating {}", root.display())),
    }
}

/// An existing cluster root is one this account created: a real directory, mode 0700, owned
/// by us (or the server account we hand it to as root), holding our marker.
pub fn check(root: &Path, run_as: Option<RunAs>) -> anyhow::Result<()> {
    let m =
        std::fs::symlink_metadata(root).with_context(|| format!("checking {}", root.display()))?;
    if !m.is_dir() {
        bail!(
            "{} is a symbolic link or not a directory; hubdeck demo did not create it ({REMEDY})",
            root.display()
        );
    }
    let ours = m.uid() == euid() || run_as.is_some_and(|r| r.uid == m.uid());
    if !ours {
        bail!(
            "the demo cluster directory {} is owned by uid {}, not by this account; \
             hubdeck demo did not create it ({REMEDY})",
            root.display(),
            m.uid()
        );
    }
    if m.mode() & 0o777 != 0o700 {
        bail!(
            "the demo cluster directory {} has mode {:o}, not 0700; hubdeck demo did not \
             leave it so ({REMEDY})",
            root.display(),
            m.mode() & 0o7777
        );
    }
    let marker = std::fs::symlink_metadata(root.join(MARKER));
    if !marker.is_ok_and(|mk| mk.is_file() && mk.uid() == euid()) {
        bail!(
            "hubdeck demo did not create {} (no marker file owned by this account) ({REMEDY})",
            root.display()
        );
    }
    Ok(())
}

/// Removes a cluster root for `--fresh` (std's removal does not follow symlinks inside).
pub fn remove(root: &Path) -> anyhow::Result<()> {
    let m = std::fs::symlink_metadata(root)?;
    if m.is_dir() {
        std::fs::remove_dir_all(root)
    } else {
        std::fs::remove_file(root)
    }
    .with_context(|| format!("removing {}", root.display()))
}
