//! A daemon leaves the host as it found it: it never changes a directory it did not
//! create, refuses one that others could write to, and takes its cgroups with it.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::fixture::{Ward, cgroups_of, testbin};

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn mode_and_owner(path: &Path) -> (u32, u32, u32) {
    let m = fs::metadata(path).expect("stat");
    (m.mode() & 0o7777, m.uid(), m.gid())
}

/// The root of every cgroup2 hierarchy mounted here, with what its
/// `cgroup.subtree_control` holds.
fn v2_roots() -> Vec<(PathBuf, String)> {
    let info = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    info.lines()
        .filter(|l| l.contains(" - cgroup2 "))
        .filter_map(|l| l.split(' ').nth(4).map(PathBuf::from))
        .map(|root| {
            let control =
                fs::read_to_string(root.join("cgroup.subtree_control")).unwrap_or_default();
            (root, control)
        })
        .collect()
}

#[test]
fn a_daemons_whole_life_leaves_the_host_as_it_found_it() {
    let bin = testbin();
    let mut w = Ward::new("");
    let root = w.dir.path().to_path_buf();
    // Directories that exist before ward, each with a mode of its own.
    let dirs = [
        (root.join("state"), 0o755),
        (root.join("run"), 0o711),
        (root.join("logs"), 0o750),
        (root.join("sock"), 0o1777),
    ];
    for (d, mode) in &dirs {
        fs::create_dir(d).expect("mkdir");
        set_mode(d, *mode);
    }
    let before: Vec<_> = dirs.iter().map(|(d, _)| mode_and_owner(d)).collect();
    let roots_before = v2_roots();
    fs::write(
        &w.config,
        format!(
            "[supervisor]\nstate_dir = \"state\"\nruntime_dir = \"run\"\nlog_dir = \"logs\"\n\
             socket = \"sock/ward.sock\"\n\
             [services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n\
             memory_max = \"64M\"\npids_max = 100\ncpu_max = \"50%\"\n"
        ),
    )
    .expect("config");
    w.start_daemon();
    w.wait_state("s", "running");
    // Nothing changed while it runs either.
    let during: Vec<_> = dirs.iter().map(|(d, _)| mode_and_owner(d)).collect();
    assert_eq!(before, during);
    w.ok(&["down"]);
    assert_eq!(w.wait_daemon_exit(), 0);
    let after: Vec<_> = dirs.iter().map(|(d, _)| mode_and_owner(d)).collect();
    assert_eq!(before, after);
    assert_eq!(roots_before, v2_roots());
    assert_eq!(cgroups_of(&root.join("state")), Vec::<PathBuf>::new());
}

#[test]
fn a_directory_others_may_write_to_is_refused_and_left_as_it_was() {
    let bin = testbin();
    let w = Ward::new(&format!(
        "[supervisor]\nstate_dir = \"open\"\n\
         [services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    let open = w.dir.path().join("open");
    fs::create_dir(&open).expect("mkdir");
    set_mode(&open, 0o777);
    let check = w.cli(&["check"]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(2), "{stderr}");
    let want = format!(
        "cannot keep ward's files in {} (state_dir): others may write to it (mode 0777, no \
         sticky bit)",
        open.display()
    );
    assert!(stderr.contains(&want), "{stderr}");
    assert!(
        stderr.contains("hint: let only ward's user write there"),
        "{stderr}"
    );
    let up = w.up_refused();
    let stderr = String::from_utf8_lossy(&up.stderr);
    assert!(!up.status.success());
    assert!(stderr.contains(&want), "{stderr}");
    // Left exactly as it was: same mode, still empty.
    assert_eq!(mode_and_owner(&open).0, 0o777);
    assert_eq!(fs::read_dir(&open).expect("read").count(), 0);
    assert!(w.processes_here().is_empty());
}

#[test]
fn a_socket_directory_of_another_user_is_refused() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: giving a directory to another user needs root");
        return;
    }
    let bin = testbin();
    let w = Ward::new(&format!(
        "[supervisor]\nsocket = \"theirs/ward.sock\"\n\
         [services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    let theirs = w.dir.path().join("theirs");
    fs::create_dir(&theirs).expect("mkdir");
    std::os::unix::fs::chown(&theirs, Some(1000), Some(1000)).expect("chown");
    let check = w.cli(&["check"]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot keep ward's files in {} (socket): it belongs to uid 1000",
            theirs.display()
        )),
        "{stderr}"
    );
    assert_eq!(mode_and_owner(&theirs).1, 1000);
}

/// A program someone other than its owner and root could replace is not run: a
/// world-writable executable, one in a world-writable directory, a bare name that `PATH`
/// finds in such a directory first. `trust_path = true` runs it anyway.
#[test]
fn a_program_others_could_replace_is_refused_until_trusted() {
    let w = Ward::new("");
    let d = w.dir.path().to_path_buf();
    let open_dir = d.join("open");
    fs::create_dir(&open_dir).expect("mkdir");
    set_mode(&open_dir, 0o777);
    let script = "#!/bin/sh\nexec sleep 300\n";
    let in_open_dir = open_dir.join("app");
    fs::write(&in_open_dir, script).expect("write");
    set_mode(&in_open_dir, 0o755);
    let writable = d.join("writable-app");
    fs::write(&writable, script).expect("write");
    set_mode(&writable, 0o777);
    // A name that PATH finds in the open directory before /usr/bin.
    let hijack = open_dir.join("sleep");
    fs::write(&hijack, script).expect("write");
    set_mode(&hijack, 0o755);
    let cases = [
        (
            format!("command = [\"{}\"]", writable.display()),
            format!(
                "{} may be written by users other than its owner and root (mode 0777)",
                writable.display()
            ),
        ),
        (
            format!("command = [\"{}\"]", in_open_dir.display()),
            format!(
                "{} may be written by users other than its owner and root (mode 0777)",
                open_dir.display()
            ),
        ),
        (
            format!(
                "command = \"sleep 300\"\nenv = {{ PATH = \"{}:/usr/bin:/bin\" }}",
                open_dir.display()
            ),
            format!("will not run {}", hijack.display()),
        ),
        (
            format!(
                "command = [\"sleep\", \"300\"]\nhealth = {{ command = [\"{}\"] }}",
                writable.display()
            ),
            "[services.s] health: will not run".to_string(),
        ),
    ];
    for (service, want) in &cases {
        fs::write(&w.config, format!("[services.s]\n{service}\n")).expect("config");
        let check = w.cli(&["check"]);
        let stderr = String::from_utf8_lossy(&check.stderr);
        assert_eq!(check.status.code(), Some(2), "{service}: {stderr}");
        assert!(stderr.contains(want.as_str()), "{service}: {stderr}");
        assert!(
            stderr.contains("set `trust_path = true` in [services.s]"),
            "{stderr}"
        );
        let up = w.up_refused();
        let stderr = String::from_utf8_lossy(&up.stderr);
        assert!(stderr.contains(want.as_str()), "{service}: {stderr}");
        assert!(w.processes_here().is_empty());
    }
    // Trusted on purpose, it runs.
    fs::write(
        &w.config,
        format!(
            "[services.s]\ncommand = [\"{}\"]\ntrust_path = true\n",
            writable.display()
        ),
    )
    .expect("config");
    let mut w = w;
    w.start_daemon();
    w.wait_state("s", "running");
}

/// A reload that names such a program is refused, and the running config stays.
#[test]
fn a_reload_naming_a_replaceable_program_changes_nothing() {
    let bin = testbin();
    let mut w = Ward::new(&format!(
        "[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    w.start_daemon();
    let pid = w.wait_state("s", "running").pid;
    let writable = w.dir.path().join("writable-app");
    fs::write(&writable, "#!/bin/sh\nexec sleep 300\n").expect("write");
    set_mode(&writable, 0o777);
    fs::write(
        &w.config,
        format!("[services.s]\ncommand = [\"{}\"]\n", writable.display()),
    )
    .expect("config");
    let out = w.cli(&["reload"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the new config is refused; nothing changed"),
        "{stderr}"
    );
    assert!(stderr.contains("will not run"), "{stderr}");
    assert_eq!(w.unit("s").pid, pid);
}
