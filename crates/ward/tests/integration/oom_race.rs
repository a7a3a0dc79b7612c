//! OOM verdicts when another unit is OOM-killed at the same time: the machine-wide count
//! rises for everyone, but only the units whose own memory cgroup counted a kill were
//! ended by the OOM killer. The others were killed from outside, and `ward why` says so.

use rustix::process::Signal;

use crate::fixture::{Ward, kill, testbin};

/// Waits for the unit's verdict and returns `ward why --json` for it.
fn verdict(w: &Ward, unit: &str) -> serde_json::Value {
    w.wait_unit(unit, "a verdict", |s| s.verdict.is_some());
    let out = w.cli(&["why", unit, "--json"]);
    serde_json::from_slice(&out.stdout).expect("why --json")
}

fn config(hogs: &[&str]) -> String {
    let bin = testbin();
    let mut toml = format!(
        "[services.victim]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nrestart = \"never\"\n\
         memory_max = \"64MiB\"\n"
    );
    for hog in hogs {
        toml.push_str(&format!(
            "[services.{hog}]\ncommand = [\"{bin}\", \"hog\", \"256\"]\nrestart = \"never\"\n\
             min_uptime = \"0s\"\nmemory_max = \"48MiB\"\nautostart = false\n"
        ));
    }
    toml
}

fn assert_oom(w: &Ward, hog: &str) {
    let v = verdict(w, hog);
    assert_eq!(v["class"], "oom_kill", "{hog}: {v}");
    assert_eq!(v["summary"], "the kernel's OOM killer ended it", "{v}");
}

fn assert_killed_from_outside(w: &Ward) -> String {
    let v = verdict(w, "victim");
    assert_eq!(v["class"], "killed", "the victim's verdict: {v}");
    assert_eq!(
        v["summary"],
        "something outside ward ended it (killed by SIGKILL)"
    );
    v["evidence"].to_string()
}

#[test]
fn a_kill_in_the_same_second_as_another_units_oom_kill_is_not_an_oom_kill() {
    let w = Ward::up(&config(&["hog"]));
    let victim = w.wait_state("victim", "running").pid.expect("pid");
    w.ok(&["start", "hog"]);
    assert_oom(&w, "hog");
    // The machine's OOM count rose while the victim ran; its own cgroup's did not.
    kill(victim, Signal::KILL);
    let evidence = assert_killed_from_outside(&w);
    assert!(
        evidence.contains("the service's memory cgroup counted no OOM kill")
            && evidence.contains("Killed process"),
        "the verdict should say why the machine's OOM count does not apply: {evidence}"
    );
}

#[test]
fn two_oom_kills_and_one_external_kill_at_once_each_get_their_own_verdict() {
    let w = Ward::up(&config(&["hog1", "hog2"]));
    let victim = w.wait_state("victim", "running").pid.expect("pid");
    // The start returns once both hogs run; they are OOM-killed within moments, while
    // the victim is killed at once: the three deaths fall inside one settling window.
    w.ok(&["start", "hog1", "hog2"]);
    kill(victim, Signal::KILL);
    assert_oom(&w, "hog1");
    assert_oom(&w, "hog2");
    assert_killed_from_outside(&w);
}
