//! PID files that tell the truth: written atomically, locked by their owner for its whole
//! life, and read with a verdict on whether the process they name is still the one.
//!
//! Format (one JSON object): `pid`, `start_time` (field 22 of `/proc/PID/stat`),
//! `boot_id`, `service`, `command`, `created_ms`. Plain files holding one number, as other
//! programs write them, are read too, with the weaker checks a bare PID allows.
//!
//! Ownership is an exclusive `flock` on the file. A new owner locks the file at the path,
//! checks that it is still the file at the path (another owner may have replaced it) and
//! that it is a PID file, then writes the record to a locked temporary file, syncs it,
//! renames it over the path and syncs the directory; where no file is, the temporary file
//! is moved to the path only if nothing has appeared there meanwhile. So exactly one of two
//! racing writers wins, a reader never sees a half-written file, and a file whose owner
//! died is unlocked and can be taken over.
//!
//! ward never overwrites or removes a file that is not its own: a file at the path that
//! is not a PID file (ward's record, or a bare PID) is refused, and at the end a file is
//! removed only while it is still the one ward wrote (same inode, same content).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{FlockOperation, Mode, OFlags, RenameFlags, flock};
use serde::{Deserialize, Serialize};

use crate::identity::ProcessIdentity;

mod verdict;
pub use verdict::{Class, Content, Format, StaleReason, Verdict, check, parse_content};

/// What a ward PID file records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidRecord {
    /// The process.
    pub pid: u32,
    /// Its start time in clock ticks since boot.
    pub start_time: u64,
    /// The boot it ran in.
    pub boot_id: String,
    /// The ward unit (or `ward` for the daemon itself).
    pub service: String,
    /// Its argv.
    pub command: Vec<String>,
    /// When the file was written, ms since the Unix epoch.
    pub created_ms: u64,
}

impl PidRecord {
    /// A record for a live process, read from `/proc` now.
    pub fn of(pid: u32, service: &str, command: &[String]) -> io::Result<PidRecord> {
        let id = ProcessIdentity::of(pid)?;
        let created_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Ok(PidRecord {
            pid,
            start_time: id.start_time,
            boot_id: id.boot_id.to_string(),
            service: service.to_string(),
            command: command.to_vec(),
            created_ms,
        })
    }
}

/// Why a PID file could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    /// A live owner holds it.
    #[error("{path} is held by a running process (pid {holder})")]
    Held {
        /// The file.
        path: PathBuf,
        /// The PID its content names, or `unknown`.
        holder: String,
    },
    /// Something that is not a PID file is at the path; ward leaves it alone.
    #[error(
        "{path} is not a PID file; ward will not overwrite it (it is {found}; move it away, or choose another path)"
    )]
    NotPidFile {
        /// The path.
        path: PathBuf,
        /// What is there, in words: `a directory`, `a file of 120 bytes that is not a PID`.
        found: String,
    },
    /// The file or its directory could not be used.
    #[error("cannot write pid file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// A PID file this process owns: locked until [`HeldPidFile::release`] or process exit.
#[derive(Debug)]
pub struct HeldPidFile {
    path: PathBuf,
    file: File,
    /// What was written, to tell at the end whether the file is still ward's.
    written: Vec<u8>,
}

/// What [`HeldPidFile::release`] did with the file.
#[derive(Debug)]
#[must_use = "a file left in place should be reported"]
pub enum Release {
    /// It was still the file ward wrote, and is gone now.
    Removed,
    /// Somebody else had removed it already.
    Gone,
    /// Another file is at the path now (another inode): left alone.
    Replaced,
    /// The file is ward's, but its content is not what ward wrote: left alone.
    Changed,
    /// It could not be looked at or removed.
    Failed(io::Error),
}

impl Release {
    /// Why the file was left in place, or `None` when nothing is left of ward's.
    pub fn kept_because(&self) -> Option<String> {
        match self {
            Release::Removed | Release::Gone => None,
            Release::Replaced => Some("another file is at its path now".into()),
            Release::Changed => Some("its content changed".into()),
            Release::Failed(e) => Some(format!("cannot remove it: {e}")),
        }
    }
}

impl HeldPidFile {
    /// Takes `path` for `record`, or fails with [`PidFileError::Held`] if a live owner has
    /// it, or with [`PidFileError::NotPidFile`] if something else is there.
    pub fn create(path: &Path, record: &PidRecord) -> Result<HeldPidFile, PidFileError> {
        let io_err = |source| PidFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut body = serde_json::to_vec(record)
            .map_err(io::Error::other)
            .map_err(io_err)?;
        body.push(b'\n');
        loop {
            let existing = match open_existing(path) {
                Ok(f) => f,
                Err(rustix::io::Errno::NOENT) => match write_atomically(path, &body, Place::New) {
                    Ok(file) => return Ok(HeldPidFile::new(path, file, body)),
                    // Another writer was first: judge its file like any other.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(io_err(e)),
                },
                Err(rustix::io::Errno::LOOP) => {
                    return Err(PidFileError::NotPidFile {
                        path: path.to_path_buf(),
                        found: "a symbolic link".into(),
                    });
                }
                Err(e) => return Err(io_err(e.into())),
            };
            // Lock the file at the path, and make sure it still is the file at the path.
            match flock(&existing, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    let mut content = Vec::new();
                    let _ = (&existing).take(4096).read_to_end(&mut content);
                    return Err(PidFileError::Held {
                        path: path.to_path_buf(),
                        holder: holder_pid(&content).unwrap_or_else(|| "unknown".into()),
                    });
                }
                Err(e) => return Err(io_err(e.into())),
            }
            if !same_file(&existing, path) {
                continue;
            }
            if let Some(found) = not_a_pid_file(&existing) {
                return Err(PidFileError::NotPidFile {
                    path: path.to_path_buf(),
                    found,
                });
            }
            let file = write_atomically(path, &body, Place::Replace).map_err(io_err)?;
            drop(existing);
            return Ok(HeldPidFile::new(path, file, body));
        }
    }

    fn new(path: &Path, file: File, written: Vec<u8>) -> HeldPidFile {
        HeldPidFile {
            path: path.to_path_buf(),
            file,
            written,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file if it still is the one written (same inode, same content), then
    /// gives up the lock, on a clean end of the owner. A file that is no longer ward's is
    /// left in place; the answer says why.
    pub fn release(self) -> Release {
        let release = match (self.file.metadata(), fs::symlink_metadata(&self.path)) {
            (_, Err(e)) if e.kind() == io::ErrorKind::NotFound => Release::Gone,
            (Err(e), _) | (_, Err(e)) => Release::Failed(e),
            (Ok(ours), Ok(there)) if (ours.dev(), ours.ino()) != (there.dev(), there.ino()) => {
                Release::Replaced
            }
            (Ok(_), Ok(_)) => {
                // The same inode: what the path holds is what this descriptor reads.
                let mut now = vec![0; self.written.len() + 1];
                match read_at_most(&self.file, &mut now) {
                    Err(e) => Release::Failed(e),
                    Ok(n) if now[..n] != self.written[..] => Release::Changed,
                    Ok(_) => match fs::remove_file(&self.path) {
                        Ok(()) => Release::Removed,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => Release::Gone,
                        Err(e) => Release::Failed(e),
                    },
                }
            }
        };
        drop(self.file);
        release
    }
}

/// Reads from the start of `file` until `buf` is full or the file ends.
fn read_at_most(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Opens what is at `path` to lock and judge it: never through a symbolic link (`ELOOP`),
/// and without blocking on a FIFO or a device.
fn open_existing(path: &Path) -> Result<File, rustix::io::Errno> {
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(File::from(fd))
}

/// The largest file that can be a PID file: a ward record with a long command line.
const MAX_PID_FILE: u64 = 64 * 1024;

/// What `file` is, in words, when it is not a PID file (ward's record or a bare PID,
/// whitespace around it allowed); `None` when it is one.
fn not_a_pid_file(file: &File) -> Option<String> {
    if let Some(what) = not_a_pid_file_kind(file) {
        return Some(what);
    }
    let mut bytes = Vec::new();
    if let Err(e) = file.take(MAX_PID_FILE).read_to_end(&mut bytes) {
        return Some(format!("a file that cannot be read ({e})"));
    }
    if matches!(parse_content(&bytes), Content::Plain(_) | Content::Ward(_)) {
        return None;
    }
    Some(if bytes.iter().all(u8::is_ascii_whitespace) {
        "an empty file".into()
    } else {
        format!("a file of {} bytes that names no process", bytes.len())
    })
}

/// What `file` is, in words, when it is not even the kind of file a PID file is (a
/// regular file of at most [`MAX_PID_FILE`] bytes).
fn not_a_pid_file_kind(file: &File) -> Option<String> {
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => return Some(format!("a file that cannot be examined ({e})")),
    };
    if meta.is_dir() {
        return Some("a directory".into());
    }
    if !meta.is_file() {
        return Some("not a regular file".into());
    }
    if meta.len() > MAX_PID_FILE {
        return Some(format!("a file of {} bytes", meta.len()));
    }
    None
}

/// Whether the temporary file replaces what is at the path, or goes where nothing is.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Place {
    Replace,
    New,
}

/// Tells apart the temporary files of one process (threads may write at once).
static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Writes `body` to a new, locked temporary file beside `path` and moves it into place;
/// returns the new file, still locked. With [`Place::New`] an error of kind
/// `AlreadyExists` means that a file appeared at the path first.
fn write_atomically(path: &Path, body: &[u8], place: Place) -> io::Result<File> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A new name of its own (O_EXCL): a file left by someone else is never reused.
    let mut attempts = 0;
    let (tmp, mut f) = loop {
        let seq = TMP_SEQ.fetch_add(1, Ordering::Relaxed);
        // Unpredictable, so that nobody can put a file in its way beforehand.
        let tmp = dir.join(format!(
            ".{name}.{}.{seq}.{:016x}.tmp",
            std::process::id(),
            crate::random_u64()
        ));
        attempts += 1;
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 100 => {}
            Err(e) => return Err(e),
        }
    };
    let placed = (|| {
        flock(&f, FlockOperation::NonBlockingLockExclusive)?;
        // Readable by other tools whatever the writer's umask: finding the process is its use.
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        f.write_all(body)?;
        f.sync_all()?;
        match place {
            Place::Replace => fs::rename(&tmp, path),
            Place::New => move_to_empty_place(&tmp, path),
        }
    })();
    if let Err(e) = placed {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    File::open(&dir)?.sync_all()?;
    Ok(f)
}

/// Moves `tmp` to `path` unless something is at `path` (then `AlreadyExists`).
fn move_to_empty_place(tmp: &Path, path: &Path) -> io::Result<()> {
    use rustix::fs::CWD;
    match rustix::fs::renameat_with(CWD, tmp, CWD, path, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        // A file system without `RENAME_NOREPLACE`: a hard link fails just as well when
        // the name is taken.
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
            fs::hard_link(tmp, path)?;
            fs::remove_file(tmp)
        }
        Err(e) => Err(e.into()),
    }
}

fn same_file(f: &File, path: &Path) -> bool {
    match (f.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The PID a file's content names, for messages.
fn holder_pid(content: &[u8]) -> Option<String> {
    match parse_content(content) {
        Content::Plain(pid) => Some(pid.to_string()),
        Content::Ward(record) => Some(record.pid.to_string()),
        Content::Empty | Content::Corrupted { .. } => None,
    }
}

/// Removes `path` if, judged again under its lock, it is stale. Returns the verdict that
/// decided and whether the file was removed (a stale file whose lock someone holds, or
/// that was replaced meanwhile, is kept).
pub fn remove_if_stale(path: &Path) -> io::Result<(Verdict, bool)> {
    let before = check(path);
    if !matches!(before.class, Class::Stale(_)) {
        return Ok((before, false));
    }
    let file = open_existing(path)?;
    // Holding the lock keeps a new owner from taking the file while it is judged again.
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => return Ok((check(path), false)),
        Err(e) => return Err(e.into()),
    }
    if !same_file(&file, path) {
        return Ok((check(path), false));
    }
    let now = check(path);
    let still_stale = match before.class {
        // Under our own lock the file reads as held; it is still abandoned if it is
        // unchanged, since nobody else could take the lock first.
        Class::Stale(StaleReason::LockReleased) => now.record == before.record,
        _ => matches!(now.class, Class::Stale(_)),
    };
    if !still_stale {
        return Ok((now, false));
    }
    fs::remove_file(path)?;
    Ok((before, true))
}

#[cfg(test)]
mod tests;
