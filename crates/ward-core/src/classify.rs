//! Why a run ended: a pure function from what was observed to a verdict with its evidence.
//!
//! The daemon gathers the facts (the wait status, whether ward itself asked for the stop
//! and had to escalate to SIGKILL, how long the run lasted, evidence of an OOM kill, the
//! failures in the start-limit window) into an [`ExitReport`]; [`classify`] names the class,
//! rates the severity and says in words what the verdict rests on. No I/O, no clock: every
//! class is tested without a process.

use std::time::Duration;

use crate::duration::format_duration;
use crate::{ExitStatus, Signal};

mod advice;
mod class;
mod confidence;
mod oom;
#[cfg(test)]
mod tests;

pub use class::{CrashClass, Severity};
pub use confidence::{Confidence, Outcomes, PRIOR_WEIGHT, confidence};
pub use oom::{KernelOomLog, OomFacts, oom_evidence, oom_may_settle};

/// How sure ward is that the kernel's OOM killer ended the process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OomEvidence {
    /// Nothing points to an OOM kill.
    None,
    /// A system-wide sign only (the `oom_kill` counter of `/proc/vmstat` rose during the run):
    /// another process may have been the victim.
    Weak(String),
    /// The service's own cgroup counted an OOM kill, or the kernel log names its PID.
    Strong(String),
    /// Evidence against an OOM kill where a machine-wide sign pointed to one: the unit's
    /// own counter stayed still, or the kernel log named another process. In words, for
    /// the verdict's evidence.
    RuledOut(String),
}

/// Everything known about how a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct ExitReport {
    /// How it ended; `None` when exec failed and no program ever ran.
    pub status: Option<ExitStatus>,
    /// The exec failure, in words, when there was one.
    pub exec_failure: Option<String>,
    /// Ward stopped it on request (operator, reload, shutdown).
    pub requested_stop: bool,
    /// The stop needed SIGKILL after `stop_timeout`: the program did not honour its stop signal.
    pub stop_escalated: bool,
    /// How long it ran.
    pub run_time: Duration,
    /// Runs shorter than this are failed starts.
    pub min_uptime: Duration,
    /// Failed starts in the current start-limit window, this one included.
    pub failed_starts: u32,
    /// The start limit's `burst`: more failed starts than this is a crash loop.
    pub burst: u32,
    /// OOM evidence gathered over the settling window.
    pub oom: OomEvidence,
    /// The run belonged to an earlier boot: the machine went down under it.
    pub earlier_boot: bool,
    /// The run ended while no daemon ran, after a daemon that did not exit cleanly.
    pub supervisor_crashed: bool,
    /// The last signal an operator sent the process with `ward signal`, if any.
    pub operator_signal: Option<Signal>,
    /// Forks refused by the cgroup's `pids_max` during the run.
    pub pids_limit_hits: u64,
    /// Ward judged the run hung before it ended (failed health checks, a missed or
    /// triggered watchdog) and stopped it for that reason: the evidence, in words.
    pub hang: Option<String>,
    /// Services that depend on this one and want to run: its end affects them.
    pub dependents: Vec<String>,
    /// The most memory the service's cgroup held, in bytes, where the kernel tells.
    pub peak_memory: Option<u64>,
    /// The service's `memory_max`, in bytes.
    pub memory_limit: Option<u64>,
    /// The largest resident memory the run's usage samples saw (`sample_interval`).
    pub sampled_peak_rss: Option<u64>,
    /// The exit codes besides 0 that its config counts as success (`success_exit_codes`).
    pub success: crate::exit::SuccessCodes,
}

impl ExitReport {
    /// A report with nothing remarkable but the status, for building in tests and code.
    pub fn of(status: ExitStatus, run_time: Duration) -> ExitReport {
        ExitReport {
            status: Some(status),
            exec_failure: None,
            requested_stop: false,
            stop_escalated: false,
            run_time,
            min_uptime: Duration::from_secs(1),
            failed_starts: 0,
            burst: 5,
            oom: OomEvidence::None,
            earlier_boot: false,
            supervisor_crashed: false,
            operator_signal: None,
            pids_limit_hits: 0,
            hang: None,
            dependents: Vec::new(),
            peak_memory: None,
            memory_limit: None,
            sampled_peak_rss: None,
            success: crate::exit::SuccessCodes::default(),
        }
    }
}

/// What ward concludes about one ended run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The class, with a name that is stable in the API.
    pub class: CrashClass,
    /// How bad it is.
    pub severity: Severity,
    /// What the class rests on, one fact a line.
    pub evidence: Vec<String>,
    /// The verdict in one sentence for people.
    pub summary: String,
    /// What the operator can do about it, in one sentence; `None` when nothing.
    pub recommendation: Option<String>,
}

/// Why a unit is `failed`, in words, from the class of its last verdict and the strategy
/// ward chose for it.
pub fn gave_up_reason(class: Option<&str>, strategy: Option<&str>) -> &'static str {
    match (class, strategy) {
        (Some("crash_loop"), _) | (_, None) => "the start limit was reached",
        (_, Some("repair")) => "the repair hook did not work",
        (_, Some("restore")) => "the data restore did not work",
        (_, Some("give_up")) => "its recovery strategy is to give up",
        _ => "the start limit was reached",
    }
}

/// Whether a run recorded under boot id `recorded` belongs to an earlier boot of the
/// machine than `current`. Only two known, different ids say so: an id that could not be
/// read, now or when the run began, is no evidence that the machine went down, and a
/// `system_shutdown` verdict beside a live boot would be untrue.
pub fn earlier_boot(recorded: &str, current: Option<&str>) -> bool {
    match current {
        Some(now) => !recorded.is_empty() && !now.is_empty() && recorded != now,
        None => false,
    }
}

/// Classifies one ended run. Total: every report gets exactly one class.
///
/// The order of the checks is the order of precedence: the machine going down explains
/// everything that died with it; a stop ward asked for is never a crash; an exec failure
/// had no run at all; a crash loop outranks the single failure that completed it; an OOM
/// kill outranks the SIGKILL it shows up as.
pub fn classify(r: &ExitReport) -> Verdict {
    let mut evidence = Vec::new();
    if let Some(status) = r.status {
        evidence.push(format!("{status} after {}", format_duration(r.run_time)));
    }
    let class = decide(r, &mut evidence);
    let mut severity = class::severity(class, r.failed_starts, r.burst);
    if class.is_crash() && !r.dependents.is_empty() {
        severity = class::raised(severity);
        evidence.push(format!(
            "{} service(s) depend on it: {}",
            r.dependents.len(),
            r.dependents.join(", ")
        ));
    }
    if class.is_crash()
        && let Some(peak) = r.sampled_peak_rss
    {
        evidence.push(format!(
            "its resident memory peaked at {} in the run's samples",
            crate::config::format_size(peak)
        ));
    }
    let summary = summary(class, r);
    Verdict {
        class,
        severity,
        evidence,
        summary,
        recommendation: advice::recommendation(class, r),
    }
}

fn decide(r: &ExitReport, evidence: &mut Vec<String>) -> CrashClass {
    if r.earlier_boot {
        evidence.push("the run belongs to an earlier boot of this machine".into());
        return CrashClass::SystemShutdown;
    }
    if r.supervisor_crashed {
        evidence.push("the daemon that ran it ended without a clean exit".into());
        return CrashClass::SupervisorCrash;
    }
    if let Some(why) = &r.hang {
        evidence.push(why.clone());
        evidence.push(if r.stop_escalated {
            "ward stopped it for that; it ignored its stop signal and was killed after stop_timeout"
                .into()
        } else {
            "ward stopped it for that, to restart it".into()
        });
        return CrashClass::Hung;
    }
    if r.requested_stop {
        if r.stop_escalated {
            evidence.push("it ignored its stop signal and was killed after stop_timeout".into());
            return CrashClass::Hung;
        }
        evidence.push("ward stopped it on request".into());
        return CrashClass::Stopped;
    }
    let failed_start = r.exec_failure.is_some() || r.run_time < r.min_uptime;
    if failed_start && r.failed_starts > r.burst {
        if let Some(failure) = &r.exec_failure {
            evidence.push(failure.clone());
        }
        evidence.push(format!(
            "{} failed starts in the start-limit window (burst {})",
            r.failed_starts, r.burst
        ));
        return CrashClass::CrashLoop;
    }
    if let Some(failure) = &r.exec_failure {
        evidence.push(failure.clone());
        return CrashClass::ExecFailed;
    }
    let Some(status) = r.status else {
        evidence.push("no exit status and no exec failure were reported".into());
        return CrashClass::Killed;
    };
    if let (Some(sent), Some(got)) = (r.operator_signal, status.signal())
        && sent == got
    {
        evidence.push(format!("the operator sent {sent} with `ward signal`"));
        return CrashClass::Stopped;
    }
    match &r.oom {
        OomEvidence::Strong(why) => {
            evidence.push(why.clone());
            return CrashClass::OomKill;
        }
        OomEvidence::Weak(why) if status.signal() == Some(Signal::KILL) => {
            evidence.push(format!("{why} (a system-wide sign only: weak evidence)"));
            return CrashClass::OomKill;
        }
        OomEvidence::RuledOut(why) if status.signal() == Some(Signal::KILL) => {
            evidence.push(why.clone());
        }
        _ => {}
    }
    // A program that could not fork often gives up with an error or an abort: the
    // cgroup's count of refused forks names the cause.
    let gave_up_on_fork = matches!(status, ExitStatus::Exited(c) if c != 0)
        || status.signal().is_some_and(|s| s.number() == 6);
    if r.pids_limit_hits > 0 && gave_up_on_fork {
        evidence.push(format!(
            "the service's cgroup refused {} fork(s) on its pids limit (pids_max) during the run",
            r.pids_limit_hits
        ));
        return CrashClass::ResourceLimit;
    }
    let class = match status {
        ExitStatus::Exited(0) => CrashClass::CleanExit,
        ExitStatus::Exited(code) if r.success.accepts(status) => {
            evidence.push(format!("exit {code} is one of its success_exit_codes"));
            CrashClass::CleanExit
        }
        ExitStatus::Exited(code) => {
            evidence.push(format!("the program chose to exit with code {code}"));
            CrashClass::ErrorExit
        }
        ExitStatus::Unknown => {
            evidence.push(
                "the kernel kept no exit status for ward to read (it was not ward's child)".into(),
            );
            CrashClass::Killed
        }
        ExitStatus::Signaled {
            signal,
            core_dumped,
        } => {
            let class = class::of_signal(signal);
            evidence.push(class::signal_evidence(class, signal, core_dumped));
            class
        }
    };
    if failed_start {
        evidence.push(format!(
            "it ran {} of min_uptime {}",
            format_duration(r.run_time),
            format_duration(r.min_uptime)
        ));
    }
    if failed_start && matches!(class, CrashClass::CleanExit | CrashClass::ErrorExit) {
        return CrashClass::EarlyExit;
    }
    class
}

fn summary(class: CrashClass, r: &ExitReport) -> String {
    let status = r.status.map(|s| s.to_string()).unwrap_or_default();
    match class {
        CrashClass::CleanExit => format!("it exited cleanly ({status})"),
        CrashClass::ErrorExit => format!("it exited with an error ({status})"),
        CrashClass::Segfault => "it crashed on a bad memory access (SIGSEGV)".into(),
        CrashClass::Abort => "it aborted itself (SIGABRT): an assertion or a panic".into(),
        CrashClass::BusError => "it crashed on a misaligned or unmapped access (SIGBUS)".into(),
        CrashClass::IllegalInstruction => "it executed an illegal instruction (SIGILL)".into(),
        CrashClass::FpError => "it crashed on an arithmetic error (SIGFPE)".into(),
        CrashClass::OomKill => match r.oom {
            OomEvidence::Strong(_) => "the kernel's OOM killer ended it".into(),
            _ => "probably the kernel's OOM killer ended it (weak evidence)".into(),
        },
        CrashClass::Killed => format!("something outside ward ended it ({status})"),
        CrashClass::Stopped => "it was stopped on request; not a crash".into(),
        CrashClass::Hung if r.hang.is_some() => {
            "it stopped responding (see the evidence), so ward stopped it to restart it".into()
        }
        CrashClass::Hung => "it did not stop when asked and had to be killed".into(),
        CrashClass::ResourceLimit => format!("it exceeded a resource limit ({status})"),
        CrashClass::ExecFailed => "it could not be started: exec failed".into(),
        CrashClass::EarlyExit => format!(
            "it ended before min_uptime ({}): a failed start",
            format_duration(r.min_uptime)
        ),
        CrashClass::CrashLoop => "it keeps failing to start: a crash loop".into(),
        CrashClass::SystemShutdown => "the machine went down while it ran".into(),
        CrashClass::SupervisorCrash => "it ended while ward itself was down after a crash".into(),
    }
}
