//! Confinement read back from the kernel: `/proc/PID/status` and `/proc/PID/limits` of the
//! running child, and its descriptors.

use std::fs;

use crate::fixture::{Ward, testbin, wait_for};

fn status_field(pid: u32, field: &str) -> String {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{field}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Soft and hard limit of the `/proc/PID/limits` line that starts with `name`.
fn limit(pid: u32, name: &str) -> (String, String) {
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in {limits}"));
    let fields: Vec<&str> = line[name.len()..].split_whitespace().collect();
    (fields[0].to_string(), fields[1].to_string())
}

#[test]
fn a_service_runs_with_its_umask_limits_no_new_privs_and_stdio_alone() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.tight]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\numask = \"027\"\n\
         rlimits = {{ nproc = 500, memlock = \"1MiB\", as = \"1GiB\", stack = \"4MiB\" }}\n\
         health = {{ command = [\"/bin/sh\", \"-c\", \"grep -E '^(NoNewPrivs|Umask)' /proc/self/status > probe.out\"], interval = \"60s\" }}\n\
         [services.loose]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nno_new_privs = false\n"
    ));
    let pid = w.wait_state("tight", "running").pid.expect("pid");
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    assert_eq!(status_field(pid, "Umask"), "0027");
    assert_eq!(limit(pid, "Max processes"), ("500".into(), "500".into()));
    assert_eq!(
        limit(pid, "Max locked memory"),
        ("1048576".into(), "1048576".into())
    );
    assert_eq!(
        limit(pid, "Max address space"),
        ("1073741824".into(), "1073741824".into())
    );
    assert_eq!(
        limit(pid, "Max stack size"),
        ("4194304".into(), "4194304".into())
    );
    let mut fds: Vec<String> = fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fds")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    fds.sort();
    assert_eq!(fds, ["0", "1", "2"]);
    // Its probe runs confined the same way.
    let probe = wait_for("the probe's report", || {
        fs::read_to_string(w.dir.path().join("probe.out"))
            .ok()
            .filter(|t| t.lines().count() == 2)
    });
    assert!(
        probe.contains("NoNewPrivs:\t1") && probe.contains("Umask:\t0027"),
        "{probe}"
    );
    let loose = w.wait_state("loose", "running").pid.expect("pid");
    assert_eq!(status_field(loose, "NoNewPrivs"), "0");
    assert_eq!(status_field(loose, "Umask"), "0022");
}

/// A descriptor the caller of `ward run` left open without close-on-exec does not reach
/// the command.
#[test]
fn ward_run_passes_no_stray_descriptor() {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec 7</etc/hostname; exec {} run -- ls /proc/self/fd",
            crate::fixture::ward_bin()
        ))
        .output()
        .expect("sh");
    let fds: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 0 to 2, and the directory `ls` itself opened.
    assert!(!fds.iter().any(|f| f == "7"), "{fds:?}");
    assert!(fds.len() <= 4, "{fds:?}");
}

#[test]
fn a_bad_umask_is_refused_at_the_value() {
    let w = Ward::new("[services.s]\ncommand = \"/bin/true\"\numask = \"0999\"\n");
    let out = w.cli(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`umask` must be octal digits from 000 to 777, found \"0999\""),
        "{stderr}"
    );
}
