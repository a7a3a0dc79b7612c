//! ward telling its own supervisor (systemd, with `Type=notify`) how it is: `READY=1` once
//! the services it starts by itself are started, `STOPPING=1` when it stops them. The
//! other side of the protocol ward speaks to its services (`notify.rs`).

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Where systemd listens, taken from `$NOTIFY_SOCKET` once at start-up: a path, or an
/// abstract name written with a leading `@`. `None` when ward runs under no such manager.
#[derive(Clone, Debug)]
pub struct Notifier {
    addr: String,
}

impl Notifier {
    /// The manager's socket, if `$NOTIFY_SOCKET` names one. The variable is removed from
    /// ward's environment, as `sd_notify(3)` does with `unset_environment`: nothing ward
    /// runs may speak for it.
    pub fn from_env() -> Option<Notifier> {
        let addr = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|a| !a.is_empty())?;
        // SAFETY: called at start-up, before the runtime or any other thread exists;
        // `remove_var` is unsafe only for what other threads reading the environment see.
        #[allow(unsafe_code)]
        unsafe {
            std::env::remove_var("NOTIFY_SOCKET");
        }
        Some(Notifier { addr })
    }

    /// Sends `message` (`READY=1`, `STOPPING=1`, `STATUS=…`).
    pub fn send(&self, message: &str) -> std::io::Result<()> {
        let socket = UnixDatagram::unbound()?;
        match self.addr.strip_prefix('@') {
            Some(name) => {
                let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
                socket.send_to_addr(message.as_bytes(), &addr)?;
            }
            None => {
                socket.send_to(message.as_bytes(), &self.addr)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_reaches_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            addr: path.display().to_string(),
        };
        n.send("READY=1").unwrap();
        let mut buf = [0u8; 64];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
    }
}
