//! Many services at once.

use ward_api::UnitState;

use crate::fixture::{Ward, alive, testbin, wait_for};

#[test]
fn a_hundred_services_start_and_stop_cleanly() {
    let bin = testbin();
    let mut toml = String::new();
    for i in 0..100 {
        toml.push_str(&format!(
            "[services.s{i:03}]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nmin_uptime = \"200ms\"\n"
        ));
    }
    let w = Ward::up(&toml);
    let st = wait_for("100 services running", || {
        let st = w.status();
        st.services
            .iter()
            .all(|s| s.state == UnitState::Running)
            .then_some(st)
    });
    assert_eq!(st.services.len(), 100);
    let pids: Vec<u32> = st.services.iter().filter_map(|s| s.pid).collect();
    assert_eq!(pids.len(), 100);
    let out = w.ok(&["stop", "--all"]);
    assert_eq!(
        out.lines().filter(|l| l.ends_with(": stopped")).count(),
        100,
        "{out}"
    );
    assert!(pids.iter().all(|&p| !alive(p)));
    assert!(w.processes_here().is_empty());
    let st = w.status();
    assert!(
        st.services
            .iter()
            .all(|s| s.state == UnitState::Stopped && s.restarts == 0)
    );
    let out = w.ok(&["start", "--all"]);
    assert_eq!(
        out.lines()
            .filter(|l| l.contains(": starting (pid"))
            .count(),
        100
    );
}
