//! The lifecycle hooks of a service, carried out around each run of its main process:
//! `pre_start` before the spawn (a failure fails the start), `post_start` after it (the
//! run is ready for its dependents only once it succeeded), `pre_stop` before the stop
//! signal (which waits for it, within the stop timeout), `post_stop` after every end (the
//! next spawn waits for it). Each is a hook like `repair`: the service's confinement, its
//! own cgroup, `hook_timeout`, output in the unit's log, its outcome journaled.

use ward_core::ExitStatus;
use ward_core::machine::{Event, SignalTarget, SpawnFailure};
use ward_core::{Signal, machine::State};

use crate::hooks::{HookFailure, HookKind};
use crate::logs;
use crate::supervisor::Supervisor;

/// What a spawn waits for, in the order it is done: a `post_stop` still running, the
/// `repair` hook, the data snapshot or restore, `pre_start`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Prep {
    PostStop,
    Repair,
    Files,
    PreStart,
}

/// The stop signals of a stop held back while `pre_stop` runs: for which main process,
/// to whom, which signals.
#[derive(Clone, Debug)]
pub(crate) struct HeldStop {
    pub main: u32,
    pub target: SignalTarget,
    pub signals: Vec<Signal>,
}

impl Supervisor {
    /// A spawn the machine asked for, once what it waits for from `from` on is done.
    /// Returns the machine's answer when the spawn happened now; `None` when a hook or
    /// file work runs first, whose end answers it, or when the spawn was launched
    /// (`detach_spawns`), which `answer_launch` answers.
    pub(crate) fn spawn_after(&mut self, name: &str, from: Prep) -> Option<Event> {
        let waits = (from <= Prep::PostStop && self.post_stop_first(name))
            || (from <= Prep::Repair && self.repair_first(name))
            || (from <= Prep::Files && self.files_first(name))
            || self.pre_start_first(name);
        if waits {
            return None;
        }
        if !self.detach_spawns {
            return Some(self.spawn(name));
        }
        match self.spawn_begin(name, true) {
            Ok(pending) => {
                self.launches.push_back((name.to_string(), pending));
                None
            }
            Err(answer) => Some(answer),
        }
    }

    /// The spawn waits while the last run's `post_stop` cleans up.
    fn post_stop_first(&mut self, name: &str) -> bool {
        let running = self
            .hooks
            .values()
            .any(|h| h.unit == name && h.kind == HookKind::PostStop && !h.cancelled);
        if let Some(unit) = self.units.get_mut(name) {
            unit.spawn_after_post_stop = running;
        }
        running
    }

    fn pre_start_first(&mut self, name: &str) -> bool {
        let Some(argv) = self
            .units
            .get(name)
            .and_then(|u| u.instance.service.lifecycle.pre_start.clone())
        else {
            return false;
        };
        self.start_hook(name, HookKind::PreStart, argv, None)
    }

    /// The main process was spawned: its `post_start` runs now.
    pub(crate) fn post_start(&mut self, name: &str, main: u32) {
        let Some(argv) = self
            .units
            .get(name)
            .and_then(|u| u.instance.service.lifecycle.post_start.clone())
        else {
            return;
        };
        if let Some(unit) = self.units.get_mut(name) {
            unit.post_start_pending = true;
        }
        self.start_hook(name, HookKind::PostStart { main }, argv, None);
    }

    /// A stop of a live run begins: `pre_stop` runs, and the stop signals wait for it.
    /// Returns true when they are to be held.
    pub(crate) fn pre_stop(&mut self, name: &str) -> bool {
        let Some(unit) = self.units.get_mut(name) else {
            return false;
        };
        let (Some(argv), Some(main)) = (
            unit.instance.service.lifecycle.pre_stop.clone(),
            unit.main.as_ref().map(|m| m.pidfd.pid()),
        ) else {
            return false;
        };
        unit.held_stop = Some(Box::new(HeldStop {
            main,
            target: SignalTarget::Main,
            signals: Vec::new(),
        }));
        if self.start_hook(name, HookKind::PreStop { main }, argv, None) {
            true
        } else {
            // It could not start (its end was already handled): signal at once.
            if let Some(unit) = self.units.get_mut(name) {
                unit.held_stop = None;
            }
            false
        }
    }

    /// A stop signal of the step that began the stop, held while `pre_stop` runs.
    pub(crate) fn hold_signal(&mut self, name: &str, target: SignalTarget, signal: Signal) {
        if let Some(held) = self.units.get_mut(name).and_then(|u| u.held_stop.as_mut()) {
            held.target = target;
            held.signals.push(signal);
        }
    }

    /// `pre_stop` ended (or was killed): the held stop signals go out, if the run they
    /// were for is still being stopped.
    pub(crate) fn release_stop_signals(&mut self, name: &str, kind: HookKind) {
        let HookKind::PreStop { main } = kind else {
            return;
        };
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        let Some(held) = unit.held_stop.take_if(|h| h.main == main) else {
            return;
        };
        let live = unit.main.as_ref().is_some_and(|m| m.pidfd.pid() == main);
        if !live || unit.machine.state() != State::Stopping {
            return;
        }
        match held.target {
            SignalTarget::Tree => self.signal_tree(name, &held.signals),
            SignalTarget::Main => {
                if let Some(m) = &unit.main {
                    for s in held.signals {
                        let _ = m.pidfd.send_signal(s);
                    }
                }
            }
        }
    }

    /// The main process ended: `post_stop` runs with its exit, before the machine hears
    /// of it, so that a restart at once still waits for it.
    pub(crate) fn post_stop(&mut self, name: &str, exit: ExitStatus) {
        let Some(argv) = self
            .units
            .get(name)
            .and_then(|u| u.instance.service.lifecycle.post_stop.clone())
        else {
            return;
        };
        self.start_hook(name, HookKind::PostStop, argv, Some(exit));
    }

    /// A lifecycle hook ended, well or not.
    pub(crate) fn lifecycle_done(
        &mut self,
        name: &str,
        kind: HookKind,
        outcome: Result<(), HookFailure>,
    ) {
        match (kind, outcome) {
            (HookKind::PreStart, Ok(())) => {
                let answer = self.spawn(name);
                self.dispatch(name, answer);
            }
            (HookKind::PreStart, Err(e)) => {
                let failure = SpawnFailure::Other(format!("pre_start hook failed: {e}"));
                if let Some(unit) = self.units.get(name) {
                    logs::note(&self.logs.sink(), &unit.log, &failure.to_string());
                }
                self.judge_exec_failure(name, &failure);
                self.dispatch(name, Event::SpawnFailed(failure));
            }
            (HookKind::PostStart { main }, outcome) => {
                let Some(unit) = self.units.get_mut(name) else {
                    return;
                };
                if unit.main.as_ref().is_none_or(|m| m.pidfd.pid() != main) {
                    return;
                }
                unit.post_start_pending = false;
                if let Err(e) = outcome {
                    self.hung(name, format!("its post_start hook failed: {e}"));
                }
            }
            (HookKind::PreStop { .. }, _) => self.release_stop_signals(name, kind),
            (HookKind::PostStop, _) => {
                let waiting = self
                    .units
                    .get_mut(name)
                    .is_some_and(|u| std::mem::take(&mut u.spawn_after_post_stop));
                if waiting && let Some(answer) = self.spawn_after(name, Prep::Repair) {
                    self.dispatch(name, answer);
                }
            }
            (HookKind::Repair | HookKind::OnFailure | HookKind::Health { .. }, _) => {}
        }
    }
}
