//! A reader that goes away (`ward status | head -1`): every printing command ends quietly
//! with exit 0, as docs/api.md says, instead of panicking on the broken pipe.

use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};

use rustix::fs::{OFlags, fcntl_setfl};
use rustix::pipe::PipeFlags;

use crate::fixture::{Ward, testbin, wait_for, ward_bin};

/// How the command's standard output is cut off.
#[derive(Clone, Copy, Debug)]
enum Reader {
    /// The read end is closed before the command starts: its first write fails.
    Closed,
    /// One byte is read, then the read end is closed: a first write goes through, a
    /// later one fails (the output must be larger than the pipe holds).
    OneByte,
}

/// What a cut-off command left behind.
struct Cut {
    code: Option<i32>,
    stderr: String,
}

/// Runs `ward -c CONFIG ARGS` with its stdout on a pipe cut off as `reader` says, and
/// waits for it to end.
fn run_cut(w: &Ward, args: &[&str], reader: Reader) -> Cut {
    // Close-on-exec, so that the command does not hold a read end of its own.
    let (read_end, write_end) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC).expect("pipe");
    let read_end = match reader {
        Reader::Closed => {
            drop(read_end);
            None
        }
        Reader::OneByte => Some(read_end),
    };
    // The command's copy of the write end goes with it: ours closes when `Command` drops,
    // so a command that printed nothing would show as the end of the file.
    let mut child = Command::new(ward_bin())
        .arg("-c")
        .arg(&w.config)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ward");
    if let Some(read_end) = read_end {
        read_one_byte(&read_end, args);
        drop(read_end);
    }
    let status = wait_for(&format!("ward {args:?} to exit"), || {
        child.try_wait().expect("try_wait")
    });
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    Cut {
        code: status.code(),
        stderr,
    }
}

/// Reads the first byte the command writes, without blocking past the deadline.
fn read_one_byte(fd: &OwnedFd, args: &[&str]) {
    fcntl_setfl(fd, OFlags::NONBLOCK).expect("non-blocking");
    wait_for(&format!("the first byte of ward {args:?}"), || {
        let mut byte = [0u8; 1];
        match rustix::io::read(fd, &mut byte) {
            Ok(1) => Some(()),
            Ok(_) => panic!("ward {args:?} ended its output before writing anything"),
            Err(rustix::io::Errno::AGAIN) => None,
            Err(e) => panic!("read: {e}"),
        }
    });
}

/// Runs the command once with a reader that reads everything, to make sure it prints
/// (so the cut-off run really meets a broken pipe), and returns how much it printed.
fn printed(w: &Ward, args: &[&str]) -> usize {
    let out = w.cli(args);
    assert!(
        !out.stdout.is_empty(),
        "ward {args:?} printed nothing (exit {:?}):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.len()
}

/// The command ended quietly and with 0.
fn assert_quiet(args: &[&str], reader: Reader, cut: &Cut) {
    assert!(
        !cut.stderr.contains("panicked"),
        "ward {args:?} panicked on a broken pipe ({reader:?}):\n{}",
        cut.stderr
    );
    assert_eq!(
        (cut.code, cut.stderr.as_str()),
        (Some(0), ""),
        "ward {args:?} on a broken pipe ({reader:?})"
    );
}

#[test]
fn every_printing_command_ends_quietly_when_stdout_is_closed() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\ninstances = 3\n\
         [services.crash]\ncommand = [\"{bin}\", \"exit\", \"3\"]\nrestart = \"never\"\n\
         [services.idle]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nautostart = false\n"
    ));
    for unit in ["web.0", "web.1", "web.2"] {
        w.wait_state(unit, "running");
    }
    w.wait_unit("crash", "a verdict on its end", |s| s.verdict.is_some());
    let pids = w.dir.path().join("pids");
    fs::create_dir(&pids).expect("pids dir");
    let pid_file = pids.join("other.pid");
    fs::write(&pid_file, "not a pid\n").expect("pid file");
    let pid_file = pid_file.to_str().expect("utf-8 path");
    let pids = pids.to_str().expect("utf-8 path");

    let commands: &[&[&str]] = &[
        &["check"],
        &["status"],
        &["status", "--json"],
        &["status", "web"],
        &["why", "crash"],
        &["why", "crash", "--json"],
        &["why", "crash", "--run", "1"],
        &["why", "idle"],
        &["why", "idle", "--json"],
        &["history", "crash"],
        &["history", "crash", "--json"],
        &["events"],
        &["events", "--json"],
        &["logs", "crash"],
        &["logs", "--reopen"],
        &["start", "idle"],
        &["restart", "idle"],
        &["stop", "idle"],
        &["start", "--all", "--json"],
        &["signal", "web.1", "CONT"],
        &["reload"],
        &["reload", "--json"],
        &["backup"],
        &["doctor"],
        &["pid", "check", pid_file],
        &["pid", "check", "--json", pid_file],
        &["pid", "clean", "--dry-run", pids],
        &["pid", "clean", "--dry-run", "--json", pids],
    ];
    for args in commands {
        printed(&w, args);
        let cut = run_cut(&w, args, Reader::Closed);
        assert_quiet(args, Reader::Closed, &cut);
    }

    // `ward down` prints once the daemon is gone: it still takes the daemon down.
    let cut = run_cut(&w, &["down"], Reader::Closed);
    assert_quiet(&["down"], Reader::Closed, &cut);
    assert!(!w.dir.path().join(".ward/ward.pid").exists());
}

#[test]
fn a_reader_that_stops_after_one_byte_ends_the_command_quietly() {
    let bin = testbin();
    // Units that never start: a long status without 200 processes.
    let w = Ward::up(&format!(
        "[services.many]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\ninstances = 200\nautostart = false\n"
    ));
    let missing: Vec<String> = (0..2000)
        .map(|i| {
            w.dir
                .path()
                .join(format!("gone-{i}.pid"))
                .display()
                .to_string()
        })
        .collect();
    let mut pid_check = vec!["pid", "check"];
    pid_check.extend(missing.iter().map(String::as_str));
    let mut pid_check_json = vec!["pid", "check", "--json"];
    pid_check_json.extend(missing.iter().map(String::as_str));

    let (_, probe) = rustix::pipe::pipe().expect("pipe");
    let capacity = rustix::pipe::fcntl_getpipe_size(&probe).expect("pipe size");
    for args in [&["status", "--json"][..], &pid_check, &pid_check_json] {
        // Two thousand file names would drown the message.
        let named = &args[..args.len().min(3)];
        let size = printed(&w, args);
        assert!(
            size > capacity + 1,
            "ward {named:?} prints {size} bytes, which a pipe of {capacity} holds"
        );
        let cut = run_cut(&w, args, Reader::OneByte);
        assert_quiet(named, Reader::OneByte, &cut);
    }
}

#[test]
fn ward_up_detached_ends_quietly_when_stdout_is_closed() {
    let bin = testbin();
    let w = Ward::new(&format!(
        "[services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    let cut = run_cut(&w, &["up", "-d"], Reader::Closed);
    // The daemon is up either way; take it down before judging, so none is left behind.
    wait_for("the detached daemon to answer", || {
        w.cli(&["status"]).status.success().then_some(())
    });
    w.ok(&["down"]);
    assert_quiet(&["up", "-d"], Reader::Closed, &cut);
}
