//! `ward reload` and SIGHUP apply only the difference.

use rustix::process::Signal;
use ward_api::UnitState;

use crate::fixture::{Ward, alive, kill, testbin, wait_for};

#[test]
fn reload_restarts_only_what_changed() {
    let bin = testbin();
    let svc = |name: &str, secs: u32| {
        format!("[services.{name}]\ncommand = [\"{bin}\", \"sleep\", \"{secs}\"]\n")
    };
    let w = Ward::up(&format!(
        "{}{}{}{}instances = 3\n",
        svc("keep", 300),
        svc("change", 300),
        svc("remove", 300),
        svc("many", 300)
    ));
    let pid = |name: &str| w.wait_state(name, "running").pid.expect("pid");
    let (keep, change, remove, many0) = (pid("keep"), pid("change"), pid("remove"), pid("many.0"));
    let many2 = pid("many.2");

    std::fs::write(
        &w.config,
        format!(
            "{}{}{}{}instances = 2\n",
            svc("keep", 300),
            svc("change", 301),
            svc("added", 300),
            svc("many", 300)
        ),
    )
    .expect("rewrite config");
    let out = w.ok(&["reload", "--json"]);
    let r: ward_api::ReloadResponse = serde_json::from_str(&out).expect("json");
    assert_eq!(r.added, ["added"]);
    assert_eq!(r.changed, ["change"]);
    assert_eq!(r.unchanged, ["keep", "many.0", "many.1"]);
    assert_eq!(r.removed, ["many.2", "remove"]);

    w.wait_state("added", "running");
    let new_change = w.wait_unit("change", "a new process", |s| {
        s.state == UnitState::Running && s.pid != Some(change)
    });
    assert!(new_change.pid.is_some());
    assert_eq!(
        w.unit("keep").pid,
        Some(keep),
        "an untouched service was restarted"
    );
    assert_eq!(w.unit("many.0").pid, Some(many0));
    wait_for("removed units to go", || {
        let st = w.status();
        (!st.services
            .iter()
            .any(|s| s.name == "remove" || s.name == "many.2"))
        .then_some(())
    });
    assert!(!alive(remove) && !alive(many2) && !alive(change));
}

#[test]
fn sighup_reloads_and_a_bad_config_changes_nothing() {
    let bin = testbin();
    let mut w = Ward::up(&format!(
        "[services.a]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    let a = w.wait_state("a", "running").pid;
    std::fs::write(&w.config, "[services.a]\ncommand = 5\n").expect("write");
    let out = w.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ward.toml:2:11:"), "{err}");
    assert_eq!(w.unit("a").pid, a);

    std::fs::write(
        &w.config,
        format!(
            "[services.a]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n\
             [services.b]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
        ),
    )
    .expect("write");
    kill(w.daemon_pid(), Signal::HUP);
    w.wait_state("b", "running");
    assert_eq!(w.unit("a").pid, a);
    assert!(w.daemon_exit().is_none());
}
