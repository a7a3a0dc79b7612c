//! `ward why`: one real process per crash class, judged by the daemon.

use rustix::process::Signal;
use ward_api::UnitState;

use crate::fixture::{Ward, alive, kill, testbin, wait_for};

/// Waits for the unit's verdict of `class` and returns `ward why --json` for it.
fn why(w: &Ward, unit: &str, class: &str) -> serde_json::Value {
    w.wait_unit(unit, &format!("a {class} verdict"), |s| {
        s.verdict.as_ref().is_some_and(|v| v.class == class)
    });
    let out = w.cli(&["why", unit, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["class"], class, "{v}");
    v
}

#[test]
fn real_crashes_get_their_class_severity_and_evidence() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.segv]\ncommand = [\"{bin}\", \"crash\", \"SEGV\"]\nrestart = \"never\"\nmin_uptime = \"0s\"\n\
         [services.abrt]\ncommand = [\"{bin}\", \"crash\", \"ABRT\"]\nrestart = \"never\"\nmin_uptime = \"0s\"\n\
         [services.three]\ncommand = [\"{bin}\", \"exit\", \"3\"]\nrestart = \"never\"\nmin_uptime = \"0s\"\n\
         [services.early]\ncommand = [\"/bin/sh\", \"-c\", \"echo cannot open config >&2; exit 2\"]\nrestart = \"never\"\n\
         [services.missing]\ncommand = \"/no/such/binary\"\nrestart = \"never\"\n\
         [services.victim]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nrestart = \"never\"\nmin_uptime = \"0s\"\n"
    ));
    let v = why(&w, "segv", "segfault");
    assert_eq!(v["severity"], "high");
    assert!(v["evidence"].to_string().contains("SIGSEGV"), "{v}");
    why(&w, "abrt", "abort");
    let v = why(&w, "three", "error_exit");
    assert!(v["evidence"].to_string().contains("code 3"), "{v}");
    let v = why(&w, "early", "early_exit");
    assert!(v["evidence"].to_string().contains("of min_uptime"), "{v}");
    assert_eq!(v["stderr"][0], "cannot open config", "{v}");
    let v = why(&w, "missing", "exec_failed");
    assert_eq!(v["severity"], "critical");
    assert!(v["evidence"].to_string().contains("/no/such/binary"), "{v}");
    let pid = w.wait_state("victim", "running").pid.expect("pid");
    kill(pid, Signal::KILL);
    let v = why(&w, "victim", "killed");
    assert!(
        v["evidence"]
            .to_string()
            .contains("which ward did not send"),
        "{v}"
    );
    // The text form, for people.
    let out = w.cli(&["why", "segv"]);
    assert_eq!(out.status.code(), Some(1), "a crash is not a success");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("class     segfault (high)"), "{text}");
    // The journal keeps the class too.
    let history = w.ok(&["history", "segv"]);
    assert!(history.contains("segfault (high)"), "{history}");
}

#[test]
fn loops_hangs_and_requested_stops() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.loop]\ncommand = [\"{bin}\", \"exit\", \"1\"]\nbackoff = {{ initial = \"20ms\" }}\n\
         start_limit = {{ burst = 2 }}\n\
         [services.stubborn]\ncommand = [\"{bin}\", \"ignore-term\", \"300\"]\nstop_timeout = \"300ms\"\n\
         [services.calm]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    let v = why(&w, "loop", "crash_loop");
    assert_eq!(v["severity"], "critical");
    assert!(v["next"].as_str().unwrap_or("").contains("gave up"), "{v}");
    w.wait_state("stubborn", "running");
    wait_for("the SIGTERM handler", || {
        w.log("stubborn").contains("ignoring SIGTERM").then_some(())
    });
    w.ok(&["stop", "stubborn", "calm"]);
    let v = why(&w, "stubborn", "hung");
    assert!(v["evidence"].to_string().contains("stop_timeout"), "{v}");
    why(&w, "calm", "stopped");
    assert_eq!(w.cli(&["why", "calm"]).status.code(), Some(0));
}

#[test]
fn ends_while_ward_was_away_name_the_cause() {
    let bin = testbin();
    let mut w = Ward::up(&format!(
        "[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nrestart = \"never\"\n\
         [services.t]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nrestart = \"never\"\n"
    ));
    let s = w.wait_state("s", "running").pid.expect("pid");
    w.wait_state("t", "running");
    kill(w.daemon_pid(), Signal::KILL);
    w.wait_daemon_exit();
    kill(s, Signal::KILL);
    wait_for("s to die", || (!alive(s)).then_some(()));
    // As if the machine had rebooted under t: its record names another boot.
    w.edit_record("t", |v| {
        v["main"]["boot_id"] = "00000000-0000-0000-0000-000000000000".into();
    });
    w.start_daemon();
    why(&w, "s", "supervisor_crash");
    let v = why(&w, "t", "system_shutdown");
    assert_eq!(v["severity"], "low");
}

#[test]
fn rlimits_make_resource_limit_deaths() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.cpu]\ncommand = [\"{bin}\", \"spin\"]\nrestart = \"never\"\nmin_uptime = \"0s\"\n\
         rlimits = {{ cpu = \"1s\", core = 0 }}\n\
         [services.fsize]\ncommand = [\"{bin}\", \"grow-file\", \"1048576\"]\nrestart = \"never\"\n\
         min_uptime = \"0s\"\nrlimits = {{ fsize = \"64KiB\", core = 0 }}\n\
         [services.files]\ncommand = [\"/bin/sh\", \"-c\", \"ulimit -n; exec sleep 300\"]\n\
         rlimits = {{ nofile = 77 }}\n"
    ));
    let v = why(&w, "cpu", "resource_limit");
    assert!(v["evidence"].to_string().contains("CPU-time limit"), "{v}");
    assert!(
        v["evidence"].to_string().contains("no core was dumped"),
        "{v}"
    );
    let v = why(&w, "fsize", "resource_limit");
    assert!(v["evidence"].to_string().contains("file-size limit"), "{v}");
    wait_for("the nofile limit in the service's output", || {
        w.log("files").contains(" out 77").then_some(())
    });
}

#[test]
fn a_real_oom_kill_in_a_memory_limited_cgroup() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.hog]\ncommand = [\"{bin}\", \"hog\", \"256\"]\nrestart = \"never\"\n\
         min_uptime = \"0s\"\nmemory_max = \"32MiB\"\n"
    ));
    let v = why(&w, "hog", "oom_kill");
    assert_eq!(v["summary"], "the kernel's OOM killer ended it", "{v}");
    let evidence = v["evidence"].to_string();
    assert!(evidence.contains("memory cgroup counted 1 OOM kill"), "{v}");
    assert!(evidence.contains("of a 32.0 MiB limit"), "{v}");
    assert!(
        evidence.contains("kernel log:") && evidence.contains("Killed process"),
        "{v}"
    );
}

#[test]
fn confidence_comes_from_the_services_own_recoveries() {
    let bin = testbin();
    // Each run lasts 300 ms, past min_uptime (100 ms), then segfaults: every recovery
    // holds, and the estimate must rise above the prior's 0.5.
    let w = Ward::up(&format!(
        "[services.flaky]\ncommand = [\"/bin/sh\", \"-c\", \"sleep 0.3; exec {bin} crash SEGV\"]\n\
         min_uptime = \"100ms\"\nbackoff = {{ initial = \"10ms\", max = \"10ms\" }}\n"
    ));
    w.wait_unit("flaky", "four restarts", |s| s.restarts >= 4);
    let out = w.cli(&["why", "flaky", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["class"], "segfault", "{v}");
    let c = &v["confidence"];
    let trials = c["trials"].as_u64().expect("trials");
    assert!(trials >= 2, "{v}");
    assert_eq!(c["successes"], c["trials"], "{v}");
    assert!(c["value"].as_f64().expect("value") > 0.6, "{v}");
    assert!(
        c["explanation"]
            .as_str()
            .unwrap_or("")
            .contains("recoveries from segfault held"),
        "{v}"
    );
    assert!(
        v["strategy"].as_str().unwrap_or("").starts_with("restart"),
        "{v}"
    );
}

#[test]
fn statistics_count_restarts_by_cause() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.flaky]\ncommand = [\"{bin}\", \"exit\", \"1\"]\nmin_uptime = \"0s\"\n\
         backoff = {{ initial = \"50ms\", max = \"50ms\" }}\nstart_limit = {{ burst = 1000 }}\n\
         [services.calm]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nmin_uptime = \"0s\"\n"
    ));
    w.wait_unit("flaky", "three restarts", |s| s.restarts >= 3);
    w.wait_state("calm", "running");
    w.ok(&["restart", "calm"]);
    let pid = w.wait_state("calm", "running").pid.expect("pid");
    kill(pid, Signal::KILL);
    w.wait_unit("calm", "back", |s| {
        s.restarts >= 1 && s.state == UnitState::Running
    });
    let out = w.cli(&["why", "calm", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let s = &v["stats"];
    assert_eq!(s["restarts_by_operator"], 1, "{v}");
    assert_eq!(s["restarts_after_crash"], 1, "{v}");
    assert_eq!(s["crashes_by_class"]["killed"], 1, "{v}");
    assert!(s["uptime_ratio"].as_f64().expect("ratio") > 0.0, "{v}");
    let out = w.cli(&["why", "flaky", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        v["stats"]["backoff_ms"].as_i64().expect("backoff") >= 100,
        "{v}"
    );
    // The same numbers in ward status --json.
    let out = w.ok(&["status", "--json"]);
    let st: serde_json::Value = serde_json::from_str(&out).expect("json");
    let calm = st["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["name"] == "calm")
        .expect("calm");
    assert_eq!(calm["stats"]["restarts_by_operator"], 1, "{calm}");
    assert!(
        v["stats"]["restarts_after_crash"].as_u64().expect("n") >= 3,
        "{v}"
    );
    // Named units alone, each whole and with its statistics; an unknown name is refused.
    let out = w.ok(&["status", "calm", "--json"]);
    let st: serde_json::Value = serde_json::from_str(&out).expect("json");
    let services = st["services"].as_array().expect("services");
    assert_eq!(services.len(), 1, "{st}");
    assert_eq!(services[0]["name"], "calm", "{st}");
    assert_eq!(services[0]["stats"]["restarts_by_operator"], 1, "{st}");
    assert!(
        services[0]["state"].is_string() && st["daemon"]["pid"].is_u64(),
        "{st}"
    );
    let out = w.cli(&["status", "nosuch", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no service named `nosuch`"));
}

#[test]
fn bus_errors_illegal_instructions_and_arithmetic_faults() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.bus]\ncommand = [\"{bin}\", \"crash\", \"BUS\"]\nrestart = \"never\"\nmin_uptime = \"0s\"\n\
         [services.ill]\ncommand = [\"{bin}\", \"crash\", \"ILL\"]\nrestart = \"never\"\nmin_uptime = \"0s\"\n\
         [services.fpe]\ncommand = [\"{bin}\", \"crash\", \"FPE\"]\nrestart = \"never\"\nmin_uptime = \"0s\"\n"
    ));
    let v = why(&w, "bus", "bus_error");
    assert!(v["evidence"].to_string().contains("SIGBUS"), "{v}");
    why(&w, "ill", "illegal_instruction");
    why(&w, "fpe", "fp_error");
}

#[test]
fn a_service_that_hits_pids_max_is_a_resource_limit() {
    let w = Ward::up(
        "[services.forky]\ncommand = [\"/bin/sh\", \"-c\", \"for i in 1 2 3 4 5 6 7 8; do sleep 30 & done; wait\"]\n\
         pids_max = 3\nrestart = \"never\"\nmin_uptime = \"0s\"\n",
    );
    let v = why(&w, "forky", "resource_limit");
    assert!(v["evidence"].to_string().contains("pids limit"), "{v}");
}

#[test]
fn earlier_runs_are_judged_from_the_journal_even_with_the_daemon_down() {
    // Run 1 exits 3, run 2 dies of SIGSEGV, run 3 stays up.
    let w = Ward::up(
        "[services.app]\ncommand = [\"/bin/sh\", \"-c\", \"n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; \
         case $n in 1) echo first >&2; exit 3;; 2) echo second >&2; kill -SEGV $$;; *) exec sleep 300;; esac\"]\n\
         min_uptime = \"0s\"\nbackoff = { initial = \"50ms\" }\n",
    );
    w.wait_unit("app", "its third run", |s| {
        s.spawns == 3 && s.state == UnitState::Running
    });
    let run = |n: &str| -> serde_json::Value {
        let out = w.cli(&["why", "app", "--run", n, "--json"]);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)))
    };
    let last = run("1");
    assert_eq!(last["class"], "segfault", "{last}");
    assert_eq!(last["run"], 1);
    assert_eq!(last["stderr"], serde_json::json!(["second"]), "{last}");
    assert!(
        last["recommendation"]
            .as_str()
            .unwrap()
            .contains("rlimits.core"),
        "{last}"
    );
    assert!(last["next"].as_str().unwrap().contains("restart"), "{last}");
    let first = run("2");
    assert_eq!(first["class"], "error_exit", "{first}");
    assert!(first["evidence"].to_string().contains("code 3"), "{first}");
    assert_eq!(first["stderr"], serde_json::json!(["first"]), "{first}");
    let out = w.cli(&["why", "app", "--run", "3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("holds 2 ended run(s) of `app`; --run takes 1 (the last) to 2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The screen names the advice; with the daemon gone the journal still answers, and
    // the stop that ended run 3 is no crash.
    let screen = String::from_utf8_lossy(&w.cli(&["why", "app", "--run", "2"]).stdout).to_string();
    assert!(
        screen.contains("  advice    the program chose to exit"),
        "{screen}"
    );
    w.ok(&["down"]);
    let stopped = run("1");
    assert_eq!(stopped["class"], "stopped", "{stopped}");
    assert_eq!(run("2")["class"], "segfault");
}

#[test]
fn a_record_without_a_boot_id_is_no_evidence_that_the_machine_went_down() {
    let bin = testbin();
    let mut w = Ward::up(&format!(
        "[services.t]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nrestart = \"never\"\n\
         on_daemon_exit = \"keep\"\n"
    ));
    let t = w.wait_state("t", "running").pid.expect("pid");
    // A clean detach: the next daemon has no crash of its own to blame.
    kill(w.daemon_pid(), Signal::QUIT);
    w.wait_daemon_exit();
    kill(t, Signal::KILL);
    wait_for("t to die", || (!alive(t)).then_some(()));
    // As if its identity could not be read at the spawn: no boot id was recorded.
    w.edit_record("t", |v| v["main"]["boot_id"] = "".into());
    w.start_daemon();
    let v = why(&w, "t", "killed");
    assert_eq!(
        v["summary"],
        "something outside ward ended it (exited, status unknown)"
    );
    assert!(!v["evidence"].to_string().contains("earlier boot"), "{v}");
}
