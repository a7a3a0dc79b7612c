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

/// A config whose services run as other users: its temp dir is opened for traversal, so
/// that they may work in it (their default `cwd`), with an `out` directory they may write
/// to; then the daemon starts.
fn up_as_others(toml: &str) -> Ward {
    use std::os::unix::fs::PermissionsExt;
    let mut w = Ward::new(toml);
    fs::set_permissions(w.dir.path(), fs::Permissions::from_mode(0o711)).expect("chmod");
    let out = w.dir.path().join("out");
    fs::create_dir(&out).expect("mkdir out");
    fs::set_permissions(&out, fs::Permissions::from_mode(0o777)).expect("chmod out");
    w.start_daemon();
    w
}

/// The effective id of a `Uid:` or `Gid:` line, and the `Groups:` line.
fn ids(pid: u32) -> (String, String, String) {
    (
        status_field(pid, "Uid"),
        status_field(pid, "Gid"),
        status_field(pid, "Groups"),
    )
}

fn environ(pid: u32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/environ"))
        .expect("environ")
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

#[test]
fn a_service_runs_as_its_user_in_its_groups_with_no_capabilities() {
    let bin = testbin();
    let w = up_as_others(&format!(
        "[services.plain]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nuser = \"nobody\"\n\
         health = {{ command = [\"/bin/sh\", \"-c\", \"id -u > out/probe.id\"], interval = \"60s\" }}\n\
         [services.chosen]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nuser = 65534\n\
         group = \"users\"\ngroups = [\"adm\", 100]\n\
         [services.rootless]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\ncapabilities = []\n"
    ));
    let pid = w.wait_state("plain", "running").pid.expect("pid");
    // nobody, in nogroup alone (its only group in the user database).
    assert_eq!(
        ids(pid),
        (
            "65534\t65534\t65534\t65534".into(),
            "65534\t65534\t65534\t65534".into(),
            "65534".into()
        )
    );
    for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(status_field(pid, set), "0000000000000000", "{set}");
    }
    let env = environ(pid);
    for var in ["USER=nobody", "LOGNAME=nobody", "HOME=/nonexistent"] {
        assert!(env.iter().any(|v| v == var), "{var} not in {env:?}");
    }
    // Its probe runs as nobody too, and may write where the service may.
    let probe = wait_for("the probe's id", || {
        fs::read_to_string(w.dir.path().join("out/probe.id"))
            .ok()
            .filter(|t| t.ends_with('\n'))
    });
    assert_eq!(probe.trim(), "65534");

    let chosen = w.wait_state("chosen", "running").pid.expect("pid");
    let (uid, gid, groups) = ids(chosen);
    assert!(uid.starts_with("65534\t"), "{uid}");
    assert!(gid.starts_with("100\t"), "{gid}");
    assert_eq!(groups, "4 100");

    // Root with `capabilities = []` keeps its uid and loses every capability, the
    // bounding set too, so no exec brings one back.
    let rootless = w.wait_state("rootless", "running").pid.expect("pid");
    assert!(status_field(rootless, "Uid").starts_with("0\t"));
    for set in ["CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_field(rootless, set), "0000000000000000", "{set}");
    }
}

/// A port below 1024 that nothing listens on now: 80 when it is free.
fn free_privileged_port() -> u16 {
    [80u16]
        .into_iter()
        .chain(600..1024)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port below 1024")
}

#[test]
fn a_user_with_cap_net_bind_service_binds_a_privileged_port_and_one_without_cannot() {
    let bin = testbin();
    let port = free_privileged_port();
    let w = up_as_others(&format!(
        "[services.web]\ncommand = [\"{bin}\", \"listen\", \"0\", \"300\"]\nuser = \"nobody\"\n\
         capabilities = [\"CAP_NET_BIND_SERVICE\"]\nenv = {{ PORT = \"{port}\" }}\n\
         [services.bare]\ncommand = [\"{bin}\", \"listen\", \"0\", \"300\"]\nuser = \"nobody\"\n\
         restart = \"never\"\nenv = {{ PORT = \"{port}\" }}\nautostart = false\n"
    ));
    let pid = w.wait_state("web", "running").pid.expect("pid");
    wait_for("web to listen", || {
        w.log("web").contains("listening").then_some(())
    });
    assert!(status_field(pid, "Uid").starts_with("65534\t"));
    // CAP_NET_BIND_SERVICE is bit 10: kept in every set, ambient included; nothing else.
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_field(pid, set), "0000000000000400", "{set}");
    }
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the service");
    w.ok(&["stop", "web"]);
    w.wait_state("web", "stopped");
    // Without the capability the same bind is refused by the kernel.
    w.ok(&["start", "bare"]);
    wait_for("bare to fail its bind", || {
        w.log("bare").contains("Permission denied").then_some(())
    });
}

#[test]
fn private_tmp_is_the_units_own_and_shared_with_its_probe() {
    // The test's own directory, and a checkout under /tmp with the test program, are
    // under the host's /tmp, which the service cannot see: it works in `/` and runs
    // programs of the system.
    let w = up_as_others(
        "[services.t]\ncommand = [\"/bin/sh\", \"-c\", \"echo mine > /tmp/ward-private-mark; exec /bin/sleep 300\"]\n\
         user = \"nobody\"\nprivate_tmp = true\ncwd = \"/\"\n\
         health = { command = [\"/bin/grep\", \"-q\", \"mine\", \"/tmp/ward-private-mark\"], interval = \"200ms\" }\n",
    );
    // Healthy: its probe found the mark in the same /tmp.
    let pid = w
        .wait_unit("t", "healthy", |s| s.state.as_str() == "running" && s.ready)
        .pid
        .expect("pid");
    let own = w.dir.path().join(".ward/tmp/t");
    assert_eq!(
        fs::read_to_string(own.join("ward-private-mark")).expect("the unit's /tmp"),
        "mine\n"
    );
    // The process sees it at /tmp; the host's /tmp has no such file.
    assert_eq!(
        fs::read_to_string(format!("/proc/{pid}/root/tmp/ward-private-mark")).expect("read"),
        "mine\n"
    );
    assert!(!std::path::Path::new("/tmp/ward-private-mark").exists());
    // A restart starts with it empty (until the new run writes its mark).
    fs::write(own.join("left-over"), "x").expect("write");
    w.ok(&["restart", "t"]);
    w.wait_unit("t", "a new run", |s| {
        s.state.as_str() == "running" && s.pid.is_some_and(|p| p != pid)
    });
    assert!(!own.join("left-over").exists());
    // The directory goes with the daemon.
    let mut w = w;
    w.ok(&["down"]);
    w.wait_daemon_exit();
    assert!(!own.exists());
}

#[test]
fn a_missing_user_or_group_and_a_user_with_notify_are_refused_by_name() {
    for (toml, expected) in [
        (
            "[services.s]\ncommand = \"/bin/true\"\nuser = \"no-such-user-ward\"\n",
            "[services.s] user: there is no user named `no-such-user-ward`",
        ),
        (
            "[services.s]\ncommand = \"/bin/true\"\nuser = \"nobody\"\ngroups = [\"adm\", \"no-such-group-ward\"]\n",
            "[services.s] groups: there is no group named `no-such-group-ward`",
        ),
        (
            "[services.s]\ncommand = \"/bin/true\"\nuser = \"nobody\"\nready = \"notify\"\n",
            "runs as another user, but `ready = \"notify\"`",
        ),
        (
            "[services.s]\ncommand = \"/bin/true\"\ncapabilities = [\"CAP_NET_BIND\"]\n",
            "unknown capability \"CAP_NET_BIND\"",
        ),
        // The test's directory is under /tmp: a private one would hide it.
        (
            "[services.s]\ncommand = \"/bin/true\"\nprivate_tmp = true\n",
            "works in /tmp",
        ),
    ] {
        let w = Ward::new(toml);
        let out = w.cli(&["check"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{expected} not in {stderr}");
        let refused = w.up_refused();
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(said.contains(expected), "{expected} not in {said}");
    }
}

#[test]
fn ward_run_user_runs_the_command_as_that_user() {
    let out = std::process::Command::new(crate::fixture::ward_bin())
        .args(["run", "--user", "nobody", "--", "/bin/sh", "-c"])
        .arg("id -u; id -g; echo $USER; grep CapEff /proc/self/status")
        .current_dir("/")
        .output()
        .expect("ward run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout, "65534\n65534\nnobody\nCapEff:\t0000000000000000\n",
        "{stdout}"
    );
    let out = std::process::Command::new(crate::fixture::ward_bin())
        .args(["run", "--user", "no-such-user-ward", "--", "/bin/true"])
        .output()
        .expect("ward run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--user: there is no user named `no-such-user-ward`"),
        "{stderr}"
    );
}
