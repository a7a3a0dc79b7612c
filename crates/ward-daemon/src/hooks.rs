//! Recovery by policy: the strategy a unit's recovery table names for a crash class, the
//! `repair` hook run before such a restart, and the `on_failure` hook run when ward gives
//! up. Hooks are ward's children like any service process: spawned through `ward-sys`,
//! reaped by the one reaper, killed through their pidfd when they outlive `hook_timeout`.

use std::time::Instant;

use ward_core::config::Strategy;
use ward_core::machine::{Event, SpawnFailure, State};
use ward_store::{Record, now_ms};
use ward_sys::Pidfd;

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
}

impl HookKind {
    fn as_str(self) -> &'static str {
        match self {
            HookKind::Repair => "repair",
            HookKind::OnFailure => "on_failure",
            HookKind::Health { .. } => "health",
        }
    }
}

/// Work on a unit's `data` paths that a spawn waits for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum FileJob {
    /// A snapshot before a clean start.
    Snapshot,
    /// Putting the last snapshot back before a restart.
    Restore,
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
/// its output in the unit's log (`to_log`) or discarded. One that discards its output
/// (a probe, run every few seconds) also dies with ward.
pub(crate) fn side_spec(
    nofile: ward_sys::limits::Limit,
    unit: &Unit,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    to_log: bool,
) -> std::io::Result<ward_sys::spawn::SpawnSpec> {
    let (stdout, stderr) = if to_log {
        unit.output_ends()?
    } else {
        (ward_sys::spawn::dev_null()?, ward_sys::spawn::dev_null()?)
    };
    Ok(ward_sys::spawn::SpawnSpec {
        argv,
        env,
        cwd: unit.instance.service.cwd.clone(),
        stdin: ward_sys::spawn::dev_null()?,
        stdout,
        stderr,
        cgroup_procs: Vec::new(),
        nofile: Some(nofile),
        rlimits: Default::default(),
        parent_death_signal: (!to_log).then_some(ward_core::Signal::KILL),
    })
}

/// A hook that runs.
pub(crate) struct Hook {
    pub unit: String,
    pub kind: HookKind,
    pub pidfd: Pidfd,
    pub deadline: Instant,
    /// Killed for outliving its timeout.
    pub timed_out: bool,
}

impl Supervisor {
    /// After a verdict: carries out the strategy the unit's recovery table chose for it.
    pub(crate) fn apply_strategy(&mut self, name: &str) {
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        let Some(strategy) = unit.strategy_due.take() else {
            return;
        };
        match strategy {
            Strategy::Backoff => {}
            Strategy::Repair => unit.repair_before_spawn = true,
            Strategy::Restore => unit.restore_before_spawn = true,
            // A hung run is still being stopped: give up once the stop is over.
            Strategy::GiveUp if unit.machine.state() == State::Stopping => {
                unit.strategy_due = Some(strategy);
            }
            Strategy::GiveUp => self.give_up(name, "give up: the recovery table says so"),
        }
    }

    /// Turns a pending restart into `failed`, saying why in the journal.
    fn give_up(&mut self, name: &str, why: &str) {
        if self.units.get(name).map(|u| u.machine.state()) != Some(State::Backoff) {
            return;
        }
        self.journal.record(Record::Recovery {
            unit: name.to_string(),
            at_ms: now_ms(),
            action: why.to_string(),
            delay_ms: None,
        });
        self.dispatch(name, Event::GiveUp);
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
        self.start_hook(name, HookKind::Repair, argv)
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
        self.start_hook(name, HookKind::OnFailure, argv);
    }

    fn start_hook(&mut self, name: &str, kind: HookKind, argv: Vec<String>) -> bool {
        let Some(unit) = self.units.get(name) else {
            return false;
        };
        let sink = self.logs.sink();
        let mut env = side_env(name, unit, kind);
        env.push(("WARD_HOOK".into(), kind.as_str().into()));
        if let Some((v, _)) = &unit.verdict {
            env.push(("WARD_CLASS".into(), v.class.as_str().into()));
            env.push(("WARD_SEVERITY".into(), v.severity.as_str().into()));
            env.push(("WARD_SUMMARY".into(), v.summary.clone()));
            env.push(("WARD_EVIDENCE".into(), v.evidence.join("; ")));
        }
        if let Some(exit) = unit.machine.last_exit() {
            env.push(("WARD_EXIT".into(), exit.to_string()));
        }
        let spec = side_spec(self.nofile, unit, argv, env, true);
        let timeout = unit.instance.service.hook_timeout;
        let result = spec
            .map_err(|e| e.to_string())
            .and_then(|s| ward_sys::spawn::spawn(s).map_err(|e| e.to_string()));
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
                    },
                );
                true
            }
            Err(e) => {
                logs::note(
                    &sink,
                    &unit.log,
                    &format!("{} hook could not start: {e}", kind.as_str()),
                );
                self.hook_result(name, kind, Err(format!("could not start: {e}")));
                // A repair's failure answered the pending spawn: nothing else may start it.
                kind == HookKind::Repair
            }
        }
    }

    /// A hook was reaped.
    pub(crate) fn hook_ended(&mut self, pid: u32, status: ward_core::ExitStatus) {
        let Some(hook) = self.hooks.remove(&pid) else {
            return;
        };
        if let HookKind::Health { main } = hook.kind {
            let outcome = match (hook.timed_out, status.is_clean()) {
                (true, _) => Err(format!(
                    "the probe timed out after {}",
                    self.units
                        .get(&hook.unit)
                        .and_then(|u| u.instance.service.health.as_ref())
                        .map(|h| ward_core::duration::format_duration(h.timeout))
                        .unwrap_or_default()
                )),
                (false, true) => Ok(()),
                (false, false) => Err(format!("the probe ended with {status}")),
            };
            self.probe_done(&hook.unit, main, outcome);
            return;
        }
        let outcome = if status.is_clean() {
            Ok(())
        } else {
            Err(status.to_string())
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
    fn hook_result(&mut self, name: &str, kind: HookKind, outcome: Result<(), String>) {
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
        if kind != HookKind::Repair || !self.units.contains_key(name) {
            return;
        }
        match outcome {
            Ok(()) => {
                let answer = self.spawn(name);
                self.dispatch(name, answer);
            }
            Err(e) => {
                let failure = SpawnFailure::Other(format!("the repair hook failed ({e})"));
                self.dispatch(name, Event::SpawnFailed(failure));
                // A repair that did not work leaves nothing to try.
                self.give_up(name, "give up: the repair did not work");
            }
        }
    }

    /// A spawn the machine asked for: restore the data first if the strategy says so, or
    /// snapshot it first if this is a clean start. Returns true when the spawn waits.
    pub(crate) fn files_first(&mut self, name: &str) -> bool {
        // A verdict still settling is a crash not yet named: not a clean end to snapshot.
        let settling = self.pending.iter().any(|p| p.unit == name);
        let state_dir = self.config.supervisor.state_dir.clone();
        let Some(unit) = self.units.get_mut(name) else {
            return false;
        };
        let data = unit.instance.service.data.clone();
        if data.is_empty() {
            return false;
        }
        let job = if std::mem::take(&mut unit.restore_before_spawn) {
            FileJob::Restore
        } else if !settling
            && unit
                .verdict
                .as_ref()
                .is_none_or(|(v, _)| !v.class.is_crash())
        {
            // The first start, or one after a clean end: the data is known good.
            FileJob::Snapshot
        } else {
            return false;
        };
        let keep = unit.instance.service.data_snapshots as usize;
        let (tx, unit_name) = (self.files_tx.clone(), name.to_string());
        tokio::task::spawn_blocking(move || {
            let outcome = match job {
                FileJob::Snapshot => crate::snapshots::take(&state_dir, &unit_name, &data, keep),
                FileJob::Restore => crate::snapshots::restore_latest(&state_dir, &unit_name, &data),
            };
            let outcome = outcome
                .map(|p| p.display().to_string())
                .map_err(|e| e.to_string());
            let _ = tx.send((unit_name, job, outcome));
        });
        true
    }

    /// A snapshot or restore ended: the waiting spawn happens now (a failed snapshot is
    /// noted and does not hold the start back; a failed restore gives up).
    pub(crate) fn file_job_done(
        &mut self,
        name: &str,
        job: FileJob,
        outcome: Result<String, String>,
    ) {
        let Some(unit) = self.units.get(name) else {
            return;
        };
        let sink = self.logs.sink();
        let text = match (job, &outcome) {
            (FileJob::Snapshot, Ok(p)) => format!("data snapshot taken: {p}"),
            (FileJob::Snapshot, Err(e)) => format!("data snapshot failed: {e}"),
            (FileJob::Restore, Ok(p)) => format!("data restored from {p}"),
            (FileJob::Restore, Err(e)) => format!("data restore failed: {e}"),
        };
        logs::note(&sink, &unit.log, &text);
        if job == FileJob::Restore {
            self.journal.record(Record::Recovery {
                unit: name.to_string(),
                at_ms: now_ms(),
                action: text.clone(),
                delay_ms: None,
            });
        } else {
            self.journal.record(Record::Daemon {
                at_ms: now_ms(),
                what: "data snapshot".into(),
                detail: format!("{name}: {text}"),
            });
        }
        match (job, outcome) {
            (FileJob::Restore, Err(e)) => {
                let failure = SpawnFailure::Other(format!("the data restore failed ({e})"));
                self.dispatch(name, Event::SpawnFailed(failure));
                self.give_up(name, "give up: the data restore did not work");
            }
            _ => {
                let answer = self.spawn(name);
                self.dispatch(name, answer);
            }
        }
    }

    /// Hooks past their timeout are killed; their end comes through the reaper.
    pub(crate) fn kill_late_hooks(&mut self) {
        let now = Instant::now();
        for hook in self.hooks.values_mut() {
            if hook.deadline <= now {
                let _ = hook.pidfd.send_signal(ward_core::Signal::KILL);
                // Once: the next deadline is far away, the reaper reports the end.
                hook.deadline = now + std::time::Duration::from_secs(3600);
                hook.timed_out = true;
                if matches!(hook.kind, HookKind::Health { .. }) {
                    continue;
                }
                tracing::warn!(unit = %hook.unit, hook = hook.kind.as_str(), "hook killed after hook_timeout");
            }
        }
    }
}
