//! What a start puts on the host, kept so that a start that fails takes it all back, and
//! so that the end of the daemon removes only what is still its own.
//!
//! Every directory created, the lock taken, the socket bound and the cgroup made is kept in order with the identity of the very file (device
//! and inode). A removal happens only while the path still names that file: a file that
//! someone put in the place of ward's meanwhile is left alone, and nothing ward did not
//! create is ever removed.

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use ward_sys::cgroup::CgroupDriver;
use ward_sys::pidfile::HeldPidFile;

/// A path and the file it named when ward made it.
#[derive(Debug)]
struct Identified {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Identified {
    /// The file at `path` now (a symbolic link is itself, not what it points to).
    fn of(path: &Path) -> io::Result<Identified> {
        let meta = fs::symlink_metadata(path)?;
        Ok(Identified {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// Whether the path still names that file.
    fn still_there(&self) -> bool {
        fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == (self.dev, self.ino))
    }
}

/// One thing a start did to the host.
#[derive(Debug)]
enum Step {
    /// A directory that did not exist.
    Dir(Identified),
    /// The daemon's PID file and lock on the state dir.
    Lock(HeldPidFile),
    /// The control socket.
    Socket(Identified),
    /// The daemon's cgroup directory, made by this start.
    Cgroup(CgroupDriver),
    /// A journal that did not exist before this start (the file, and SQLite's `-wal` and
    /// `-shm` beside it). Nobody else writes there while ward holds the lock.
    Journal(PathBuf),
}

/// Everything a start did, in order.
#[derive(Debug, Default)]
pub(crate) struct Footprint {
    steps: Vec<Step>,
}

impl Footprint {
    /// Creates a directory readable by its owner only (the socket and logs live there),
    /// with any missing parents, each kept to be taken back by [`Footprint::undo`]. An
    /// existing directory is never changed: it is judged (`ward_core::dirs`), and one that
    /// others could write to is refused.
    pub fn private_dir(&mut self, path: &Path) -> Result<(), DirError> {
        let mut missing = Vec::new();
        let mut at = Some(path);
        while let Some(p) = at.filter(|p| !p.as_os_str().is_empty()) {
            match fs::symlink_metadata(p) {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => missing.push(p),
                Err(e) => return Err(DirError::Io(e)),
            }
            at = p.parent();
        }
        for dir in missing.iter().rev() {
            match DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => self
                    .steps
                    .push(Step::Dir(Identified::of(dir).map_err(DirError::Io)?)),
                // Made by someone else meanwhile: not ward's to take back, and judged below.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(DirError::Io(e)),
            }
        }
        if self.made(path) {
            return Ok(());
        }
        judge_existing(path)
    }

    /// Whether this start made the directory `path` (and it is still that directory).
    pub fn made(&self, path: &Path) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::Dir(d) if d.path == path && d.still_there()))
    }

    /// The daemon's PID file, taken.
    pub fn lock(&mut self, lock: HeldPidFile) {
        self.steps.push(Step::Lock(lock));
    }

    /// The control socket, just bound at `path`.
    pub fn socket(&mut self, path: &Path) -> io::Result<()> {
        self.steps.push(Step::Socket(Identified::of(path)?));
        Ok(())
    }

    /// The cgroup driver, kept only when this start made its directory.
    pub fn cgroup(&mut self, driver: &CgroupDriver) {
        if driver.created_base() {
            self.steps.push(Step::Cgroup(driver.clone()));
        }
    }

    /// The journal at `path`, about to be opened: kept only when no file is there yet.
    pub fn journal(&mut self, path: &Path) {
        if fs::symlink_metadata(path).is_err_and(|e| e.kind() == io::ErrorKind::NotFound) {
            self.steps.push(Step::Journal(path.to_path_buf()));
        }
    }

    /// A start failed: takes back everything it did, last first, each only while it is
    /// still ward's. A directory that holds something now is left.
    pub fn undo(mut self) {
        while let Some(step) = self.steps.pop() {
            match step {
                Step::Dir(dir) if dir.still_there() => {
                    if let Err(e) = fs::remove_dir(&dir.path) {
                        tracing::warn!(path = %dir.path.display(), error = %e, "left a directory this start made");
                    }
                }
                Step::Socket(socket) if socket.still_there() => {
                    let _ = fs::remove_file(&socket.path);
                }
                Step::Lock(lock) => release(lock),
                Step::Cgroup(driver) => {
                    let _ = driver.remove_base();
                }
                Step::Journal(path) => {
                    for suffix in ["", "-wal", "-shm"] {
                        let mut name = path.clone().into_os_string();
                        name.push(suffix);
                        let _ = fs::remove_file(name);
                    }
                }
                Step::Dir(_) | Step::Socket(_) => {}
            }
        }
    }

    /// The daemon ends: removes the socket (if it is still the one it bound), then the PID
    /// file, and lets the lock go. The directories stay: the journal and logs live there;
    /// the supervisor has removed its cgroups.
    pub fn finish(mut self) {
        let mut lock = None;
        for step in self.steps.drain(..) {
            match step {
                Step::Socket(socket) if socket.still_there() => {
                    let _ = fs::remove_file(&socket.path);
                }
                Step::Socket(socket) if socket.path.symlink_metadata().is_ok() => {
                    tracing::warn!(path = %socket.path.display(), "left the socket path alone: another file is there now");
                }
                Step::Lock(held) => lock = Some(held),
                // Already removed, when the server stopped.
                Step::Socket(_) => {}
                Step::Dir(_) | Step::Cgroup(_) | Step::Journal(_) => {}
            }
        }
        if let Some(lock) = lock {
            release(lock);
        }
    }
}

/// Why a directory of ward's cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// It could not be read or created.
    #[error("{0}")]
    Io(#[source] io::Error),
    /// It exists, and others could replace ward's files there.
    #[error("{0}")]
    Unsafe(ward_core::dirs::DirProblem),
}

/// Judges a directory that exists, as the daemon's user, without changing it.
pub fn judge_existing(path: &Path) -> Result<(), DirError> {
    let meta = fs::metadata(path).map_err(DirError::Io)?;
    ward_core::dirs::judge(meta.mode(), meta.uid(), ward_sys::own_uid()).map_err(DirError::Unsafe)
}

/// Releases the daemon's PID file, saying so when it is left in place.
fn release(lock: HeldPidFile) {
    let path = lock.path().to_path_buf();
    if let Some(why) = lock.release().kept_because() {
        tracing::warn!(path = %path.display(), "left the daemon's pid file in place: {why}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn undo_takes_back_only_what_is_still_its_own() {
        let tmp = tempfile::tempdir().unwrap();
        let old = tmp.path().join("old");
        fs::create_dir(&old).unwrap();
        fs::set_permissions(&old, fs::Permissions::from_mode(0o755)).unwrap();
        let mut fp = Footprint::default();
        fp.private_dir(&old).unwrap();
        fp.private_dir(&tmp.path().join("a/b/c")).unwrap();
        fp.private_dir(&tmp.path().join("kept/d")).unwrap();
        fp.private_dir(&tmp.path().join("swapped")).unwrap();
        // An existing directory is used as it is.
        assert_eq!(
            fs::metadata(&old).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(
            fs::metadata(tmp.path().join("a/b/c"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        // Something of someone else's appears in one, another is replaced.
        fs::write(tmp.path().join("kept/d/theirs"), "x").unwrap();
        fs::create_dir(tmp.path().join("new")).unwrap();
        fs::remove_dir(tmp.path().join("swapped")).unwrap();
        fs::rename(tmp.path().join("new"), tmp.path().join("swapped")).unwrap();
        fp.undo();
        assert!(old.exists());
        assert!(!tmp.path().join("a").exists());
        assert!(tmp.path().join("kept/d/theirs").exists());
        assert!(tmp.path().join("swapped").exists());
    }

    #[test]
    fn a_directory_others_may_write_to_is_refused_and_left_as_it_was() {
        let tmp = tempfile::tempdir().unwrap();
        let open = tmp.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let mut fp = Footprint::default();
        let e = fp.private_dir(&open).unwrap_err();
        assert!(matches!(e, DirError::Unsafe(_)), "{e}");
        assert_eq!(
            fs::metadata(&open).unwrap().permissions().mode() & 0o7777,
            0o777
        );
        // With the sticky bit, as /tmp has, others cannot remove ward's files.
        fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).unwrap();
        fp.private_dir(&open).unwrap();
    }
}
