//! The descriptor budget: a config that cannot fit the daemon's limit on open files is
//! refused whole, with the numbers, before anything is created; one that fits starts
//! every unit.

use std::process::Stdio;

use ward_api::UnitState;

use crate::fixture::{Ward, external, sleepers, wait_for};

#[test]
fn a_config_that_cannot_fit_is_refused_with_numbers_and_nothing_starts() {
    let (Some(prlimit), Some(setpriv)) = (external("prlimit"), external("setpriv")) else {
        return;
    };
    let w = Ward::new(&sleepers(100));
    // A hard limit of 300 that the daemon may not raise, even as root.
    let out = w
        .wrapped(&[
            prlimit.to_str().expect("path"),
            "--nofile=300:300",
            setpriv.to_str().expect("path"),
            "--bounding-set=-sys_resource",
            "--inh-caps=-sys_resource",
        ])
        .args(["up", "-d"])
        .stdin(Stdio::null())
        .output()
        .expect("run ward up -d");
    if out.status.success() {
        // A daemon that started anyway is stopped before the test fails.
        w.cli(&["down"]);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "100 units need 656 open files (3 per unit, one per probe or hook, up to 512 log \
             files and 256 for the daemon), but this process may open only 300"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: raise the hard limit on open files"),
        "{stderr}"
    );
    // Refused before anything was made: no state dir, no process.
    assert!(!w.dir.path().join(".ward").exists());
    assert!(w.processes_here().is_empty());
}

#[test]
fn a_config_that_fits_under_the_hard_limit_starts_every_unit() {
    let Some(prlimit) = external("prlimit") else {
        return;
    };
    let mut w = Ward::new(&sleepers(200));
    // A soft limit far too low, a hard limit with room: the daemon raises the soft one.
    w.start_daemon_wrapped(&[prlimit.to_str().expect("path"), "--nofile=300:4096"]);
    let st = wait_for("200 services running", || {
        let st = w.status();
        (st.services.len() == 200 && st.services.iter().all(|s| s.state == UnitState::Running))
            .then_some(st)
    });
    // The budget the refusal counts with holds for a running daemon: it holds no more
    // descriptors than 200 units are said to need.
    let held = std::fs::read_dir(format!("/proc/{}/fd", w.daemon_pid()))
        .expect("daemon's descriptors")
        .count() as u64;
    let budget = ward_core::budget::descriptors_needed(200, 0);
    assert!(held <= budget, "{held} descriptors held, {budget} budgeted");
    // Children get the limit ward was given, not the one it raised for itself.
    let pid = st.services[0].pid.expect("pid");
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("open files line");
    assert!(
        line.split_whitespace().collect::<Vec<_>>()[3..5] == ["300", "4096"],
        "{line}"
    );
}

#[test]
fn a_reload_that_cannot_fit_changes_nothing() {
    let (Some(prlimit), Some(setpriv)) = (external("prlimit"), external("setpriv")) else {
        return;
    };
    let mut w = Ward::new(&sleepers(5));
    // 5 units need 276 of 300; 15 would need 316.
    w.start_daemon_wrapped(&[
        prlimit.to_str().expect("path"),
        "--nofile=300:300",
        setpriv.to_str().expect("path"),
        "--bounding-set=-sys_resource",
        "--inh-caps=-sys_resource",
    ]);
    w.wait_all_running("5 services running");
    std::fs::write(&w.config, sleepers(15)).expect("write config");
    let out = w.cli(&["reload"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr
            .contains("the new config does not fit; nothing changed: 15 units need 316 open files"),
        "{stderr}"
    );
    assert_eq!(w.status().services.len(), 5);
}
