//! A daemon killed with SIGKILL costs no service a restart: the next daemon adopts them.

use rustix::process::Signal;
use ward_api::UnitState;

use crate::fixture::{Ward, alive, kill, testbin, wait_for};

fn kill_daemon(w: &mut Ward) {
    kill(w.daemon_pid(), Signal::KILL);
    assert_eq!(w.wait_daemon_exit(), -1, "killed by a signal");
}

/// The `line N at T` lines of a log, in order, as (N, T).
fn lines(log: &str) -> Vec<(u64, u128)> {
    log.lines()
        .filter_map(|l| {
            let (n, t) = l.split(" out line ").nth(1)?.split_once(" at ")?;
            Some((n.parse().ok()?, t.parse().ok()?))
        })
        .collect()
}

/// The numbers alone.
fn numbers(log: &str) -> Vec<u64> {
    lines(log).into_iter().map(|(n, _)| n).collect()
}

#[test]
fn twenty_services_survive_a_killed_daemon_without_a_restart_or_a_lost_line() {
    let bin = testbin();
    let mut toml = String::new();
    for i in 0..19 {
        toml.push_str(&format!(
            "[services.s{i:02}]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
        ));
    }
    toml.push_str(&format!(
        "[services.ticker]\ncommand = [\"{bin}\", \"print-every\", \"10\"]\n"
    ));
    let mut w = Ward::up(&toml);
    let before = w.wait_all_running("20 services running");
    let pids: Vec<(String, u32)> = before
        .services
        .iter()
        .map(|s| (s.name.clone(), s.pid.expect("pid")))
        .collect();
    wait_for("ticker output", || {
        (numbers(&w.log("ticker")).len() > 5).then_some(())
    });

    let killed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    kill_daemon(&mut w);
    // The ticker goes on printing into its FIFO while no daemon reads it.
    let away = numbers(&w.log("ticker")).last().copied().expect("lines");
    w.start_daemon();

    let after = w.status();
    for (name, pid) in &pids {
        let s = after
            .services
            .iter()
            .find(|s| &s.name == name)
            .expect("unit");
        assert_eq!(s.pid, Some(*pid), "{name} was not adopted");
        assert_eq!(s.state, UnitState::Running);
        assert_eq!(s.spawns, 0, "{name} was started again");
    }
    assert_eq!(w.processes_here().len(), 20, "a service runs twice");
    // Lines written while ward was away arrive, and none is missing.
    wait_for("lines from after the restart", || {
        numbers(&w.log("ticker"))
            .last()
            .is_some_and(|&n| n > away + 50)
            .then_some(())
    });
    let seen = lines(&w.log("ticker"));
    let numbers: Vec<u64> = seen.iter().map(|&(n, _)| n).collect();
    assert!(
        numbers.windows(2).all(|p| p[0] < p[1]),
        "a line was repeated or reordered: {numbers:?}"
    );
    // Every line printed after the kill, while no daemon read the FIFO, arrived. (Lines the
    // killed daemon had read but not yet written, milliseconds' worth, die with it.)
    let first_after = seen
        .iter()
        .find(|&&(_, t)| t > killed_at)
        .map(|&(n, _)| n)
        .expect("lines from after the kill");
    let last = *numbers.last().expect("lines");
    let missing: Vec<u64> = (first_after..=last)
        .filter(|n| !numbers.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "lines written while ward was away were lost: {missing:?}"
    );
    let in_flight = (numbers[0]..first_after)
        .filter(|n| !numbers.contains(n))
        .count();
    assert!(
        in_flight <= 20,
        "{in_flight} lines lost in the killed daemon"
    );
    assert!(w.log("ticker").contains("adopted pid"));

    let out = w.ok(&["stop", "--all"]);
    assert_eq!(
        out.lines().filter(|l| l.ends_with(": stopped")).count(),
        20,
        "{out}"
    );
    assert!(pids.iter().all(|&(_, p)| !alive(p)));
    assert!(w.processes_here().is_empty());
}

#[test]
fn an_operator_stop_survives_a_daemon_restart() {
    let bin = testbin();
    let mut w = Ward::up(&format!(
        "[services.a]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n\
         [services.b]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    w.wait_state("a", "running");
    w.ok(&["stop", "a"]);
    kill_daemon(&mut w);
    w.start_daemon();
    let a = w.unit("a");
    assert_eq!((a.state.as_str(), a.intent.as_str()), ("stopped", "stop"));
    assert_eq!(w.unit("b").state, UnitState::Running);
    // A clean `ward down` is not an operator's stop: everything starts next time.
    w.ok(&["down"]);
    w.wait_daemon_exit();
    w.start_daemon();
    w.wait_state("b", "running");
    assert_eq!(
        w.unit("a").state,
        UnitState::Stopped,
        "the operator's stop of a stands"
    );
}

#[test]
fn a_service_that_ended_while_ward_was_away_is_restarted_by_policy() {
    let bin = testbin();
    let mut w = Ward::up(&format!(
        "[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nbackoff = {{ initial = \"50ms\" }}\n"
    ));
    let pid = w.wait_state("s", "running").pid.expect("pid");
    kill_daemon(&mut w);
    kill(pid, Signal::KILL);
    wait_for("the service to die", || (!alive(pid)).then_some(()));
    w.start_daemon();
    let s = w.wait_unit("s", "a new process", |s| {
        s.state == UnitState::Running && s.pid.is_some_and(|p| p != pid)
    });
    let exit = s.last_exit.expect("exit");
    // Its new parent (init) may reap it and the kernel then keeps the status; a parent
    // that never reaps leaves it unknown.
    assert!(
        exit.description == "killed by SIGKILL" || exit.description == "exited, status unknown",
        "{}",
        exit.description
    );
    assert!(w.log("s").contains(&format!(
        "main process (pid {pid}) ended while ward was away"
    )));
}

#[test]
fn a_record_whose_identity_does_not_match_is_never_adopted_or_signalled() {
    let bin = testbin();
    let mut w = Ward::up(&format!(
        "[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nbackoff = {{ initial = \"50ms\" }}\n"
    ));
    let pid = w.wait_state("s", "running").pid.expect("pid");
    kill_daemon(&mut w);
    // As if the service had died and its PID gone to an unrelated program: the record
    // names a process of the test's own, with the start time of another.
    let mut stranger = std::process::Command::new("/bin/sleep")
        .arg("300")
        .spawn()
        .expect("spawn");
    w.edit_record("s", |v| v["main"]["pid"] = stranger.id().into());
    w.start_daemon();
    let s = w.wait_unit("s", "a process of its own", |s| {
        s.state == UnitState::Running && s.pid.is_some_and(|p| p != pid && p != stranger.id())
    });
    assert_eq!(
        s.last_exit.expect("exit").description,
        "exited, status unknown"
    );
    w.ok(&["stop", "s"]);
    assert!(
        alive(stranger.id()),
        "ward signalled a process it could not identify"
    );
    // The real old service process was a leftover in the service's cgroup: gone too.
    assert!(!alive(pid));
    stranger.kill().expect("kill");
    stranger.wait().expect("wait");
}

#[test]
fn an_adopted_process_is_watched_and_its_exit_handled() {
    let bin = testbin();
    let mut w = Ward::up(&format!(
        "[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nbackoff = {{ initial = \"50ms\" }}\n"
    ));
    let pid = w.wait_state("s", "running").pid.expect("pid");
    kill_daemon(&mut w);
    w.start_daemon();
    assert_eq!(w.unit("s").pid, Some(pid));
    kill(pid, Signal::TERM);
    let s = w.wait_unit("s", "restarted", |s| s.pid.is_some_and(|p| p != pid));
    assert_eq!(s.restarts, 1);
}

#[test]
fn on_daemon_exit_decides_who_outlives_the_daemon() {
    let bin = testbin();
    let mut w = Ward::up(&format!(
        "[services.keep]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n\
         [services.stop]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\non_daemon_exit = \"stop\"\n"
    ));
    let keep = w.wait_state("keep", "running").pid.expect("pid");
    let stop = w.wait_state("stop", "running").pid.expect("pid");
    // SIGQUIT: the graceful way out for an upgrade.
    kill(w.daemon_pid(), Signal::QUIT);
    assert_eq!(w.wait_daemon_exit(), 0);
    assert!(alive(keep));
    assert!(!alive(stop));
    w.start_daemon();
    assert_eq!(w.unit("keep").pid, Some(keep), "kept service adopted");
    let stop = w.wait_state("stop", "running").pid.expect("pid");
    // SIGKILL: the kernel takes the `stop` service down with the daemon.
    kill_daemon(&mut w);
    wait_for("the stop service to die with the daemon", || {
        (!alive(stop)).then_some(())
    });
    assert!(alive(keep));
}

#[test]
fn a_runtime_dir_of_its_own_holds_fifos_and_records_across_a_killed_daemon() {
    let bin = testbin();
    let mut w = Ward::up(&format!(
        "[supervisor]\nruntime_dir = \"run\"\n\
         [services.ticker]\ncommand = [\"{bin}\", \"print-every\", \"10\"]\n"
    ));
    let pid = w.wait_state("ticker", "running").pid.expect("pid");
    let run = w.dir.path().join("run");
    for file in ["io/ticker.out", "io/ticker.err", "units/ticker.json"] {
        assert!(run.join(file).exists(), "{file} not in the runtime dir");
        assert!(
            !w.dir.path().join(".ward").join(file).exists(),
            "{file} in the state dir"
        );
    }
    kill_daemon(&mut w);
    let away = numbers(&w.log("ticker")).last().copied().expect("lines");
    w.start_daemon();
    let s = w.unit("ticker");
    assert_eq!((s.pid, s.spawns), (Some(pid), 0), "not adopted");
    wait_for("lines read from the runtime dir's FIFO", || {
        numbers(&w.log("ticker"))
            .last()
            .is_some_and(|&n| n > away + 10)
            .then_some(())
    });
}
