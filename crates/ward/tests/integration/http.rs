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

/// A daemon with the listener on a port of the kernel's choice and one service, `web`,
/// running; and the listener's address.
fn listening() -> (Ward, String) {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[supervisor]\nhttp = \"127.0.0.1:0\"\n\
         [services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    w.wait_state("web", "running");
    let addr = w.status().daemon.http.expect("the listener's address");
    (w, addr)
}

#[test]
fn metrics_are_open_and_everything_else_needs_the_token() {
    let (w, addr) = listening();
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

/// `POST path` with `body` and the extra header lines `headers`.
fn post(path: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: ward\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn the_read_token_reads_and_a_session_acts_only_with_its_csrf_value() {
    let (w, addr) = listening();
    let read_path = w.dir.path().join(".ward/http.read.token");
    let mode = std::fs::metadata(&read_path)
        .expect("read token")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let read = std::fs::read_to_string(&read_path).expect("read token");
    let read = read.trim();
    let full = std::fs::read_to_string(w.dir.path().join(".ward/http.token")).expect("token");
    let full = full.trim();
    assert_ne!(read, full);

    // The read token reads, and may not act.
    let (code, answer) = send(&addr, &get("/v1/status", Some(read)));
    assert_eq!(code, 200, "{answer}");
    let (code, answer) = send(&addr, &get("/v1/why?name=web", Some(read)));
    assert_eq!(code, 200, "{answer}");
    let bearer = format!("Authorization: Bearer {read}\r\n");
    let (code, answer) = send(&addr, &post("/v1/stop", &bearer, r#"{"names":["web"]}"#));
    assert_eq!(code, 403, "{answer}");

    // The open paths stay open to a scraper with a stale token.
    let (code, answer) = send(&addr, &get("/metrics", Some(&"0".repeat(64))));
    assert_eq!(code, 200, "{answer}");

    // The page is open, with its policy; it holds no data.
    let (code, answer) = send(&addr, &get("/", None));
    assert_eq!(code, 200);
    let lower = answer.to_ascii_lowercase();
    assert!(
        lower.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{answer}"
    );
    assert!(lower.contains("x-frame-options: deny"), "{answer}");

    // A login gives a session cookie and a CSRF value.
    let (code, answer) = send(&addr, &post("/v1/login", "", r#"{"token":"nope"}"#));
    assert_eq!(code, 401, "{answer}");
    let (code, answer) = send(
        &addr,
        &post("/v1/login", "", &format!(r#"{{"token":"{full}"}}"#)),
    );
    assert_eq!(code, 200, "{answer}");
    let cookie_line = answer
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a cookie")
        .to_string();
    assert!(
        cookie_line.contains("HttpOnly; SameSite=Strict"),
        "{cookie_line}"
    );
    let cookie = cookie_line
        .split_once(':')
        .and_then(|(_, v)| v.trim().split(';').next())
        .expect("the cookie's value")
        .to_string();
    let body = answer.split_once("\r\n\r\n").expect("a body").1;
    let session: ward_api::SessionInfo = serde_json::from_str(body).expect("a session");
    assert_eq!(session.access, "full");

    // With the cookie alone a read works and a write is refused; with the value, it acts.
    let with_cookie = format!("Cookie: {cookie}\r\n");
    let status =
        format!("GET /v1/status HTTP/1.1\r\nHost: ward\r\n{with_cookie}Connection: close\r\n\r\n");
    assert_eq!(send(&addr, status.as_bytes()).0, 200);
    let (code, answer) = send(
        &addr,
        &post("/v1/restart", &with_cookie, r#"{"names":["web"]}"#),
    );
    assert_eq!(code, 403, "{answer}");
    let wrong = format!("{with_cookie}X-Ward-CSRF: {}\r\n", "0".repeat(64));
    assert_eq!(
        send(&addr, &post("/v1/restart", &wrong, r#"{"names":["web"]}"#)).0,
        403
    );
    let right = format!("{with_cookie}X-Ward-CSRF: {}\r\n", session.csrf);
    let pid = w.unit("web").pid;
    let (code, answer) = send(&addr, &post("/v1/restart", &right, r#"{"names":["web"]}"#));
    assert_eq!(code, 200, "{answer}");
    assert_ne!(w.wait_state("web", "running").pid, pid);

    // After a logout the cookie is worth nothing.
    assert_eq!(send(&addr, &post("/v1/logout", &with_cookie, "")).0, 200);
    assert_eq!(send(&addr, status.as_bytes()).0, 401);
    let trail = std::fs::read_to_string(w.dir.path().join(".ward/audit.jsonl")).expect("trail");
    assert!(trail.contains("login (full access)"), "{trail}");
    assert!(trail.contains("without its x-ward-csrf header"), "{trail}");
    assert!(
        trail.contains("POST /v1/login over HTTP with a wrong token"),
        "{trail}"
    );
    assert!(!trail.contains(full) && !trail.contains(&session.csrf));
}
