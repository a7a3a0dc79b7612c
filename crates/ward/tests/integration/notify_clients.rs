//! Readiness over `NOTIFY_SOCKET` with real sd_notify clients that no one here wrote:
//! `systemd-notify` and `redis-server --supervised systemd`, under a relative state dir,
//! as a newcomer runs ward. Both refuse a relative socket path, so these prove that every
//! path ward hands a child is absolute.

use crate::fixture::{Ward, external};

#[test]
fn systemd_notify_makes_a_service_ready_under_a_relative_state_dir() {
    let Some(notify) = external("systemd-notify") else {
        return;
    };
    let w = Ward::up_relative(&format!(
        "[supervisor]\nstate_dir = \"st\"\n\n\
         [services.app]\n\
         command = [\"/bin/sh\", \"-c\", \"echo socket=$NOTIFY_SOCKET; {notify} --ready --status='warmed up' && exec sleep 100000\"]\n\
         ready = \"notify\"\n\n\
         [services.after]\ncommand = [\"sleep\", \"100000\"]\ndepends_on = [\"app\"]\n",
        notify = notify.display()
    ));
    let app = w.wait_unit("app", "ready by systemd-notify", |s| s.ready);
    assert_eq!(app.status_text.as_deref(), Some("warmed up"), "{app:?}");
    w.wait_state("after", "running");
    let log = std::fs::read_to_string(w.dir.path().join("st/logs/app.log")).expect("app log");
    let socket = log
        .lines()
        .find_map(|l| l.split_once("socket=").map(|(_, s)| s.to_string()))
        .expect("the service printed its NOTIFY_SOCKET");
    assert!(socket.starts_with('/'), "NOTIFY_SOCKET is {socket:?}");
    assert_eq!(
        std::path::Path::new(&socket),
        w.dir.path().join("st/notify.sock")
    );
}

#[test]
fn redis_server_supervised_by_systemd_protocol_becomes_ready() {
    let Some(redis) = external("redis-server") else {
        return;
    };
    let w = Ward::up_relative(&format!(
        "[supervisor]\nstate_dir = \"st\"\n\n\
         [services.redis]\n\
         command = [\"{redis}\", \"--supervised\", \"systemd\", \"--port\", \"0\", \"--unixsocket\", \"redis.sock\", \"--save\", \"\", \"--appendonly\", \"no\"]\n\
         ready = \"notify\"\n\n\
         [services.app]\ncommand = [\"sleep\", \"100000\"]\ndepends_on = [\"redis\"]\n",
        redis = redis.display()
    ));
    let s = w.wait_unit("redis", "ready by its own READY=1", |s| s.ready);
    let status = s.status_text.unwrap_or_default();
    assert!(status.contains("Ready to accept connections"), "{status:?}");
    w.wait_state("app", "running");
    let log = std::fs::read_to_string(w.dir.path().join("st/logs/redis.log")).expect("log");
    assert!(
        !log.contains("sd_notify: -"),
        "redis could not notify:\n{log}"
    );
    w.ok(&["stop", "redis"]);
}

/// A shell service fed by `systemd-notify WATCHDOG=1` stays up past several watchdog
/// intervals; one that asks for more time to stop (`EXTEND_TIMEOUT_USEC`) gets it and ends
/// cleanly instead of by SIGKILL.
#[test]
fn systemd_notify_feeds_the_watchdog_and_extends_a_stop() {
    let Some(notify) = external("systemd-notify") else {
        return;
    };
    let n = notify.display();
    let w = Ward::up(&format!(
        "[services.fed]\n\
         command = [\"/bin/sh\", \"-c\", \"{n} --ready; while :; do {n} WATCHDOG=1; sleep 0.1; done\"]\n\
         ready = \"notify\"\nwatchdog = \"1s\"\n\
         [services.slow]\n\
         command = [\"/bin/sh\", \"-c\", \"trap '{n} EXTEND_TIMEOUT_USEC=5000000; sleep 1.5; exit 0' TERM; {n} --ready; while :; do sleep 0.1; done\"]\n\
         ready = \"notify\"\nstop_timeout = \"500ms\"\n"
    ));
    let fed = w.wait_unit("fed", "ready", |s| s.ready);
    // Three watchdog intervals on, it is the same run.
    let later = w.wait_unit("fed", "up for 3s", |s| {
        s.uptime_ms.is_some_and(|u| u >= 3000)
    });
    assert_eq!((later.pid, later.restarts), (fed.pid, 0), "{later:?}");
    w.wait_unit("slow", "ready", |s| s.ready);
    w.ok(&["stop", "slow"]);
    let stopped = w.wait_state("slow", "stopped");
    let exit = stopped.last_exit.expect("its end");
    assert_eq!(exit.code, Some(0), "{exit:?}: {}", w.log("slow"));
    assert!(
        w.log("slow")
            .contains("the stop timeout is extended by 5s (EXTEND_TIMEOUT_USEC)"),
        "{}",
        w.log("slow")
    );
}
