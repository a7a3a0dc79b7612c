//! The journal: history one command away, and nothing acknowledged lost to a kill -9.

use rustix::process::Signal;

use crate::fixture::{Ward, kill, testbin, wait_for};

#[test]
fn history_tells_what_happened_to_a_service() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.crashy]\ncommand = [\"{bin}\", \"crash\", \"SEGV\"]\n\
         backoff = {{ initial = \"50ms\" }}\nstart_limit = {{ burst = 2 }}\n\
         [services.calm]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    w.wait_state("crashy", "failed");
    w.ok(&["stop", "calm"]);
    let out = w.ok(&["history", "crashy", "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&out).expect("json");
    let kinds: Vec<&str> = entries.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "start").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "crash").count(),
        3,
        "{kinds:?}"
    );
    let details: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("signal (error): killed by SIGSEGV")),
        "{details:?}"
    );
    assert!(
        details.iter().any(|d| d.starts_with("restart after")),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("give up: start limit")),
        "{details:?}"
    );
    let times: Vec<i64> = entries.iter().filter_map(|e| e["at_ms"].as_i64()).collect();
    assert!(times.windows(2).all(|p| p[0] <= p[1]), "not in time order");

    let table = w.ok(&["history", "calm"]);
    assert!(table.contains("action"), "{table}");
    assert!(
        table.contains("stop calm by uid 0: calm: stopped"),
        "{table}"
    );
    let events = w.ok(&["events", "--since", "1h"]);
    assert!(events.contains("daemon started"), "{events}");
    let out = w.cli(&["history", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let st = w.status();
    assert_eq!(
        (st.daemon.journal_dropped, st.daemon.journal_failed),
        (0, 0)
    );
}

#[test]
fn thirty_kill_9s_while_writing_lose_nothing_acknowledged() {
    let bin = testbin();
    let mut w = Ward::new(&format!(
        "[services.loop]\ncommand = [\"{bin}\", \"exit\", \"1\"]\nmin_uptime = \"0s\"\n\
         backoff = {{ initial = \"10ms\", max = \"10ms\" }}\nstart_limit = {{ burst = 10000 }}\n\
         [services.calm]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    let journal = w.dir.path().join(".ward/journal.db");
    let mut acknowledged = 0;
    for _ in 0..30 {
        w.start_daemon();
        for _ in 0..10 {
            // Exit 0 or 1: the daemon answered, so the request's record was committed.
            let out = w.cli(&["signal", "calm", "CONT"]);
            if matches!(out.status.code(), Some(0 | 1)) {
                acknowledged += 1;
            }
        }
        kill(w.daemon_pid(), Signal::KILL);
        w.wait_daemon_exit();
        let check = ward_store::integrity_check(&journal).expect("the journal opens");
        assert_eq!(check, ["ok"]);
    }
    w.start_daemon();
    let events = w.ok(&["events", "--since", "1h", "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&events).expect("json");
    let signals = entries
        .iter()
        .filter(|e| {
            e["kind"] == "action"
                && e["detail"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("signal calm"))
        })
        .count();
    assert_eq!(
        signals, acknowledged,
        "acknowledged requests missing from the journal"
    );
    let crashes = entries.iter().filter(|e| e["kind"] == "crash").count();
    assert!(crashes > 100, "the crash loop wrote only {crashes} crashes");
    let starts = entries
        .iter()
        .filter(|e| e["kind"] == "daemon started")
        .count();
    assert_eq!(starts, 31);
    wait_for("nothing", || Some(()));
}
