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
        details.iter().any(|d| d.starts_with("segfault (")),
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

#[test]
fn backup_restore_and_repair_of_a_damaged_journal() {
    use std::io::{Seek, SeekFrom, Write};
    let bin = testbin();
    let mut w = Ward::up(&format!(
        "[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n\
         [services.loop]\ncommand = [\"{bin}\", \"exit\", \"1\"]\nmin_uptime = \"0s\"\n\
         backoff = {{ initial = \"10ms\", max = \"10ms\" }}\nstart_limit = {{ burst = 10000 }}\n"
    ));
    w.wait_state("s", "running");
    let out = w.ok(&["backup"]);
    assert!(out.contains("(verified)"), "{out}");
    let journal = w.dir.path().join(".ward/journal.db");
    let backup = ward_store::backups(&journal)
        .into_iter()
        .next()
        .expect("a backup file");
    let files = std::fs::read_dir(backup.parent().expect("dir"))
        .expect("dir")
        .count();
    assert_eq!(files, 1, "a backup is one file, nothing beside it");
    let out = w.cli(&["restore", backup.to_str().expect("utf-8")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "restore must refuse while the daemon runs"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("ward down"));
    // Many more records after the backup, so the damage hits rows the backup lacks.
    w.wait_unit("loop", "many restarts", |s| s.restarts > 400);
    w.ok(&["down"]);
    w.wait_daemon_exit();

    // Overwrite pages in the middle of the main file.
    let conn_check = ward_store::integrity_check(&journal).expect("open");
    assert_eq!(conn_check, ["ok"]);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&journal)
        .expect("open");
    let len = f.metadata().expect("meta").len();
    assert!(
        len > 24 * 4096,
        "journal of {len} bytes is too small to damage in its middle"
    );
    f.seek(SeekFrom::Start(len / 2)).expect("seek");
    f.write_all(&[0x5A; 2 * 4096]).expect("write");
    drop(f);
    let out = w.cli(&["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("is damaged"), "{text}");

    // `ward up` repairs by itself, keeps the damaged file and says what it did.
    w.start_daemon();
    let st = w.status();
    let report = st.daemon.journal_repair.expect("a repair report");
    assert!(report.contains("restored"), "{report}");
    assert!(report.contains("recovered"), "{report}");
    let kept: Vec<_> = std::fs::read_dir(w.dir.path().join(".ward"))
        .expect("dir")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("journal.db.damaged-")
        })
        .collect();
    assert!(!kept.is_empty(), "the damaged file was not kept");
    let events = w.ok(&["events", "--since", "1h"]);
    assert!(events.contains("journal repaired"), "{events}");
    let history = w.ok(&["history", "loop"]);
    assert!(history.lines().count() > 100, "{history}");
    w.ok(&["down"]);
    w.wait_daemon_exit();
    let out = w.ok(&["restore", backup.to_str().expect("utf-8")]);
    assert!(out.contains("was moved to"), "{out}");
}

#[test]
fn doctor_finds_and_repairs_what_a_killed_daemon_left() {
    let mut w = Ward::up("");
    w.ok(&["backup"]);
    kill(w.daemon_pid(), Signal::KILL);
    w.wait_daemon_exit();
    let out = w.cli(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("stale"), "{text}");
    let out = w.ok(&["doctor", "--repair"]);
    assert!(out.contains("removed the stale"), "{out}");
    let out = w.ok(&["doctor"]);
    assert!(out.contains("no problems found"), "{out}");
}

/// A size-limited tmpfs for the state dir, unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_costs_journal_records_not_supervision() {
    let bin = testbin();
    let w = Ward::new("");
    let state = w.dir.path().join("state");
    std::fs::create_dir(&state).expect("mkdir");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&state)
        .status()
        .expect("run mount");
    assert!(mounted.success(), "mounting a tmpfs needs root, as CI has");
    let _disk = SmallDisk(state.clone());
    std::fs::write(
        &w.config,
        format!(
            "[supervisor]\nstate_dir = \"state\"\nlog_dir = \"logs\"\n\
             [services.loop]\ncommand = [\"{bin}\", \"exit\", \"1\"]\nmin_uptime = \"0s\"\n\
             backoff = {{ initial = \"10ms\", max = \"10ms\" }}\nstart_limit = {{ burst = 10000 }}\n"
        ),
    )
    .expect("config");
    let mut w = w;
    w.start_daemon();
    // Fill what is left of the disk.
    let _ = std::fs::write(state.join("filler"), vec![0u8; 2 << 20]);
    let st = wait_for("journal writes to fail", || {
        let st = w.status();
        (st.daemon.journal_failed > 0).then_some(st)
    });
    let restarts = st.services[0].restarts;
    w.wait_unit("loop", "restarts go on", |s| s.restarts > restarts + 20);
    let out = w.cli(&["doctor"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("write errors"));
    // A control action is not carried out unrecorded: the audit trail is full too.
    let out = w.cli(&["down"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot write the audit record") && stderr.contains("nothing was done"),
        "{stderr}"
    );
    assert!(w.daemon_exit().is_none(), "the refused shutdown ran anyway");
    // Room again, and it is.
    std::fs::remove_file(state.join("filler")).expect("remove the filler");
    w.ok(&["down"]);
    w.wait_daemon_exit();
}
