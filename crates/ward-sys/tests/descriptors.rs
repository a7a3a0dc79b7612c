//! A child shares ward's descriptor table until it leaves it with a copy of its stdio
//! alone (`stdio_slots`): nothing else of ward's reaches the program, ward keeps no copy of
//! the child's pipes afterwards, and spawns from several threads at once each get their
//! own stdio.
#![allow(unsafe_code)]

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

mod common;

use ward_sys::spawn::{Spawned, spawn};

/// Spawns `argv` with its stdout on a new pipe, and hands back the child and the pipe's
/// read end; the write end exists only in the child.
fn with_stdout_pipe(argv: &[&str]) -> (Spawned, OwnedFd) {
    let (read, write) = rustix::pipe::pipe().expect("pipe");
    let child = spawn(common::plain(argv, write, Vec::new())).expect("spawn");
    (child, read)
}

/// Everything on `read` up to end of file, which comes only once no one holds the write
/// end; a test failure, not a hang, if it has not come within ten seconds.
fn all_of(read: OwnedFd) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut file = std::fs::File::from(read);
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd of this frame, for a descriptor `file` holds open.
        let ready = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as libc::c_int) };
        assert!(
            ready > 0,
            "no end of file within 10 s: a copy of the write end is still open; read so far {:?}",
            String::from_utf8_lossy(&out)
        );
        match file.read(&mut chunk).expect("read") {
            0 => return String::from_utf8_lossy(&out).into_owned(),
            n => out.extend_from_slice(&chunk[..n]),
        }
    }
}

fn reap(child: Spawned) {
    let _ = rustix::process::waitpid(
        rustix::process::Pid::from_raw(child.pidfd.pid() as i32),
        rustix::process::WaitOptions::empty(),
    );
}

#[test]
fn a_child_gets_its_stdio_and_nothing_else_and_ward_keeps_no_copy_of_its_pipe() {
    // A descriptor of ward's without close-on-exec, far above the slots.
    let stray = std::fs::File::open("/etc/hostname").expect("hostname");
    // SAFETY: F_DUPFD makes a new descriptor from an open one; it is closed below.
    let high = unsafe { libc::fcntl(stray.as_raw_fd(), libc::F_DUPFD, 700) };
    assert!(high >= 700, "{}", std::io::Error::last_os_error());
    let (child, read) = with_stdout_pipe(&["ls", "/proc/self/fd"]);
    let listed = all_of(read);
    reap(child);
    // SAFETY: `high` was made above and is owned by no one else.
    unsafe { libc::close(high) };
    let fds: Vec<&str> = listed.split_whitespace().collect();
    // 0 to 2, and the directory `ls` itself opened.
    assert!(
        fds.len() <= 4 && fds.starts_with(&["0", "1", "2"]),
        "{fds:?}"
    );
    assert!(!fds.contains(&high.to_string().as_str()), "{fds:?}");
}

#[test]
fn spawns_from_several_threads_at_once_each_get_their_own_stdio() {
    let threads: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                (0..10)
                    .map(|round| {
                        let word = format!("thread{i}-round{round}");
                        let (child, read) = with_stdout_pipe(&["echo", &word]);
                        let out = all_of(read);
                        reap(child);
                        (word, out)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        for (word, out) in t.join().expect("thread") {
            assert_eq!(out.trim(), word);
        }
    }
}
