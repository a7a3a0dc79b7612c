//! What the operator can do about an end: one recommendation per verdict, from the same
//! facts the class rests on. Plain words, naming the config key to change where one helps.

use super::{CrashClass, ExitReport, OomEvidence};
use crate::ExitStatus;

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1048576.0)
}

/// The recommendation for a verdict of `class` on report `r`; `None` when there is
/// nothing to do (a clean exit, a requested stop, a machine that went down).
pub(crate) fn recommendation(class: CrashClass, r: &ExitReport) -> Option<String> {
    let core = |what: &str| match r.status {
        Some(ExitStatus::Signaled {
            core_dumped: true, ..
        }) => format!("{what}: open the core dump in a debugger (gdb PROGRAM CORE)"),
        _ => format!(
            "{what}; no core was kept: set rlimits.core (such as \"1GiB\") to get one next time"
        ),
    };
    let text = match class {
        CrashClass::CleanExit | CrashClass::Stopped | CrashClass::SystemShutdown => return None,
        CrashClass::ErrorExit => {
            "the program chose to exit: its last lines on stderr usually say why".to_string()
        }
        CrashClass::EarlyExit => "it fails during start-up: check its arguments, environment, \
                                  working directory and what it needs at start (stderr below)"
            .to_string(),
        CrashClass::Segfault | CrashClass::BusError | CrashClass::FpError => {
            core("a bug in the program")
        }
        CrashClass::IllegalInstruction => {
            core("a bug in the program, or a binary built for a newer CPU than this one")
        }
        CrashClass::Abort => core("an assertion or a panic; its last stderr lines say which"),
        CrashClass::OomKill => {
            let weak = matches!(r.oom, OomEvidence::Weak(_));
            let advice = match (r.peak_memory, r.memory_limit) {
                (Some(peak), Some(limit)) if peak.saturating_mul(10) >= limit.saturating_mul(9) => {
                    format!(
                        "raise memory_max: peak memory {} of {}",
                        mib(peak),
                        mib(limit)
                    )
                }
                (_, Some(limit)) => format!(
                    "raise memory_max (now {}), or find what makes the service grow",
                    mib(limit)
                ),
                (Some(peak), None) => format!(
                    "the machine ran out of memory: set memory_max to contain this service, or \
                     find what makes it grow (peak {})",
                    mib(peak)
                ),
                (None, None) => "the machine ran out of memory: set memory_max to contain this \
                                 service, or find what makes it grow"
                    .to_string(),
            };
            if weak {
                format!("if the OOM killer ended it: {advice}")
            } else {
                advice
            }
        }
        CrashClass::Killed => "something outside ward sent the signal: look at other \
                               supervisors, cron jobs, scripts and operators (auditd can log \
                               kill(2) calls)"
            .to_string(),
        CrashClass::Hung => match r.hang.as_deref() {
            Some(h) if h.contains("health check") => "find what the service blocks on; if it \
                                                      is only slow to answer, raise \
                                                      health.timeout or health.retries"
                .to_string(),
            Some(h) if h.contains("WATCHDOG=trigger") => {
                "the service reported itself hung: its own log says why".to_string()
            }
            Some(h) if h.contains("post_start hook") => {
                "fix the post_start hook: its output is in the unit's log".to_string()
            }
            Some(_) => "find the call that blocks the service; if its work takes longer than \
                        the interval, raise watchdog"
                .to_string(),
            None => "make the program exit on its stop_signal, or raise stop_timeout if it \
                     needs longer to shut down"
                .to_string(),
        },
        CrashClass::ResourceLimit => match r.status.and_then(|s| s.signal()).map(|s| s.number()) {
            Some(24) => "raise rlimits.cpu, or find what burns the CPU time".to_string(),
            Some(25) => "raise rlimits.fsize, or rotate the file it writes".to_string(),
            _ => "raise pids_max, or find what forks so many processes".to_string(),
        },
        CrashClass::ExecFailed => match &r.exec_failure {
            Some(f) if f.contains("working directory") => format!("fix `cwd`: {f}"),
            Some(f) if f.contains("pre_start hook") => {
                format!("fix `pre_start` or what it checks: {f}; its stderr is below")
            }
            Some(f) => format!("fix `command`: {f}"),
            None => "fix `command`".to_string(),
        },
        CrashClass::CrashLoop => "fix the cause shown above; ward restarts it only after \
                                  `ward start`"
            .to_string(),
        CrashClass::SupervisorCrash => {
            "read the daemon's log for why ward itself ended; the service was left alone".into()
        }
    };
    Some(text)
}
