//! What the daemon tells the journal. Plain data: the store knows nothing of processes.

/// How a run ended, as the journal keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitRecord {
    /// `exit 3`, `killed by SIGSEGV (core dumped)`, `exited, status unknown`.
    pub description: String,
    /// The exit code, when the process called exit.
    pub code: Option<i32>,
    /// The signal's name, when a signal ended it.
    pub signal: Option<String>,
    /// Whether a core was dumped.
    pub core_dumped: bool,
}

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A unit exists (first seen, or seen again after a restart of the daemon).
    Unit {
        /// `web` or `web.2`.
        unit: String,
        /// Its `[services.NAME]`.
        service: String,
    },
    /// A main process started (or was adopted from an earlier daemon).
    RunStarted {
        /// The unit.
        unit: String,
        /// Its identity.
        pid: u32,
        /// Start time in clock ticks since boot.
        start_time: u64,
        /// The boot.
        boot_id: String,
        /// When, ms since the epoch.
        at_ms: i64,
        /// Taken over from an earlier daemon rather than spawned.
        adopted: bool,
    },
    /// A main process ended.
    RunEnded {
        /// The unit.
        unit: String,
        /// Its identity, to find the run.
        pid: u32,
        /// Start time in clock ticks since boot.
        start_time: u64,
        /// The boot.
        boot_id: String,
        /// When.
        at_ms: i64,
        /// How.
        exit: ExitRecord,
    },
    /// A run ended in a way nobody asked for.
    Crash {
        /// The unit.
        unit: String,
        /// The main process that ended, if one ran (an exec failure has none).
        pid: Option<u32>,
        /// When.
        at_ms: i64,
        /// The classifier's stable class name: `segfault`, `oom_kill`, `exec_failed` …
        class: String,
        /// `low`, `medium`, `high`, `critical`.
        severity: String,
        /// What the class was concluded from, one line.
        evidence: String,
        /// The same, a fact a line.
        evidence_lines: Vec<String>,
        /// The verdict in one sentence.
        summary: String,
        /// What the operator can do about it.
        recommendation: Option<String>,
    },
    /// The health of a unit's run changed.
    Health {
        /// The unit.
        unit: String,
        /// When.
        at_ms: i64,
        /// `starting`, `healthy`, `unhealthy`.
        from: String,
        /// The same.
        to: String,
        /// The probe's outcome, in words.
        detail: String,
    },
    /// What ward did about a crash.
    Recovery {
        /// The unit.
        unit: String,
        /// When.
        at_ms: i64,
        /// `restart`, `give up: …`, `none: restart policy`, `repair hook …`,
        /// `on_failure hook …`, `data restored from …`, `escalated from … to …`.
        action: String,
        /// The backoff before a restart.
        delay_ms: Option<u64>,
    },
    /// A state change of a unit.
    Transition {
        /// The unit.
        unit: String,
        /// When.
        at_ms: i64,
        /// Old state.
        from: String,
        /// New state.
        to: String,
    },
    /// A control request and its result.
    Action {
        /// When.
        at_ms: i64,
        /// Who asked: `uid 1000`, `signal SIGHUP`, `ward` …
        who: String,
        /// `start`, `stop`, `restart`, `signal`, `reload`, `shutdown` …
        what: String,
        /// The units it was for.
        targets: String,
        /// What came of it.
        result: String,
    },
    /// Something about the daemon itself: started, stopped, journal overflow.
    Daemon {
        /// When.
        at_ms: i64,
        /// `started`, `stopped`, `journal overflow` …
        what: String,
        /// Details.
        detail: String,
    },
    /// The audit trail's head moved: its last record is now `seq`, of hash `hash`.
    AuditHead {
        /// The record's number.
        seq: u64,
        /// Its hash.
        hash: String,
    },
}
