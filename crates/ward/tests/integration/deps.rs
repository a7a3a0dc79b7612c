//! `depends_on`: start order by readiness, dependencies started on demand, reverse order
//! at shutdown, and crashes that name the dependents they affect.

use rustix::process::Signal;
use ward_api::UnitState;

use crate::fixture::{Ward, kill, testbin, wait_for};

#[test]
fn a_dependent_starts_only_once_its_dependency_is_ready() {
    let bin = testbin();
    // db sends READY=1 400 ms after its start; web waits for it.
    let w = Ward::up(&format!(
        "[services.db]\ncommand = [\"{bin}\", \"notify\", \"400\", \"1000\", \"1000\"]\nready = \"notify\"\n\
         [services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\ndepends_on = [\"db\"]\n"
    ));
    let web = w.wait_state("web", "running");
    let db = w.unit("db");
    assert!(db.ready, "{db:?}");
    let (db_at, web_at) = (
        db.started_at_ms.expect("db started"),
        web.started_at_ms.expect("web started"),
    );
    assert!(
        web_at >= db_at + 400,
        "web started {} ms after db, before db was ready",
        web_at as i64 - db_at as i64
    );
    assert_eq!(web.depends_on, ["db"]);
    let log = w.log("web");
    assert!(log.contains("waiting for db to be ready ("), "{log}");
}

#[test]
fn starting_a_dependent_starts_its_dependencies_and_stopping_waits_for_dependents() {
    let bin = testbin();
    // On SIGTERM each writes whether the other is already gone.
    let script = |me: &str, other: &str| {
        format!(
            "trap 'if test -f {other}.stopped; then echo after > {me}.order; else echo before > {me}.order; fi; touch {me}.stopped; exit 0' TERM; while :; do sleep 0.05; done"
        )
    };
    let w = Ward::up(&format!(
        "[services.db]\ncommand = [\"/bin/sh\", \"-c\", \"{}\"]\nautostart = false\n\
         [services.web]\ncommand = [\"/bin/sh\", \"-c\", \"{}\"]\ndepends_on = [\"db\"]\nautostart = false\n\
         [services.other]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n",
        script("db", "web"),
        script("web", "db"),
    ));
    w.wait_state("other", "running");
    assert_eq!(w.unit("web").state, UnitState::Stopped);
    w.ok(&["start", "web"]);
    w.wait_state("web", "running");
    assert_eq!(
        w.unit("db").state,
        UnitState::Running,
        "db was started for web"
    );
    w.ok(&["down"]);
    let order = |name: &str| {
        wait_for(&format!("{name}.order"), || {
            std::fs::read_to_string(w.dir.path().join(format!("{name}.order"))).ok()
        })
    };
    assert_eq!(order("web").trim(), "before", "web stops first");
    assert_eq!(order("db").trim(), "after", "db stops once web is gone");
}

#[test]
fn a_crash_of_a_dependency_names_its_dependents_and_is_more_severe() {
    // /bin/sleep, not the test program: Rust's runtime survives a SIGSEGV sent by kill.
    let w = Ward::up(
        "[services.db]\ncommand = [\"/bin/sleep\", \"300\"]\nmin_uptime = \"0s\"\nrestart = \"never\"\n\
         [services.web]\ncommand = [\"/bin/sleep\", \"300\"]\ndepends_on = [\"db\"]\n\
         [services.lone]\ncommand = [\"/bin/sleep\", \"300\"]\nmin_uptime = \"0s\"\nrestart = \"never\"\n",
    );
    w.wait_state("web", "running");
    let db = w.wait_state("db", "running").pid.expect("db pid");
    let lone = w.wait_state("lone", "running").pid.expect("lone pid");
    kill(db, Signal::SEGV);
    kill(lone, Signal::SEGV);
    let verdict = |name: &str| {
        w.wait_unit(name, "a segfault verdict", |s| s.verdict.is_some())
            .verdict
            .expect("verdict")
    };
    let (db, lone) = (verdict("db"), verdict("lone"));
    assert_eq!(
        (db.class.as_str(), lone.class.as_str()),
        ("segfault", "segfault")
    );
    assert_eq!(lone.severity, "high");
    assert_eq!(db.severity, "critical", "{db:?}");
    assert!(
        db.evidence
            .iter()
            .any(|e| e == "1 service(s) depend on it: web"),
        "{db:?}"
    );
}
