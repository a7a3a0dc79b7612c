//! The values of a service's secrets never show through ward: not in its log, its
//! `STATUS=` text, `ward logs`, the audit trail or the daemon's own log.

use std::fs;

use crate::fixture::{Ward, external, testbin, wait_for};

const TOKEN: &str = "tok-abcdef123456";
const URL: &str = "postgres://u:pw-9876@db/x";
const INHERITED: &str = "inherited-pass-42";

#[test]
fn secret_values_are_masked_in_logs_status_and_the_trail() {
    let bin = testbin();
    // The status text goes through a real sd_notify client when there is one.
    let (notify, ready) = match external("systemd-notify") {
        Some(n) => (
            format!("{} --ready --status=\\\"using $DB_URL\\\"; ", n.display()),
            "ready = \"notify\"\n",
        ),
        None => (String::new(), ""),
    };
    let mut w = Ward::new(&format!(
        "[services.leaky]\n\
         command = [\"/bin/sh\", \"-c\", \"echo token=$API_TOKEN url=$DB_URL pw=$MY_PASSWORD port=$PORT; echo err-$API_TOKEN >&2; {notify}exec {bin} sleep 300\", \"{TOKEN}\"]\n\
         env = {{ API_TOKEN = \"{TOKEN}\", DB_URL = \"{URL}\", PORT = \"8080\" }}\n\
         secret_env = [\"DB_URL\"]\ninherit_env = [\"MY_PASSWORD\"]\n{ready}"
    ));
    w.start_daemon_with_env(&[("MY_PASSWORD", INHERITED)]);
    let s = w.wait_state("leaky", "running");
    let log = wait_for("the service's lines", || {
        let l = w.log("leaky");
        (l.contains("token=") && l.contains("err-")).then_some(l)
    });
    assert!(
        log.contains(
            "token=[redacted API_TOKEN] url=[redacted DB_URL] pw=[redacted MY_PASSWORD] port=8080"
        ),
        "{log}"
    );
    assert!(log.contains("err-[redacted API_TOKEN]"), "{log}");
    if !ready.is_empty() {
        let s = w.wait_unit("leaky", "its status text", |s| s.status_text.is_some());
        assert_eq!(s.status_text.as_deref(), Some("using [redacted DB_URL]"));
    }
    drop(s);
    let shown = w.ok(&["logs", "leaky"]);
    let status = w.ok(&["status", "--json"]);
    let audit = fs::read_to_string(w.dir.path().join(".ward/audit.jsonl")).expect("trail");
    // The spawn's argv holds the token as its `$0`: masked there too.
    assert!(audit.contains("[redacted API_TOKEN]"), "{audit}");
    w.ok(&["down"]);
    w.wait_daemon_exit();
    let daemon_log = w.daemon_log();
    for (what, text) in [
        ("the unit log", &log),
        ("ward logs", &shown),
        ("ward status", &status),
        ("the audit trail", &audit),
        ("the daemon's log", &daemon_log),
    ] {
        for value in [TOKEN, URL, INHERITED] {
            assert!(!text.contains(value), "{value} shows in {what}:\n{text}");
        }
    }
}

#[test]
fn a_secret_is_not_repeated_in_a_config_error() {
    let w = Ward::new("[services.s]\ncommand = \"/bin/true\"\nenv = { DB_PASSWORD = 12.75 }\n");
    let out = w.cli(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`env.DB_PASSWORD` must be a string"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("quote it: DB_PASSWORD = \"12.75\""),
        "{stderr}"
    );
    let w = Ward::new("[services.s]\ncommand = \"/bin/true\"\nsecret_env = [\"NOT A NAME\"]\n");
    let out = w.cli(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`secret_env` entries must be variable names"),
        "{stderr}"
    );
}
