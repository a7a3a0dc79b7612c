//! The socket and the CLI under careless and hostile use: a daemon that does not answer,
//! clients that hold connections open.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;

use rustix::process::Signal;

use crate::fixture::{Ward, bounded, kill, testbin, wait_for};

/// What has arrived on `s` so far, without waiting; `None` once the daemon closed it.
fn arrived(s: &UnixStream) -> Option<Vec<u8>> {
    s.set_nonblocking(true).expect("nonblocking");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match (&*s).read(&mut buf) {
            Ok(0) if got.is_empty() => return None,
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Some(got),
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Sends SIGCONT when dropped, so that the fixture can stop the daemon whatever failed.
struct Continue(u32);

impl Drop for Continue {
    fn drop(&mut self) {
        kill(self.0, Signal::CONT);
    }
}

#[test]
fn the_cli_gives_up_on_a_stopped_daemon() {
    let w = Ward::up("");
    let daemon = w.daemon_pid();
    kill(daemon, Signal::STOP);
    let _cont = Continue(daemon);
    // An older CLI waited here forever.
    let out = bounded(w.cli_command(&["--timeout", "1s", "status"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let socket = w.dir.path().join(".ward/ward.sock");
    assert!(
        stderr.starts_with(&format!(
            "ward: no answer from the ward daemon on {} within 1s\n  hint: a daemon that is stopped (SIGSTOP)",
            socket.display()
        )),
        "{stderr}"
    );
    let out = bounded(w.cli_command(&["stop", "--all", "--timeout", "500ms"]));
    assert_eq!(out.status.code(), Some(3));
    kill(daemon, Signal::CONT);
    assert!(
        w.status().services.is_empty(),
        "it answers once it runs again"
    );
}

#[test]
fn status_answers_while_64_idle_connections_are_held_open() {
    let w = Ward::up("");
    let socket = w.dir.path().join(".ward/ward.sock");
    let idle: Vec<UnixStream> = (0..64)
        .map(|_| UnixStream::connect(&socket).expect("connect"))
        .collect();
    let out = bounded(w.cli_command(&["status"]));
    assert!(out.status.success(), "{out:?}");
    // They were all still open when status was answered. An older daemon gave each of
    // them one of its 64 slots, and answered status only once its 10 s header timeout had
    // closed some.
    for s in &idle {
        assert_eq!(
            arrived(s),
            Some(Vec::new()),
            "an idle connection was closed before status was answered"
        );
    }
    // And the daemon closes them itself, soon: none holds anything for long.
    wait_for("the daemon to close the idle connections", || {
        idle.iter().all(|s| arrived(s).is_none()).then_some(())
    });
}

#[test]
fn status_keeps_a_slot_while_every_other_waits_for_a_stop() {
    let w = Ward::up(&format!(
        "[services.slow]\ncommand = [\"{}\", \"ignore-term\", \"300\"]\nstop_timeout = \"300s\"\n",
        testbin()
    ));
    let pid = w.wait_state("slow", "running").pid.expect("pid");
    wait_for("the service to ignore SIGTERM", || {
        w.log("slow").contains("ignoring SIGTERM").then_some(())
    });
    let socket = w.dir.path().join(".ward/ward.sock");
    let body = r#"{"names": ["slow"]}"#;
    let request = format!(
        "POST /v1/stop HTTP/1.1\r\nhost: ward\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    // 64 stops, each answered only once the service is down: five minutes from now.
    let stops: Vec<UnixStream> = (0..64)
        .map(|_| {
            let mut s = UnixStream::connect(&socket).expect("connect");
            s.write_all(request.as_bytes()).expect("write");
            s
        })
        .collect();
    // 63 of them hold every general slot; the last found only the one kept for status,
    // and was told so at once. An older daemon served all 64 and had no slot left.
    let mut answers: Vec<Option<Vec<u8>>> = vec![Some(Vec::new()); stops.len()];
    let busy = wait_for("a stop refused for want of a slot", || {
        for (s, seen) in stops.iter().zip(answers.iter_mut()) {
            if let (Some(seen), Some(new)) = (seen.as_mut(), arrived(s)) {
                seen.extend(new);
            }
        }
        answers
            .iter()
            .flatten()
            .find(|a| a.starts_with(b"HTTP/1.1 503"))
            .map(|a| String::from_utf8_lossy(a).into_owned())
    });
    assert!(
        busy.contains("all 63 connection slots of the daemon are taken; the last one is kept for GET /v1/status"),
        "{busy}"
    );
    let out = bounded(w.cli_command(&["status"]));
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("stopping"));
    let out = bounded(w.cli_command(&["start", "slow"]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("connection slots"));
    let waiting = answers
        .iter()
        .filter(|a| a.as_ref().is_some_and(|a| a.is_empty()))
        .count();
    assert_eq!(waiting, 63, "every other stop still waits for its answer");

    // Once the service is gone, each of them is answered.
    kill(pid, Signal::KILL);
    w.wait_state("slow", "stopped");
}
