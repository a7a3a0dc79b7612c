//! `ward check` and `ward up` on bad config files: every error names file, line and column.

use crate::fixture::Ward;

/// A bad file and the `line:col: message` its first error must show.
const BAD: &[(&str, &str)] = &[
    (
        "[services.web]\ncomand = [\"/bin/true\"]\n",
        "2:1: unknown key `comand` in [services.web]",
    ),
    (
        "[service.web]\ncommand = \"x\"\n",
        "1:2: unknown key `service` at the top level",
    ),
    (
        "[supervisor]\nsocket_path = \"x\"\n",
        "2:1: unknown key `socket_path` in [supervisor]",
    ),
    (
        "[services.web]\nrestart = \"always\"\n",
        "1:1: [services.web] has no `command`",
    ),
    (
        "[services.web]\ncommand = []\n",
        "2:11: `command` must not be empty",
    ),
    (
        "[services.web]\ncommand = 7\n",
        "2:11: `command` must be an array of strings or a string",
    ),
    (
        "[services.web]\ncommand = [\"/bin/sleep\", 5]\n",
        "2:26: `command` arguments must be strings",
    ),
    (
        "[services.web]\ncommand = \"x\"\nstop_timeout = \"ten seconds\"\n",
        "3:16: invalid duration \"ten seconds\"",
    ),
    (
        "[services.web]\ncommand = \"x\"\nmin_uptime = 3\n",
        "3:14: `min_uptime` must be a duration string",
    ),
    (
        "[services.web]\ncommand = \"x\"\nrestart = \"on_failure\"\n",
        "3:11: invalid value \"on_failure\" for `restart`",
    ),
    (
        "[services.web]\ncommand = \"x\"\ninstances = -1\n",
        "3:13: `instances` must be between 1 and 1024",
    ),
    (
        "[services.web]\ncommand = \"x\"\nstop_signal = \"SIGFOO\"\n",
        "3:15: unknown signal \"SIGFOO\"",
    ),
    (
        "[services.\"a b\"]\ncommand = \"x\"\n",
        "1:11: invalid service name `a b`",
    ),
    (
        "[services.web]\ncommand = \"x\"\n[services.web]\ncommand = \"y\"\n",
        "3:11: invalid TOML",
    ),
    (
        "[services.web]\ncommand = \"x\"\nbackoff = { initial = \"2m\", max = \"1m\" }\n",
        "3:23: `backoff.initial` (2m) is longer than `backoff.max` (1m)",
    ),
    (
        "[services.web]\ncommand = \"x\"\nkill_mode = \"group\"\n",
        "3:13: invalid value \"group\" for `kill_mode`",
    ),
    (
        "[supervisor]\nlog_keep = \"five\"\n",
        "2:12: `log_keep` must be an integer",
    ),
    ("[services.web\n", "1:14: invalid TOML"),
];

#[test]
fn bad_configs_are_rejected_with_file_line_and_column() {
    assert!(BAD.len() >= 15);
    for (toml, expected) in BAD {
        let w = Ward::new(toml);
        let out = w.cli(&["check"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}\n{stderr}");
        let want = format!("{}:{expected}", w.config.display());
        assert!(
            stderr.contains(&want),
            "for\n{toml}\nexpected `{want}` in:\n{stderr}"
        );
    }
}

#[test]
fn typos_get_a_suggestion_and_every_problem_is_listed() {
    let w = Ward::new(
        "[services.web]\ncomand = \"x\"\nrestart = \"allways\"\n[services.db]\ncommand = \"y\"\nstop_timout = \"1s\"\n",
    );
    let out = w.cli(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hint: did you mean `command`?"), "{stderr}");
    assert!(stderr.contains("hint: did you mean `always`?"), "{stderr}");
    assert!(
        stderr.contains("hint: did you mean `stop_timeout`?"),
        "{stderr}"
    );
    assert!(stderr.contains("3 problems in"), "{stderr}");
}

#[test]
fn up_refuses_an_invalid_config_and_starts_nothing() {
    let w = Ward::new("[services.web]\ncommand = \"/bin/sleep 100\"\nrestart = \"sometimes\"\n");
    let out = w.cli(&["up"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was started"));
    assert!(!w.dir.path().join(".ward/ward.sock").exists());
    assert!(w.processes_here().is_empty());
}

#[test]
fn a_good_config_checks_ok() {
    let w = Ward::new("[services.web]\ncommand = \"/bin/sleep 100\"\ninstances = 3\n");
    let out = w.ok(&["check"]);
    assert!(out.contains("ok (1 services, 3 units)"), "{out}");
}

#[test]
fn check_warns_when_a_limit_cannot_be_enforced() {
    let w = Ward::new(
        "[supervisor]\ncgroup = \"off\"\n[services.web]\ncommand = \"/bin/sleep 100\"\nmemory_max = \"64MiB\"\npids_max = 10\n",
    );
    let out = w.cli(&["check"]);
    assert_eq!(out.status.code(), Some(0), "a valid config with a warning");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("memory_max cannot be enforced"), "{err}");
    assert!(err.contains("pids_max cannot be enforced"), "{err}");
    // This machine has both controllers: no warning with cgroups on.
    let w = Ward::new("[services.web]\ncommand = \"/bin/sleep 100\"\nmemory_max = \"64MiB\"\n");
    let out = w.ok(&["check"]);
    assert!(out.contains("ok"), "{out}");
}

#[test]
fn pids_max_is_set_in_the_services_cgroup() {
    let bin = crate::fixture::testbin();
    let w = Ward::up(&format!(
        "[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\npids_max = 7\n"
    ));
    let pid = w.wait_state("s", "running").pid.expect("pid");
    let max = std::fs::read_to_string(v1_dir(pid, "pids").join("pids.max")).expect("pids.max");
    assert_eq!(max.trim(), "7");
}

#[test]
fn cpu_max_is_set_in_the_services_cgroup() {
    let bin = crate::fixture::testbin();
    let w = Ward::up(&format!(
        "[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\ncpu_max = \"25%\"\n"
    ));
    let pid = w.wait_state("s", "running").pid.expect("pid");
    let quota = std::fs::read_to_string(v1_dir(pid, "cpu").join("cpu.cfs_quota_us"))
        .expect("cpu.cfs_quota_us");
    assert_eq!(quota.trim(), "25000");
}

/// On a machine whose controllers are in v1 hierarchies, a unit joins one only for the
/// limit that needs it: joining costs every start an RCU grace period. A reload that gives
/// it a limit puts its next process there, and one that takes the limit away leaves it.
#[test]
fn a_v1_controller_is_joined_only_for_its_limit_and_from_the_reload_that_sets_it() {
    let bin = crate::fixture::testbin();
    let svc =
        |extra: &str| format!("[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n{extra}");
    let w = Ward::up(&svc(""));
    let pid = w.wait_state("s", "running").pid.expect("pid");
    let in_ward_dir = |pid: u32, controller: &str| {
        v1_dir(pid, controller)
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with("ward-"))
    };
    if !std::path::Path::new("/sys/fs/cgroup/memory/cgroup.procs").exists() {
        eprintln!("SKIPPED: no v1 memory hierarchy on this machine");
        return;
    }
    assert!(
        !in_ward_dir(pid, "memory"),
        "joined v1 memory without a limit"
    );
    assert!(!in_ward_dir(pid, "pids"), "joined v1 pids without a limit");

    std::fs::write(&w.config, svc("memory_max = \"64MiB\"\n")).expect("write config");
    w.ok(&["reload"]);
    // The process that replaced `old` once a reload's restart is done.
    let replaced = |old: u32| {
        crate::fixture::wait_for("the restart after the reload", || {
            let now = w.unit("s");
            (now.state == ward_api::UnitState::Running && now.pid != Some(old))
                .then_some(now.pid)
                .flatten()
        })
    };
    let limited = replaced(pid);
    assert!(
        in_ward_dir(limited, "memory"),
        "the limit's hierarchy was not joined"
    );
    let limit = std::fs::read_to_string(v1_dir(limited, "memory").join("memory.limit_in_bytes"))
        .expect("memory.limit_in_bytes");
    assert_eq!(limit.trim(), (64u64 << 20).to_string());
    assert!(
        !in_ward_dir(limited, "pids"),
        "joined v1 pids without a limit"
    );

    std::fs::write(&w.config, svc("")).expect("write config");
    w.ok(&["reload"]);
    let free = replaced(limited);
    assert!(
        !in_ward_dir(free, "memory"),
        "still joined v1 memory without a limit"
    );
}

/// The v1 cgroup directory of `pid` in the hierarchy of `controller` (this machine's
/// limits live in its v1 hierarchies).
fn v1_dir(pid: u32, controller: &str) -> std::path::PathBuf {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    let line = cgroups
        .lines()
        .find(|l| {
            l.split(':')
                .nth(1)
                .is_some_and(|c| c.split(',').any(|x| x == controller))
        })
        .expect("a hierarchy with the controller");
    let rel = line.splitn(3, ':').nth(2).expect("path");
    std::path::Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(rel.trim_start_matches('/'))
}

#[test]
fn cgroup_favordynmods_keeps_the_option_on_and_the_others() {
    let v2_options = || -> Option<Vec<String>> {
        let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let line = info.lines().find(|l| l.contains(" - cgroup2 "))?;
        let opts = line.split(" - ").nth(1)?.split(' ').nth(2)?;
        Some(opts.split(',').map(String::from).collect())
    };
    let Some(before) = v2_options() else {
        eprintln!("SKIPPED: no cgroup2 mount here: nothing to turn on");
        return;
    };
    // The option belongs to the cgroup2 hierarchy, which every mount of it shares, even
    // one in a mount namespace of its own: turning it on would change the whole machine
    // until reboot. The test runs only where it is on already.
    if !before.iter().any(|o| o == "favordynmods") {
        eprintln!(
            "SKIPPED: favordynmods is off on this machine's cgroup2 hierarchy, and turning it \
             on would change every cgroup of the machine until reboot"
        );
        return;
    }
    let bin = crate::fixture::testbin();
    let w = Ward::up(&format!(
        "[supervisor]\ncgroup_favordynmods = true\n\
         [services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    w.wait_state("s", "running");
    let after = v2_options().expect("still mounted");
    assert!(after.iter().any(|o| o == "favordynmods"), "{after:?}");
    for kept in before.iter().filter(|o| *o != "favordynmods") {
        assert!(after.contains(kept), "lost {kept}: {before:?} -> {after:?}");
    }
    let doctor = String::from_utf8_lossy(&w.cli(&["doctor"]).stdout).to_string();
    assert!(
        doctor.contains("the cgroup2 mount has favordynmods"),
        "{doctor}"
    );
}

/// A `pidfile` that names one of ward's own files, the config, or another unit's pid file
/// is refused by `ward check`, at the value, before anything runs.
#[test]
fn a_pidfile_on_a_file_ward_keeps_is_refused() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[supervisor]\nstate_dir = \"st\"\n[services.web]\ncommand = \"/bin/sleep 100\"\npidfile = \"st/journal.db\"\n",
            "5:11: `pidfile`",
            "is inside `state_dir`",
        ),
        (
            "[services.web]\ncommand = \"/bin/sleep 100\"\npidfile = \"ward.toml\"\n",
            "3:11: `pidfile`",
            "is this config file",
        ),
        (
            "[supervisor]\nruntime_dir = \"rt\"\n[services.web]\ncommand = \"/bin/sleep 100\"\npidfile = \"./rt/../rt/io/web.pid\"\n",
            "5:11: `pidfile`",
            "is inside `runtime_dir`",
        ),
        (
            "[services.a]\ncommand = \"/bin/sleep 100\"\npidfile = \"run/x.pid\"\n\
             [services.b]\ncommand = \"/bin/sleep 100\"\npidfile = \"run/x.pid\"\n",
            "6:11: `pidfile`",
            "is also the pid file of `a`",
        ),
        (
            "[services.a]\ncommand = \"/bin/sleep 100\"\npidfile = \"run/a.pid\"\ninstances = 2\n\
             [services.b]\ncommand = \"/bin/sleep 100\"\npidfile = \"run/a.1.pid\"\n",
            "7:11: `pidfile`",
            "is also the pid file of `a.1`",
        ),
        (
            "[supervisor]\nlog_dir = \"logs\"\n[services.a]\ncommand = \"/bin/sleep 100\"\npidfile = \"logs/b.log\"\n\
             [services.b]\ncommand = \"/bin/sleep 100\"\n",
            "5:11: `pidfile`",
            "is the log of `b`",
        ),
    ];
    for (toml, place, what) in cases {
        let w = Ward::new(toml);
        let out = w.cli(&["check"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}\n{stderr}");
        let want = format!("{}:{place}", w.config.display());
        assert!(
            stderr.contains(&want) && stderr.contains(what) && stderr.contains("hint: "),
            "for\n{toml}\nexpected `{want}` … `{what}` and a hint in:\n{stderr}"
        );
    }
}

/// `ward up` refuses the same file through the same check: the journal and the config it
/// names are left as they were.
#[test]
fn up_refuses_a_pidfile_on_the_journal_and_touches_nothing() {
    let toml = "[supervisor]\nstate_dir = \"st\"\n\
                [services.web]\ncommand = \"/bin/sleep 100\"\npidfile = \"st/journal.db\"\n\
                [services.cfg]\ncommand = \"/bin/sleep 100\"\npidfile = \"ward.toml\"\n";
    let w = Ward::new(toml);
    let journal = w.dir.path().join("st/journal.db");
    std::fs::create_dir(w.dir.path().join("st")).expect("state dir");
    std::fs::write(&journal, "not really sqlite, but precious").expect("journal");
    let out = w.up_refused();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("nothing was started"), "{stderr}");
    assert!(stderr.contains("is inside `state_dir`"), "{stderr}");
    assert!(stderr.contains("is this config file"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&journal).expect("journal"),
        "not really sqlite, but precious"
    );
    assert_eq!(std::fs::read_to_string(&w.config).expect("config"), toml);
    assert!(w.processes_here().is_empty());
}

/// A service whose log file would be the daemon's own log (`ward` with `log_dir` set to
/// the state dir) is refused at its name.
#[test]
fn a_service_log_on_the_daemons_own_log_is_refused() {
    let w = Ward::new(
        "[supervisor]\nlog_dir = \".ward\"\n[services.ward]\ncommand = \"/bin/sleep 100\"\n",
    );
    let out = w.cli(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let want = format!(
        "{}:3:11: [services.ward] would write its log to ",
        w.config.display()
    );
    assert!(stderr.contains(&want), "expected `{want}` in:\n{stderr}");
    assert!(stderr.contains("the daemon's own log"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
}

/// `ward check` says so when a service's program is a directory.
#[test]
fn check_warns_when_the_command_is_a_directory() {
    let w = Ward::new("");
    let dir = w.dir.path().join("bin");
    std::fs::create_dir(&dir).expect("dir");
    std::fs::write(
        &w.config,
        format!("[services.web]\ncommand = [\"{}\"]\n", dir.display()),
    )
    .expect("config");
    let out = w.cli(&["check"]);
    assert_eq!(out.status.code(), Some(0), "valid, with a warning");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "warning: [services.web] command: {} is a directory, not a program",
            dir.display()
        )),
        "{err}"
    );
}
