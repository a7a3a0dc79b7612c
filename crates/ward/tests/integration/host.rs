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
