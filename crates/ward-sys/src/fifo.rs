//! Named pipes for service output that outlive the daemon.
//!
//! A service's stdout and stderr are FIFOs in the state dir, and the service holds its end
//! open for reading *and* writing. So the pipe always has a reader: the service never
//! dies of SIGPIPE while ward is away, and what it writes meanwhile waits in the pipe (up
//! to its capacity) for the next daemon, which opens the same FIFO and reads on.

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{CWD, FileType, Mode, OFlags, mknodat, open};
use rustix::io::Errno;

/// How much a FIFO holds while nobody reads: 1 MiB, the kernel's default ceiling for
/// unprivileged pipes (`/proc/sys/fs/pipe-max-size`).
pub const FIFO_CAPACITY: usize = 1 << 20;

/// Opens the FIFO at `path`, made first if there is none. Opened rather than looked at
/// first: every spawn opens the service's two ends, and each look was a lookup of the
/// path more; only a missing FIFO costs a second open. What is there and is no FIFO is
/// refused after the open, by its descriptor. Errors name the path, keeping their kind.
fn open_fifo(path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    let named = |e: Errno| {
        let e = io::Error::from(e);
        io::Error::new(e.kind(), format!("{}: {e}", path.display()))
    };
    let open_it = || open(path, flags | OFlags::CLOEXEC, Mode::empty());
    let fd = match open_it() {
        Err(Errno::NOENT) => {
            match mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(0o600), 0) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(named(e)),
            }
            open_it().map_err(named)?
        }
        opened => opened.map_err(named)?,
    };
    // F_GETPIPE_SZ answers for a pipe only: a lighter question than an fstat.
    match rustix::pipe::fcntl_getpipe_size(&fd) {
        Ok(_) => Ok(fd),
        Err(Errno::BADF) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a FIFO", path.display()),
        )),
        Err(e) => Err(named(e)),
    }
}

/// ward's end: read-write (so opening never blocks and end of file never comes),
/// non-blocking, close-on-exec. Creates the FIFO if needed and raises its capacity.
pub fn open_reader(path: &Path) -> io::Result<OwnedFd> {
    let fd = open_fifo(path, OFlags::RDWR | OFlags::NONBLOCK)?;
    // Best effort: a smaller pipe still works, it only holds less while ward is away.
    let _ = rustix::pipe::fcntl_setpipe_size(&fd, FIFO_CAPACITY);
    Ok(fd)
}

/// The service's end: read-write and blocking, close-on-exec in ward (the child's `dup2`
/// onto fd 1 or 2 clears that).
pub fn open_writer(path: &Path) -> io::Result<OwnedFd> {
    open_fifo(path, OFlags::RDWR)
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
        let refused = open_reader(&file).expect_err("a plain file is no FIFO");
        assert!(refused.to_string().contains("plain"), "{refused}");
        assert!(open_writer(&file).is_err());
        let missing = open_writer(&dir.path().join("gone").join("svc.err"))
            .expect_err("no directory to make it in");
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        assert!(missing.to_string().contains("svc.err"), "{missing}");
    }
}
