//! Named pipes for service output that outlive the daemon.
//!
//! A service's stdout and stderr are FIFOs in the state dir, and the service holds its end
//! open for reading *and* writing. So the pipe always has a reader: the service never
//! dies of SIGPIPE while ward is away, and what it writes meanwhile waits in the pipe (up
//! to its capacity) for the next daemon, which opens the same FIFO and reads on.

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{CWD, FileType, Mode, OFlags, mknodat, open, stat};

/// How much a FIFO holds while nobody reads: 1 MiB, the kernel's default ceiling for
/// unprivileged pipes (`/proc/sys/fs/pipe-max-size`).
pub const FIFO_CAPACITY: usize = 1 << 20;

/// Creates the FIFO at `path` unless one is there already.
fn ensure(path: &Path) -> io::Result<()> {
    match stat(path) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Fifo => Ok(()),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a FIFO", path.display()),
        )),
        Err(rustix::io::Errno::NOENT) => {
            mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(0o600), 0)?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// ward's end: read-write (so opening never blocks and end of file never comes),
/// non-blocking, close-on-exec. Creates the FIFO if needed and raises its capacity.
pub fn open_reader(path: &Path) -> io::Result<OwnedFd> {
    ensure(path)?;
    let fd = open(
        path,
        OFlags::RDWR | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    // Best effort: a smaller pipe still works, it only holds less while ward is away.
    let _ = rustix::pipe::fcntl_setpipe_size(&fd, FIFO_CAPACITY);
    Ok(fd)
}

/// The service's end: read-write and blocking, close-on-exec in ward (the child's `dup2`
/// onto fd 1 or 2 clears that).
pub fn open_writer(path: &Path) -> io::Result<OwnedFd> {
    ensure(path)?;
    Ok(open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn what_is_written_without_a_reader_waits_for_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("svc.out");
        let first = open_reader(&path).unwrap();
        let mut writer = std::fs::File::from(open_writer(&path).unwrap());
        drop(first);
        // No reader of ward's is open now; the writer's own read end keeps the pipe alive.
        writer.write_all(b"while ward was away\n").unwrap();
        let mut again = std::fs::File::from(open_reader(&path).unwrap());
        let mut buf = [0u8; 64];
        let n = again.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"while ward was away\n");
        // A second call reuses the FIFO; a regular file in the way is an error.
        open_reader(&path).unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        assert!(open_reader(&file).is_err());
    }
}
