//! Recovery by policy: the recovery table, the repair hook, giving up and on_failure.

use ward_api::UnitState;

use crate::fixture::{Ward, testbin, wait_for};

#[test]
fn a_repair_hook_runs_before_the_restart() {
    let w = Ward::up(
        "[services.db]\n\
         command = [\"/bin/sh\", \"-c\", \"test -f repaired && exec sleep 300; echo corrupted >&2; exit 1\"]\n\
         repair = [\"/bin/sh\", \"-c\", \"echo repairing $WARD_CLASS; touch repaired\"]\n\
         recovery = { early_exit = \"repair\" }\nbackoff = { initial = \"50ms\" }\n",
    );
    let s = w.wait_unit("db", "running after its repair", |s| {
        s.state == UnitState::Running && s.spawns == 2
    });
    assert_eq!(s.restarts, 1);
    assert!(w.dir.path().join("repaired").exists());
    wait_for("the hook's output in the log", || {
        w.log("db")
            .contains("out repairing early_exit")
            .then_some(())
    });
    let history = w.ok(&["history", "db"]);
    assert!(history.contains("repair hook succeeded"), "{history}");
}

#[test]
fn giving_up_runs_on_failure_with_the_verdict() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.seg]\ncommand = [\"{bin}\", \"crash\", \"SEGV\"]\nmin_uptime = \"0s\"\n\
         recovery = {{ segfault = \"give_up\" }}\n\
         on_failure = [\"/bin/sh\", \"-c\", \"echo $WARD_HOOK $WARD_CLASS $WARD_SEVERITY > failure.txt\"]\n"
    ));
    let s = w.wait_state("seg", "failed");
    assert_eq!(s.spawns, 1, "given up after the first crash");
    let file = w.dir.path().join("failure.txt");
    let text = wait_for("the on_failure hook", || {
        std::fs::read_to_string(&file)
            .ok()
            .filter(|t| t.ends_with('\n'))
    });
    assert_eq!(text.trim(), "on_failure segfault high");
    let history = w.ok(&["history", "seg"]);
    assert!(
        history.contains("give up: the recovery table says so"),
        "{history}"
    );
    assert!(history.contains("on_failure hook succeeded"), "{history}");
}

#[test]
fn a_repair_that_times_out_gives_up() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.db]\ncommand = [\"{bin}\", \"exit\", \"1\"]\n\
         repair = [\"/bin/sleep\", \"60\"]\nhook_timeout = \"300ms\"\n\
         recovery = {{ early_exit = \"repair\" }}\nbackoff = {{ initial = \"50ms\" }}\n"
    ));
    let s = w.wait_state("db", "failed");
    assert_eq!(s.spawns, 1);
    // The journal commits on its own thread, just after the state changes in memory:
    // `history` asks the daemon to let it finish first.
    let history = w.ok(&["history", "db"]);
    assert!(
        history.contains("repair hook failed: killed by SIGKILL"),
        "{history}"
    );
    assert!(w.processes_here().is_empty(), "{:?}", w.processes_here());
}

#[test]
fn restarts_that_do_not_hold_escalate_below_the_confidence_floor() {
    let bin = testbin();
    // Every run fails before min_uptime: no recovery holds, the estimate sinks, and below
    // the floor ward gives up long before the start limit (burst 100) would.
    let w = Ward::up(&format!(
        "[services.doomed]\ncommand = [\"{bin}\", \"exit\", \"1\"]\n\
         backoff = {{ initial = \"50ms\", max = \"50ms\" }}\nstart_limit = {{ burst = 100 }}\n\
         confidence_floor = 0.3\n\
         on_failure = [\"/bin/sh\", \"-c\", \"echo $WARD_CLASS > gave-up.txt\"]\n"
    ));
    let s = w.wait_state("doomed", "failed");
    assert!(s.spawns < 10, "gave up after {} spawns", s.spawns);
    let history = w.ok(&["history", "doomed"]);
    assert!(
        history.contains("escalated from backoff to give_up"),
        "{history}"
    );
    wait_for("on_failure", || {
        std::fs::read_to_string(w.dir.path().join("gave-up.txt")).ok()
    });
}

#[test]
fn restore_puts_the_data_of_the_last_clean_start_back() {
    let w = Ward::new("");
    std::fs::create_dir(w.dir.path().join("data")).expect("mkdir");
    std::fs::write(w.dir.path().join("data/state"), "good\n").expect("write");
    // The first run corrupts its data and dies of SIGSEGV; the next one, after the
    // restore, finds the data as the clean start left it.
    std::fs::write(
        &w.config,
        "[services.db]\n\
         command = [\"/bin/sh\", \"-c\", \"n=$(cat runs 2>/dev/null || echo 0); echo $((n+1)) > runs; \
         if [ $n -ge 1 ]; then cat data/state; exec sleep 300; fi; echo corrupt > data/state; kill -SEGV $$\"]\n\
         data = [\"data\"]\nrecovery = { segfault = \"restore\" }\nbackoff = { initial = \"50ms\" }\n\
         min_uptime = \"0s\"\n",
    )
    .expect("config");
    let mut w = w;
    w.start_daemon();
    w.wait_unit("db", "running after the restore", |s| {
        s.state == UnitState::Running && s.spawns == 2
    });
    assert_eq!(
        std::fs::read_to_string(w.dir.path().join("data/state")).expect("state"),
        "good\n"
    );
    wait_for("the restored data in the log", || {
        w.log("db").contains(" out good").then_some(())
    });
    let log = w.log("db");
    assert!(log.contains("data snapshot taken"), "{log}");
    assert!(log.contains("data restored from"), "{log}");
    let history = w.ok(&["history", "db"]);
    assert!(history.contains("data restored from"), "{history}");
}

#[test]
fn why_names_the_strategy_ward_chose() {
    let w = Ward::up(
        "[services.db]\n\
         command = [\"/bin/sh\", \"-c\", \"test -f repaired && exec sleep 300; exit 1\"]\n\
         repair = [\"/bin/sh\", \"-c\", \"touch repaired\"]\n\
         recovery = { early_exit = \"repair\" }\nbackoff = { initial = \"50ms\" }\n",
    );
    let s = w.wait_unit("db", "repaired and running", |s| {
        s.state == UnitState::Running && s.spawns == 2
    });
    assert_eq!(
        s.verdict.expect("verdict").strategy.as_deref(),
        Some("repair")
    );
    let out = w.cli(&["why", "db", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["strategy"], "repair", "{v}");
}
