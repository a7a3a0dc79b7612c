//! One-shot tasks (`type = "oneshot"`): a run that is meant to end, `completed` on success,
//! retried or `failed` otherwise.

use super::super::{Action, Event, Params, Recovery, ServiceMachine, State};
use crate::ExitStatus;
use crate::config::{Backoff, KillMode, RestartPolicy, StartLimit};
use crate::exit::SuccessCodes;
use crate::signal::Signal;
use std::time::Duration;

fn task(restart: RestartPolicy) -> Params {
    Params {
        restart,
        backoff: Backoff {
            jitter: 0.0,
            ..Backoff::default()
        },
        min_uptime: Duration::from_secs(1),
        start_limit: StartLimit {
            burst: 2,
            interval: Duration::from_secs(60),
        },
        stop_signal: Signal::TERM,
        stop_timeout: Duration::from_secs(10),
        kill_mode: KillMode::Main,
        oneshot: true,
        success: SuccessCodes::default().with(75),
    }
}

fn at(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Started and spawned as pid 1: a task runs from its spawn, with no uptime to wait for.
fn running(params: Params) -> ServiceMachine {
    let mut m = ServiceMachine::new(params, 1);
    m.handle(Event::Start, at(0));
    let acts = m.handle(Event::Spawned { pid: 1 }, at(0));
    assert_eq!(
        acts,
        vec![Action::Transition {
            from: State::Starting,
            to: State::Running
        }]
    );
    m
}

#[test]
fn a_successful_end_is_completed_and_nothing_restarts() {
    for code in [0, 75] {
        let mut m = running(task(RestartPolicy::OnFailure));
        let acts = m.handle(Event::Exited(ExitStatus::Exited(code)), at(5));
        assert_eq!(
            acts,
            vec![Action::Transition {
                from: State::Running,
                to: State::Completed
            }],
            "exit {code}"
        );
        assert!(m.is_quiescent());
        assert_eq!(m.counters().restarts, 0);
    }
}

#[test]
fn a_failed_end_without_restart_is_failed() {
    let mut m = running(task(RestartPolicy::Never));
    let acts = m.handle(Event::Exited(ExitStatus::Exited(1)), at(5));
    assert_eq!(
        acts,
        vec![
            Action::Transition {
                from: State::Running,
                to: State::Failed
            },
            Action::Recovery(Recovery::NoRestart),
        ]
    );
    // A signal is a failure too, whatever the listed codes.
    let mut m = running(task(RestartPolicy::Never));
    m.handle(
        Event::Exited(ExitStatus::Signaled {
            signal: Signal::KILL,
            core_dumped: false,
        }),
        at(5),
    );
    assert_eq!(m.state(), State::Failed);
}

#[test]
fn on_failure_retries_under_backoff_until_the_start_limit() {
    let mut m = running(task(RestartPolicy::OnFailure));
    let mut now = at(0);
    for attempt in 1..=2 {
        now += at(1);
        let acts = m.handle(Event::Exited(ExitStatus::Exited(1)), now);
        assert_eq!(m.state(), State::Backoff, "attempt {attempt}: {acts:?}");
        assert!(acts.contains(&Action::Recovery(Recovery::Restart {
            delay: Duration::from_millis(100 * (1 << (attempt - 1)))
        })));
        // The backoff ends and the task runs again.
        let Some(Action::SetTimer { token, after }) = acts
            .iter()
            .find(|a| matches!(a, Action::SetTimer { .. }))
            .cloned()
        else {
            panic!("no backoff timer: {acts:?}");
        };
        now += after;
        assert_eq!(
            m.handle(Event::Timer { token }, now).last(),
            Some(&Action::Spawn)
        );
        m.handle(Event::Spawned { pid: 1 + attempt }, now);
        assert_eq!(m.state(), State::Running);
    }
    // The third failure within the window passes the burst of 2.
    let acts = m.handle(Event::Exited(ExitStatus::Exited(1)), now + at(1));
    assert_eq!(m.state(), State::Failed);
    assert!(acts.contains(&Action::Recovery(Recovery::StartLimit)));
    assert_eq!(m.counters().failed_starts, 3);
}

#[test]
fn a_completed_task_runs_again_when_started_and_stops_to_stopped() {
    let mut m = running(task(RestartPolicy::Never));
    m.handle(Event::Exited(ExitStatus::Exited(0)), at(1));
    assert_eq!(m.handle(Event::Start, at(2)).last(), Some(&Action::Spawn));
    m.handle(Event::Spawned { pid: 2 }, at(2));
    m.handle(Event::Exited(ExitStatus::Exited(0)), at(3));
    assert_eq!(m.state(), State::Completed);
    m.handle(Event::Stop, at(4));
    assert_eq!(m.state(), State::Stopped);
    assert_eq!(m.counters().spawns, 2);
}

#[test]
fn a_task_that_cannot_be_executed_fails() {
    let mut m = ServiceMachine::new(task(RestartPolicy::Never), 1);
    m.handle(Event::Start, at(0));
    m.handle(
        Event::SpawnFailed(super::super::SpawnFailure::NotFound("/nope".into())),
        at(0),
    );
    assert_eq!(m.state(), State::Failed);
}

#[test]
fn a_stopped_task_is_stopped_not_failed() {
    let mut m = running(task(RestartPolicy::OnFailure));
    m.handle(Event::Stop, at(1));
    assert_eq!(m.state(), State::Stopping);
    m.handle(
        Event::Exited(ExitStatus::Signaled {
            signal: Signal::TERM,
            core_dumped: false,
        }),
        at(2),
    );
    assert_eq!(m.state(), State::Stopped);
}

#[test]
fn listed_codes_are_clean_for_a_service_on_failure() {
    let mut params = task(RestartPolicy::OnFailure);
    params.oneshot = false;
    params.min_uptime = Duration::ZERO;
    params.backoff.initial = Duration::from_millis(100);
    let mut m = ServiceMachine::new(params, 1);
    m.handle(Event::Start, at(0));
    m.handle(Event::Spawned { pid: 1 }, at(0));
    m.handle(Event::Exited(ExitStatus::Exited(75)), at(5));
    assert_eq!(m.state(), State::Exited);
}

#[test]
fn a_restored_task_is_completed_only_when_fresh_and_a_task() {
    let mut m = ServiceMachine::new(task(RestartPolicy::Never), 1);
    assert_eq!(
        m.handle(Event::RestoredCompleted, at(0)),
        vec![Action::Transition {
            from: State::Stopped,
            to: State::Completed
        }]
    );
    assert_eq!(m.intent(), super::super::Intent::Run);
    let mut running = running(task(RestartPolicy::Never));
    assert!(running.handle(Event::RestoredCompleted, at(1)).is_empty());
    let mut service = task(RestartPolicy::Never);
    service.oneshot = false;
    let mut m = ServiceMachine::new(service, 1);
    assert!(m.handle(Event::RestoredCompleted, at(0)).is_empty());
}
