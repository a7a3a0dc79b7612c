//! A child is born in its unified-hierarchy cgroup (`clone3` with `CLONE_INTO_CGROUP`),
//! still joins its v1 controllers by writing, and a directory the kernel will not take at
//! birth is joined the old way or refused by name.
//!
//! One test: the cases run in turn, each with its own cgroup directories below this
//! process's own, removed at the end whatever happened.

use std::fs;
use std::path::{Path, PathBuf};

mod common;

use ward_sys::spawn::{CgroupJoin, SpawnError, Spawned, spawn};

/// Where this process sits in the unified hierarchy and in the v1 `memory` one, if this
/// machine has them.
fn own_dirs() -> (Option<PathBuf>, Option<PathBuf>) {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mount_of = |pred: &dyn Fn(&str) -> bool| {
        info.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            pred(right).then_some(())?;
            Some(PathBuf::from(left.split(' ').nth(4)?))
        })
    };
    let rel = |pred: &dyn Fn(&str) -> bool| {
        own.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctl, path) = (f.next()?, f.next()?, f.next()?);
            pred(ctl).then(|| path.trim_start_matches('/').to_string())
        })
    };
    let v2 = mount_of(&|r| r.starts_with("cgroup2 "))
        .zip(rel(&|c| c.is_empty()))
        .map(|(m, r)| m.join(r));
    let memory =
        mount_of(&|r| r.starts_with("cgroup ") && r.split([' ', ',']).any(|o| o == "memory"))
            .zip(rel(&|c| c.split(',').any(|c| c == "memory")))
            .map(|(m, r)| m.join(r));
    (v2, memory)
}

/// A cgroup directory of this test's, removed when dropped (once its process is gone).
struct Dir(PathBuf);

impl Dir {
    fn make(parent: &Path, name: &str) -> Option<Dir> {
        let path = parent.join(format!("ward-born-test-{}-{name}", std::process::id()));
        fs::create_dir(&path).ok().map(|()| Dir(path))
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

fn sleeper(cgroups: Vec<CgroupJoin>) -> Result<Spawned, SpawnError> {
    let null = ward_sys::spawn::dev_null().expect("/dev/null");
    spawn(common::plain(&["sleep", "30"], null, cgroups))
}

/// Kills and reaps the child, handing back the lines of its `/proc/PID/cgroup` read while
/// it ran.
fn cgroups_then_end(child: Spawned) -> String {
    let pid = child.pidfd.pid();
    let lines = fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("its cgroups");
    child
        .pidfd
        .send_signal(ward_core::Signal::KILL)
        .expect("kill");
    let _ = rustix::process::waitpid(
        rustix::process::Pid::from_raw(pid as i32),
        rustix::process::WaitOptions::empty(),
    );
    lines
}

/// A directory of this test's below its own cgroup in the unified hierarchy, with the v1
/// memory hierarchy's own place; `None`, said on stderr, where there is no such place.
fn unified_dir(name: &str) -> Option<(Dir, Option<PathBuf>)> {
    let (Some(v2), memory) = own_dirs() else {
        eprintln!("SKIPPED: no cgroup2 mount here: there is nothing to be born in");
        return None;
    };
    let Some(dir) = Dir::make(&v2, name) else {
        eprintln!("SKIPPED: cannot make a directory below {}", v2.display());
        return None;
    };
    Some((dir, memory))
}

#[test]
fn a_child_is_born_in_its_cgroup_and_still_joins_its_v1_controllers() {
    let Some((unit, memory)) = unified_dir("unit") else {
        return;
    };
    let memory = memory.and_then(|m| Dir::make(&m, "memory"));
    let name = unit.0.file_name().unwrap().to_string_lossy().to_string();

    // Born in the v2 directory, given twice (as a containment cgroup and a controller's
    // may be): joined once. The v1 memory directory is joined by writing.
    let mut joins = vec![
        CgroupJoin::dir(&unit.0).expect("open"),
        CgroupJoin::dir(&unit.0).expect("open"),
    ];
    if let Some(m) = &memory {
        joins.push(CgroupJoin::procs(&m.0).expect("open v1"));
    }
    let child = sleeper(joins).expect("spawn");
    assert!(
        child.born_in_cgroup,
        "Linux 5.7 and later have clone3 into a cgroup"
    );
    let lines = cgroups_then_end(child);
    let unified = lines.lines().find(|l| l.starts_with("0::")).expect("0::");
    assert!(unified.ends_with(&format!("/{name}")), "{lines}");
    if let Some(m) = &memory {
        let mname = m.0.file_name().unwrap().to_string_lossy().to_string();
        let line = lines
            .lines()
            .find(|l| {
                l.split(':')
                    .nth(1)
                    .is_some_and(|c| c.split(',').any(|c| c == "memory"))
            })
            .expect("memory line");
        assert!(line.ends_with(&format!("/{mname}")), "{lines}");
    } else {
        eprintln!("SKIPPED (part): no v1 memory hierarchy here to join by writing");
    }

    // A v1 directory handed over as a directory: the kernel will not have a child born
    // there, so the child joins it by writing `cgroup.procs`, and later spawns still try.
    if let Some(m) = &memory {
        let child = sleeper(vec![CgroupJoin::dir(&m.0).expect("open")]).expect("spawn");
        assert!(!child.born_in_cgroup);
        let lines = cgroups_then_end(child);
        let mname = m.0.file_name().unwrap().to_string_lossy().to_string();
        assert!(lines.contains(&format!("/{mname}\n")), "{lines}");
    }

    // A directory that is no cgroup at all: refused by name, and the next child is still
    // born in its cgroup.
    let plain = tempfile::tempdir().expect("tempdir");
    match sleeper(vec![CgroupJoin::dir(plain.path()).expect("open")]) {
        Err(SpawnError::Cgroup(e)) => {
            assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}")
        }
        Err(e) => panic!("a plain directory refused for the wrong reason: {e}"),
        Ok(child) => {
            cgroups_then_end(child);
            panic!("a plain directory taken as a cgroup");
        }
    }
    let child = sleeper(vec![CgroupJoin::dir(&unit.0).expect("open")]).expect("spawn");
    assert!(child.born_in_cgroup, "one refusal must not turn clone3 off");
    cgroups_then_end(child);
}

/// A cgroup once emptied through `cgroup.kill` kills, on some kernels, every child born in
/// it afterwards: the spawn sees its child die unborn and joins it by writing instead.
#[test]
fn a_cgroup_killed_once_still_takes_children() {
    let Some((unit, _)) = unified_dir("killed") else {
        return;
    };
    if fs::write(unit.0.join("cgroup.kill"), "1").is_err() {
        eprintln!("SKIPPED: no cgroup.kill here (Linux 5.14 and later)");
        return;
    }
    let child = sleeper(vec![CgroupJoin::dir(&unit.0).expect("open")]).expect("spawn");
    let pid = child.pidfd.pid();
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let state = stat.rsplit_once(") ").expect("state").1.split(' ').next();
    assert_ne!(state, Some("Z"), "the child was killed: {stat}");
    let lines = cgroups_then_end(child);
    let name = unit.0.file_name().unwrap().to_string_lossy().to_string();
    assert!(lines.contains(&format!("/{name}\n")), "{lines}");
    // The same for a child the thread did not wait for (`launch`): its first clone is
    // killed at birth while the thread goes on, and the second joins by writing.
    let null = ward_sys::spawn::dev_null().expect("/dev/null");
    let launched = ward_sys::spawn::launch(common::plain(
        &["sleep", "30"],
        null,
        vec![CgroupJoin::dir(&unit.0).expect("open")],
    ))
    .expect("launch");
    let child = launched.finish().expect("finish");
    assert!(!child.born_in_cgroup);
    let lines = cgroups_then_end(child);
    assert!(lines.contains(&format!("/{name}\n")), "{lines}");
}
