//! Scheduled tasks with a real clock: a seconds-level schedule that runs and journals each
//! run, `overlap` when a run is still going, `ward stop` pausing and `ward start`
//! resuming, and `catch_up` after a daemon that was down when a run fell due.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::fixture::{Ward, sh, wait_for};

fn lines(w: &Ward, file: &str) -> usize {
    std::fs::read_to_string(w.dir.path().join(file))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn a_seconds_level_schedule_runs_the_task_and_journals_each_run() {
    let w = Ward::up(&format!(
        "[services.tick]\ncommand = {}\ntype = \"oneshot\"\nschedule = \"* * * * * *\"\n",
        sh("echo run >> runs"),
    ));
    // Not at `ward up`: at its times.
    let first = w.unit("tick");
    assert_eq!(first.schedule.as_deref(), Some("* * * * * *"));
    let next = first.next_run_ms.expect("a next run");
    assert!(
        next > now_ms() - 1000 && next <= now_ms() + 1000,
        "{first:?}"
    );
    wait_for("three runs", || (lines(&w, "runs") >= 3).then_some(()));
    let tick = w.wait_unit("tick", "completed with a next run", |s| {
        s.state.as_str() == "completed" && s.next_run_ms.is_some()
    });
    assert!(tick.spawns >= 3, "{tick:?}");
    let history = w.ok(&["history", "tick"]);
    assert!(history.matches("scheduled run (").count() >= 3, "{history}");
    let table = w.ok(&["status"]);
    assert!(table.contains("next run 20"), "{table}");
}

#[test]
fn overlap_skip_leaves_a_running_task_alone() {
    // Each run takes 2.5 s; the schedule fires every second.
    let w = Ward::up(&format!(
        "[services.slow]\ncommand = {}\ntype = \"oneshot\"\nschedule = \"* * * * * *\"\n",
        sh("echo start >> marks; sleep 2.5; echo end >> marks"),
    ));
    wait_for("a skipped run", || {
        w.log("slow")
            .contains("skipped: the last run is still running")
            .then_some(())
    });
    wait_for("a second run", || {
        (w.unit("slow").spawns >= 2).then_some(())
    });
    // Runs never overlapped: every start follows the end of the run before it.
    let marks = std::fs::read_to_string(w.dir.path().join("marks")).unwrap();
    let mut open = 0;
    for m in marks.lines() {
        open += if m == "start" { 1 } else { -1 };
        assert!((0..=1).contains(&open), "overlapping runs: {marks}");
    }
}

#[test]
fn overlap_queue_runs_once_more_after_the_running_one() {
    let w = Ward::up(&format!(
        "[services.q]\ncommand = {}\ntype = \"oneshot\"\nschedule = \"* * * * * *\"\noverlap = \"queue\"\n",
        sh("echo start >> marks; sleep 1.5; echo end >> marks"),
    ));
    wait_for("a queued run to run", || {
        w.ok(&["history", "q"])
            .contains("scheduled run (queued behind the last one)")
            .then_some(())
    });
    assert!(
        w.log("q")
            .contains("queued: it runs when the last one ends")
    );
}

#[test]
fn overlap_kill_restarts_a_run_still_going() {
    let w = Ward::up(
        "[services.k]\ncommand = [\"/bin/sleep\", \"300\"]\ntype = \"oneshot\"\nschedule = \"* * * * * *\"\noverlap = \"kill\"\n",
    );
    let k = w.wait_unit("k", "a second run", |s| s.spawns >= 2);
    assert!(
        k.restarts == 0,
        "a restart by schedule is not a crash recovery: {k:?}"
    );
    assert!(w.log("k").contains("stopping the last run to start anew"));
}

#[test]
fn stop_pauses_the_schedule_and_start_runs_now_and_resumes() {
    let w = Ward::up(&format!(
        "[services.p]\ncommand = {}\ntype = \"oneshot\"\nschedule = \"0 0 1 1 *\"\n",
        sh("echo run >> runs"),
    ));
    let p = w.unit("p");
    assert!(
        p.next_run_ms.unwrap() > now_ms() + 3_600_000,
        "next new year: {p:?}"
    );
    assert_eq!(p.spawns, 0, "a scheduled task does not run at `ward up`");
    w.ok(&["stop", "p"]);
    let p = w.unit("p");
    assert_eq!(p.next_run_ms, None, "paused: {p:?}");
    let table = w.ok(&["status"]);
    assert!(table.contains("schedule paused (0 0 1 1 *)"), "{table}");
    w.ok(&["start", "p"]);
    let p = w.wait_state("p", "completed");
    assert_eq!(p.spawns, 1);
    assert!(p.next_run_ms.is_some(), "resumed: {p:?}");
}

#[test]
fn catch_up_runs_a_run_missed_while_the_daemon_was_down() {
    for catch_up in [true, false] {
        let mut w = Ward::up(&format!(
            "[services.nightly]\ncommand = {}\ntype = \"oneshot\"\nschedule = \"0 0 1 1 *\"\n",
            sh("echo run >> runs"),
        ));
        // One run, by hand, then the daemon goes.
        w.ok(&["start", "nightly"]);
        w.wait_state("nightly", "completed");
        w.ok(&["down"]);
        w.wait_daemon_exit();
        // A run falls due while no daemon runs: a daily time two seconds from now (UTC).
        let due = SystemTime::now() + Duration::from_secs(2);
        let secs = due.duration_since(UNIX_EPOCH).unwrap().as_secs();
        let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
        std::fs::write(
            w.dir.path().join("ward.toml"),
            format!(
                "[services.nightly]\ncommand = {}\ntype = \"oneshot\"\n\
                 schedule = \"{s} {m} {h} * * *\"\ntimezone = \"UTC\"\ncatch_up = {catch_up}\n",
                sh("echo run >> runs"),
            ),
        )
        .unwrap();
        wait_for("the due time to pass", || {
            (SystemTime::now() > due + Duration::from_millis(200)).then_some(())
        });
        w.start_daemon();
        if catch_up {
            let n = w.wait_state("nightly", "completed");
            assert_eq!(n.spawns, 1, "{n:?}");
            assert_eq!(lines(&w, "runs"), 2);
            assert!(
                w.ok(&["history", "nightly"])
                    .contains("scheduled run (catch_up)")
            );
        } else {
            let n = w.unit("nightly");
            assert_eq!(n.spawns, 0, "no catch_up, no run: {n:?}");
            assert!(
                n.next_run_ms.unwrap() > now_ms() + 23 * 3_600_000,
                "the next run is tomorrow: {n:?}"
            );
        }
    }
}
