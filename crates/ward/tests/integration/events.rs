//! The live event stream: every event of a scripted sequence, in order, and a reader that
//! never reads is dropped without slowing the daemon.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::fixture::{DEADLINE, Ward, testbin, wait_for};

#[test]
fn the_stream_delivers_a_scripted_sequence_in_order() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n\
         [services.other]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    w.wait_state("web", "running");
    w.wait_state("other", "running");
    let mut follower = Command::new(crate::fixture::ward_bin())
        .arg("-c")
        .arg(&w.config)
        .args(["events", "-f", "--json", "--service", "web"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ward events -f");
    let mut lines = BufReader::new(follower.stdout.take().expect("stdout")).lines();
    // The stream is open once a first event arrives: provoke one until it does.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = wait_for("the follower to see a first event", || {
        w.ok(&["restart", "web"]);
        rx.recv_timeout(Duration::from_millis(500)).ok()
    });
    drop(first);
    // Drain what the provoking restarts made, up to their last event (the run they left
    // becoming `running`), then script the sequence.
    wait_for("the provoked run to be running in the stream", || {
        rx.recv_timeout(Duration::from_millis(200))
            .ok()
            .filter(|l| l.contains("\"detail\":\"starting -> running\""))
    });
    w.ok(&["stop", "web"]);
    w.ok(&["restart", "other"]);
    w.ok(&["start", "web"]);
    w.wait_state("web", "running");
    let expected = [
        ("state", "running -> stopping"),
        ("exit", "killed by SIGTERM"),
        ("state", "stopping -> stopped"),
        ("state", "stopped -> starting"),
        ("start", "pid "),
        ("state", "starting -> running"),
    ];
    let mut seen: Vec<serde_json::Value> = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while seen.iter().filter(|e| e["unit"] == "web").count() < expected.len()
        && Instant::now() < deadline
    {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(serde_json::from_str(&line).expect("a JSON event"));
        }
    }
    let _ = follower.kill();
    let _ = follower.wait();
    // Only web's events, each of the script's in order, numbered upwards.
    assert!(seen.iter().all(|e| e["unit"] == "web"), "{seen:#?}");
    let got: Vec<(String, String)> = seen
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or("").to_string(),
                e["detail"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for ((kind, detail), (want_kind, want_detail)) in got.iter().zip(expected) {
        assert_eq!(kind, want_kind, "{got:#?}");
        assert!(
            detail.contains(want_detail),
            "{detail} for {want_detail}: {got:#?}"
        );
    }
    let seqs: Vec<u64> = seen.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|p| p[0] < p[1]), "{seqs:?}");
    // The typed fields are there: an exit carries its signal.
    let exit = seen.iter().find(|e| e["kind"] == "exit").expect("the exit");
    assert_eq!(exit["signal"], "SIGTERM", "{exit}");
}

#[test]
fn a_reader_that_never_reads_is_dropped_and_delays_nothing() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.loop]\ncommand = \"/bin/false\"\nmin_uptime = \"0s\"\n\
         backoff = {{ initial = \"5ms\", max = \"5ms\", jitter = 0 }}\n\
         start_limit = {{ burst = 10000, interval = \"1s\" }}\n\
         [services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    w.wait_state("web", "running");
    let mut stalled = UnixStream::connect(w.dir.path().join(".ward/ward.sock")).expect("connect");
    stalled
        .write_all(b"GET /v1/events HTTP/1.1\r\nHost: ward\r\n\r\n")
        .expect("ask");
    // The crash loop makes events far faster than nobody reads them; a restart meanwhile
    // is answered as ever.
    let started = Instant::now();
    w.ok(&["restart", "web"]);
    w.wait_state("web", "running");
    let took = started.elapsed();
    // The reader is cut off once it is behind, and the daemon says so; its connection
    // then reaches its end after what was already on its way.
    wait_for("the daemon to drop the reader", || {
        w.daemon_log().contains("did not keep up").then_some(())
    });
    stalled
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut got = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    let ended = loop {
        let mut buf = [0u8; 65536];
        if Instant::now() > deadline {
            break false;
        }
        match stalled.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    };
    assert!(
        ended,
        "the stalled reader was never dropped ({} bytes read)",
        got.len()
    );
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.contains("event: exit"),
        "it got events before it was dropped"
    );
    eprintln!(
        "restart with a stalled reader took {took:?}; the reader got {} bytes",
        got.len()
    );
    // The daemon goes on.
    assert_eq!(w.unit("web").state, ward_api::UnitState::Running);
}
