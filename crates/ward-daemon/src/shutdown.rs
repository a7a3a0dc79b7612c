//! The end of the daemon: a shutdown in dependency order, a forced one, a detach that
//! leaves some services running, and what the daemon puts in order before it exits.

use std::time::Duration;

use tokio::sync::mpsc;

use ward_core::machine::Event;

use crate::requests::{ApiError, Command, Reply, Request};
use crate::serving::Serving;
use crate::supervisor::{MAX_CONNECTIONS, Supervisor};

impl Supervisor {
    /// Answers `ward status` from the requests that still come until `until` is ready;
    /// anything else is told that ward is shutting down.
    async fn answer_status_until(
        &mut self,
        rx: &mut mpsc::Receiver<Request>,
        until: impl std::future::Future,
    ) {
        let mut until = std::pin::pin!(until);
        loop {
            tokio::select! {
                _ = &mut until => return,
                Some(req) = rx.recv() => match req.command {
                    Command::Status { .. } => self.handle(req),
                    _ => {
                        let _ = req.reply.send(Err(ApiError::new(503, "ward is shutting down", None)));
                    }
                },
            }
        }
    }

    /// The loop ends once a shutdown has stopped every unit (but those a `SIGQUIT` keeps).
    pub(crate) fn finished(&self) -> bool {
        self.shutdown.is_some()
            && self
                .units
                .values()
                .all(|u| u.is_down() || (self.detaching && u.kept_on_detach()))
    }

    /// `SIGQUIT`: stop the services that must not outlive the daemon, and leave.
    pub(crate) fn detach(&mut self) {
        if self.shutdown.is_some() {
            return;
        }
        tracing::info!(
            "detaching: services with on_daemon_exit = \"keep\" stay up for the next daemon"
        );
        self.detaching = true;
        self.shutdown = Some(Vec::new());
        let names: Vec<String> = self
            .units
            .values()
            .filter(|u| !u.kept_on_detach())
            .map(|u| u.name().to_string())
            .collect();
        for name in names {
            self.dispatch(&name, Event::Stop);
        }
    }

    /// Stops every unit; the loop ends once all are down.
    pub fn begin_shutdown(&mut self, reply: Option<tokio::sync::oneshot::Sender<Reply>>) {
        if self.shutdown.is_none() {
            tracing::info!("stopping every service");
            self.tell_manager_stopping();
            self.shutdown = Some(Vec::new());
            let names: Vec<String> = self.units.keys().cloned().collect();
            self.stop_in_order(names);
        }
        if let (Some(list), Some(reply)) = (self.shutdown.as_mut(), reply) {
            list.push(reply);
        }
    }

    /// A second SIGINT: no more waiting for stop timeouts.
    pub(crate) fn force_stop(&mut self) {
        tracing::warn!("forced shutdown: killing every service now");
        for unit in self.units.values() {
            if let Err(e) = unit.kill_everything(self.me, &mut self.procs) {
                tracing::warn!(unit = %unit.name(), error = %e, "cannot kill the service's processes");
            }
        }
    }

    /// After the loop: the daemon's end in the journal and the audit trail, the answers to
    /// `ward down`, the last output in the logs, and the cgroups of units that are down
    /// removed. `ward status` is answered until the last connection is done (every unit
    /// is down by now); anything else asked meanwhile is told that ward is shutting down.
    /// At 6,400 units the journal's last commit took long enough for a status asked during
    /// `ward down` to meet that refusal.
    pub(crate) async fn wind_down(
        &mut self,
        mut serving: Serving,
        mut rx: mpsc::Receiver<Request>,
    ) {
        self.audit.note(ward_store::audit::Event::Daemon {
            what: format!("daemon stopped (pid {})", self.me),
        });
        self.journal.record(ward_store::Record::Daemon {
            at_ms: ward_store::now_ms(),
            what: "daemon stopped".into(),
            detail: if self.detaching {
                "detached: services with on_daemon_exit = \"keep\" left running".into()
            } else {
                "every service stopped".into()
            },
        });
        // `ward down` is answered once everything is in the journal.
        let (done, committed) = tokio::sync::oneshot::channel();
        self.journal.handle().then(move || {
            let _ = done.send(());
        });
        self.answer_status_until(&mut rx, committed).await;
        // A full queue answers `then` at once: the wait for its last commit is here.
        self.journal.sync();
        for reply in self.shutdown.take().unwrap_or_default() {
            let _ = reply.send(crate::requests::json(&ward_api::Ack { ok: true }));
        }
        // No more connections: the socket goes with the listener, not after the slower
        // steps below, so that nobody meets a socket that refuses. Like the lock file made
        // again after the first went away, it is removed only while it is still ours.
        serving.close(&self.config.supervisor.socket);
        if let Some(lock) = self.relocked.take() {
            let _ = lock.release();
        }
        // Answers already handed to connections are written, and what those connections
        // still ask is answered, for at most 2 s.
        let done = tokio::time::timeout(
            Duration::from_secs(2),
            serving.connections.acquire_many(MAX_CONNECTIONS),
        );
        self.answer_status_until(&mut rx, done).await;
        drop(rx);
        // The last lines in the pipes reach the logs before the writer is flushed.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.captures.drain()).await;
        self.logs.sync();
        // The unit records stay: the next daemon adopts what still runs and keeps what the
        // operator stopped stopped.
        for unit in self.units.values() {
            if unit.is_down() {
                unit.containment.remove();
                unit.controllers.remove();
                if let Some(dir) = &unit.private_tmp {
                    let _ = crate::private_tmp::remove(dir);
                }
            }
        }
        // Hooks still running (an `on_failure`, say) end with the daemon, with everything
        // they started, and their cgroups go.
        let running: Vec<u32> = self.hooks.keys().copied().collect();
        for pid in running {
            self.kill_hook_tree(pid);
        }
        let side: Vec<_> = self
            .hooks
            .values_mut()
            .filter_map(|h| h.cgroup.take())
            .collect();
        for cg in side.into_iter().chain(self.event_hooks.kill_all()) {
            self.retire_side_cgroup(cg);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while !self.retired_side_cgroups.is_empty() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
            self.retired_side_cgroups.retain(|cg| {
                cg.remove()
                    .is_err_and(|e| e.kind() != std::io::ErrorKind::NotFound)
            });
        }
        if let Some(cg) = &self.cgroups {
            let _ = cg.remove_base();
        }
        self.controllers.remove_base();
        tracing::info!("ward stopped");
    }
}
