//! Generated config files: any text, and TOML built from ward's real keys with values of
//! every kind, some right and most wrong. Whatever comes in, `parse` answers without a
//! panic, and every problem it reports points at a character of the file where that
//! problem is written, never at a place that says nothing (such as line 1 by default).

use super::{ConfigErrors, locate, parse};
use proptest::prelude::*;
use std::path::Path;

/// Every generated file starts with this line: nothing in it can be wrong, so an error
/// placed on line 1 was placed there for want of a position.
const HEADER: &str = "# generated\n";

const SERVICE_KEYS: &[&str] = &[
    "command",
    "shell",
    "cwd",
    "env",
    "autostart",
    "env_file",
    "inherit_env",
    "secret_env",
    "trust_path",
    "umask",
    "no_new_privs",
    "user",
    "group",
    "groups",
    "capabilities",
    "private_tmp",
    "instances",
    "port_base",
    "restart",
    "backoff",
    "min_uptime",
    "start_limit",
    "stop_signal",
    "stop_timeout",
    "kill_mode",
    "pidfile",
    "on_daemon_exit",
    "rlimits",
    "memory_max",
    "pids_max",
    "cpu_max",
    "repair",
    "on_failure",
    "hook_timeout",
    "recovery",
    "confidence_floor",
    "data",
    "data_snapshots",
    "depends_on",
    "ready",
    "health",
    "watchdog",
    // Typos, and a key of another table.
    "comand",
    "restat",
    "socket",
];

const SUPERVISOR_KEYS: &[&str] = &[
    "state_dir",
    "runtime_dir",
    "log_dir",
    "socket",
    "log_max_size",
    "log_keep",
    "cgroup",
    "cgroup_favordynmods",
    "journal_keep_days",
    "journal_keep_rows",
    "journal_backup_interval",
    "sample_interval",
    "sample_while",
    "sample_pss",
    "journal_backups",
    "api_group",
    "api_readers",
    "http",
    "logdir",
];

const NAMES: &[&str] = &["web", "db", "w-1", "x_2", "bad.name", "-dash", "Ünï", ""];

/// A TOML value as it would be written, right for some keys and wrong for most.
fn value() -> impl Strategy<Value = String> {
    let fixed = prop::sample::select(vec![
        "\"/bin/true\"",
        "[\"/bin/sleep\", \"100\"]",
        "[]",
        "[1, 2]",
        "\"echo hi | tr a-z A-Z\"",
        "\"'unclosed\"",
        "\"\"",
        "\"  \"",
        "\"a\\u0000b\"",
        "\"10s\"",
        "\"0s\"",
        "\"watched\"",
        "\"1h30m\"",
        "\"1.5.5s\"",
        "\"99999999999d\"",
        "\"10MiB\"",
        "\"99999999999G\"",
        "\"50%\"",
        "\"150%\"",
        "\"TERM\"",
        "\"KILL\"",
        "\"SIGSTOP\"",
        "\"SIGNOPE\"",
        "9",
        "19",
        "0",
        "-1",
        "3",
        "9223372036854775807",
        "1.5",
        "-0.0",
        "nan",
        "inf",
        "0.25",
        "true",
        "false",
        "1979-05-27T07:32:00Z",
        "\"always\"",
        "\"on-failure\"",
        "\"tree\"",
        "\"keep\"",
        "\"v2\"",
        "\"healthy\"",
        "\"notify\"",
        "\"web\"",
        "[\"web\", \"db\"]",
        "[\"web\", \"web\"]",
        "[\"nope\"]",
        "[\"db\", 5]",
        "{}",
        "{ PORT = 8080, DEBUG = true, X = \"y\", \"1A\" = \"z\", WARD_UNIT = \"u\", F = 1.5 }",
        "{ initial = \"1s\", max = \"0s\", factor = 0.5, jitter = 2 }",
        "{ initial = \"0s\" }",
        "{ burst = 2, interval = \"0s\", other = 1 }",
        "{ cpu = \"0s\", fsize = -1, nofile = 3, core = \"1G\" }",
        "{ segfault = \"repair\", oom_kill = \"restore\", nope = \"backoff\" }",
        "{ command = \"/bin/true\", interval = \"1s\" }",
        "{ tcp = \"127.0.0.1:1\", command = \"x\" }",
        "{ retries = -3 }",
        "[[1]]",
    ])
    .prop_map(str::to_string);
    let string = "[a-z0-9 %./-]{0,12}".prop_map(|s| format!("{s:?}"));
    let integer = any::<i64>().prop_map(|n| n.to_string());
    prop_oneof![6 => fixed, 1 => string, 1 => integer]
}

/// `key = value` pairs for some of the keys of one table, each key once.
fn assignments(keys: &'static [&'static str]) -> impl Strategy<Value = Vec<(String, String)>> {
    prop::sample::subsequence(keys, 0..7)
        .prop_flat_map(|keys| {
            let n = keys.len();
            (Just(keys), prop::collection::vec(value(), n))
        })
        .prop_map(|(keys, values)| keys.iter().map(|k| k.to_string()).zip(values).collect())
}

/// A service's keys: often a good `command`, so that the service is checked in full, and
/// a `pidfile` that may fall on a file ward keeps, a log, or another service's PID file.
fn service_keys() -> impl Strategy<Value = Vec<(String, String)>> {
    let pidfile = prop::sample::select(vec![
        "\"ward.toml\"",
        "\".ward/ward.sock\"",
        "\".ward/logs/web.log\"",
        "\".ward/logs/db.log.1\"",
        "\"./run/../run/x.pid\"",
        "\"/etc/ward/run/x.pid\"",
        "\"run/x.pid\"",
    ]);
    let command = any::<bool>();
    (
        assignments(SERVICE_KEYS),
        proptest::option::of(pidfile),
        command,
    )
        .prop_map(|(mut keys, pidfile, command)| {
            let has = |keys: &[(String, String)], key: &str| keys.iter().any(|(k, _)| k == key);
            // Without a command a service is not checked further.
            if command && !has(&keys, "command") {
                keys.push(("command".into(), "[\"/bin/true\"]".into()));
            }
            if let Some(path) = pidfile
                && !has(&keys, "pidfile")
            {
                keys.push(("pidfile".into(), path.into()));
            }
            keys
        })
}

/// How a service table is written: `[services.NAME]`, an inline table, or dotted keys.
#[derive(Clone, Copy, Debug)]
enum Style {
    Header,
    Inline,
    Dotted,
}

/// A whole file built from real keys: each table and key once, so that most files are
/// TOML and reach ward's own checks.
fn toml_file() -> impl Strategy<Value = String> {
    let services = prop::sample::subsequence(NAMES, 0..4).prop_flat_map(|names| {
        let n = names.len();
        let styles = prop::sample::select(vec![Style::Header, Style::Inline, Style::Dotted]);
        (
            Just(names),
            prop::collection::vec((styles, service_keys()), n),
        )
    });
    (
        proptest::option::of(assignments(SUPERVISOR_KEYS)),
        services,
        proptest::option::of(value()),
    )
        .prop_map(|(supervisor, (names, services), stray)| {
            let quoted = |name: &str| {
                let bare = name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
                if !name.is_empty() && bare {
                    name.to_string()
                } else {
                    format!("{name:?}")
                }
            };
            // Keys outside a table header must come before the first one.
            let mut text = HEADER.to_string();
            if let Some(value) = stray {
                text += &format!("service = {value}\n");
            }
            for (name, (style, keys)) in names.iter().zip(&services) {
                let name = quoted(name);
                match style {
                    Style::Dotted => {
                        for (key, value) in keys {
                            text += &format!("services.{name}.{key} = {value}\n");
                        }
                    }
                    Style::Inline => {
                        let body: Vec<String> =
                            keys.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                        text += &format!("services.{name} = {{ {} }}\n", body.join(", "));
                    }
                    Style::Header => {}
                }
            }
            if let Some(keys) = supervisor {
                text += "\n[supervisor]\n";
                for (key, value) in keys {
                    text += &format!("{key} = {value}\n");
                }
            }
            for (name, (style, keys)) in names.iter().zip(&services) {
                if let Style::Header = style {
                    text += &format!("\n[services.{}]\n", quoted(name));
                    for (key, value) in keys {
                        text += &format!("{key} = {value}\n");
                    }
                }
            }
            text
        })
}

/// Every error is at a line and column inside `text`; and, for a file that starts with
/// [`HEADER`], none is on line 1.
fn check_places(text: &str, errors: &ConfigErrors) -> Result<(), TestCaseError> {
    prop_assert!(!errors.errors.is_empty());
    let lines: Vec<&str> = text.split('\n').collect();
    for e in &errors.errors {
        prop_assert!(
            (1..=lines.len()).contains(&e.line),
            "line of {e} outside the file:\n{text}"
        );
        let width = lines[e.line - 1].chars().count();
        prop_assert!(
            (1..=width + 1).contains(&e.column),
            "column of {e} outside its line:\n{text}"
        );
        if text.starts_with(HEADER) {
            prop_assert!(e.line > 1, "{e} points at the comment on line 1:\n{text}");
        }
        // ward's own checks point at a key, a value or a header, never at blank space.
        if !e.message.starts_with("invalid TOML") {
            let at = lines[e.line - 1].chars().nth(e.column - 1);
            prop_assert!(
                at.is_some_and(|c| !c.is_whitespace()),
                "{e} points at {at:?}:\n{text}"
            );
        }
    }
    let places: Vec<_> = errors.errors.iter().map(|e| (e.line, e.column)).collect();
    prop_assert!(places.is_sorted(), "not in file order: {places:?}");
    Ok(())
}

proptest! {
    #[test]
    fn any_text_is_answered_with_places_inside_it(text in "\\PC{0,200}") {
        if let Err(errors) = parse(Path::new("ward.toml"), &text) {
            check_places(&text, &errors)?;
        }
        let _ = locate(Path::new("ward.toml"), &text);
    }

    #[test]
    fn every_problem_points_where_it_is_written(text in toml_file()) {
        if let Err(errors) = parse(Path::new("/etc/ward/ward.toml"), &text) {
            check_places(&text, &errors)?;
        }
        let _ = locate(Path::new("/etc/ward/ward.toml"), &text);
    }
}
