//! ward as a container's init (`ward up --init`, implied as PID 1): the end of the
//! container when `exit_when` is met, the code it exits with (`exit_code`), and the
//! readiness an orchestrator probes (`/readyz`, `ward health --ready`). Orphans need
//! nothing here: the one reaper already reaps every child, and as PID 1 every orphan of
//! the container is ward's child.

use crate::requests::ApiError;
use ward_core::container::{ExitCode, Standing, UnitView, code_of, exit_due};
use ward_core::machine::{Intent, State};

use crate::requests::{Reply, json};
use crate::supervisor::Supervisor;
use crate::unit::Unit;

/// The first unit that ended for good in failure, and the code that stands for its end.
#[derive(Clone, Debug)]
pub(crate) struct FirstFailure {
    pub unit: String,
    pub code: i32,
}

impl Unit {
    /// Where the unit stands for `exit_when`.
    fn standing(&self) -> Standing {
        let scheduled = self.schedule.as_ref().is_some_and(|a| !a.paused);
        match self.machine.state() {
            State::Exited | State::Failed | State::Completed if !scheduled => Standing::Ended,
            State::Stopped
                if self.seldom().waiting_for.is_empty()
                    && !self.start_queued
                    && !scheduled
                    && self.machine.intent() == Intent::Stop =>
            {
                Standing::Idle
            }
            _ => Standing::Active,
        }
    }

    /// The code of its last end, 0 without one.
    fn last_code(&self) -> i32 {
        self.machine.last_exit().map_or_else(
            // An exec failure: the shell's "command not found".
            || {
                if self.machine.last_spawn_failure().is_some() {
                    127
                } else {
                    0
                }
            },
            code_of,
        )
    }
}

impl Supervisor {
    /// `exit_when` met: stop everything, then exit. Looked at every turn of the loop.
    pub(crate) fn check_exit_when(&mut self) {
        let rule = &self.config.supervisor.exit_when;
        if self.shutdown.is_some() || *rule == ward_core::container::ExitWhen::Never {
            return;
        }
        let views: Vec<UnitView<'_>> = self
            .units
            .values()
            .map(|u| UnitView {
                service: &u.instance.service.name,
                standing: u.standing(),
            })
            .collect();
        let Some(why) = exit_due(rule, &views) else {
            return;
        };
        tracing::info!("{why}: stopping every service and exiting");
        self.journal.record(ward_store::Record::Daemon {
            at_ms: ward_store::now_ms(),
            what: "exit_when".into(),
            detail: why,
        });
        self.begin_shutdown(None);
    }

    /// A unit changed state: the first that ends for good in failure sets the code of
    /// `exit_code = "first-failure"`.
    pub(crate) fn note_failure(&mut self, name: &str, to: State) {
        if self.first_failure.is_some() || self.shutdown.is_some() {
            return;
        }
        let Some(unit) = self.units.get(name) else {
            return;
        };
        let failed = match to {
            State::Failed => true,
            State::Exited => unit
                .machine
                .last_exit()
                .is_none_or(|e| !unit.instance.service.success_exit_codes.accepts(e)),
            _ => false,
        };
        if failed {
            let code = match unit.last_code() {
                0 => 1,
                c => c,
            };
            self.first_failure = Some(FirstFailure {
                unit: name.to_string(),
                code,
            });
        }
    }

    /// The code the daemon exits with, as `exit_code` says.
    pub(crate) fn exit_code(&self) -> i32 {
        match &self.config.supervisor.exit_code {
            ExitCode::FirstFailure => self.first_failure.as_ref().map_or(0, |f| f.code),
            ExitCode::Service(service) => self
                .units
                .values()
                .find(|u| &u.instance.service.name == service)
                .map_or(0, |u| u.last_code()),
        }
    }

    /// `/readyz`: ready when every unit meant to run is ready (a task: completed), and no
    /// shutdown is under way; otherwise 503 naming the units that are not.
    pub(crate) fn readiness(&self) -> Reply {
        if self.shutdown.is_some() {
            return Err(ApiError::new(503, "ward is shutting down", None));
        }
        let not_ready: Vec<String> = self
            .units
            .values()
            .filter(|u| {
                u.machine.intent() == Intent::Run
                    || u.start_queued
                    || !u.seldom().waiting_for.is_empty()
            })
            .filter(|u| !u.is_ready())
            .map(|u| format!("{} ({})", u.name(), u.machine.state().as_str()))
            .collect();
        if not_ready.is_empty() {
            json(&ward_api::Ack { ok: true })
        } else {
            Err(ApiError::new(
                503,
                format!("not ready: {}", not_ready.join(", ")),
                None,
            ))
        }
    }
}

impl Supervisor {
    /// `READY=1` to the manager ward runs under, once every unit it starts by itself has
    /// been started (or is waiting for its dependencies): what `Type=notify` waits for.
    pub(crate) fn tell_manager_ready(&mut self) {
        if self.told_ready {
            return;
        }
        // Under no manager there is no one to tell, and nothing to look at every turn.
        if self.systemd.is_some() && self.units.values().any(|u| u.start_queued) {
            return;
        }
        self.told_ready = true;
        if let Some(systemd) = &self.systemd {
            let status = format!("READY=1\nSTATUS={} units", self.units.len());
            if let Err(e) = systemd.send(&status) {
                tracing::warn!(error = %e, "cannot tell systemd that ward is ready");
            }
        }
    }

    /// `STOPPING=1` to the manager, as a shutdown begins.
    pub(crate) fn tell_manager_stopping(&self) {
        if let Some(systemd) = &self.systemd {
            let _ = systemd.send("STOPPING=1");
        }
    }
}
