//! A new daemon on a state dir an earlier daemon left: services that still run are adopted,
//! not started again; what the operator asked for is kept.
//!
//! The earlier daemon left a record per unit (`persist`). A recorded main process is
//! adopted only if its identity still matches (same boot, same start time), checked after
//! its pidfd is opened, so a PID reused meanwhile is never taken for it. An adopted process
//! is not ward's child: its exit comes from its pidfd becoming readable, and its status
//! from the kernel (`PIDFD_INFO_EXIT`) once its new parent has reaped it.

use std::time::{Duration, UNIX_EPOCH};

use ward_core::ExitStatus;
use ward_core::machine::Event;
use ward_sys::Pidfd;
use ward_sys::identity::{ProcState, boot_id};

use crate::logs;
use crate::persist::{self, MainRecord};
use crate::supervisor::Supervisor;
use crate::unit::MainProcess;

/// How long an adopted process's exit status is waited for after its exit: its new parent
/// (init, usually) reaps it within moments; without a reaper the status stays unknown.
const STATUS_WAIT: Duration = Duration::from_secs(1);
const STATUS_POLL: Duration = Duration::from_millis(20);

impl Supervisor {
    /// Sets up every unit of the config, adopting what an earlier daemon left running and
    /// starting the rest as their records and `autostart` say.
    pub(crate) fn restore(&mut self) {
        let runtime_dir = self.config.supervisor.runtime_dir.clone();
        let boot = boot_id().ok();
        // Dependencies first, so each unit's dependencies exist when it asks for them.
        let order = ward_core::deps::Graph::of(&self.config.services).start_order();
        // Each service's place looked up, not searched for: a search per comparison made
        // the sort of 6,400 units take 100 ms of the daemon's start-up.
        let place: std::collections::HashMap<&str, usize> = order
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        let mut instances = self.config.instances();
        instances.sort_by_key(|i| place.get(i.service.name.as_str()).copied());
        let recorded = persist::recorded(&runtime_dir);
        for inst in instances {
            let name = inst.name.clone();
            let autostart = inst.service.autostart;
            let listed = recorded.as_ref().is_none_or(|r| r.contains(&name));
            let Some(record) = listed.then(|| persist::load(&runtime_dir, &name)).flatten() else {
                // Never ran here: its cgroup and FIFOs are made with its first spawn.
                self.add_unit_later(inst);
                if autostart {
                    self.autostart(&name);
                } else {
                    self.arm_schedule(&name, true);
                }
                continue;
            };
            self.add_unit(inst);
            let wants_run = record.intent == ward_api::UnitIntent::Run;
            match record.main {
                Some(main) => match self.adopt(&name, &main, boot.as_deref()) {
                    Ok(()) if wants_run => {}
                    Ok(()) => self.dispatch(&name, Event::Stop),
                    Err(status) => {
                        // When exactly is not known; now is the first moment ward knows.
                        if let Some(u) = self.units.get_mut(&name) {
                            u.last_exit_at = Some(std::time::SystemTime::now());
                        }
                        self.note(
                            &name,
                            &format!(
                                "main process (pid {}) ended while ward was away: {status}",
                                main.pid
                            ),
                        );
                        self.journal.record(ward_store::Record::RunEnded {
                            unit: name.clone(),
                            pid: main.pid,
                            start_time: main.start_time,
                            boot_id: main.boot_id.clone(),
                            at_ms: ward_store::now_ms(),
                            exit: crate::journal::exit_record(status),
                        });
                        let params = self.units.get(&name).map(|u| *u.machine.params());
                        let report = ward_core::classify::ExitReport {
                            earlier_boot: ward_core::classify::earlier_boot(
                                &main.boot_id,
                                boot.as_deref(),
                            ),
                            supervisor_crashed: self.previous_crashed,
                            min_uptime: params.map_or(Duration::from_secs(1), |p| p.min_uptime),
                            burst: params.map_or(5, |p| p.start_limit.burst),
                            ..ward_core::classify::ExitReport::of(
                                status,
                                std::time::SystemTime::now()
                                    .duration_since(
                                        UNIX_EPOCH + Duration::from_millis(main.started_ms),
                                    )
                                    .unwrap_or_default(),
                            )
                        };
                        if wants_run {
                            // Through the machine, so the restart policy decides; judged
                            // between the two steps, so its strategy meets the exit.
                            self.dispatch(&name, Event::Adopted { pid: main.pid });
                            self.judge(&name, Some(main.pid), &report);
                            self.dispatch(&name, Event::Exited(status));
                        } else {
                            self.judge(&name, Some(main.pid), &report);
                        }
                    }
                },
                // A task that completed under the last daemon stays completed.
                // Its schedule is armed below, as every task's is.
                None if wants_run && record.completed => {
                    self.dispatch(&name, Event::RestoredCompleted);
                }
                None if wants_run => self.autostart(&name),
                // The operator stopped it: it stays stopped, autostart or not, and so
                // does its schedule (below).
                None => {}
            }
            // A task's schedule, whatever became of its last run: paused if the operator
            // stopped it.
            if self.units.get(&name).is_some_and(|u| u.schedule.is_none()) {
                self.arm_schedule(&name, !wants_run);
            }
        }
    }

    /// Adopts the recorded main process if it is still the same process; otherwise says
    /// how it ended, as far as can be known.
    fn adopt(
        &mut self,
        name: &str,
        main: &MainRecord,
        boot: Option<&str>,
    ) -> Result<(), ExitStatus> {
        if boot != Some(main.boot_id.as_str()) {
            return Err(ExitStatus::Unknown);
        }
        let pidfd =
            Pidfd::open_identified(main.pid, main.start_time).map_err(|_| ExitStatus::Unknown)?;
        if ProcState::of(main.pid) == ProcState::Zombie {
            return Err(pidfd.exit_status().unwrap_or(ExitStatus::Unknown));
        }
        let watcher = pidfd.try_clone().map_err(|_| ExitStatus::Unknown)?;
        let started = UNIX_EPOCH + Duration::from_millis(main.started_ms);
        let identity = ward_sys::ProcessIdentity {
            pid: main.pid,
            start_time: main.start_time,
            // The running boot's, which the record's is (above): shared, not copied.
            boot_id: ward_sys::identity::boot_id().map_err(|_| ExitStatus::Unknown)?,
        };
        let Some(unit) = self.units.get_mut(name) else {
            return Err(ExitStatus::Unknown);
        };
        unit.main = Some(MainProcess {
            pidfd,
            identity,
            started,
        });
        unit.last_started = Some(started);
        if let Some(path) = unit.instance.pidfile() {
            unit.pidfile = crate::spawning::write_pidfile(
                &path,
                main.pid,
                unit.name(),
                &unit.instance.service.command,
            )
            .map_err(|e| {
                tracing::warn!(unit = %name, error = %e, "no pid file");
                crate::logs::note(&self.logs.sink(), &unit.log, &format!("no pid file: {e}"));
            })
            .ok()
            .map(Box::new);
        }
        tokio::spawn(watch(name.to_string(), watcher, self.adopted_tx.clone()));
        self.journal.record(ward_store::Record::RunStarted {
            unit: name.to_string(),
            pid: main.pid,
            start_time: main.start_time,
            boot_id: main.boot_id.clone(),
            at_ms: main.started_ms as i64,
            adopted: true,
        });
        self.dispatch(name, Event::Adopted { pid: main.pid });
        self.run_began(name, true);
        self.note(
            name,
            &format!("adopted pid {} from an earlier daemon", main.pid),
        );
        tracing::info!(unit = %name, pid = main.pid, "adopted");
        Ok(())
    }

    /// An adopted main process ended.
    pub(crate) fn adopted_exited(&mut self, name: &str, pid: u32, status: Option<ExitStatus>) {
        let Some(unit) = self.units.get(name) else {
            return;
        };
        if unit.main.as_ref().map(|m| m.pidfd.pid()) != Some(pid) {
            return;
        }
        self.main_ended(name, status.unwrap_or(ExitStatus::Unknown));
    }

    /// A line of ward's own in the unit's log.
    pub(crate) fn note(&self, name: &str, text: &str) {
        if let Some(unit) = self.units.get(name) {
            logs::note(&self.logs.sink(), &unit.log, text);
        }
    }
}

/// Waits for an adopted process to exit and reports it with its status, if the kernel
/// gives one.
async fn watch(
    name: String,
    pidfd: Pidfd,
    tx: tokio::sync::mpsc::UnboundedSender<(String, u32, Option<ExitStatus>)>,
) {
    let pid = pidfd.pid();
    let pidfd = match pidfd.exited().await {
        Ok(fd) => fd,
        Err(e) => {
            tracing::error!(unit = %name, error = %e, "cannot watch the adopted process");
            return;
        }
    };
    let mut status = pidfd.exit_status();
    let deadline = tokio::time::Instant::now() + STATUS_WAIT;
    while status.is_none() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(STATUS_POLL).await;
        status = pidfd.exit_status();
    }
    let _ = tx.send((name, pid, status));
}
