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
            boot_id: id.boot_id,
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
mod tests {
    use super::*;

    fn me() -> PidRecord {
        PidRecord::of(std::process::id(), "test", &["test".into()]).unwrap()
    }

    #[test]
    fn a_held_file_is_valid_and_cannot_be_taken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.pid");
        let held = HeldPidFile::create(&path, &me()).unwrap();
        assert_eq!(check(&path).class, Class::Valid);
        assert_eq!(check(&path).format, Some(Format::Ward));
        // flock locks belong to the open file description: a second open in the same
        // process conflicts just as another process would.
        match HeldPidFile::create(&path, &me()) {
            Err(PidFileError::Held { holder, .. }) => {
                assert_eq!(holder, std::process::id().to_string())
            }
            other => panic!("expected Held, got {other:?}"),
        }
        assert!(matches!(held.release(), Release::Removed));
        assert_eq!(check(&path).class, Class::NotFound);
    }

    #[test]
    fn only_pid_files_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("bare.pid"), " 4194303\n").unwrap();
        fs::write(
            d.join("record.pid"),
            serde_json::to_string(&PidRecord {
                pid: 4_194_303,
                ..me()
            })
            .unwrap(),
        )
        .unwrap();
        for name in ["bare.pid", "record.pid"] {
            let held = HeldPidFile::create(&d.join(name), &me()).unwrap();
            assert_eq!(check(&d.join(name)).class, Class::Valid, "{name}");
            assert!(matches!(held.release(), Release::Removed));
        }
        fs::write(d.join("notes"), "precious\n").unwrap();
        fs::write(d.join("empty"), "").unwrap();
        fs::write(d.join("zero"), "0\n").unwrap();
        fs::write(d.join("journal.db"), b"SQLite format 3\0\x10\0").unwrap();
        fs::create_dir(d.join("dir")).unwrap();
        std::os::unix::fs::symlink(d.join("bare.pid.gone"), d.join("dangling")).unwrap();
        fs::write(d.join("target"), "1234\n").unwrap();
        std::os::unix::fs::symlink(d.join("target"), d.join("link")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            d.join("fifo"),
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        for (name, found) in [
            ("notes", "a file of 9 bytes that names no process"),
            ("empty", "an empty file"),
            ("zero", "a file of 2 bytes that names no process"),
            ("journal.db", "that names no process"),
            ("dir", "a directory"),
            ("dangling", "a symbolic link"),
            ("link", "a symbolic link"),
            ("fifo", "not a regular file"),
        ] {
            let path = d.join(name);
            let before = fs::symlink_metadata(&path).unwrap();
            match HeldPidFile::create(&path, &me()) {
                Err(e @ PidFileError::NotPidFile { .. }) => {
                    let text = e.to_string();
                    assert!(
                        text.starts_with(&format!(
                            "{} is not a PID file; ward will not overwrite it (it is ",
                            path.display()
                        )) && text.contains(found),
                        "{name}: {text}"
                    );
                }
                other => panic!("{name}: expected NotPidFile, got {other:?}"),
            }
            let after = fs::symlink_metadata(&path).unwrap();
            assert_eq!((before.ino(), before.len()), (after.ino(), after.len()));
        }
        assert_eq!(fs::read_to_string(d.join("notes")).unwrap(), "precious\n");
        assert_eq!(fs::read_to_string(d.join("target")).unwrap(), "1234\n");
        // No temporary file is left behind by the refusals.
        let tmp: Vec<_> = fs::read_dir(d)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(tmp.is_empty(), "{tmp:?}");
    }

    #[test]
    fn what_check_reads_as_a_pid_file_is_what_create_replaces() {
        // One judge of content for both: a file that `create` refuses to overwrite as no
        // PID file must not be called valid (or stale, and removed) by `check`.
        let dir = tempfile::tempdir().unwrap();
        let pid = std::process::id();
        let mut record = serde_json::to_vec(&me()).unwrap();
        record.push(0xff);
        let odd: [(&str, Vec<u8>); 4] = [
            ("plus", format!("+{pid}\n").into_bytes()),
            ("nbsp", format!("\u{a0}{pid}\n").into_bytes()),
            ("vertical-tab", format!("{pid}\u{b}").into_bytes()),
            ("not-utf8", record),
        ];
        for (name, content) in odd {
            let path = dir.path().join(name);
            fs::write(&path, &content).unwrap();
            assert!(
                matches!(parse_content(&content), Content::Corrupted { .. }),
                "{name}: {:?}",
                parse_content(&content)
            );
            assert!(matches!(check(&path).class, Class::Corrupted(_)), "{name}");
            assert!(
                matches!(
                    HeldPidFile::create(&path, &me()),
                    Err(PidFileError::NotPidFile { .. })
                ),
                "{name}"
            );
            assert!(!remove_if_stale(&path).unwrap().1, "{name}");
        }
    }

    #[test]
    fn release_removes_only_the_file_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.pid");

        let held = HeldPidFile::create(&path, &me()).unwrap();
        fs::write(dir.path().join("other"), "someone else's\n").unwrap();
        fs::rename(dir.path().join("other"), &path).unwrap();
        assert!(matches!(held.release(), Release::Replaced));
        assert_eq!(fs::read_to_string(&path).unwrap(), "someone else's\n");
        fs::remove_file(&path).unwrap();

        let held = HeldPidFile::create(&path, &me()).unwrap();
        fs::write(&path, "edited\n").unwrap();
        let release = held.release();
        assert!(matches!(release, Release::Changed));
        assert_eq!(release.kept_because().unwrap(), "its content changed");
        assert_eq!(fs::read_to_string(&path).unwrap(), "edited\n");
        fs::remove_file(&path).unwrap();

        let held = HeldPidFile::create(&path, &me()).unwrap();
        fs::remove_file(&path).unwrap();
        assert!(matches!(held.release(), Release::Gone));
    }

    #[test]
    fn every_stale_reason() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, r: &PidRecord| {
            let p = dir.path().join(name);
            fs::write(&p, serde_json::to_string(r).unwrap()).unwrap();
            p
        };
        let live = me();
        let unlocked = write("unlocked.pid", &live);
        assert_eq!(
            check(&unlocked).class,
            Class::Stale(StaleReason::LockReleased)
        );
        let reused = write(
            "reused.pid",
            &PidRecord {
                start_time: live.start_time + 1,
                ..live.clone()
            },
        );
        assert_eq!(check(&reused).class, Class::Stale(StaleReason::PidReused));
        let boot = write(
            "boot.pid",
            &PidRecord {
                boot_id: "00000000-0000-0000-0000-000000000000".into(),
                ..live.clone()
            },
        );
        assert_eq!(check(&boot).class, Class::Stale(StaleReason::EarlierBoot));
        let mut child = std::process::Command::new("/bin/true").spawn().unwrap();
        let gone = PidRecord::of(child.id(), "x", &[]).unwrap();
        child.wait().unwrap();
        let gone = write("gone.pid", &gone);
        assert_eq!(check(&gone).class, Class::Stale(StaleReason::NotRunning));
    }

    #[test]
    fn corrupted_plain_missing_and_denied() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.pid");
        fs::write(&p, "{\"pid\": ").unwrap();
        assert!(matches!(check(&p).class, Class::Corrupted(_)));
        fs::write(&p, "").unwrap();
        assert!(matches!(check(&p).class, Class::Corrupted(_)));
        fs::write(&p, format!("{}\n", std::process::id())).unwrap();
        let v = check(&p);
        assert_eq!((v.class, v.format), (Class::Valid, Some(Format::Plain)));
        fs::write(&p, "4194304999\n").unwrap();
        assert!(matches!(
            check(&p).class,
            Class::Corrupted(_) | Class::Stale(_)
        ));
        assert_eq!(check(&dir.path().join("none.pid")).class, Class::NotFound);
    }

    #[test]
    fn an_empty_file_being_written_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.pid");
        let f = File::create(&p).unwrap();
        flock(&f, FlockOperation::NonBlockingLockExclusive).unwrap();
        assert_eq!(check(&p).class, Class::Locked);
    }

    #[test]
    fn racing_writers_exactly_one_wins() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("race.pid");
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        HeldPidFile::create(&path, &me()).ok()
                    })
                })
                .collect();
            let winners: Vec<HeldPidFile> = handles
                .into_iter()
                .filter_map(|h| h.join().unwrap())
                .collect();
            assert_eq!(winners.len(), 1);
            assert_eq!(check(&path).class, Class::Valid);
            // Every loser cleaned up after itself: the winner's file is the only one.
            assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        }
    }

    #[test]
    fn clean_removes_only_stale_files() {
        let dir = tempfile::tempdir().unwrap();
        let held_path = dir.path().join("held.pid");
        let _held = HeldPidFile::create(&held_path, &me()).unwrap();
        let stale = dir.path().join("stale.pid");
        fs::write(&stale, "4194303\n").unwrap();
        let abandoned = dir.path().join("abandoned.pid");
        fs::write(&abandoned, serde_json::to_string(&me()).unwrap()).unwrap();
        assert!(matches!(
            remove_if_stale(&abandoned).unwrap().0.class,
            Class::Stale(StaleReason::LockReleased)
        ));
        assert!(!abandoned.exists());
        assert_eq!(remove_if_stale(&held_path).unwrap().0.class, Class::Valid);
        assert!(held_path.exists());
        assert!(matches!(
            remove_if_stale(&stale).unwrap().0.class,
            Class::Stale(StaleReason::NotRunning)
        ));
        assert!(!stale.exists());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn record() -> impl Strategy<Value = PidRecord> {
            (
                any::<u32>(),
                any::<u64>(),
                ".*",
                ".*",
                prop::collection::vec(".*", 0..4),
                any::<u64>(),
            )
                .prop_map(
                    |(pid, start_time, boot_id, service, command, created_ms)| PidRecord {
                        pid,
                        start_time,
                        boot_id,
                        service,
                        command,
                        created_ms,
                    },
                )
        }

        fn space() -> impl Strategy<Value = String> {
            "[ \t\r\n]{0,3}"
        }

        proptest! {
            #[test]
            fn content_parsing_is_total(
                content in prop::collection::vec(
                    prop_oneof![
                        any::<u8>(),
                        prop::sample::select(b"0123456789 \t\n\x0b\x0c\r+-{}".to_vec()),
                    ],
                    0..256,
                ),
            ) {
                let parsed = parse_content(&content);
                prop_assert_ne!(&parsed, &Content::Plain(0));
                prop_assert_eq!(
                    parsed == Content::Empty,
                    content.iter().all(u8::is_ascii_whitespace)
                );
                if let Content::Plain(pid) = parsed {
                    let digits = content.trim_ascii();
                    prop_assert!(digits.iter().all(u8::is_ascii_digit));
                    prop_assert_eq!(std::str::from_utf8(digits).unwrap().parse::<u32>(), Ok(pid));
                }
                // The holder named in a refusal is the PID the content names.
                let named = match parsed {
                    Content::Plain(pid) => Some(pid.to_string()),
                    Content::Ward(r) => Some(r.pid.to_string()),
                    _ => None,
                };
                prop_assert_eq!(holder_pid(&content), named);
            }

            #[test]
            fn a_ward_record_reads_back_as_written(
                record in record(),
                pretty in any::<bool>(),
                before in space(),
                after in space(),
            ) {
                let json = if pretty {
                    serde_json::to_string_pretty(&record).unwrap()
                } else {
                    serde_json::to_string(&record).unwrap()
                };
                let content = format!("{before}{json}{after}");
                prop_assert_eq!(parse_content(content.as_bytes()), Content::Ward(record));
            }

            #[test]
            fn a_cut_or_extended_record_is_corrupted(
                record in record(),
                cut in any::<prop::sample::Index>(),
                // Starts with a character that `trim` keeps (`\S` is not White_Space).
                garbage in "\\S\\PC{0,20}",
            ) {
                let json = serde_json::to_vec(&record).unwrap();
                // A proper, non-empty prefix, cut anywhere, even inside a character.
                let cut = 1 + cut.index(json.len() - 1);
                prop_assert!(
                    matches!(
                        parse_content(&json[..cut]),
                        Content::Corrupted { format: None, .. }
                    ),
                    "{:?}",
                    String::from_utf8_lossy(&json[..cut])
                );
                let mut extended = json.clone();
                extended.extend_from_slice(garbage.as_bytes());
                prop_assert!(
                    matches!(parse_content(&extended), Content::Corrupted { format: None, .. }),
                    "{:?}",
                    String::from_utf8_lossy(&extended)
                );
            }

            #[test]
            fn a_bare_pid_is_plain_and_zero_names_nothing(
                pid in any::<u32>(),
                before in space(),
                after in space(),
            ) {
                let content = format!("{before}{pid}{after}");
                let expected = match pid {
                    0 => Content::Corrupted {
                        format: Some(Format::Plain),
                        why: "pid 0".into(),
                    },
                    pid => Content::Plain(pid),
                };
                prop_assert_eq!(parse_content(content.as_bytes()), expected);
            }

            #[test]
            fn white_space_alone_is_empty(content in space()) {
                prop_assert_eq!(parse_content(content.as_bytes()), Content::Empty);
            }
        }
    }
}
