//! One step of the machine: an event and the time in, the new state and actions out.
//!
//! The conventions every step keeps (the daemon and the tests rely on them):
//!
//! - **At most one [`Action::Transition`], always first.** It names the state before the
//!   event and the state after it, so the daemon can publish and record the change before it
//!   carries out the effects. A step that passes through an intermediate state (a crash with
//!   a zero backoff goes `running -> starting` directly) reports only the net change; no
//!   transition is emitted when the state is unchanged.
//! - **At most one [`Action::Spawn`], always last.** The daemon answers it (at once, or
//!   once a repair hook, snapshot or restore it waits for has ended) with
//!   [`Event::Spawned`] or [`Event::SpawnFailed`]; being last, that nested step never
//!   interleaves with the rest of this one.
//! - **One timer, with tokens.** Every [`Action::SetTimer`] carries a fresh token and
//!   replaces the previous timer; a [`Event::Timer`] whose token is not the current one, or
//!   that arrives while no timer is armed, is stale and ignored.
//! - **One [`Action::Recovery`] for every end no one asked for.** A crash, an early exit,
//!   a failed spawn or the end of a hung run's stop yields exactly one: a restart with its
//!   delay, no restart by policy, the start limit, or a pending restart given up. The
//!   daemon journals it as it comes and infers nothing from states or counters.
//! - **Unexpected events are ignored, never a panic.** An event that cannot happen under the
//!   daemon's contract in the current state (an exit while no main process exists, a
//!   `Spawned` nobody asked for, a `TreeEmpty` nobody awaits) leaves the machine unchanged
//!   and returns no actions.
//!
//! See `docs/architecture.md` ("Service state machine") for the full table.

use super::backoff::{backoff_delay, unit_random};
use super::{
    Action, AfterStop, Event, ExitStatus, GiveUpReason, Intent, KillMode, Recovery, RestartPolicy,
    ServiceMachine, Signal, SignalTarget, SpawnFailure, State,
};
use std::time::Duration;

impl ServiceMachine {
    /// Feeds one event in at monotonic time `now` and returns what the daemon must do, in
    /// order.
    ///
    /// `now` is the caller's monotonic clock since an arbitrary epoch; it should never go
    /// backwards (if it does, elapsed times saturate at zero). The first action, if the state
    /// changed, is [`Action::Transition`]; [`Action::Spawn`], if any, is the last.
    pub fn handle(&mut self, event: Event, now: Duration) -> Vec<Action> {
        let from = self.state;
        let mut out = Vec::new();
        match event {
            Event::Start => self.on_start(&mut out),
            Event::Stop => self.on_stop(&mut out),
            Event::Restart => self.on_restart(&mut out),
            Event::Spawned { pid } => self.on_spawned(pid, now, &mut out),
            Event::SpawnFailed(failure) => self.on_spawn_failed(failure, now, &mut out),
            Event::Exited(status) => self.on_exited(status, now, &mut out),
            Event::Adopted { pid } => self.on_adopted(pid, now),
            Event::RestoredCompleted => {
                if self.state == State::Stopped && self.pid.is_none() && self.params.oneshot {
                    self.intent = Intent::Run;
                    self.state = State::Completed;
                }
            }
            Event::GiveUp(reason) => self.on_give_up(reason, &mut out),
            Event::TreeEmpty => self.on_tree_empty(&mut out),
            Event::Hung => self.on_hung(now, &mut out),
            Event::Timer { token } => self.on_timer(token, &mut out),
            Event::ExtendStop { after } => {
                if self.state == State::Stopping && self.timer_armed {
                    self.arm(after, &mut out);
                }
            }
        }
        if self.state != from {
            out.insert(
                0,
                Action::Transition {
                    from,
                    to: self.state,
                },
            );
        }
        out
    }

    /// True between [`Action::Spawn`] and its answer.
    fn spawn_pending(&self) -> bool {
        self.state == State::Starting && self.pid.is_none()
    }

    fn on_start(&mut self, out: &mut Vec<Action>) {
        self.intent = Intent::Run;
        match self.state {
            State::Stopped | State::Exited | State::Failed | State::Completed => {
                self.fresh_start(out)
            }
            // Already trying: skip the wait, but remember the failures, so a crash loop
            // nudged by `ward start` still backs off and still hits the start limit.
            State::Backoff => {
                self.disarm(out);
                self.spawn(out);
            }
            State::Starting | State::Running => {}
            State::Stopping => self.after_stop = AfterStop::Start,
        }
    }

    fn on_stop(&mut self, out: &mut Vec<Action>) {
        self.intent = Intent::Stop;
        self.after_stop = AfterStop::Stay;
        match self.state {
            // No process yet: the answer to the pending spawn sees the intent and stops.
            State::Starting if self.pid.is_none() => {}
            State::Starting | State::Running => self.begin_stop(out),
            State::Backoff => {
                self.disarm(out);
                self.backoff_delay = None;
                self.state = State::Stopped;
            }
            State::Exited | State::Failed | State::Completed => self.state = State::Stopped,
            State::Stopped | State::Stopping => {}
        }
    }

    fn on_restart(&mut self, out: &mut Vec<Action>) {
        self.intent = Intent::Run;
        match self.state {
            // The spawn in flight is the restart.
            State::Starting if self.pid.is_none() => {}
            State::Starting | State::Running => {
                self.after_stop = AfterStop::Start;
                self.begin_stop(out);
            }
            State::Stopping => self.after_stop = AfterStop::Start,
            State::Stopped | State::Exited | State::Failed | State::Backoff | State::Completed => {
                self.fresh_start(out)
            }
        }
    }

    fn on_spawned(&mut self, pid: u32, now: Duration, out: &mut Vec<Action>) {
        if !self.spawn_pending() {
            // Nobody asked for this process; the daemon's contract rules it out.
            return;
        }
        self.pid = Some(pid);
        self.started_at = Some(now);
        self.last_spawn_failure = None;
        self.counters.spawns += 1;
        if self.intent == Intent::Stop {
            // A stop arrived while the spawn was in flight: stop what we just started.
            self.begin_stop(out);
        } else if self.params.min_uptime.is_zero() || self.params.oneshot {
            // A task runs from its spawn: its end, not its uptime, says how it went.
            self.state = State::Running;
        } else {
            self.arm(self.params.min_uptime, out);
        }
    }

    /// Only a restart that is still waiting can be given up; anything else is left as it is.
    fn on_give_up(&mut self, reason: GiveUpReason, out: &mut Vec<Action>) {
        if self.state == State::Backoff {
            self.disarm(out);
            self.backoff_delay = None;
            self.state = State::Failed;
            out.push(Action::Recovery(Recovery::GaveUp(reason)));
        }
    }

    /// Only a fresh machine adopts: `running` at once, since the process has been up
    /// since before this daemon started.
    fn on_adopted(&mut self, pid: u32, now: Duration) {
        if self.state != State::Stopped || self.pid.is_some() {
            return;
        }
        self.pid = Some(pid);
        self.started_at = Some(now);
        self.intent = Intent::Run;
        self.state = State::Running;
    }

    fn on_spawn_failed(&mut self, failure: SpawnFailure, now: Duration, out: &mut Vec<Action>) {
        if !self.spawn_pending() {
            return;
        }
        self.last_spawn_failure = Some(failure);
        if self.intent == Intent::Stop {
            self.counters.failed_starts += 1;
            self.state = State::Stopped;
        } else {
            self.failed_start(now, false, out);
        }
    }

    fn on_exited(&mut self, status: ExitStatus, now: Duration, out: &mut Vec<Action>) {
        if self.pid.is_none() {
            // No main process to have exited (already reaped, or a stray report).
            return;
        }
        self.pid = None;
        self.last_exit = Some(status);
        match self.state {
            State::Stopping => {
                self.main_alive = false;
                match self.params.kill_mode {
                    // The stop timer keeps running: if the rest of the tree ignores the stop
                    // signal, its expiry still escalates to `KillTree`.
                    KillMode::Tree => out.push(Action::AwaitTreeEmpty),
                    KillMode::Main => self.stop_complete(out),
                }
            }
            State::Starting => {
                self.disarm(out);
                self.failed_start(now, true, out);
            }
            State::Running if self.params.oneshot => {
                self.disarm(out);
                if self.params.kill_mode == KillMode::Tree {
                    out.push(Action::KillTree);
                }
                if self.params.success.accepts(status) {
                    self.consecutive_failures = 0;
                    self.state = State::Completed;
                } else {
                    self.failed_start(now, false, out);
                }
            }
            State::Running => {
                self.disarm(out);
                self.forget_failures_after_a_good_run(now);
                if self.params.kill_mode == KillMode::Tree {
                    out.push(Action::KillTree);
                }
                let restart = match self.params.restart {
                    RestartPolicy::Never => false,
                    RestartPolicy::OnFailure => !self.params.success.accepts(status),
                    RestartPolicy::Always => true,
                };
                if restart {
                    self.restart_after_failure(out);
                } else {
                    self.state = State::Exited;
                    out.push(Action::Recovery(Recovery::NoRestart));
                }
            }
            // A pid exists only in the three states above.
            State::Stopped | State::Exited | State::Failed | State::Backoff | State::Completed => {}
        }
    }

    /// A hang ward detected: stop the process, then treat the end as a crash. Only a run
    /// with a process can hang; anything else is left as it is.
    fn on_hung(&mut self, now: Duration, out: &mut Vec<Action>) {
        if !matches!(self.state, State::Starting | State::Running) || self.pid.is_none() {
            return;
        }
        self.forget_failures_after_a_good_run(now);
        self.after_stop = AfterStop::Recover;
        self.begin_stop(out);
    }

    fn on_tree_empty(&mut self, out: &mut Vec<Action>) {
        if self.state == State::Stopping && !self.main_alive {
            self.stop_complete(out);
        }
    }

    fn on_timer(&mut self, token: u64, out: &mut Vec<Action>) {
        if !self.timer_armed || token != self.timer_token {
            return;
        }
        self.timer_armed = false;
        match self.state {
            State::Starting if self.pid.is_some() => self.state = State::Running,
            State::Backoff => self.spawn(out),
            // The stop timeout. SIGKILL cannot be caught or ignored, so the timer is not
            // re-armed: the machine waits for the exit (and the empty tree) for as long as
            // the kernel takes.
            State::Stopping => {
                if self.main_alive && self.params.kill_mode == KillMode::Main {
                    out.push(Action::Signal {
                        target: SignalTarget::Main,
                        signal: Signal::KILL,
                    });
                } else {
                    // Tree mode, or the main process is gone and the rest of the tree is
                    // what keeps the stop from completing.
                    out.push(Action::KillTree);
                }
            }
            // No timer is ever armed in these states; a fire here has nothing to do.
            State::Starting
            | State::Running
            | State::Stopped
            | State::Exited
            | State::Failed
            | State::Completed => {}
        }
    }

    /// Signals the service to stop and arms the stop timeout.
    fn begin_stop(&mut self, out: &mut Vec<Action>) {
        self.state = State::Stopping;
        self.main_alive = true;
        let target = match self.params.kill_mode {
            KillMode::Tree => SignalTarget::Tree,
            KillMode::Main => SignalTarget::Main,
        };
        out.push(Action::Signal {
            target,
            signal: self.params.stop_signal,
        });
        // A SIGSTOPped process would keep the stop signal pending forever.
        out.push(Action::Signal {
            target,
            signal: Signal::CONT,
        });
        self.arm(self.params.stop_timeout, out);
    }

    /// Every process is gone after a stop: stay stopped, or start afresh after a restart.
    fn stop_complete(&mut self, out: &mut Vec<Action>) {
        self.disarm(out);
        self.main_alive = false;
        match self.after_stop {
            AfterStop::Start => {
                self.after_stop = AfterStop::Stay;
                self.intent = Intent::Run;
                self.fresh_start(out);
            }
            AfterStop::Stay => self.state = State::Stopped,
            AfterStop::Recover => {
                self.after_stop = AfterStop::Stay;
                if self.params.restart == RestartPolicy::Never {
                    self.state = self.not_restarted();
                    out.push(Action::Recovery(Recovery::NoRestart));
                } else {
                    self.restart_after_failure(out);
                }
            }
        }
    }

    /// A run that ended before `min_uptime`, or an exec failure.
    fn failed_start(&mut self, now: Duration, exited: bool, out: &mut Vec<Action>) {
        self.counters.failed_starts += 1;
        if exited && self.params.kill_mode == KillMode::Tree {
            out.push(Action::KillTree);
        }
        let limit = self.params.start_limit;
        let window_start = now.saturating_sub(limit.interval);
        self.failed_start_times.push_back(now);
        while self
            .failed_start_times
            .front()
            .is_some_and(|&t| t < window_start)
        {
            self.failed_start_times.pop_front();
        }
        if self.failed_start_times.len() > limit.burst as usize {
            self.backoff_delay = None;
            self.state = State::Failed;
            out.push(Action::Recovery(Recovery::StartLimit));
        } else if self.params.restart == RestartPolicy::Never {
            self.state = self.not_restarted();
            out.push(Action::Recovery(Recovery::NoRestart));
        } else {
            self.restart_after_failure(out);
        }
    }

    /// Where a failed run that is not restarted leaves the unit: a service `exited`, a
    /// task `failed` (a task's only other end is `completed`).
    fn not_restarted(&self) -> State {
        if self.params.oneshot {
            State::Failed
        } else {
            State::Exited
        }
    }

    /// An automatic restart: wait out the backoff, or spawn at once if the delay is zero.
    fn restart_after_failure(&mut self, out: &mut Vec<Action>) {
        self.counters.restarts += 1;
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let unit = unit_random(&mut self.rng);
        let delay = backoff_delay(&self.params.backoff, self.consecutive_failures, unit);
        out.push(Action::Recovery(Recovery::Restart { delay }));
        if delay.is_zero() {
            self.spawn(out);
        } else {
            self.state = State::Backoff;
            self.backoff_delay = Some(delay);
            self.arm(delay, out);
        }
    }

    /// A run that lasted `backoff.reset_after` ends the series of failures before it: the
    /// next backoff starts from `initial` again.
    fn forget_failures_after_a_good_run(&mut self, now: Duration) {
        let started = self.started_at.unwrap_or(now);
        if now.saturating_sub(started) >= self.params.backoff.reset_after {
            self.consecutive_failures = 0;
        }
    }

    /// An operator's start: earlier failures and the start-limit window are forgotten.
    fn fresh_start(&mut self, out: &mut Vec<Action>) {
        self.consecutive_failures = 0;
        self.failed_start_times.clear();
        self.disarm(out);
        self.spawn(out);
    }

    /// Asks for a spawn; must be the last action of the step.
    fn spawn(&mut self, out: &mut Vec<Action>) {
        self.state = State::Starting;
        self.pid = None;
        self.main_alive = false;
        self.backoff_delay = None;
        out.push(Action::Spawn);
    }

    fn arm(&mut self, after: Duration, out: &mut Vec<Action>) {
        self.timer_token = self.timer_token.wrapping_add(1);
        self.timer_armed = true;
        out.push(Action::SetTimer {
            token: self.timer_token,
            after,
        });
    }

    fn disarm(&mut self, out: &mut Vec<Action>) {
        if self.timer_armed {
            self.timer_armed = false;
            out.push(Action::CancelTimer);
        }
    }
}

// The tests live beside this file (`machine/tests.rs`, `machine/proptests.rs`); declared
// here so that `machine.rs`, which the daemon is written against, stays as it is.
#[cfg(test)]
#[path = "tests.rs"]
mod tests;

#[cfg(test)]
#[path = "proptests.rs"]
mod proptests;

#[cfg(test)]
#[path = "oneshot_tests.rs"]
mod oneshot_tests;
