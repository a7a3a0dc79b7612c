//! Reading one output stream of a unit and turning it into timestamped lines.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

use super::timestamp;
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
const READ_SIZE: usize = 64 * 1024;

/// Copies `fd` (a pipe's or FIFO's read end) into the unit's log until end of file, or
/// until `stop` is set or dropped: then whatever the pipe holds at that moment is read and
/// written too. Each line gets the time at which ward read it; a partial last line is
/// completed with a newline.
pub async fn capture(
    fd: OwnedFd,
    stream: Stream,
    log: Arc<UnitLog>,
    sink: LogSink,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut rx = match pipe::Receiver::from_owned_fd(fd) {
        Ok(rx) => rx,
        Err(e) => {
            tracing::error!(error = %e, path = %log.path().display(), "cannot watch output pipe");
            return;
        }
    };
    let mut buf = vec![0u8; READ_SIZE];
    let mut lines = Lines::new(stream);
    loop {
        let n = tokio::select! {
            r = rx.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            _ = stop.changed() => {
                while let Ok(n @ 1..) = rx.try_read(&mut buf) {
                    write(&sink, &log, lines.feed(&buf[..n]));
                }
                break;
            }
        };
        write(&sink, &log, lines.feed(&buf[..n]));
    }
    write(&sink, &log, lines.finish());
}

fn write(sink: &LogSink, log: &UnitLog, out: Vec<u8>) {
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

    /// The whole lines completed by `chunk`, each stamped with the time of this read.
    fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        timestamp::format(SystemTime::now(), &mut self.ts);
        let n = chunk.len();
        let mut out = Vec::with_capacity(n + (n / 32 + 2) * (timestamp::LEN + 6));
        let mut start = 0;
        while let Some(pos) = memchr::memchr(b'\n', &chunk[start..]) {
            let line = &chunk[start..start + pos];
            push_line(&mut out, &self.ts, self.stream, &self.partial, line);
            self.partial.clear();
            start += pos + 1;
        }
        self.partial.extend_from_slice(&chunk[start..]);
        while self.partial.len() >= MAX_LINE {
            let rest = self.partial.split_off(MAX_LINE);
            push_line(&mut out, &self.ts, self.stream, &self.partial, &[]);
            self.partial = rest;
        }
        out
    }

    /// The unfinished last line, completed.
    fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.partial.is_empty() {
            timestamp::format(SystemTime::now(), &mut self.ts);
            push_line(&mut out, &self.ts, self.stream, &self.partial, &[]);
            self.partial.clear();
        }
        out
    }
}

fn push_line(out: &mut Vec<u8>, ts: &[u8], stream: Stream, head: &[u8], tail: &[u8]) {
    out.extend_from_slice(ts);
    out.extend_from_slice(stream.tag());
    out.extend_from_slice(head);
    out.extend_from_slice(tail);
    out.push(b'\n');
}

/// Writes a line of ward's own into a unit's log (`<time> ward <text>`), so that a log
/// read on its own tells when each run started and how it ended.
pub fn note(sink: &LogSink, log: &UnitLog, text: &str) {
    let mut ts = [0u8; timestamp::LEN];
    timestamp::format(SystemTime::now(), &mut ts);
    let mut out = Vec::with_capacity(ts.len() + text.len() + 7);
    out.extend_from_slice(&ts);
    out.extend_from_slice(b" ward ");
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
    sink.write(log, out);
}
