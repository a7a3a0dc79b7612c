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

/// Copies `fd` (a pipe's read end) into the unit's log until end of file. Each line gets
/// the time at which ward read it; a partial last line is completed with a newline.
pub async fn capture(fd: OwnedFd, stream: Stream, log: Arc<UnitLog>, sink: LogSink) {
    let rx = match pipe::Receiver::from_owned_fd(fd) {
        Ok(rx) => rx,
        Err(e) => {
            tracing::error!(error = %e, path = %log.path().display(), "cannot watch output pipe");
            return;
        }
    };
    let mut rx = rx;
    let mut buf = vec![0u8; READ_SIZE];
    let mut partial: Vec<u8> = Vec::new();
    let mut ts = [0u8; timestamp::LEN];
    loop {
        let n = match rx.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        timestamp::format(SystemTime::now(), &mut ts);
        let chunk = &buf[..n];
        let mut out = Vec::with_capacity(n + (n / 32 + 2) * (timestamp::LEN + 6));
        let mut start = 0;
        while let Some(pos) = memchr::memchr(b'\n', &chunk[start..]) {
            let line = &chunk[start..start + pos];
            push_line(&mut out, &ts, stream, &partial, line);
            partial.clear();
            start += pos + 1;
        }
        partial.extend_from_slice(&chunk[start..]);
        while partial.len() >= MAX_LINE {
            let rest = partial.split_off(MAX_LINE);
            push_line(&mut out, &ts, stream, &partial, &[]);
            partial = rest;
        }
        if !out.is_empty() {
            sink.write(&log, out);
        }
    }
    if !partial.is_empty() {
        let mut out = Vec::new();
        timestamp::format(SystemTime::now(), &mut ts);
        push_line(&mut out, &ts, stream, &partial, &[]);
        sink.write(&log, out);
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
