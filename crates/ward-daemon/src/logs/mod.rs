//! Service output: captured from pipes, timestamped per line, written by one thread.
//!
//! Capture tasks (one per stream of each unit) never touch the disk: they hand whole
//! lines to the writer thread through a bounded queue. If the queue is full because the
//! disk is slow, the lines are dropped and counted rather than letting the pipe fill and
//! block the service. The writer owns every log file, so rotation happens between lines
//! and never splits or loses one.

mod capture;
mod timestamp;
mod writer;

pub use capture::{Stream, capture, note};
pub use writer::{LogSink, LogWriter, UnitLog};

/// `2026-11-26T10:32:40.123Z`, the way every log line is stamped, for the CLI's tables.
pub fn timestamp(t: std::time::SystemTime) -> String {
    let mut out = [0u8; timestamp::LEN];
    timestamp::format(t, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}
