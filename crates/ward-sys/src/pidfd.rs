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

    /// Wraps a pidfd the kernel handed out with the process itself (`CLONE_PIDFD`).
    pub(crate) fn from_owned(fd: OwnedFd, pid: u32) -> Pidfd {
        Pidfd { fd, pid }
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

/// `struct pidfd_info` of `<linux/pidfd.h>` (version 0, 64 bytes). Written out here because
/// the libc crate does not carry it yet; only `mask` and `exit_code` are read.
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    pid: u32,
    tgid: u32,
    ppid: u32,
    ruid: u32,
    rgid: u32,
    euid: u32,
    egid: u32,
    suid: u32,
    sgid: u32,
    fsuid: u32,
    fsgid: u32,
    exit_code: i32,
}

/// `PIDFD_INFO_EXIT`: ask for (and, in the answer, have) the exit status.
const PIDFD_INFO_EXIT: u64 = 1 << 3;
/// `PIDFD_GET_INFO = _IOWR(0xFF, 11, struct pidfd_info)`.
const PIDFD_GET_INFO: libc::c_ulong =
    (3 << 30) | ((std::mem::size_of::<PidfdInfo>() as libc::c_ulong) << 16) | (0xFF << 8) | 11;

impl Pidfd {
    /// The exit status of the process, from the kernel (`PIDFD_INFO_EXIT`, Linux 6.15+),
    /// even when ward is not its parent. `None` while it runs, when the kernel keeps no
    /// status for it yet, or on kernels without the feature.
    pub fn exit_status(&self) -> Option<ward_core::ExitStatus> {
        let mut info = PidfdInfo {
            mask: PIDFD_INFO_EXIT,
            ..PidfdInfo::default()
        };
        // SAFETY: the fd is a valid pidfd owned by `self`; `info` is a properly sized and
        // aligned `struct pidfd_info` that the kernel fills in and does not keep.
        let rc = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                PIDFD_GET_INFO as _,
                &mut info as *mut PidfdInfo,
            )
        };
        if rc != 0 || info.mask & PIDFD_INFO_EXIT == 0 {
            return None;
        }
        crate::reap::decode(info.exit_code)
    }

    /// Waits, on the current tokio runtime, until the process has exited (its pidfd
    /// becomes readable), and gives the handle back.
    pub async fn exited(self) -> io::Result<Pidfd> {
        use tokio::io::Interest;
        use tokio::io::unix::AsyncFd;
        // SAFETY: the AsyncFd owns this Pidfd, which owns its fd: the fd stays open and
        // names the same pidfd until `into_inner` hands it back, and `as_raw_fd` always
        // returns that one fd.
        let afd = unsafe { AsyncFd::register_with_interest(self, Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        let _ = afd.readable().await?;
        Ok(afd.into_inner())
    }

    /// A second handle on the same process, for a task that waits for its exit.
    pub fn try_clone(&self) -> io::Result<Pidfd> {
        Ok(Pidfd {
            fd: self.fd.try_clone()?,
            pid: self.pid,
        })
    }
}

/// Converts ward's signal number to rustix's type, including real-time signals.
pub(crate) fn to_rustix(signal: Signal) -> rustix::process::Signal {
    match rustix::process::Signal::from_named_raw(signal.number()) {
        Some(s) => s,
        // SAFETY: `Signal` only holds numbers Linux defines (1..=64),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_of_a_process_from_its_pidfd() {
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let fd = Pidfd::open(child.id()).unwrap();
        assert_eq!(fd.exit_status(), None, "still running");
        fd.send_signal(ward_core::Signal::from_number(11).unwrap())
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while crate::identity::ProcState::of(child.id()) != crate::identity::ProcState::Zombie {
            assert!(std::time::Instant::now() < deadline);
            std::thread::yield_now();
        }
        let as_zombie = fd.exit_status();
        child.wait().unwrap();
        let reaped = fd.exit_status();
        eprintln!("zombie: {as_zombie:?}, reaped: {reaped:?}");
        // Whether the kernel keeps the status is decided by its version, not by what came
        // back: on a kernel that has the feature, `None` is a failure.
        let release = crate::kernel_release::running();
        // An unreadable release counts as new, so that the test runs and says what it found.
        if !crate::kernel_release::at_least(&release, (6, 15)).unwrap_or(true) {
            eprintln!(
                "SKIPPED: exit_status_of_a_process_from_its_pidfd, because kernel {release} \
                 is older than 6.15, which added PIDFD_INFO_EXIT"
            );
            return;
        }
        // A core may or may not be dumped, as the machine's core limit says.
        let segv = ward_core::Signal::from_number(11).unwrap();
        assert!(
            matches!(reaped, Some(ward_core::ExitStatus::Signaled { signal, .. }) if signal == segv),
            "kernel {release} should keep the exit status of a reaped process, got {reaped:?}"
        );
    }
}
