//! The one thread that writes log files, rotates them by size and reopens them on demand.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// How many chunks may wait for the disk before output is dropped.
const QUEUE: usize = 1024;

/// How many log files stay open at once. Past it, the file written least recently is
/// closed and opened again when its unit next writes: thousands of chatty services then
/// cost no more descriptors than this, and the daemon stays under the open-file limit.
const OPEN_FILES: usize = ward_core::budget::LOG_FILES as usize;

enum Msg {
    /// Lines for a unit's file. The first for a unit makes the writer take it on: no
    /// message of its own registers a unit, since a start-up of thousands of units
    /// would wake the writer (or, past [`QUEUE`], wait for it) once for each.
    Data {
        unit: Arc<UnitLog>,
        bytes: Vec<u8>,
    },
    /// Lines held through a turn of the loop (`LogWriter::hold`), sent at once.
    Batch(Vec<(Arc<UnitLog>, Vec<u8>)>),
    Close {
        id: u64,
    },
    Reopen,
    Sync(SyncSender<()>),
}

/// Per-unit handle shared by the capture task and the status endpoint.
#[derive(Debug)]
pub struct UnitLog {
    id: u64,
    path: PathBuf,
    /// Rotated past this size, into `keep` numbered files.
    max_size: u64,
    keep: u32,
    dropped: AtomicU64,
    /// Masks the values of the service's secrets in what it writes; set at each spawn,
    /// since the capture outlives the runs (and a reload may change the values).
    secrets: std::sync::Mutex<Option<Arc<ward_core::secrets::Redactor>>>,
}

impl UnitLog {
    /// The redactor of the service's current environment.
    pub fn secrets(&self) -> Option<Arc<ward_core::secrets::Redactor>> {
        self.secrets.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Masks these secrets from now on.
    pub fn set_secrets(&self, redactor: Option<ward_core::secrets::Redactor>) {
        if let Ok(mut s) = self.secrets.lock() {
            *s = redactor.map(Arc::new);
        }
    }

    /// Which unit log this is, unique in the daemon's life.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The unit's log file.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Bytes dropped because the writer could not keep up (or the disk failed).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Lines kept back while the loop holds them: `None` when they go at once.
type Held = Arc<std::sync::Mutex<Option<Vec<(Arc<UnitLog>, Vec<u8>)>>>>;

/// A cloneable handle for sending lines to the writer.
#[derive(Clone, Debug)]
pub struct LogSink {
    tx: SyncSender<Msg>,
    held: Held,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl LogSink {
    /// Flushes and forgets a unit's file, after everything queued before, held lines too.
    pub fn close(&self, log: &UnitLog) {
        self.send_held();
        let _ = self.tx.send(Msg::Close { id: log.id });
    }

    /// Queues whole lines for `log`; never blocks. Counts what it had to drop.
    pub fn write(&self, log: &Arc<UnitLog>, bytes: Vec<u8>) {
        if let Some(held) = self.held.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            held.push((log.clone(), bytes));
            return;
        }
        let len = bytes.len() as u64;
        let unit = log.clone();
        if self.tx.try_send(Msg::Data { unit, bytes }).is_err() {
            log.dropped.fetch_add(len, Ordering::Relaxed);
        }
    }

    /// Sends what is held so far, holding on (`LogWriter::hold`).
    fn send_held(&self) {
        let held = self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
            .map(std::mem::take);
        self.send_batch(held.unwrap_or_default());
    }

    fn send_batch(&self, lines: Vec<(Arc<UnitLog>, Vec<u8>)>) {
        if lines.is_empty() {
            return;
        }
        if let Err(TrySendError::Full(msg) | TrySendError::Disconnected(msg)) =
            self.tx.try_send(Msg::Batch(lines))
            && let Msg::Batch(lines) = msg
        {
            for (log, bytes) in lines {
                log.dropped.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
        }
    }
}

/// Owner of the writer thread.
#[derive(Debug)]
pub struct LogWriter {
    sink: LogSink,
    next_id: u64,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LogWriter {
    /// Starts the writer thread: into log files, or (`to_stdout`, `log_to = "stdout"`)
    /// onto the daemon's own standard output and error, for a container's log collector.
    pub fn start(to_stdout: bool) -> io::Result<LogWriter> {
        let (tx, rx) = sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("ward-logs".into())
            .spawn(move || if to_stdout { run_stdout(rx) } else { run(rx) })?;
        Ok(LogWriter {
            sink: LogSink {
                tx,
                held: Held::default(),
            },
            next_id: 1,
            thread: Some(thread),
        })
    }

    /// Keeps what is written back until `release`. The loop holds its notes through a
    /// turn: a start of 500 units woke the writer once for each "started" note, and each
    /// time the writer took the loop's CPU from it, with the spawns still to do waiting.
    /// The capture task runs on the loop's thread, so no output of a service can come
    /// between a held note and the lines that follow it.
    pub fn hold(&self) {
        self.sink
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(Vec::new);
    }

    /// Sends what was held, in one message, and lets writes go at once again.
    pub fn release(&self) {
        let held = self
            .sink
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.sink.send_batch(held.unwrap_or_default());
    }

    /// A handle for the capture task.
    pub fn sink(&self) -> LogSink {
        self.sink.clone()
    }

    /// A unit's log file, made and opened by the writer with its first lines.
    pub fn open(&mut self, path: PathBuf, max_size: u64, keep: u32) -> Arc<UnitLog> {
        let id = self.next_id;
        self.next_id += 1;
        Arc::new(UnitLog {
            id,
            path,
            max_size,
            keep,
            dropped: AtomicU64::new(0),
            secrets: std::sync::Mutex::new(None),
        })
    }

    /// Reopens every file, for external rotators that renamed them.
    pub fn reopen(&self) {
        let _ = self.sink.tx.send(Msg::Reopen);
    }

    /// Waits until everything queued so far is written, held lines too.
    pub fn sync(&self) {
        self.sink.send_held();
        let (tx, rx) = sync_channel(1);
        if self.sink.tx.send(Msg::Sync(tx)).is_ok() {
            let _ = rx.recv();
        }
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        // The thread ends when every sender is gone; the capture task may still hold clones,
        // so only wait for what is queued now.
        self.sync();
        drop(self.thread.take());
    }
}

/// A unit's log as the writer keeps it: the unit's handle (path, size limit, kept files)
/// and the file's state.
struct OpenLog {
    unit: Arc<UnitLog>,
    file: Option<File>,
    size: u64,
    /// When it was last written, as a count of writes: the least recent is closed first.
    used: u64,
}

impl OpenLog {
    fn file(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.unit.path)?;
            self.size = f.metadata()?.len();
            self.file = Some(f);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }

    /// Writes whole lines, rotating between two lines whenever the next ones would not
    /// fit, so no file grows past `max_size` (unless one line alone is longer).
    fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        self.file()?;
        while !bytes.is_empty() {
            let room = self.unit.max_size.saturating_sub(self.size) as usize;
            let take = if bytes.len() <= room {
                bytes.len()
            } else {
                match memchr::memrchr(b'\n', &bytes[..room]) {
                    Some(i) => i + 1,
                    // Not even one line fits: start a new file, where it may stand alone.
                    None if self.size > 0 => {
                        self.rotate()?;
                        continue;
                    }
                    None => memchr::memchr(b'\n', bytes).map_or(bytes.len(), |i| i + 1),
                }
            };
            let f = self.file()?;
            f.write_all(&bytes[..take])?;
            self.size += take as u64;
            bytes = &bytes[take..];
            if !bytes.is_empty() {
                self.rotate()?;
            }
        }
        Ok(())
    }

    /// `NAME.log` → `NAME.log.1` → … → `NAME.log.<keep>`; the oldest falls off.
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let numbered = |n: u32| {
            let mut p = self.unit.path.clone().into_os_string();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        };
        let keep = self.unit.keep;
        if keep == 0 {
            fs::remove_file(&self.unit.path).or_else(ignore_missing)?;
        } else {
            fs::remove_file(numbered(keep)).or_else(ignore_missing)?;
            for n in (1..keep).rev() {
                fs::rename(numbered(n), numbered(n + 1)).or_else(ignore_missing)?;
            }
            fs::rename(&self.unit.path, numbered(1)).or_else(ignore_missing)?;
        }
        self.size = 0;
        Ok(())
    }
}

fn ignore_missing(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

/// The logs whose file is open, by when each was last written (`OpenLog::used`, unique):
/// the least recent comes first. Kept beside the logs so that making room is one step,
/// not a walk over every unit's log for each write of a closed one (with thousands of
/// units past [`OPEN_FILES`], each first line of a start paid that walk).
#[derive(Default)]
struct OpenFiles(std::collections::BTreeMap<u64, u64>);

impl OpenFiles {
    /// Writes `bytes` to `id`'s log, closing the file written least recently first when
    /// `OPEN_FILES` are open and `id`'s is not one of them. A write that fails closes
    /// the log's file and counts the bytes as dropped.
    fn write(&mut self, logs: &mut HashMap<u64, OpenLog>, id: u64, stamp: u64, bytes: &[u8]) {
        let Some(log) = logs.get(&id) else {
            return;
        };
        if log.file.is_some() {
            self.0.remove(&log.used);
        } else if self.0.len() >= OPEN_FILES
            && let Some((_, oldest)) = self.0.pop_first()
            && let Some(old) = logs.get_mut(&oldest)
        {
            old.file = None;
        }
        let Some(log) = logs.get_mut(&id) else {
            return;
        };
        log.used = stamp;
        if let Err(e) = log.write(bytes) {
            tracing::warn!(path = %log.unit.path.display(), error = %e, "cannot write log");
            log.unit
                .dropped
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            log.file = None;
        }
        if log.file.is_some() {
            self.0.insert(stamp, id);
        }
    }

    /// Writes to `unit`'s log, which the writer takes on with its first lines.
    fn take_on(
        &mut self,
        logs: &mut HashMap<u64, OpenLog>,
        unit: Arc<UnitLog>,
        stamp: u64,
        bytes: &[u8],
    ) {
        let id = unit.id;
        logs.entry(id).or_insert_with(|| OpenLog {
            unit,
            file: None,
            size: 0,
            used: 0,
        });
        self.write(logs, id, stamp, bytes);
    }

    /// `id`'s log is forgotten.
    fn forget(&mut self, log: &OpenLog) {
        if log.file.is_some() {
            self.0.remove(&log.used);
        }
    }

    /// Every file is closed.
    fn clear(&mut self) {
        self.0.clear();
    }
}

/// `log_to = "stdout"`: each line of `TIME STREAM TEXT` becomes `TIME UNIT | TEXT` (or
/// `TIME UNIT ward: TEXT` for ward's own notes), on standard error for what the service
/// wrote there and on standard output for the rest, so that a container's log collector
/// keeps both streams apart and knows each line's service.
fn run_stdout(rx: Receiver<Msg>) {
    let mut names: HashMap<u64, String> = HashMap::new();
    // Units whose lines are no longer wanted: what comes after the close is dropped, as
    // it came for a unit the writer no longer knows. Ids are never used again.
    let mut closed: HashSet<u64> = HashSet::new();
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Data { unit, bytes } => {
                if !closed.contains(&unit.id) {
                    to_stdout(&mut names, &unit, &bytes);
                }
            }
            Msg::Batch(lines) => {
                for (unit, bytes) in lines {
                    if !closed.contains(&unit.id) {
                        to_stdout(&mut names, &unit, &bytes);
                    }
                }
            }
            Msg::Close { id } => {
                names.remove(&id);
                closed.insert(id);
            }
            Msg::Reopen => {}
            Msg::Sync(done) => {
                let _ = io::stdout().flush();
                let _ = done.send(());
            }
        }
    }
}

/// One unit's lines on ward's own stdout and stderr, each named by its unit.
fn to_stdout(names: &mut HashMap<u64, String>, unit: &UnitLog, bytes: &[u8]) {
    let name = names.entry(unit.id).or_insert_with(|| {
        unit.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let (mut out, mut err) = (Vec::new(), Vec::new());
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let mut fields = line.splitn(3, |&b| b == b' ');
        let (Some(time), Some(stream), Some(text)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let (to, mark): (&mut Vec<u8>, &[u8]) = match stream {
            b"err" => (&mut err, b" | "),
            b"ward" => (&mut out, b" ward: "),
            _ => (&mut out, b" | "),
        };
        to.extend_from_slice(time);
        to.push(b' ');
        to.extend_from_slice(name.as_bytes());
        to.extend_from_slice(mark);
        to.extend_from_slice(text);
    }
    // A closed or full stdout is the collector's affair: the line is dropped, never the
    // daemon.
    let _ = io::stdout().lock().write_all(&out);
    let _ = io::stderr().lock().write_all(&err);
}

fn run(rx: Receiver<Msg>) {
    let mut logs: HashMap<u64, OpenLog> = HashMap::new();
    // As in `run_stdout`: lines queued after a unit's close are dropped.
    let mut closed: HashSet<u64> = HashSet::new();
    let mut open = OpenFiles::default();
    let mut writes: u64 = 0;
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Data { unit, bytes } => {
                if !closed.contains(&unit.id) {
                    writes += 1;
                    open.take_on(&mut logs, unit, writes, &bytes);
                }
            }
            Msg::Batch(lines) => {
                for (unit, bytes) in lines {
                    if !closed.contains(&unit.id) {
                        writes += 1;
                        open.take_on(&mut logs, unit, writes, &bytes);
                    }
                }
            }
            Msg::Close { id } => {
                if let Some(log) = logs.remove(&id) {
                    open.forget(&log);
                }
                closed.insert(id);
            }
            Msg::Reopen => {
                for log in logs.values_mut() {
                    log.file = None;
                }
                open.clear();
            }
            Msg::Sync(done) => {
                let _ = done.send(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Descriptors of this process open on files below `dir`.
    fn open_below(dir: &Path) -> usize {
        fs::read_dir("/proc/self/fd")
            .expect("fd dir")
            .flatten()
            .filter(|e| fs::read_link(e.path()).is_ok_and(|t| t.starts_with(dir)))
            .count()
    }

    /// A unit is taken on with its first lines, without a message of its own; what was
    /// queued before its close is written, what comes after is dropped, and a unit that
    /// never wrote leaves no file.
    #[test]
    fn a_unit_is_taken_on_by_its_first_lines_and_forgotten_at_its_close() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = LogWriter::start(false).expect("writer");
        let sink = writer.sink();
        let web = writer.open(dir.path().join("web.log"), 1 << 20, 1);
        let quiet = writer.open(dir.path().join("quiet.log"), 1 << 20, 1);
        sink.write(&web, b"before\n".to_vec());
        sink.close(&web);
        sink.write(&web, b"after\n".to_vec());
        sink.close(&quiet);
        writer.sync();
        let text = fs::read_to_string(dir.path().join("web.log")).expect("log");
        assert_eq!(text, "before\n");
        assert!(!dir.path().join("quiet.log").exists());
    }

    /// Files of this process open below `dir`, by name.
    fn open_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir("/proc/self/fd")
            .expect("fd dir")
            .flatten()
            .filter_map(|e| fs::read_link(e.path()).ok())
            .filter(|t| t.starts_with(dir))
            .filter_map(|t| Some(t.file_name()?.to_str()?.to_string()))
            .collect();
        names.sort();
        names
    }

    /// Past the limit, the file closed is the one written least recently, not merely the
    /// one opened first.
    #[test]
    fn the_file_written_least_recently_is_the_one_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = LogWriter::start(false).expect("writer");
        let sink = writer.sink();
        let logs: Vec<_> = (0..OPEN_FILES)
            .map(|i| writer.open(dir.path().join(format!("u{i}.log")), 1 << 20, 1))
            .collect();
        for log in &logs {
            sink.write(log, b"first\n".to_vec());
        }
        // u0 written again: u1 is now the least recent.
        sink.write(&logs[0], b"again\n".to_vec());
        let extra = writer.open(dir.path().join("extra.log"), 1 << 20, 1);
        sink.write(&extra, b"one more\n".to_vec());
        writer.sync();
        let open = open_names(dir.path());
        assert_eq!(open.len(), OPEN_FILES);
        assert!(open.contains(&"u0.log".to_string()), "{open:?}");
        assert!(open.contains(&"extra.log".to_string()), "{open:?}");
        assert!(!open.contains(&"u1.log".to_string()), "{open:?}");
        // A closed file is opened again at its next line, and the lines are all there.
        sink.write(&logs[1], b"back\n".to_vec());
        writer.sync();
        assert_eq!(
            fs::read_to_string(dir.path().join("u1.log")).expect("log"),
            "first\nback\n"
        );
        assert!(!open_names(dir.path()).contains(&"u2.log".to_string()));
    }

    /// Waits until the writer has written what it was sent, held lines aside.
    fn written_so_far(sink: &LogSink) {
        let (tx, rx) = sync_channel(1);
        sink.tx.send(Msg::Sync(tx)).expect("writer");
        rx.recv().expect("synced");
    }

    /// Held lines reach the writer only at the release (or a sync, or a close), in the
    /// order they were written.
    #[test]
    fn held_lines_go_to_the_writer_together_at_the_release() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = LogWriter::start(false).expect("writer");
        let sink = writer.sink();
        let web = writer.open(dir.path().join("web.log"), 1 << 20, 1);
        let db = writer.open(dir.path().join("db.log"), 1 << 20, 1);
        let gone = writer.open(dir.path().join("gone.log"), 1 << 20, 1);
        writer.hold();
        sink.write(&web, b"web started\n".to_vec());
        sink.write(&db, b"db started\n".to_vec());
        sink.write(&gone, b"gone started\n".to_vec());
        sink.write(&web, b"web ready\n".to_vec());
        written_so_far(&sink);
        assert!(!dir.path().join("web.log").exists());
        assert!(!dir.path().join("db.log").exists());
        // A close sends what is held first: the unit's last lines are not lost.
        sink.close(&gone);
        sink.write(&gone, b"after its close\n".to_vec());
        writer.release();
        sink.write(&db, b"db ready\n".to_vec());
        writer.sync();
        let read = |name: &str| fs::read_to_string(dir.path().join(name)).expect("log");
        assert_eq!(read("web.log"), "web started\nweb ready\n");
        assert_eq!(read("db.log"), "db started\ndb ready\n");
        assert_eq!(read("gone.log"), "gone started\n");
        // A sync while holding sends what is held and goes on holding.
        writer.hold();
        sink.write(&web, b"web stopping\n".to_vec());
        writer.sync();
        assert_eq!(read("web.log"), "web started\nweb ready\nweb stopping\n");
        sink.write(&web, b"web stopped\n".to_vec());
        written_so_far(&sink);
        assert_eq!(read("web.log"), "web started\nweb ready\nweb stopping\n");
        writer.release();
        writer.sync();
        assert!(read("web.log").ends_with("web stopped\n"));
    }

    #[test]
    fn more_logs_than_open_files_keep_every_line_within_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = LogWriter::start(false).expect("writer");
        let sink = writer.sink();
        let n = OPEN_FILES + 40;
        let logs: Vec<_> = (0..n)
            .map(|i| writer.open(dir.path().join(format!("u{i}.log")), 1 << 20, 1))
            .collect();
        // Twice round: the second pass reopens files the first one had to close.
        for round in 0..2 {
            for (i, log) in logs.iter().enumerate() {
                sink.write(log, format!("line {round} of u{i}\n").into_bytes());
            }
            writer.sync();
            assert!(open_below(dir.path()) <= OPEN_FILES, "round {round}");
        }
        for i in 0..n {
            let text = fs::read_to_string(dir.path().join(format!("u{i}.log"))).expect("log");
            assert_eq!(text, format!("line 0 of u{i}\nline 1 of u{i}\n"));
        }
    }
}
