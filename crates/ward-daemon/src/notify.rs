//! `$NOTIFY_SOCKET`: readiness (`READY=1`), status text and the watchdog (`WATCHDOG=1`)
//! from services, over the sd_notify protocol that many daemons already speak.
//!
//! One socket serves every unit. The kernel attaches the sender's PID to each datagram;
//! a message counts for a unit when it comes from the unit's main process or from any
//! process the unit contains (systemd's `NotifyAccess=all`), so a wrapper script's child
//! can report for it.

use std::path::Path;
use std::time::Instant;

use tokio::sync::mpsc;
use ward_core::machine::State;
use ward_sys::notify::NotifySocket;

use crate::logs;
use crate::supervisor::Supervisor;

/// A datagram and the PID that sent it.
pub(crate) type Notification = (u32, ward_core::notify::Message);

/// Where services send to: `NOTIFY_SOCKET` in their environment. Always absolute: the
/// sd_notify protocol accepts only an absolute path or an abstract name, and clients
/// (libsystemd, `systemd-notify`) refuse a relative one with EINVAL.
pub(crate) fn socket_path(runtime_dir: &Path) -> std::path::PathBuf {
    let path = runtime_dir.join("notify.sock");
    std::path::absolute(&path).unwrap_or(path)
}

/// Reads the socket until the daemon ends, handing each message to the supervisor.
pub(crate) async fn listen(socket: NotifySocket, tx: mpsc::UnboundedSender<Notification>) {
    loop {
        match socket.recv().await {
            Ok((Some(pid), data)) => {
                if tx.send((pid, ward_core::notify::parse(&data))).is_err() {
                    return;
                }
            }
            // No credentials: nobody to attribute it to.
            Ok((None, _)) => {}
            Err(e) => {
                tracing::error!(error = %e, "the notify socket failed; readiness and watchdog messages are lost");
                return;
            }
        }
    }
}

impl Supervisor {
    /// The unit a process belongs to: its main process, or one it contains.
    fn unit_of(&mut self, pid: u32) -> Option<String> {
        if let Some(u) = self
            .units
            .values()
            .find(|u| u.main.as_ref().is_some_and(|m| m.pidfd.pid() == pid))
        {
            return Some(u.name().to_string());
        }
        self.units
            .values()
            .filter(|u| u.main.is_some())
            .find(|u| {
                u.containment
                    .contains(pid, u.roots(self.me), &mut self.procs)
            })
            .map(|u| u.name().to_string())
    }

    /// A service spoke on the notify socket.
    pub(crate) fn notified(&mut self, pid: u32, msg: ward_core::notify::Message) {
        let Some(name) = self.unit_of(pid) else {
            tracing::debug!(pid, "a notification from a process of no unit; ignored");
            return;
        };
        let sink = self.logs.sink();
        let Some(unit) = self.units.get_mut(&name) else {
            return;
        };
        // More time for a stop in progress, as systemd gives it: the stop timeout ends
        // that long from now, if that is later than it would.
        if let Some(more) = msg.extend_timeout
            && unit.machine.state() == State::Stopping
        {
            let until = Instant::now() + more;
            if unit.timer.is_some_and(|(at, _)| at < until) {
                logs::note(
                    &sink,
                    &unit.log,
                    &format!(
                        "the stop timeout is extended by {} (EXTEND_TIMEOUT_USEC)",
                        ward_core::duration::format_duration(more)
                    ),
                );
                self.dispatch(&name, ward_core::machine::Event::ExtendStop { after: more });
            }
            return;
        }
        if !matches!(unit.machine.state(), State::Starting | State::Running) {
            return;
        }
        if msg.stopping && unit.seldom().watchdog_due.is_some() {
            // A service on its way out stops feeding its watchdog; that is no hang.
            unit.seldom_mut().watchdog_due = None;
            logs::note(
                &sink,
                &unit.log,
                "stopping (STOPPING=1): its watchdog is off",
            );
        }
        if let Some(status) = msg.status {
            // Shown by `ward status`: the service's secrets stay its own.
            let status = match unit.log.secrets() {
                Some(r) => r.text(&status).into_owned(),
                None => status,
            };
            unit.seldom_mut().notify_status = Some(status);
        }
        if msg.ready && !unit.ready_notified {
            unit.ready_notified = true;
            logs::note(&sink, &unit.log, "ready (READY=1)");
            tracing::info!(unit = %name, "ready");
        }
        if msg.watchdog
            && let Some(every) = unit.instance.service.watchdog
            && unit.seldom().hang.is_none()
        {
            unit.seldom_mut().watchdog_due = Some(Instant::now() + every);
        }
        if msg.watchdog_trigger && unit.instance.service.watchdog.is_some() {
            self.hung(
                &name,
                "the service triggered its own watchdog (WATCHDOG=trigger)".into(),
            );
        }
    }

    /// Units whose watchdog ran out are hung.
    pub(crate) fn check_watchdogs(&mut self) {
        let now = Instant::now();
        let late: Vec<(String, String)> = self
            .units
            .values()
            .filter(|u| u.seldom().watchdog_due.is_some_and(|at| at <= now))
            .filter_map(|u| {
                let every = u.instance.service.watchdog?;
                Some((
                    u.name().to_string(),
                    format!(
                        "no WATCHDOG=1 within its watchdog interval of {}",
                        ward_core::duration::format_duration(every)
                    ),
                ))
            })
            .collect();
        for (name, why) in late {
            if let Some(s) = self.units.get_mut(&name).and_then(|u| u.seldom_held()) {
                s.watchdog_due = None;
            }
            self.hung(&name, why);
        }
    }
}
