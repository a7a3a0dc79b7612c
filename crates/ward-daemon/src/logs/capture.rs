//! Reading a unit's stdout and stderr and turning them into timestamped lines.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::net::unix::pipe;
use ward_api::timestamp;

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

/// One of the two streams a capture reads: its pipe, and the line it has not finished.
struct Piped {
    rx: pipe::Receiver,
    lines: Lines,
}

impl Piped {
    fn watch(fd: OwnedFd, stream: Stream, log: &UnitLog) -> Option<Piped> {
        match pipe::Receiver::from_owned_fd(fd) {
            Ok(rx) => Some(Piped {
                rx,
                lines: Lines::new(stream),
            }),
            Err(e) => {
                tracing::error!(error = %e, path = %log.path().display(), "cannot watch output pipe");
                None
            }
        }
    }
}

/// Waits until the stream may be read; never, once it has ended.
async fn readable(p: &Option<Piped>) -> std::io::Result<()> {
    match p {
        Some(p) => p.rx.readable().await,
        None => std::future::pending().await,
    }
}

/// Copies a unit's stdout and stderr (the read ends of its pipes or FIFOs) into its log,
/// each until its end of file, or both until `stop` is set or dropped: then whatever the
/// pipes hold at that moment is read and written too. Each line gets the time at which
/// ward read it; a partial last line is completed with a newline.
///
/// One task for both streams, not one each: a task costs 640 bytes, and a daemon of
/// thousands of units holds one per unit for its whole life.
pub async fn capture(
    out: OwnedFd,
    err: OwnedFd,
    log: Arc<UnitLog>,
    sink: LogSink,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut streams = [
        Piped::watch(out, Stream::Stdout, &log),
        Piped::watch(err, Stream::Stderr, &log),
    ];
    while streams.iter().any(Option::is_some) {
        let (i, watched) = tokio::select! {
            r = readable(&streams[0]) => (0, r.is_ok()),
            r = readable(&streams[1]) => (1, r.is_ok()),
            _ = stop.changed() => {
                for p in streams.iter_mut().flatten() {
                    while matches!(read_now(&p.rx, &mut p.lines, &sink, &log), Some(Ok(1..))) {}
                }
                break;
            }
        };
        let ended = match &mut streams[i] {
            Some(p) if watched => match read_now(&p.rx, &mut p.lines, &sink, &log) {
                // End of file: every writer is gone.
                Some(Ok(0)) | Some(Err(_)) => true,
                // Read, or woken without data (the readiness was stale): wait again.
                Some(Ok(_)) | None => false,
            },
            _ => true,
        };
        if ended && let Some(mut p) = streams[i].take() {
            finish(&mut p.lines, &sink, &log);
        }
    }
    for p in streams.iter_mut().flatten() {
        finish(&mut p.lines, &sink, &log);
    }
}

/// Writes the stream's unfinished last line, completed.
fn finish(lines: &mut Lines, sink: &LogSink, log: &Arc<UnitLog>) {
    let secrets = log.secrets();
    write(sink, log, lines.finish(secrets.as_deref()));
}

thread_local! {
    /// The read buffer every capture task on this thread shares. The daemon's tasks run
    /// on one thread and a read never waits while holding it, so one buffer serves all
    /// of them: a buffer per stream would cost 64 KiB for each of every service's two
    /// streams, most of ward's memory with many services.
    static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; READ_SIZE]);
}

/// Reads what the pipe holds now, without waiting, and writes its lines: `None` when it
/// held nothing (the readiness was stale), else the read's outcome.
fn read_now(
    rx: &pipe::Receiver,
    lines: &mut Lines,
    sink: &LogSink,
    log: &Arc<UnitLog>,
) -> Option<std::io::Result<usize>> {
    BUF.with_borrow_mut(|buf| match rx.try_read(buf) {
        Ok(n) => {
            let secrets = log.secrets();
            write(sink, log, lines.feed(&buf[..n], secrets.as_deref()));
            Some(Ok(n))
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
        Err(e) => Some(Err(e)),
    })
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
