//! `ward pid check|clean` on real files, and a service's `pidfile`.

use std::fs;

use crate::fixture::{Ward, testbin};

fn record(pid: u32, start_time: u64, boot_id: &str) -> String {
    format!(
        "{{\"pid\":{pid},\"start_time\":{start_time},\"boot_id\":\"{boot_id}\",\"service\":\"x\",\"command\":[\"x\"],\"created_ms\":1}}\n"
    )
}

fn own_start_time() -> u64 {
    let stat = fs::read_to_string("/proc/self/stat").expect("stat");
    let after = stat.rsplit_once(')').expect("comm").1;
    after
        .split_whitespace()
        .nth(19)
        .expect("field 22")
        .parse()
        .expect("number")
}

fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .expect("boot id")
        .trim()
        .to_string()
}

#[test]
fn a_services_pidfile_is_valid_while_it_runs_and_gone_after() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\npidfile = \"run/web.pid\"\n"
    ));
    let pid = w.wait_state("web", "running").pid.expect("pid");
    let file = w.dir.path().join("run/web.pid");
    let out = w.ok(&["pid", "check", file.to_str().expect("utf-8")]);
    assert!(
        out.contains(&format!("valid (pid {pid}, service web)")),
        "{out}"
    );
    let mode = fs::metadata(&file).expect("pidfile").permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o644
    );
    w.ok(&["stop", "web"]);
    assert!(!file.exists(), "the pid file outlived its process");
}

#[test]
fn check_gives_each_class_with_exit_codes() {
    let w = Ward::new("");
    let d = w.dir.path();
    let me = std::process::id();
    let start = own_start_time();
    let files = [
        (
            "abandoned.pid",
            record(me, start, &boot_id()),
            "stale: owner's lock released",
        ),
        (
            "reused.pid",
            record(me, start + 7, &boot_id()),
            "stale: pid reused (start time differs)",
        ),
        (
            "oldboot.pid",
            record(me, start, "00000000-0000-0000-0000-000000000000"),
            "stale: written in an earlier boot",
        ),
        (
            "gone.pid",
            record(4_194_303, 1, &boot_id()),
            "stale: not running",
        ),
        ("garbage.pid", "{\"pid\": oops".to_string(), "corrupted: "),
        ("plain.pid", format!("{me}\n"), "valid (pid"),
    ];
    for (name, content, _) in &files {
        fs::write(d.join(name), content).expect("write");
    }
    for (name, _, expected) in &files {
        let path = d.join(name);
        let out = w.cli(&["pid", "check", path.to_str().expect("utf-8")]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(expected), "{name}: {text}");
        let code = if expected.starts_with("valid") { 0 } else { 1 };
        assert_eq!(out.status.code(), Some(code), "{name}");
    }
    let plain = w.ok(&["pid", "check", d.join("plain.pid").to_str().expect("utf-8")]);
    assert!(
        plain.contains("a reused PID cannot be told apart"),
        "{plain}"
    );
    let out = w.cli(&[
        "pid",
        "check",
        d.join("missing.pid").to_str().expect("utf-8"),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["verdict"], "not-found");

    // dry run changes nothing; a real clean removes exactly the stale ones.
    let before: Vec<_> = fs::read_dir(d)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    let out = w.ok(&["pid", "clean", d.to_str().expect("utf-8"), "--dry-run"]);
    assert!(out.contains("would remove"), "{out}");
    let after: Vec<_> = fs::read_dir(d)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(before.len(), after.len());
    for (name, content, _) in &files {
        assert_eq!(&fs::read_to_string(d.join(name)).expect("kept"), content);
    }
    let out = w.ok(&["pid", "clean", d.to_str().expect("utf-8")]);
    for name in ["abandoned.pid", "reused.pid", "oldboot.pid", "gone.pid"] {
        assert!(!d.join(name).exists(), "{name} not removed:\n{out}");
        assert!(
            out.contains(&format!("removed {}", d.join(name).display())),
            "{out}"
        );
    }
    for name in ["garbage.pid", "plain.pid"] {
        assert!(d.join(name).exists(), "{name} removed");
    }
}

#[test]
fn two_writers_race_for_one_pidfile_and_exactly_one_wins() {
    // Two daemons on the same state dir race for ward.pid: one runs, one is refused.
    let w = Ward::new("");
    let spawn = || {
        std::process::Command::new(crate::fixture::ward_bin())
            .arg("-c")
            .arg(&w.config)
            .arg("up")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (mut a, mut b) = (spawn(), spawn());
    let first = crate::fixture::wait_for("one daemon to give up", || {
        if let Some(s) = a.try_wait().expect("wait") {
            return Some((s, 0));
        }
        b.try_wait().expect("wait").map(|s| (s, 1))
    });
    assert_eq!(first.0.code(), Some(1), "the loser is refused");
    let winner = if first.1 == 0 { &mut b } else { &mut a };
    assert!(
        winner.try_wait().expect("wait").is_none(),
        "the winner runs"
    );
    crate::fixture::wait_for("the winner to answer", || {
        w.cli(&["status"]).status.success().then_some(())
    });
    w.ok(&["down"]);
    let status = winner.wait().expect("wait");
    assert!(status.success());
}

/// A `pidfile` path that holds something other than a PID file is never overwritten nor
/// removed: the service runs without a pid file and its log says why. A bare PID (as other
/// programs write) and a stale ward record are PID files, and are replaced.
#[test]
fn a_file_that_is_not_a_pid_file_is_never_overwritten_or_removed() {
    let bin = testbin();
    let mut w = Ward::new(&format!(
        "[services.notes]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\npidfile = \"notes.txt\"\n\
         [services.linked]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\npidfile = \"link.pid\"\n\
         [services.plain]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\npidfile = \"plain.pid\"\n\
         [services.stale]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\npidfile = \"stale.pid\"\n"
    ));
    let d = w.dir.path().to_path_buf();
    let precious = "precious notes\nsecond line\n";
    fs::write(d.join("notes.txt"), precious).expect("notes");
    fs::write(d.join("target.txt"), precious).expect("target");
    std::os::unix::fs::symlink(d.join("target.txt"), d.join("link.pid")).expect("symlink");
    fs::write(d.join("plain.pid"), " 4194303 \n").expect("plain");
    fs::write(d.join("stale.pid"), record(4_194_303, 1, &boot_id())).expect("stale");
    w.start_daemon();
    for unit in ["notes", "linked", "plain", "stale"] {
        w.wait_state(unit, "running");
    }
    for (unit, file) in [("notes", "notes.txt"), ("linked", "link.pid")] {
        let line = crate::fixture::wait_for(&format!("{unit}: `no pid file`"), || {
            w.log(unit)
                .lines()
                .find(|l| l.contains("no pid file: "))
                .map(String::from)
        });
        assert!(
            line.contains(&format!(
                "{} is not a PID file; ward will not overwrite it",
                d.join(file).display()
            )),
            "{line}"
        );
    }
    for unit in ["plain", "stale"] {
        let pid = w.unit(unit).pid.expect("pid");
        let path = d.join(format!("{unit}.pid"));
        let out = w.ok(&["pid", "check", path.to_str().expect("utf-8")]);
        assert!(
            out.contains(&format!("valid (pid {pid}, service {unit})")),
            "{out}"
        );
    }
    w.ok(&["down"]);
    w.wait_daemon_exit();
    assert_eq!(
        fs::read_to_string(d.join("notes.txt")).expect("kept"),
        precious
    );
    assert_eq!(
        fs::read_to_string(d.join("target.txt")).expect("kept"),
        precious
    );
    assert!(
        fs::symlink_metadata(d.join("link.pid"))
            .expect("link kept")
            .file_type()
            .is_symlink()
    );
    assert!(!d.join("plain.pid").exists() && !d.join("stale.pid").exists());
    // No temporary file of ward's is left beside them.
    let left: Vec<String> = fs::read_dir(&d)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// At a stop, a pid file is removed only while it still is the file ward wrote: one that
/// was replaced (another inode) or rewritten in place (other content) is left, and the
/// unit's log says why.
#[test]
fn a_pidfile_changed_while_its_service_runs_is_left_at_stop() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.replaced]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\npidfile = \"run/replaced.pid\"\n\
         [services.rewritten]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\npidfile = \"run/rewritten.pid\"\n\
         [services.kept]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\npidfile = \"run/kept.pid\"\n"
    ));
    let d = w.dir.path().join("run");
    for unit in ["replaced", "rewritten", "kept"] {
        w.wait_state(unit, "running");
        crate::fixture::wait_for(&format!("{unit}'s pid file"), || {
            d.join(format!("{unit}.pid")).exists().then_some(())
        });
    }
    // Another inode at the path, holding someone else's data.
    fs::write(d.join("other"), "someone else's\n").expect("write");
    fs::rename(d.join("other"), d.join("replaced.pid")).expect("rename");
    // The same inode, other content.
    fs::write(d.join("rewritten.pid"), "edited by hand\n").expect("write");
    w.ok(&["stop", "replaced", "rewritten", "kept"]);
    assert_eq!(
        fs::read_to_string(d.join("replaced.pid")).expect("kept"),
        "someone else's\n"
    );
    assert_eq!(
        fs::read_to_string(d.join("rewritten.pid")).expect("kept"),
        "edited by hand\n"
    );
    assert!(!d.join("kept.pid").exists(), "ward's own file is removed");
    for (unit, why) in [
        ("replaced", "another file is at its path now"),
        ("rewritten", "its content changed"),
    ] {
        let line = format!(
            "left pid file {} in place: {why}",
            d.join(format!("{unit}.pid")).display()
        );
        crate::fixture::wait_for(&format!("{unit} to log `{line}`"), || {
            w.log(unit).contains(&line).then_some(())
        });
    }
}

/// In a directory anyone may write to, a PID file's path can be made a symbolic link to
/// anything: a FIFO that would block a reader forever, or a valid PID file elsewhere that
/// would lend its process to the wrong name. `ward pid check` follows none of them.
#[test]
fn a_symlinked_pid_file_in_a_shared_directory_is_never_followed() {
    use std::os::unix::fs::PermissionsExt;
    let w = Ward::new("");
    let shared = w.dir.path().join("shared");
    fs::create_dir(&shared).expect("mkdir");
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).expect("chmod");
    let fifo = w.dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let valid = w.dir.path().join("valid.pid");
    fs::write(
        &valid,
        record(std::process::id(), own_start_time(), &boot_id()),
    )
    .expect("valid");
    for (name, target) in [("to-fifo.pid", &fifo), ("to-valid.pid", &valid)] {
        let link = shared.join(name);
        std::os::unix::fs::symlink(target, &link).expect("symlink");
        let out = w.cli(&["pid", "check", link.to_str().expect("utf-8")]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_ne!(out.status.code(), Some(0), "{stdout}");
        assert!(
            stdout.contains("a symbolic link, which ward never follows"),
            "{name}: {stdout}"
        );
        // `clean` leaves it too.
        w.cli(&["pid", "clean", link.to_str().expect("utf-8")]);
        assert!(
            fs::symlink_metadata(&link)
                .expect("kept")
                .file_type()
                .is_symlink()
        );
    }
}
