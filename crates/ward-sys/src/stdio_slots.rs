//! Three low descriptor numbers kept for a child's stdio, so that the child can share
//! ward's descriptor table and leave it with a copy of only its first few entries.
//!
//! A clone without `CLONE_FILES` copies the whole table (three descriptors for each
//! unit), and the child then closes every copy before exec: each close flushes its file's
//! locks and notifications. Measured on a start of 500 units, that close was a fifth of
//! the daemon's CPU, and it grows with every unit, so a start costs the square of its
//! size. With `CLONE_FILES`, the child shares the table and calls `close_range(bound, ~0,
//! CLOSE_RANGE_UNSHARE)`: the kernel gives it a table of its own with a copy of only the
//! first entries (those below `bound`, rounded up to 64) and closes the few of those at
//! `bound` or above; nothing else is copied or closed.
//!
//! For that, what the child needs after the unshare must sit below `bound`: its stdio. The
//! slots are three descriptors taken as low as the table allows when the daemon starts
//! (`reserve`), each holding `/dev/null` while no spawn uses it. A spawn puts its stdio
//! into them (`dup3`), clones, and puts `/dev/null` back once the child has exec'd, so
//! that ward never keeps a copy of a child's pipe. One spawn uses them at a time.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// The slots and the `/dev/null` they hold between spawns.
struct Slots {
    null: OwnedFd,
    fds: [RawFd; 3],
}

/// `None` until the first spawn or `reserve` takes them; while they cannot be taken (no
/// descriptor left), each spawn tries again and its child copies the whole table.
static SLOTS: Mutex<Option<Slots>> = Mutex::new(None);

/// Takes the slots now, while the table is nearly empty, so that they are the lowest
/// numbers it will ever have free. The daemon calls it first thing; without it, the first
/// spawn takes them.
pub fn reserve() -> io::Result<()> {
    let mut slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    if slots.is_none() {
        *slots = Some(take()?);
    }
    Ok(())
}

fn take() -> io::Result<Slots> {
    let null = crate::spawn::dev_null()?;
    let dup = || -> io::Result<OwnedFd> {
        // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor, the lowest free one from 3, for
        // a file this frame owns; it is owned at once, so a failure below closes it.
        let fd = unsafe { libc::fcntl(null.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just made and nothing else owns it.
        Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
    };
    let owned = [dup()?, dup()?, dup()?];
    // From here the numbers are kept for the process's life.
    let fds = owned.map(std::os::fd::IntoRawFd::into_raw_fd);
    Ok(Slots { null, fds })
}

/// Where a child finds its stdio, and the lowest descriptor it need not keep.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Placed {
    /// The descriptors that become 0, 1 and 2.
    pub stdio: [RawFd; 3],
    /// With the slots in use: every descriptor from here up may be left out of the
    /// child's copy of the table. `None`: the child copies the table, as a plain clone
    /// does.
    pub bound: Option<u32>,
}

/// Runs `clone` with `stdio` placed in the slots (`bound` set), or where it is if the slots
/// cannot be had, then gives the slots back their `/dev/null`.
pub(crate) fn with_stdio<T>(stdio: [RawFd; 3], clone: impl FnOnce(Placed) -> T) -> T {
    let mut guard = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        *guard = take().ok();
    }
    let Some(slots) = guard.as_ref() else {
        return clone(Placed { stdio, bound: None });
    };
    let placed = stdio
        .iter()
        .zip(slots.fds)
        // SAFETY: dup3 onto a slot, a descriptor this module owns, replacing its
        // `/dev/null` atomically; `src` is open for the caller.
        .all(|(&src, slot)| unsafe { libc::dup3(src, slot, libc::O_CLOEXEC) } == slot);
    let made = if placed {
        let bound = slots.fds.iter().max().map(|&m| m as u32 + 1);
        clone(Placed {
            stdio: slots.fds,
            bound,
        })
    } else {
        clone(Placed { stdio, bound: None })
    };
    for slot in slots.fds {
        // SAFETY: as above; the child has exec'd or exited, so nothing else reads the slot.
        unsafe { libc::dup3(slots.null.as_raw_fd(), slot, libc::O_CLOEXEC) };
    }
    made
}

/// Leaves the child, which shares the caller's table, a table of its own holding only the
/// descriptors below `bound`; when the kernel has no `CLOSE_RANGE_UNSHARE` (before 5.9),
/// a copy of the whole table. Child-after-clone only: async-signal-safe, allocates
/// nothing.
///
/// # Safety
/// Only in a child cloned with `CLONE_FILES`, before it changes any descriptor.
pub(crate) unsafe fn unshare_below(bound: u32) -> bool {
    const CLOSE_RANGE_UNSHARE: libc::c_uint = 1 << 1;
    // SAFETY: plain system calls on no memory of the caller's.
    unsafe {
        libc::syscall(libc::SYS_close_range, bound, u32::MAX, CLOSE_RANGE_UNSHARE) == 0
            || libc::unshare(libc::CLONE_FILES) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(fd: RawFd) -> String {
        std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    #[test]
    fn a_spawn_finds_its_stdio_in_the_slots_and_they_hold_dev_null_again_after() {
        reserve().expect("slots");
        let file = tempfile::tempfile().expect("tempfile");
        let fd = file.as_raw_fd();
        let (placed, seen) = with_stdio([fd, fd, fd], |placed| (placed, placed.stdio.map(target)));
        let bound = placed.bound.expect("slots in use");
        assert!(placed.stdio.iter().all(|&s| s >= 3 && (s as u32) < bound));
        assert_ne!(placed.stdio, [fd, fd, fd]);
        assert!(seen.iter().all(|t| t == &target(fd)), "{seen:?}");
        // Held, so that no spawn of another test fills the slots meanwhile.
        let _held = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
        for s in placed.stdio {
            assert_eq!(target(s), "/dev/null");
        }
    }
}
