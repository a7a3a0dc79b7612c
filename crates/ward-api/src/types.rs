//! Request and response bodies. Field names are the stable API; add, never rename.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a unit is in its life, as the daemon's state machine has it. On the wire it is
/// the lowercase name (`"running"`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum UnitState {
    /// No process; it stays so until started (operator stop, `autostart = false`).
    Stopped,
    /// A process was spawned and is not yet up for `min_uptime` (or a repair hook or a
    /// data restore runs before the spawn).
    Starting,
    /// The process has been up for at least `min_uptime`.
    Running,
    /// The stop signal was sent; waiting for every process of the unit to go.
    Stopping,
    /// The process ended and the restart policy leaves it.
    Exited,
    /// Waiting out the backoff delay before the next start.
    Backoff,
    /// ward gave up on it until someone starts it again; a task whose run ended
    /// unsuccessfully and is not retried.
    Failed,
    /// A task (`type = "oneshot"`) whose run ended successfully.
    Completed,
}

impl UnitState {
    /// Every state, in the order of a unit's life.
    pub const ALL: [UnitState; 8] = [
        UnitState::Stopped,
        UnitState::Starting,
        UnitState::Running,
        UnitState::Stopping,
        UnitState::Exited,
        UnitState::Backoff,
        UnitState::Failed,
        UnitState::Completed,
    ];

    /// The name on the wire, which is also what people read.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitState::Stopped => "stopped",
            UnitState::Starting => "starting",
            UnitState::Running => "running",
            UnitState::Stopping => "stopping",
            UnitState::Exited => "exited",
            UnitState::Backoff => "backoff",
            UnitState::Failed => "failed",
            UnitState::Completed => "completed",
        }
    }
}

impl fmt::Display for UnitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the operator (or `autostart`) last asked of a unit. On the wire, and in the
/// daemon's unit records, it is `"run"` or `"stop"`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum UnitIntent {
    /// Keep it running.
    Run,
    /// Keep it stopped.
    Stop,
}

impl UnitIntent {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitIntent::Run => "run",
            UnitIntent::Stop => "stop",
        }
    }
}

impl fmt::Display for UnitIntent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Names a set of units: explicit names (a service name with instances selects them all),
/// or every unit.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Selection {
    /// Unit or service names.
    #[serde(default)]
    pub names: Vec<String>,
    /// Every unit, ignoring `names`.
    #[serde(default)]
    pub all: bool,
}

/// `POST /v1/signal`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignalRequest {
    /// Which units.
    #[serde(flatten)]
    pub selection: Selection,
    /// A name (`HUP`, `SIGUSR1`) or number.
    pub signal: String,
}

/// The outcome for one unit of a start, stop, restart or signal request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct UnitResult {
    /// The unit.
    pub name: String,
    /// Whether the request was carried out.
    pub ok: bool,
    /// What happened, in words.
    pub message: String,
}

/// Answer to start, stop, restart and signal.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ActionResponse {
    /// One entry per selected unit, in name order.
    pub results: Vec<UnitResult>,
}

/// How a process ended, in parts for scripts and in words for people.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExitInfo {
    /// `exit 3`, `killed by SIGSEGV (core dumped)`.
    pub description: String,
    /// The exit code, when the process called exit.
    pub code: Option<i32>,
    /// The signal's name, when a signal ended it.
    pub signal: Option<String>,
    /// Whether a core was dumped.
    pub core_dumped: bool,
    /// Wall-clock time of the exit, milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// One unit as `ward status` shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServiceStatus {
    /// Unit name (`web` or `web.2`).
    pub name: String,
    /// The `[services.NAME]` it comes from.
    pub service: String,
    /// `stopped`, `starting`, `running`, `stopping`, `exited`, `backoff`, `failed`, `completed`.
    pub state: UnitState,
    /// What the operator asked for: `run` or `stop`.
    pub intent: UnitIntent,
    /// The main process, if one exists.
    pub pid: Option<u32>,
    /// What the kernel says the main process is doing: `running`, `sleeping`, `disk sleep`,
    /// `stopped`, `traced`, `zombie`, `dead`, `idle`, `not found`; null without a main
    /// process.
    #[serde(default)]
    pub process_state: Option<String>,
    /// When the current or last process started, ms since the Unix epoch.
    pub started_at_ms: Option<u64>,
    /// How long the current process has been up.
    pub uptime_ms: Option<u64>,
    /// Automatic restarts since the daemon started.
    pub restarts: u64,
    /// Successful spawns since the daemon started.
    pub spawns: u64,
    /// Runs shorter than `min_uptime`, and exec failures.
    pub failed_starts: u64,
    /// How the last process ended.
    pub last_exit: Option<ExitInfo>,
    /// Why the last run ended, as ward's classifier judged it.
    #[serde(default)]
    pub verdict: Option<VerdictInfo>,
    /// Why the last spawn failed (cleared by a successful spawn).
    pub spawn_error: Option<String>,
    /// The delay of the backoff in progress.
    pub backoff_ms: Option<u64>,
    /// The unit's log file.
    pub log_file: String,
    /// Output bytes dropped because the disk could not keep up.
    pub log_dropped_bytes: u64,
    /// The unit's cgroup directory, when cgroups contain it.
    pub cgroup: Option<String>,
    /// What its health check says of the current run: `starting`, `healthy`,
    /// `unhealthy`; null without a health check or without a run.
    #[serde(default)]
    pub health: Option<String>,
    /// The last health probe's outcome in words.
    #[serde(default)]
    pub health_last: Option<String>,
    /// Ready for its dependents, as its `ready` setting defines it.
    #[serde(default)]
    pub ready: bool,
    /// Services it depends on that are not ready yet: its start waits for them.
    #[serde(default)]
    pub waiting_for: Vec<String>,
    /// What it waits for, one sentence per service in `waiting_for`: the condition and
    /// where that service is (`migrate to complete (failed: exit 1)`).
    #[serde(default)]
    pub waiting_reasons: Vec<String>,
    /// `simple` (a service that keeps running) or `oneshot` (a task that runs to its end).
    #[serde(default)]
    pub kind: String,
    /// Its `schedule`, as written, when it has one.
    #[serde(default)]
    pub schedule: Option<String>,
    /// When its schedule runs it next, ms since the Unix epoch; `None` without a schedule,
    /// while `ward stop` has paused it, or when the expression names no future time.
    #[serde(default)]
    pub next_run_ms: Option<u64>,
    /// The daemon starts it in a moment: a daemon starts its units a slice at a time,
    /// so that thousands of them never keep a status waiting.
    #[serde(default)]
    pub start_queued: bool,
    /// The services it depends on, as configured.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// The last `STATUS=` the service sent on `$NOTIFY_SOCKET`.
    #[serde(default)]
    pub status_text: Option<String>,
    /// What the current run used at the last sample (`sample_interval`); `None` without
    /// a run, before its first sample, and with sampling off.
    #[serde(default)]
    pub usage: Option<UsageInfo>,
    /// The last 24 hours in numbers, from the journal, when asked for
    /// (`GET /v1/status?stats=true`): reading them costs milliseconds more at thousands
    /// of units, which the table and the dashboard's polls do without. `None` otherwise,
    /// for a unit the journal has not seen, and when the journal cannot be read.
    #[serde(default)]
    pub stats: Option<UnitStats>,
}

/// A unit's last 24 hours in numbers, computed from the journal each time they are asked
/// for, so that nothing resets them behind the operator's back (`ward why`,
/// `ward status --json`, the dashboard).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitStats {
    /// How far back, in ms.
    pub window_ms: i64,
    /// Runs that started in the window.
    pub runs: u32,
    /// Ends judged crashes.
    pub crashes: u32,
    /// The same, by class.
    pub crashes_by_class: std::collections::BTreeMap<String, u32>,
    /// Restarts ward made after a crash.
    pub restarts_after_crash: u32,
    /// Restarts someone asked for.
    pub restarts_by_operator: u32,
    /// Restarts a reload made, for a changed config.
    pub restarts_by_reload: u32,
    /// Time spent waiting in backoff.
    pub backoff_ms: i64,
    /// The share of the window it ran, 0 to 1.
    pub uptime_ratio: f64,
    /// Time up per crash; `None` without a crash.
    pub mtbf_ms: Option<i64>,
}

/// One sample of what a run uses: its cgroup's processes, or its process tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageInfo {
    /// CPU over the last interval, in percent of one core (two busy cores read 200).
    /// `None` on the run's first sample.
    pub cpu_percent: Option<f64>,
    /// CPU time used so far, user and system, in seconds.
    pub cpu_seconds: f64,
    /// Resident memory of all its processes.
    pub memory_rss_bytes: u64,
    /// The largest `memory_rss_bytes` of the run's samples.
    pub memory_peak_rss_bytes: u64,
    /// Proportional memory (shared pages divided among their users), with
    /// `sample_pss = true`.
    #[serde(default)]
    pub memory_pss_bytes: Option<u64>,
    /// Threads of all its processes.
    pub threads: u64,
    /// Open descriptors of all its processes.
    pub fds: u64,
    /// Bytes its processes read from storage.
    pub read_bytes: u64,
    /// Bytes its processes wrote to storage.
    pub write_bytes: u64,
    /// How many processes were sampled.
    pub processes: u64,
    /// When, in ms since the Unix epoch.
    pub sampled_at_ms: u64,
}

/// The classifier's verdict on a run's end.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct VerdictInfo {
    /// Stable class name: `segfault`, `oom_kill`, `error_exit`, …
    pub class: String,
    /// `low`, `medium`, `high`, `critical`.
    pub severity: String,
    /// One sentence for people.
    pub summary: String,
    /// The facts the class rests on.
    pub evidence: Vec<String>,
    /// When ward judged it, ms since the Unix epoch.
    pub at_ms: u64,
    /// What ward chose to do about it: `backoff`, `repair`, `restore`, `give_up` (after
    /// any escalation); absent for an end that is not a crash.
    #[serde(default)]
    pub strategy: Option<String>,
    /// What the operator can do about it; absent when nothing.
    #[serde(default)]
    pub recommendation: Option<String>,
}

/// Facts about the daemon itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DaemonInfo {
    /// The daemon's PID.
    pub pid: u32,
    /// ward's version.
    pub version: String,
    /// The config file in force.
    pub config: String,
    /// The state directory.
    pub state_dir: String,
    /// `v2`, `v1` or `off`.
    pub cgroup: String,
    /// When the daemon started, ms since the Unix epoch.
    pub started_at_ms: u64,
    /// The journal file.
    #[serde(default)]
    pub journal: String,
    /// Journal records dropped because the disk could not keep up (the queue was full).
    #[serde(default)]
    pub journal_dropped: u64,
    /// Journal records lost because their transaction failed (disk full, I/O error).
    #[serde(default)]
    pub journal_failed: u64,
    /// What the repair of a damaged journal did at start-up, if one was needed.
    #[serde(default)]
    pub journal_repair: Option<String>,
    /// The address the HTTP listener is bound to (`[supervisor] http`), if there is one.
    #[serde(default)]
    pub http: Option<String>,
}

/// `POST /v1/backup`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackupResponse {
    /// The new backup file, verified.
    pub file: String,
}

/// `GET /v1/status`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StatusResponse {
    /// The daemon.
    pub daemon: DaemonInfo,
    /// Units in name order.
    pub services: Vec<ServiceStatus>,
}

/// `POST /v1/reload`: what the new config changed.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReloadResponse {
    /// Units that are new and were started (if autostart).
    pub added: Vec<String>,
    /// Units that are gone and were stopped.
    pub removed: Vec<String>,
    /// Units whose config changed; restarted if they were meant to run, otherwise the new
    /// config applies at their next start.
    pub changed: Vec<String>,
    /// Units left as they were.
    pub unchanged: Vec<String>,
    /// What did not take effect: `[supervisor]` settings that need a daemon restart, and
    /// units that could not be added yet.
    pub warnings: Vec<String>,
}

/// Every non-2xx answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
    /// How to fix it, when ward knows.
    pub hint: Option<String>,
}

/// A plain acknowledgement.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ack {
    /// Always true; present so the body is a JSON object.
    pub ok: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATES: [UnitState; 8] = UnitState::ALL;

    /// The JSON is the string docs/api.md lists, and the one `as_str` gives.
    #[test]
    fn states_and_intents_are_their_names_on_the_wire() {
        let names: Vec<String> = STATES
            .iter()
            .map(|s| serde_json::to_string(s).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "\"stopped\"",
                "\"starting\"",
                "\"running\"",
                "\"stopping\"",
                "\"exited\"",
                "\"backoff\"",
                "\"failed\"",
                "\"completed\""
            ]
        );
        for s in STATES {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
            let back: UnitState = serde_json::from_str(&format!("\"{}\"", s.as_str())).unwrap();
            assert_eq!(back, s);
        }
        for (i, name) in [(UnitIntent::Run, "run"), (UnitIntent::Stop, "stop")] {
            assert_eq!(serde_json::to_string(&i).unwrap(), format!("\"{name}\""));
            assert_eq!(i.as_str(), name);
            let back: UnitIntent = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(back, i);
        }
        assert!(serde_json::from_str::<UnitState>("\"Running\"").is_err());
        assert!(serde_json::from_str::<UnitIntent>("\"pause\"").is_err());
    }
}

/// One event of `GET /v1/events`, as it happens: each journal record but the daemon's
/// bookkeeping, typed by `kind`, with the words `ward events` prints in `detail`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveEvent {
    /// Its number in this daemon's stream, from 1; a gap means events were missed.
    pub seq: u64,
    /// When, in ms since the Unix epoch.
    pub at_ms: i64,
    /// The unit, when it is about one.
    pub unit: Option<String>,
    /// What happened, in words.
    pub detail: String,
    /// What happened, as data.
    #[serde(flatten)]
    pub body: EventBody,
}

/// The kinds of [`LiveEvent`] and their fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// A main process started, or was adopted.
    Start {
        /// Its PID.
        pid: u32,
        /// Taken over from an earlier daemon.
        adopted: bool,
    },
    /// A main process ended.
    Exit {
        /// Its PID.
        pid: u32,
        /// `exit 3`, `killed by SIGSEGV (core dumped)`.
        description: String,
        /// The exit code, when it called exit.
        code: Option<i32>,
        /// The signal's name, when a signal ended it.
        signal: Option<String>,
    },
    /// The verdict on an end nobody asked for.
    Crash {
        /// The main process, if one ran.
        pid: Option<u32>,
        /// Its class (crashes.md).
        class: String,
        /// `low`, `medium`, `high`, `critical`.
        severity: String,
        /// The verdict in one sentence.
        summary: String,
        /// What the class rests on, a fact a line.
        evidence: Vec<String>,
        /// What the operator can do.
        recommendation: Option<String>,
    },
    /// The health of a run changed.
    Health {
        /// Before.
        from: String,
        /// After.
        to: String,
    },
    /// What ward did about a crash.
    Recovery {
        /// `restart`, `give up: …`, `repair hook …`.
        action: String,
        /// The delay before it, for a restart.
        delay_ms: Option<u64>,
    },
    /// A unit changed state.
    State {
        /// Before.
        from: String,
        /// After.
        to: String,
    },
    /// A control request and what came of it (a reload among them).
    Action {
        /// Who asked.
        who: String,
        /// `start`, `stop`, `reload` …
        what: String,
        /// The units it named.
        targets: String,
        /// What came of it.
        result: String,
    },
    /// Something about the daemon itself.
    Daemon {
        /// `daemon started`, `journal overflow` …
        what: String,
    },
    /// A round of resource samples, for readers that asked (`?usage=true`); not a
    /// journal record, so numbered `0`.
    Usage {
        /// Each unit sampled, with its new point.
        samples: Vec<crate::UnitUsage>,
    },
    /// The daemon dropped this reader, which did not keep up; sent last, when it can be.
    Dropped {
        /// Events the reader missed.
        missed: u64,
    },
}

impl EventBody {
    /// The kind, as the JSON's `kind` and the SSE `event:` name it.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Start { .. } => "start",
            EventBody::Exit { .. } => "exit",
            EventBody::Crash { .. } => "crash",
            EventBody::Health { .. } => "health",
            EventBody::Recovery { .. } => "recovery",
            EventBody::State { .. } => "state",
            EventBody::Action { .. } => "action",
            EventBody::Daemon { .. } => "daemon",
            EventBody::Usage { .. } => "usage",
            EventBody::Dropped { .. } => "dropped",
        }
    }
}
