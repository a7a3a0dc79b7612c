//! One test per class, and properties of the whole function.

use super::*;
use proptest::prelude::*;

fn sig(n: i32, core: bool) -> ExitStatus {
    ExitStatus::Signaled {
        signal: Signal::from_number(n).unwrap(),
        core_dumped: core,
    }
}

fn long(status: ExitStatus) -> ExitReport {
    ExitReport::of(status, Duration::from_secs(60))
}

fn class_of(r: &ExitReport) -> &'static str {
    classify(r).class.as_str()
}

#[test]
fn a_hang_ward_detected_is_hung_whatever_the_signal() {
    let mut r = long(sig(15, false));
    r.requested_stop = true;
    r.hang = Some("its health check failed 3 time(s) in a row (retries 3); last: exit 1".into());
    let v = classify(&r);
    assert_eq!((v.class, v.severity), (CrashClass::Hung, Severity::Medium));
    assert!(
        v.evidence
            .iter()
            .any(|e| e.contains("health check failed 3")),
        "{v:?}"
    );
    assert!(
        v.evidence.iter().any(|e| e.contains("to restart it")),
        "{v:?}"
    );
    r.stop_escalated = true;
    r.status = Some(sig(9, false));
    let v = classify(&r);
    assert_eq!(v.class, CrashClass::Hung);
    assert!(
        v.evidence
            .iter()
            .any(|e| e.contains("killed after stop_timeout")),
        "{v:?}"
    );
}

#[test]
fn dependents_raise_the_severity_one_step_and_are_named() {
    let mut r = long(sig(11, true));
    assert_eq!(classify(&r).severity, Severity::High);
    r.dependents = vec!["api".into(), "worker".into()];
    let v = classify(&r);
    assert_eq!(v.severity, Severity::Critical);
    assert!(
        v.evidence
            .iter()
            .any(|e| e == "2 service(s) depend on it: api, worker"),
        "{v:?}"
    );
    let mut r = long(ExitStatus::Exited(2));
    r.dependents = vec!["api".into()];
    assert_eq!(classify(&r).severity, Severity::High);
    // Not a crash: nothing is raised.
    let mut r = long(ExitStatus::Exited(0));
    r.dependents = vec!["api".into()];
    assert_eq!(classify(&r).severity, Severity::Low);
}

#[test]
fn recommendations_name_the_key_to_change() {
    let mut r = long(sig(9, false));
    r.oom = OomEvidence::Strong("memory.events".into());
    r.peak_memory = Some(498 << 20);
    r.memory_limit = Some(512 << 20);
    assert_eq!(
        classify(&r).recommendation.as_deref(),
        Some("raise memory_max: peak memory 498.0 MiB of 512.0 MiB")
    );
    r.oom = OomEvidence::Weak("vmstat".into());
    r.memory_limit = None;
    assert!(
        classify(&r)
            .recommendation
            .unwrap()
            .starts_with("if the OOM killer ended it: the machine ran out of memory")
    );
    let xcpu = classify(&long(sig(24, false)));
    assert_eq!(
        xcpu.recommendation.as_deref(),
        Some("raise rlimits.cpu, or find what burns the CPU time")
    );
    let seg = classify(&long(sig(11, false)));
    assert!(seg.recommendation.unwrap().contains("set rlimits.core"));
    let seg = classify(&long(sig(11, true)));
    assert!(seg.recommendation.unwrap().contains("gdb"));
    let mut hung = long(sig(15, false));
    hung.hang = Some("its health check failed 3 time(s) in a row".into());
    assert!(
        classify(&hung)
            .recommendation
            .unwrap()
            .contains("health.timeout")
    );
    assert_eq!(classify(&long(ExitStatus::Exited(0))).recommendation, None);
}

#[test]
fn exits() {
    assert_eq!(class_of(&long(ExitStatus::Exited(0))), "clean_exit");
    let v = classify(&long(ExitStatus::Exited(3)));
    assert_eq!(
        (v.class.as_str(), v.severity),
        ("error_exit", Severity::Medium)
    );
    assert!(v.evidence.iter().any(|e| e.contains("code 3")), "{v:?}");
}

#[test]
fn signals_name_their_class_and_the_core() {
    for (n, class) in [
        (11, "segfault"),
        (6, "abort"),
        (7, "bus_error"),
        (4, "illegal_instruction"),
        (8, "fp_error"),
        (24, "resource_limit"),
        (25, "resource_limit"),
        (9, "killed"),
        (15, "killed"),
    ] {
        let v = classify(&long(sig(n, true)));
        assert_eq!(v.class.as_str(), class, "signal {n}");
        assert!(
            v.evidence.iter().any(|e| e.contains("a core was dumped")),
            "{v:?}"
        );
    }
    let v = classify(&long(sig(24, false)));
    assert!(
        v.evidence.iter().any(|e| e.contains("CPU-time limit")),
        "{v:?}"
    );
}

#[test]
fn oom_evidence_decides_and_says_how_strong() {
    let mut r = long(sig(9, false));
    r.oom = OomEvidence::Strong("memory.events: oom_kill 0 -> 1".into());
    let v = classify(&r);
    assert_eq!((v.class, v.severity), (CrashClass::OomKill, Severity::High));
    assert_eq!(v.summary, "the kernel's OOM killer ended it");
    r.oom = OomEvidence::Weak("/proc/vmstat oom_kill rose by 1".into());
    let v = classify(&r);
    assert_eq!(v.class, CrashClass::OomKill);
    assert!(v.summary.contains("weak evidence"));
    // Weak evidence does not turn a segfault into an OOM kill.
    let mut r = long(sig(11, false));
    r.oom = OomEvidence::Weak("/proc/vmstat oom_kill rose by 1".into());
    assert_eq!(classify(&r).class, CrashClass::Segfault);
}

#[test]
fn a_requested_stop_is_not_a_crash_unless_it_hung() {
    let mut r = long(sig(15, false));
    r.requested_stop = true;
    let v = classify(&r);
    assert_eq!((v.class, v.severity), (CrashClass::Stopped, Severity::Low));
    assert!(!v.class.is_crash());
    r.stop_escalated = true;
    r.status = Some(sig(9, false));
    assert_eq!(classify(&r).class, CrashClass::Hung);
}

#[test]
fn failed_starts_and_crash_loops() {
    let mut r = ExitReport::of(ExitStatus::Exited(1), Duration::from_millis(20));
    r.failed_starts = 1;
    let v = classify(&r);
    assert_eq!(v.class, CrashClass::EarlyExit);
    assert!(
        v.evidence.iter().any(|e| e.contains("of min_uptime")),
        "{v:?}"
    );
    r.failed_starts = 6;
    assert_eq!(classify(&r).class, CrashClass::CrashLoop);
    assert_eq!(classify(&r).severity, Severity::Critical);
    // A segfault at start stays a segfault: the signal says more than the timing.
    let mut r = ExitReport::of(sig(11, false), Duration::from_millis(20));
    r.failed_starts = 1;
    assert_eq!(classify(&r).class, CrashClass::Segfault);
    let mut r = ExitReport::of(ExitStatus::Exited(0), Duration::ZERO);
    r.status = None;
    r.exec_failure = Some("exec failed: not found: /nope".into());
    r.failed_starts = 1;
    let v = classify(&r);
    assert_eq!(
        (v.class, v.severity),
        (CrashClass::ExecFailed, Severity::Critical)
    );
    assert_eq!(v.evidence, ["exec failed: not found: /nope"]);
}

#[test]
fn a_signal_the_operator_sent_is_a_requested_end() {
    let mut r = long(sig(15, false));
    r.operator_signal = Signal::from_number(15);
    let v = classify(&r);
    assert_eq!(v.class, CrashClass::Stopped);
    assert!(
        v.evidence.iter().any(|e| e.contains("ward signal")),
        "{v:?}"
    );
    r.operator_signal = Signal::from_number(1);
    assert_eq!(classify(&r).class, CrashClass::Killed);
}

#[test]
fn a_refused_fork_names_the_pids_limit() {
    let mut r = long(ExitStatus::Exited(2));
    r.pids_limit_hits = 3;
    let v = classify(&r);
    assert_eq!(v.class, CrashClass::ResourceLimit);
    assert!(v.evidence.iter().any(|e| e.contains("pids limit")), "{v:?}");
    // A segfault stays a segfault.
    let mut r = long(sig(11, false));
    r.pids_limit_hits = 3;
    assert_eq!(classify(&r).class, CrashClass::Segfault);
}

#[test]
fn the_machine_and_the_supervisor() {
    let mut r = long(ExitStatus::Unknown);
    r.earlier_boot = true;
    assert_eq!(classify(&r).class, CrashClass::SystemShutdown);
    let mut r = long(ExitStatus::Unknown);
    r.supervisor_crashed = true;
    assert_eq!(classify(&r).class, CrashClass::SupervisorCrash);
    assert_eq!(class_of(&long(ExitStatus::Unknown)), "killed");
}

#[test]
fn recurring_failures_raise_the_severity() {
    let mut r = long(sig(11, false));
    assert_eq!(classify(&r).severity, Severity::High);
    r.failed_starts = 4;
    assert_eq!(classify(&r).severity, Severity::Critical);
}

#[test]
fn names_are_unique_and_stable() {
    let names: std::collections::HashSet<&str> =
        CrashClass::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(names.len(), 17);
}

fn any_status() -> impl Strategy<Value = Option<ExitStatus>> {
    prop_oneof![
        Just(None),
        Just(Some(ExitStatus::Unknown)),
        (0i32..256).prop_map(|c| Some(ExitStatus::Exited(c))),
        (1i32..65, any::<bool>()).prop_map(|(n, core)| Some(sig(n, core))),
    ]
}

proptest! {
    #[test]
    fn every_report_gets_one_class_with_evidence(
        status in any_status(),
        exec in proptest::option::of("[a-z ]{1,20}"),
        requested_stop in any::<bool>(),
        stop_escalated in any::<bool>(),
        run_ms in 0u64..100_000,
        min_ms in 0u64..5_000,
        failed_starts in 0u32..20,
        burst in 0u32..10,
        oom in 0u8..3,
        earlier_boot in any::<bool>(),
        supervisor_crashed in any::<bool>(),
        hang in proptest::option::of("[a-z ]{1,20}"),
        dependents in proptest::collection::vec("[a-z]{1,8}", 0..3),
    ) {
        let r = ExitReport {
            status,
            exec_failure: exec,
            requested_stop,
            stop_escalated,
            run_time: Duration::from_millis(run_ms),
            min_uptime: Duration::from_millis(min_ms),
            failed_starts,
            burst,
            oom: match oom {
                0 => OomEvidence::None,
                1 => OomEvidence::Weak("vmstat".into()),
                _ => OomEvidence::Strong("memory.events".into()),
            },
            earlier_boot,
            supervisor_crashed,
            operator_signal: None,
            pids_limit_hits: 0,
            hang: hang.clone(),
            dependents,
            peak_memory: None,
            memory_limit: None,
            sampled_peak_rss: None,
            success: crate::exit::SuccessCodes::default().with(3),
        };
        let v = classify(&r);
        prop_assert!(!v.evidence.is_empty());
        prop_assert!(!v.summary.is_empty());
        // Every crash comes with something to do, but a machine that went down.
        if v.class.is_crash() && v.class != CrashClass::SystemShutdown {
            prop_assert!(v.recommendation.is_some(), "{:?}", v);
        }
        if hang.is_some() && !earlier_boot && !supervisor_crashed {
            prop_assert_eq!(v.class, CrashClass::Hung);
        }
        if requested_stop && !stop_escalated && !earlier_boot && !supervisor_crashed && hang.is_none() {
            prop_assert_eq!(v.class, CrashClass::Stopped);
        }
        // Deterministic: the same facts give the same verdict.
        prop_assert_eq!(classify(&r), v);
    }
}

#[test]
fn only_two_known_different_boot_ids_make_an_earlier_boot() {
    use super::earlier_boot;
    assert!(earlier_boot("a", Some("b")));
    assert!(!earlier_boot("a", Some("a")));
    // Not read when the run began, or unreadable now: no evidence either way.
    assert!(!earlier_boot("", Some("b")));
    assert!(!earlier_boot("a", None));
    assert!(!earlier_boot("a", Some("")));
}

#[test]
fn a_crash_names_the_peak_memory_its_samples_saw() {
    let mut r = long(sig(11, false));
    r.sampled_peak_rss = Some(300 << 20);
    let v = classify(&r);
    assert!(
        v.evidence
            .iter()
            .any(|e| e == "its resident memory peaked at 300.0 MiB in the run's samples"),
        "{:?}",
        v.evidence
    );
    // A clean exit is no crash: nothing to explain.
    let mut clean = long(ExitStatus::Exited(0));
    clean.sampled_peak_rss = Some(1 << 20);
    assert!(
        !classify(&clean)
            .evidence
            .iter()
            .any(|e| e.contains("peaked"))
    );
}

#[test]
fn a_listed_success_code_is_a_clean_exit() {
    let mut r = ExitReport::of(ExitStatus::Exited(3), Duration::from_secs(60));
    assert_eq!(classify(&r).class, CrashClass::ErrorExit);
    r.success = crate::exit::SuccessCodes::default().with(3);
    let v = classify(&r);
    assert_eq!(v.class, CrashClass::CleanExit);
    assert_eq!(v.summary, "it exited cleanly (exit 3)");
    assert!(
        v.evidence
            .iter()
            .any(|e| e == "exit 3 is one of its success_exit_codes"),
        "{v:?}"
    );
}
