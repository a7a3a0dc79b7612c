//! The daemon's PID file, locked for the daemon's whole life: one daemon per state dir.
//!
//! The lock, not the file's existence, is the truth: a file left by a crashed daemon is
//! unlocked and simply taken over. The content names the holder for error messages.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::identity::ProcessIdentity;

/// An exclusively locked PID file; the lock is released when this is dropped or the
/// process dies.
#[derive(Debug)]
pub struct LockedPidFile {
    file: File,
    path: PathBuf,
}

/// Why the PID file could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another live process holds the lock.
    #[error(
        "another ward daemon (pid {holder}) already runs on this state dir; its pid file is {path}"
    )]
    Held {
        /// The PID file.
        path: PathBuf,
        /// What the file says about its holder ("unknown" if unreadable).
        holder: String,
    },
    /// The file could not be opened or written.
    #[error("cannot use pid file {path}: {source}")]
    Io {
        /// The PID file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl LockedPidFile {
    /// Takes the lock without waiting and writes this process's identity into the file.
    pub fn acquire(path: &Path) -> Result<LockedPidFile, LockError> {
        let io_err = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err)?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = serde_pid(&text).unwrap_or_else(|| "unknown".into());
                return Err(LockError::Held {
                    path: path.to_path_buf(),
                    holder,
                });
            }
            Err(e) => return Err(io_err(e.into())),
        }
        let me = ProcessIdentity::of(crate::own_pid()).map_err(io_err)?;
        let body = format!(
            "{{\"pid\":{},\"start_time\":{},\"boot_id\":\"{}\",\"service\":\"ward\"}}\n",
            me.pid, me.start_time, me.boot_id
        );
        file.set_len(0).map_err(io_err)?;
        file.rewind().map_err(io_err)?;
        file.write_all(body.as_bytes()).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        Ok(LockedPidFile {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Releases the lock and removes the file, on a clean exit.
    pub fn release(self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

/// Pulls `"pid":N` out of the file without a JSON dependency in this crate; plain
/// one-number files (other tools' format) are read too.
fn serde_pid(text: &str) -> Option<String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<u32>() {
        return Some(n.to_string());
    }
    let at = t.find("\"pid\":")? + 6;
    let digits: String = t[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    (!digits.is_empty()).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_and_names_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ward.pid");
        let held = LockedPidFile::acquire(&path).unwrap();
        // flock locks belong to the open file description: a second open in the same
        // process conflicts just as another process would.
        match LockedPidFile::acquire(&path) {
            Err(LockError::Held { holder, .. }) => {
                assert_eq!(holder, std::process::id().to_string())
            }
            other => panic!("expected Held, got {other:?}"),
        }
        held.release();
        assert!(!path.exists());
        LockedPidFile::acquire(&path).unwrap();
    }

    #[test]
    fn reads_plain_and_json_pids() {
        assert_eq!(serde_pid("123\n").as_deref(), Some("123"));
        assert_eq!(serde_pid("{\"pid\": 77,\"x\":1}").as_deref(), Some("77"));
        assert_eq!(serde_pid("garbage"), None);
    }
}
