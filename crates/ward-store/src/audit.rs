//! The audit trail: what ward was asked to do, by whom, and what it started, in a file
//! that shows any edit.
//!
//! Each record is one JSON line in `<state_dir>/audit.jsonl` with a sequence number and
//! the SHA-256 of the line before it, so that an edited, removed or reordered record
//! breaks the chain where it happened. The newest record's number and hash, the chain's
//! head, also go to the journal after every append: an edit of the last record, or records
//! cut from the end, show against it. Past [`ROTATE_AT`] bytes the file is renamed
//! `audit-<first seq>.jsonl` and a new one continues the chain; no file is ever deleted by
//! ward, and the journal's retention never touches them.
//!
//! The daemon is not the only writer: `ward run` appends its records itself. Every append
//! holds an exclusive lock on `audit.lock` and first catches up with what another writer
//! appended (or rotated) since, so the chain stays one line of records whoever writes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The file records are appended to, in the state dir.
pub const FILE: &str = "audit.jsonl";

/// The file every writer locks while it appends.
pub const LOCK: &str = "audit.lock";

/// Size past which the file is rotated.
pub const ROTATE_AT: u64 = 16 << 20;

/// The link of the first record: no record came before it.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who was on the other end of the control socket (`SO_PEERCRED`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Process id.
    pub pid: u32,
    /// Its executable, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// For a client of the HTTP listener, its address: the kernel tells no user or
    /// process of a TCP peer, so `uid`, `gid` and `pid` are then [`Peer::UNKNOWN`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
}

impl Peer {
    /// The id recorded where the kernel tells none.
    pub const UNKNOWN: u32 = u32::MAX;

    /// A client of the HTTP listener at `addr`.
    pub fn remote(addr: String) -> Peer {
        Peer {
            uid: Peer::UNKNOWN,
            gid: Peer::UNKNOWN,
            pid: 0,
            exe: None,
            addr: Some(addr),
        }
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A control request, recorded before it is carried out.
    Action {
        /// Who asked.
        peer: Peer,
        /// `stop`, `reload`, `shutdown`, …
        what: String,
        /// The units named, as given.
        #[serde(default)]
        targets: Vec<String>,
    },
    /// A connection that was not served.
    Refused {
        /// Who it came from.
        peer: Peer,
        /// Why.
        why: String,
    },
    /// A process ward started for a unit.
    Spawn {
        /// The unit.
        unit: String,
        /// Its argv.
        argv: Vec<String>,
        /// The user it runs as.
        uid: u32,
        /// Its working directory.
        cwd: String,
        /// The names of its environment variables; never their values.
        env: Vec<String>,
    },
    /// A one-off command of `ward run`, recorded before it starts.
    Run {
        /// Who ran it: the `ward run` process itself.
        by: Peer,
        /// Its argv.
        argv: Vec<String>,
        /// The user it runs as.
        uid: u32,
        /// Its working directory.
        cwd: String,
        /// The names of its environment variables; never their values.
        env: Vec<String>,
    },
    /// How a `ward run` ended.
    RunEnded {
        /// Its process.
        pid: u32,
        /// Its argv, to find its `run` record by.
        argv: Vec<String>,
        /// The exit code `ward run` passed on (124 after a timeout, 128+N for signal N).
        exit: i32,
        /// Killed for outliving `--timeout`.
        timed_out: bool,
    },
    /// A reload changed the config.
    Reload {
        /// Services added, changed and removed, in words.
        changes: Vec<String>,
    },
    /// The daemon started or stopped.
    Daemon {
        /// What.
        what: String,
    },
}

/// One line of the trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// 1 for the first record of a trail, then one more each time.
    pub seq: u64,
    /// When, in milliseconds since the epoch.
    pub at_ms: u64,
    /// SHA-256 of the line before, in hex; [`GENESIS`] for the first.
    pub prev: String,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// SHA-256 of a line (without its newline), in hex.
pub fn hash(line: &str) -> String {
    let digest = Sha256::digest(line.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The head of a chain: the last record's number and hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Its sequence number.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
}

/// The trail's files, oldest first: the rotated ones by their first sequence number,
/// then the current one.
pub fn files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut rotated: Vec<(u64, PathBuf)> = Vec::new();
    match fs::read_dir(dir) {
        Ok(entries) => {
            for e in entries.flatten() {
                let name = e.file_name();
                let Some(name) = name.to_str() else { continue };
                if let Some(n) = name
                    .strip_prefix("audit-")
                    .and_then(|r| r.strip_suffix(".jsonl"))
                    .and_then(|n| n.parse().ok())
                {
                    rotated.push((n, e.path()));
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    }
    rotated.sort();
    let mut out: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    let current = dir.join(FILE);
    if current.exists() {
        out.push(current);
    }
    Ok(out)
}

/// The writer of a trail. One per state dir: the daemon holds the state dir's lock.
#[derive(Debug)]
pub struct AuditLog {
    dir: PathBuf,
    file: File,
    size: u64,
    head: Head,
    lock: File,
    /// [`ROTATE_AT`], but for tests.
    rotate_at: u64,
}

impl AuditLog {
    /// Opens the trail in `dir` to append to it, continuing its chain from the last record
    /// of the newest file.
    pub fn open(dir: &Path) -> io::Result<AuditLog> {
        let lock = open_append(&dir.join(LOCK))?;
        lock.lock()?;
        let opened = (|| {
            let head = last_record(dir)?.unwrap_or(Head {
                seq: 0,
                hash: GENESIS.to_string(),
            });
            let file = open_append(&dir.join(FILE))?;
            let size = file.metadata()?.len();
            Ok::<_, io::Error>((head, file, size))
        })();
        lock.unlock()?;
        let (head, file, size) = opened?;
        Ok(AuditLog {
            dir: dir.to_path_buf(),
            file,
            size,
            head,
            lock,
            rotate_at: ROTATE_AT,
        })
    }

    /// Under the lock: follows what another writer did since this one last wrote. A file
    /// rotated away is left for the new one; records appended move the head.
    fn catch_up(&mut self) -> io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let path = self.dir.join(FILE);
        let ours = self.file.metadata()?;
        let rotated = match fs::symlink_metadata(&path) {
            Ok(m) => m.ino() != ours.ino() || m.dev() != ours.dev(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => true,
            Err(e) => return Err(e),
        };
        if rotated {
            self.file = open_append(&path)?;
        }
        let size = self.file.metadata()?.len();
        if rotated || size != self.size {
            self.size = size;
            if let Some(head) = last_record(&self.dir)? {
                self.head = head;
            }
        }
        Ok(())
    }

    /// The chain's head now.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Appends one record and returns the new head. With `durable`, the record is on disk
    /// (fdatasync) before this returns: what a control action waits for, so that no action
    /// is carried out unrecorded.
    pub fn append(&mut self, at_ms: u64, event: Event, durable: bool) -> io::Result<Head> {
        self.lock.lock()?;
        let appended = self
            .catch_up()
            .and_then(|()| self.append_locked(at_ms, event, durable));
        self.lock.unlock()?;
        appended
    }

    fn append_locked(&mut self, at_ms: u64, event: Event, durable: bool) -> io::Result<Head> {
        let entry = Entry {
            seq: self.head.seq + 1,
            at_ms,
            prev: self.head.hash.clone(),
            event,
        };
        let line = serde_json::to_string(&entry).map_err(io::Error::other)?;
        if self.size > 0 && self.size + line.len() as u64 + 1 > self.rotate_at {
            self.rotate()?;
        }
        let mut bytes = line.clone().into_bytes();
        bytes.push(b'\n');
        self.file.write_all(&bytes)?;
        if durable {
            self.file.sync_data()?;
        }
        self.size += bytes.len() as u64;
        self.head = Head {
            seq: entry.seq,
            hash: hash(&line),
        };
        Ok(self.head.clone())
    }

    /// Opens the current file again (after its directory was made anew), keeping the
    /// chain's head.
    pub fn reopen(&mut self) -> io::Result<()> {
        let path = self.dir.join(FILE);
        self.lock = open_append(&self.dir.join(LOCK))?;
        self.file = open_append(&path)?;
        self.size = self.file.metadata()?.len();
        Ok(())
    }

    /// Moves the current file aside, named by its first record, and starts a new one that
    /// continues the chain.
    fn rotate(&mut self) -> io::Result<()> {
        self.file.sync_all()?;
        let current = self.dir.join(FILE);
        let first = first_seq(&current)?.unwrap_or(self.head.seq);
        fs::rename(&current, self.dir.join(format!("audit-{first}.jsonl")))?;
        self.file = open_append(&current)?;
        self.size = 0;
        Ok(())
    }
}

/// Opens the current file to append. The state dir is ward's alone (`ward_core::dirs`
/// refuses one others may write to), so nobody else can put a link in its place; one
/// found there anyway is refused rather than written through.
fn open_append(path: &Path) -> io::Result<File> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; ward writes its audit trail only to a file of its own",
                path.display()
            ),
        ));
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// "record 3", or "records 3 to 5".
fn numbered(from: u64, to: u64) -> String {
    if from == to {
        format!("record {from} was")
    } else {
        format!("records {from} to {to} were")
    }
}

fn first_seq(path: &Path) -> io::Result<Option<u64>> {
    let file = File::open(path)?;
    let mut lines = BufReader::new(file).lines();
    match lines.next() {
        Some(line) => Ok(serde_json::from_str::<Entry>(&line?).ok().map(|e| e.seq)),
        None => Ok(None),
    }
}

/// The last record of the newest file that has one.
fn last_record(dir: &Path) -> io::Result<Option<Head>> {
    for path in files(dir)?.iter().rev() {
        if let Some(line) = last_line(path)? {
            let entry: Entry = serde_json::from_str(&line).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "the last line of {} is not an audit record: {e}",
                        path.display()
                    ),
                )
            })?;
            return Ok(Some(Head {
                seq: entry.seq,
                hash: hash(&line),
            }));
        }
    }
    Ok(None)
}

/// The last non-empty line of a file, read from its end.
fn last_line(path: &Path) -> io::Result<Option<String>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut start = len;
    let mut tail = Vec::new();
    while start > 0 {
        let step = 4096.min(start);
        start -= step;
        file.seek(SeekFrom::Start(start))?;
        let mut chunk = vec![0u8; step as usize];
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        let trimmed = tail.strip_suffix(b"\n").unwrap_or(&tail);
        if let Some(i) = trimmed.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(
                String::from_utf8_lossy(&trimmed[i + 1..]).into_owned(),
            ));
        }
    }
    let trimmed = tail.strip_suffix(b"\n").unwrap_or(&tail);
    Ok((!trimmed.is_empty()).then(|| String::from_utf8_lossy(trimmed).into_owned()))
}

/// Where a record sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// Its file.
    pub file: PathBuf,
    /// Its line, from 1.
    pub line: usize,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// The first place the chain does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    /// Where.
    pub at: Place,
    /// What is wrong there, naming the record.
    pub why: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.why)
    }
}

/// A trail that holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Records checked.
    pub records: u64,
    /// The last one.
    pub head: Option<Head>,
}

/// Checks the whole chain in `dir`, and its end against `head` (the journal's copy) when
/// there is one.
pub fn verify(dir: &Path, head: Option<&Head>) -> io::Result<Result<Verified, Broken>> {
    let mut records = 0;
    let mut last: Option<(Head, Place)> = None;
    for path in files(dir)? {
        let reader = BufReader::new(File::open(&path)?);
        for (i, line) in reader.split(b'\n').enumerate() {
            let line = line?;
            let at = Place {
                file: path.clone(),
                line: i + 1,
            };
            let Ok(text) = String::from_utf8(line) else {
                return Ok(Err(Broken {
                    at,
                    why: "not text: the record was edited".into(),
                }));
            };
            let entry: Entry = match serde_json::from_str(&text) {
                Ok(e) => e,
                Err(e) => {
                    return Ok(Err(Broken {
                        at,
                        why: format!("not an audit record ({e}): the record was edited"),
                    }));
                }
            };
            let (want_seq, want_prev) = match &last {
                Some((h, _)) => (h.seq + 1, h.hash.as_str()),
                None => (entry.seq.max(1), entry.prev.as_str()),
            };
            if last.is_none() && entry.seq == 1 && entry.prev != GENESIS {
                return Ok(Err(Broken {
                    at,
                    why: "record 1 does not begin the chain: it was edited".into(),
                }));
            }
            if last.is_none() && entry.seq != 1 {
                return Ok(Err(Broken {
                    at,
                    why: format!(
                        "the trail begins at record {}: {} removed",
                        entry.seq,
                        numbered(1, entry.seq - 1)
                    ),
                }));
            }
            if entry.seq > want_seq {
                return Ok(Err(Broken {
                    at,
                    why: format!(
                        "record {} follows record {}: {} removed or moved",
                        entry.seq,
                        want_seq - 1,
                        numbered(want_seq, entry.seq - 1)
                    ),
                }));
            }
            if entry.seq < want_seq {
                return Ok(Err(Broken {
                    at,
                    why: format!(
                        "record {} comes after record {}: the records were reordered",
                        entry.seq,
                        want_seq - 1
                    ),
                }));
            }
            if entry.prev != want_prev {
                let (_, before) = last.as_ref().expect("a record before");
                return Ok(Err(Broken {
                    at: before.clone(),
                    why: format!(
                        "record {} was edited: its hash no longer matches the link of \
                         record {}",
                        want_seq - 1,
                        entry.seq
                    ),
                }));
            }
            records += 1;
            last = Some((
                Head {
                    seq: entry.seq,
                    hash: hash(&text),
                },
                at,
            ));
        }
    }
    if let Some(expected) = head {
        match &last {
            None if expected.seq > 0 => {
                return Ok(Err(Broken {
                    at: Place {
                        file: dir.join(FILE),
                        line: 0,
                    },
                    why: format!(
                        "the trail is empty, but the journal's head is record {}: every \
                         record was removed",
                        expected.seq
                    ),
                }));
            }
            Some((h, at)) if h.seq < expected.seq => {
                return Ok(Err(Broken {
                    at: at.clone(),
                    why: format!(
                        "the trail ends at record {}, but the journal's head is record {}: {} \
                         removed",
                        h.seq,
                        expected.seq,
                        numbered(h.seq + 1, expected.seq)
                    ),
                }));
            }
            Some((h, at)) if h.seq == expected.seq && h.hash != expected.hash => {
                return Ok(Err(Broken {
                    at: at.clone(),
                    why: format!(
                        "record {} was edited: its hash differs from the journal's head",
                        h.seq
                    ),
                }));
            }
            _ => {}
        }
    }
    Ok(Ok(Verified {
        records,
        head: last.map(|(h, _)| h),
    }))
}

/// Every record, oldest first, for `ward audit`; lines that are not records are skipped
/// (`verify` names them).
pub fn read(dir: &Path) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for path in files(dir)? {
        for line in BufReader::new(File::open(&path)?).lines() {
            if let Ok(entry) = serde_json::from_str::<Entry>(&line?) {
                out.push(entry);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daemon(what: &str) -> Event {
        Event::Daemon { what: what.into() }
    }

    fn trail(n: u64) -> (tempfile::TempDir, Head) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = AuditLog::open(dir.path()).unwrap();
        let mut head = log.head().clone();
        for i in 0..n {
            head = log
                .append(1000 + i, daemon(&format!("event {i}")), false)
                .unwrap();
        }
        (dir, head)
    }

    fn lines(dir: &Path) -> Vec<String> {
        fs::read_to_string(dir.join(FILE))
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    fn write(dir: &Path, lines: &[String]) {
        fs::write(dir.join(FILE), lines.join("\n") + "\n").unwrap();
    }

    fn broken(dir: &Path, head: &Head) -> Broken {
        verify(dir, Some(head)).unwrap().unwrap_err()
    }

    #[test]
    fn an_untouched_trail_verifies_and_reopening_continues_it() {
        let (dir, head) = trail(3);
        assert_eq!(head.seq, 3);
        let v = verify(dir.path(), Some(&head)).unwrap().unwrap();
        assert_eq!(v.records, 3);
        let mut log = AuditLog::open(dir.path()).unwrap();
        assert_eq!(log.head(), &head);
        let head = log.append(2000, daemon("again"), true).unwrap();
        assert_eq!(head.seq, 4);
        assert_eq!(verify(dir.path(), Some(&head)).unwrap().unwrap().records, 4);
    }

    #[test]
    fn two_writers_keep_one_chain_across_a_rotation() {
        let (dir, _) = trail(2);
        let mut a = AuditLog::open(dir.path()).unwrap();
        let mut b = AuditLog::open(dir.path()).unwrap();
        assert_eq!(a.append(1, daemon("a1"), false).unwrap().seq, 3);
        assert_eq!(b.append(2, daemon("b1"), true).unwrap().seq, 4);
        assert_eq!(a.append(3, daemon("a2"), false).unwrap().seq, 5);
        // The other writer moved the file aside: the next append follows into a new one.
        fs::rename(dir.path().join(FILE), dir.path().join("audit-1.jsonl")).unwrap();
        let head = b.append(4, daemon("b2"), true).unwrap();
        assert_eq!(head.seq, 6);
        let head = a.append(5, daemon("a3"), true).unwrap();
        assert_eq!(head.seq, 7);
        let v = verify(dir.path(), Some(&head)).unwrap().unwrap();
        assert_eq!(v.records, 7);
        assert_eq!(lines(dir.path()).len(), 2, "the new file holds b2 and a3");
    }

    #[test]
    fn an_edit_a_removal_and_a_reordering_are_each_named() {
        let (dir, head) = trail(5);
        let good = lines(dir.path());
        // Record 2 edited.
        let mut edited = good.clone();
        edited[1] = edited[1].replace("event 1", "event X");
        write(dir.path(), &edited);
        let b = broken(dir.path(), &head);
        assert_eq!(b.at.line, 2, "{b}");
        assert!(b.why.contains("record 2 was edited"), "{b}");
        // Record 3 removed.
        let mut removed = good.clone();
        removed.remove(2);
        write(dir.path(), &removed);
        let b = broken(dir.path(), &head);
        assert!(b.why.contains("record 3 was removed or moved"), "{b}");
        // Records 3 and 4 swapped: the first place it shows is named.
        let mut swapped = good.clone();
        swapped.swap(2, 3);
        write(dir.path(), &swapped);
        let b = broken(dir.path(), &head);
        assert_eq!(b.at.line, 3, "{b}");
        assert!(b.why.contains("record 4 follows record 2"), "{b}");
        // The last record edited: only the journal's head shows it.
        let mut last = good.clone();
        last[4] = last[4].replace("event 4", "event Y");
        write(dir.path(), &last);
        assert!(verify(dir.path(), None).unwrap().is_ok());
        let b = broken(dir.path(), &head);
        assert!(b.why.contains("record 5 was edited"), "{b}");
        // The end cut off.
        write(dir.path(), &good[..3]);
        let b = broken(dir.path(), &head);
        assert!(b.why.contains("records 4 to 5 were removed"), "{b}");
        // Not a record at all.
        let mut junk = good.clone();
        junk[0] = "garbage".into();
        write(dir.path(), &junk);
        assert_eq!(broken(dir.path(), &head).at.line, 1);
    }

    #[test]
    fn rotation_keeps_the_chain_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = AuditLog::open(dir.path()).unwrap();
        let first = log.append(1, daemon("one"), false).unwrap();
        // As if the file were full: the next record goes to a new one.
        log.rotate_at = 1;
        let head = log.append(2, daemon("two"), false).unwrap();
        assert_eq!(
            files(dir.path()).unwrap().len(),
            2,
            "{:?}",
            files(dir.path())
        );
        assert!(dir.path().join("audit-1.jsonl").exists());
        assert_eq!(first.seq + 1, head.seq);
        assert_eq!(verify(dir.path(), Some(&head)).unwrap().unwrap().records, 2);
        assert_eq!(read(dir.path()).unwrap().len(), 2);
    }
}
