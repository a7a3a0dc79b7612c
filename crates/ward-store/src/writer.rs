//! The one writer: a thread that owns the writing connection and commits in batches.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{
    Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError, channel, sync_channel,
};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::record::Record;
use crate::retention::{self, Retention};
use crate::{StoreError, now_ms, schema};

/// How often the writer prunes old history.
pub const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Records that may wait for the disk; one more is dropped and counted.
pub const QUEUE: usize = 16_384;

/// The most records one transaction takes. What is queued while a batch commits forms
/// the next batch, so batches grow with the load and there is no waiting on an idle queue.
pub const BATCH_MAX: usize = 4_096;

/// The least time between two commits while records keep coming. Each commit is a write
/// of the WAL and an `fsync`; during a start of 500 units the records came a few at a
/// time and their commits took as much CPU as the supervisor's own loop, on a machine
/// where the units' programs wanted it too. A record after a quiet time waits only
/// [`FIRST_HOLD`], and one someone waits for when it comes first not at all; what follows
/// within the gap joins the next commit, which a waiting answer then waits for too (at
/// most this long), and a power cut loses at most this much more than the batch being
/// written.
pub const COMMIT_GAP: Duration = Duration::from_millis(10);

/// How long a record after a quiet time waits for the rest of its event. An exit is
/// journaled before the restart it causes is spawned: committed at once, the commit (about
/// 0.2 ms of CPU) ran on the CPU the supervisor and its new child were using, since a
/// woken thread goes to its waker's CPU, and held the child back from its `execve` for
/// 219 µs (`sched_switch` events of a restart). Held this long, the exit, the restart and
/// the new run's start go in one commit, after the spawn.
pub const FIRST_HOLD: Duration = Duration::from_millis(2);

type Done = Box<dyn FnOnce(bool) + Send>;

enum Msg {
    /// Boxed: a message waiting in the queue stays small whatever the record.
    Record(Box<Record>, Option<Done>),
    /// Answered once everything queued before it is committed (or failed).
    Sync(SyncSender<()>),
    /// Called, like `Sync`, once everything queued before it is committed (or failed).
    Then(Box<dyn FnOnce() + Send>),
    /// Commit what came before, then end, whoever still holds a handle.
    Stop,
    /// The file was deleted or replaced under the open connection: write what the
    /// connection still holds to a new file at the journal's path and go on there.
    Recreate(SyncSender<Result<(), StoreError>>),
}

impl Msg {
    /// Whether someone waits for this message's commit: as the first of a batch, it is
    /// not held back for the [`COMMIT_GAP`].
    fn awaited(&self) -> bool {
        !matches!(self, Msg::Record(_, None))
    }
}

/// The daemon's handle on the journal; dropping it commits what is queued and ends the
/// writer.
pub struct Journal {
    path: PathBuf,
    handle: Option<JournalHandle>,
    failed: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
    tap: Option<Tap>,
}

/// Who else hears of each record as it is queued: the daemon's live event stream.
pub type Tap = Box<dyn Fn(&Record) + Send + Sync>;

/// The writer's queue, bounded by a count of waiting messages rather than by slots.
/// std's bounded channel allocates and touches all of its [`QUEUE`] slots up front: 640 KiB
/// resident in every daemon, idle or not. The unbounded one grows in small blocks while
/// records wait and frees them as the writer drains it.
#[derive(Clone)]
struct Queue {
    tx: Sender<Msg>,
    waiting: Arc<AtomicUsize>,
}

impl Queue {
    /// Queues `msg` unless [`QUEUE`] messages wait already; gives it back if not queued.
    fn try_send(&self, msg: Msg) -> Result<(), Msg> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= QUEUE {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(msg);
        }
        self.push(msg)
    }

    /// Queues `msg` however many wait: a sync or a stop must reach the writer.
    fn send(&self, msg: Msg) -> Result<(), Msg> {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        self.push(msg)
    }

    /// Sends a message already counted in `waiting`.
    fn push(&self, msg: Msg) -> Result<(), Msg> {
        self.tx.send(msg).map_err(|e| {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            e.0
        })
    }
}

/// A cheap clone of the journal's queue, for tasks that record from elsewhere.
#[derive(Clone)]
pub struct JournalHandle {
    queue: Queue,
    dropped: Arc<AtomicU64>,
    /// How many of the dropped records a `journal overflow` event already accounts for.
    reported: Arc<AtomicU64>,
}

impl JournalHandle {
    /// Calls `done` once every record queued before is committed or has failed, without
    /// blocking the caller: `ward history` waits on it so it shows what just happened.
    /// With the queue full (the disk cannot keep up) `done` is called at once: the caller
    /// then reads what is committed so far rather than waiting on the disk.
    pub fn then(&self, done: impl FnOnce() + Send + 'static) {
        if let Err(Msg::Then(done)) = self.queue.try_send(Msg::Then(Box::new(done))) {
            done();
        }
    }

    /// Queues a record; never blocks. A full queue drops it and counts it.
    pub fn record(&self, record: Record) {
        self.send(record, None);
    }

    /// Queues a record and calls `done(true)` once it is committed, `done(false)` if it
    /// was dropped or its transaction failed.
    pub fn record_then(&self, record: Record, done: impl FnOnce(bool) + Send + 'static) {
        self.send(record, Some(Box::new(done)));
    }

    fn send(&self, record: Record, done: Option<Done>) {
        match self.queue.try_send(Msg::Record(Box::new(record), done)) {
            Ok(()) => {
                // The queue has room again: say in the journal itself what it missed.
                let dropped = self.dropped.load(Ordering::Relaxed);
                let reported = self.reported.swap(dropped, Ordering::Relaxed);
                if dropped > reported {
                    let overflow = Record::Daemon {
                        at_ms: now_ms(),
                        what: "journal overflow".into(),
                        detail: format!(
                            "{} records dropped because the disk could not keep up",
                            dropped - reported
                        ),
                    };
                    if self
                        .queue
                        .try_send(Msg::Record(Box::new(overflow), None))
                        .is_err()
                    {
                        self.reported.store(reported, Ordering::Relaxed);
                    }
                }
            }
            Err(Msg::Record(_, done)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                if let Some(done) = done {
                    done(false);
                }
            }
            Err(_) => {}
        }
    }
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

impl Journal {
    /// Opens (checking and migrating) the journal and starts its writer, with the default
    /// retention.
    pub fn open(path: &Path) -> Result<Journal, StoreError> {
        Journal::open_with(path, Retention::default())
    }

    /// Opens the journal and starts its writer, which prunes to `retention` at start and
    /// every [`PRUNE_EVERY`] after.
    pub fn open_with(path: &Path, retention: Retention) -> Result<Journal, StoreError> {
        let conn = schema::open_checked(path)?;
        let (tx, rx) = channel();
        let waiting = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let thread = {
            let (failed, file) = (failed.clone(), path.to_path_buf());
            std::thread::Builder::new()
                .name("ward-journal".into())
                .spawn({
                    let waiting = waiting.clone();
                    move || run(conn, rx, waiting, failed, file, retention)
                })
                .map_err(|source| StoreError::Io {
                    path: path.to_path_buf(),
                    source,
                })?
        };
        Ok(Journal {
            path: path.to_path_buf(),
            handle: Some(JournalHandle {
                queue: Queue { tx, waiting },
                dropped,
                reported: Arc::new(AtomicU64::new(0)),
            }),
            failed,
            thread: Some(thread),
            tap: None,
        })
    }

    /// Tells `tap` of every record queued from now on, before it is written: what
    /// happens is told live, whether or not the disk keeps up.
    pub fn set_tap(&mut self, tap: Tap) {
        self.tap = Some(tap);
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle for recording from other tasks.
    pub fn handle(&self) -> JournalHandle {
        self.handle.clone().expect("open until dropped")
    }

    /// Queues a record; never blocks. A full queue drops it and counts it.
    pub fn record(&self, record: Record) {
        if let Some(tap) = &self.tap {
            tap(&record);
        }
        if let Some(h) = &self.handle {
            h.record(record);
        }
    }

    /// Queues a record and calls `done(true)` once it is committed, `done(false)` if it
    /// was dropped or its transaction failed.
    pub fn record_then(&self, record: Record, done: impl FnOnce(bool) + Send + 'static) {
        if let Some(tap) = &self.tap {
            tap(&record);
        }
        if let Some(h) = &self.handle {
            h.record_then(record, done);
        }
    }

    /// Records dropped because the queue was full (the disk could not keep up).
    pub fn dropped(&self) -> u64 {
        self.handle
            .as_ref()
            .map_or(0, |h| h.dropped.load(Ordering::Relaxed))
    }

    /// Records lost because their transaction failed (disk full, I/O error).
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Waits until everything queued so far is committed or has failed.
    pub fn sync(&self) {
        let Some(JournalHandle { queue, .. }) = &self.handle else {
            return;
        };
        let (done_tx, done_rx) = sync_channel(1);
        if queue.send(Msg::Sync(done_tx)).is_ok() {
            let _ = done_rx.recv();
        }
    }

    /// The journal's file was deleted (or moved) while the daemon had it open: SQLite
    /// goes on writing to the unlinked file, and everything would be lost with it. This
    /// writes the whole journal, as the open connection still sees it, to a new file at
    /// the journal's path (`VACUUM INTO`, which refuses to overwrite a file that someone
    /// put there meanwhile), then goes on writing there. Blocks until done.
    pub fn recreate(&self) -> Result<(), StoreError> {
        let Some(JournalHandle { queue, .. }) = &self.handle else {
            return Ok(());
        };
        let (done_tx, done_rx) = sync_channel(1);
        if queue.send(Msg::Recreate(done_tx)).is_err() {
            return Ok(());
        }
        done_rx.recv().unwrap_or(Ok(()))
    }
}

/// Writes what `conn` holds to a new file at `path` and opens that instead. The copy is
/// made under a name of its own and linked into place, which fails if anything is at
/// `path` by then: whatever someone put there is left as it is (`VACUUM INTO` itself
/// would write into a non-empty file before it refuses it).
fn recreate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension(format!("db.recreating.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    conn.execute("VACUUM INTO ?1", [tmp.to_string_lossy()])
        .map_err(|source| StoreError::Sqlite {
            path: tmp.clone(),
            source,
        })?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    linked.map_err(io)?;
    *conn = schema::open_checked(path)?;
    Ok(())
}

impl Drop for Journal {
    fn drop(&mut self) {
        // The writer commits what is queued before the stop, then ends: handles that tasks
        // still hold cannot keep it alive.
        if let Some(h) = self.handle.take() {
            let _ = h.queue.send(Msg::Stop);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(
    mut conn: Connection,
    rx: Receiver<Msg>,
    waiting: Arc<AtomicUsize>,
    failed: Arc<AtomicU64>,
    path: PathBuf,
    retention: Retention,
) {
    let mut ids: HashMap<String, i64> = HashMap::new();
    // Every row gets the next number, in the order the daemon recorded it: what orders
    // entries of one millisecond. A failed batch leaves a gap, which orders nothing wrong.
    let mut seq = schema::last_seq(&conn).unwrap_or(0);
    let mut last_error_logged = None::<std::time::Instant>;
    let mut next_prune = Instant::now();
    let mut last_commit = None::<Instant>;
    loop {
        if Instant::now() >= next_prune {
            match retention::prune(&conn, retention) {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "journal pruned"),
                Err(e) => tracing::warn!(error = %e, "journal pruning failed"),
            }
            // Pruned rows may have been the cached services' only trace: look them up again.
            ids.clear();
            next_prune = Instant::now() + PRUNE_EVERY;
        }
        let first = match rx.recv_timeout(next_prune.saturating_duration_since(Instant::now())) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        // Asleep rather than in a receive with a timeout, which every record would wake.
        // A full batch already waiting has nothing to gather.
        let hold = hold_for(last_commit, Instant::now(), first.awaited());
        if !hold.is_zero() && waiting.load(Ordering::Acquire) < BATCH_MAX {
            std::thread::sleep(hold);
        }
        let mut batch = vec![first];
        while batch.len() < BATCH_MAX {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        // Out of the queue: room for as many again while this batch commits.
        waiting.fetch_sub(batch.len(), Ordering::AcqRel);
        let records = batch
            .iter()
            .filter(|m| matches!(m, Msg::Record(..)))
            .count();
        let ok = write_batch(&mut conn, &mut ids, &mut seq, &batch);
        last_commit = Some(Instant::now());
        let ok = match ok {
            Ok(()) => true,
            Err(e) => {
                failed.fetch_add(records as u64, Ordering::Relaxed);
                // The ids cached in the failed transaction may not exist.
                ids.clear();
                // One message a second at most: a full disk must not flood the daemon log.
                if last_error_logged.is_none_or(|t| t.elapsed().as_secs() >= 1) {
                    tracing::error!(journal = %path.display(), error = %e, lost = records, "journal write failed; supervising goes on");
                    last_error_logged = Some(std::time::Instant::now());
                }
                false
            }
        };
        let mut stop = false;
        for msg in batch {
            match msg {
                Msg::Record(_, Some(done)) => done(ok),
                Msg::Record(_, None) => {}
                Msg::Sync(tx) => {
                    let _ = tx.send(());
                }
                Msg::Then(done) => done(),
                Msg::Stop => stop = true,
                Msg::Recreate(done) => {
                    let _ = done.send(recreate(&mut conn, &path));
                    ids.clear();
                }
            }
        }
        if stop {
            break;
        }
    }
}

/// How long a batch waits for more records before it commits: until [`COMMIT_GAP`]
/// after the last commit, [`FIRST_HOLD`] after a quiet time, and not at all when someone
/// waits for its first message.
fn hold_for(last_commit: Option<Instant>, now: Instant, awaited: bool) -> Duration {
    if awaited {
        return Duration::ZERO;
    }
    last_commit
        .map_or(Duration::ZERO, |at| {
            (at + COMMIT_GAP).saturating_duration_since(now)
        })
        .max(FIRST_HOLD)
}

fn write_batch(
    conn: &mut Connection,
    ids: &mut HashMap<String, i64>,
    seq: &mut i64,
    batch: &[Msg],
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for msg in batch {
        if let Msg::Record(record, _) = msg {
            *seq += 1;
            crate::rows::apply(&tx, ids, *seq, record)?;
        }
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExitRecord;

    fn a_record() -> Msg {
        Msg::Record(
            Box::new(Record::Daemon {
                at_ms: 0,
                what: "test".into(),
                detail: String::new(),
            }),
            None,
        )
    }

    #[test]
    fn a_batch_waits_for_more_after_a_commit_briefly_after_quiet_and_never_when_awaited() {
        let now = Instant::now();
        // After a quiet time (or none yet), only for the rest of its event.
        assert_eq!(hold_for(None, now, false), FIRST_HOLD);
        assert_eq!(hold_for(Some(now), now + COMMIT_GAP, false), FIRST_HOLD);
        assert_eq!(
            hold_for(Some(now), now + 10 * COMMIT_GAP, false),
            FIRST_HOLD
        );
        // Records coming on the heels of a commit wait for the rest of the gap.
        assert_eq!(hold_for(Some(now), now, false), COMMIT_GAP);
        assert_eq!(
            hold_for(Some(now), now + COMMIT_GAP / 4, false),
            COMMIT_GAP - COMMIT_GAP / 4
        );
        // Someone waits for this commit: no holding back.
        assert_eq!(hold_for(Some(now), now, true), Duration::ZERO);
        assert!(!a_record().awaited());
        assert!(Msg::Stop.awaited());
        assert!(Msg::Then(Box::new(|| {})).awaited());
    }

    #[test]
    fn the_queue_holds_queue_records_then_refuses_but_lets_a_stop_through() {
        let (tx, rx) = channel();
        let queue = Queue {
            tx,
            waiting: Arc::new(AtomicUsize::new(0)),
        };
        for i in 0..QUEUE {
            assert!(queue.try_send(a_record()).is_ok(), "record {i} refused");
        }
        assert!(matches!(queue.try_send(a_record()), Err(Msg::Record(..))));
        assert!(queue.send(Msg::Stop).is_ok());
        // The stop counts as waiting too. The writer takes two out and says so: room for
        // exactly one more.
        rx.recv().unwrap();
        rx.recv().unwrap();
        queue.waiting.fetch_sub(2, Ordering::AcqRel);
        assert!(queue.try_send(a_record()).is_ok());
        assert!(queue.try_send(a_record()).is_err());
        // A writer gone gives the message back and leaves the count as it was.
        drop(rx);
        let before = queue.waiting.load(Ordering::Acquire);
        assert!(queue.send(Msg::Stop).is_err());
        assert_eq!(queue.waiting.load(Ordering::Acquire), before);
    }

    #[test]
    fn a_journal_deleted_under_the_writer_is_written_anew_with_its_history() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        let j = Journal::open(&path).unwrap();
        let daemon = |what: &str| Record::Daemon {
            at_ms: now_ms(),
            what: what.into(),
            detail: String::new(),
        };
        j.record(daemon("before"));
        j.sync();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        j.recreate().unwrap();
        j.record(daemon("after"));
        j.sync();
        let reader = crate::Reader::open(&path).unwrap();
        let what: Vec<String> = reader
            .events(0)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert!(what.iter().any(|w| w.contains("before")), "{what:?}");
        assert!(what.iter().any(|w| w.contains("after")), "{what:?}");
        // A file someone put there meanwhile is never overwritten.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "not ours").unwrap();
        let refused = j.recreate();
        assert_eq!(std::fs::read(&path).unwrap(), b"not ours", "{refused:?}");
        assert!(refused.is_err());
    }

    #[test]
    fn records_are_committed_and_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        let j = Journal::open(&path).unwrap();
        j.record(Record::Unit {
            unit: "web.0".into(),
            service: "web".into(),
        });
        j.record(Record::RunStarted {
            unit: "web.0".into(),
            pid: 10,
            start_time: 5,
            boot_id: "b".into(),
            at_ms: 1,
            adopted: false,
        });
        j.record(Record::RunEnded {
            unit: "web.0".into(),
            pid: 10,
            start_time: 5,
            boot_id: "b".into(),
            at_ms: 2,
            exit: ExitRecord {
                description: "exit 3".into(),
                code: Some(3),
                signal: None,
                core_dumped: false,
            },
        });
        let (tx, rx) = std::sync::mpsc::channel();
        j.record_then(
            Record::Action {
                at_ms: 3,
                who: "uid 0".into(),
                what: "start".into(),
                targets: "web.0".into(),
                result: "ok".into(),
            },
            move |ok| tx.send(ok).unwrap(),
        );
        assert!(rx.recv().unwrap());
        drop(j);
        let conn = Connection::open(&path).unwrap();
        let (desc, ended): (String, i64) = conn
            .query_row("SELECT exit_description, ended_ms FROM runs", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((desc.as_str(), ended), ("exit 3", 2));
        let svc: String = conn
            .query_row(
                "SELECT service FROM services WHERE name = 'web.0'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(svc, "web");
    }
}
