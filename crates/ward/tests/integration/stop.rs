//! Stopping: the whole tree goes, whatever it did to hide, and a stop is the operator's.

use std::time::Instant;

use ward_api::{UnitIntent, UnitState};

use crate::fixture::{Ward, alive, testbin, wait_for};

/// A service that forks a child, a child in a new session, and a double-forked grandchild;
/// after `ward stop` none of them may be left.
fn tree_leaves_nothing(cgroup: &str) {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[supervisor]\ncgroup = \"{cgroup}\"\n\
         [services.tree]\ncommand = [\"{bin}\", \"tree\", \"300\"]\nstop_timeout = \"5s\"\n"
    ));
    let main = w.wait_state("tree", "running").pid.expect("pid");
    let pids = [
        main,
        w.logged_pid("tree", "child"),
        w.logged_pid("tree", "setsid"),
        w.logged_pid("tree", "intermediate"),
        w.logged_pid("tree", "grandchild"),
    ];
    let grandchild = pids[4];
    assert!(alive(grandchild));
    let out = w.ok(&["stop", "tree"]);
    assert!(out.contains("tree: stopped"), "{out}");
    for pid in pids {
        assert!(
            !alive(pid),
            "pid {pid} survived the stop (cgroup = {cgroup})"
        );
    }
    assert!(w.processes_here().is_empty(), "{:?}", w.processes_here());
    let s = w.unit("tree");
    assert_eq!(s.state, UnitState::Stopped);
    assert_eq!(s.intent, UnitIntent::Stop);
}

#[test]
fn stop_leaves_no_process_with_cgroup_v2() {
    tree_leaves_nothing("v2");
}

#[test]
fn stop_leaves_no_process_with_cgroup_v1() {
    tree_leaves_nothing("v1");
}

#[test]
fn stop_leaves_no_process_without_cgroups() {
    tree_leaves_nothing("off");
}

#[test]
fn status_names_the_cgroup_in_use() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[supervisor]\ncgroup = \"v1\"\n[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    let st = w.status();
    assert_eq!(st.daemon.cgroup, "v1");
    let s = w.wait_state("s", "running");
    let cgroup = s.cgroup.expect("a cgroup");
    let procs = std::fs::read_to_string(format!("{cgroup}/cgroup.procs")).expect("procs");
    assert!(procs.lines().any(|l| l == s.pid.expect("pid").to_string()));
}

#[test]
fn a_service_that_ignores_sigterm_is_killed_after_stop_timeout() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.stubborn]\ncommand = [\"{bin}\", \"ignore-term\", \"300\"]\nstop_timeout = \"600ms\"\n"
    ));
    let pid = w.wait_state("stubborn", "running").pid.expect("pid");
    wait_for("the SIGTERM handler", || {
        w.log("stubborn").contains("ignoring SIGTERM").then_some(())
    });
    let started = Instant::now();
    w.ok(&["stop", "stubborn"]);
    assert!(
        started.elapsed().as_millis() >= 600,
        "stopped before stop_timeout"
    );
    assert!(!alive(pid));
    let s = w.unit("stubborn");
    assert_eq!(s.state, UnitState::Stopped);
    assert_eq!(s.last_exit.expect("exit").description, "killed by SIGKILL");
}

#[test]
fn an_operator_stop_stays_stopped_and_is_not_a_crash() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nbackoff = {{ initial = \"50ms\" }}\n\
         [services.other]\ncommand = [\"{bin}\", \"exit\", \"1\"]\nbackoff = {{ initial = \"50ms\", max = \"50ms\" }}\n\
         start_limit = {{ burst = 1000 }}\n"
    ));
    w.wait_state("web", "running");
    w.ok(&["stop", "web"]);
    // Let time pass in a way that is observed, not slept: the other service restarts a few
    // times meanwhile, and `web` must not have moved.
    w.wait_unit("other", "five restarts", |s| s.restarts >= 5);
    let s = w.unit("web");
    assert_eq!(
        (s.state.as_str(), s.restarts, s.failed_starts),
        ("stopped", 0, 0)
    );
    let table = w.ok(&["status", "web"]);
    assert!(
        table.contains("stays stopped until `ward start web`"),
        "{table}"
    );
    let out = w.ok(&["start", "web"]);
    assert!(out.contains("web: starting (pid"), "{out}");
    w.wait_state("web", "running");
}

#[test]
fn restart_gives_a_new_process() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    let old = w.wait_state("web", "running").pid.expect("pid");
    let out = w.ok(&["restart", "web"]);
    assert!(out.contains("web: starting (pid"), "{out}");
    assert!(!alive(old));
    let new = w.unit("web").pid.expect("pid");
    assert_ne!(old, new);
    assert_eq!(
        w.unit("web").restarts,
        0,
        "an operator's restart is not a crash restart"
    );
}

#[test]
fn status_shows_what_the_kernel_says_the_process_does() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    let s = w.wait_unit("s", "sleeping", |s| {
        s.process_state.as_deref() == Some("sleeping")
    });
    crate::fixture::kill(s.pid.expect("pid"), rustix::process::Signal::STOP);
    w.wait_unit("s", "stopped by SIGSTOP", |s| {
        s.process_state.as_deref() == Some("stopped") && s.state == UnitState::Running
    });
    let table = w.ok(&["status"]);
    assert!(table.contains("PROC"), "{table}");
    // A stop reaches a stopped process too: SIGCONT follows the stop signal.
    w.ok(&["stop", "s"]);
    assert_eq!(w.unit("s").process_state, None);
}
