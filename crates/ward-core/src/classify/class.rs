//! The classes, their stable names, and the severity table.

use crate::Signal;

/// Why a run ended. The names (`as_str`) are stable in the API and the journal.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum CrashClass {
    /// `exit 0`.
    CleanExit,
    /// A non-zero exit code after a good run.
    ErrorExit,
    /// SIGSEGV.
    Segfault,
    /// SIGABRT.
    Abort,
    /// SIGBUS.
    BusError,
    /// SIGILL.
    IllegalInstruction,
    /// SIGFPE.
    FpError,
    /// The kernel's OOM killer.
    OomKill,
    /// A signal ward did not send, without OOM evidence (or an end nobody saw).
    Killed,
    /// Ward stopped it on request: not a crash.
    Stopped,
    /// It did not stop when asked (SIGKILL after `stop_timeout`).
    Hung,
    /// SIGXCPU or SIGXFSZ: a CPU-time or file-size limit.
    ResourceLimit,
    /// Exec failed: missing file, permission, bad format, bad working directory.
    ExecFailed,
    /// It exited on its own before `min_uptime`.
    EarlyExit,
    /// More failed starts than `burst` in the start-limit window.
    CrashLoop,
    /// The machine went down under it.
    SystemShutdown,
    /// It ended while ward was down after a crash of ward itself.
    SupervisorCrash,
}

impl CrashClass {
    /// Every class, in the order the docs list them.
    pub const ALL: [CrashClass; 17] = [
        CrashClass::CleanExit,
        CrashClass::ErrorExit,
        CrashClass::Segfault,
        CrashClass::Abort,
        CrashClass::BusError,
        CrashClass::IllegalInstruction,
        CrashClass::FpError,
        CrashClass::OomKill,
        CrashClass::Killed,
        CrashClass::Stopped,
        CrashClass::Hung,
        CrashClass::ResourceLimit,
        CrashClass::ExecFailed,
        CrashClass::EarlyExit,
        CrashClass::CrashLoop,
        CrashClass::SystemShutdown,
        CrashClass::SupervisorCrash,
    ];

    /// The stable name: `segfault`, `oom_kill`, …
    pub fn as_str(self) -> &'static str {
        match self {
            CrashClass::CleanExit => "clean_exit",
            CrashClass::ErrorExit => "error_exit",
            CrashClass::Segfault => "segfault",
            CrashClass::Abort => "abort",
            CrashClass::BusError => "bus_error",
            CrashClass::IllegalInstruction => "illegal_instruction",
            CrashClass::FpError => "fp_error",
            CrashClass::OomKill => "oom_kill",
            CrashClass::Killed => "killed",
            CrashClass::Stopped => "stopped",
            CrashClass::Hung => "hung",
            CrashClass::ResourceLimit => "resource_limit",
            CrashClass::ExecFailed => "exec_failed",
            CrashClass::EarlyExit => "early_exit",
            CrashClass::CrashLoop => "crash_loop",
            CrashClass::SystemShutdown => "system_shutdown",
            CrashClass::SupervisorCrash => "supervisor_crash",
        }
    }

    /// Whether the class is a failure of the service (as opposed to an end it or ward chose).
    pub fn is_crash(self) -> bool {
        !matches!(self, CrashClass::CleanExit | CrashClass::Stopped)
    }
}

/// How bad an end is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Expected or harmless.
    Low,
    /// A failure the program reported or that ward can likely recover from.
    Medium,
    /// A crash of the program itself, or outside interference.
    High,
    /// It will not get better by itself: a crash loop, a start that cannot work.
    Critical,
}

impl Severity {
    /// `low`, `medium`, `high`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub(crate) fn raised(self) -> Severity {
        match self {
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            Severity::High | Severity::Critical => Severity::Critical,
        }
    }
}

/// The severity table: a base per class, one step higher when failures recur (more than
/// half of `burst` failed starts in the window). [`super::classify`] raises it one more
/// step when services that depend on this one are affected.
pub(crate) fn severity(class: CrashClass, failed_starts: u32, burst: u32) -> Severity {
    let base = match class {
        CrashClass::CleanExit | CrashClass::Stopped | CrashClass::SystemShutdown => Severity::Low,
        CrashClass::ErrorExit
        | CrashClass::EarlyExit
        | CrashClass::SupervisorCrash
        | CrashClass::Hung => Severity::Medium,
        CrashClass::Segfault
        | CrashClass::Abort
        | CrashClass::BusError
        | CrashClass::IllegalInstruction
        | CrashClass::FpError
        | CrashClass::OomKill
        | CrashClass::Killed
        | CrashClass::ResourceLimit => Severity::High,
        CrashClass::ExecFailed | CrashClass::CrashLoop => Severity::Critical,
    };
    let recurring = class.is_crash() && failed_starts > 1 && failed_starts * 2 > burst;
    if recurring { base.raised() } else { base }
}

/// One step more severe (critical stays critical).
pub(crate) fn raised(s: Severity) -> Severity {
    s.raised()
}

/// The class a deadly signal stands for.
pub(crate) fn of_signal(signal: Signal) -> CrashClass {
    match signal.number() {
        11 => CrashClass::Segfault,
        6 => CrashClass::Abort,
        7 => CrashClass::BusError,
        4 => CrashClass::IllegalInstruction,
        8 => CrashClass::FpError,
        24 | 25 => CrashClass::ResourceLimit,
        _ => CrashClass::Killed,
    }
}

/// One line of evidence for a signal death.
pub(crate) fn signal_evidence(class: CrashClass, signal: Signal, core_dumped: bool) -> String {
    let core = if core_dumped {
        "a core was dumped"
    } else {
        "no core was dumped"
    };
    match class {
        CrashClass::ResourceLimit if signal.number() == 24 => {
            format!("{signal}: the CPU-time limit (rlimit cpu) ran out; {core}")
        }
        CrashClass::ResourceLimit => {
            format!("{signal}: a write went past the file-size limit (rlimit fsize); {core}")
        }
        CrashClass::Killed => format!("{signal}, which ward did not send; {core}"),
        _ => format!("{signal}; {core}"),
    }
}
