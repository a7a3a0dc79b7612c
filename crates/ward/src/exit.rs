//! Exit codes, named once and documented in README.md and `docs/api.md`.

use std::fmt;
use std::io;

/// Everything asked for was done.
pub const OK: i32 = 0;
/// The daemon answered, but something asked for did not happen (a service did not start,
/// a signal was not delivered), or the daemon could not start.
pub const FAILED: i32 = 1;
/// The command line or the config file is wrong; nothing was done.
pub const USAGE: i32 = 2;
/// No daemon answers on the socket.
pub const NOT_RUNNING: i32 = 3;

/// Why a command stopped, with the exit code that says so.
#[derive(Debug)]
pub enum Failure {
    /// Exit code [`FAILED`].
    Failed(String),
    /// Exit code [`USAGE`].
    Usage(String),
    /// Exit code [`NOT_RUNNING`].
    NotRunning(String),
    /// Standard output could not be written. Exit code [`FAILED`], except for a broken
    /// pipe (the reader went away), which `main` ends quietly with [`OK`].
    Output(io::Error),
}

impl Failure {
    /// The process exit code.
    pub fn code(&self) -> i32 {
        match self {
            Failure::Failed(_) => FAILED,
            Failure::Usage(_) => USAGE,
            Failure::NotRunning(_) => NOT_RUNNING,
            Failure::Output(_) => FAILED,
        }
    }

    /// Prints the message on stderr, prefixed so it stands out among service output.
    pub fn print(&self) {
        crate::out::errln!("ward: {self}");
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Failed(m) | Failure::Usage(m) | Failure::NotRunning(m) => f.write_str(m),
            Failure::Output(e) => write!(f, "cannot write to standard output: {e}"),
        }
    }
}
