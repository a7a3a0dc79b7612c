//! `ward run`: one command with a timeout, its exit code passed on, its whole tree killed
//! when time runs out, with or without a daemon.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::fixture::{bounded, sleeps, ward_bin};

fn run(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(ward_bin());
    cmd.args(args);
    bounded(cmd)
}

#[test]
fn the_exit_code_and_output_are_the_commands() {
    let out = run(&["run", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    // A death by signal N is 128+N, as a shell reports it.
    let out = run(&["run", "--", "sh", "-c", "kill -9 $$"]);
    assert_eq!(out.status.code(), Some(137));
    // A program that cannot be run is named.
    let out = run(&["run", "--", "/nonexistent/program"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot run `/nonexistent/program`"));
}

#[test]
fn a_timeout_kills_the_whole_tree_and_exits_124() {
    let mark = format!("{}5", 40_000 + std::process::id() % 10_000);
    let away = format!("{}6", 40_000 + std::process::id() % 10_000);
    let started = Instant::now();
    // A double fork into a session of its own, and a main process that ignores SIGTERM.
    let script = format!("(setsid sleep {away} &); trap '' TERM; sleep {mark}");
    let out = run(&[
        "--timeout",
        "500ms",
        "run",
        "--kill-after",
        "1s",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(124),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ran out of time after 500ms"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing of the tree is left once `ward run` has returned.
    assert!(sleeps(&mark).is_empty() && sleeps(&away).is_empty());
    assert!(took >= Duration::from_millis(500), "{took:?}");
    eprintln!("timeout 500ms, kill-after 1s: ward run returned after {took:?}");
}

#[test]
fn env_limits_and_a_memory_limit_apply_to_the_command() {
    let out = run(&[
        "run",
        "--env",
        "GREETING=hello there",
        "--limit",
        "nofile=77",
        "--",
        "sh",
        "-c",
        "echo \"$GREETING\"; ulimit -n; echo \"${USER:-no user}\"",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello there\n77\nno user\n"
    );
    // 100 MB held by `tail` in a 32 MB cgroup: the kernel kills it.
    let out = run(&[
        "run",
        "--memory-max",
        "32M",
        "--",
        "sh",
        "-c",
        "head -c 100000000 /dev/zero | tail >/dev/null",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("needs the memory cgroup controller") {
        eprintln!("SKIPPED: no memory cgroup controller here");
        return;
    }
    assert_eq!(out.status.code(), Some(137), "{stderr}");
}

#[test]
fn bad_options_are_named() {
    for (args, want) in [
        (
            vec!["run", "--limit", "heap=1", "--", "true"],
            "unknown limit `heap`",
        ),
        (
            vec!["run", "--env", "1X=y", "--", "true"],
            "--env 1X=y: write KEY=VALUE",
        ),
        (
            vec!["run", "--memory-max", "lots", "--", "true"],
            "invalid size `lots`",
        ),
        (
            vec!["run", "--kill-after", "soon", "--", "true"],
            "invalid duration `soon`",
        ),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(want),
            "{args:?}"
        );
    }
}

/// What the command leaves running when it exits is stopped with the run: found in the
/// run's own cgroup (where it may make one) even after `setsid` and a cleared environment,
/// and the cgroup is gone afterwards.
#[test]
fn what_the_command_leaves_running_is_stopped_and_its_cgroup_goes() {
    let away = format!("{}7", 40_000 + std::process::id() % 10_000);
    let script = format!(
        "(setsid env -i /bin/sleep {away} &); sleep 0.2; grep -h ward-run- /proc/self/cgroup | head -1"
    );
    let out = run(&["run", "--kill-after", "1s", "--", "sh", "-c", &script]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("ward: stopped 1 process that `sh -c"),
        "{stderr}"
    );
    assert!(sleeps(&away).is_empty(), "the background sleep survived");
    // Where the run had a cgroup, the command was in it, and it is gone now.
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if line.is_empty() {
        eprintln!("SKIPPED (cgroup part): ward run made no cgroup on this machine");
        return;
    }
    let dir = line
        .rsplit_once(':')
        .map(|(_, p)| p)
        .expect("a cgroup line");
    let base = dir.trim_end_matches("/cmd");
    for root in [
        "/sys/fs/cgroup",
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup/pids",
    ] {
        let gone = std::path::Path::new(root).join(base.trim_start_matches('/'));
        assert!(!gone.exists(), "{} is left", gone.display());
    }
}
