//! One daemon per state dir, whatever happens to its files: a daemon whose state dir is
//! deleted under it makes again what it needs, stays reachable and keeps the lock, so a
//! second `ward up` is refused and no service runs twice.

use std::process::Stdio;

use rustix::process::Signal;
use ward_api::UnitState;

use crate::fixture::{Ward, kill, testbin, wait_for};

#[test]
fn a_deleted_state_dir_is_made_again_and_a_second_daemon_is_refused() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.a]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n\
         [services.talker]\ncommand = [\"{bin}\", \"print-every\", \"50\"]\n"
    ));
    let a = w.wait_state("a", "running").pid.expect("pid");
    w.wait_state("talker", "running");
    let state = w.dir.path().join(".ward");
    std::fs::remove_dir_all(&state).expect("rm -rf the state dir");

    // Reachable again, with the same processes: nothing was restarted.
    let st = wait_for("the daemon to answer again", || {
        let out = w.cli(&["status", "--json"]);
        out.status
            .success()
            .then(|| serde_json::from_slice::<ward_api::StatusResponse>(&out.stdout).ok())
            .flatten()
    });
    let again = st.services.iter().find(|s| s.name == "a").expect("a");
    assert_eq!((again.state, again.pid), (UnitState::Running, Some(a)));
    for file in [
        "ward.pid",
        "journal.db",
        "ward.sock",
        "notify.sock",
        "units/a.json",
    ] {
        wait_for(&format!("{file} made again"), || {
            state.join(file).exists().then_some(())
        });
    }

    // The lock is held again: a second daemon is refused.
    let second = w
        .wrapped(&["env"])
        .args(["up", "-d"])
        .stdin(Stdio::null())
        .output()
        .expect("second ward up");
    if second.status.success() {
        w.cli(&["down"]);
    }
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("another ward daemon"), "{stderr}");

    // The journal kept its history and says what happened.
    let events = w.ok(&["events"]);
    assert!(events.contains("daemon started"), "{events}");
    assert!(events.contains("own files made again"), "{events}");

    // Output goes on into the new log files: the running talker's and a new run's.
    wait_for("the talker's lines in its new log", || {
        w.log("talker").contains(" out line ").then_some(())
    });
    kill(a, Signal::KILL);
    let back = w.wait_unit("a", "restarted", |s| {
        s.state == UnitState::Running && s.pid.is_some_and(|p| p != a)
    });
    let pid = back.pid.expect("pid");
    wait_for("the new run in a's new log", || {
        w.log("a")
            .contains(&format!("started pid {pid}"))
            .then_some(())
    });
}

#[test]
fn a_second_daemon_is_refused_while_the_first_still_supervises_without_its_pid_file() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.a]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    let a = w.wait_state("a", "running").pid.expect("pid");
    let first = w.daemon_pid();
    // Stopped, the first daemon cannot notice that its lock file goes.
    kill(first, Signal::STOP);
    std::fs::remove_file(w.dir.path().join(".ward/ward.pid")).expect("rm ward.pid");
    let second = w
        .wrapped(&["env"])
        .args(["up", "-d"])
        .stdin(Stdio::null())
        .output()
        .expect("second ward up");
    kill(first, Signal::CONT);
    if second.status.success() {
        w.cli(&["down"]);
    }
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "a (pid {a}) still runs under another ward daemon (pid {first})"
        )),
        "{stderr}"
    );
    // The first daemon, going on, takes its lock again; a runs once, as before.
    wait_for("ward.pid made again", || {
        w.dir.path().join(".ward/ward.pid").exists().then_some(())
    });
    assert_eq!(w.unit("a").pid, Some(a));
}
