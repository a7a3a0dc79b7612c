//! Health probes and the start of each run's watch: a command probe is ward's child like a
//! hook (spawned through `ward-sys`, reaped by the one reaper, killed at its timeout); a
//! TCP probe is a connect on the runtime. Each result goes to the unit's
//! [`HealthTracker`](ward_core::health::HealthTracker); `retries` failures in a row make
//! the run `hung`.

use std::time::{Duration, Instant};

use ward_core::config::Probe;
use ward_core::health::{Health, HealthChange, ProbeFailure};
use ward_core::machine::State;

use crate::hooks::{Hook, HookKind};
use crate::logs;
use crate::supervisor::Supervisor;

/// While no probe has passed yet, probes come at least this often, so that dependents
/// waiting for `healthy` do not wait a whole `interval` for the first one.
const FIRST_PROBES: Duration = Duration::from_secs(1);

/// A finished probe: the unit, the main process it probed, and the outcome.
pub(crate) type ProbeDone = (String, u32, Result<(), ProbeFailure>);

impl Supervisor {
    /// A run began (spawned, or adopted from an earlier daemon): fresh health, the first
    /// probe scheduled, the watchdog armed. An adopted run counts as ready: it was up
    /// before this daemon started.
    pub(crate) fn run_began(&mut self, name: &str, adopted: bool) {
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        let svc = &unit.instance.service;
        let now = Instant::now();
        let probe_due = svc
            .health
            .as_ref()
            .map(|h| now + h.interval.min(FIRST_PROBES));
        let watchdog_due = svc.watchdog.map(|w| now + w);
        unit.health = Default::default();
        unit.ready_notified = adopted;
        if probe_due.is_some() || watchdog_due.is_some() || unit.seldom.is_some() {
            let s = unit.seldom_mut();
            s.hang = None;
            s.notify_status = None;
            s.probe_due = probe_due;
            s.watchdog_due = watchdog_due;
        }
    }

    /// Starts the probes that are due.
    pub(crate) fn run_due_probes(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = self
            .units
            .values()
            .filter(|u| u.seldom().probe_due.is_some_and(|at| at <= now))
            .map(|u| u.name().to_string())
            .collect();
        for name in due {
            self.start_probe(&name);
        }
    }

    fn start_probe(&mut self, name: &str) {
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        if let Some(s) = unit.seldom_held() {
            s.probe_due = None;
        }
        let (Some(check), Some(main)) = (unit.instance.service.health.clone(), &unit.main) else {
            return;
        };
        if !matches!(unit.machine.state(), State::Starting | State::Running) {
            return;
        }
        let pid = main.pidfd.pid();
        match &check.probe {
            Probe::Tcp(addr) => {
                let (tx, addr, unit_name) =
                    (self.probes_tx.clone(), addr.clone(), name.to_string());
                tokio::spawn(async move {
                    let outcome = match tokio::time::timeout(
                        check.timeout,
                        tokio::net::TcpStream::connect(&addr),
                    )
                    .await
                    {
                        Ok(Ok(_)) => Ok(()),
                        Ok(Err(e)) => Err(ProbeFailure::Connect {
                            addr: addr.clone(),
                            error: e.to_string(),
                        }),
                        Err(_) => Err(ProbeFailure::ConnectTimeout {
                            addr: addr.clone(),
                            timeout: check.timeout,
                        }),
                    };
                    let _ = tx.send((unit_name, pid, outcome));
                });
            }
            Probe::Http(h) => {
                let (tx, h, unit_name) = (self.probes_tx.clone(), h.clone(), name.to_string());
                tokio::spawn(async move {
                    let outcome =
                        match tokio::time::timeout(check.timeout, crate::http_probe::get(&h)).await
                        {
                            Ok(outcome) => outcome,
                            Err(_) => Err(ProbeFailure::HttpTimeout {
                                path: h.path.clone(),
                                timeout: check.timeout,
                            }),
                        };
                    let _ = tx.send((unit_name, pid, outcome));
                });
            }
            Probe::Command(argv) => {
                let mut env = crate::hooks::side_env(name, unit, HookKind::Health { main: pid });
                env.push(("WARD_MAIN_PID".into(), pid.to_string()));
                let kind = HookKind::Health { main: pid };
                let cgroup = crate::hooks::side_cgroup(
                    self.cgroups.as_ref(),
                    &crate::hooks::side_name(name, kind),
                );
                let spec = crate::hooks::side_spec(
                    self.nofile,
                    unit,
                    argv.clone(),
                    env,
                    None,
                    cgroup.as_ref(),
                );
                let spawned = spec
                    .map_err(|e| e.to_string())
                    .and_then(|s| ward_sys::spawn::spawn(s).map_err(|e| e.to_string()));
                match spawned {
                    Ok(child) => {
                        self.hooks.insert(
                            child.pidfd.pid(),
                            Hook {
                                unit: name.to_string(),
                                kind: HookKind::Health { main: pid },
                                pidfd: child.pidfd,
                                deadline: Instant::now() + check.timeout,
                                timed_out: false,
                                cancelled: false,
                                cgroup,
                            },
                        );
                    }
                    Err(e) => {
                        if let Some(cg) = cgroup {
                            self.retire_side_cgroup(cg);
                        }
                        self.probe_done(name, pid, Err(ProbeFailure::CouldNotStart(e)))
                    }
                }
            }
        }
    }

    /// A probe of `main` ended: record it, and act on a change of health.
    pub(crate) fn probe_done(&mut self, name: &str, main: u32, outcome: Result<(), ProbeFailure>) {
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        let Some(run) = unit.main.as_ref().filter(|m| m.pidfd.pid() == main) else {
            // A probe of a run that has ended since.
            return;
        };
        let Some(check) = unit.instance.service.health.clone() else {
            return;
        };
        let age = run.started.elapsed().unwrap_or_default();
        let before = unit.health.health();
        let change = unit.health.record(&check, outcome, age);
        let after = unit.health.health();
        if after != before {
            self.journal.record(ward_store::Record::Health {
                unit: name.to_string(),
                at_ms: ward_store::now_ms(),
                from: before.as_str().to_string(),
                to: after.as_str().to_string(),
                detail: unit.health.last().unwrap_or_default().to_string(),
            });
        }
        let pace = if unit.health.health() == Health::Healthy {
            check.interval
        } else {
            check.interval.min(FIRST_PROBES)
        };
        if unit.seldom().hang.is_none() {
            unit.seldom_mut().probe_due = Some(Instant::now() + pace);
        }
        match change {
            None => {}
            Some(HealthChange::BecameHealthy) => {
                logs::note(&self.logs.sink(), &unit.log, "health check passed: healthy");
                tracing::info!(unit = %name, "healthy");
            }
            Some(HealthChange::BecameUnhealthy(why)) => {
                logs::note(&self.logs.sink(), &unit.log, &format!("unhealthy: {why}"));
                self.hung(name, why);
            }
        }
    }

    /// Ward judged the run hung: stop it and restart it as after a crash, with `why` as
    /// the verdict's evidence.
    pub(crate) fn hung(&mut self, name: &str, why: String) {
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        if unit.seldom().hang.is_some() || unit.main.is_none() {
            return;
        }
        tracing::warn!(unit = %name, why = %why, "hung: restarting it");
        logs::note(
            &self.logs.sink(),
            &unit.log,
            &format!("hung ({why}): stopping it to restart it"),
        );
        self.journal.record(ward_store::Record::Recovery {
            unit: name.to_string(),
            at_ms: ward_store::now_ms(),
            action: format!("hung: {why}; stopping it to restart it"),
            delay_ms: None,
        });
        let s = unit.seldom_mut();
        s.hang = Some(why);
        s.probe_due = None;
        s.watchdog_due = None;
        self.dispatch(name, ward_core::machine::Event::Hung);
    }
}
