//! `launch` returns while its child may still be on its way to exec, so that the thread
//! prepares the next one meanwhile: several children in flight at once each get their own
//! stdio and nothing else, `finish` reports a failed step as `spawn` does, and a launch
//! dropped unfinished still lets its child run.

use std::os::fd::OwnedFd;

mod common;

use ward_sys::spawn::{ChildStep, Launched, SpawnError, launch};

/// Launches `argv` with its stdout on a new pipe: the launch and the pipe's read end.
fn with_stdout_pipe(argv: &[&str]) -> (Launched, OwnedFd) {
    let (read, write) = rustix::pipe::pipe().expect("pipe");
    let child = launch(common::plain(argv, write, Vec::new())).expect("launch");
    (child, read)
}

/// Waits for `pid` to end: its exit code.
fn reap(pid: u32) -> Option<i32> {
    rustix::process::waitpid(
        rustix::process::Pid::from_raw(pid as i32),
        rustix::process::WaitOptions::empty(),
    )
    .expect("waitpid")
    .and_then(|(_, status)| status.exit_status())
}

#[test]
fn children_in_flight_together_each_get_their_own_stdio_and_nothing_else() {
    let launched: Vec<(usize, Launched, OwnedFd)> = (0..8)
        .map(|i| {
            let (child, read) = with_stdout_pipe(&[
                "sh",
                "-c",
                "echo \"$0\"; ls /proc/self/fd",
                &format!("child-{i}"),
            ]);
            (i, child, read)
        })
        .collect();
    for (i, child, read) in launched {
        let pid = child.pid();
        let spawned = child.finish().expect("finish");
        assert_eq!(spawned.pidfd.pid(), pid);
        let out = common::all_of(read);
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some(format!("child-{i}").as_str()), "{out}");
        let fds: Vec<&str> = lines.collect();
        // 0 to 2, and the directory `ls` itself opened.
        assert!(
            fds.len() <= 4 && fds.starts_with(&["0", "1", "2"]),
            "{fds:?}"
        );
        assert_eq!(reap(pid), Some(0));
    }
}

#[test]
fn finish_names_the_step_that_failed_as_spawn_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-program");
    let (read, write) = rustix::pipe::pipe().expect("pipe");
    let exec = launch(common::plain(
        &[missing.to_str().expect("utf-8")],
        write,
        Vec::new(),
    ))
    .expect("launch");
    let mut spec = common::plain(
        &["true"],
        ward_sys::spawn::dev_null().expect("null"),
        vec![],
    );
    spec.cwd = dir.path().join("no-such-dir");
    let chdir = launch(spec).expect("launch");
    let (exec_pid, chdir_pid) = (exec.pid(), chdir.pid());
    match exec.finish() {
        Err(SpawnError::Child {
            pid, step, error, ..
        }) => {
            assert_eq!((pid, step), (exec_pid, ChildStep::Exec));
            assert_eq!(error.raw_os_error(), Some(libc::ENOENT));
        }
        other => panic!("expected the exec to fail, got {other:?}"),
    }
    match chdir.finish() {
        Err(SpawnError::Child { step, error, .. }) => {
            assert_eq!(step, ChildStep::Chdir);
            assert_eq!(error.raw_os_error(), Some(libc::ENOENT));
        }
        other => panic!("expected the chdir to fail, got {other:?}"),
    }
    // Both exited 127, like a shell whose exec failed; nothing was written.
    assert_eq!(reap(exec_pid), Some(127));
    assert_eq!(reap(chdir_pid), Some(127));
    assert_eq!(common::all_of(read), "");
}

#[test]
fn a_launch_dropped_unfinished_still_runs_its_program() {
    let (child, read) = with_stdout_pipe(&["echo", "dropped"]);
    let pid = child.pid();
    drop(child);
    assert_eq!(common::all_of(read), "dropped\n");
    assert_eq!(reap(pid), Some(0));
}

/// `dev_null` serves as any of the three: a child writes to it and reads end of file.
#[test]
fn a_child_writes_to_dev_null_and_reads_nothing_from_it() {
    let out = ward_sys::spawn::dev_null().expect("/dev/null");
    let script = "echo to-stdout && echo to-stderr >&2 && test -z \"$(cat)\"";
    let mut spec = common::plain(&["sh", "-c", script], out, Vec::new());
    spec.stderr = ward_sys::spawn::dev_null().expect("/dev/null");
    let child = launch(spec).expect("launch");
    let pid = child.pid();
    child.finish().expect("finish");
    assert_eq!(reap(pid), Some(0));
}

/// The start time a spawn tells without reading `/proc` is the one `/proc` gives, for
/// both ways of starting; it is told for most spawns.
#[test]
fn the_start_time_a_spawn_tells_is_the_one_proc_gives() {
    let mut told = 0;
    for i in 0..40 {
        let spec = common::plain(
            &["sleep", "60"],
            ward_sys::spawn::dev_null().unwrap(),
            Vec::new(),
        );
        let spawned = if i % 2 == 0 {
            launch(spec).expect("launch").finish().expect("finish")
        } else {
            ward_sys::spawn::spawn(spec).expect("spawn")
        };
        let pid = spawned.pidfd.pid();
        let from_proc = ward_sys::identity::read_stat(pid).expect("stat").start_time;
        let identity = ward_sys::ProcessIdentity::of_spawned(&spawned).expect("identity");
        let _ = spawned.pidfd.send_signal(ward_core::Signal::KILL);
        reap(pid);
        assert_eq!(identity.start_time, from_proc, "spawn {i}");
        if let Some(t) = spawned.start_time {
            assert_eq!(t, from_proc, "spawn {i}");
            told += 1;
        }
    }
    assert!(told > 0, "no spawn told its start time");
}
