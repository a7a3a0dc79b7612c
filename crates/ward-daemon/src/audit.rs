//! The daemon's side of the audit trail (`ward_store::audit`): who asked for what, every
//! refused connection, every process started, every config change. A control action is
//! recorded, on disk, before it is carried out; one whose record cannot be written is
//! refused. After every record the chain's head goes to the journal too.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ward_store::audit::{AuditLog, Event, Peer};
use ward_store::{JournalHandle, Record};

/// The trail, shared by the loop and the server that refuses connections.
#[derive(Clone)]
pub(crate) struct Audit {
    log: Arc<Mutex<AuditLog>>,
    journal: JournalHandle,
    dir: PathBuf,
}

impl Audit {
    /// Opens the trail in the state dir, continuing its chain.
    pub fn open(state_dir: &Path, journal: JournalHandle) -> io::Result<Audit> {
        Ok(Audit {
            log: Arc::new(Mutex::new(AuditLog::open(state_dir)?)),
            journal,
            dir: state_dir.to_path_buf(),
        })
    }

    /// Appends a record; `durable` waits until it is on disk.
    pub fn record(&self, event: Event, durable: bool) -> io::Result<()> {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let head = log.append(ward_store::now_ms() as u64, event, durable)?;
        self.journal.record(Record::AuditHead {
            seq: head.seq,
            hash: head.hash,
        });
        Ok(())
    }

    /// A record whose loss is logged but stops nothing (a spawn, the daemon's own start).
    pub fn note(&self, event: Event) {
        if let Err(e) = self.record(event, false) {
            tracing::warn!(path = %self.path().display(), error = %e, "cannot write to the audit trail");
        }
    }

    /// The trail's current file, for messages.
    pub fn path(&self) -> PathBuf {
        self.dir.join(ward_store::audit::FILE)
    }

    /// The state dir was made again: the trail goes on in a new file, its chain unbroken
    /// from the last record written (`ward audit verify` then says which records went
    /// with the old directory).
    pub fn reopen(&self) -> io::Result<()> {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.reopen()
    }
}

/// Who is on the other end of a control connection.
pub(crate) fn peer(stream: &impl std::os::fd::AsFd) -> io::Result<Peer> {
    let (uid, gid, pid, exe) = ward_sys::peer_cred(stream)?;
    Ok(Peer {
        uid,
        gid,
        pid,
        exe,
        addr: None,
    })
}
