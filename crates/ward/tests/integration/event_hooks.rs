//! `[[hooks]]`: each fires once per matching event, with the event on stdin and in its
//! environment, and its runs are journaled.

use std::fs;

use crate::fixture::{Ward, testbin, wait_for};

#[test]
fn hooks_fire_once_per_matching_event_with_the_event() {
    let bin = testbin();
    let w = Ward::new(&format!(
        "[[hooks]]\non = [\"crash\"]\nservices = [\"bad\"]\n\
         command = [\"/bin/sh\", \"-c\", \"cat > crash-$WARD_SEQ.json; echo \\\"$WARD_EVENT $WARD_UNIT $WARD_SERVICE $WARD_CLASS\\\" >> crash.log\"]\n\
         [[hooks]]\non = [\"failed\"]\n\
         command = [\"/bin/sh\", \"-c\", \"echo \\\"$WARD_UNIT $WARD_STATE\\\" >> failed.log\"]\n\
         [[hooks]]\non = [\"stopped\"]\ncommand = [\"/bin/sleep\", \"30\"]\ntimeout = \"200ms\"\n\
         [services.bad]\ncommand = [\"{bin}\", \"crash\", \"SEGV\"]\n\
         backoff = {{ initial = \"10ms\", max = \"10ms\" }}\nstart_limit = {{ burst = 2, interval = \"60s\" }}\n\
         [services.other]\ncommand = [\"{bin}\", \"crash\", \"SEGV\"]\nrestart = \"never\"\n\
         [services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    let mut w = w;
    w.start_daemon();
    w.wait_state("bad", "failed");
    w.wait_state("other", "exited");
    // Every crash of `bad` ran the first hook once; `other`'s crash did not.
    let (crashes, crash_events) = wait_for("a hook run per crash of bad", || {
        let log = fs::read_to_string(w.dir.path().join("crash.log")).unwrap_or_default();
        let history = w.ok(&["events", "--since", "1h", "--json"]);
        let events: Vec<serde_json::Value> = serde_json::from_str(&history).ok()?;
        let n = events
            .iter()
            .filter(|e| e["kind"] == "crash" && e["unit"] == "bad")
            .count();
        (n >= 2 && log.lines().count() == n).then_some((log, n))
    });
    let lines: Vec<&str> = crashes.lines().collect();
    // The last crash before the start limit is judged a crash loop.
    assert!(
        lines
            .iter()
            .all(|l| *l == "crash bad bad segfault" || *l == "crash bad bad crash_loop"),
        "{crashes}"
    );
    assert_eq!(lines.len(), crash_events);
    // The event came whole on stdin.
    let json_file = fs::read_dir(w.dir.path())
        .expect("dir")
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("crash-"))
        .expect("a crash-N.json");
    let ev: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(json_file.path()).expect("json")).expect("JSON");
    assert_eq!(
        (ev["kind"].as_str(), ev["unit"].as_str()),
        (Some("crash"), Some("bad"))
    );
    assert!(
        ev["class"] == "segfault" || ev["class"] == "crash_loop",
        "{ev}"
    );
    // The failed hook ran once, for bad alone.
    let failed_log = wait_for("the failed hook", || {
        fs::read_to_string(w.dir.path().join("failed.log")).ok()
    });
    assert_eq!(failed_log, "bad failed\n");
    // A run past its timeout is killed and journaled as such.
    w.ok(&["stop", "web"]);
    wait_for("the slow hook's timeout in the journal", || {
        let events = w.ok(&["events", "--since", "1h"]);
        events
            .contains("[[hooks]] #3 (/bin/sleep 30) for state of web")
            .then_some(())
            .filter(|()| events.contains("killed after its timeout of 200ms"))
    });
    let events = w.ok(&["events"]);
    assert!(events.contains("[[hooks]] #1 (/bin/sh -c"), "{events}");
    assert!(events.contains(": exit 0"), "{events}");
}

#[test]
fn a_hook_with_an_unknown_event_is_refused_at_the_value() {
    let w = Ward::new("[[hooks]]\non = [\"crashed\"]\ncommand = \"/bin/true\"\n");
    let out = w.cli(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unknown event \"crashed\" in `on`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `crash`?"), "{stderr}");
}
