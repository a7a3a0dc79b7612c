//! Lifecycle hooks, with real processes: `pre_start`, `post_start`, `pre_stop` and
//! `post_stop` in their order around a run, a failing `pre_start` that fails the start
//! with its exit and stderr in `ward why`, a restart that waits for `post_stop`, and a
//! dependent that waits for `post_start`.

use crate::fixture::{Ward, sh, wait_for};

#[test]
fn the_four_hooks_run_in_order_around_a_run() {
    let w = Ward::up(&format!(
        "[services.app]\ncommand = {}\nmin_uptime = \"0s\"\n\
         pre_start = {}\npost_start = {}\npre_stop = {}\npost_stop = {}\n",
        sh(
            "echo main >> order; trap 'echo term >> order; exit 0' TERM; while :; do sleep 0.05; done"
        ),
        sh("echo pre_start >> order"),
        sh("echo post_start $WARD_MAIN_PID >> order"),
        sh("echo pre_stop $WARD_MAIN_PID >> order; sleep 0.3"),
        sh("echo post_stop $WARD_EXIT >> order"),
    ));
    let order = || std::fs::read_to_string(w.dir.path().join("order")).unwrap_or_default();
    let pid = w.wait_state("app", "running").pid.expect("pid");
    wait_for("post_start", || {
        order().contains("post_start").then_some(())
    });
    w.ok(&["stop", "app"]);
    let lines: Vec<String> = wait_for("post_stop", || {
        let text = order();
        text.contains("post_stop")
            .then(|| text.lines().map(str::to_string).collect())
    });
    let at = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {lines:?}"))
    };
    assert_eq!(at("pre_start"), 0, "{lines:?}");
    assert!(at("main") > at("pre_start"));
    assert_eq!(lines[at("post_start")], format!("post_start {pid}"));
    assert_eq!(lines[at("pre_stop")], format!("pre_stop {pid}"));
    assert!(
        at("pre_stop") < at("term"),
        "the stop signal waited for pre_stop: {lines:?}"
    );
    assert_eq!(lines.last().unwrap(), "post_stop exit 0", "{lines:?}");
    let history = w.ok(&["history", "app"]);
    for hook in ["pre_start", "post_start", "pre_stop", "post_stop"] {
        assert!(
            history.contains(&format!("{hook} hook succeeded")),
            "{hook}: {history}"
        );
    }
}

#[test]
fn a_failing_pre_start_fails_the_start_with_its_exit_and_stderr_in_why() {
    let w = Ward::up(&format!(
        "[services.app]\ncommand = [\"/bin/sleep\", \"300\"]\nrestart = \"never\"\npre_start = {}\n",
        sh("echo migration lock held >&2; exit 4"),
    ));
    let app = w.wait_state("app", "exited");
    assert_eq!(app.spawns, 0, "the main process never ran: {app:?}");
    assert_eq!(
        app.spawn_error.as_deref(),
        Some("start failed: pre_start hook failed: exit 4")
    );
    let why = wait_for("the hook's stderr in why", || {
        let why = String::from_utf8_lossy(&w.cli(&["why", "app"]).stdout).into_owned();
        why.contains("migration lock held").then_some(why)
    });
    assert!(why.contains("pre_start hook failed: exit 4"), "{why}");
}

#[test]
fn a_restart_waits_for_post_stop_to_clean_up() {
    // The first run fails; the second checks that the cleanup of the first was done.
    let w = Ward::up(&format!(
        "[services.app]\ncommand = {}\nmin_uptime = \"0s\"\nbackoff = {{ initial = \"10ms\" }}\npost_stop = {}\n",
        sh(
            "echo run >> runs; if test $(wc -l < runs) -ge 2; then test -f cleaned || touch dirty; exec sleep 300; fi; exit 1"
        ),
        sh("sleep 0.3; touch cleaned"),
    ));
    w.wait_unit("app", "its second run", |s| {
        s.spawns == 2 && s.state.as_str() == "running"
    });
    assert!(w.dir.path().join("cleaned").exists());
    assert!(
        !w.dir.path().join("dirty").exists(),
        "the restart did not wait for post_stop"
    );
}

#[test]
fn a_dependent_waits_for_post_start() {
    let w = Ward::up(&format!(
        "[services.cache]\ncommand = [\"/bin/sleep\", \"300\"]\npost_start = {}\n\
         [services.web]\ncommand = {}\nrestart = \"never\"\ndepends_on = {{ cache = \"started\" }}\n",
        sh("sleep 0.5; touch warmed"),
        sh("test -f warmed && exec sleep 300"),
    ));
    let web = w.wait_state("web", "running");
    assert_eq!(web.spawns, 1, "{web:?}");
}

#[test]
fn a_failing_post_start_stops_the_run_as_hung() {
    let w = Ward::up(&format!(
        "[services.app]\ncommand = [\"/bin/sleep\", \"300\"]\nrestart = \"never\"\npost_start = {}\n",
        sh("exit 7"),
    ));
    w.wait_state("app", "exited");
    // A crash: `ward why` says so with its exit code.
    let why = String::from_utf8_lossy(&w.cli(&["why", "app"]).stdout).into_owned();
    assert!(why.contains("its post_start hook failed: exit 7"), "{why}");
}

#[test]
fn a_stop_during_pre_start_stops_the_hook_and_the_start() {
    let w = Ward::up(&format!(
        "[services.app]\ncommand = [\"/bin/sleep\", \"300\"]\npre_start = {}\n",
        sh("echo $$ > hook.pid; exec sleep 300"),
    ));
    let hook: u32 = wait_for("the hook's pid", || {
        std::fs::read_to_string(w.dir.path().join("hook.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    w.ok(&["stop", "app"]);
    let app = w.wait_state("app", "stopped");
    assert_eq!(app.spawns, 0, "{app:?}");
    wait_for("the hook to be gone", || {
        crate::fixture::reaped(hook).then_some(())
    });
    // And a start afterwards runs the hook again, then the service.
    std::fs::remove_file(w.dir.path().join("hook.pid")).unwrap();
    w.ok(&["start", "app"]);
    wait_for("the hook again", || {
        w.dir.path().join("hook.pid").exists().then_some(())
    });
    assert_eq!(w.unit("app").state.as_str(), "starting");
}
