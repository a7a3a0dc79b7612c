//! A child shares ward's descriptor table until it leaves it with a copy of its stdio
//! alone (`stdio_slots`): nothing else of ward's reaches the program, ward keeps no copy of
//! the child's pipes afterwards, and spawns from several threads at once each get their
//! own stdio.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, OwnedFd};

mod common;

use ward_sys::spawn::{Spawned, spawn};

/// Spawns `argv` with its stdout on a new pipe, and hands back the child and the pipe's
/// read end; the write end exists only in the child.
fn with_stdout_pipe(argv: &[&str]) -> (Spawned, OwnedFd) {
    let (read, write) = rustix::pipe::pipe().expect("pipe");
    let child = spawn(common::plain(argv, write, Vec::new())).expect("spawn");
    (child, read)
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
    let listed = common::all_of(read);
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
                        let out = common::all_of(read);
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
