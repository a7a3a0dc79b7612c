//! Service output: timestamped lines, rotation without loss, reopening, the CLI reader.

use crate::fixture::{Ward, testbin, wait_for};

/// `2026-11-26T13:28:49.085Z out text`
fn well_formed(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 29
        && b[4] == b'-'
        && b[10] == b'T'
        && b[23] == b'Z'
        && (line[24..].starts_with(" out ")
            || line[24..].starts_with(" err ")
            || line[24..].starts_with(" ward "))
}

#[test]
fn every_line_is_timestamped_and_rotation_loses_none() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[supervisor]\nlog_max_size = \"8KiB\"\nlog_keep = 100\n\
         [services.spew]\ncommand = [\"{bin}\", \"spew\", \"5000\"]\nrestart = \"never\"\nmin_uptime = \"0s\"\n"
    ));
    w.wait_state("spew", "exited");
    let logs = w.dir.path().join(".ward/logs");
    // A file may be renamed by a rotation between listing and reading: then look again.
    let read_all = || {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(&logs).ok()?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("spew.log") {
                let text = std::fs::read_to_string(entry.path()).ok()?;
                assert!(text.len() <= 8 * 1024, "{name} is {} bytes", text.len());
                all.extend(text.lines().map(String::from));
            }
        }
        Some(all)
    };
    let lines = wait_for("every line in the files", || {
        let all = read_all()?;
        (all.iter().filter(|l| l.contains(" out spew line ")).count() == 5000).then_some(all)
    });
    assert!(
        lines.iter().all(|l| well_formed(l)),
        "a line without a timestamp"
    );
    let mut numbers: Vec<u32> = lines
        .iter()
        .filter_map(|l| l.split(" out spew line ").nth(1)?.parse().ok())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..5000).collect::<Vec<_>>());
    assert!(logs.join("spew.log.1").exists(), "no rotation happened");
    assert_eq!(w.unit("spew").log_dropped_bytes, 0);
}

#[test]
fn logs_shows_the_last_lines_of_each_service() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.a]\ncommand = [\"{bin}\", \"spew\", \"50\"]\nrestart = \"never\"\nmin_uptime = \"0s\"\n\
         [services.b]\ncommand = [\"/bin/sh\", \"-c\", \"echo to-stderr >&2; exec sleep 300\"]\n"
    ));
    w.wait_state("a", "exited");
    wait_for("a's output", || {
        w.log("a").contains("spew line 49").then_some(())
    });
    wait_for("b's output", || {
        w.log("b").contains("to-stderr").then_some(())
    });
    wait_for("a's exit note", || {
        w.log("a").contains("main process ended").then_some(())
    });
    let out = w.ok(&["logs", "a", "-n", "3"]);
    let file = w.log("a");
    let last3: Vec<&str> = file
        .lines()
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), last3);
    assert!(out.contains("out spew line 49"), "{out}");
    let out = w.ok(&["logs", "a", "b"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("b | ") && l.ends_with(" err to-stderr")),
        "{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("a | ")), "{out}");
    let out = w.cli(&["logs", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The N of every `line N at T` line of a log.
fn line_numbers(log: &str) -> impl Iterator<Item = u32> + '_ {
    log.lines().filter_map(|l| {
        l.split(" out line ")
            .nth(1)?
            .split(' ')
            .next()?
            .parse()
            .ok()
    })
}

#[test]
fn reopen_follows_an_external_rotation() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.tick]\ncommand = [\"{bin}\", \"print-every\", \"20\"]\n"
    ));
    let log = w.dir.path().join(".ward/logs/tick.log");
    wait_for("output", || w.log("tick").contains("line 3").then_some(()));
    let moved = w.dir.path().join("tick.log.old");
    std::fs::rename(&log, &moved).expect("rename");
    w.ok(&["logs", "--reopen"]);
    wait_for("a new log file with new lines", || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|t| t.contains(" out line "))
            .map(|_| ())
    });
    let old = std::fs::read_to_string(&moved).expect("old");
    let new = std::fs::read_to_string(&log).expect("new");
    let last_old = line_numbers(&old).max().expect("lines");
    let first_new = line_numbers(&new).min().expect("lines");
    assert_eq!(first_new, last_old + 1, "a line was lost across the reopen");
}

#[test]
fn follow_prints_new_lines_as_they_come() {
    use std::io::{BufRead, BufReader};
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.tick]\ncommand = [\"{bin}\", \"print-every\", \"20\"]\n"
    ));
    wait_for("output", || w.log("tick").contains("line 2").then_some(()));
    let mut follower = std::process::Command::new(crate::fixture::ward_bin())
        .arg("-c")
        .arg(&w.config)
        .args(["logs", "tick", "-f", "-n", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn logs -f");
    let stdout = follower.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut numbers = Vec::new();
    while numbers.len() < 5 {
        let line = rx
            .recv_timeout(crate::fixture::DEADLINE)
            .expect("a followed line in time");
        if let Some(rest) = line.split(" out line ").nth(1) {
            let n = rest.split(' ').next().expect("number");
            numbers.push(n.parse::<u32>().expect("number"));
        }
    }
    let _ = follower.kill();
    let _ = follower.wait();
    assert!(numbers.windows(2).all(|p| p[1] == p[0] + 1), "{numbers:?}");
}

/// Several services' lines come merged by time, and the filters pick among them, across
/// rotated files with `--since`.
#[test]
fn logs_of_several_services_merge_by_time_and_filter() {
    let w = Ward::up(
        "[supervisor]\nlog_max_size = \"4KiB\"\nlog_keep = 5\n\
         [services.tick]\ncommand = [\"/bin/sh\", \"-c\", \"i=0; while [ $i -lt 60 ]; do echo tick $i; echo oops $i >&2; i=$((i+1)); sleep 0.01; done; sleep 300\"]\n\
         [services.tock]\ncommand = [\"/bin/sh\", \"-c\", \"i=0; while [ $i -lt 60 ]; do echo tock $i; i=$((i+1)); sleep 0.01; done; sleep 300\"]\n",
    );
    let dir = w.dir.path().join(".ward/logs");
    wait_for("both to finish writing", || {
        let all = w.ok(&["logs", "--since", "1h"]);
        (all.contains("tick 59") && all.contains("tock 59")).then_some(())
    });
    assert!(dir.join("tick.log.1").exists(), "the tick log rotated");
    let all = w.ok(&["logs", "tick", "tock", "--since", "1h"]);
    let stamps: Vec<&str> = all
        .lines()
        .filter_map(|l| l.split_once(" | ").map(|(_, rest)| &rest[..24]))
        .collect();
    let mut sorted = stamps.clone();
    sorted.sort();
    assert_eq!(stamps, sorted, "merged by time");
    // With --since, rotated files count: every tick from the first.
    for i in [0, 30, 59] {
        assert!(
            all.contains(&format!(" out tick {i}\n")),
            "tick {i}:\n{all}"
        );
    }
    assert!(all.lines().any(|l| l.starts_with("tick | ")), "{all}");
    assert!(all.lines().any(|l| l.starts_with("tock | ")), "{all}");
    // Filters: stderr alone, and text.
    let errs = w.ok(&["logs", "tick", "tock", "--stderr", "-n", "5"]);
    assert_eq!(errs.lines().count(), 5, "{errs}");
    assert!(errs.lines().all(|l| l.contains(" err oops ")), "{errs}");
    let one = w.ok(&["logs", "--since", "1h", "--grep", "tock 42"]);
    assert_eq!(one.lines().count(), 1, "{one}");
    assert!(one.ends_with(" out tock 42\n"), "{one}");
    // Nothing is older than an hour from now, so `--until 1h` leaves nothing.
    assert_eq!(w.ok(&["logs", "--since", "2h", "--until", "1h"]), "");
    let bad = w.cli(&["logs", "--since", "soon"]);
    assert_eq!(bad.status.code(), Some(2));
}
