//! What the supervisor's loop serves on: the control socket's server task, with what it
//! takes to start it again, and the notify socket's sender.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::requests::Request;

/// The loop's servers.
pub(crate) struct Serving {
    /// The task that accepts API connections.
    pub server: JoinHandle<()>,
    /// Where its requests go.
    pub tx: mpsc::Sender<Request>,
    /// Its connection slots; a shutdown waits for them to be given back.
    pub connections: Arc<Semaphore>,
    /// Where the notify socket's datagrams go.
    pub notify_tx: mpsc::UnboundedSender<crate::notify::Notification>,
    /// The control socket's file by identity (device, inode), the first one or one bound
    /// again after the first went away: removed as soon as the server stops, so that a
    /// client finds no socket rather than one nobody answers on, and only while it is
    /// still that file.
    pub bound: Option<(u64, u64)>,
}

/// A file's identity, to tell later whether the path still names it.
pub(crate) fn identity(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

impl Serving {
    /// Stops accepting connections and removes the socket file it listened on.
    pub fn close(&mut self, socket: &std::path::Path) {
        self.server.abort();
        if let Some(own) = self.bound.take()
            && identity(socket) == Some(own)
        {
            let _ = std::fs::remove_file(socket);
        }
    }
}
