//! Whether the kernel's OOM killer ended a run: a pure judgement over the counters and
//! kernel-log lines the daemon read.
//!
//! The rule: a weak, machine-wide sign never outweighs strong evidence about the unit
//! itself. In order:
//!
//! 1. The unit's own memory cgroup counted an OOM kill during the run: strong.
//! 2. The kernel log, since the run began, names this very PID: strong.
//! 3. The unit has its own counter and it did not move: not an OOM kill, whatever the
//!    machine counted. The kernel counts every OOM kill of a process in the cgroup, of
//!    the cgroup's own limit or the machine's, so silence there is evidence against.
//! 4. The kernel log, since the run began, names other PIDs only: another process was the
//!    victim; evidence against this one.
//! 5. Only where neither a counter of its own nor a kernel line exists does the
//!    machine-wide `oom_kill` of `/proc/vmstat` count, and then only as weak evidence.

use super::OomEvidence;

/// What the kernel log said about OOM kills while the run lasted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelOomLog {
    /// The log could not be read (no permission, no device): it says nothing either way.
    Unread,
    /// No OOM-killer line since the run began.
    Silent,
    /// The OOM killer named this run's PID: its line.
    NamesThis(String),
    /// The OOM killer named other PIDs only: the most recent such line.
    NamesOthers(String),
}

/// The facts gathered at a run's end (and again after a short settling time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OomFacts {
    /// The unit's memory cgroup's OOM-kill counter when the run began and now; `None`
    /// when the unit has no memory cgroup or the kernel does not count.
    pub cgroup: Option<(u64, u64)>,
    /// The machine's `oom_kill` count (`/proc/vmstat`) when the run began and now.
    pub machine: Option<(u64, u64)>,
    /// The kernel log since the run began.
    pub kernel: KernelOomLog,
    /// The most memory the unit's cgroup held, in bytes.
    pub peak_memory: Option<u64>,
    /// The unit's `memory_max`, in bytes.
    pub memory_limit: Option<u64>,
}

/// Whether a death's verdict waits for OOM evidence to settle: the kernel may report a
/// death before its counters move or its log line is written, and only a SIGKILL death
/// without strong evidence yet can still turn out to be an OOM kill.
pub fn oom_may_settle(status: crate::ExitStatus, evidence: &OomEvidence) -> bool {
    status.signal() == Some(crate::Signal::KILL) && !matches!(evidence, OomEvidence::Strong(_))
}

/// Judges the facts by the rule of this module.
pub fn oom_evidence(f: &OomFacts) -> OomEvidence {
    let peak = peak_words(f.peak_memory, f.memory_limit);
    let kernel_this = match &f.kernel {
        KernelOomLog::NamesThis(line) => Some(line.as_str()),
        _ => None,
    };
    if let Some((before, now)) = f.cgroup
        && now > before
    {
        let kernel = kernel_this
            .map(|l| format!("; kernel log: {l}"))
            .unwrap_or_default();
        return OomEvidence::Strong(format!(
            "the service's memory cgroup counted {} OOM kill(s) during the run{peak}{kernel}",
            now - before
        ));
    }
    if let Some(line) = kernel_this {
        return OomEvidence::Strong(format!("kernel log: {line}{peak}"));
    }
    let machine_rose = match f.machine {
        Some((before, now)) if now > before => Some(now - before),
        _ => None,
    };
    if f.cgroup.is_some() {
        // Silence of the unit's own counter decides; say why the machine's count does
        // not, when it rose.
        return match machine_rose {
            Some(n) => OomEvidence::RuledOut(format!(
                "not the OOM killer: the service's memory cgroup counted no OOM kill, though \
                 the machine's count rose by {n} (another process was the victim){}",
                other_victim(&f.kernel)
            )),
            None => OomEvidence::None,
        };
    }
    if let KernelOomLog::NamesOthers(line) = &f.kernel {
        return OomEvidence::RuledOut(format!(
            "not the OOM killer: the kernel log names another process, not this one: {line}"
        ));
    }
    match machine_rose {
        Some(n) => OomEvidence::Weak(format!(
            "the machine's OOM-kill count (/proc/vmstat) rose by {n} during the run{peak}"
        )),
        None => OomEvidence::None,
    }
}

fn other_victim(kernel: &KernelOomLog) -> String {
    match kernel {
        KernelOomLog::NamesOthers(line) => format!("; kernel log: {line}"),
        _ => String::new(),
    }
}

fn peak_words(peak: Option<u64>, limit: Option<u64>) -> String {
    let mib = |b: u64| b as f64 / 1048576.0;
    match (peak, limit) {
        (Some(p), Some(l)) => format!(
            "; peak memory {:.1} MiB of a {:.1} MiB limit",
            mib(p),
            mib(l)
        ),
        (Some(p), None) => format!("; peak memory {:.1} MiB", mib(p)),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> OomFacts {
        OomFacts {
            cgroup: None,
            machine: None,
            kernel: KernelOomLog::Unread,
            peak_memory: None,
            memory_limit: None,
        }
    }

    const OTHER: &str = "Memory cgroup out of memory: Killed process 4242 (hog)";
    const THIS: &str = "Memory cgroup out of memory: Killed process 77 (me)";

    #[test]
    fn only_a_sigkill_without_strong_evidence_waits() {
        use crate::{ExitStatus, Signal};
        let kill = ExitStatus::Signaled {
            signal: Signal::KILL,
            core_dumped: false,
        };
        assert!(oom_may_settle(kill, &OomEvidence::None));
        assert!(oom_may_settle(kill, &OomEvidence::Weak("vmstat".into())));
        assert!(!oom_may_settle(kill, &OomEvidence::Strong("cgroup".into())));
        assert!(!oom_may_settle(ExitStatus::Exited(1), &OomEvidence::None));
    }

    #[test]
    fn the_units_own_counter_rising_is_strong() {
        let f = OomFacts {
            cgroup: Some((0, 1)),
            machine: Some((5, 6)),
            peak_memory: Some(48 << 20),
            memory_limit: Some(48 << 20),
            ..facts()
        };
        let OomEvidence::Strong(why) = oom_evidence(&f) else {
            panic!("{:?}", oom_evidence(&f));
        };
        assert!(why.contains("counted 1 OOM kill"), "{why}");
        assert!(why.contains("48.0 MiB of a 48.0 MiB limit"), "{why}");
    }

    #[test]
    fn a_silent_own_counter_outweighs_the_machine_count() {
        // The race of the review: another unit was OOM-killed in the same second.
        let f = OomFacts {
            cgroup: Some((0, 0)),
            machine: Some((5, 6)),
            kernel: KernelOomLog::NamesOthers(OTHER.into()),
            ..facts()
        };
        let OomEvidence::RuledOut(why) = oom_evidence(&f) else {
            panic!("{:?}", oom_evidence(&f));
        };
        assert!(why.contains("counted no OOM kill"), "{why}");
        assert!(why.contains("Killed process 4242"), "{why}");
        // With nothing rising at all, there is nothing to rule out.
        let quiet = OomFacts {
            cgroup: Some((3, 3)),
            machine: Some((5, 5)),
            kernel: KernelOomLog::Silent,
            ..facts()
        };
        assert_eq!(oom_evidence(&quiet), OomEvidence::None);
    }

    #[test]
    fn a_kernel_line_naming_another_pid_is_evidence_against() {
        let f = OomFacts {
            machine: Some((5, 6)),
            kernel: KernelOomLog::NamesOthers(OTHER.into()),
            ..facts()
        };
        assert!(matches!(oom_evidence(&f), OomEvidence::RuledOut(w) if w.contains("4242")));
    }

    #[test]
    fn a_kernel_line_naming_this_pid_is_strong_without_a_cgroup() {
        let f = OomFacts {
            machine: Some((5, 6)),
            kernel: KernelOomLog::NamesThis(THIS.into()),
            ..facts()
        };
        assert!(
            matches!(oom_evidence(&f), OomEvidence::Strong(w) if w.contains("Killed process 77"))
        );
    }

    #[test]
    fn the_machine_count_alone_is_weak_and_only_where_nothing_else_speaks() {
        for kernel in [KernelOomLog::Unread, KernelOomLog::Silent] {
            let f = OomFacts {
                machine: Some((5, 7)),
                kernel,
                ..facts()
            };
            assert!(matches!(oom_evidence(&f), OomEvidence::Weak(w) if w.contains("rose by 2")));
        }
        assert_eq!(oom_evidence(&facts()), OomEvidence::None);
    }

    #[test]
    fn every_combination_follows_the_order_of_the_rule() {
        let counters = [None, Some((1, 1)), Some((1, 2))];
        let kernels = [
            KernelOomLog::Unread,
            KernelOomLog::Silent,
            KernelOomLog::NamesThis(THIS.into()),
            KernelOomLog::NamesOthers(OTHER.into()),
        ];
        for cgroup in counters {
            for machine in counters {
                for kernel in &kernels {
                    let f = OomFacts {
                        cgroup,
                        machine,
                        kernel: kernel.clone(),
                        ..facts()
                    };
                    let got = oom_evidence(&f);
                    let own_rose = cgroup.is_some_and(|(a, b)| b > a);
                    let names_this = matches!(kernel, KernelOomLog::NamesThis(_));
                    let strong = own_rose || names_this;
                    assert_eq!(matches!(got, OomEvidence::Strong(_)), strong, "{f:?}");
                    // Weak only where neither the unit's counter nor a kernel line speaks.
                    let weak_allowed = cgroup.is_none()
                        && matches!(kernel, KernelOomLog::Unread | KernelOomLog::Silent)
                        && machine.is_some_and(|(a, b)| b > a);
                    assert_eq!(matches!(got, OomEvidence::Weak(_)), weak_allowed, "{f:?}");
                }
            }
        }
    }
}
