//! The audit trail: control actions with their peer, every spawn without environment
//! values, a chain that `ward audit verify` checks, and actions refused when their record
//! cannot be written.

use std::fs;

use crate::fixture::{Ward, external, testbin, wait_for};

fn audit_json(w: &Ward) -> Vec<serde_json::Value> {
    let out = w.ok(&["audit", "--json"]);
    serde_json::from_str(&out).expect("audit json")
}

#[test]
fn actions_and_spawns_are_recorded_and_the_chain_verifies() {
    let bin = testbin();
    let mut w = Ward::new(&format!(
        "[services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n\
         env = {{ API_TOKEN = \"hunter2-value\" }}\n"
    ));
    w.start_daemon();
    w.wait_state("web", "running");
    w.ok(&["stop", "web"]);
    w.ok(&["start", "web"]);
    w.wait_state("web", "running");
    let records = wait_for("the second spawn in the trail", || {
        let r = audit_json(&w);
        (r.iter().filter(|e| e["kind"] == "spawn").count() >= 2).then_some(r)
    });
    let kinds: Vec<&str> = records.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds[0], "daemon", "{records:?}");
    let stop = records
        .iter()
        .find(|e| e["kind"] == "action" && e["what"] == "stop")
        .expect("the stop");
    assert_eq!(stop["targets"], serde_json::json!(["web"]));
    assert_eq!(stop["peer"]["uid"], 0);
    assert!(
        stop["peer"]["pid"].as_u64().is_some_and(|p| p > 0),
        "{stop}"
    );
    assert!(
        stop["peer"]["exe"]
            .as_str()
            .is_some_and(|e| e.ends_with("/ward")),
        "{stop}"
    );
    let spawn = records
        .iter()
        .find(|e| e["kind"] == "spawn")
        .expect("a spawn");
    assert_eq!(spawn["unit"], "web");
    assert_eq!(spawn["argv"][0], bin.as_str());
    assert!(
        spawn["env"]
            .as_array()
            .expect("names")
            .iter()
            .any(|n| n == "API_TOKEN"),
        "{spawn}"
    );
    // Names only: no value of the environment anywhere in the trail.
    let raw = fs::read_to_string(w.dir.path().join(".ward/audit.jsonl")).expect("trail");
    assert!(!raw.contains("hunter2-value"));
    // Each record links to the one before.
    for pair in records.windows(2) {
        assert_eq!(
            pair[1]["seq"].as_u64(),
            pair[0]["seq"].as_u64().map(|s| s + 1)
        );
    }
    let out = w.ok(&["audit", "verify"]);
    assert!(out.contains("the audit trail holds"), "{out}");
    // The table names who and what.
    let table = w.ok(&["audit"]);
    assert!(
        table.contains("stop web") && table.contains("started web as uid 0"),
        "{table}"
    );
}

#[test]
fn verify_names_the_first_record_edited_removed_or_reordered() {
    let bin = testbin();
    let mut w = Ward::new(&format!(
        "[services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    w.start_daemon();
    w.wait_state("web", "running");
    for _ in 0..2 {
        w.ok(&["restart", "web"]);
        w.wait_state("web", "running");
    }
    w.ok(&["down"]);
    w.wait_daemon_exit();
    let path = w.dir.path().join(".ward/audit.jsonl");
    let good = fs::read_to_string(&path).expect("trail");
    let lines: Vec<&str> = good.lines().collect();
    assert!(lines.len() >= 6, "{good}");
    assert!(w.ok(&["audit", "verify"]).contains("holds"));
    let verify = |text: String| {
        fs::write(&path, text).expect("write");
        let out = w.cli(&["audit", "verify"]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        stderr
    };
    // Record 3 edited (its time changed).
    let mut edited = lines.clone();
    let changed = edited[2].replacen("\"at_ms\":1", "\"at_ms\":2", 1);
    assert_ne!(changed, edited[2]);
    edited[2] = &changed;
    let e = verify(edited.join("\n") + "\n");
    assert!(e.contains("audit.jsonl:3: record 3 was edited"), "{e}");
    // Record 2 removed.
    let mut removed = lines.clone();
    removed.remove(1);
    let e = verify(removed.join("\n") + "\n");
    assert!(e.contains("record 2 was removed or moved"), "{e}");
    // Records 4 and 5 swapped.
    let mut swapped = lines.clone();
    swapped.swap(3, 4);
    let e = verify(swapped.join("\n") + "\n");
    assert!(
        e.contains("audit.jsonl:4: record 5 follows record 3"),
        "{e}"
    );
    // The last record cut off: the journal's head still names it.
    let e = verify(lines[..lines.len() - 1].join("\n") + "\n");
    assert!(
        e.contains("were removed") || e.contains("was removed"),
        "{e}"
    );
    fs::write(&path, &good).expect("restore");
    assert!(w.ok(&["audit", "verify"]).contains("holds"));
}

/// A control action whose record cannot be written is refused, and not carried out: the
/// state dir is a 1 MiB tmpfs in the daemon's own mount namespace, filled up.
#[test]
fn an_action_whose_record_cannot_be_written_is_refused() {
    let (Some(unshare), Some(nsenter)) = (external("unshare"), external("nsenter")) else {
        return;
    };
    let bin = testbin();
    let mut w = Ward::new(&format!(
        "[supervisor]\nstate_dir = \"st\"\nruntime_dir = \"run\"\nlog_dir = \"logs\"\n\
         socket = \"sock/ward.sock\"\n\
         [services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    let st = w.dir.path().join("st");
    fs::create_dir(&st).expect("mkdir");
    let mount = format!(
        "mount -t tmpfs -o size=1m,mode=0700 ward-test {} && exec \"$0\" \"$@\"",
        st.display()
    );
    w.start_daemon_wrapped(&[
        unshare.to_str().expect("path"),
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &mount,
    ]);
    w.wait_state("web", "running");
    let daemon = w.daemon_pid().to_string();
    // Fill the state dir as the daemon sees it.
    let fill = std::process::Command::new(nsenter)
        .args(["-t", &daemon, "-m", "sh", "-c"])
        .arg(format!("cat /dev/zero > {}/fill", st.display()))
        .output()
        .expect("nsenter");
    assert!(!fill.status.success(), "the tmpfs should have filled up");
    // The file's last page may still hold a record or two; then there is no room.
    let mut refused = None;
    for _ in 0..50 {
        let before = w.unit("web").pid;
        let out = w.cli(&["restart", "web"]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if stderr.contains("cannot write the audit record") {
            refused = Some((before, stderr));
            break;
        }
        w.wait_state("web", "running");
    }
    let (before, stderr) = refused.expect("a restart refused for want of an audit record");
    assert!(stderr.contains("nothing was done"), "{stderr}");
    assert_eq!(w.unit("web").pid, before, "the refused restart ran anyway");
    assert_eq!(w.unit("web").state, ward_api::UnitState::Running);
}

#[test]
fn ward_run_is_recorded_with_or_without_the_daemon_and_refused_when_it_cannot_be() {
    let bin = testbin();
    let mut w = Ward::new(&format!(
        "[services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    w.start_daemon();
    w.wait_state("web", "running");
    // While the daemon writes its own records, and after it is gone.
    let out = w.cli(&[
        "run",
        "--env",
        "RUN_TOKEN=tok-run-4567",
        "--",
        "/bin/sh",
        "-c",
        "exit 3",
        "tok-run-4567",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    w.ok(&["restart", "web"]);
    w.wait_state("web", "running");
    w.ok(&["down"]);
    w.wait_daemon_exit();
    let out = w.cli(&["--timeout", "200ms", "run", "--", "sleep", "5"]);
    assert_eq!(out.status.code(), Some(124));

    let records = audit_json(&w);
    let runs: Vec<&serde_json::Value> = records.iter().filter(|e| e["kind"] == "run").collect();
    let ends: Vec<&serde_json::Value> = records
        .iter()
        .filter(|e| e["kind"] == "run_ended")
        .collect();
    assert_eq!((runs.len(), ends.len()), (2, 2), "{records:?}");
    assert_eq!(runs[0]["by"]["uid"], 0);
    assert_eq!(runs[0]["uid"], 0);
    assert_eq!(
        runs[0]["argv"],
        serde_json::json!(["/bin/sh", "-c", "exit 3", "[redacted RUN_TOKEN]"])
    );
    assert!(
        runs[0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "RUN_TOKEN")
    );
    assert_eq!(
        (ends[0]["exit"].as_i64(), ends[0]["timed_out"].as_bool()),
        (Some(3), Some(false))
    );
    assert_eq!(
        (ends[1]["exit"].as_i64(), ends[1]["timed_out"].as_bool()),
        (Some(124), Some(true))
    );
    let trail = fs::read_to_string(w.dir.path().join(".ward/audit.jsonl")).expect("trail");
    assert!(!trail.contains("tok-run-4567"), "{trail}");
    // Written by two writers, one chain: the daemon's records after the run follow it.
    let verified = w.cli(&["audit", "verify"]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );

    // A trail that cannot be written: the run does not run.
    let trail_path = w.dir.path().join(".ward/audit.jsonl");
    fs::rename(&trail_path, w.dir.path().join("moved.jsonl")).expect("move");
    std::os::unix::fs::symlink("/dev/null", &trail_path).expect("link");
    let mark = w.dir.path().join("ran");
    let out = w.cli(&["run", "--", "/bin/touch", mark.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot write the audit record to") && stderr.contains("nothing was run"),
        "{stderr}"
    );
    assert!(!mark.exists());
}
