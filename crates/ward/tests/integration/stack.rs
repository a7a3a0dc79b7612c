//! The example stack of `examples/stack`, with the real programs it names: a migration
//! task, redis (ready over sd_notify), a Python app behind nginx (HTTP probes), a nightly
//! report. It starts in dependency order (as `ward history` shows), serves through nginx,
//! runs its scheduled job on demand, and recovers its app.

use std::io::{Read, Write};
use std::net::TcpStream;

use rustix::process::Signal;
use ward_api::UnitState;

use crate::fixture::{Ward, external, kill, wait_for};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/stack");

/// `GET path` from nginx's port: (status, body).
fn get(path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect("127.0.0.1:18081").ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text.split("\r\n\r\n").nth(1)?.to_string()))
}

#[test]
fn the_example_stack_starts_in_order_and_serves_through_nginx() {
    // /usr/bin/python3 is what the services find on ward's PATH.
    let needed = ["nginx", "redis-server", "python3"];
    if needed.iter().any(|p| external(p).is_none()) {
        return;
    }
    let toml = std::fs::read_to_string(format!("{EXAMPLE}/ward.toml")).expect("ward.toml");
    let mut w = Ward::new(&toml);
    for file in ["migrate.py", "app.py", "report.py", "nginx.conf"] {
        std::fs::copy(format!("{EXAMPLE}/{file}"), w.dir.path().join(file)).expect(file);
    }
    w.start_daemon();

    let nginx = w.wait_unit("nginx", "healthy", |s| {
        s.health.as_deref() == Some("healthy")
    });
    let (status, body) = wait_for("a page through nginx", || get("/"));
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("hello from app"), "{body}");
    let migrate = w.unit("migrate");
    assert_eq!(migrate.state, UnitState::Completed);
    let cache = w.unit("cache");
    assert!(cache.ready, "redis said READY=1: {cache:?}");
    assert_eq!(
        cache.status_text.as_deref(),
        Some("Ready to accept connections")
    );
    let report = w.unit("report");
    assert_eq!(report.state, UnitState::Stopped);
    assert!(report.next_run_ms.is_some(), "{report:?}");

    // The start order, from the journal.
    let history = w.ok(&["history"]);
    let at = |service: &str, what: &str| {
        history
            .lines()
            .position(|l| {
                let mut fields = l.split_whitespace().skip(1);
                fields.next() == Some(service)
                    && fields.collect::<Vec<_>>().join(" ").starts_with(what)
            })
            .unwrap_or_else(|| panic!("no `{service} {what}` in\n{history}"))
    };
    let started = |service: &str| at(service, "start pid");
    assert!(at("migrate", "state running -> completed") < started("app"));
    assert!(started("cache") < started("app"));
    assert!(at("app", "health starting -> healthy") < started("nginx"));
    assert!(at("nginx", "recovery pre_start hook succeeded") < started("nginx"));

    // The nightly job, now.
    w.ok(&["start", "report"]);
    w.wait_state("report", "completed");
    let reports = std::fs::read_to_string(w.dir.path().join("reports.log")).expect("report");
    assert!(reports.contains("visits="), "{reports}");

    // The app dies; nginx stays, the app comes back healthy, and the page with it.
    let app = w.unit("app").pid.expect("app pid");
    kill(app, Signal::KILL);
    w.wait_unit("app", "back and healthy", |s| {
        s.pid.is_some_and(|p| p != app) && s.health.as_deref() == Some("healthy")
    });
    assert_eq!(w.unit("nginx").pid, nginx.pid, "nginx was not restarted");
    wait_for("the page again", || get("/").filter(|(s, _)| *s == 200));
    assert!(
        w.log("app").contains("app stopped: killed by SIGKILL"),
        "post_stop ran"
    );
    w.ok(&["down"]);
    w.wait_daemon_exit();
}
