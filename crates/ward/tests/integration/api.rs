//! The control socket: who may connect, and what bad requests get.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;

use ward_api::UnitState;

use crate::fixture::{Ward, socket_request as raw, testbin};

/// Sends raw bytes and returns the whole answer, headers included.
fn whole(w: &Ward, request: &[u8]) -> String {
    let mut s = UnixStream::connect(w.dir.path().join(".ward/ward.sock")).expect("connect");
    s.write_all(request).expect("write");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: ward\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn bad_requests_get_4xx_and_the_daemon_keeps_answering() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    let before = w.wait_state("s", "running");
    let (code, body) = raw(&w, &post("/v1/start", "{not json"));
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("malformed JSON"), "{body}");

    let (code, _) = raw(&w, &post("/v1/start", "{\"names\": 5}"));
    assert_eq!(code, 400);

    let (code, body) = raw(&w, &post("/v1/start", "{\"names\": [\"nope\"]}"));
    assert_eq!(code, 404);
    assert!(body.contains("no service named `nope`") && body.contains("known services: s"));

    let (code, _) = raw(&w, &post("/v1/frobnicate", "{}"));
    assert_eq!(code, 404);

    // A known path with the wrong method: 405, and `Allow` names the one it takes.
    for (method, path, allow) in [
        ("GET", "/v1/stop", "POST"),
        ("POST", "/v1/status", "GET"),
        ("DELETE", "/v1/journal/sync", "POST"),
        ("PUT", "/v1/logs/reopen", "POST"),
    ] {
        let answer = whole(
            &w,
            format!("{method} {path} HTTP/1.1\r\nhost: ward\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
                .as_bytes(),
        );
        assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
        let allows: Vec<&str> = answer
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(name, _)| name.eq_ignore_ascii_case("allow"))
            .map(|(_, value)| value.trim())
            .collect();
        assert_eq!(allows, [allow], "{answer}");
        assert!(
            answer.contains(&format!("{method} is not allowed on {path}")),
            "{answer}"
        );
    }

    let big = "x".repeat(2 << 20);
    let (code, _) = raw(&w, &post("/v1/start", &big));
    assert_eq!(code, 413);

    // A body larger than the limit that does not declare its length.
    let mut chunked = b"POST /v1/stop HTTP/1.1\r\nhost: ward\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..40 {
        chunked.extend_from_slice(
            format!("{:x}\r\n{}\r\n", 64 * 1024, "y".repeat(64 * 1024)).as_bytes(),
        );
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (code, _) = raw(&w, &chunked);
    assert_eq!(code, 413);

    let (code, _) = raw(&w, b"this is not http\r\n\r\n");
    assert!(code == 0 || (400..500).contains(&code));

    let (code, body) = raw(
        &w,
        &post(
            "/v1/signal",
            "{\"names\": [\"s\"], \"signal\": \"SIGNOPE\"}",
        ),
    );
    assert_eq!(code, 400, "{body}");

    // None of them reached the service (a stop whose body was cut short, a signal that
    // was misread, would show as another process), and a good request is still served.
    let after = w.unit("s");
    assert_eq!(
        (after.state, after.pid, after.spawns, after.restarts),
        (UnitState::Running, before.pid, 1, 0),
        "{after:?}"
    );
    let (code, body) = raw(
        &w,
        &post("/v1/signal", "{\"names\": [\"s\"], \"signal\": \"CONT\"}"),
    );
    assert_eq!(code, 200, "{body}");
    let pid = before.pid.expect("pid");
    assert!(
        body.contains(&format!("sent SIGCONT to pid {pid}")),
        "{body}"
    );
}

#[test]
fn the_socket_is_private() {
    let w = Ward::up("");
    let sock = w.dir.path().join(".ward/ward.sock");
    let mode = std::fs::metadata(&sock)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir = std::fs::metadata(w.dir.path().join(".ward"))
        .expect("dir")
        .permissions()
        .mode();
    assert_eq!(dir & 0o777, 0o700);
}

#[test]
fn signal_reaches_the_main_process() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nrestart = \"never\"\nmin_uptime = \"0s\"\n"
    ));
    let pid = w.wait_state("s", "running").pid.expect("pid");
    let out = w.ok(&["signal", "s", "USR1"]);
    assert!(out.contains(&format!("sent SIGUSR1 to pid {pid}")), "{out}");
    let s = w.wait_state("s", "exited");
    assert_eq!(s.last_exit.expect("exit").description, "killed by SIGUSR1");
    let out = w.cli(&["signal", "s", "HUP"]);
    assert_eq!(out.status.code(), Some(1), "not running: nothing to signal");
}

/// A chunked body whose chunk size is not a number is malformed, not too large: 400, and
/// the message says so.
#[test]
fn a_malformed_chunked_body_is_400_not_413() {
    let w = Ward::up("");
    for bad in [
        "zz\r\n{}\r\n0\r\n\r\n",
        "2\r\n{}XX0\r\n\r\n",
        "-1\r\n{}\r\n0\r\n\r\n",
    ] {
        let request = format!(
            "POST /v1/stop HTTP/1.1\r\nhost: ward\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n{bad}"
        );
        let (code, body) = raw(&w, request.as_bytes());
        assert_eq!(code, 400, "{bad:?}: {body}");
        assert!(body.contains("malformed request body"), "{bad:?}: {body}");
        assert!(!body.contains("larger than"), "{bad:?}: {body}");
    }
    // A good chunked body still works.
    let (code, body) = raw(
        &w,
        b"POST /v1/stop HTTP/1.1\r\nhost: ward\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\nd\r\n{\"all\": true}\r\n0\r\n\r\n",
    );
    assert_eq!(code, 200, "{body}");
}

/// A misspelt field is named, not ignored: `{"name": "s"}` would otherwise stop nothing
/// and answer success. A request names at most 1,024 units.
#[test]
fn unknown_fields_and_too_many_names_are_400() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    let before = w.wait_state("s", "running");
    let (code, body) = raw(&w, &post("/v1/stop", "{\"name\": [\"s\"]}"));
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("unknown field `name` in the body of POST /v1/stop")
            && body.contains("the fields are: names, all"),
        "{body}"
    );
    let (code, body) = raw(
        &w,
        &post(
            "/v1/signal",
            "{\"names\": [\"s\"], \"signal\": \"HUP\", \"force\": true}",
        ),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("unknown field `force`"), "{body}");
    let names: Vec<String> = (0..1025).map(|i| format!("\"u{i}\"")).collect();
    let (code, body) = raw(
        &w,
        &post(
            "/v1/restart",
            &format!("{{\"names\": [{}]}}", names.join(",")),
        ),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("a request may name at most 1024 units; this one names 1025"),
        "{body}"
    );
    // Nothing was done, and the daemon answers on.
    let after = w.unit("s");
    assert_eq!((after.pid, after.state), (before.pid, before.state));
}

/// Two backups at once: the second is told to wait; the first ends with its file.
#[test]
fn a_second_backup_while_one_runs_is_409() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    w.wait_state("s", "running");
    let sock = w.dir.path().join(".ward/ward.sock");
    // Several at once; at least one overlaps another on two cores.
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let sock = sock.clone();
            std::thread::spawn(move || {
                let mut s = UnixStream::connect(sock).expect("connect");
                s.write_all(&post("/v1/backup", "")).expect("write");
                let mut answer = String::new();
                let _ = s.read_to_string(&mut answer);
                answer
            })
        })
        .collect();
    let answers: Vec<String> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let ok = answers
        .iter()
        .filter(|a| a.starts_with("HTTP/1.1 200"))
        .count();
    let busy: Vec<&String> = answers
        .iter()
        .filter(|a| a.starts_with("HTTP/1.1 409"))
        .collect();
    // A backup is verified and synced, milliseconds, while the six arrive within one.
    assert!(ok >= 1 && !busy.is_empty(), "{answers:?}");
    assert_eq!(ok + busy.len(), 6, "{answers:?}");
    for a in busy {
        assert!(a.contains("a backup is already running"), "{a}");
    }
    // Once it is over, another is taken.
    let (code, body) = raw(&w, &post("/v1/backup", ""));
    assert_eq!(code, 200, "{body}");
}

/// `GET /v1/status?stats=true`: the statistics are read once the journal holds what the
/// answer counts, so a crash loop never shows more restarts than its statistics. The
/// journal's writer holds records for up to its commit gap; a read beside the answer
/// could miss the last crash.
#[test]
fn status_with_stats_counts_every_restart_the_answer_counts() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.loop]\ncommand = [\"{bin}\", \"exit\", \"1\"]\nmin_uptime = \"0s\"\n\
         backoff = {{ initial = \"15ms\", max = \"15ms\" }}\nstart_limit = {{ burst = 10000 }}\n\
         [services.calm]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    w.wait_unit("loop", "a first restart", |s| s.restarts >= 1);
    let get = |query: &str| {
        raw(
            &w,
            format!("GET /v1/status{query} HTTP/1.1\r\nhost: ward\r\nconnection: close\r\n\r\n")
                .as_bytes(),
        )
    };
    let mut checked = 0;
    while checked < 40 {
        let (code, body) = get("?stats=true");
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        let unit = v["services"]
            .as_array()
            .expect("services")
            .iter()
            .find(|s| s["name"] == "loop")
            .expect("loop")
            .clone();
        let restarts = unit["restarts"].as_u64().expect("restarts");
        // The journal is read after the snapshot: it may hold a restart more, never less.
        let stats = &unit["stats"];
        let journaled = |key: &str| stats[key].as_u64().expect(key);
        assert!(journaled("restarts_after_crash") >= restarts, "{unit}");
        assert!(journaled("crashes") >= restarts, "{unit}");
        let calm = v["services"]
            .as_array()
            .expect("services")
            .iter()
            .find(|s| s["name"] == "calm")
            .expect("calm");
        assert_eq!(calm["stats"]["crashes"], 0, "{calm}");
        assert!(calm["stats"]["runs"].as_u64() >= Some(1), "{calm}");
        checked += 1;
    }
    // Without the query there are none; a bad value or an unknown key is refused.
    let (code, body) = get("");
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert!(
        v["services"]
            .as_array()
            .expect("services")
            .iter()
            .all(|s| s.get("stats") == Some(&serde_json::Value::Null)),
        "{v}"
    );
    let (code, body) = get("?stats=maybe");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("`stats=maybe`"), "{body}");
    let (code, body) = get("?verbose=1");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("verbose"), "{body}");
}
