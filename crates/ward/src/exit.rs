//! Exit codes, named once and documented in README.md and `docs/api.md`.

use std::fmt;

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
}

impl Failure {
    /// The process exit code.
    pub fn code(&self) -> i32 {
        match self {
            Failure::Failed(_) => FAILED,
            Failure::Usage(_) => USAGE,
            Failure::NotRunning(_) => NOT_RUNNING,
        }
    }

    /// Prints the message on stderr, prefixed so it stands out among service output.
    pub fn print(&self) {
        let (Failure::Failed(m) | Failure::Usage(m) | Failure::NotRunning(m)) = self;
        eprintln!("ward: {m}");
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (Failure::Failed(m) | Failure::Usage(m) | Failure::NotRunning(m)) = self;
        f.write_str(m)
    }
}
