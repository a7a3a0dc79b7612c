//! The per-service state machine: events in, actions out, no I/O and no clock.
//!
//! The daemon owns one [`ServiceMachine`] per supervised unit. It feeds every real
//! happening in as an [`Event`] together with the current monotonic time, and carries out
//! the [`Action`]s returned, in order. Time is a [`Duration`] since an arbitrary epoch chosen
//! by the caller, so tests drive the machine through hours of restarts without sleeping.

use crate::ExitStatus;
use crate::Signal;
use crate::config::{Backoff, KillMode, RestartPolicy, ServiceConfig, StartLimit};
use crate::exit::SuccessCodes;
use std::time::Duration;

mod backoff;
mod step;

pub use backoff::backoff_delay;

/// Where a service is in its life. Closed: every state the API ever reports.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// No process; waiting for someone to start it (operator stop, `autostart = false`).
    Stopped,
    /// Process spawned, not yet up for `min_uptime`.
    Starting,
    /// Process up for at least `min_uptime`.
    Running,
    /// Stop signal sent; waiting for every process of the service to go.
    Stopping,
    /// The process ended and the restart policy says to leave it.
    Exited,
    /// Waiting out the backoff delay before the next start.
    Backoff,
    /// Too many failed starts within the start-limit window; restarts ceased until a user acts.
    /// For a one-shot task: its run ended unsuccessfully and is not retried.
    Failed,
    /// A one-shot task's run ended successfully (exit 0, or a code of
    /// `success_exit_codes`).
    Completed,
}

impl State {
    /// The lowercase name the API and CLI use.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Stopped => "stopped",
            State::Starting => "starting",
            State::Running => "running",
            State::Stopping => "stopping",
            State::Exited => "exited",
            State::Backoff => "backoff",
            State::Failed => "failed",
            State::Completed => "completed",
        }
    }
}

/// Why a spawn did not produce a running program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpawnFailure {
    /// The program file does not exist (ENOENT), or is not on PATH.
    NotFound(String),
    /// Not allowed to execute it (EACCES, EPERM).
    PermissionDenied(String),
    /// The program's path names a directory (the kernel says EACCES): the path, as given.
    IsDirectory(String),
    /// Not an executable format the kernel knows (ENOEXEC), or a bad interpreter.
    BadFormat(String),
    /// The working directory is missing or unusable.
    BadCwd(String),
    /// A failure before exec (fork, cgroup, pipes), or an exec error of another kind.
    Other(String),
}

impl std::fmt::Display for SpawnFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnFailure::NotFound(m) => write!(f, "exec failed: not found: {m}"),
            SpawnFailure::PermissionDenied(m) => write!(f, "exec failed: permission denied: {m}"),
            SpawnFailure::IsDirectory(path) => {
                write!(f, "exec failed: {path} is a directory, not a program")
            }
            SpawnFailure::BadFormat(m) => write!(f, "exec failed: bad executable format: {m}"),
            SpawnFailure::BadCwd(m) => write!(f, "exec failed: working directory: {m}"),
            SpawnFailure::Other(m) => write!(f, "start failed: {m}"),
        }
    }
}

/// Something that happened to a service.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The operator (or autostart, or reload) asks for the service to run.
    Start,
    /// The operator asks for the service to stop and stay stopped.
    Stop,
    /// The operator asks for a stop followed by a start.
    Restart,
    /// The daemon carried out [`Action::Spawn`] and the program is executing.
    Spawned {
        /// The main process.
        pid: u32,
    },
    /// The daemon carried out [`Action::Spawn`] and exec failed.
    SpawnFailed(SpawnFailure),
    /// The main process was reaped.
    Exited(ExitStatus),
    /// A new daemon found the unit's main process still running, started by an earlier
    /// daemon, and watches it from now on.
    Adopted {
        /// The main process.
        pid: u32,
    },
    /// The recovery strategy for the last end is to give up, for this reason: a pending
    /// restart becomes `failed`.
    GiveUp(GiveUpReason),
    /// After [`Action::AwaitTreeEmpty`]: no process of the service is left.
    TreeEmpty,
    /// A new daemon found the record of a task that had completed under an earlier one
    /// (and no process): it is `completed` again, as it was, instead of running again.
    RestoredCompleted,
    /// The daemon judged the running process hung (failed health checks, a missed
    /// watchdog): stop it as a stop would, then restart it as after a crash.
    Hung,
    /// The stopping service asked for more time (`EXTEND_TIMEOUT_USEC`): the stop
    /// timeout now ends `after` from now. Ignored in any other state, and once SIGKILL
    /// has been sent.
    ExtendStop {
        /// From now.
        after: std::time::Duration,
    },
    /// A timer set by [`Action::SetTimer`] fired. Stale tokens are ignored.
    Timer {
        /// The token of the [`Action::SetTimer`] that armed it.
        token: u64,
    },
}

/// Which processes a signal reaches.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SignalTarget {
    /// The main process only.
    Main,
    /// Every process of the service (its cgroup, or what ward sees of its tree).
    Tree,
}

/// Something the daemon must do, in the order given.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Spawn the main process now; answer with [`Event::Spawned`] or [`Event::SpawnFailed`].
    Spawn,
    /// Send a signal.
    Signal {
        /// Who gets it.
        target: SignalTarget,
        /// Which signal.
        signal: Signal,
    },
    /// SIGKILL every process of the service that is still there (leftovers of a dead main
    /// process, or a stop that ran out of time).
    KillTree,
    /// Tell the machine with [`Event::TreeEmpty`] once no process of the service is left
    /// (immediately if that is already so).
    AwaitTreeEmpty,
    /// Arm the machine's one timer; a later `SetTimer` or `CancelTimer` replaces it.
    SetTimer {
        /// Echoed back in [`Event::Timer`].
        token: u64,
        /// From now.
        after: Duration,
    },
    /// Disarm the machine's timer.
    CancelTimer,
    /// The state changed: publish and record it.
    Transition {
        /// Old state.
        from: State,
        /// New state.
        to: State,
    },
    /// What the machine decided about an end that no one asked for: record it as the
    /// recovery (it is what `ward why` and the confidence of later recoveries read).
    Recovery(Recovery),
}

/// What ward does about a run that ended without being asked to, as decided by the
/// machine. Each is journaled once, where it is decided, never inferred from states.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// An automatic restart after `delay` (zero: at once).
    Restart {
        /// The backoff before the restart.
        delay: Duration,
    },
    /// The restart policy leaves the ended run as it is (`exited`).
    NoRestart,
    /// More failed starts in the window than `start_limit` allows: `failed` until an
    /// operator acts.
    StartLimit,
    /// A pending restart was given up, for this reason: `failed`.
    GaveUp(GiveUpReason),
}

impl Recovery {
    /// The words the journal keeps; stable, since the journal's readers match on them.
    pub fn as_str(self) -> &'static str {
        match self {
            Recovery::Restart { .. } => "restart",
            Recovery::NoRestart => "none: restart policy",
            Recovery::StartLimit => "give up: start limit reached",
            Recovery::GaveUp(GiveUpReason::RecoveryTable) => "give up: the recovery table says so",
            Recovery::GaveUp(GiveUpReason::RepairFailed) => "give up: the repair did not work",
            Recovery::GaveUp(GiveUpReason::RestoreFailed) => {
                "give up: the data restore did not work"
            }
        }
    }

    /// The delay of a restart, for the journal.
    pub fn delay(self) -> Option<Duration> {
        match self {
            Recovery::Restart { delay } => Some(delay),
            _ => None,
        }
    }
}

/// Why a pending restart is given up.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum GiveUpReason {
    /// The recovery table's strategy for the crash's class is `give_up`.
    RecoveryTable,
    /// The `repair` hook that had to run before the restart failed.
    RepairFailed,
    /// Putting the last data snapshot back before the restart failed.
    RestoreFailed,
}

/// What the machine needs from the service's configuration.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Params {
    /// Restart policy.
    pub restart: RestartPolicy,
    /// Backoff settings.
    pub backoff: Backoff,
    /// Minimum run time for a successful start.
    pub min_uptime: Duration,
    /// Start-limit window.
    pub start_limit: StartLimit,
    /// First stop signal.
    pub stop_signal: Signal,
    /// Grace before SIGKILL.
    pub stop_timeout: Duration,
    /// Stop scope.
    pub kill_mode: KillMode,
    /// A one-shot task (`type = "oneshot"`): its run is meant to end; a successful end
    /// is `completed`, any other `failed` or retried.
    pub oneshot: bool,
    /// The exit codes that count as success besides 0.
    pub success: SuccessCodes,
}

impl From<&ServiceConfig> for Params {
    fn from(c: &ServiceConfig) -> Self {
        Params {
            restart: c.restart,
            backoff: c.backoff,
            min_uptime: c.min_uptime,
            start_limit: c.start_limit,
            stop_signal: c.stop_signal,
            stop_timeout: c.stop_timeout,
            kill_mode: c.kill_mode,
            oneshot: c.kind == crate::config::ServiceType::Oneshot,
            success: c.success_exit_codes,
        }
    }
}

/// What the operator last asked for; it outlives the process and is shown in status.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Keep it running (autostart or `ward start`).
    Run,
    /// Keep it stopped (`ward stop`, or `autostart = false` and never started).
    Stop,
}

/// What happens once a stop completes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AfterStop {
    /// Stay stopped.
    Stay,
    /// Start again (operator restart, or a config change on reload).
    Start,
    /// The stop was ward's answer to a hang: restart as after a crash (restart policy,
    /// backoff, start limit).
    Recover,
}

/// Counters that are never reset behind the operator's back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Automatic restarts after an exit ward did not ask for.
    pub restarts: u64,
    /// Runs that ended before `min_uptime`, or exec failures.
    pub failed_starts: u64,
    /// Successful spawns in total.
    pub spawns: u64,
}

/// One supervised unit's state and memory.
#[derive(Clone, Debug)]
pub struct ServiceMachine {
    pub(crate) params: Params,
    pub(crate) state: State,
    pub(crate) intent: Intent,
    pub(crate) after_stop: AfterStop,
    /// Set in `Stopping` once the main process is gone (tree mode waits for the rest).
    pub(crate) main_alive: bool,
    pub(crate) pid: Option<u32>,
    /// When the current or last process was spawned.
    pub(crate) started_at: Option<Duration>,
    pub(crate) last_exit: Option<ExitStatus>,
    pub(crate) last_spawn_failure: Option<SpawnFailure>,
    /// Failures since the last run that outlived `backoff.reset_after`.
    pub(crate) consecutive_failures: u32,
    /// Times of recent failed starts, oldest first, pruned to the start-limit window.
    pub(crate) failed_start_times: std::collections::VecDeque<Duration>,
    pub(crate) timer_token: u64,
    pub(crate) timer_armed: bool,
    /// The delay chosen for the current backoff, for status.
    pub(crate) backoff_delay: Option<Duration>,
    pub(crate) counters: Counters,
    /// splitmix64 state for jitter; seeded by the caller so tests are deterministic.
    pub(crate) rng: u64,
}

impl ServiceMachine {
    /// A machine in `Stopped`, holding no process. `seed` drives backoff jitter.
    pub fn new(params: Params, seed: u64) -> Self {
        ServiceMachine {
            params,
            state: State::Stopped,
            intent: Intent::Stop,
            after_stop: AfterStop::Stay,
            main_alive: false,
            pid: None,
            started_at: None,
            last_exit: None,
            last_spawn_failure: None,
            consecutive_failures: 0,
            failed_start_times: Default::default(),
            timer_token: 0,
            timer_armed: false,
            backoff_delay: None,
            counters: Counters::default(),
            rng: seed,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }
    /// What the operator last asked for.
    pub fn intent(&self) -> Intent {
        self.intent
    }
    /// The main process, while one exists.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }
    /// When the current (or last) process was spawned, on the caller's clock.
    pub fn started_at(&self) -> Option<Duration> {
        self.started_at
    }
    /// How the last process ended.
    pub fn last_exit(&self) -> Option<ExitStatus> {
        self.last_exit
    }
    /// Why the last spawn failed, until the next successful spawn.
    pub fn last_spawn_failure(&self) -> Option<&SpawnFailure> {
        self.last_spawn_failure.as_ref()
    }
    /// The delay of the backoff in progress.
    pub fn backoff_delay(&self) -> Option<Duration> {
        self.backoff_delay
    }
    /// Lifetime counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
    /// The configuration in force.
    pub fn params(&self) -> &Params {
        &self.params
    }
    /// Replaces the configuration (on reload); takes effect from the next decision.
    pub fn set_params(&mut self, params: Params) {
        self.params = params;
    }
    /// Failed starts within the start-limit window that ends at `now`.
    pub fn failed_starts_in_window(&self, now: Duration) -> u32 {
        let start = now.saturating_sub(self.params.start_limit.interval);
        self.failed_start_times
            .iter()
            .filter(|&&t| t >= start)
            .count() as u32
    }

    /// True when no process of the service can exist: the daemon may drop it or exit.
    pub fn is_quiescent(&self) -> bool {
        matches!(
            self.state,
            State::Stopped | State::Exited | State::Failed | State::Backoff | State::Completed
        )
    }
}
