//! One-shot tasks and conditions per edge: a migration that must complete before the web
//! server starts, a failed one that leaves its dependents waiting with its name, retries
//! under `restart = "on-failure"`, and `remain_after_exit`.

use ward_api::UnitState;

use crate::fixture::{Ward, testbin, wait_for};

#[test]
fn a_dependent_waits_for_a_task_to_complete_and_starts_after_it() {
    let bin = testbin();
    // The migration takes a moment and leaves a mark; web checks for the mark at its start.
    let w = Ward::up(&format!(
        "[services.migrate]\ncommand = [\"/bin/sh\", \"-c\", \"sleep 0.3; touch migrated; exit 3\"]\n\
         type = \"oneshot\"\nsuccess_exit_codes = [3]\n\
         [services.cache]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n\
         [services.web]\ncommand = [\"/bin/sh\", \"-c\", \"test -f migrated && exec sleep 300\"]\n\
         depends_on = {{ migrate = \"completed\", cache = \"started\" }}\n"
    ));
    let web = w.wait_state("web", "running");
    let migrate = w.unit("migrate");
    assert_eq!(migrate.state, UnitState::Completed, "{migrate:?}");
    assert_eq!(migrate.kind, "oneshot");
    assert!(
        migrate.ready,
        "a completed task is ready for its dependents"
    );
    assert_eq!(migrate.last_exit.as_ref().and_then(|e| e.code), Some(3));
    assert!(
        web.started_at_ms >= migrate.last_exit.as_ref().map(|e| e.at_ms),
        "web started before the migration ended: {web:?} {migrate:?}"
    );
    assert_eq!(web.spawns, 1, "web ran once, after the mark was there");
    // `ward status` names the task's state as it is.
    let table = w.ok(&["status"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("migrate") && l.contains("completed")),
        "{table}"
    );
}

#[test]
fn a_failed_task_leaves_its_dependents_waiting_with_its_name() {
    let w = Ward::up(
        "[services.migrate]\ncommand = [\"/bin/sh\", \"-c\", \"echo no database >&2; exit 2\"]\n\
         type = \"oneshot\"\n\
         [services.web]\ncommand = [\"/bin/sleep\", \"300\"]\ndepends_on = { migrate = \"completed\" }\n",
    );
    let migrate = w.wait_state("migrate", "failed");
    assert_eq!(migrate.last_exit.as_ref().and_then(|e| e.code), Some(2));
    let web = w.wait_unit("web", "a reason that names migrate", |s| {
        !s.waiting_reasons.is_empty()
    });
    assert_eq!(web.state, UnitState::Stopped);
    assert_eq!(
        web.spawns, 0,
        "web never started against a failed migration"
    );
    assert_eq!(web.waiting_for, ["migrate"]);
    assert_eq!(
        web.waiting_reasons,
        ["migrate to complete (failed: exit 2)"],
        "{web:?}"
    );
    let table = w.ok(&["status"]);
    assert!(
        table.contains("waiting for migrate to complete (failed: exit 2)"),
        "{table}"
    );
    assert!(table.contains("the task failed (exit 2)"), "{table}");
    // Fixing the task and running it again lets web start.
    std::fs::write(w.dir.path().join("fixed"), "").unwrap();
    w.ok(&["start", "migrate"]);
    // Still exit 2: the command did not change; web keeps waiting and never starts.
    w.wait_unit("migrate", "a second failed run", |s| {
        s.spawns == 2 && s.state == UnitState::Failed
    });
    assert_eq!(w.unit("web").spawns, 0);
}

#[test]
fn on_failure_retries_a_task_until_it_completes() {
    // Fails twice, then succeeds: a counter file keeps the attempts.
    let w = Ward::up(
        "[services.flaky]\ncommand = [\"/bin/sh\", \"-c\", \"echo x >> tries; test $(wc -l < tries) -ge 3\"]\n\
         type = \"oneshot\"\nrestart = \"on-failure\"\nbackoff = { initial = \"50ms\" }\n\
         [services.after]\ncommand = [\"/bin/sleep\", \"300\"]\ndepends_on = [\"flaky\"]\n",
    );
    let flaky = w.wait_state("flaky", "completed");
    assert_eq!(flaky.spawns, 3, "{flaky:?}");
    assert_eq!(flaky.restarts, 2);
    w.wait_state("after", "running");
    let history = w.ok(&["history", "flaky"]);
    assert!(history.contains("completed"), "{history}");
}

#[test]
fn without_remain_after_exit_a_later_start_runs_the_task_again() {
    let tasks = |remain: bool| {
        format!(
            "[services.setup]\ncommand = [\"/bin/sh\", \"-c\", \"echo run >> runs\"]\n\
             type = \"oneshot\"\nremain_after_exit = {remain}\n\
             [services.app]\ncommand = [\"/bin/sleep\", \"300\"]\ndepends_on = [\"setup\"]\n"
        )
    };
    for remain in [false, true] {
        let w = Ward::up(&tasks(remain));
        w.wait_state("app", "running");
        w.ok(&["stop", "app"]);
        w.ok(&["start", "app"]);
        w.wait_state("app", "running");
        let runs = wait_for("the runs file", || {
            std::fs::read_to_string(w.dir.path().join("runs")).ok()
        });
        let expected = if remain { 1 } else { 2 };
        assert_eq!(
            runs.lines().count(),
            expected,
            "remain_after_exit = {remain}: {runs}"
        );
        assert_eq!(w.unit("setup").spawns, expected as u64);
    }
}

#[test]
fn a_healthy_condition_waits_for_the_probe_not_the_spawn() {
    let bin = testbin();
    // db answers its probe only once a file exists; web waits for healthy, not started.
    let w = Ward::up(&format!(
        "[services.db]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n\
         health = {{ command = [\"/bin/sh\", \"-c\", \"test -f db.ok\"], interval = \"100ms\", start_period = \"300s\" }}\n\
         [services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\ndepends_on = {{ db = \"healthy\" }}\n"
    ));
    w.wait_state("db", "running");
    let web = w.wait_unit("web", "a reason", |s| !s.waiting_reasons.is_empty());
    assert!(
        web.waiting_reasons[0].starts_with("db to be healthy ("),
        "{web:?}"
    );
    assert_eq!(web.spawns, 0);
    std::fs::write(w.dir.path().join("db.ok"), "").unwrap();
    w.wait_state("web", "running");
}

#[test]
fn a_completed_task_stays_completed_under_the_next_daemon() {
    let mut w = Ward::up(
        "[services.migrate]\ncommand = [\"/bin/sh\", \"-c\", \"echo run >> runs\"]\n\
         type = \"oneshot\"\nremain_after_exit = true\n\
         [services.app]\ncommand = [\"/bin/sleep\", \"300\"]\ndepends_on = [\"migrate\"]\n",
    );
    let app = w.wait_state("app", "running").pid.expect("app pid");
    // The daemon dies; the app runs on, and the next daemon adopts it.
    crate::fixture::kill(w.daemon_pid(), rustix::process::Signal::KILL);
    w.wait_daemon_exit();
    w.start_daemon();
    let migrate = w.wait_state("migrate", "completed");
    assert_eq!(migrate.spawns, 0, "not run again: {migrate:?}");
    assert_eq!(w.unit("app").pid, Some(app), "adopted");
    let runs = std::fs::read_to_string(w.dir.path().join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 1, "{runs}");
    // A restart of the app by an operator finds its dependency done.
    w.ok(&["stop", "app"]);
    w.ok(&["start", "app"]);
    w.wait_state("app", "running");
    let runs = std::fs::read_to_string(w.dir.path().join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 1, "{runs}");
}
