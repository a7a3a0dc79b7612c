//! Whole-file parses: a full valid config, and a table of bad ones with their exact places.

use super::*;
use crate::Signal;
use std::path::Path;
use std::time::Duration;

fn ok(text: &str) -> Config {
    match parse(Path::new("/etc/ward/ward.toml"), text) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

fn names(deps: &[Dependency]) -> Vec<&str> {
    deps.iter().map(|d| d.service.as_str()).collect()
}

fn errors(text: &str) -> Vec<ConfigError> {
    match parse(Path::new("ward.toml"), text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.errors,
    }
}

#[test]
fn minimal_config_gets_every_default() {
    let c = ok("[services.web]\ncommand = [\"/bin/sleep\", \"100\"]\n");
    assert_eq!(c.supervisor.state_dir, Path::new("/etc/ward/.ward"));
    assert_eq!(c.supervisor.runtime_dir, c.supervisor.state_dir);
    assert_eq!(c.supervisor.log_dir, Path::new("/etc/ward/.ward/logs"));
    assert_eq!(c.supervisor.socket, Path::new("/etc/ward/.ward/ward.sock"));
    assert_eq!(c.supervisor.log_max_size, 10 << 20);
    assert_eq!(c.supervisor.log_keep, 5);
    assert_eq!(c.supervisor.cgroup, CgroupMode::Auto);
    assert_eq!(c.supervisor.journal_keep_days, 30);
    assert_eq!(
        c.supervisor.journal_backup_interval,
        Duration::from_secs(3600)
    );
    let web = &c.services["web"];
    assert_eq!(web.command, ["/bin/sleep", "100"]);
    assert_eq!(web.cwd, Path::new("/etc/ward"));
    assert!(web.autostart && !web.shell);
    assert_eq!(web.instances, 1);
    assert_eq!(web.restart, RestartPolicy::Always);
    assert_eq!(web.backoff, Backoff::default());
    assert_eq!(web.min_uptime, Duration::from_secs(1));
    assert_eq!(web.start_limit, StartLimit::default());
    assert_eq!(web.stop_signal, Signal::TERM);
    assert_eq!(web.stop_timeout, Duration::from_secs(10));
    assert_eq!(web.kill_mode, KillMode::Tree);
}

#[test]
fn every_key_is_read() {
    let c = ok(r#"
[supervisor]
state_dir = "/var/lib/ward"
runtime_dir = "/run/ward"
log_dir = "logs"
socket = "/run/ward.sock"
log_max_size = "1MiB"
log_keep = 3
cgroup = "v1"
cgroup_favordynmods = true
journal_keep_days = 7
journal_keep_rows = 500
journal_backup_interval = "15m"
journal_backups = 2

[services.worker]
command = "python3 -u worker.py --queue 'high prio'"
cwd = "/srv/app"
env = { RUST_LOG = "debug", PORT = 8080, DEBUG = true }
autostart = false
instances = 3
restart = "on-failure"
backoff = { initial = "250ms", max = "1m", factor = 1.5, jitter = 0, reset_after = "5m" }
min_uptime = "2s"
start_limit = { burst = 2, interval = "30s" }
stop_signal = "INT"
stop_timeout = "1m30s"
kill_mode = "main"
pidfile = "run/worker.pid"
on_daemon_exit = "stop"
rlimits = { cpu = "1.5s", fsize = "1MiB", nofile = 256, core = 0 }
memory_max = "512MiB"
pids_max = 64
cpu_max = "50%"
repair = ["/usr/bin/fsck-data", "--fix"]
on_failure = "/usr/local/bin/page-oncall worker"
hook_timeout = "5s"
recovery = { segfault = "repair", oom_kill = "give_up", error_exit = "backoff" }
confidence_floor = 0.25

[services.sh]
command = "echo hi | tr a-z A-Z"
shell = true
"#);
    let s = &c.supervisor;
    assert_eq!(s.state_dir, Path::new("/var/lib/ward"));
    assert_eq!(s.runtime_dir, Path::new("/run/ward"));
    assert_eq!(s.log_dir, Path::new("/etc/ward/logs"));
    assert_eq!(s.socket, Path::new("/run/ward.sock"));
    assert_eq!(
        (s.log_max_size, s.log_keep, s.cgroup, s.cgroup_favordynmods),
        (1 << 20, 3, CgroupMode::V1, true)
    );
    assert_eq!(
        (s.journal_keep_days, s.journal_keep_rows, s.journal_backups),
        (7, 500, 2)
    );
    assert_eq!(s.journal_backup_interval, Duration::from_secs(900));
    let w = &c.services["worker"];
    assert_eq!(
        w.command,
        ["python3", "-u", "worker.py", "--queue", "high prio"]
    );
    assert_eq!(w.cwd, Path::new("/srv/app"));
    assert_eq!(w.env["PORT"], "8080");
    assert_eq!(w.env["DEBUG"], "true");
    assert!(!w.autostart);
    assert_eq!(w.instances, 3);
    assert_eq!(w.restart, RestartPolicy::OnFailure);
    assert_eq!(w.backoff.initial, Duration::from_millis(250));
    assert_eq!(w.backoff.max, Duration::from_secs(60));
    assert_eq!((w.backoff.factor, w.backoff.jitter), (1.5, 0.0));
    assert_eq!(w.backoff.reset_after, Duration::from_secs(300));
    assert_eq!(w.min_uptime, Duration::from_secs(2));
    assert_eq!(w.start_limit.burst, 2);
    assert_eq!(w.stop_signal, Signal::INT);
    assert_eq!(w.stop_timeout, Duration::from_secs(90));
    assert_eq!(w.kill_mode, KillMode::Main);
    let inst = c
        .instances()
        .into_iter()
        .find(|i| i.name == "worker.2")
        .unwrap();
    assert_eq!(
        inst.pidfile().unwrap(),
        Path::new("/etc/ward/run/worker.2.pid")
    );
    assert_eq!(c.services["sh"].pidfile, None);
    assert_eq!(w.on_daemon_exit, DaemonExit::Stop);
    assert_eq!((w.memory_max, w.pids_max), (Some(512 << 20), Some(64)));
    assert_eq!(w.cpu_max, Some(0.5));
    assert_eq!(
        w.repair.as_deref(),
        Some(&["/usr/bin/fsck-data".to_string(), "--fix".to_string()][..])
    );
    assert_eq!(
        w.on_failure.as_deref(),
        Some(
            &[
                "/usr/local/bin/page-oncall".to_string(),
                "worker".to_string()
            ][..]
        )
    );
    assert_eq!(w.hook_timeout, Duration::from_secs(5));
    assert_eq!(w.recovery["segfault"], Strategy::Repair);
    assert_eq!(w.recovery["oom_kill"], Strategy::GiveUp);
    assert_eq!(w.confidence_floor, Some(0.25));
    assert_eq!(Strategy::Backoff.escalated(true), Strategy::Repair);
    assert_eq!(Strategy::Backoff.escalated(false), Strategy::GiveUp);
    assert_eq!(
        *w.rlimits,
        Rlimits {
            cpu: Some(2),
            fsize: Some(1 << 20),
            nofile: Some(256),
            core: Some(0),
            ..Rlimits::default()
        }
    );
    assert_eq!(c.services["sh"].on_daemon_exit, DaemonExit::Keep);
    let instances = c.instances();
    let names: Vec<&str> = instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["sh", "worker.0", "worker.1", "worker.2"]);
    // Every instance shares its service's one copy of the config.
    for i in &instances {
        assert!(std::sync::Arc::ptr_eq(
            &i.service,
            &c.services[&i.service.name]
        ));
    }
    assert_eq!(
        c.services["sh"].command,
        ["/bin/sh", "-c", "echo hi | tr a-z A-Z"]
    );
}

#[test]
fn a_config_without_services_is_valid() {
    assert!(ok("").services.is_empty());
    assert!(ok("[supervisor]\nlog_keep = 0\n").services.is_empty());
}

/// Each bad file, the 1-based line and column of its first error, and a fragment of the
/// message. The `ward check` integration tests run the same kind of files through the binary.
const BAD: &[(&str, &str, usize, usize, &str)] = &[
    (
        "unknown key with a suggestion",
        "[services.web]\ncomand = [\"/bin/true\"]\n",
        2,
        1,
        "unknown key `comand` in [services.web]",
    ),
    (
        "unknown top-level table",
        "[service.web]\ncommand = \"x\"\n",
        1,
        2,
        "unknown key `service` at the top level",
    ),
    (
        "unknown supervisor key",
        "[supervisor]\nstatedir = \"x\"\n",
        2,
        1,
        "unknown key `statedir` in [supervisor]",
    ),
    (
        "missing command",
        "[services.web]\nrestart = \"always\"\n",
        1,
        1,
        "[services.web] has no `command`",
    ),
    (
        "empty command array",
        "[services.web]\ncommand = []\n",
        2,
        11,
        "`command` must not be empty",
    ),
    (
        "empty command string",
        "[services.web]\ncommand = \"  \"\n",
        2,
        11,
        "`command` is empty",
    ),
    (
        "command of the wrong type",
        "[services.web]\ncommand = 42\n",
        2,
        11,
        "`command` must be an array of strings or a string, found an integer",
    ),
    (
        "non-string argument",
        "[services.web]\ncommand = [\"/bin/sleep\", 5]\n",
        2,
        26,
        "`command` arguments must be strings, found an integer",
    ),
    (
        "unterminated quote",
        "[services.web]\ncommand = \"/bin/echo 'hi\"\n",
        2,
        22,
        "quote",
    ),
    (
        "bad duration",
        "[services.web]\ncommand = \"/bin/true\"\nstop_timeout = \"10 parsecs\"\n",
        3,
        16,
        "invalid duration \"10 parsecs\" for `stop_timeout`",
    ),
    (
        "duration as a bare number",
        "[services.web]\ncommand = \"/bin/true\"\nmin_uptime = 5\n",
        3,
        14,
        "`min_uptime` must be a duration string, found an integer",
    ),
    (
        "bad restart policy",
        "[services.web]\ncommand = \"/bin/true\"\nrestart = \"allways\"\n",
        3,
        11,
        "invalid value \"allways\" for `restart`",
    ),
    (
        "wrong type for a boolean",
        "[services.web]\ncommand = \"/bin/true\"\nautostart = \"yes\"\n",
        3,
        13,
        "`autostart` must be a boolean (true or false), found a string",
    ),
    (
        "instances out of range",
        "[services.web]\ncommand = \"/bin/true\"\ninstances = 0\n",
        3,
        13,
        "`instances` must be between 1 and 1024, found 0",
    ),
    (
        "unknown signal",
        "[services.web]\ncommand = \"/bin/true\"\nstop_signal = \"TERN\"\n",
        3,
        15,
        "unknown signal \"TERN\" for `stop_signal`",
    ),
    (
        "invalid service name",
        "[services.\"web server\"]\ncommand = \"/bin/true\"\n",
        1,
        11,
        "invalid service name `web server`",
    ),
    (
        // Shown escaped by the CLI; never a unit name, so never in a status table.
        "control character in a service name",
        "[services.\"web\\u001b[2J\"]\ncommand = \"/bin/true\"\n",
        1,
        11,
        "invalid service name `web\u{1b}[2J`",
    ),
    (
        "dot in a service name",
        "[services.\"web.1\"]\ncommand = \"/bin/true\"\n",
        1,
        11,
        "invalid service name `web.1`",
    ),
    (
        "duplicate service",
        "[services.web]\ncommand = \"/bin/true\"\n[services.web]\ncommand = \"/bin/false\"\n",
        3,
        11,
        "invalid TOML",
    ),
    (
        "duplicate key",
        "[services.web]\ncommand = \"/bin/true\"\ncommand = \"/bin/false\"\n",
        3,
        1,
        "invalid TOML",
    ),
    (
        "backoff initial above max",
        "[services.web]\ncommand = \"/bin/true\"\nbackoff = { initial = \"1m\", max = \"10s\" }\n",
        3,
        23,
        "`backoff.initial` (1m) is longer than `backoff.max` (10s)",
    ),
    (
        "zero backoff without min_uptime",
        "[services.web]\ncommand = \"/bin/true\"\nmin_uptime = \"0s\"\nbackoff = { initial = \"0s\" }\n",
        4,
        11,
        "restarts at once (backoff.initial = 0s) and counts no run as a failed start",
    ),
    (
        "unknown backoff key",
        "[services.web]\ncommand = \"/bin/true\"\nbackoff = { inital = \"1s\" }\n",
        3,
        13,
        "unknown key `inital` in [services.web.backoff]",
    ),
    (
        "jitter out of range",
        "[services.web]\ncommand = \"/bin/true\"\n[services.web.backoff]\njitter = 2\n",
        4,
        10,
        "`backoff.jitter` must be between 0 and 1, found 2",
    ),
    (
        "bad environment name",
        "[services.web]\ncommand = \"/bin/true\"\nenv = { \"MY-VAR\" = \"1\" }\n",
        3,
        9,
        "invalid environment variable name `MY-VAR`",
    ),
    (
        "bad log size",
        "[supervisor]\nlog_max_size = \"10 potatoes\"\n",
        2,
        16,
        "invalid size \"10 potatoes\" for `log_max_size`",
    ),
    (
        "bad cgroup mode",
        "[supervisor]\ncgroup = \"v3\"\n",
        2,
        10,
        "invalid value \"v3\" for `cgroup`",
    ),
    (
        "shell with an array",
        "[services.web]\nshell = true\ncommand = [\"/bin/true\"]\n",
        3,
        11,
        "`command` must be a string when `shell = true`",
    ),
    (
        "kill as stop signal",
        "[services.web]\ncommand = \"/bin/true\"\nstop_signal = \"KILL\"\n",
        3,
        15,
        "`stop_signal` must not be KILL",
    ),
    (
        "stop as stop signal",
        "[services.web]\ncommand = \"/bin/true\"\nstop_signal = 19\n",
        3,
        15,
        "`stop_signal` must not be STOP",
    ),
    (
        "ward's own variable in env",
        "[services.web]\ncommand = \"/bin/true\"\nenv = { WARD_UNIT = \"x\" }\n",
        3,
        9,
        "`WARD_UNIT` is set by ward and cannot be overridden in `env`",
    ),
    (
        "unknown class in recovery",
        "[services.web]\ncommand = \"/bin/true\"\nrecovery = { segfualt = \"repair\" }\n",
        3,
        14,
        "unknown key `segfualt` in [services.web.recovery]",
    ),
    (
        "repair strategy without a hook",
        "[services.web]\ncommand = \"/bin/true\"\nrecovery = { segfault = \"repair\" }\n",
        3,
        12,
        "recovery asks for `repair`, but there is no `repair` hook",
    ),
    (
        "unknown dependency",
        "[services.db]\ncommand = \"/bin/true\"\n[services.web]\ncommand = \"/bin/true\"\ndepends_on = [\"bd\"]\n",
        5,
        15,
        "[services.web] depends on `bd`, which is not a service in this file",
    ),
    (
        "unknown dependency in the table form",
        "[services.db]\ncommand = \"/bin/true\"\n[services.web]\ncommand = \"/bin/true\"\ndepends_on = { bd = \"started\" }\n",
        5,
        16,
        "[services.web] depends on `bd`, which is not a service in this file",
    ),
    (
        "unknown condition",
        "[services.db]\ncommand = \"/bin/true\"\n[services.web]\ncommand = \"/bin/true\"\ndepends_on = { db = \"alive\" }\n",
        5,
        21,
        "invalid value \"alive\" for `depends_on.db`",
    ),
    (
        "healthy without a health check",
        "[services.db]\ncommand = \"/bin/true\"\n[services.web]\ncommand = \"/bin/true\"\ndepends_on = { db = \"healthy\" }\n",
        5,
        16,
        "[services.web] waits for `db` to be healthy, but it has no health check",
    ),
    (
        "completed of a service that always restarts",
        "[services.db]\ncommand = \"/bin/true\"\n[services.web]\ncommand = \"/bin/true\"\ndepends_on = { db = \"completed\" }\n",
        5,
        16,
        "[services.web] waits for `db` to be completed, but it restarts after every end",
    ),
    (
        "a task that always restarts",
        "[services.job]\ncommand = \"/bin/true\"\ntype = \"oneshot\"\nrestart = \"always\"\n",
        4,
        11,
        "[services.job] is type = \"oneshot\" and sets `restart`",
    ),
    (
        "a task with a health check",
        "[services.job]\ncommand = \"/bin/true\"\ntype = \"oneshot\"\nhealth = { tcp = \"127.0.0.1:1\" }\n",
        4,
        10,
        "[services.job] is type = \"oneshot\" and sets `health`",
    ),
    (
        "remain_after_exit on a service",
        "[services.web]\ncommand = \"/bin/true\"\nremain_after_exit = true\n",
        3,
        21,
        "[services.web] sets `remain_after_exit`, which only a task has",
    ),
    (
        "an exit code out of range",
        "[services.job]\ncommand = \"/bin/true\"\ntype = \"oneshot\"\nsuccess_exit_codes = [2, 256]\n",
        4,
        26,
        "`success_exit_codes` entries must be exit codes from 0 to 255, found 256",
    ),
    (
        "an unknown type",
        "[services.job]\ncommand = \"/bin/true\"\ntype = \"forking\"\n",
        3,
        8,
        "invalid value \"forking\" for `type`",
    ),
    (
        "a schedule on a service",
        "[services.web]\ncommand = \"/bin/true\"\nschedule = \"0 3 * * *\"\n",
        3,
        12,
        "[services.web] has a `schedule`, which only a task has",
    ),
    (
        "a schedule that is not cron",
        "[services.job]\ncommand = \"/bin/true\"\ntype = \"oneshot\"\nschedule = \"every night\"\n",
        4,
        12,
        "invalid schedule \"every night\"",
    ),
    (
        "overlap without a schedule",
        "[services.job]\ncommand = \"/bin/true\"\ntype = \"oneshot\"\noverlap = \"queue\"\n",
        4,
        11,
        "sets `timezone`, `overlap` or `catch_up` without a `schedule`",
    ),
    (
        "an unknown overlap",
        "[services.job]\ncommand = \"/bin/true\"\ntype = \"oneshot\"\nschedule = \"@daily\"\noverlap = \"merge\"\n",
        5,
        11,
        "invalid value \"merge\" for `overlap`",
    ),
    (
        "an unknown variable in an array command",
        "[services.web]\ncommand = [\"/bin/app\", \"--port=${PROT}\"]\n",
        2,
        32,
        "[services.web] command: unknown variable `${PROT}`",
    ),
    (
        "an unknown variable in a string command",
        "[services.web]\ncommand = \"/bin/app --id ${WARD_INSTANCE} --port ${PORT}\"\n",
        2,
        50,
        "[services.web] command: unknown variable `${PORT}`",
    ),
    (
        "an unknown variable in env",
        "[services.web]\ncommand = \"/bin/app\"\nenv = { URL = \"http://${HOST}/\" }\n",
        3,
        23,
        "[services.web] env: unknown variable `${HOST}`",
    ),
    (
        "a shell default in a variable",
        "[services.web]\ncommand = [\"/bin/app\", \"${PORT:-80}\"]\n",
        2,
        25,
        "is not a variable",
    ),
    (
        "dependency on itself",
        "[services.web]\ncommand = \"/bin/true\"\ndepends_on = [\"web\"]\n",
        3,
        15,
        "[services.web] depends on itself",
    ),
    (
        "dependency cycle",
        "[services.a]\ncommand = \"/bin/true\"\ndepends_on = [\"b\"]\n[services.b]\ncommand = \"/bin/true\"\ndepends_on = [\"a\"]\n",
        3,
        15,
        "services depend on each other in a cycle: a -> b -> a",
    ),
    (
        "health check without a probe",
        "[services.web]\ncommand = \"/bin/true\"\nhealth = { interval = \"1s\" }\n",
        3,
        10,
        "[services.web.health] names no probe",
    ),
    (
        "health check with a bad address",
        "[services.web]\ncommand = \"/bin/true\"\nhealth = { tcp = \"localhost\" }\n",
        3,
        18,
        "invalid address \"localhost\" for `health.tcp`",
    ),
    (
        "ready when healthy without a health check",
        "[services.web]\ncommand = \"/bin/true\"\nready = \"healthy\"\n",
        3,
        9,
        "is ready when `healthy`, but has no `health` check",
    ),
    (
        "watchdog too short",
        "[services.web]\ncommand = \"/bin/true\"\nwatchdog = \"1ms\"\n",
        3,
        12,
        "`watchdog` must be at least 10ms",
    ),
    (
        "broken TOML",
        "[services.web\ncommand = \"/bin/true\"\n",
        1,
        14,
        "invalid TOML",
    ),
];

#[test]
fn bad_configs_name_line_column_and_problem() {
    assert!(BAD.len() >= 15);
    let mut failures = Vec::new();
    for &(what, text, line, column, fragment) in BAD {
        let errs = errors(text);
        let first = &errs[0];
        if (first.line, first.column) != (line, column) || !first.message.contains(fragment) {
            failures.push(format!(
                "{what}: expected {line}:{column} containing {fragment:?}, got {first}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn suggestions_for_typos() {
    let e = &errors("[services.web]\ncomand = [\"/bin/true\"]\n")[0];
    assert_eq!(e.hint.as_deref(), Some("did you mean `command`?"));
    let e = &errors("[services.web]\ncommand = \"x\"\nrestart = \"allways\"\n")[0];
    assert_eq!(e.hint.as_deref(), Some("did you mean `always`?"));
    let e = &errors("[services.web]\ncommand = \"x\"\nstop_signal = \"TERN\"\n")[0];
    assert_eq!(e.hint.as_deref(), Some("did you mean `SIGTERM`?"));
}

#[test]
fn every_problem_is_reported_in_file_order() {
    let errs = errors(
        "[services.a]\ncommand = \"x\"\nrestart = \"sometimes\"\n\
         [services.b]\ncolour = \"y\"\n",
    );
    let places: Vec<(usize, usize)> = errs.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(places, [(3, 11), (4, 1), (5, 1)], "{errs:?}");
}

#[test]
fn locate_reads_the_supervisor_of_an_otherwise_bad_file() {
    let s = locate(
        Path::new("/etc/ward/ward.toml"),
        "[supervisor]\nstate_dir = \"/run/w\"\n[services.x]\ncommand = 5\n",
    );
    assert_eq!(s.socket, Path::new("/run/w/ward.sock"));
    let s = locate(Path::new("/etc/ward/ward.toml"), "[[[");
    assert_eq!(s.socket, Path::new("/etc/ward/.ward/ward.sock"));
}

#[test]
fn locate_reads_the_same_supervisor_from_its_lines_as_from_the_whole_file() {
    let at = Path::new("/etc/ward/ward.toml");
    let whole = |text: &str| {
        let doc = toml_edit::Document::parse(text).expect("a document");
        let mut ctx = super::fields::Ctx::new(at, text);
        super::supervisor::parse(&mut ctx, doc.as_table().get("supervisor"))
    };
    for text in [
        // The usual: a table among services.
        "[services.a]\ncommand = \"/bin/a\"\n[supervisor]\nstate_dir = \"/run/w\"\nhttp = \"127.0.0.1:9\"\n[services.b]\ncommand = [\"/bin/b\"]\n",
        // Dotted keys at the root, and a header with spaces and quotes.
        "supervisor.state_dir = \"/srv/s\"\n[services.a]\ncommand = \"/bin/a\"\n",
        "[ \"supervisor\" ]\nsocket = \"/run/x.sock\"\n",
        "supervisor = { log_dir = \"/var/log/w\" }\n",
        // A header-like line inside a service's multi-line array, and inside its string.
        "[supervisor]\nstate_dir = \"/a\"\n[services.a]\ncommand = [\n[\"x\"],\n]\n",
        "[services.a]\ncommand = \"/bin/a\"\nenv = { X = \"\"\"\n[supervisor]\nstate_dir = 1\n\"\"\" }\n[supervisor]\nstate_dir = \"/b\"\n",
        "[services.a]\ncommand = \"\"\"\n[supervisor]\n\"\"\"\n[supervisor]\nstate_dir = \"/c\"\n",
        // No supervisor at all.
        "[services.a]\ncommand = \"/bin/a\"\n",
    ] {
        assert_eq!(locate(at, text), whole(text), "{text}");
    }
}

#[test]
fn dependencies_readiness_health_and_watchdog_are_read() {
    let c = ok(r#"
[services.db]
command = "/bin/true"
ready = "notify"
watchdog = "5s"

[services.cache]
command = "/bin/true"
health = { tcp = "127.0.0.1:6379" }

[services.web]
command = "/bin/true"
depends_on = ["db", "cache"]
health = { command = ["/bin/probe", "--quick"], interval = "2s", timeout = "1s", retries = 5, start_period = "30s" }
ready = "running"
"#);
    let (db, cache, web) = (&c.services["db"], &c.services["cache"], &c.services["web"]);
    assert_eq!(
        (db.ready, db.watchdog),
        (Readiness::Notify, Some(Duration::from_secs(5)))
    );
    assert!(db.depends_on.is_empty() && db.health.is_none());
    // A health check makes `healthy` the default readiness.
    assert_eq!(cache.ready, Readiness::Healthy);
    assert_eq!(
        cache
            .health
            .as_ref()
            .map(|h| (&h.probe, h.interval, h.retries)),
        Some((
            &Probe::Tcp("127.0.0.1:6379".into()),
            Duration::from_secs(10),
            3
        ))
    );
    assert_eq!(names(&web.depends_on), ["db", "cache"]);
    assert_eq!(web.ready, Readiness::Running);
    assert_eq!(
        web.health.as_deref(),
        Some(&HealthCheck {
            probe: Probe::Command(vec!["/bin/probe".into(), "--quick".into()]),
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            retries: 5,
            start_period: Duration::from_secs(30),
        })
    );
    let plain = ok("[services.x]\ncommand = \"/bin/true\"\n");
    assert_eq!(plain.services["x"].ready, Readiness::Started);
    assert_eq!(plain.services["x"].watchdog, None);
    // A dependency may be written as one string.
    let one = ok(
        "[services.a]\ncommand = \"/bin/true\"\n[services.b]\ncommand = \"/bin/true\"\ndepends_on = \"a\"\n",
    );
    assert_eq!(names(&one.services["b"].depends_on), ["a"]);
}

#[test]
fn a_zero_backoff_is_allowed_while_min_uptime_guards_the_start_limit() {
    let c = ok("[services.web]\ncommand = \"/bin/true\"\nbackoff = { initial = \"0s\" }\n");
    assert_eq!(c.services["web"].backoff.initial, Duration::ZERO);
    assert_eq!(c.services["web"].min_uptime, Duration::from_secs(1));
}

#[test]
fn a_dependency_typo_gets_a_suggestion() {
    let e = &errors(
        "[services.postgres]\ncommand = \"x\"\n[services.web]\ncommand = \"x\"\ndepends_on = [\"postgre\"]\n",
    )[0];
    assert_eq!(e.hint.as_deref(), Some("did you mean `postgres`?"));
}

#[test]
fn every_supervisor_key_is_compared_for_a_reload() {
    let base = ok("[services.a]\ncommand = [\"/bin/true\"]\n");
    assert!(base.supervisor.changed_keys(&base.supervisor).is_empty());
    for (line, keys) in [
        // The other paths default to places inside state_dir: they move with it.
        (
            "state_dir = \"/s\"",
            &["state_dir", "runtime_dir", "log_dir", "socket"][..],
        ),
        ("runtime_dir = \"/r\"", &["runtime_dir"]),
        ("log_dir = \"/l\"", &["log_dir"]),
        ("socket = \"/x.sock\"", &["socket"]),
        ("log_max_size = \"1MiB\"", &["log_max_size"]),
        ("log_keep = 2", &["log_keep"]),
        ("cgroup = \"off\"", &["cgroup"]),
        ("cgroup_favordynmods = true", &["cgroup_favordynmods"]),
        ("journal_keep_days = 3", &["journal_keep_days"]),
        ("journal_keep_rows = 1000", &["journal_keep_rows"]),
        (
            "journal_backup_interval = \"5m\"",
            &["journal_backup_interval"],
        ),
        ("journal_backups = 1", &["journal_backups"]),
    ] {
        let changed = ok(&format!(
            "[supervisor]\n{line}\n[services.a]\ncommand = [\"/bin/true\"]\n"
        ));
        assert_eq!(
            base.supervisor.changed_keys(&changed.supervisor),
            keys,
            "{line}"
        );
    }
}

/// Where each refused `pidfile` or log is reported, and what it says.
#[test]
fn pidfiles_and_logs_on_files_ward_keeps_are_refused() {
    const SLEEP: &str = "command = \"/bin/sleep 100\"\n";
    let cases: Vec<(String, (usize, usize), &str)> = vec![
        (
            format!(
                "[supervisor]\nstate_dir = \"st\"\n[services.web]\n{SLEEP}pidfile = \"st/journal.db\"\n"
            ),
            (5, 11),
            "`pidfile` st/journal.db is inside `state_dir` (st)",
        ),
        (
            format!("[services.web]\n{SLEEP}pidfile = \".ward/ward.pid\"\n"),
            (3, 11),
            "is inside `state_dir`",
        ),
        (
            format!(
                "[supervisor]\nruntime_dir = \"/run/w\"\n[services.web]\n{SLEEP}pidfile = \"/run/w/../w/units/x\"\n"
            ),
            (5, 11),
            "`pidfile` /run/w/units/x is inside `runtime_dir` (/run/w)",
        ),
        (
            format!("[services.web]\n{SLEEP}pidfile = \"./ward.toml\"\n"),
            (3, 11),
            "`pidfile` ward.toml is this config file",
        ),
        (
            format!(
                "[supervisor]\nsocket = \"/run/w.sock\"\n[services.web]\n{SLEEP}pidfile = \"/run/w.sock\"\n"
            ),
            (5, 11),
            "is the control socket",
        ),
        (
            format!(
                "[supervisor]\nlog_dir = \"l\"\n[services.a]\n{SLEEP}pidfile = \"l/b.0.log.2\"\n[services.b]\n{SLEEP}instances = 2\n"
            ),
            (5, 11),
            "`pidfile` l/b.0.log.2 is a rotated log of `b.0`",
        ),
        (
            format!(
                "[services.z]\n{SLEEP}pidfile = \"run/x.pid\"\n[services.a]\n{SLEEP}pidfile = \"run/x.pid\"\n"
            ),
            (6, 11),
            "`pidfile` run/x.pid is also the pid file of `z`",
        ),
        (
            format!(
                "[services.a]\n{SLEEP}pidfile = \"run/x.pid\"\ninstances = 3\n[services.b]\n{SLEEP}pidfile = \"run/x.2.pid\"\n"
            ),
            (7, 11),
            "is also the pid file of `a.2`",
        ),
        (
            format!("[supervisor]\nlog_dir = \".ward\"\n[services.ward]\n{SLEEP}"),
            (3, 11),
            "[services.ward] would write its log to .ward/ward.log, which is the daemon's own log",
        ),
        (
            format!(
                "[supervisor]\nlog_dir = \"/l\"\nsocket = \"/l/api.log.1\"\n[services.api]\n{SLEEP}"
            ),
            (4, 11),
            "[services.api] would write a rotated log to /l/api.log.1, which is the control socket",
        ),
    ];
    let mut failures = Vec::new();
    for (text, place, fragment) in &cases {
        let errs = errors(text);
        let first = &errs[0];
        if errs.len() != 1
            || (first.line, first.column) != *place
            || !first.message.contains(fragment)
            || first.hint.is_none()
        {
            failures.push(format!(
                "{text}\nexpected one error at {place:?} containing {fragment:?}, got {errs:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn pidfiles_of_their_own_are_accepted() {
    // Instances get a file each; a file beside ward's directories is fine.
    let c = ok(
        "[services.a]\ncommand = \"x\"\npidfile = \"run/a.pid\"\ninstances = 2\n\
                [services.b]\ncommand = \"x\"\npidfile = \"run/a.pid.b\"\n\
                [services.ward]\ncommand = \"x\"\npidfile = \".wardx/ward.pid\"\n",
    );
    assert_eq!(c.instances().len(), 4);
}

#[test]
fn http_probes_read_their_url_status_body_and_headers() {
    let c = ok("[services.web]\ncommand = \"/bin/app\"\n\
         health = { http = \"http://127.0.0.1:8080/healthz?deep=1\", expect_status = \"200-204\", \
         expect_body = \"ok\", headers = { Host = \"api.local\", X-Probe = \"ward\" } }\n\
         [services.v6]\ncommand = \"/bin/app\"\nhealth = { http = \"http://[::1]/\" }\n");
    let Some(Probe::Http(h)) = c.services["web"].health.as_ref().map(|h| h.probe.clone()) else {
        panic!("an http probe");
    };
    assert_eq!(
        (h.addr.as_str(), h.host.as_str(), h.path.as_str()),
        ("127.0.0.1:8080", "127.0.0.1:8080", "/healthz?deep=1")
    );
    assert_eq!(h.expect_status, (200, 204));
    assert_eq!(h.expect_body.as_deref(), Some("ok"));
    assert_eq!(h.headers.len(), 2);
    let Some(Probe::Http(v6)) = c.services["v6"].health.as_ref().map(|h| h.probe.clone()) else {
        panic!("an http probe");
    };
    assert_eq!(
        (v6.addr.as_str(), v6.path.as_str(), v6.expect_status),
        ("[::1]:80", "/", (200, 399))
    );
    for (text, says) in [
        ("https://x/", "only http:// is probed"),
        ("ftp://x/", "it must start with http://"),
        ("http://x:0/", "its port must be from 1 to 65535"),
        ("http:///x", "it needs a host"),
    ] {
        let errs = errors(&format!(
            "[services.s]\ncommand = \"/bin/app\"\nhealth = {{ http = \"{text}\" }}\n"
        ));
        assert!(
            errs[0].message.contains(says),
            "{text}: {}",
            errs[0].message
        );
    }
    let errs = errors(
        "[services.s]\ncommand = \"/bin/app\"\nhealth = { tcp = \"x:1\", expect_status = 200 }\n",
    );
    assert!(
        errs[0].message.contains("only an `http` probe reads"),
        "{}",
        errs[0].message
    );
    let errs = errors(
        "[services.s]\ncommand = \"/bin/app\"\nhealth = { http = \"http://x/\", expect_status = \"300-200\" }\n",
    );
    assert!(
        errs[0].message.contains("`health.expect_status` must be"),
        "{}",
        errs[0].message
    );
}

#[test]
fn tasks_and_conditions_per_edge() {
    let c = ok(r#"
[services.migrate]
command = "/bin/true"
type = "oneshot"
success_exit_codes = [3]
remain_after_exit = true
[services.db]
command = "/bin/true"
health = { tcp = "127.0.0.1:5432" }
[services.cache]
command = "/bin/true"
[services.web]
command = "/bin/true"
depends_on = { db = "healthy", migrate = "completed", cache = "started" }
[services.compose]
command = "/bin/true"
depends_on = { migrate = "service_completed_successfully", db = "service_healthy" }
"#);
    let migrate = &c.services["migrate"];
    assert_eq!(migrate.kind, ServiceType::Oneshot);
    assert_eq!(
        migrate.restart,
        RestartPolicy::Never,
        "a task is not restarted by default"
    );
    assert!(migrate.remain_after_exit);
    assert_eq!(migrate.success_exit_codes.codes(), [3]);
    assert_eq!(c.services["db"].kind, ServiceType::Simple);
    assert_eq!(c.services["db"].restart, RestartPolicy::Always);
    let edges: Vec<(&str, Condition)> = c.services["web"]
        .depends_on
        .iter()
        .map(|d| (d.service.as_str(), d.condition))
        .collect();
    assert_eq!(
        edges,
        [
            ("db", Condition::Healthy),
            ("migrate", Condition::Completed),
            ("cache", Condition::Started)
        ]
    );
    assert_eq!(
        c.services["compose"].depends_on[0].condition,
        Condition::Completed
    );
    // The list form waits for each as its own `ready` says.
    let list =
        ok("[services.a]\ncommand = \"x\"\n[services.b]\ncommand = \"x\"\ndepends_on = [\"a\"]\n");
    assert_eq!(list.services["b"].depends_on[0].condition, Condition::Ready);
    // A cycle through the table form is still a cycle.
    let e = errors(
        "[services.a]\ncommand = \"x\"\ndepends_on = { b = \"started\" }\n[services.b]\ncommand = \"x\"\ndepends_on = { a = \"started\" }\n",
    );
    assert!(
        e.iter().any(|e| e.message.contains("cycle: a -> b -> a")),
        "{e:?}"
    );
}

#[test]
fn a_nightly_task() {
    let c = ok(r#"
[services.report]
command = "/usr/local/bin/report"
type = "oneshot"
schedule = "0 3 * * *"
timezone = "Europe/Berlin"
overlap = "queue"
catch_up = true
"#);
    let s = c.services["report"].schedule.as_ref().unwrap();
    assert_eq!(s.cron.text, "0 3 * * *");
    assert_eq!(s.timezone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(s.overlap, crate::schedule::Overlap::Queue);
    assert!(s.catch_up);
    let plain =
        ok("[services.j]\ncommand = \"x\"\ntype = \"oneshot\"\nschedule = \"*/5 * * * * *\"\n");
    let s = plain.services["j"].schedule.as_ref().unwrap();
    assert_eq!(
        (s.overlap, s.catch_up, s.timezone.as_deref()),
        (crate::schedule::Overlap::Skip, false, None)
    );
    // The zone is checked by the loader against the system's database.
    let err = c.check_time_zones(|_| Err("not found".into())).unwrap_err();
    assert!(
        err.contains("[services.report] timezone: `Europe/Berlin` is not a time zone"),
        "{err}"
    );
}

#[test]
fn variables_that_are_declared_pass_and_env_file_ones_wait_for_the_files() {
    let c = ok(r#"
[services.web]
command = "/bin/app --port ${PORT} --id ${WARD_INSTANCE} --home ${HOME}"
port_base = 8000
inherit_env = ["REGION"]
env = { URL = "http://${REGION}.example/${WARD_SERVICE}", LITERAL = "$${NOT_A_VAR}" }
[services.sh]
command = "echo ${ANYTHING}"
shell = true
[services.fromfile]
command = ["/bin/app", "${DB_HOST}"]
env_file = "app.env"
"#);
    assert_eq!(c.services["web"].command[2], "${PORT}");
    assert!(c.services["web"].env_file_refs.is_empty());
    let refs = &c.services["fromfile"].env_file_refs;
    assert_eq!(refs.len(), 1);
    assert_eq!(
        (refs[0].name.as_str(), refs[0].line, refs[0].column),
        ("DB_HOST", 11, 25)
    );
    // Set by the file: fine.
    let read = c
        .clone()
        .read_env_files(|_| Ok("DB_HOST=db.internal\n".into()));
    assert!(read.is_ok(), "{read:?}");
    // Not set by it: the place, the name and what to do.
    let err = c.read_env_files(|_| Ok("OTHER=1\n".into())).unwrap_err();
    assert!(
        err.starts_with(
            "/etc/ward/ward.toml:11:25: [services.fromfile] command: unknown variable `${DB_HOST}`"
        ),
        "{err}"
    );
    assert!(err.contains("hint: add DB_HOST to `env`"), "{err}");
}
