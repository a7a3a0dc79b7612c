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
    /// A control socket bound again after the first went away, by identity (device,
    /// inode): removed at exit like the first, and only while it is still that file.
    pub rebound: Option<(u64, u64)>,
}
