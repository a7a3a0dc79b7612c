//! Property tests: any sequence of events, however unlikely, keeps the machine legal.
//!
//! A small model of the daemon answers the machine's requests (a spawn succeeds or fails,
//! timers fire, processes exit), interleaved with arbitrary operator and stray events.

use crate::config::{Backoff, KillMode, RestartPolicy, StartLimit};
use crate::machine::{
    Action, Event, GiveUpReason, Intent, Params, Recovery, ServiceMachine, SpawnFailure, State,
};
use crate::{ExitStatus, Signal};
use proptest::prelude::*;
use std::time::Duration;

fn any_params() -> impl Strategy<Value = Params> {
    (
        prop_oneof![
            Just(RestartPolicy::Always),
            Just(RestartPolicy::OnFailure),
            Just(RestartPolicy::Never)
        ],
        0u64..2_000,
        0u64..60_000,
        1.0f64..4.0,
        0.0f64..=1.0,
        0u64..5_000,
        0u32..6,
        prop_oneof![Just(KillMode::Tree), Just(KillMode::Main)],
        any::<bool>(),
        proptest::collection::vec(1i32..8, 0..3),
    )
        .prop_map(
            |(
                restart,
                initial,
                extra,
                factor,
                jitter,
                min_uptime,
                burst,
                kill_mode,
                oneshot,
                codes,
            )| Params {
                restart,
                backoff: Backoff {
                    initial: Duration::from_millis(initial),
                    max: Duration::from_millis(initial + extra),
                    factor,
                    jitter,
                    reset_after: Duration::from_secs(30),
                },
                min_uptime: Duration::from_millis(min_uptime),
                start_limit: StartLimit {
                    burst,
                    interval: Duration::from_secs(60),
                },
                stop_signal: Signal::TERM,
                stop_timeout: Duration::from_secs(10),
                kill_mode,
                oneshot,
                success: codes
                    .into_iter()
                    .fold(Default::default(), |set: crate::exit::SuccessCodes, c| {
                        set.with(c)
                    }),
            },
        )
}

/// What the outside world does next.
#[derive(Clone, Debug)]
enum Step {
    Start,
    Stop,
    Restart,
    /// The main process exits with this code (or, if > 255, is killed by signal 9).
    Exit(u16),
    TreeEmpty,
    /// The current timer fires.
    FireTimer,
    /// A timer with an old or invented token fires.
    StaleTimer(u64),
    /// Time passes.
    Wait(u32),
    /// A stray event the daemon's contract rules out.
    StraySpawned(u32),
    /// A daemon restart found a process (only legal on a fresh machine).
    Adopt(u32),
    /// The recovery strategy gives up.
    GiveUp,
    /// The daemon judged the process hung.
    Hung,
}

fn any_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => Just(Step::Start),
        2 => Just(Step::Stop),
        1 => Just(Step::Restart),
        4 => (0u16..300).prop_map(Step::Exit),
        2 => Just(Step::TreeEmpty),
        4 => Just(Step::FireTimer),
        1 => any::<u64>().prop_map(Step::StaleTimer),
        3 => (0u32..120_000).prop_map(Step::Wait),
        1 => any::<u32>().prop_map(Step::StraySpawned),
        1 => any::<u32>().prop_map(Step::Adopt),
        1 => Just(Step::GiveUp),
        1 => Just(Step::Hung),
    ]
}

/// Drives a machine and checks every step's output and resulting state.
struct Harness {
    m: ServiceMachine,
    now: Duration,
    /// The token and due time of the armed timer, as the daemon would track it.
    timer: Option<(u64, Duration)>,
    spawn_ok: Vec<bool>,
    spawns: usize,
}

impl Harness {
    fn feed(&mut self, event: Event) {
        let before = self.m.state();
        let operator = matches!(event, Event::Start | Event::Restart);
        let restarts = self.m.counters().restarts;
        let actions = self.m.handle(event, self.now);
        check_shape(&actions);
        // The machine says what it decided; the daemon never has to infer it.
        let recoveries: Vec<Recovery> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Recovery(r) => Some(*r),
                _ => None,
            })
            .collect();
        assert!(recoveries.len() <= 1, "{actions:?}");
        let restarted = u64::from(matches!(recoveries.first(), Some(Recovery::Restart { .. })));
        assert_eq!(
            self.m.counters().restarts,
            restarts + restarted,
            "{actions:?}"
        );
        match recoveries.first() {
            Some(Recovery::StartLimit | Recovery::GaveUp(_)) => {
                assert_eq!(self.m.state(), State::Failed)
            }
            Some(Recovery::NoRestart) => assert_eq!(
                self.m.state(),
                if self.m.params().oneshot {
                    State::Failed
                } else {
                    State::Exited
                }
            ),
            _ => {}
        }
        let spawned = matches!(actions.last(), Some(Action::Spawn));
        if before == State::Failed && !operator {
            assert!(!spawned, "a failed service spawned without an operator");
        }
        for action in &actions {
            match *action {
                Action::SetTimer { token, after } => {
                    if self.m.state() == State::Backoff {
                        let max = self.m.params().backoff.max;
                        assert!(after <= max, "backoff {after:?} exceeds max {max:?}");
                    }
                    self.timer = Some((token, self.now + after));
                }
                Action::CancelTimer => self.timer = None,
                _ => {}
            }
        }
        self.check_state();
        if spawned {
            let ok = self.spawn_ok[self.spawns % self.spawn_ok.len()];
            self.spawns += 1;
            let answer = if ok {
                Event::Spawned {
                    pid: 1000 + self.spawns as u32,
                }
            } else {
                Event::SpawnFailed(SpawnFailure::NotFound("/nope".into()))
            };
            self.feed(answer);
        }
    }

    fn check_state(&self) {
        let m = &self.m;
        if m.pid().is_some() {
            assert!(
                matches!(
                    m.state(),
                    State::Starting | State::Running | State::Stopping
                ),
                "a pid in state {:?}",
                m.state()
            );
        }
        if m.state() == State::Backoff {
            assert!(self.timer.is_some(), "backoff without a timer");
            assert!(m.backoff_delay().is_some());
        }
        if m.state() == State::Completed {
            assert!(m.params().oneshot, "a service completed");
        }
        if matches!(
            m.state(),
            State::Stopped | State::Exited | State::Failed | State::Completed
        ) {
            assert!(self.timer.is_none(), "a timer armed in {:?}", m.state());
            assert!(m.pid().is_none());
        }
        assert_eq!(m.timer_armed, self.timer.is_some());
    }

    fn step(&mut self, step: Step) {
        match step {
            Step::Start => self.feed(Event::Start),
            Step::Stop => self.feed(Event::Stop),
            Step::Restart => self.feed(Event::Restart),
            Step::Exit(code) => {
                let status = if code > 255 {
                    ExitStatus::Signaled {
                        signal: Signal::KILL,
                        core_dumped: false,
                    }
                } else {
                    ExitStatus::Exited(i32::from(code))
                };
                self.feed(Event::Exited(status));
            }
            Step::TreeEmpty => self.feed(Event::TreeEmpty),
            Step::FireTimer => {
                if let Some((token, due)) = self.timer.take() {
                    self.now = self.now.max(due);
                    self.feed(Event::Timer { token });
                }
            }
            Step::StaleTimer(token) => {
                let current = self.timer.map(|(t, _)| t);
                if current != Some(token) {
                    let state = self.m.state();
                    let actions = self.m.handle(Event::Timer { token }, self.now);
                    assert!(actions.is_empty(), "a stale timer did {actions:?}");
                    assert_eq!(state, self.m.state());
                }
            }
            Step::Wait(ms) => self.now += Duration::from_millis(u64::from(ms)),
            Step::Adopt(pid) => {
                let fresh = self.m.state() == State::Stopped && self.m.pid().is_none();
                let state = self.m.state();
                self.feed(Event::Adopted { pid });
                if !fresh {
                    assert_eq!(state, self.m.state(), "adoption changed a busy machine");
                }
            }
            Step::Hung => {
                let before = self.m.state();
                let had_pid = self.m.pid().is_some();
                self.feed(Event::Hung);
                if matches!(before, State::Starting | State::Running) && had_pid {
                    assert_eq!(
                        self.m.state(),
                        State::Stopping,
                        "a hang must stop the process"
                    );
                } else {
                    assert_eq!(
                        before,
                        self.m.state(),
                        "a hang changed a machine without a run"
                    );
                }
            }
            Step::GiveUp => {
                let before = self.m.state();
                self.feed(Event::GiveUp(GiveUpReason::RecoveryTable));
                let after = self.m.state();
                if before == State::Backoff {
                    prop_assert_eq_failed(after);
                } else {
                    assert_eq!(before, after, "give up changed a machine not in backoff");
                }
            }
            Step::StraySpawned(pid) => {
                if !(self.m.state() == State::Starting && self.m.pid().is_none()) {
                    let state = self.m.state();
                    let actions = self.m.handle(Event::Spawned { pid }, self.now);
                    assert!(actions.is_empty(), "a stray spawn did {actions:?}");
                    assert_eq!(state, self.m.state());
                }
            }
        }
    }

    /// Plays a well-behaved world after a stop: the main process dies of the signal, the
    /// tree empties, timers fire. The machine must reach `stopped`.
    fn stop_converges(&mut self) {
        self.feed(Event::Stop);
        for _ in 0..10 {
            match self.m.state() {
                State::Stopped => return,
                State::Stopping if self.m.pid().is_some() => {
                    self.feed(Event::Exited(ExitStatus::Signaled {
                        signal: Signal::TERM,
                        core_dumped: false,
                    }))
                }
                State::Stopping => self.feed(Event::TreeEmpty),
                other => panic!("after a stop the machine is in {other:?}"),
            }
        }
        panic!("the stop did not finish: {:?}", self.m.state());
    }
}

fn prop_assert_eq_failed(state: State) {
    assert_eq!(
        state,
        State::Failed,
        "giving up in backoff must fail the unit"
    );
}

/// At most one transition, first; at most one spawn, last.
fn check_shape(actions: &[Action]) {
    let transitions: Vec<usize> = positions(actions, |a| matches!(a, Action::Transition { .. }));
    assert!(
        transitions.len() <= 1 && transitions.iter().all(|&i| i == 0),
        "{actions:?}"
    );
    let spawns = positions(actions, |a| matches!(a, Action::Spawn));
    assert!(
        spawns.len() <= 1 && spawns.iter().all(|&i| i + 1 == actions.len()),
        "{actions:?}"
    );
    if let Some(Action::Transition { from, to }) = actions.first() {
        assert_ne!(from, to);
    }
}

fn positions(actions: &[Action], pred: impl Fn(&Action) -> bool) -> Vec<usize> {
    actions
        .iter()
        .enumerate()
        .filter(|(_, a)| pred(a))
        .map(|(i, _)| i)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_sequence_stays_legal_and_can_be_stopped(
        params in any_params(),
        seed in any::<u64>(),
        spawn_ok in proptest::collection::vec(any::<bool>(), 1..8),
        steps in proptest::collection::vec(any_step(), 0..200),
    ) {
        let mut h = Harness {
            m: ServiceMachine::new(params, seed),
            now: Duration::ZERO,
            timer: None,
            spawn_ok,
            spawns: 0,
        };
        for step in steps {
            h.step(step);
        }
        h.stop_converges();
        prop_assert_eq!(h.m.intent(), Intent::Stop);
        prop_assert!(h.m.is_quiescent());
    }
}
