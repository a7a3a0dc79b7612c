//! `GET /metrics`, checked by Prometheus's own `promtool` on a daemon with units in every
//! state.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use crate::fixture::{Ward, external, testbin};

/// The whole answer to `GET path`, headers and body.
fn get(w: &Ward, path: &str) -> (String, String) {
    let mut s = UnixStream::connect(w.dir.path().join(".ward/ward.sock")).expect("connect");
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: ward\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .expect("write");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
    (head.to_string(), body.to_string())
}

#[test]
fn metrics_of_units_in_every_state_pass_promtool() {
    let Some(promtool) = external("promtool") else {
        return;
    };
    let bin = testbin();
    let w = Ward::up(&format!(
        "[supervisor]\nsample_interval = \"200ms\"\nsample_pss = true\n\
         [services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n\
         health = {{ command = [\"/bin/true\"], interval = \"200ms\" }}\n\
         [services.idle]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nautostart = false\n\
         [services.done]\ncommand = [\"/bin/true\"]\nrestart = \"never\"\nmin_uptime = \"0s\"\n\
         [services.crashy]\ncommand = [\"{bin}\", \"crash\", \"SEGV\"]\nmin_uptime = \"0s\"\n\
         backoff = {{ initial = \"60s\", max = \"60s\" }}\n\
         [services.broken]\ncommand = [\"/bin/false\"]\nstart_limit = {{ burst = 1, interval = \"60s\" }}\n\
         backoff = {{ initial = \"10ms\" }}\n\
         [services.pool]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\ninstances = 2\n"
    ));
    w.wait_unit("web", "healthy with a sample", |s| {
        s.ready && s.usage.is_some()
    });
    w.wait_state("done", "exited");
    w.wait_state("crashy", "backoff");
    w.wait_state("broken", "failed");
    let (head, body) = get(&w, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    for line in [
        "ward_service_up{service=\"web\",unit=\"web\"} 1",
        "ward_service_up{service=\"idle\",unit=\"idle\"} 0",
        "ward_service_state{service=\"broken\",state=\"failed\",unit=\"broken\"} 1",
        "ward_service_state{service=\"crashy\",state=\"backoff\",unit=\"crashy\"} 1",
        "ward_service_state{service=\"done\",state=\"exited\",unit=\"done\"} 1",
        "ward_service_state{service=\"idle\",state=\"stopped\",unit=\"idle\"} 1",
        "ward_service_health{service=\"web\",unit=\"web\"} 1",
        "ward_service_crashes_total{class=\"segfault\",service=\"crashy\",unit=\"crashy\"} 1",
        "ward_service_restarts_total{reason=\"segfault\",service=\"crashy\",unit=\"crashy\"} 1",
        "ward_service_up{service=\"pool\",unit=\"pool.1\"} 1",
        "ward_units 7",
        "# TYPE ward_service_cpu_seconds_total counter",
        "# TYPE ward_service_memory_rss_bytes gauge",
        "# TYPE ward_service_memory_pss_bytes gauge",
    ] {
        assert!(
            body.lines().any(|l| l == line) || body.contains(line),
            "no `{line}` in\n{body}"
        );
    }
    let rss = body
        .lines()
        .find_map(|l| {
            l.strip_prefix("ward_service_memory_rss_bytes{service=\"web\",unit=\"web\"} ")
        })
        .and_then(|v| v.parse::<f64>().ok())
        .expect("web's rss");
    assert!(rss > 100_000.0, "{rss}");
    // Prometheus's own checker reads it as it would scrape it.
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    check
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("feed promtool");
    let out = check.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool: {}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
