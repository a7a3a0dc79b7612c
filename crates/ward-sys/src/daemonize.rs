//! Detaching `ward up -d`: fork before any thread exists, new session, and a pipe on which
//! the child reports "ready" (socket bound) or why it failed, so the parent returns only
//! once the daemon answers.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;

/// Which side of the fork this is.
#[derive(Debug)]
pub enum Forked {
    /// The original process: read the child's report from `report`.
    Parent {
        /// The daemon's PID.
        child: u32,
        /// Read end of the report pipe.
        report: File,
    },
    /// The daemon-to-be: write one line to `report` when ready, then drop it.
    Child {
        /// Write end of the report pipe.
        report: File,
    },
}

/// Forks into the background. Must be called while the process has a single thread
/// (before any async runtime starts), because the child continues running Rust code.
pub fn fork_daemon() -> io::Result<Forked> {
    let (r, w): (OwnedFd, OwnedFd) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    // SAFETY: the caller guarantees the process is single-threaded, so the child is a full
    // copy in a consistent state and may continue to run arbitrary code.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            drop(r);
            rustix::process::setsid()?;
            Ok(Forked::Child { report: w.into() })
        }
        child => {
            drop(w);
            Ok(Forked::Parent {
                child: child as u32,
                report: r.into(),
            })
        }
    }
}

/// Points stdin at `/dev/null` and stdout/stderr at `log`, so the detached daemon holds no
/// terminal open.
pub fn redirect_stdio(log: &File) -> io::Result<()> {
    let null = File::open("/dev/null")?;
    rustix::stdio::dup2_stdin(&null)?;
    rustix::stdio::dup2_stdout(log)?;
    rustix::stdio::dup2_stderr(log)?;
    Ok(())
}
