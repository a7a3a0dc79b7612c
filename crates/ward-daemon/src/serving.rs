//! What the supervisor's loop serves on: the control socket's server task, with what it
//! takes to start it again, and the notify socket's sender; and the thread the API's
//! connections run on.

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

/// A runtime on a thread of its own for the API's connections (the control socket's and
/// the HTTP listener's). The loop runs its slices of a start or a shutdown on the daemon's
/// main thread; a connection served there could write only between slices, and a status
/// of thousands of units, megabytes long, waited for a turn of the loop for every socket
/// buffer of it. Here an answer goes out as fast as its client reads it; requests still
/// reach the loop, and answers come back, through channels. Idle, the thread sleeps in
/// `epoll_wait` with no timer armed.
pub(crate) struct ApiRuntime {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ApiRuntime {
    /// Starts the thread; its runtime serves what is spawned on `handle` until dropped.
    pub fn start() -> std::io::Result<ApiRuntime> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ward-api".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        Ok(ApiRuntime {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where the API's tasks are spawned, and its listeners registered (`enter`).
    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }
}

impl Drop for ApiRuntime {
    /// Ends the thread; the connections still open end with it.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
