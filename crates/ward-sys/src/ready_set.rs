//! Many descriptors behind one wake-up: an epoll set of ward's own, itself watched by
//! tokio's. Tokio keeps a registration for each descriptor it watches, padded to two cache
//! lines (256 bytes with its count); a daemon of thousands of services would hold two for
//! each service's output alone. Here a descriptor costs the kernel's entry and nothing in
//! the daemon's memory, and thousands of pipes still wake one task.
//!
//! The set is level-triggered: a descriptor stays ready while it holds data, so a reader
//! that takes one chunk per wake-up, to be fair to the others, loses nothing.
#![allow(unsafe_code)]

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::event::Timespec;
use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};
use tokio::io::unix::AsyncFd;

/// How many ready descriptors one look returns at most; the rest wait for the next.
const BATCH: usize = 64;

/// An epoll set whose members are known by a key of the caller's.
pub struct ReadySet {
    fd: AsyncFd<OwnedFd>,
}

impl ReadySet {
    /// An empty set, registered with the current tokio runtime.
    pub fn new() -> io::Result<ReadySet> {
        let fd = epoll::create(CreateFlags::CLOEXEC)?;
        // SAFETY: the AsyncFd owns this OwnedFd, which keeps the one epoll descriptor open,
        // and `as_raw_fd` always returns it, until the AsyncFd is dropped.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(|e| e.into_parts().1)?;
        Ok(ReadySet { fd })
    }

    /// Watches `fd` for data (or its end) under `key`. The caller keeps `fd` open while it
    /// is a member, and takes it out with [`ReadySet::remove`] before closing it.
    pub fn add(&self, fd: BorrowedFd<'_>, key: u64) -> io::Result<()> {
        epoll::add(
            self.fd.get_ref(),
            fd,
            EventData::new_u64(key),
            EventFlags::IN | EventFlags::RDHUP,
        )?;
        Ok(())
    }

    /// Stops watching `fd`.
    pub fn remove(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        epoll::delete(self.fd.get_ref(), fd)?;
        Ok(())
    }

    /// Waits until some members are ready, and puts their keys in `keys` (cleared first):
    /// at least one, at most a batch.
    pub async fn ready(&self, keys: &mut Vec<u64>) -> io::Result<()> {
        keys.clear();
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            let mut guard = self.fd.readable().await?;
            // On the stack, not kept across an await: an `Event` holds a pointer, and the
            // future must stay `Send`.
            let mut events = [MaybeUninit::<Event>::uninit(); BATCH];
            let events = match epoll::wait(self.fd.get_ref(), &mut events, Some(&now)) {
                Ok((events, _)) => events,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            if events.is_empty() {
                // Only now is the set drained: a member that still holds data keeps the
                // set readable, and tokio would not say so again.
                guard.clear_ready();
                continue;
            }
            keys.extend(events.iter().map(|e| e.data.u64()));
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    #[tokio::test(flavor = "current_thread")]
    async fn members_are_ready_while_they_hold_data_and_not_after_removal() {
        let set = ReadySet::new().expect("epoll");
        let (r1, mut w1) = std::io::pipe().expect("pipe");
        let (r2, mut w2) = std::io::pipe().expect("pipe");
        set.add(r1.as_fd(), 1).expect("add");
        set.add(r2.as_fd(), 2).expect("add");
        w2.write_all(b"two").expect("write");
        let mut keys = Vec::new();
        set.ready(&mut keys).await.expect("ready");
        assert_eq!(keys, [2]);
        // Not read yet: still ready, though nothing new arrived (level-triggered).
        set.ready(&mut keys).await.expect("ready");
        assert_eq!(keys, [2]);
        let mut buf = [0u8; 8];
        assert_eq!((&r2).read(&mut buf).expect("read"), 3);
        w1.write_all(b"one").expect("write");
        set.ready(&mut keys).await.expect("ready");
        assert_eq!(keys, [1]);
        set.remove(r1.as_fd()).expect("remove");
        w2.write_all(b"again").expect("write");
        set.ready(&mut keys).await.expect("ready");
        assert_eq!(keys, [2]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn more_ready_members_than_a_batch_come_in_several_looks() {
        let set = ReadySet::new().expect("epoll");
        let pipes: Vec<_> = (0..BATCH as u64 + 10)
            .map(|key| {
                let (r, mut w) = std::io::pipe().expect("pipe");
                w.write_all(b"x").expect("write");
                set.add(r.as_fd(), key).expect("add");
                (r, w)
            })
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        let mut keys = Vec::new();
        while seen.len() < pipes.len() {
            set.ready(&mut keys).await.expect("ready");
            assert!(keys.len() <= BATCH);
            for &key in &keys {
                let mut buf = [0u8; 1];
                (&pipes[key as usize].0).read_exact(&mut buf).expect("read");
                assert!(seen.insert(key), "{key} reported after it was read");
            }
        }
    }
}
