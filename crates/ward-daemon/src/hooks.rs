//! Recovery by policy, carried out: the strategy `ward-core` chose for a crash, the
//! `repair` hook run before such a restart, and the `on_failure` hook run when ward gives
//! up. Hooks are ward's children like any service process: spawned through `ward-sys`,
//! reaped by the one reaper, killed through their pidfd when they outlive `hook_timeout`.

use std::time::Instant;

use ward_core::ExitStatus;
use ward_core::health::ProbeFailure;
use ward_core::machine::{Event, GiveUpReason};
use ward_core::recovery::{Preparation, StrategyStep, strategy_step};
use ward_store::{Record, now_ms};
use ward_sys::Pidfd;
use ward_sys::cgroup::ServiceCgroup;

use crate::logs;
use crate::supervisor::Supervisor;
use crate::unit::Unit;

/// Which hook.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum HookKind {
    Repair,
    OnFailure,
    /// A health probe of the run whose main process is `main`.
    Health {
        main: u32,
    },
    /// `pre_start`: the pending spawn waits for it.
    PreStart,
    /// `post_start` of the run whose main process is `main`.
    PostStart {
        main: u32,
    },
    /// `pre_stop` of the run whose main process is `main`: its stop signal waits for it.
    PreStop {
        main: u32,
    },
    /// `post_stop`: the next spawn waits for it.
    PostStop,
}

impl HookKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            HookKind::Repair => "repair",
            HookKind::OnFailure => "on_failure",
            HookKind::Health { .. } => "health",
            HookKind::PreStart => "pre_start",
            HookKind::PostStart { .. } => "post_start",
            HookKind::PreStop { .. } => "pre_stop",
            HookKind::PostStop => "post_stop",
        }
    }
}

/// The environment of a program ward runs for a unit beside its service (a hook, a
/// probe): the service's, with a marker of its own, so that a stop of the unit, which
/// reaches every process carrying the unit's marker, does not take it along.
pub(crate) fn side_env(name: &str, unit: &Unit, kind: HookKind) -> Vec<(String, String)> {
    let mut env = crate::launch::environment(name, &unit.instance);
    env.retain(|(k, _)| k != ward_sys::tree::UNIT_ENV);
    env.push((
        ward_sys::tree::UNIT_ENV.into(),
        format!("{name}:{}", kind.as_str()),
    ));
    env.push(("WARD_UNIT_NAME".into(), name.into()));
    env
}

/// How ward runs such a program: in the service's directory, as ward's own child, with
/// its output in the unit's log (`to_log`: the runtime dir of the unit's FIFOs) or
/// discarded. One that discards its output (a probe, run every few seconds) also dies
/// with ward.
pub(crate) fn side_spec(
    nofile: ward_sys::limits::Limit,
    unit: &Unit,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    to_log: Option<&std::path::Path>,
    cgroup: Option<&ServiceCgroup>,
) -> std::io::Result<ward_sys::spawn::SpawnSpec> {
    // The service's /tmp, made again if it went (a hook before the first run after a
    // new daemon, say).
    if let Some(dir) = &unit.private_tmp {
        crate::private_tmp::ensure(dir)?;
    }
    let (stdout, stderr) = match to_log {
        Some(runtime_dir) => unit.output_ends(runtime_dir)?,
        None => (ward_sys::spawn::dev_null()?, ward_sys::spawn::dev_null()?),
    };
    Ok(ward_sys::spawn::SpawnSpec {
        argv: crate::launch::expand_argv(&argv, &env).0,
        env,
        cwd: unit.instance.service.cwd.clone(),
        stdin: ward_sys::spawn::dev_null()?,
        stdout,
        stderr,
        cgroups: match cgroup {
            Some(cg) => vec![cg.open_for_join()?],
            None => Vec::new(),
        },
        nofile: Some(nofile),
        // The service's own confinement.
        rlimits: *unit.instance.service.rlimits,
        parent_death_signal: to_log.is_none().then_some(ward_core::Signal::KILL),
        umask: unit.instance.service.umask,
        no_new_privs: unit.instance.service.no_new_privs,
        credentials: unit.instance.service.credentials.as_deref().cloned(),
        capabilities: unit.instance.service.capabilities,
        private_tmp: unit.private_tmp.clone(),
    })
}

/// A cgroup of its own, `name`, for a hook or probe beside the units' (their limits do not
/// apply to it); `None` without cgroups, when the tree and marker find its processes.
pub(crate) fn side_cgroup(
    driver: Option<&ward_sys::cgroup::CgroupDriver>,
    name: &str,
) -> Option<ServiceCgroup> {
    driver?
        .service(name)
        .map_err(|e| {
            tracing::warn!(cgroup = name, error = %e, "no cgroup for the hook; containing it by process tree");
        })
        .ok()
}

/// The name of the cgroup of a unit's hook or probe: `web:health`.
pub(crate) fn side_name(unit: &str, kind: HookKind) -> String {
    format!("{unit}:{}", kind.as_str())
}

/// Why a hook did not succeed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HookFailure {
    /// Its plumbing could not be set up.
    #[error("could not start: {0}")]
    Prepare(#[source] std::io::Error),
    /// The fork or exec failed.
    #[error("could not start: {0}")]
    Spawn(#[source] ward_sys::spawn::SpawnError),
    /// It ran and ended unsuccessfully.
    #[error("{0}")]
    Ended(ExitStatus),
}

/// A hook that runs.
pub(crate) struct Hook {
    pub unit: String,
    pub kind: HookKind,
    pub pidfd: Pidfd,
    pub deadline: Instant,
    /// Killed for outliving its timeout.
    pub timed_out: bool,
    /// Killed because its unit was stopped: its end changes nothing.
    pub cancelled: bool,
    /// Its own cgroup, beside its unit's, where ward has cgroups: everything it starts is
    /// found there, however it leaves the tree.
    pub cgroup: Option<ServiceCgroup>,
}

impl Supervisor {
    /// After a verdict: carries out the strategy chosen for it, as `ward-core` says it is
    /// carried out in the unit's state.
    pub(crate) fn apply_strategy(&mut self, name: &str) {
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        let Some(strategy) = unit.strategy_due.take() else {
            return;
        };
        match strategy_step(strategy, unit.machine.state()) {
            StrategyStep::Nothing => {}
            StrategyStep::RepairBeforeSpawn => unit.repair_before_spawn = true,
            StrategyStep::RestoreBeforeSpawn => unit.restore_before_spawn = true,
            StrategyStep::GiveUpAfterStop => unit.strategy_due = Some(strategy),
            StrategyStep::GiveUp => {
                self.dispatch(name, Event::GiveUp(GiveUpReason::RecoveryTable));
            }
        }
    }

    /// The work a pending spawn waited for failed: the spawn fails, and the machine gives
    /// the restart up (journaling why, if there was one to give up).
    pub(crate) fn preparation_failed(&mut self, name: &str, what: Preparation, error: &str) {
        let (failure, reason) = what.failed(error);
        self.dispatch(name, Event::SpawnFailed(failure));
        self.dispatch(name, Event::GiveUp(reason));
    }

    /// A spawn the machine asked for: run the repair hook first if the strategy says so.
    /// Returns true when the spawn is deferred until the hook ends.
    pub(crate) fn repair_first(&mut self, name: &str) -> bool {
        let Some(unit) = self.units.get_mut(name) else {
            return false;
        };
        if !std::mem::take(&mut unit.repair_before_spawn) {
            return false;
        }
        let Some(argv) = unit.instance.service.repair.clone() else {
            return false;
        };
        self.start_hook(name, HookKind::Repair, argv, None)
    }

    /// The unit just became `failed`: tell whoever `on_failure` reaches.
    pub(crate) fn on_failure(&mut self, name: &str) {
        let Some(argv) = self
            .units
            .get(name)
            .and_then(|u| u.instance.service.on_failure.clone())
        else {
            return;
        };
        self.start_hook(name, HookKind::OnFailure, argv, None);
    }

    /// Starts a hook of `name`'s, with `exit` (default: the unit's last exit) as its
    /// `WARD_EXIT`. Returns true when it runs, or when its failure to start already
    /// answered the spawn that waited for it.
    pub(crate) fn start_hook(
        &mut self,
        name: &str,
        kind: HookKind,
        argv: Vec<String>,
        exit: Option<ExitStatus>,
    ) -> bool {
        // Its output goes to the unit's log: a hook before the unit's first run (a
        // `pre_start`) needs the unit's pipes made first.
        self.ensure_set_up(name);
        let output = self.set_up_output(name);
        let Some(unit) = self.units.get(name) else {
            return false;
        };
        if let Err(why) = output {
            logs::note(
                &self.logs.sink(),
                &unit.log,
                &format!("{} hook has no log: {why}", kind.as_str()),
            );
        }
        let sink = self.logs.sink();
        let mut env = side_env(name, unit, kind);
        env.push(("WARD_HOOK".into(), kind.as_str().into()));
        if let Some((v, _)) = unit.verdict.as_deref() {
            env.push(("WARD_CLASS".into(), v.class.as_str().into()));
            env.push(("WARD_SEVERITY".into(), v.severity.as_str().into()));
            env.push(("WARD_SUMMARY".into(), v.summary.clone()));
            env.push(("WARD_EVIDENCE".into(), v.evidence.join("; ")));
        }
        if let Some(exit) = exit.or(unit.machine.last_exit()) {
            env.push(("WARD_EXIT".into(), exit.to_string()));
        }
        if let HookKind::PostStart { main } | HookKind::PreStop { main } = kind {
            env.push(("WARD_MAIN_PID".into(), main.to_string()));
        }
        let cgroup = side_cgroup(self.cgroups.as_ref(), &side_name(name, kind));
        let spec = side_spec(
            self.nofile,
            unit,
            argv,
            env,
            Some(&self.config.supervisor.runtime_dir),
            cgroup.as_ref(),
        );
        let timeout = unit.instance.service.hook_timeout;
        let result = spec
            .map_err(HookFailure::Prepare)
            .and_then(|s| ward_sys::spawn::spawn(s).map_err(HookFailure::Spawn));
        match result {
            Ok(spawned) => {
                let pid = spawned.pidfd.pid();
                logs::note(
                    &sink,
                    &unit.log,
                    &format!("{} hook started, pid {pid}", kind.as_str()),
                );
                self.hooks.insert(
                    pid,
                    Hook {
                        unit: name.to_string(),
                        kind,
                        pidfd: spawned.pidfd,
                        deadline: Instant::now() + timeout,
                        timed_out: false,
                        cancelled: false,
                        cgroup,
                    },
                );
                true
            }
            Err(e) => {
                logs::note(&sink, &unit.log, &format!("{} hook {e}", kind.as_str()));
                if let Some(cg) = cgroup {
                    self.retire_side_cgroup(cg);
                }
                self.hook_result(name, kind, Err(e));
                // A repair's or pre_start's failure answered the pending spawn: nothing
                // else may start it.
                matches!(kind, HookKind::Repair | HookKind::PreStart)
            }
        }
    }

    /// A hook was reaped.
    pub(crate) fn hook_ended(&mut self, pid: u32, status: ward_core::ExitStatus) {
        if self.event_hook_ended(pid, status) {
            return;
        }
        let Some(mut hook) = self.hooks.remove(&pid) else {
            return;
        };
        // What it left running ends with it.
        if let Some(cg) = hook.cgroup.take() {
            let _ = cg.kill_all();
            self.retire_side_cgroup(cg);
        }
        if hook.cancelled {
            if let Some(unit) = self.units.get(&hook.unit) {
                logs::note(
                    &self.logs.sink(),
                    &unit.log,
                    &format!("{} stopped with its unit: {status}", hook.kind.as_str()),
                );
            }
            self.hook_cancelled(&hook.unit, hook.kind);
            return;
        }
        if let HookKind::Health { main } = hook.kind {
            let timeout = self
                .units
                .get(&hook.unit)
                .and_then(|u| u.instance.service.health.as_ref())
                .map(|h| h.timeout)
                .unwrap_or_default();
            let outcome = match (hook.timed_out, status.is_clean()) {
                (true, _) => Err(ProbeFailure::TimedOut(timeout)),
                (false, true) => Ok(()),
                (false, false) => Err(ProbeFailure::Ended(status)),
            };
            self.probe_done(&hook.unit, main, outcome);
            return;
        }
        let outcome = if status.is_clean() {
            Ok(())
        } else {
            Err(HookFailure::Ended(status))
        };
        if let Some(unit) = self.units.get(&hook.unit) {
            logs::note(
                &self.logs.sink(),
                &unit.log,
                &format!("{} hook ended: {status}", hook.kind.as_str()),
            );
        }
        self.hook_result(&hook.unit, hook.kind, outcome);
    }

    /// What follows a hook: a repaired unit is spawned now; a failed repair gives up.
    fn hook_result(&mut self, name: &str, kind: HookKind, outcome: Result<(), HookFailure>) {
        let verdict = match &outcome {
            Ok(()) => "succeeded".to_string(),
            Err(e) => format!("failed: {e}"),
        };
        self.journal.record(Record::Recovery {
            unit: name.to_string(),
            at_ms: now_ms(),
            action: format!("{} hook {verdict}", kind.as_str()),
            delay_ms: None,
        });
        if !self.units.contains_key(name) {
            return;
        }
        match (kind, outcome) {
            (HookKind::Repair, Ok(())) => {
                if let Some(answer) = self.spawn_after(name, crate::lifecycle::Prep::Files) {
                    self.dispatch(name, answer);
                }
            }
            (HookKind::Repair, Err(e)) => {
                self.preparation_failed(name, Preparation::Repair, &e.to_string())
            }
            (
                HookKind::PreStart
                | HookKind::PostStart { .. }
                | HookKind::PreStop { .. }
                | HookKind::PostStop,
                outcome,
            ) => self.lifecycle_done(name, kind, outcome),
            (HookKind::OnFailure | HookKind::Health { .. }, _) => {}
        }
    }

    /// A hook killed because its unit was stopped or restarted: what waited for it goes
    /// on.
    fn hook_cancelled(&mut self, name: &str, kind: HookKind) {
        let Some(unit) = self.units.get(name) else {
            return;
        };
        let wants_run = unit.machine.intent() == ward_core::machine::Intent::Run;
        match kind {
            // The spawn that waited: a stop ends it; a restart goes on without the repair,
            // or runs its pre_start again.
            HookKind::Repair | HookKind::PreStart => {
                let answer = if wants_run {
                    let from = match kind {
                        HookKind::Repair => crate::lifecycle::Prep::Files,
                        _ => crate::lifecycle::Prep::PreStart,
                    };
                    self.spawn_after(name, from)
                } else {
                    Some(Event::SpawnFailed(ward_core::machine::SpawnFailure::Other(
                        format!("stopped during its {} hook", kind.as_str()),
                    )))
                };
                if let Some(answer) = answer {
                    self.dispatch(name, answer);
                }
            }
            HookKind::PreStop { .. } => self.release_stop_signals(name, kind),
            HookKind::PostStart { .. } => {
                if let Some(unit) = self.units.get_mut(name) {
                    unit.post_start_pending = false;
                }
            }
            HookKind::PostStop | HookKind::OnFailure | HookKind::Health { .. } => {}
        }
    }

    /// Hooks past their timeout are killed; their end comes through the reaper.
    pub(crate) fn kill_late_hooks(&mut self) {
        self.retired_side_cgroups.retain(|cg| {
            cg.remove()
                .is_err_and(|e| e.kind() != std::io::ErrorKind::NotFound)
        });
        let now = Instant::now();
        let late: Vec<u32> = self
            .hooks
            .iter()
            .filter(|(_, h)| h.deadline <= now)
            .map(|(&pid, _)| pid)
            .collect();
        for pid in late {
            self.kill_hook_tree(pid);
            let Some(hook) = self.hooks.get_mut(&pid) else {
                continue;
            };
            // Once: the next deadline is far away, the reaper reports the end.
            hook.deadline = now + std::time::Duration::from_secs(3600);
            hook.timed_out = true;
            if !matches!(hook.kind, HookKind::Health { .. }) {
                tracing::warn!(unit = %hook.unit, hook = hook.kind.as_str(), "hook killed after hook_timeout");
            }
        }
    }

    /// A unit is stopped: its health probe, a repair hook or `pre_start` before its
    /// restart, `post_start` and `pre_stop` end with it, and everything they started. An
    /// `on_failure` hook reports a failure that has happened, and `post_stop` cleans up
    /// after one: they run on.
    pub(crate) fn stop_side_processes(&mut self, name: &str) {
        let mine: Vec<u32> = self
            .hooks
            .iter()
            .filter(|(_, h)| {
                // A report of a failure, and a cleanup after an end, run on.
                h.unit == name && !matches!(h.kind, HookKind::OnFailure | HookKind::PostStop)
            })
            .map(|(&pid, _)| pid)
            .collect();
        for pid in mine {
            self.kill_hook_tree(pid);
            if let Some(hook) = self.hooks.get_mut(&pid) {
                hook.cancelled = true;
            }
        }
    }

    /// Removes the cgroup of a hook that ended, now or, while its killed processes are
    /// still on their way out, at a later turn.
    pub(crate) fn retire_side_cgroup(&mut self, cg: ServiceCgroup) {
        if cg
            .remove()
            .is_err_and(|e| e.kind() != std::io::ErrorKind::NotFound)
        {
            self.retired_side_cgroups.push(cg);
        }
    }

    /// SIGKILLs a hook and every process it started: everything in its cgroup; without
    /// one, its descendants and those that left its tree (a double fork, `setsid`) and
    /// were re-parented to ward, found by the marker in their environment (`side_env`).
    /// Its PID alone would leave them running.
    pub(crate) fn kill_hook_tree(&mut self, pid: u32) {
        let Some(hook) = self.hooks.get(&pid) else {
            return;
        };
        if let Some(cg) = &hook.cgroup {
            // The cgroup holds all of it, whatever its processes did to their environment.
            let _ = cg.kill_all();
            let _ = hook.pidfd.send_signal(ward_core::Signal::KILL);
            return;
        }
        let marker = format!("{}:{}", hook.unit, hook.kind.as_str());
        // The tree is read while the hook still holds it together, then all of it dies.
        let roots = crate::contain::TreeRoots {
            unit: &marker,
            main: Some(pid),
            ward: self.me,
        };
        self.procs.forget();
        let _ = crate::contain::Containment::Tree.kill_all(roots, &mut self.procs);
        let _ = hook.pidfd.send_signal(ward_core::Signal::KILL);
        self.procs.forget();
    }
}
