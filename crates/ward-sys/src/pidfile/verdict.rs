//! Judging a PID file: what its bytes hold, and whether the process it names is still
//! the one it was written for, told apart from a file being written, an unreadable one
//! and one that is not a PID file. Owning one (writing, holding, removing) is the parent
//! module's.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use rustix::fs::{FlockOperation, flock};

use super::{MAX_PID_FILE, PidRecord, not_a_pid_file_kind, open_existing};
use crate::identity::{boot_id, read_stat};

/// What the bytes of a PID file hold, judged without looking at any process or lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// Nothing but white space: a file being written, or a broken one.
    Empty,
    /// One PID other than 0, as other programs write it.
    Plain(u32),
    /// ward's JSON record.
    Ward(PidRecord),
    /// Not a PID file.
    Corrupted {
        /// The format it was told to be in, when that could be told (`0` is a plain
        /// file naming no process).
        format: Option<Format>,
        /// Why it is not a PID file.
        why: String,
    },
}

/// Reads the content of a PID file: ward's JSON record, or a PID in ASCII digits, with
/// ASCII white space around it. Anything else (a sign, other white space, bytes that are
/// not UTF-8) is corrupted: this one judge decides both what `check` calls a PID file and
/// what `HeldPidFile::create` may replace.
pub fn parse_content(content: &[u8]) -> Content {
    let content = content.trim_ascii();
    if content.is_empty() {
        return Content::Empty;
    }
    let Ok(text) = std::str::from_utf8(content) else {
        return Content::Corrupted {
            format: None,
            why: "the file is not UTF-8".into(),
        };
    };
    if text.bytes().all(|b| b.is_ascii_digit())
        && let Ok(pid) = text.parse::<u32>()
    {
        return match pid {
            0 => Content::Corrupted {
                format: Some(Format::Plain),
                why: "pid 0".into(),
            },
            pid => Content::Plain(pid),
        };
    }
    match serde_json::from_str(text) {
        Ok(record) => Content::Ward(record),
        Err(e) => Content::Corrupted {
            format: None,
            why: e.to_string(),
        },
    }
}

/// What reading a PID file concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Class {
    /// It names a running process, and that process is the one it was written for.
    Valid,
    /// It names a process that is gone, or no longer the one it was written for.
    Stale(StaleReason),
    /// Its content is not a PID file.
    Corrupted(String),
    /// An owner holds it but its content is not readable yet (being written).
    Locked,
    /// It cannot be read by this user.
    PermissionDenied,
    /// There is no such file.
    NotFound,
}

/// Why a PID file is stale.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StaleReason {
    /// No process has that PID now.
    NotRunning,
    /// A process has that PID, but it started at another time: the PID was reused.
    PidReused,
    /// The file was written in an earlier boot.
    EarlierBoot,
    /// The process runs, but the owner's lock is gone: the file was abandoned.
    LockReleased,
}

impl StaleReason {
    /// The reason in words.
    pub fn as_str(self) -> &'static str {
        match self {
            StaleReason::NotRunning => "not running",
            StaleReason::PidReused => "pid reused (start time differs)",
            StaleReason::EarlierBoot => "written in an earlier boot",
            StaleReason::LockReleased => "owner's lock released",
        }
    }
}

impl Class {
    /// One word for scripts: `valid`, `stale`, `corrupted`, `locked`,
    /// `permission-denied`, `not-found`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Class::Valid => "valid",
            Class::Stale(_) => "stale",
            Class::Corrupted(_) => "corrupted",
            Class::Locked => "locked",
            Class::PermissionDenied => "permission-denied",
            Class::NotFound => "not-found",
        }
    }
}

/// The file's format.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// ward's JSON record: identity can be checked.
    Ward,
    /// One number, as other programs write: a reused PID cannot be told apart.
    Plain,
}

/// The verdict on one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// What it is.
    pub class: Class,
    /// How it was written, when that could be told.
    pub format: Option<Format>,
    /// The PID it names, when it names one.
    pub pid: Option<u32>,
    /// The ward record, for ward's format.
    pub record: Option<PidRecord>,
}

/// Reads and judges a PID file. Never changes it.
pub fn check(path: &Path) -> Verdict {
    let verdict = |class, format, pid, record| Verdict {
        class,
        format,
        pid,
        record,
    };
    // Never through a symbolic link, never blocking on a FIFO, never more than a PID file
    // can hold: a PID file in a directory others may write to can be any of those.
    let file = match open_existing(path) {
        Ok(f) => f,
        Err(e) => {
            let class = match e {
                rustix::io::Errno::NOENT => Class::NotFound,
                rustix::io::Errno::ACCESS | rustix::io::Errno::PERM => Class::PermissionDenied,
                rustix::io::Errno::LOOP => {
                    Class::Corrupted("a symbolic link, which ward never follows".into())
                }
                e => Class::Corrupted(io::Error::from(e).to_string()),
            };
            return verdict(class, None, None, None);
        }
    };
    if let Some(what) = not_a_pid_file_kind(&file) {
        return verdict(Class::Corrupted(what), None, None, None);
    }
    let mut bytes = Vec::new();
    if let Err(e) = (&file).take(MAX_PID_FILE + 1).read_to_end(&mut bytes) {
        return verdict(Class::Corrupted(e.to_string()), None, None, None);
    }
    if bytes.len() as u64 > MAX_PID_FILE {
        let why = format!("larger than a PID file can be ({MAX_PID_FILE} bytes)");
        return verdict(Class::Corrupted(why), None, None, None);
    }
    let held = is_held(&file);
    let record = match parse_content(&bytes) {
        Content::Empty if held => return verdict(Class::Locked, None, None, None),
        Content::Empty => {
            let class = Class::Corrupted("the file is empty".into());
            return verdict(class, None, None, None);
        }
        Content::Plain(pid) => {
            let class = match read_stat(pid) {
                Ok(stat) if stat.state != 'Z' => Class::Valid,
                _ => Class::Stale(StaleReason::NotRunning),
            };
            return verdict(class, Some(Format::Plain), Some(pid), None);
        }
        // Half a record, while its owner writes it.
        Content::Corrupted { format: None, .. } if held => {
            return verdict(Class::Locked, None, None, None);
        }
        Content::Corrupted { format, why } => {
            return verdict(Class::Corrupted(why), format, None, None);
        }
        Content::Ward(record) => record,
    };
    let pid = Some(record.pid);
    let class = if boot_id().is_ok_and(|b| *b != *record.boot_id) {
        Class::Stale(StaleReason::EarlierBoot)
    } else {
        match read_stat(record.pid) {
            Err(_) => Class::Stale(StaleReason::NotRunning),
            Ok(stat) if stat.start_time != record.start_time => {
                Class::Stale(StaleReason::PidReused)
            }
            Ok(stat) if stat.state == 'Z' => Class::Stale(StaleReason::NotRunning),
            Ok(_) if !held => Class::Stale(StaleReason::LockReleased),
            Ok(_) => Class::Valid,
        }
    };
    verdict(class, Some(Format::Ward), pid, Some(record))
}

/// Whether an owner holds the lock. The probe takes a shared lock for an instant when it
/// is free; an owner racing to take the file in that instant retries like any other.
fn is_held(file: &File) -> bool {
    match flock(file, FlockOperation::NonBlockingLockShared) {
        Ok(()) => {
            let _ = flock(file, FlockOperation::Unlock);
            false
        }
        Err(rustix::io::Errno::WOULDBLOCK) => true,
        Err(_) => false,
    }
}
