//! Restart policies, backoff, the start limit and exec failures.

use crate::fixture::{Ward, kill, testbin};
use rustix::process::Signal;

#[test]
fn a_killed_service_comes_back_after_its_backoff() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nmin_uptime = \"100ms\"\n\
         backoff = {{ initial = \"700ms\", jitter = 0 }}\n"
    ));
    let first = w.wait_state("web", "running");
    let pid = first.pid.expect("pid");
    kill(pid, Signal::KILL);
    let back = w.wait_unit("web", "a new pid", |s| s.pid.is_some_and(|p| p != pid));
    assert_eq!(back.restarts, 1);
    let exit = back.last_exit.expect("last exit");
    assert_eq!(exit.description, "killed by SIGKILL");
    assert_eq!(exit.signal.as_deref(), Some("SIGKILL"));
    let waited = back.started_at_ms.expect("started") - exit.at_ms;
    assert!(
        waited >= 650,
        "restarted after {waited}ms, backoff is 700ms"
    );
}

#[test]
fn crash_details_are_reported_in_words() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.segv]\ncommand = [\"{bin}\", \"crash\", \"SEGV\"]\nrestart = \"never\"\n\
         [services.three]\ncommand = [\"{bin}\", \"exit\", \"3\"]\nrestart = \"never\"\n"
    ));
    let segv = w.wait_state("segv", "exited");
    let desc = segv.last_exit.expect("exit").description;
    assert!(desc.starts_with("killed by SIGSEGV"), "{desc}");
    let three = w.wait_state("three", "exited");
    assert_eq!(three.last_exit.expect("exit").code, Some(3));
    let table = w.ok(&["status"]);
    assert!(table.contains("exit 3"), "{table}");
}

#[test]
fn restart_never_leaves_the_service_exited() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.once]\ncommand = [\"{bin}\", \"exit\", \"0\"]\nrestart = \"never\"\nmin_uptime = \"0s\"\n"
    ));
    // With any restart the machine would pass through `backoff` or `starting`, never
    // `exited`: reaching it proves the policy held.
    let s = w.wait_state("once", "exited");
    assert_eq!((s.restarts, s.spawns), (0, 1));
    assert_eq!(s.last_exit.expect("exit").description, "exit 0");
}

#[test]
fn on_failure_restarts_a_failure_but_not_a_clean_exit() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.clean]\ncommand = [\"{bin}\", \"exit\", \"0\"]\nrestart = \"on-failure\"\nmin_uptime = \"0s\"\n\
         [services.dirty]\ncommand = [\"{bin}\", \"exit\", \"1\"]\nrestart = \"on-failure\"\nmin_uptime = \"0s\"\n\
         backoff = {{ initial = \"50ms\", max = \"50ms\" }}\n"
    ));
    let clean = w.wait_state("clean", "exited");
    assert_eq!(clean.restarts, 0);
    w.wait_unit("dirty", "three restarts", |s| s.restarts >= 3);
}

#[test]
fn too_many_failed_starts_end_in_failed_until_the_operator_acts() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.flaky]\ncommand = [\"{bin}\", \"exit\", \"1\"]\n\
         start_limit = {{ burst = 2, interval = \"1m\" }}\nbackoff = {{ initial = \"50ms\" }}\n"
    ));
    let s = w.wait_state("flaky", "failed");
    assert_eq!(s.failed_starts, 3);
    assert_eq!(s.spawns, 3);
    let table = w.ok(&["status", "flaky"]);
    assert!(table.contains("the start limit was reached"), "{table}");
    assert!(w.log("flaky").contains("failed: more than 2 failed starts"));
    // The operator's start is a fresh start: the failures are forgotten.
    let out = w.ok(&["start", "flaky"]);
    assert!(out.contains("flaky: starting (pid"), "{out}");
    w.wait_unit("flaky", "spawned again", |s| s.spawns > 3);
}

#[test]
fn exec_failures_are_reported_precisely_and_back_off() {
    let w = Ward::new("");
    let script = w.dir.path().join("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").expect("write");
    std::fs::write(
        &w.config,
        format!(
            "[services.missing]\ncommand = \"/no/such/program --flag\"\nbackoff = {{ initial = \"100ms\" }}\n\
             start_limit = {{ burst = 1 }}\n\
             [services.denied]\ncommand = [\"{}\"]\nbackoff = {{ initial = \"100ms\" }}\n\
             start_limit = {{ burst = 1 }}\n\
             [services.nocwd]\ncommand = \"/bin/true\"\ncwd = \"/no/such/dir\"\nstart_limit = {{ burst = 0 }}\n",
            script.display()
        ),
    )
    .expect("config");
    let mut w = w;
    w.start_daemon();
    let missing = w.wait_state("missing", "failed");
    let err = missing.spawn_error.expect("spawn error");
    assert!(
        err.contains("not found") && err.contains("/no/such/program"),
        "{err}"
    );
    assert_eq!(missing.failed_starts, 2);
    let denied = w.wait_state("denied", "failed");
    let err = denied.spawn_error.expect("spawn error");
    assert!(
        err.contains("permission denied") && err.contains("not-executable.sh"),
        "{err}"
    );
    let nocwd = w.wait_state("nocwd", "failed");
    let err = nocwd.spawn_error.expect("spawn error");
    assert!(
        err.contains("working directory") && err.contains("/no/such/dir"),
        "{err}"
    );
    // An exec failure is never a process that ran.
    assert_eq!(missing.spawns, 0);
    let out = w.cli(&["start", "missing"]);
    assert_eq!(out.status.code(), Some(1), "a start that cannot exec fails");
    assert!(String::from_utf8_lossy(&out.stdout).contains("not found"));
}

/// A directory given as `command` is named as a directory, not as a permission problem.
#[test]
fn a_directory_as_command_is_named_a_directory() {
    let w = Ward::new("");
    let dir = w.dir.path().join("bin");
    std::fs::create_dir(&dir).expect("dir");
    std::fs::write(
        &w.config,
        format!(
            "[services.dir]\ncommand = [\"{}\"]\nstart_limit = {{ burst = 0 }}\n",
            dir.display()
        ),
    )
    .expect("config");
    let mut w = w;
    w.start_daemon();
    let unit = w.wait_state("dir", "failed");
    let err = unit.spawn_error.expect("spawn error");
    assert!(
        err.contains(&format!("{} is a directory, not a program", dir.display())),
        "{err}"
    );
    assert!(!err.contains("permission denied"), "{err}");
}
