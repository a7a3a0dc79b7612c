//! ward as a container's init, in a real PID namespace where it is PID 1 (`unshare --pid
//! --fork --mount-proc`): orphans of the container reaped, SIGTERM stopping everything in
//! dependency order with the exit code `exit_code` asks for, `exit_when`, a second SIGTERM,
//! `log_to = "stdout"` and `ward health`.

use rustix::process::Signal;

use crate::fixture::{Ward, external, kill, sh, wait_for, zombie_children};

/// `unshare` with ward as PID 1 of a new PID namespace; the wrapper's own end sends
/// SIGTERM to ward, so that a test that fails leaves nothing behind.
fn up_as_pid1(toml: &str) -> Option<Ward> {
    let unshare = external("unshare")?;
    let mut w = Ward::new(toml);
    w.start_daemon_wrapped(&[
        unshare.to_str().expect("path"),
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child=TERM",
    ]);
    Some(w)
}

/// ward's PID as the host sees it: the one child of `unshare`.
fn init_pid(w: &Ward) -> u32 {
    let wrapper = w.daemon_pid();
    wait_for("ward under unshare", || {
        std::fs::read_to_string(format!("/proc/{wrapper}/task/{wrapper}/children"))
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

#[test]
fn as_pid1_it_reaps_orphans_and_stops_in_order_with_the_first_failure_code() {
    let stops = |me: &str| {
        sh(&format!(
            "trap 'echo {me} >> order; exit 0' TERM; while :; do sleep 0.05; done"
        ))
    };
    let Some(mut w) = up_as_pid1(&format!(
        "[supervisor]\nlog_to = \"stdout\"\n\
         [services.db]\ncommand = {}\n\
         [services.web]\ncommand = {}\ndepends_on = [\"db\"]\n\
         [services.orphans]\ncommand = {}\n\
         [services.job]\ncommand = {}\ntype = \"oneshot\"\n",
        stops("db"),
        stops("web"),
        // Double forks: the inner shell's background sleeps lose their parent at once.
        sh("for i in 1 2 3 4 5; do sh -c 'sleep 0.2 &'; done; echo forked; exec sleep 300"),
        sh("echo the job fails >&2; exit 3"),
    )) else {
        return;
    };
    let ward = init_pid(&w);
    w.wait_state("web", "running");
    w.wait_state("job", "failed");
    // Orphans of the container itself, from a process that is not a service: as `docker
    // exec` leaves them.
    let nsenter = external("nsenter").expect("nsenter comes with unshare");
    let out = std::process::Command::new(nsenter)
        .args([
            "--target",
            &ward.to_string(),
            "--pid",
            "--mount",
            "/bin/sh",
            "-c",
        ])
        .arg("for i in 1 2 3; do sh -c 'sleep 0.2 &'; done")
        .status()
        .expect("nsenter");
    assert!(out.success());
    wait_for("the service's forks", || {
        w.daemon_log().contains(" orphans | forked").then_some(())
    });
    // Every orphan has ended by now (0.2 s each); none may be left a zombie.
    wait_for("no zombie under ward", || {
        zombie_children(ward).is_empty().then_some(())
    });
    // An orchestrator's probes.
    let ready = w.cli(&["health", "--ready"]);
    assert_eq!(ready.status.code(), Some(1), "a failed task is not ready");
    assert!(
        String::from_utf8_lossy(&ready.stderr).contains("job (failed)"),
        "{ready:?}"
    );
    assert_eq!(w.cli(&["health", "--live"]).status.code(), Some(0));
    // `docker stop`: SIGTERM to PID 1.
    kill(ward, Signal::TERM);
    let code = w.wait_daemon_exit();
    assert_eq!(code, 3, "the first failure's code:\n{}", w.daemon_log());
    let order = std::fs::read_to_string(w.dir.path().join("order")).unwrap();
    assert_eq!(order, "web\ndb\n", "dependents first");
    // The output went to ward's own stdout and stderr, one prefixed line each.
    let log = w.daemon_log();
    assert!(log.contains(" orphans | forked"), "{log}");
    assert!(log.contains(" job | the job fails"), "{log}");
    assert!(!w.dir.path().join(".ward/logs/job.log").exists());
}

#[test]
fn exit_when_a_named_service_ends_with_its_code() {
    let Some(mut w) = up_as_pid1(&format!(
        "[supervisor]\nexit_when = [\"migrate\"]\nexit_code = \"migrate\"\n\
         [services.web]\ncommand = [\"/bin/sleep\", \"300\"]\n\
         [services.migrate]\ncommand = {}\ntype = \"oneshot\"\n",
        sh("sleep 0.3; exit 4"),
    )) else {
        return;
    };
    let code = w.wait_daemon_exit();
    assert_eq!(code, 4, "{}", w.daemon_log());
}

#[test]
fn a_second_sigterm_kills_what_ignores_the_first() {
    let Some(mut w) = up_as_pid1(&format!(
        "[services.stubborn]\ncommand = {}\nstop_timeout = \"300s\"\n",
        sh("trap '' TERM; echo up; while :; do sleep 0.05; done"),
    )) else {
        return;
    };
    let ward = init_pid(&w);
    w.wait_state("stubborn", "running");
    kill(ward, Signal::TERM);
    w.wait_state("stubborn", "stopping");
    kill(ward, Signal::TERM);
    let code = w.wait_daemon_exit();
    assert_eq!(code, 0, "{}", w.daemon_log());
}
