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
