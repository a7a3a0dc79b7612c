//! Health checks, readiness and the watchdog: a real probe failing, a real process that
//! stops sending WATCHDOG=1, and the `hung` verdicts that follow.

use std::fs;

use crate::fixture::{Ward, sleeps, testbin};

/// `ward why --json` once the unit's verdict is `hung` and a new run has begun.
fn hung_and_restarted(w: &Ward, unit: &str) -> serde_json::Value {
    w.wait_unit(unit, "a hung verdict and a restart", |s| {
        s.verdict.as_ref().is_some_and(|v| v.class == "hung") && s.spawns >= 2
    });
    let out = w.cli(&["why", unit, "--json"]);
    serde_json::from_slice(&out.stdout).expect("why json")
}

#[test]
fn a_failing_command_probe_makes_the_service_hung_and_ward_restarts_it() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.api]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nmin_uptime = \"0s\"\n\
         backoff = {{ initial = \"50ms\" }}\n\
         health = {{ command = [\"/bin/sh\", \"-c\", \"test ! -f sick || exit 7\"], interval = \"100ms\", retries = 2 }}\n"
    ));
    let s = w.wait_unit("api", "healthy", |s| s.health.as_deref() == Some("healthy"));
    assert!(
        s.ready,
        "ready = healthy by default with a health check: {s:?}"
    );
    std::fs::write(w.dir.path().join("sick"), "").unwrap();
    let v = hung_and_restarted(&w, "api");
    let evidence = v["evidence"].to_string();
    assert!(
        evidence.contains("its health check failed 2 time(s) in a row (retries 2); last: the probe ended with exit 7"),
        "{v}"
    );
    assert!(evidence.contains("ward stopped it for that"), "{v}");
    assert_eq!(v["strategy"], "restart", "{v}");
    // Healthy again once the cause is gone; the restarts stop.
    std::fs::remove_file(w.dir.path().join("sick")).unwrap();
    w.wait_unit("api", "healthy again", |s| {
        s.health.as_deref() == Some("healthy")
    });
    let history = w.ok(&["history", "api"]);
    assert!(
        history.contains("hung: its health check failed"),
        "{history}"
    );
}

#[test]
fn a_probe_past_its_timeout_fails_and_a_tcp_probe_needs_a_listener() {
    let bin = testbin();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let w = Ward::up(&format!(
        "[services.slow]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nmin_uptime = \"0s\"\n\
         health = {{ command = [\"/bin/sleep\", \"30\"], interval = \"100ms\", timeout = \"200ms\", retries = 1 }}\n\
         [services.net]\ncommand = [\"{bin}\", \"listen\", \"300\", \"300\"]\nenv = {{ PORT = \"{port}\" }}\n\
         min_uptime = \"0s\"\n\
         health = {{ tcp = \"127.0.0.1:{port}\", interval = \"100ms\", retries = 50 }}\n"
    ));
    let v = hung_and_restarted(&w, "slow");
    assert!(
        v["evidence"]
            .to_string()
            .contains("the probe timed out after 200ms"),
        "{v}"
    );
    // Refused until the listener is up 300 ms after the start, then healthy.
    let s = w.wait_unit("net", "healthy", |s| s.health.as_deref() == Some("healthy"));
    assert_eq!(s.spawns, 1, "{s:?}");
    let log = w.log("net");
    assert!(log.contains("health check passed: healthy"), "{log}");
}

#[test]
fn a_watchdog_that_stops_being_fed_makes_the_service_hung() {
    let bin = testbin();
    // Ready after 100 ms, then 4 pings 100 ms apart, then silence past the 400 ms watchdog.
    let w = Ward::up(&format!(
        "[services.feeder]\ncommand = [\"{bin}\", \"notify\", \"100\", \"100\", \"4\"]\n\
         min_uptime = \"0s\"\nready = \"notify\"\nwatchdog = \"400ms\"\n\
         backoff = {{ initial = \"50ms\" }}\n"
    ));
    let s = w.wait_unit("feeder", "ready", |s| s.ready);
    assert_eq!(s.status_text.as_deref(), Some("serving"), "{s:?}");
    let v = hung_and_restarted(&w, "feeder");
    assert!(
        v["evidence"]
            .to_string()
            .contains("no WATCHDOG=1 within its watchdog interval of 400ms"),
        "{v}"
    );
    // It was fed for its first ~500 ms: the watchdog did not fire early.
    let log = w.log("feeder");
    let first = log
        .find("out pings over; hanging")
        .expect("the pings ended");
    let hung = log.find("hung (no WATCHDOG=1").expect("hung noted");
    assert!(first < hung, "{log}");
}

/// A probe that leaves its tree (a double fork into a session of its own) and outlives its
/// timeout is killed whole: the process ward started and the one that got away. Before,
/// only its PID was killed, and the rest ran on.
#[test]
fn a_probe_that_times_out_is_killed_with_everything_it_started() {
    let bin = testbin();
    let mark = format!("{}1", 30_000 + std::process::id() % 10_000);
    let away = format!("{}2", 30_000 + std::process::id() % 10_000);
    let w = Ward::up(&format!(
        "[services.api]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n\
         health = {{ command = [\"/bin/sh\", \"-c\", \"(setsid sleep {away} &); sleep {mark}\"], interval = \"60s\", timeout = \"500ms\", retries = 5 }}\n"
    ));
    crate::fixture::wait_for("the probe and the process that left it", || {
        (!sleeps(&mark).is_empty() && !sleeps(&away).is_empty()).then_some(())
    });
    crate::fixture::wait_for("both gone after the timeout", || {
        (sleeps(&mark).is_empty() && sleeps(&away).is_empty()).then_some(())
    });
    let s = w.wait_unit("api", "the timeout recorded", |s| s.health_last.is_some());
    assert!(
        s.health_last
            .as_deref()
            .is_some_and(|l| l.contains("timed out")),
        "{s:?}"
    );
    assert_eq!(s.state, ward_api::UnitState::Running);
}

/// Stopping a unit stops its probe in progress, and what the probe started.
#[test]
fn stopping_a_unit_stops_its_probe_and_what_it_started() {
    let bin = testbin();
    let mark = format!("{}3", 30_000 + std::process::id() % 10_000);
    let away = format!("{}4", 30_000 + std::process::id() % 10_000);
    let w = Ward::up(&format!(
        "[services.api]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n\
         health = {{ command = [\"/bin/sh\", \"-c\", \"(setsid sleep {away} &); sleep {mark}\"], interval = \"60s\", timeout = \"300s\" }}\n"
    ));
    crate::fixture::wait_for("the probe and the process that left it", || {
        (!sleeps(&mark).is_empty() && !sleeps(&away).is_empty()).then_some(())
    });
    w.ok(&["stop", "api"]);
    crate::fixture::wait_for("both gone after the stop", || {
        (sleeps(&mark).is_empty() && sleeps(&away).is_empty()).then_some(())
    });
    let log = w.log("api");
    assert!(log.contains("health stopped with its unit"), "{log}");
    assert_eq!(w.unit("api").state, ward_api::UnitState::Stopped);
}

/// Where ward has cgroups, a probe runs in one of its own: a process it started that left
/// its tree *and* cleared its environment (so no marker names it) is still found and
/// killed, and the probe's cgroup goes with the daemon.
#[test]
fn a_probe_in_its_own_cgroup_loses_nothing_that_clears_its_environment() {
    let bin = testbin();
    let mark = format!("{}5", 30_000 + std::process::id() % 10_000);
    let away = format!("{}6", 30_000 + std::process::id() % 10_000);
    let mut w = Ward::up(&format!(
        "[services.api]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n\
         health = {{ command = [\"/bin/sh\", \"-c\", \"(setsid env -i /bin/sleep {away} &); sleep {mark}\"], interval = \"60s\", timeout = \"500ms\", retries = 5 }}\n"
    ));
    let state = w.dir.path().join(".ward");
    if crate::fixture::cgroups_of(&state).is_empty() {
        eprintln!(
            "SKIPPED: ward has no cgroups on this machine; the tree and marker are tested above"
        );
        return;
    }
    let escaped = crate::fixture::wait_for("the process that left the probe", || {
        sleeps(&away).first().copied()
    });
    let cgroup = fs::read_to_string(format!("/proc/{escaped}/cgroup")).unwrap_or_default();
    assert!(cgroup.contains("/api:health"), "{cgroup}");
    crate::fixture::wait_for("both gone after the timeout", || {
        (sleeps(&mark).is_empty() && sleeps(&away).is_empty()).then_some(())
    });
    w.ok(&["down"]);
    w.wait_daemon_exit();
    assert_eq!(
        crate::fixture::cgroups_of(&state),
        Vec::<std::path::PathBuf>::new()
    );
}

/// HTTP probes against a server no one here wrote (Python's `http.server`): healthy on a
/// 2xx with the body asked for; a 404 and a body without the text are failures named as
/// such.
#[test]
fn http_probes_judge_status_and_body_of_a_real_server() {
    let Some(python) = crate::fixture::external("python3") else {
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let w = Ward::new(&format!(
        "[services.site]\ncommand = [\"{python}\", \"-m\", \"http.server\", \"{port}\", \"--bind\", \"127.0.0.1\"]\n\
         health = {{ http = \"http://127.0.0.1:{port}/healthz\", expect_body = \"all good\", interval = \"200ms\" }}\n\
         [services.missing]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\ndepends_on = [\"site\"]\n\
         health = {{ http = \"http://127.0.0.1:{port}/nothing-here\", interval = \"200ms\", retries = 1 }}\n\
         [services.wrong]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\ndepends_on = [\"site\"]\n\
         health = {{ http = \"http://127.0.0.1:{port}/healthz\", expect_body = \"nope\", interval = \"200ms\", retries = 1 }}\n",
        python = python.display(),
        bin = testbin(),
    ));
    fs::write(w.dir.path().join("healthz"), "all good\n").expect("the page");
    let mut w = w;
    w.start_daemon();
    let site = w.wait_unit("site", "healthy by HTTP", |s| s.ready);
    assert_eq!(site.health.as_deref(), Some("healthy"), "{site:?}");
    let missing = w.wait_unit("missing", "its probe's failure", |s| {
        s.health_last
            .as_deref()
            .is_some_and(|l| l.contains("answered"))
    });
    assert_eq!(
        missing.health_last.as_deref(),
        Some("GET /nothing-here answered 404"),
        "{missing:?}"
    );
    let wrong = w.wait_unit("wrong", "its probe's failure", |s| {
        s.health_last.as_deref().is_some_and(|l| l.contains("body"))
    });
    assert_eq!(
        wrong.health_last.as_deref(),
        Some("GET /healthz answered without \"nope\" in its body"),
        "{wrong:?}"
    );
}
