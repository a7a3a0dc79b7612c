//! Process file descriptors: a handle on one process that a reused PID cannot redirect.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use ward_core::Signal;

/// An open pidfd and the PID it was opened for.
#[derive(Debug)]
pub struct Pidfd {
    fd: OwnedFd,
    pid: u32,
}

impl Pidfd {
    /// Opens a pidfd for `pid`. Only as trustworthy as the moment it is called: callers open
    /// it for a child they have not reaped yet, or check identity after opening.
    pub fn open(pid: u32) -> io::Result<Pidfd> {
        let raw = rustix::process::Pid::from_raw(pid as i32)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))?;
        let fd = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty())?;
        Ok(Pidfd { fd, pid })
    }

    /// Opens a pidfd for the process that had `pid` with `start_time` when it was seen, or
    /// fails if that PID now names another process. The check comes after the open, and
    /// the pidfd pins the process it was opened for, so a match cannot be undone.
    pub fn open_identified(pid: u32, start_time: u64) -> io::Result<Pidfd> {
        let fd = Pidfd::open(pid)?;
        match crate::identity::read_stat(pid) {
            Ok(stat) if stat.start_time == start_time => Ok(fd),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("pid {pid} now belongs to another process (its start time differs)"),
            )),
            Err(e) => Err(e),
        }
    }

    /// The PID this handle names.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends `signal` to exactly this process; `ESRCH` once it has exited.
    pub fn send_signal(&self, signal: Signal) -> io::Result<()> {
        rustix::process::pidfd_send_signal(&self.fd, to_rustix(signal))?;
        Ok(())
    }
}

/// Converts ward's signal number to rustix's type, including real-time signals.
pub(crate) fn to_rustix(signal: Signal) -> rustix::process::Signal {
    match rustix::process::Signal::from_named_raw(signal.number()) {
        Some(s) => s,
        // SAFETY: `Signal` only holds numbers Linux defines (1..=31 named, 34..=64 real-time),
        // and rustix requires only that the number be a valid signal for the platform.
        None => unsafe { rustix::process::Signal::from_raw_unchecked(signal.number()) },
    }
}

impl AsFd for Pidfd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Pidfd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
