//! Reading a unit's stdout and stderr and turning them into timestamped lines.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{mpsc, oneshot};
use ward_api::timestamp;
use ward_sys::ready_set::ReadySet;

use ward_core::secrets::Redactor;

use super::writer::{LogSink, UnitLog};

/// Which of a service's streams a line came from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stream {
    /// fd 1.
    Stdout,
    /// fd 2.
    Stderr,
}

impl Stream {
    fn tag(self) -> &'static [u8] {
        match self {
            Stream::Stdout => b" out ",
            Stream::Stderr => b" err ",
        }
    }
}

/// A line longer than this is cut and written in pieces, so one endless line cannot grow
/// ward's memory.
const MAX_LINE: usize = 64 * 1024;
const READ_SIZE: usize = 256 * 1024;

/// One of a unit's two streams: its pipe, and the line it has not finished.
struct Piped {
    pipe: File,
    lines: Lines,
}

/// A unit whose output is captured.
struct Captured {
    log: Arc<UnitLog>,
    /// Its pipes, each with the number it was watched under. Usually its two streams;
    /// more after its FIFOs were deleted and made again, since a service still running
    /// writes on into the old ones.
    pipes: Vec<(u32, Piped)>,
    /// The number the next pipe is watched under.
    next: u32,
}

/// What the capture task is asked to do.
enum Order {
    /// Capture a unit's stdout and stderr (the read ends of its FIFOs) into its log.
    Watch {
        out: OwnedFd,
        err: OwnedFd,
        log: Arc<UnitLog>,
    },
    /// Read what the unit's pipes hold now, write it, stop reading them, and close its
    /// log after that: the unit is gone.
    Forget(Arc<UnitLog>),
    /// Read what every pipe holds now, write it, then answer: the daemon is stopping.
    Drain(oneshot::Sender<()>),
}

/// The one task that copies every unit's stdout and stderr into its log. Each line gets
/// the time at which ward read it; a partial last line is completed with a newline when
/// its stream ends or is let go.
///
/// One task with one epoll set for all units, not a task per unit: a task and its two
/// tokio registrations cost about 1.4 KiB, held for the unit's whole life by every unit
/// of a daemon of thousands.
#[derive(Clone, Debug)]
pub struct Captures {
    orders: mpsc::UnboundedSender<Order>,
}

impl Captures {
    /// Starts the capture task on the current runtime, writing through `sink`.
    pub fn start(sink: LogSink) -> std::io::Result<Captures> {
        let set = ReadySet::new()?;
        let (orders, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(set, rx, sink));
        Ok(Captures { orders })
    }

    /// Captures a unit's stdout and stderr, the read ends of its FIFOs, into `log`.
    pub fn watch(&self, out: OwnedFd, err: OwnedFd, log: Arc<UnitLog>) {
        let _ = self.orders.send(Order::Watch { out, err, log });
    }

    /// Lets a removed unit go: what its pipes hold now is still written, then its log
    /// is closed.
    pub fn forget(&self, log: Arc<UnitLog>) {
        let _ = self.orders.send(Order::Forget(log));
    }

    /// Returns once what every pipe held when asked is written (handed to the writer).
    pub async fn drain(&self) {
        let (tx, rx) = oneshot::channel();
        if self.orders.send(Order::Drain(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// The capture task: obeys orders, and reads one chunk from each ready pipe per turn, so
/// that a flood from one service does not starve the others' lines or the daemon's loop.
async fn run(set: ReadySet, mut orders: mpsc::UnboundedReceiver<Order>, sink: LogSink) {
    let mut task = Task {
        set,
        units: HashMap::new(),
        sink,
        // One buffer for every pipe: the task reads one at a time.
        buf: vec![0u8; READ_SIZE],
    };
    let mut keys = Vec::new();
    let mut broken = false;
    loop {
        tokio::select! {
            order = orders.recv() => match order {
                Some(order) => task.obey(order),
                None => break,
            },
            ready = task.set.ready(&mut keys), if !broken => {
                if let Err(e) = ready {
                    // Not seen in practice (epoll_wait fails only on a bad argument); the
                    // pipes then fill, and orders are still obeyed.
                    tracing::error!(error = %e, "cannot wait for service output; it is no longer captured");
                    broken = true;
                    continue;
                }
                for &key in &keys {
                    task.read_ready(key);
                }
                tokio::task::yield_now().await;
            }
        }
    }
    task.drain_all();
}

/// The key of a pipe in the epoll set: its unit's log id, and the pipe's number.
fn key(id: u64, number: u32) -> u64 {
    id << 32 | u64::from(number)
}

/// What the capture task holds: the pipes' epoll set, the units by log id, the way to the
/// writer, and the buffer every read goes through.
struct Task {
    set: ReadySet,
    units: HashMap<u64, Captured>,
    sink: LogSink,
    buf: Vec<u8>,
}

impl Task {
    fn obey(&mut self, order: Order) {
        match order {
            Order::Watch { out, err, log } => {
                let id = log.id();
                let unit = self.units.entry(id).or_insert_with(|| Captured {
                    log,
                    pipes: Vec::with_capacity(2),
                    next: 0,
                });
                for (fd, stream) in [(out, Stream::Stdout), (err, Stream::Stderr)] {
                    let number = unit.next;
                    unit.next = unit.next.wrapping_add(1);
                    match self.set.add(fd.as_fd(), key(id, number)) {
                        Ok(()) => unit.pipes.push((
                            number,
                            Piped {
                                pipe: File::from(fd),
                                lines: Lines::new(stream),
                            },
                        )),
                        Err(e) => {
                            tracing::error!(error = %e, path = %unit.log.path().display(), "cannot watch output pipe")
                        }
                    }
                }
            }
            Order::Forget(log) => {
                if let Some(mut unit) = self.units.remove(&log.id()) {
                    self.drain(&mut unit);
                }
                self.sink.close(&log);
            }
            Order::Drain(done) => {
                self.drain_all();
                let _ = done.send(());
            }
        }
    }

    /// Reads one chunk from a ready pipe; lets the pipe go at its end.
    fn read_ready(&mut self, key: u64) {
        let Some(unit) = self.units.get_mut(&(key >> 32)) else {
            return;
        };
        let Some(at) = unit.pipes.iter().position(|(n, _)| *n == key as u32) else {
            return;
        };
        let p = &mut unit.pipes[at].1;
        // End of file (every writer is gone) or a failed read: the pipe is done. `None`
        // (nothing there after all) and a read both wait for the next readiness.
        if let Some(Ok(0) | Err(_)) = read_now(p, &mut self.buf, &self.sink, &unit.log) {
            let (_, p) = unit.pipes.swap_remove(at);
            release(&self.set, &self.sink, p, &unit.log);
        }
    }

    /// Reads what every unit's pipes hold now and lets them go.
    fn drain_all(&mut self) {
        let mut units = std::mem::take(&mut self.units);
        for unit in units.values_mut() {
            self.drain(unit);
        }
        self.units = units;
    }

    /// Reads what a unit's pipes hold now and lets them go.
    fn drain(&mut self, unit: &mut Captured) {
        for (_, mut p) in unit.pipes.drain(..) {
            while matches!(
                read_now(&mut p, &mut self.buf, &self.sink, &unit.log),
                Some(Ok(1..))
            ) {}
            release(&self.set, &self.sink, p, &unit.log);
        }
    }
}

/// Stops reading a pipe, and writes its unfinished last line, completed.
fn release(set: &ReadySet, sink: &LogSink, mut p: Piped, log: &Arc<UnitLog>) {
    let _ = set.remove(p.pipe.as_fd());
    let secrets = log.secrets();
    write(sink, log, p.lines.finish(secrets.as_deref()));
}

/// Reads what the pipe holds now into `buf`, without waiting, and writes its lines:
/// `None` when it held nothing (the readiness was stale), else the read's outcome.
fn read_now(
    p: &mut Piped,
    buf: &mut [u8],
    sink: &LogSink,
    log: &Arc<UnitLog>,
) -> Option<std::io::Result<usize>> {
    match p.pipe.read(buf) {
        Ok(n) => {
            let secrets = log.secrets();
            write(sink, log, p.lines.feed(&buf[..n], secrets.as_deref()));
            Some(Ok(n))
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
            ) =>
        {
            None
        }
        Err(e) => Some(Err(e)),
    }
}

fn write(sink: &LogSink, log: &Arc<UnitLog>, out: Vec<u8>) {
    if !out.is_empty() {
        sink.write(log, out);
    }
}

/// Cuts a byte stream into timestamped lines.
struct Lines {
    stream: Stream,
    partial: Vec<u8>,
    ts: [u8; timestamp::LEN],
}

impl Lines {
    fn new(stream: Stream) -> Lines {
        Lines {
            stream,
            partial: Vec::new(),
            ts: [0u8; timestamp::LEN],
        }
    }

    /// The whole lines completed by `chunk`, each stamped with the time of this read, with
    /// the service's secrets masked.
    fn feed(&mut self, chunk: &[u8], secrets: Option<&Redactor>) -> Vec<u8> {
        timestamp::format(SystemTime::now(), &mut self.ts);
        let n = chunk.len();
        let mut out = Vec::with_capacity(n + (n / 32 + 2) * (timestamp::LEN + 6));
        let mut start = 0;
        while let Some(pos) = memchr::memchr(b'\n', &chunk[start..]) {
            let line = &chunk[start..start + pos];
            push_line(
                &mut out,
                &self.ts,
                self.stream,
                &self.partial,
                line,
                secrets,
            );
            self.partial.clear();
            start += pos + 1;
        }
        self.partial.extend_from_slice(&chunk[start..]);
        while self.partial.len() >= MAX_LINE {
            let rest = self.partial.split_off(MAX_LINE);
            push_line(&mut out, &self.ts, self.stream, &self.partial, &[], secrets);
            self.partial = rest;
        }
        out
    }

    /// The unfinished last line, completed.
    fn finish(&mut self, secrets: Option<&Redactor>) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.partial.is_empty() {
            timestamp::format(SystemTime::now(), &mut self.ts);
            push_line(&mut out, &self.ts, self.stream, &self.partial, &[], secrets);
            self.partial.clear();
        }
        out
    }
}

fn push_line(
    out: &mut Vec<u8>,
    ts: &[u8],
    stream: Stream,
    head: &[u8],
    tail: &[u8],
    secrets: Option<&Redactor>,
) {
    out.extend_from_slice(ts);
    out.extend_from_slice(stream.tag());
    match secrets {
        // A line cut where a read ended is whole again here, so a secret split across
        // two reads is still found.
        Some(r) => {
            let mut line = Vec::with_capacity(head.len() + tail.len());
            line.extend_from_slice(head);
            line.extend_from_slice(tail);
            out.extend_from_slice(&r.bytes(&line));
        }
        None => {
            out.extend_from_slice(head);
            out.extend_from_slice(tail);
        }
    }
    out.push(b'\n');
}

/// Writes a line of ward's own into a unit's log (`<time> ward <text>`), so that a log
/// read on its own tells when each run started and how it ended.
pub fn note(sink: &LogSink, log: &Arc<UnitLog>, text: &str) {
    let mut ts = [0u8; timestamp::LEN];
    timestamp::format(SystemTime::now(), &mut ts);
    let mut out = Vec::with_capacity(ts.len() + text.len() + 7);
    out.extend_from_slice(&ts);
    out.extend_from_slice(b" ward ");
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
    sink.write(log, out);
}

#[cfg(test)]
mod tests;
