//! The HTTP listener: `/metrics` for anyone, the rest of the API with the bearer token,
//! refusals recorded, bad requests answered 4xx.

use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;

use crate::fixture::{Ward, testbin};

/// Sends `request` to `addr`; the status code and the whole answer.
fn send(addr: &str, request: &[u8]) -> (u16, String) {
    crate::fixture::exchange(TcpStream::connect(addr).expect("connect"), request)
}

fn get(path: &str, token: Option<&str>) -> Vec<u8> {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    format!("GET {path} HTTP/1.1\r\nHost: ward\r\n{auth}Connection: close\r\n\r\n").into_bytes()
}

#[test]
fn metrics_are_open_and_everything_else_needs_the_token() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[supervisor]\nhttp = \"127.0.0.1:0\"\n\
         [services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    w.wait_state("web", "running");
    let addr = w.status().daemon.http.expect("the listener's address");
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let token_path = w.dir.path().join(".ward/http.token");
    let mode = std::fs::metadata(&token_path)
        .expect("token")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let token = std::fs::read_to_string(&token_path).expect("token");
    let token = token.trim();
    assert_eq!(token.len(), 64);

    let (code, answer) = send(&addr, &get("/metrics", None));
    assert_eq!(code, 200, "{answer}");
    assert!(
        answer.contains("ward_service_up{service=\"web\",unit=\"web\"} 1"),
        "{answer}"
    );

    let (code, answer) = send(&addr, &get("/v1/status", None));
    assert_eq!(code, 401, "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{answer}"
    );
    assert!(answer.contains("no bearer token"), "{answer}");
    let (code, answer) = send(&addr, &get("/v1/status", Some(&"0".repeat(64))));
    assert_eq!(code, 401, "{answer}");
    let (code, answer) = send(&addr, &get("/v1/status", Some(token)));
    assert_eq!(code, 200, "{answer}");
    assert!(answer.contains("\"name\":\"web\""), "{answer}");

    // An action with the token is carried out, and recorded with the client's address.
    let body = r#"{"names":["web"]}"#;
    let stop = format!(
        "POST /v1/stop HTTP/1.1\r\nHost: ward\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (code, answer) = send(&addr, stop.as_bytes());
    assert_eq!(code, 200, "{answer}");
    w.wait_state("web", "stopped");
    let trail = std::fs::read_to_string(w.dir.path().join(".ward/audit.jsonl")).expect("trail");
    let stop_record = trail
        .lines()
        .find(|l| l.contains("\"what\":\"stop\""))
        .expect("the stop in the trail");
    assert!(
        stop_record.contains("\"addr\":\"127.0.0.1:"),
        "{stop_record}"
    );
    assert!(
        trail.contains("GET /v1/status over HTTP with a wrong bearer token"),
        "{trail}"
    );
    assert!(!trail.contains(token), "the token is never recorded");

    // An oversized body, and a request that is not HTTP.
    let big = format!(
        "POST /v1/stop HTTP/1.1\r\nHost: ward\r\nAuthorization: Bearer {token}\r\nContent-Length: 10000000\r\nConnection: close\r\n\r\n"
    );
    let (code, _) = send(&addr, big.as_bytes());
    assert_eq!(code, 413);
    let (code, answer) = send(&addr, b"HELLO\r\n\r\n");
    assert!((400..500).contains(&code), "{answer}");
}

#[test]
fn an_address_in_use_is_refused_with_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let w = Ward::new(&format!(
        "[supervisor]\nhttp = \"{addr}\"\n[services.s]\ncommand = \"sleep 100\"\n"
    ));
    let out = w.up_refused();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr} ([supervisor] http)")),
        "{stderr}"
    );
    let w = Ward::new(
        "[supervisor]\nhttp = \"localhost:9325\"\n[services.s]\ncommand = \"sleep 100\"\n",
    );
    let out = w.cli(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`http` must be an IP address and a port")
    );
}

#[test]
fn readyz_and_livez_are_open_probes_for_an_orchestrator() {
    let w = Ward::up(
        "[supervisor]\nhttp = \"127.0.0.1:0\"\n\
         [services.web]\ncommand = [\"/bin/sleep\", \"300\"]\nmin_uptime = \"0s\"\n\
         [services.gate]\ncommand = [\"/bin/sh\", \"-c\", \"test -f open\"]\ntype = \"oneshot\"\nrestart = \"on-failure\"\nbackoff = { initial = \"50ms\", max = \"200ms\" }\nstart_limit = { burst = 10000 }\n",
    );
    let addr = w.status().daemon.http.expect("the listener's address");
    // The task fails until a file exists: not ready meanwhile, and it says why.
    let (code, answer) = send(&addr, &get("/readyz", None));
    assert_eq!(code, 503, "{answer}");
    assert!(answer.contains("not ready: gate ("), "{answer}");
    let (code, answer) = send(&addr, &get("/livez", None));
    assert_eq!(code, 200, "{answer}");
    std::fs::write(w.dir.path().join("open"), "").unwrap();
    w.wait_state("gate", "completed");
    w.wait_state("web", "running");
    let (code, answer) = send(&addr, &get("/readyz", None));
    assert_eq!(code, 200, "{answer}");
    assert_eq!(w.cli(&["health", "--ready"]).status.code(), Some(0));
}
