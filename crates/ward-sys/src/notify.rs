//! The `$NOTIFY_SOCKET` services talk to (the sd_notify protocol): a Unix datagram socket
//! that receives each sender's credentials, so ward knows which process spoke.
//!
//! The credentials come from the kernel (`SO_PASSCRED`, `SCM_CREDENTIALS`), not from the
//! message: a process cannot claim to be another.

use std::io::{self, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixDatagram as StdDatagram;
use std::path::{Path, PathBuf};

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use tokio::io::Interest;
use tokio::net::UnixDatagram;

/// Largest datagram read; systemd reads at most this much of a notification too.
const MAX_DATAGRAM: usize = 4096;

/// The bound socket. The file is removed when this is dropped, if it still is the socket
/// bound here.
#[derive(Debug)]
pub struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
    /// Device and inode of the socket file bound here.
    file: (u64, u64),
}

impl NotifySocket {
    /// Binds `path`. A socket file there that nothing is bound to any more (left by an
    /// earlier daemon) is replaced; anything else (a regular file, a socket another
    /// program receives on) is left alone and refused. Must be called within a tokio
    /// runtime.
    pub fn bind(path: &Path) -> io::Result<NotifySocket> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {
                let probe = StdDatagram::unbound()?;
                match probe.connect(path) {
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                        std::fs::remove_file(path)?
                    }
                    Ok(()) => {
                        return Err(io::Error::new(
                            io::ErrorKind::AddrInUse,
                            format!("another program receives on {}", path.display()),
                        ));
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} is in the way and is not a socket; move it",
                        path.display()
                    ),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let std = StdDatagram::bind(path)?;
        let meta = std::fs::symlink_metadata(path)?;
        std.set_nonblocking(true)?;
        rustix::net::sockopt::set_socket_passcred(&std, true)?;
        Ok(NotifySocket {
            socket: UnixDatagram::from_std(std)?,
            path: path.to_path_buf(),
            file: (meta.dev(), meta.ino()),
        })
    }

    /// Where services send to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next datagram and the PID of the process that sent it (`None` if the kernel
    /// attached no credentials).
    pub async fn recv(&self) -> io::Result<(Option<u32>, Vec<u8>)> {
        loop {
            self.socket.readable().await?;
            let got = self.socket.try_io(Interest::READABLE, || {
                let mut data = vec![0u8; MAX_DATAGRAM];
                let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmCredentials(1))];
                let mut control = RecvAncillaryBuffer::new(&mut space);
                let msg = rustix::net::recvmsg(
                    &self.socket,
                    &mut [IoSliceMut::new(&mut data)],
                    &mut control,
                    RecvFlags::CMSG_CLOEXEC,
                )?;
                data.truncate(msg.bytes.min(MAX_DATAGRAM));
                let mut pid = None;
                for message in control.drain() {
                    if let RecvAncillaryMessage::ScmCredentials(cred) = message {
                        pid = Some(cred.pid.as_raw_nonzero().get() as u32);
                    }
                }
                Ok((pid, data))
            });
            match got {
                Ok(v) => return Ok(v),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let ours =
            std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.file);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn receives_the_datagram_and_the_senders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = NotifySocket::bind(&path).unwrap();
        let client = StdDatagram::unbound().unwrap();
        client.send_to(b"READY=1\nSTATUS=up", &path).unwrap();
        let (pid, data) = sock.recv().await.unwrap();
        assert_eq!(pid, Some(std::process::id()));
        assert_eq!(data, b"READY=1\nSTATUS=up");
        // Dropping removes the file; a leftover socket is replaced by the next bind.
        drop(sock);
        assert!(!path.exists());
        let leftover = StdDatagram::bind(&path).unwrap();
        drop(leftover);
        // A child forked by a test running beside this one holds a copy of every
        // descriptor until its exec: the leftover counts as dead once nothing holds it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while StdDatagram::unbound().unwrap().connect(&path).is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "the leftover stays bound"
            );
            std::thread::yield_now();
        }
        let again = NotifySocket::bind(&path).unwrap();
        client.send_to(b"WATCHDOG=1", &path).unwrap();
        assert_eq!(again.recv().await.unwrap().1, b"WATCHDOG=1");
    }

    #[tokio::test]
    async fn what_is_not_a_leftover_socket_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        // A regular file in the way.
        let file = dir.path().join("file.sock");
        std::fs::write(&file, "mine").unwrap();
        let e = NotifySocket::bind(&file).unwrap_err();
        assert!(e.to_string().contains("is not a socket"), "{e}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
        // A socket someone receives on.
        let live = dir.path().join("live.sock");
        let theirs = StdDatagram::bind(&live).unwrap();
        let e = NotifySocket::bind(&live).unwrap_err();
        assert!(e.to_string().contains("another program receives"), "{e}");
        StdDatagram::unbound()
            .unwrap()
            .send_to(b"hi", &live)
            .unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(theirs.recv(&mut buf).unwrap(), 2);
        // Replaced after the bind: the drop leaves the new file.
        let path = dir.path().join("notify.sock");
        let sock = NotifySocket::bind(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "new").unwrap();
        drop(sock);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }
}
