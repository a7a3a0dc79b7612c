//! `private_tmp = true`: each such unit gets `<runtime_dir>/tmp/<unit>`, which the spawn
//! binds on `/tmp` in a mount namespace of the process's own. The directory, not a tmpfs
//! per process, so that the service, its hooks and its probes share one `/tmp`, as
//! systemd's `PrivateTmp=` shares it between a unit's commands. Each start of the main
//! process gets it empty; it goes when the unit goes.

use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where the private `/tmp` of `unit` lives.
pub(crate) fn dir(runtime_dir: &Path, unit: &str) -> PathBuf {
    runtime_dir.join("tmp").join(unit)
}

/// Empties (or makes) the directory for a new run: what a run before left is gone.
pub(crate) fn fresh(dir: &Path) -> io::Result<()> {
    remove(dir)?;
    ensure(dir)
}

/// Makes the directory when it is not there: sticky and open to all, as `/tmp` is, since
/// the service may run as any user. Its parent is ward's own (0700), created when
/// missing and never changed.
pub(crate) fn ensure(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        match std::fs::DirBuilder::new().mode(0o700).create(parent) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    std::fs::DirBuilder::new().mode(0o700).create(dir)?;
    // The daemon's umask narrows the mode of what it creates: widen this one, its own.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777))
}

/// Removes the directory and what the service left in it. Symbolic links inside are
/// removed, never followed.
pub(crate) fn remove(dir: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_dir_is_empty_sticky_and_gone_when_removed() {
        let base = tempfile::tempdir().unwrap();
        let d = dir(base.path(), "web");
        fresh(&d).unwrap();
        let mode = std::fs::metadata(&d).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o1777);
        let parent = std::fs::metadata(d.parent().unwrap()).unwrap();
        assert_eq!(parent.permissions().mode() & 0o777, 0o700);
        std::fs::write(d.join("left"), "x").unwrap();
        std::os::unix::fs::symlink(base.path(), d.join("link")).unwrap();
        ensure(&d).unwrap();
        assert!(d.join("left").exists(), "ensure keeps what is there");
        fresh(&d).unwrap();
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
        assert!(
            base.path().join("tmp").exists(),
            "the link was not followed"
        );
        remove(&d).unwrap();
        assert!(!d.exists());
        remove(&d).unwrap();
    }
}
