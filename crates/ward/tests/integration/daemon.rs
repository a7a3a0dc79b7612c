//! The daemon itself: one per state dir, signals, detaching, shutting down.

use std::time::{Duration, Instant};

use rustix::process::Signal;
use ward_api::UnitState;

use crate::fixture::{Ward, alive, kill, sleepers, testbin, wait_for};

#[test]
fn a_second_daemon_on_the_same_state_dir_is_refused() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    let pid = w.wait_state("s", "running").pid;
    let out = w.cli(&["up"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("another ward daemon (pid {})", w.daemon_pid())),
        "{err}"
    );
    assert!(err.contains("already runs on this state dir"), "{err}");
    // The first daemon is untouched.
    assert_eq!(w.unit("s").pid, pid);
}

#[test]
fn sigterm_stops_every_service_and_exits_zero() {
    let bin = testbin();
    let mut toml = String::new();
    for i in 0..5 {
        toml.push_str(&format!(
            "[services.s{i}]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
        ));
    }
    let mut w = Ward::up(&toml);
    let pids: Vec<u32> = (0..5)
        .map(|i| w.wait_state(&format!("s{i}"), "running").pid.expect("pid"))
        .collect();
    kill(w.daemon_pid(), Signal::TERM);
    assert_eq!(w.wait_daemon_exit(), 0, "{}", w.daemon_log());
    for pid in pids {
        assert!(!alive(pid), "{pid} outlived the daemon");
    }
    assert!(!w.dir.path().join(".ward/ward.sock").exists());
    assert!(!w.dir.path().join(".ward/ward.pid").exists());
}

#[test]
fn a_second_sigint_forces_the_shutdown() {
    let bin = testbin();
    let mut w = Ward::up(&format!(
        "[services.stubborn]\ncommand = [\"{bin}\", \"ignore-term\", \"300\"]\nstop_timeout = \"5m\"\n"
    ));
    let pid = w.wait_state("stubborn", "running").pid.expect("pid");
    wait_for("the SIGTERM handler", || {
        w.log("stubborn").contains("ignoring SIGTERM").then_some(())
    });
    kill(w.daemon_pid(), Signal::INT);
    w.wait_state("stubborn", "stopping");
    kill(w.daemon_pid(), Signal::INT);
    assert_eq!(w.wait_daemon_exit(), 0);
    assert!(!alive(pid));
}

#[test]
fn up_detached_returns_once_the_socket_answers_and_down_leaves_nothing() {
    let bin = testbin();
    let w = Ward::new(&format!(
        "[services.a]\ncommand = [\"{bin}\", \"tree\", \"300\"]\n\
         [services.b]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\ninstances = 2\n"
    ));
    let out = w.ok(&["up", "-d"]);
    assert!(out.contains("ward is up (pid"), "{out}");
    // Answering right away, without any wait: that is what -d promises.
    let st = w.status();
    assert_eq!(st.services.len(), 3);
    let daemon = st.daemon.pid;
    w.wait_state("b.1", "running");
    w.logged_pid("a", "grandchild");
    assert!(!w.processes_here().is_empty());
    let out = w.ok(&["down"]);
    assert!(out.contains("ward is down"), "{out}");
    assert!(w.processes_here().is_empty(), "{:?}", w.processes_here());
    wait_for("the detached daemon to exit", || {
        (!alive(daemon)).then_some(())
    });
    let out = w.cli(&["status"]);
    assert_eq!(out.status.code(), Some(3), "no daemon: exit code 3");
}

/// A request that reaches the daemon after its loop's last turn is answered at once:
/// `ward status` with the final state, anything else with a refusal. Here they follow a
/// shutdown on the same connection, so they arrive just after the shutdown is answered,
/// when the loop has ended. They used to wait for the loop that no longer listened,
/// holding the connection's slot, until the daemon gave up waiting for its connections
/// two seconds later.
#[test]
fn a_request_after_the_last_turn_is_answered_at_once() {
    let bin = testbin();
    let mut w = Ward::up(&format!(
        "[services.a]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    w.wait_state("a", "running");
    let socket = std::os::unix::net::UnixStream::connect(w.dir.path().join(".ward/ward.sock"))
        .expect("connect");
    let t = Instant::now();
    let (code, answers) = crate::fixture::exchange(
        socket,
        b"POST /v1/shutdown HTTP/1.1\r\nHost: ward\r\nContent-Length: 0\r\n\r\n\
          GET /v1/status HTTP/1.1\r\nHost: ward\r\n\r\n\
          GET /livez HTTP/1.1\r\nHost: ward\r\nConnection: close\r\n\r\n",
    );
    let took = t.elapsed();
    assert_eq!(code, 200, "the shutdown: {answers}");
    let nth = |n: usize| {
        answers
            .match_indices("HTTP/1.1 ")
            .nth(n)
            .map(|(i, _)| &answers[i..])
            .unwrap_or_else(|| panic!("no answer {n}: {answers}"))
    };
    assert!(nth(1).starts_with("HTTP/1.1 200"), "{}", nth(1));
    assert!(nth(1).contains("\"state\":\"stopped\""), "{}", nth(1));
    assert!(nth(2).starts_with("HTTP/1.1 503"), "{}", nth(2));
    assert!(nth(2).contains("shutting down"), "{}", nth(2));
    assert!(
        took < Duration::from_millis(1500),
        "the answers took {took:?}"
    );
    assert_eq!(w.wait_daemon_exit(), 0);
}

/// `ward status` is answered through a whole `ward down`, up to the journal's last commit:
/// every status asked on a new connection while the daemon still accepts one is a `200`.
/// At 6,400 units a status asked while that commit ran was told `503`.
#[test]
fn status_is_answered_until_the_daemon_stops_accepting() {
    let mut w = Ward::up(&sleepers(100));
    w.wait_all_running("100 services running");
    let socket = w.dir.path().join(".ward/ward.sock");
    let asker = std::thread::spawn(move || {
        let mut codes = Vec::new();
        // Until no connection is accepted any more; a connection accepted as the socket
        // closes may end without an answer (code 0), as docs/api.md says.
        while let Ok(s) = std::os::unix::net::UnixStream::connect(&socket) {
            let (code, answer) = crate::fixture::exchange(
                s,
                b"GET /v1/status HTTP/1.1\r\nHost: ward\r\nConnection: close\r\n\r\n",
            );
            codes.push((code, answer.lines().next().unwrap_or_default().to_string()));
        }
        codes
    });
    let out = w.ok(&["down"]);
    assert!(out.contains("ward is down"), "{out}");
    assert_eq!(w.wait_daemon_exit(), 0);
    let codes = asker.join().expect("asker");
    assert!(
        codes.iter().filter(|(c, _)| *c == 200).count() > 1,
        "{codes:?}"
    );
    assert!(codes.iter().all(|(c, _)| *c == 200 || *c == 0), "{codes:?}");
}

#[test]
fn a_stop_does_not_hold_up_status() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.slow]\ncommand = [\"{bin}\", \"ignore-term\", \"300\"]\nstop_timeout = \"2s\"\n\
         [services.fast]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    w.wait_state("slow", "running");
    wait_for("the SIGTERM handler", || {
        w.log("slow").contains("ignoring SIGTERM").then_some(())
    });
    let stopper = std::process::Command::new(crate::fixture::ward_bin())
        .arg("-c")
        .arg(&w.config)
        .args(["stop", "slow"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn stop");
    w.wait_state("slow", "stopping");
    let t = Instant::now();
    assert_eq!(w.unit("fast").state, UnitState::Running);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "status waited for the stop"
    );
    let mut stopper = stopper;
    assert!(stopper.wait().expect("wait").success());
    assert_eq!(w.unit("slow").state, UnitState::Stopped);
}

#[test]
fn ward_log_filters_the_daemons_own_log_and_a_bad_one_is_named() {
    let toml = format!(
        "[services.s]\ncommand = [\"{}\", \"sleep\", \"300\"]\n",
        testbin()
    );
    let mut quiet = Ward::new(&toml);
    quiet.start_daemon_with_env(&[("WARD_LOG", "warn")]);
    quiet.wait_state("s", "running");
    let mut bad = Ward::new(&toml);
    bad.start_daemon_with_env(&[("WARD_LOG", "ward=loud")]);
    bad.wait_state("s", "running");
    for w in [&mut quiet, &mut bad] {
        kill(w.daemon_pid(), Signal::TERM);
        assert_eq!(w.wait_daemon_exit(), 0, "{}", w.daemon_log());
    }
    let log = quiet.daemon_log();
    assert!(
        !log.contains(" INFO "),
        "info lines under WARD_LOG=warn:\n{log}"
    );
    let log = bad.daemon_log();
    assert!(
        log.contains("WARD_LOG=\"ward=loud\" is not a filter"),
        "the bad filter is not named:\n{log}"
    );
    assert!(log.contains(" INFO "), "no fallback to info:\n{log}");
}

/// Every path below `dir`, with the content of each regular file (and `<dir>`, `<socket>`
/// or `<other>` for the rest), sorted.
fn tree(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = e.path();
            let kind = e.file_type().expect("file type");
            let what = if kind.is_dir() {
                todo.push(path.clone());
                "<dir>".to_string()
            } else if kind.is_file() {
                std::fs::read_to_string(&path).unwrap_or_else(|_| "<binary>".into())
            } else if std::os::unix::fs::FileTypeExt::is_socket(&kind) {
                "<socket>".to_string()
            } else {
                "<other>".to_string()
            };
            out.push((path, what));
        }
    }
    out.sort();
    out
}

/// A regular file at the socket path is never removed: `ward up` refuses, names it, and
/// leaves the host as it found it: no PID file, journal, directory or cgroup of its own.
#[test]
fn a_file_in_the_sockets_way_survives_a_refused_up_and_nothing_is_left() {
    let w = Ward::new(&format!(
        "[supervisor]\nruntime_dir = \"rt\"\n\
         [services.s]\ncommand = [\"{}\", \"sleep\", \"300\"]\n",
        testbin()
    ));
    let state_dir = w.dir.path().join(".ward");
    std::fs::create_dir(&state_dir).expect("state dir");
    let in_the_way = state_dir.join("ward.sock");
    std::fs::write(&in_the_way, "my notes, not a socket\n").expect("file");
    let before = tree(w.dir.path());
    let out = w.up_refused();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {}", in_the_way.display()))
            && stderr.contains("a file that is not a socket is in the way"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&in_the_way).expect("the file survives"),
        "my notes, not a socket\n"
    );
    assert_eq!(
        tree(w.dir.path()),
        before,
        "the failed start left files behind"
    );
    assert_eq!(
        crate::fixture::cgroups_of(&state_dir),
        Vec::<std::path::PathBuf>::new()
    );
    assert!(w.processes_here().is_empty());
}

/// A socket that another program listens on is not a leftover: `ward up` refuses and
/// leaves it bound.
#[test]
fn a_socket_another_program_listens_on_is_not_taken() {
    let w = Ward::new("");
    let state_dir = w.dir.path().join(".ward");
    std::fs::create_dir(&state_dir).expect("state dir");
    let path = state_dir.join("ward.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    let out = w.up_refused();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("another program listens on it"), "{stderr}");
    // Still the test's socket: a client reaches this listener.
    let _client = std::os::unix::net::UnixStream::connect(&path).expect("still bound");
    listener.accept().expect("accepted by the test's listener");
    assert!(!state_dir.join("ward.pid").exists());
    assert_eq!(
        crate::fixture::cgroups_of(&state_dir),
        Vec::<std::path::PathBuf>::new()
    );
}
