//! Service output: captured from pipes, timestamped per line, written by one thread.
//!
//! The capture task (one for all units, with an epoll set of its own) never touches the
//! disk: it hands whole lines to the writer thread through a bounded queue. If the queue
//! is full because the disk is slow, the lines are dropped and counted rather than
//! letting the pipe fill and block the service. The writer owns every log file, so
//! rotation happens between lines and never splits or loses one.

mod capture;
mod writer;

pub use capture::{Captures, Stream, note};
pub use writer::{LogSink, LogWriter, UnitLog};
