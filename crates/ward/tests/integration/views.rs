//! The read views of the API, on the socket: why a unit's run ended, its history, its log
//! (whole and followed), its settings and its samples, each as the CLI shows it, with the
//! mistakes a client can make answered 4xx and named.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use ward_api::{ConfigResponse, HistoryResponse, LogsResponse, UsageResponse};

use crate::fixture::{Ward, socket_request, testbin, wait_for};

/// `GET path` on the socket: the status and the body.
fn get(w: &Ward, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nhost: ward\r\nconnection: close\r\n\r\n");
    socket_request(w, request.as_bytes())
}

fn ok<T: serde::de::DeserializeOwned>(w: &Ward, path: &str) -> T {
    let (code, body) = get(w, path);
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

#[test]
fn why_history_logs_config_and_usage_answer_as_the_cli_shows_them() {
    let bin = testbin();
    let w = Ward::up(&format!(
        r#"
        [supervisor]
        sample_interval = "100ms"
        [services.seg]
        command = ["{bin}", "crash", "SEGV"]
        restart = "never"
        [services.web]
        command = ["{bin}", "sleep", "300"]
        env = {{ DB_PASSWORD = "pw-0123456789", MODE = "prod" }}
        stop_signal = "INT"
        "#
    ));
    w.wait_state("seg", "exited");
    w.wait_state("web", "running");

    // why: the same answer as `ward why --json`.
    let api: serde_json::Value = ok(&w, "/v1/why?name=seg");
    let cli: serde_json::Value =
        serde_json::from_slice(&w.cli(&["why", "seg", "--json"]).stdout).expect("why --json");
    assert_eq!(api["class"], "segfault", "{api}");
    for key in [
        "class",
        "severity",
        "summary",
        "evidence",
        "strategy",
        "recommendation",
    ] {
        assert_eq!(api[key], cli[key], "{key}");
    }
    let by_run: serde_json::Value = ok(&w, "/v1/why?name=seg&run=1");
    assert_eq!(by_run["class"], "segfault");
    assert_eq!(by_run["run"], 1);
    let none: serde_json::Value = ok(&w, "/v1/why?name=web");
    assert!(none["class"].is_null(), "{none}");

    // history: the journal's entries, newest kept when limited.
    let h: HistoryResponse = ok(&w, "/v1/history?name=seg");
    let kinds: Vec<&str> = h.entries.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains(&"start") && kinds.contains(&"crash"),
        "{kinds:?}"
    );
    assert!(!h.truncated);
    let h2: HistoryResponse = ok(&w, "/v1/history?name=seg&limit=2");
    assert_eq!(h2.entries.len(), 2);
    assert!(h2.truncated);
    assert_eq!(h2.entries[1], *h.entries.last().expect("an entry"));

    // config: defaults filled in, the password masked.
    let c: ConfigResponse = ok(&w, "/v1/config?name=web");
    let value = |k: &str| {
        c.entries
            .iter()
            .find(|e| e.key == k)
            .map(|e| e.value.clone())
            .unwrap_or_else(|| panic!("no {k}"))
    };
    assert_eq!(value("env.DB_PASSWORD"), "********");
    assert_eq!(value("env.MODE"), "\"prod\"");
    assert_eq!(value("stop_signal"), "\"SIGINT\"");
    assert_eq!(value("restart"), "\"always\"");
    assert!(!serde_json::to_string(&c).unwrap().contains("pw-0123456789"));

    // logs: the last lines, and a follower that sees the next ones.
    let l: LogsResponse = ok(&w, "/v1/logs?name=web&lines=1");
    assert_eq!(l.lines.len(), 1, "{l:?}");
    assert_eq!(
        (l.lines[0].stream.as_str(), l.lines[0].text.as_str()),
        ("out", "ready")
    );
    let mut s = UnixStream::connect(w.dir.path().join(".ward/ward.sock")).expect("connect");
    s.write_all(b"GET /v1/logs?name=web&lines=1&follow=true HTTP/1.0\r\n\r\n")
        .expect("write");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut stream = BufReader::new(s);
    let mut next_line = || {
        let mut line = String::new();
        loop {
            line.clear();
            stream.read_line(&mut line).expect("a line of the stream");
            if let Some(data) = line.strip_prefix("data: ") {
                return serde_json::from_str::<ward_api::LogLine>(data).expect("a LogLine");
            }
        }
    };
    assert_eq!(next_line().text, "ready", "the tail comes first");
    w.ok(&["restart", "web"]);
    let pid = w.unit("web").pid.expect("pid");
    let started = format!("started pid {pid}");
    while next_line().text != started {}

    // usage: the samples of the running units.
    let u: UsageResponse = wait_for("samples of web", || {
        let u: UsageResponse = ok(&w, "/v1/usage");
        u.units
            .iter()
            .any(|x| x.unit == "web" && !x.points.is_empty())
            .then_some(u)
    });
    assert_eq!(u.interval_ms, 100);
    assert!(
        u.units
            .iter()
            .all(|x| x.points.len() <= ward_api::USAGE_POINTS)
    );

    // The mistakes a client can make, each named.
    for (path, code, says) in [
        ("/v1/why", 400, "needs `name`"),
        ("/v1/why?name=nope", 404, "no unit named `nope`"),
        ("/v1/why?name=seg&run=9", 404, "holds 1 ended run"),
        ("/v1/why?name=seg&run=x", 400, "`run=x`"),
        ("/v1/history?name=nope", 404, "knows no unit"),
        ("/v1/logs?name=web&lines=99999", 400, "`lines=99999`"),
        (
            "/v1/config?name=web&nmae=x",
            400,
            "unknown parameter `nmae`",
        ),
        ("/v1/events?usage=maybe", 400, "`usage=maybe`"),
    ] {
        let (got, body) = get(&w, path);
        assert_eq!(got, code, "{path}: {body}");
        assert!(body.contains(says), "{path}: {body}");
    }
    w.ok(&["down"]);
}

/// `ward status --json` into a pipe passes the daemon's answer on as it came; with names,
/// the same objects of the named units only, in the same compact form.
#[test]
fn piped_status_json_is_the_daemons_answer_and_names_pick_from_it() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.a]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n\
         [services.b]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    w.wait_state("a", "running");
    w.wait_state("b", "running");
    let all = w.ok(&["status", "--json"]);
    assert!(all.ends_with("]}\n") && !all.ends_with("\n\n"), "{all}");
    assert_eq!(all.lines().count(), 1, "compact: {all}");
    let all: serde_json::Value = serde_json::from_str(&all).expect("status --json");
    let names: Vec<&str> = all["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["a", "b"]);
    let one = w.ok(&["status", "--json", "b"]);
    assert_eq!(one.lines().count(), 1, "compact: {one}");
    let one: serde_json::Value = serde_json::from_str(&one).expect("status --json b");
    assert_eq!(one["daemon"], all["daemon"]);
    let services = one["services"].as_array().expect("services");
    assert_eq!(services.len(), 1);
    for key in ["name", "pid", "state", "service"] {
        assert_eq!(services[0][key], all["services"][1][key], "{key}");
    }
}
