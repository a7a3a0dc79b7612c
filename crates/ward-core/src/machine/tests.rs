//! One test per transition of the service state machine, driven on a fake clock.

use crate::config::{Backoff, KillMode, RestartPolicy, StartLimit};
use crate::machine::{
    Action, AfterStop, Event, GiveUpReason, Intent, Params, Recovery, ServiceMachine, SignalTarget,
    SpawnFailure, State,
};
use crate::{ExitStatus, Signal};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Defaults as documented, without jitter so delays are exact.
fn params() -> Params {
    Params {
        restart: RestartPolicy::Always,
        backoff: Backoff {
            initial: ms(100),
            max: secs(30),
            factor: 2.0,
            jitter: 0.0,
            reset_after: secs(30),
        },
        min_uptime: secs(1),
        start_limit: StartLimit {
            burst: 5,
            interval: secs(60),
        },
        stop_signal: Signal::TERM,
        stop_timeout: secs(10),
        kill_mode: KillMode::Tree,
        oneshot: false,
        success: Default::default(),
    }
}

const CRASH: ExitStatus = ExitStatus::Exited(1);
const CLEAN: ExitStatus = ExitStatus::Exited(0);

fn killed(signal: Signal) -> ExitStatus {
    ExitStatus::Signaled {
        signal,
        core_dumped: false,
    }
}

/// A machine on a fake clock.
struct Harness {
    m: ServiceMachine,
    now: Duration,
}

impl Harness {
    fn new(params: Params) -> Self {
        Harness {
            m: ServiceMachine::new(params, 7),
            now: secs(1000),
        }
    }

    fn ev(&mut self, event: Event) -> Vec<Action> {
        self.m.handle(event, self.now)
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// The token of the timer the machine armed last.
    fn token(&self) -> u64 {
        self.m.timer_token
    }

    /// The armed timer fires (after its delay has passed on the fake clock).
    fn fire(&mut self) -> Vec<Action> {
        assert!(self.m.timer_armed, "no timer armed in {:?}", self.m.state);
        let token = self.token();
        self.ev(Event::Timer { token })
    }

    /// Start, spawn as `pid`, and wait out `min_uptime`: the service is running.
    fn running(params: Params, pid: u32) -> Self {
        let mut h = Harness::new(params);
        h.ev(Event::Start);
        h.ev(Event::Spawned { pid });
        if h.m.state == State::Starting {
            h.advance(h.m.params.min_uptime);
            h.fire();
        }
        assert_eq!(h.m.state, State::Running);
        h
    }
}

fn transition(from: State, to: State) -> Action {
    Action::Transition { from, to }
}

fn set_timer(token: u64, after: Duration) -> Action {
    Action::SetTimer { token, after }
}

fn signal(target: SignalTarget, signal: Signal) -> Action {
    Action::Signal { target, signal }
}

// ---- Start ----

#[test]
fn start_from_stopped_spawns() {
    let mut h = Harness::new(params());
    assert_eq!(h.m.state, State::Stopped);
    assert_eq!(h.m.intent, Intent::Stop);
    let acts = h.ev(Event::Start);
    assert_eq!(
        acts,
        vec![transition(State::Stopped, State::Starting), Action::Spawn]
    );
    assert_eq!(h.m.state, State::Starting);
    assert_eq!(h.m.intent, Intent::Run);
    assert_eq!(h.m.pid, None);
}

#[test]
fn spawned_arms_the_min_uptime_timer() {
    let mut h = Harness::new(params());
    h.ev(Event::Start);
    let acts = h.ev(Event::Spawned { pid: 42 });
    assert_eq!(acts, vec![set_timer(h.token(), secs(1))]);
    assert_eq!(h.m.pid(), Some(42));
    assert_eq!(h.m.started_at(), Some(h.now));
    assert_eq!(h.m.counters().spawns, 1);
    assert_eq!(h.m.state, State::Starting);
}

#[test]
fn min_uptime_timer_makes_it_running() {
    let mut h = Harness::new(params());
    h.ev(Event::Start);
    h.ev(Event::Spawned { pid: 42 });
    h.advance(secs(1));
    let acts = h.fire();
    assert_eq!(acts, vec![transition(State::Starting, State::Running)]);
    assert!(!h.m.timer_armed);
    assert_eq!(h.m.pid(), Some(42));
}

#[test]
fn zero_min_uptime_goes_straight_to_running() {
    let mut h = Harness::new(Params {
        min_uptime: Duration::ZERO,
        ..params()
    });
    h.ev(Event::Start);
    let acts = h.ev(Event::Spawned { pid: 42 });
    assert_eq!(acts, vec![transition(State::Starting, State::Running)]);
    assert!(!h.m.timer_armed);
}

#[test]
fn start_is_a_no_op_while_starting_or_running() {
    let mut h = Harness::new(params());
    h.ev(Event::Start);
    assert_eq!(h.ev(Event::Start), vec![]);
    h.ev(Event::Spawned { pid: 1 });
    assert_eq!(h.ev(Event::Start), vec![]);
    let mut h = Harness::running(params(), 1);
    assert_eq!(h.ev(Event::Start), vec![]);
    assert_eq!(h.m.state, State::Running);
}

#[test]
fn start_in_backoff_spawns_now_but_remembers_failures() {
    let mut h = Harness::running(params(), 1);
    h.ev(Event::Exited(CRASH));
    assert_eq!(h.m.state, State::Backoff);
    let acts = h.ev(Event::Start);
    assert_eq!(
        acts,
        vec![
            transition(State::Backoff, State::Starting),
            Action::CancelTimer,
            Action::Spawn
        ]
    );
    assert_eq!(h.m.consecutive_failures, 1);
    assert_eq!(h.m.backoff_delay(), None);
    // The next crash backs off further than the first.
    h.ev(Event::Spawned { pid: 2 });
    h.advance(secs(2));
    h.fire();
    h.advance(secs(2));
    let acts = h.ev(Event::Exited(CRASH));
    assert!(acts.contains(&set_timer(h.token(), ms(200))), "{acts:?}");
}

#[test]
fn start_while_stopping_starts_once_the_stop_completes() {
    let mut h = Harness::running(params(), 1);
    h.ev(Event::Stop);
    assert_eq!(h.ev(Event::Start), vec![]);
    assert_eq!(h.m.after_stop, AfterStop::Start);
    assert_eq!(h.m.intent, Intent::Run);
    assert_eq!(
        h.ev(Event::Exited(killed(Signal::TERM))),
        vec![Action::AwaitTreeEmpty]
    );
    let acts = h.ev(Event::TreeEmpty);
    assert_eq!(
        acts,
        vec![
            transition(State::Stopping, State::Starting),
            Action::CancelTimer,
            Action::Spawn
        ]
    );
    assert_eq!(h.m.after_stop, AfterStop::Stay);
}

#[test]
fn start_from_exited_or_failed_is_a_fresh_start() {
    let mut h = Harness::new(Params {
        restart: RestartPolicy::Never,
        ..params()
    });
    h.ev(Event::Start);
    h.ev(Event::Spawned { pid: 1 });
    h.ev(Event::Exited(CRASH));
    assert_eq!(h.m.state, State::Exited);
    assert_eq!(h.m.failed_start_times.len(), 1);
    let acts = h.ev(Event::Start);
    assert_eq!(
        acts,
        vec![transition(State::Exited, State::Starting), Action::Spawn]
    );
    assert!(h.m.failed_start_times.is_empty());
    assert_eq!(h.m.consecutive_failures, 0);
}

// ---- Timers ----

#[test]
fn stale_or_unarmed_timer_tokens_are_ignored() {
    let mut h = Harness::new(params());
    h.ev(Event::Start);
    h.ev(Event::Spawned { pid: 1 });
    let current = h.token();
    assert_eq!(h.ev(Event::Timer { token: current - 1 }), vec![]);
    assert_eq!(h.ev(Event::Timer { token: current + 1 }), vec![]);
    assert_eq!(h.m.state, State::Starting);
    h.fire();
    assert_eq!(h.m.state, State::Running);
    // The same token again, now that nothing is armed.
    assert_eq!(h.ev(Event::Timer { token: current }), vec![]);
    assert_eq!(h.m.state, State::Running);
}

#[test]
fn backoff_timer_spawns() {
    let mut h = Harness::running(params(), 1);
    h.ev(Event::Exited(CRASH));
    h.advance(ms(100));
    let acts = h.fire();
    assert_eq!(
        acts,
        vec![transition(State::Backoff, State::Starting), Action::Spawn]
    );
    assert_eq!(h.m.backoff_delay(), None);
}

// ---- Crashes and backoff ----

#[test]
fn crash_in_running_backs_off_after_cleaning_the_tree() {
    let mut h = Harness::running(params(), 1);
    let acts = h.ev(Event::Exited(killed(Signal::from_number(11).unwrap())));
    assert_eq!(
        acts,
        vec![
            transition(State::Running, State::Backoff),
            Action::KillTree,
            Action::Recovery(Recovery::Restart { delay: ms(100) }),
            set_timer(h.token(), ms(100)),
        ]
    );
    assert_eq!(h.m.pid(), None);
    assert_eq!(h.m.backoff_delay(), Some(ms(100)));
    assert_eq!(h.m.counters().restarts, 1);
    assert_eq!(h.m.counters().failed_starts, 0);
}

#[test]
fn crash_in_main_mode_leaves_the_tree_alone() {
    let mut h = Harness::running(
        Params {
            kill_mode: KillMode::Main,
            ..params()
        },
        1,
    );
    let acts = h.ev(Event::Exited(CRASH));
    assert!(!acts.contains(&Action::KillTree), "{acts:?}");
}

#[test]
fn crash_backoff_delays_double_up_to_the_cap() {
    let mut h = Harness::running(
        Params {
            min_uptime: Duration::ZERO,
            ..params()
        },
        1,
    );
    let mut delays = Vec::new();
    for pid in 2..14 {
        h.advance(secs(1)); // each run is short of `reset_after`
        h.ev(Event::Exited(CRASH));
        assert_eq!(h.m.state, State::Backoff);
        let delay = h.m.backoff_delay().unwrap();
        delays.push(delay);
        h.advance(delay);
        h.fire();
        h.ev(Event::Spawned { pid });
        assert_eq!(h.m.state, State::Running);
    }
    let want: Vec<_> = [
        100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000,
    ]
    .into_iter()
    .map(ms)
    .collect();
    assert_eq!(delays, want);
    assert_eq!(h.m.counters().restarts, 12);
    // Crashes after min_uptime are not failed starts: the start limit does not apply.
    assert_eq!(h.m.counters().failed_starts, 0);
}

#[test]
fn jittered_delays_are_reproducible_from_the_seed() {
    let jittery = Params {
        backoff: Backoff {
            jitter: 0.5,
            ..params().backoff
        },
        ..params()
    };
    let first_delay = |seed| {
        let mut m = ServiceMachine::new(jittery, seed);
        m.handle(Event::Start, secs(1));
        m.handle(Event::Spawned { pid: 1 }, secs(1));
        m.handle(
            Event::Timer {
                token: m.timer_token,
            },
            secs(2),
        );
        m.handle(Event::Exited(CRASH), secs(3));
        m.backoff_delay().unwrap()
    };
    assert_eq!(first_delay(1), first_delay(1));
    let spread: Vec<_> = (0..20).map(first_delay).collect();
    assert!(spread.iter().all(|d| (ms(50)..=ms(150)).contains(d)));
    assert!(spread.iter().any(|d| *d != spread[0]), "{spread:?}");
}

#[test]
fn zero_backoff_respawns_immediately() {
    let mut h = Harness::running(
        Params {
            backoff: Backoff {
                initial: Duration::ZERO,
                ..params().backoff
            },
            ..params()
        },
        1,
    );
    let acts = h.ev(Event::Exited(CRASH));
    assert_eq!(
        acts,
        vec![
            transition(State::Running, State::Starting),
            Action::KillTree,
            Action::Recovery(Recovery::Restart {
                delay: Duration::ZERO
            }),
            Action::Spawn
        ]
    );
    assert_eq!(h.m.counters().restarts, 1);
    assert!(!h.m.timer_armed);
}

#[test]
fn a_long_run_forgets_earlier_failures() {
    let mut h = Harness::running(params(), 1);
    for pid in 2..6 {
        h.advance(secs(2));
        h.ev(Event::Exited(CRASH));
        h.advance(h.m.backoff_delay().unwrap());
        h.fire();
        h.ev(Event::Spawned { pid });
        h.advance(secs(1));
        h.fire();
    }
    assert_eq!(h.m.consecutive_failures, 4);
    // Up for exactly `reset_after` (including the min_uptime second already passed).
    h.advance(secs(29));
    h.ev(Event::Exited(CRASH));
    assert_eq!(h.m.consecutive_failures, 1);
    assert_eq!(h.m.backoff_delay(), Some(ms(100)));
}

#[test]
fn a_run_just_short_of_reset_after_keeps_counting() {
    let mut h = Harness::running(params(), 1);
    h.ev(Event::Exited(CRASH));
    h.advance(ms(100));
    h.fire();
    h.ev(Event::Spawned { pid: 2 });
    h.advance(secs(30) - ms(1));
    h.fire();
    h.ev(Event::Exited(CRASH));
    assert_eq!(h.m.backoff_delay(), Some(ms(200)));
}

// ---- Restart policies ----

#[test]
fn never_leaves_a_dead_service_exited() {
    let mut h = Harness::running(
        Params {
            restart: RestartPolicy::Never,
            ..params()
        },
        1,
    );
    let acts = h.ev(Event::Exited(CRASH));
    assert_eq!(
        acts,
        vec![
            transition(State::Running, State::Exited),
            Action::KillTree,
            Action::Recovery(Recovery::NoRestart),
        ]
    );
    assert_eq!(h.m.counters().restarts, 0);
    assert_eq!(h.m.last_exit(), Some(CRASH));
}

#[test]
fn on_failure_leaves_a_clean_exit_but_restarts_a_failure() {
    let on_failure = Params {
        restart: RestartPolicy::OnFailure,
        kill_mode: KillMode::Main,
        ..params()
    };
    let mut h = Harness::running(on_failure, 1);
    assert_eq!(
        h.ev(Event::Exited(CLEAN)),
        vec![
            transition(State::Running, State::Exited),
            Action::Recovery(Recovery::NoRestart),
        ]
    );
    let mut h = Harness::running(on_failure, 1);
    h.ev(Event::Exited(ExitStatus::Exited(3)));
    assert_eq!(h.m.state, State::Backoff);
    let mut h = Harness::running(on_failure, 1);
    h.ev(Event::Exited(killed(Signal::KILL)));
    assert_eq!(h.m.state, State::Backoff);
}

#[test]
fn always_restarts_even_a_clean_exit() {
    let mut h = Harness::running(params(), 1);
    h.ev(Event::Exited(CLEAN));
    assert_eq!(h.m.state, State::Backoff);
    assert_eq!(h.m.counters().restarts, 1);
}

// ---- Failed starts and the start limit ----

#[test]
fn exit_before_min_uptime_is_a_failed_start_even_when_clean() {
    let mut h = Harness::new(Params {
        restart: RestartPolicy::OnFailure,
        ..params()
    });
    h.ev(Event::Start);
    h.ev(Event::Spawned { pid: 1 });
    let armed = h.token();
    h.advance(ms(500));
    let acts = h.ev(Event::Exited(CLEAN));
    assert_eq!(
        acts,
        vec![
            transition(State::Starting, State::Backoff),
            Action::CancelTimer,
            Action::KillTree,
            Action::Recovery(Recovery::Restart { delay: ms(100) }),
            set_timer(armed + 1, ms(100)),
        ]
    );
    assert_eq!(h.m.counters().failed_starts, 1);
    assert_eq!(h.m.counters().restarts, 1);
    // The old min_uptime timer is stale now.
    assert_eq!(h.ev(Event::Timer { token: armed }), vec![]);
    assert_eq!(h.m.state, State::Backoff);
}

#[test]
fn failed_start_with_never_is_exited() {
    let mut h = Harness::new(Params {
        restart: RestartPolicy::Never,
        kill_mode: KillMode::Main,
        ..params()
    });
    h.ev(Event::Start);
    h.ev(Event::Spawned { pid: 1 });
    let acts = h.ev(Event::Exited(CRASH));
    assert_eq!(
        acts,
        vec![
            transition(State::Starting, State::Exited),
            Action::CancelTimer,
            Action::Recovery(Recovery::NoRestart),
        ]
    );
    assert_eq!(h.m.counters().failed_starts, 1);
    assert_eq!(h.m.counters().restarts, 0);
}

#[test]
fn spawn_failure_is_recorded_and_backs_off() {
    let mut h = Harness::new(params());
    h.ev(Event::Start);
    let failure = SpawnFailure::NotFound("nope".into());
    let acts = h.ev(Event::SpawnFailed(failure.clone()));
    assert_eq!(
        acts,
        vec![
            transition(State::Starting, State::Backoff),
            Action::Recovery(Recovery::Restart { delay: ms(100) }),
            set_timer(h.token(), ms(100))
        ]
    );
    assert_eq!(h.m.last_spawn_failure(), Some(&failure));
    assert_eq!(h.m.counters().failed_starts, 1);
    assert_eq!(h.m.counters().spawns, 0);
    // A later successful spawn clears it.
    h.fire();
    h.ev(Event::Spawned { pid: 9 });
    assert_eq!(h.m.last_spawn_failure(), None);
}

#[test]
fn start_limit_fails_after_burst_plus_one_failed_starts() {
    let mut h = Harness::new(params()); // burst 5 in 60s
    h.ev(Event::Start);
    for pid in 1..=5 {
        h.ev(Event::Spawned { pid });
        h.advance(ms(10));
        h.ev(Event::Exited(CRASH));
        assert_eq!(h.m.state, State::Backoff, "failed start {pid}");
        h.advance(h.m.backoff_delay().unwrap());
        h.fire();
    }
    h.ev(Event::Spawned { pid: 6 });
    let acts = h.ev(Event::Exited(CRASH));
    assert_eq!(
        acts,
        vec![
            transition(State::Starting, State::Failed),
            Action::CancelTimer,
            Action::KillTree,
            Action::Recovery(Recovery::StartLimit),
        ]
    );
    assert!(!h.m.timer_armed);
    assert_eq!(h.m.backoff_delay(), None);
    assert_eq!(h.m.counters().failed_starts, 6);
    assert_eq!(h.m.counters().restarts, 5);
    // It stays failed: nothing but an operator acts on it.
    h.advance(secs(3600));
    assert_eq!(h.ev(Event::Timer { token: h.token() }), vec![]);
    assert_eq!(h.ev(Event::TreeEmpty), vec![]);
    assert_eq!(h.m.state, State::Failed);
    // An operator start begins afresh, with a whole burst again.
    assert_eq!(
        h.ev(Event::Start),
        vec![transition(State::Failed, State::Starting), Action::Spawn]
    );
    assert!(h.m.failed_start_times.is_empty());
    assert_eq!(h.m.consecutive_failures, 0);
}

#[test]
fn spawn_failures_count_towards_the_start_limit() {
    let mut h = Harness::new(Params {
        start_limit: StartLimit {
            burst: 1,
            interval: secs(60),
        },
        ..params()
    });
    h.ev(Event::Start);
    h.ev(Event::SpawnFailed(SpawnFailure::PermissionDenied(
        "x".into(),
    )));
    assert_eq!(h.m.state, State::Backoff);
    h.fire();
    let acts = h.ev(Event::SpawnFailed(SpawnFailure::PermissionDenied(
        "x".into(),
    )));
    assert_eq!(
        acts,
        vec![
            transition(State::Starting, State::Failed),
            Action::Recovery(Recovery::StartLimit),
        ]
    );
}

#[test]
fn failed_starts_outside_the_window_are_forgotten() {
    let mut h = Harness::new(Params {
        start_limit: StartLimit {
            burst: 2,
            interval: secs(10),
        },
        ..params()
    });
    h.ev(Event::Start);
    for pid in 1..=10 {
        h.ev(Event::Spawned { pid });
        h.ev(Event::Exited(CRASH));
        assert_eq!(h.m.state, State::Backoff, "failed start {pid}");
        assert!(h.m.failed_start_times.len() <= 2);
        // Slower than 3 per 10s: never over the limit.
        h.advance(secs(5) + ms(1));
        h.fire();
    }
}

#[test]
fn burst_zero_fails_on_the_first_failed_start() {
    let mut h = Harness::new(Params {
        start_limit: StartLimit {
            burst: 0,
            interval: secs(10),
        },
        ..params()
    });
    h.ev(Event::Start);
    h.ev(Event::SpawnFailed(SpawnFailure::BadFormat("x".into())));
    assert_eq!(h.m.state, State::Failed);
}

// ---- Stop ----

#[test]
fn stop_in_tree_mode_signals_the_tree_and_waits_for_it() {
    let mut h = Harness::running(params(), 1);
    let acts = h.ev(Event::Stop);
    assert_eq!(
        acts,
        vec![
            transition(State::Running, State::Stopping),
            signal(SignalTarget::Tree, Signal::TERM),
            signal(SignalTarget::Tree, Signal::CONT),
            set_timer(h.token(), secs(10)),
        ]
    );
    assert_eq!(h.m.intent, Intent::Stop);
    assert!(h.m.main_alive);
    let acts = h.ev(Event::Exited(killed(Signal::TERM)));
    assert_eq!(acts, vec![Action::AwaitTreeEmpty]);
    assert_eq!(h.m.state, State::Stopping);
    assert!(!h.m.main_alive);
    assert!(h.m.timer_armed, "the stop timeout still guards the rest");
    let acts = h.ev(Event::TreeEmpty);
    assert_eq!(
        acts,
        vec![
            transition(State::Stopping, State::Stopped),
            Action::CancelTimer
        ]
    );
    assert_eq!(h.m.pid(), None);
    assert_eq!(h.m.last_exit(), Some(killed(Signal::TERM)));
}

#[test]
fn stop_in_main_mode_completes_on_the_exit() {
    let mut h = Harness::running(
        Params {
            kill_mode: KillMode::Main,
            stop_signal: Signal::INT,
            ..params()
        },
        1,
    );
    let acts = h.ev(Event::Stop);
    assert_eq!(
        acts,
        vec![
            transition(State::Running, State::Stopping),
            signal(SignalTarget::Main, Signal::INT),
            signal(SignalTarget::Main, Signal::CONT),
            set_timer(h.token(), secs(10)),
        ]
    );
    let acts = h.ev(Event::Exited(CLEAN));
    assert_eq!(
        acts,
        vec![
            transition(State::Stopping, State::Stopped),
            Action::CancelTimer
        ]
    );
}

#[test]
fn stop_while_starting_cancels_min_uptime_by_replacing_the_timer() {
    let mut h = Harness::new(params());
    h.ev(Event::Start);
    h.ev(Event::Spawned { pid: 1 });
    let min_uptime_token = h.token();
    h.ev(Event::Stop);
    assert_eq!(h.m.state, State::Stopping);
    assert_eq!(
        h.ev(Event::Timer {
            token: min_uptime_token
        }),
        vec![]
    );
    assert_eq!(h.m.state, State::Stopping);
}

#[test]
fn stop_timeout_kills_the_tree_and_is_not_rearmed() {
    let mut h = Harness::running(params(), 1);
    h.ev(Event::Stop);
    h.advance(secs(10));
    assert_eq!(h.fire(), vec![Action::KillTree]);
    assert!(!h.m.timer_armed);
    assert_eq!(h.m.state, State::Stopping);
    assert_eq!(
        h.ev(Event::Exited(killed(Signal::KILL))),
        vec![Action::AwaitTreeEmpty]
    );
    assert_eq!(
        h.ev(Event::TreeEmpty),
        vec![transition(State::Stopping, State::Stopped)]
    );
}

#[test]
fn stop_timeout_in_main_mode_kills_the_main_process() {
    let mut h = Harness::running(
        Params {
            kill_mode: KillMode::Main,
            ..params()
        },
        1,
    );
    h.ev(Event::Stop);
    assert_eq!(h.fire(), vec![signal(SignalTarget::Main, Signal::KILL)]);
    assert!(!h.m.timer_armed);
    assert_eq!(
        h.ev(Event::Exited(killed(Signal::KILL))),
        vec![transition(State::Stopping, State::Stopped)]
    );
}

#[test]
fn stop_timeout_after_the_main_exit_kills_the_leftovers() {
    let mut h = Harness::running(params(), 1);
    h.ev(Event::Stop);
    h.ev(Event::Exited(killed(Signal::TERM)));
    assert_eq!(h.fire(), vec![Action::KillTree]);
    assert_eq!(
        h.ev(Event::TreeEmpty),
        vec![transition(State::Stopping, State::Stopped)]
    );
}

#[test]
fn stop_in_backoff_cancels_the_restart() {
    let mut h = Harness::running(params(), 1);
    h.ev(Event::Exited(CRASH));
    let acts = h.ev(Event::Stop);
    assert_eq!(
        acts,
        vec![
            transition(State::Backoff, State::Stopped),
            Action::CancelTimer
        ]
    );
    assert_eq!(h.m.backoff_delay(), None);
    assert_eq!(h.m.intent(), Intent::Stop);
}

#[test]
fn stop_in_exited_or_failed_is_stopped() {
    let mut h = Harness::running(
        Params {
            restart: RestartPolicy::Never,
            ..params()
        },
        1,
    );
    h.ev(Event::Exited(CRASH));
    assert_eq!(
        h.ev(Event::Stop),
        vec![transition(State::Exited, State::Stopped)]
    );
    let mut h = Harness::new(Params {
        start_limit: StartLimit {
            burst: 0,
            interval: secs(1),
        },
        ..params()
    });
    h.ev(Event::Start);
    h.ev(Event::SpawnFailed(SpawnFailure::Other("x".into())));
    assert_eq!(
        h.ev(Event::Stop),
        vec![transition(State::Failed, State::Stopped)]
    );
}

#[test]
fn stop_when_stopped_or_stopping_does_nothing() {
    let mut h = Harness::new(params());
    assert_eq!(h.ev(Event::Stop), vec![]);
    let mut h = Harness::running(params(), 1);
    h.ev(Event::Stop);
    let token = h.token();
    assert_eq!(h.ev(Event::Stop), vec![]);
    assert_eq!(h.token(), token, "no new stop timeout");
}

#[test]
fn stop_cancels_a_pending_restart_after_stop() {
    let mut h = Harness::running(params(), 1);
    h.ev(Event::Restart);
    assert_eq!(h.m.after_stop, AfterStop::Start);
    h.ev(Event::Stop);
    assert_eq!(h.m.after_stop, AfterStop::Stay);
    h.ev(Event::Exited(killed(Signal::TERM)));
    h.ev(Event::TreeEmpty);
    assert_eq!(h.m.state, State::Stopped);
}

#[test]
fn operator_stop_is_never_a_failure_or_a_restart() {
    for kill_mode in [KillMode::Tree, KillMode::Main] {
        for status in [CRASH, CLEAN, killed(Signal::TERM), killed(Signal::KILL)] {
            let mut h = Harness::running(
                Params {
                    kill_mode,
                    ..params()
                },
                1,
            );
            let before = h.m.counters().clone();
            h.ev(Event::Stop);
            h.ev(Event::Exited(status)); // well before min_uptime of any new run
            h.ev(Event::TreeEmpty);
            assert_eq!(h.m.state, State::Stopped);
            assert_eq!(h.m.counters(), &before);
            assert_eq!(h.m.consecutive_failures, 0);
            assert!(h.m.failed_start_times.is_empty());
        }
    }
    // Nor while still starting.
    let mut h = Harness::new(params());
    h.ev(Event::Start);
    h.ev(Event::Spawned { pid: 1 });
    h.ev(Event::Stop);
    h.ev(Event::Exited(CRASH));
    h.ev(Event::TreeEmpty);
    assert_eq!(h.m.state, State::Stopped);
    assert_eq!(h.m.counters().failed_starts, 0);
    assert_eq!(h.m.counters().restarts, 0);
}

#[test]
fn stop_while_the_spawn_is_pending_stops_what_was_spawned() {
    let mut h = Harness::new(params());
    h.ev(Event::Start);
    assert_eq!(h.ev(Event::Stop), vec![]);
    assert_eq!(h.m.state, State::Starting);
    let acts = h.ev(Event::Spawned { pid: 5 });
    assert_eq!(
        acts,
        vec![
            transition(State::Starting, State::Stopping),
            signal(SignalTarget::Tree, Signal::TERM),
            signal(SignalTarget::Tree, Signal::CONT),
            set_timer(h.token(), secs(10)),
        ]
    );
    assert_eq!(h.m.pid(), Some(5));

    let mut h = Harness::new(params());
    h.ev(Event::Start);
    h.ev(Event::Stop);
    let acts = h.ev(Event::SpawnFailed(SpawnFailure::NotFound("x".into())));
    assert_eq!(acts, vec![transition(State::Starting, State::Stopped)]);
    assert_eq!(h.m.counters().restarts, 0);
}

// ---- Restart ----

#[test]
fn restart_while_running_stops_then_starts_afresh() {
    let mut h = Harness::running(params(), 1);
    h.ev(Event::Exited(CRASH));
    h.fire();
    h.ev(Event::Spawned { pid: 2 });
    h.fire();
    assert_eq!(h.m.consecutive_failures, 1);
    let restarts = h.m.counters().restarts;
    let acts = h.ev(Event::Restart);
    assert_eq!(
        acts,
        vec![
            transition(State::Running, State::Stopping),
            signal(SignalTarget::Tree, Signal::TERM),
            signal(SignalTarget::Tree, Signal::CONT),
            set_timer(h.token(), secs(10)),
        ]
    );
    assert_eq!(h.m.intent, Intent::Run);
    h.ev(Event::Exited(killed(Signal::TERM)));
    let acts = h.ev(Event::TreeEmpty);
    assert_eq!(
        acts,
        vec![
            transition(State::Stopping, State::Starting),
            Action::CancelTimer,
            Action::Spawn
        ]
    );
    assert_eq!(
        h.m.counters().restarts,
        restarts,
        "operator restarts are not counted"
    );
    assert_eq!(h.m.consecutive_failures, 0);
    h.ev(Event::Spawned { pid: 3 });
    assert_eq!(h.m.pid(), Some(3));
}

#[test]
fn restart_in_main_mode_respawns_on_the_exit() {
    let mut h = Harness::running(
        Params {
            kill_mode: KillMode::Main,
            ..params()
        },
        1,
    );
    h.ev(Event::Restart);
    let acts = h.ev(Event::Exited(killed(Signal::TERM)));
    assert_eq!(
        acts,
        vec![
            transition(State::Stopping, State::Starting),
            Action::CancelTimer,
            Action::Spawn
        ]
    );
}

#[test]
fn restart_while_stopping_starts_after_the_stop() {
    let mut h = Harness::running(params(), 1);
    h.ev(Event::Stop);
    assert_eq!(h.ev(Event::Restart), vec![]);
    assert_eq!(h.m.after_stop, AfterStop::Start);
    assert_eq!(h.m.intent, Intent::Run);
}

#[test]
fn restart_when_not_running_is_a_fresh_start() {
    // From backoff: the failure memory goes too, unlike a plain start.
    let mut h = Harness::running(params(), 1);
    h.ev(Event::Exited(CRASH));
    let acts = h.ev(Event::Restart);
    assert_eq!(
        acts,
        vec![
            transition(State::Backoff, State::Starting),
            Action::CancelTimer,
            Action::Spawn
        ]
    );
    assert_eq!(h.m.consecutive_failures, 0);
    assert!(h.m.failed_start_times.is_empty());
    // From stopped.
    let mut h = Harness::new(params());
    assert_eq!(
        h.ev(Event::Restart),
        vec![transition(State::Stopped, State::Starting), Action::Spawn]
    );
    assert_eq!(h.m.intent, Intent::Run);
}

// ---- Unexpected events ----

#[test]
fn unexpected_events_are_ignored() {
    let strays = || {
        vec![
            Event::Exited(CRASH),
            Event::Spawned { pid: 99 },
            Event::SpawnFailed(SpawnFailure::Other("x".into())),
            Event::TreeEmpty,
            Event::Timer { token: 12345 },
        ]
    };
    // Stopped: nothing exists.
    let mut h = Harness::new(params());
    for e in strays() {
        assert_eq!(h.ev(e), vec![]);
    }
    assert_eq!(h.m.state, State::Stopped);
    // Running: only an exit means something.
    let mut h = Harness::running(params(), 1);
    for e in strays().into_iter().skip(1) {
        assert_eq!(h.ev(e), vec![]);
    }
    assert_eq!(h.m.state, State::Running);
    assert_eq!(h.m.pid(), Some(1));
    // Backoff: only its timer means something.
    h.ev(Event::Exited(CRASH));
    let token = h.token();
    for e in strays() {
        assert_eq!(h.ev(e), vec![]);
    }
    assert_eq!(h.m.state, State::Backoff);
    assert_eq!(h.token(), token);
    // Stopping with the main process alive: a TreeEmpty is premature.
    let mut h = Harness::running(params(), 1);
    h.ev(Event::Stop);
    assert_eq!(h.ev(Event::TreeEmpty), vec![]);
    assert_eq!(h.ev(Event::Spawned { pid: 2 }), vec![]);
    assert_eq!(h.m.state, State::Stopping);
    // A second exit report for the same process.
    h.ev(Event::Exited(CRASH));
    assert_eq!(h.ev(Event::Exited(CRASH)), vec![]);
}

#[test]
fn time_going_backwards_does_not_panic() {
    let mut m = ServiceMachine::new(params(), 1);
    m.handle(Event::Start, secs(100));
    m.handle(Event::Spawned { pid: 1 }, secs(100));
    m.handle(
        Event::Timer {
            token: m.timer_token,
        },
        secs(101),
    );
    m.handle(Event::Exited(CRASH), secs(5));
    assert_eq!(m.state(), State::Backoff);
    m.handle(
        Event::Timer {
            token: m.timer_token,
        },
        Duration::ZERO,
    );
    m.handle(
        Event::SpawnFailed(SpawnFailure::Other("x".into())),
        Duration::ZERO,
    );
    assert_eq!(m.state(), State::Backoff);
}

#[test]
fn adoption_makes_a_fresh_machine_running_and_is_ignored_otherwise() {
    let mut m = ServiceMachine::new(params(), 1);
    let actions = m.handle(Event::Adopted { pid: 42 }, secs(0));
    assert_eq!(
        actions,
        [Action::Transition {
            from: State::Stopped,
            to: State::Running
        }]
    );
    assert_eq!((m.pid(), m.intent()), (Some(42), Intent::Run));
    assert!(m.handle(Event::Adopted { pid: 43 }, secs(1)).is_empty());
    // An exit while ward was away goes by the restart policy like any other.
    let actions = m.handle(Event::Exited(ExitStatus::Unknown), secs(2));
    assert_eq!(m.state(), State::Backoff, "{actions:?}");
    assert_eq!(m.last_exit(), Some(ExitStatus::Unknown));
}

#[test]
fn giving_up_turns_a_pending_restart_into_failed() {
    let mut m = ServiceMachine::new(params(), 1);
    m.handle(Event::Start, secs(0));
    m.handle(Event::Spawned { pid: 7 }, secs(0));
    m.handle(Event::Exited(CRASH), secs(5));
    assert_eq!(m.state(), State::Backoff);
    let actions = m.handle(Event::GiveUp(GiveUpReason::RepairFailed), secs(5));
    assert_eq!(m.state(), State::Failed, "{actions:?}");
    assert!(actions.contains(&Action::CancelTimer));
    // Said once, with its reason, where it happens: the journal records exactly this.
    let recovery = Action::Recovery(Recovery::GaveUp(GiveUpReason::RepairFailed));
    assert_eq!(actions.iter().filter(|a| **a == recovery).count(), 1);
    // Nothing pending any more: nothing to give up, nothing to record.
    assert!(
        m.handle(Event::GiveUp(GiveUpReason::RecoveryTable), secs(6))
            .is_empty()
    );
}

#[test]
fn every_recovery_has_stable_words_for_the_journal() {
    // The journal's readers (confidence, `ward why`) match on these.
    assert_eq!(Recovery::Restart { delay: ms(5) }.as_str(), "restart");
    assert_eq!(Recovery::Restart { delay: ms(5) }.delay(), Some(ms(5)));
    assert_eq!(Recovery::NoRestart.as_str(), "none: restart policy");
    assert_eq!(
        Recovery::StartLimit.as_str(),
        "give up: start limit reached"
    );
    assert_eq!(Recovery::StartLimit.delay(), None);
    for (reason, words) in [
        (GiveUpReason::RecoveryTable, "the recovery table says so"),
        (GiveUpReason::RepairFailed, "the repair did not work"),
        (GiveUpReason::RestoreFailed, "the data restore did not work"),
    ] {
        assert_eq!(
            Recovery::GaveUp(reason).as_str(),
            format!("give up: {words}")
        );
    }
}

// ---- Hung (health checks, watchdog) ----

#[test]
fn hung_stops_then_restarts_after_backoff_as_a_crash() {
    let mut h = Harness::running(params(), 42);
    let acts = h.ev(Event::Hung);
    assert_eq!(
        acts,
        vec![
            transition(State::Running, State::Stopping),
            signal(SignalTarget::Tree, Signal::TERM),
            signal(SignalTarget::Tree, Signal::CONT),
            set_timer(h.token(), secs(10)),
        ]
    );
    assert_eq!(h.m.intent, Intent::Run);
    h.ev(Event::Exited(killed(Signal::TERM)));
    let acts = h.ev(Event::TreeEmpty);
    assert_eq!(
        acts,
        vec![
            transition(State::Stopping, State::Backoff),
            Action::CancelTimer,
            Action::Recovery(Recovery::Restart { delay: ms(100) }),
            set_timer(h.token(), ms(100)),
        ]
    );
    assert_eq!(h.m.counters.restarts, 1);
    assert_eq!(h.m.consecutive_failures, 1);
    assert_eq!(h.m.after_stop, AfterStop::Stay);
    h.advance(ms(100));
    assert_eq!(
        h.fire(),
        vec![transition(State::Backoff, State::Starting), Action::Spawn]
    );
}

#[test]
fn hung_with_restart_never_ends_exited_and_main_mode_needs_no_tree() {
    let mut p = params();
    p.restart = RestartPolicy::Never;
    p.kill_mode = KillMode::Main;
    let mut h = Harness::running(p, 42);
    h.ev(Event::Hung);
    let acts = h.ev(Event::Exited(killed(Signal::TERM)));
    assert_eq!(
        acts,
        vec![
            transition(State::Stopping, State::Exited),
            Action::CancelTimer,
            Action::Recovery(Recovery::NoRestart),
        ]
    );
    assert_eq!(h.m.counters.restarts, 0);
}

#[test]
fn hung_is_ignored_without_a_run_and_an_operator_stop_wins() {
    let mut h = Harness::new(params());
    assert!(h.ev(Event::Hung).is_empty());
    h.ev(Event::Start);
    // Spawn still pending: nothing to stop yet.
    assert!(h.ev(Event::Hung).is_empty());
    h.ev(Event::Spawned { pid: 7 });
    h.ev(Event::Hung);
    assert_eq!(h.m.state, State::Stopping);
    // The operator's stop during the hang's stop: it stays stopped.
    h.ev(Event::Stop);
    h.ev(Event::Exited(killed(Signal::TERM)));
    h.ev(Event::TreeEmpty);
    assert_eq!(h.m.state, State::Stopped);
    // A hang during a stop is nothing new.
    let mut h = Harness::running(params(), 9);
    h.ev(Event::Stop);
    assert!(h.ev(Event::Hung).is_empty());
}

#[test]
fn a_stopping_service_may_extend_its_stop_timeout_until_sigkill() {
    let mut h = Harness::running(params(), 42);
    h.ev(Event::Stop);
    let first = h.token();
    // More time: the timer is armed anew; the old one is stale.
    let acts = h.ev(Event::ExtendStop { after: secs(30) });
    assert_eq!(acts, vec![set_timer(first + 1, secs(30))]);
    assert!(h.ev(Event::Timer { token: first }).is_empty());
    // Its end: SIGKILL, after which no extension helps.
    assert_eq!(h.fire(), vec![Action::KillTree]);
    assert!(h.ev(Event::ExtendStop { after: secs(30) }).is_empty());
    // Outside a stop it means nothing.
    let mut running = Harness::running(params(), 43);
    assert!(running.ev(Event::ExtendStop { after: secs(5) }).is_empty());
}
