//! Resource controllers for limits and counters: `memory`, `pids` and `cpu`, wherever this
//! machine has them.
//!
//! Containment uses one hierarchy (v2 first). Limits need controllers, which a hybrid
//! machine may only offer in its v1 hierarchies (the unified one then has none): so each
//! controller is looked for on its own, v2 first (enabled for ward's subtree if it can be),
//! else the v1 hierarchy that carries it. A unit gets a directory in each, which its
//! process joins before exec.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::cgroup::{Version, own_cgroup, parse_mountinfo};

/// Where one controller lives for this daemon.
#[derive(Clone, Debug)]
struct Controller {
    version: Version,
    /// `<mount>/<own cgroup>/ward-<id>`.
    base: PathBuf,
}

/// The controllers this daemon can use.
#[derive(Clone, Debug, Default)]
pub struct Controllers {
    memory: Option<Controller>,
    pids: Option<Controller>,
    cpu: Option<Controller>,
}

/// The controllers a unit's limits need.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Wants {
    /// It has a `memory_max`.
    pub memory: bool,
    /// It has a `pids_max`.
    pub pids: bool,
    /// It has a `cpu_max`.
    pub cpu: bool,
}

/// A unit's directories in the controllers' hierarchies.
#[derive(Clone, Debug, Default)]
pub struct UnitControllers {
    memory: Dir,
    pids: Dir,
    cpu: Dir,
}

/// A directory in one controller's hierarchy, boxed: most units have none, and every
/// unit holds two of these sets (the unit's and its run's), 144 bytes fewer per unit.
type Dir = Option<Box<(Version, PathBuf)>>;

impl Controllers {
    /// Finds `memory`, `pids` and `cpu`, creating `ward-<id>` where needed. What cannot be found
    /// or written is simply absent: the caller says which limits cannot be enforced.
    pub fn detect(id: &str) -> Controllers {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mounts = parse_mountinfo(&mountinfo);
        let find = |name: &str| -> Option<Controller> {
            if let Some(m) = mounts.iter().find(|m| m.v1_options.is_none()) {
                let rel = own_cgroup(&own, None).unwrap_or_else(|| "/".into());
                let parent = m.mount_point.join(rel.trim_start_matches('/'));
                let base = parent.join(format!("ward-{id}"));
                if v2_enable(&parent, &base, name) {
                    return Some(Controller {
                        version: Version::V2,
                        base,
                    });
                }
            }
            let m = mounts.iter().find(|m| {
                m.v1_options
                    .as_ref()
                    .is_some_and(|o| o.iter().any(|x| x == name))
            })?;
            let rel = own_cgroup(&own, Some(name)).unwrap_or_else(|| "/".into());
            let base = m
                .mount_point
                .join(rel.trim_start_matches('/'))
                .join(format!("ward-{id}"));
            match fs::create_dir(&base) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(_) => return None,
            }
            Some(Controller {
                version: Version::V1,
                base,
            })
        };
        Controllers {
            memory: find("memory"),
            pids: find("pids"),
            cpu: find("cpu"),
        }
    }

    /// Which controllers this machine offers, without creating anything: (memory, pids,
    /// cpu).
    pub fn probe() -> (bool, bool, bool) {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mounts = parse_mountinfo(&mountinfo);
        let has = |name: &str| {
            let v2 = mounts
                .iter()
                .find(|m| m.v1_options.is_none())
                .is_some_and(|m| {
                    let rel = own_cgroup(&own, None).unwrap_or_else(|| "/".into());
                    fs::read_to_string(
                        m.mount_point
                            .join(rel.trim_start_matches('/'))
                            .join("cgroup.controllers"),
                    )
                    .is_ok_and(|t| t.split_whitespace().any(|c| c == name))
                });
            v2 || mounts.iter().any(|m| {
                m.v1_options
                    .as_ref()
                    .is_some_and(|o| o.iter().any(|x| x == name))
            })
        };
        (has("memory"), has("pids"), has("cpu"))
    }

    /// `memory_max` can be enforced.
    pub fn has_memory(&self) -> bool {
        self.memory.is_some()
    }

    /// `pids_max` can be enforced.
    pub fn has_pids(&self) -> bool {
        self.pids.is_some()
    }

    /// `cpu_max` can be enforced.
    pub fn has_cpu(&self) -> bool {
        self.cpu.is_some()
    }

    /// Creates (or reuses) the unit's directories: in the unified hierarchy always, in a
    /// v1 one only for a limit the unit has (see [`UnitControllers::for_run`]).
    pub fn unit(&self, name: &str, wants: Wants) -> io::Result<UnitControllers> {
        let make = |c: &Option<Controller>, wanted: bool| -> io::Result<Dir> {
            let Some(c) = c else { return Ok(None) };
            if !joined(c.version, wanted) {
                return Ok(None);
            }
            let path = c.base.join(name);
            match fs::create_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            Ok(Some(Box::new((c.version, path))))
        };
        Ok(UnitControllers {
            memory: make(&self.memory, wants.memory)?,
            pids: make(&self.pids, wants.pids)?,
            cpu: make(&self.cpu, wants.cpu)?,
        })
    }

    /// Removes ward's directories once they are empty.
    pub fn remove_base(&self) {
        for c in [&self.memory, &self.pids, &self.cpu].into_iter().flatten() {
            let _ = fs::remove_dir(&c.base);
        }
    }
}

/// Enables `name` for ward's subtree of the unified hierarchy, where the cgroup ward runs
/// in already passes it down. Only ward's own directory is written, never the cgroup it
/// runs in: not the root's `cgroup.subtree_control`, which would change every cgroup of
/// the machine. A directory made here for a controller that cannot be enabled is taken
/// away again.
fn v2_enable(parent: &Path, base: &Path, name: &str) -> bool {
    let has = |dir: &Path| {
        fs::read_to_string(dir.join("cgroup.controllers"))
            .is_ok_and(|t| t.split_whitespace().any(|c| c == name))
    };
    let on = |dir: &Path| {
        fs::read_to_string(dir.join("cgroup.subtree_control"))
            .is_ok_and(|t| t.split_whitespace().any(|c| c == name))
    };
    if !has(parent) {
        return false;
    }
    if !on(parent) {
        // Not delegated to ward's cgroup. Enabling it there would change the root's
        // `cgroup.subtree_control` (every cgroup of the machine), or fail for a cgroup
        // that holds processes (ward itself): v1 it is.
        return false;
    }
    let made = fs::create_dir(base).is_ok();
    if !on(base) {
        let _ = fs::write(base.join("cgroup.subtree_control"), format!("+{name}"));
    }
    let enabled = has(base) && on(base);
    if !enabled && made {
        let _ = fs::remove_dir(base);
    }
    enabled
}

/// Writes `value` unless the file holds it already. Setting a limit can cost far more than
/// reading it: a write to v1 `cpu.cfs_quota_us` or `cpu.cfs_period_us` walks every CPU
/// group of the machine (`tg_set_bandwidth`), which made setting up 500 services
/// quadratic, a third of their start, although most of them set no limit at all.
fn write_if_changed(path: &Path, value: &str) -> io::Result<()> {
    if crate::kfile::read(path).is_ok_and(|now| now.trim() == value) {
        return Ok(());
    }
    fs::write(path, value)
}

impl UnitControllers {
    /// The unit's directories that exist, in any controller.
    fn dirs(&self) -> impl Iterator<Item = &(Version, PathBuf)> {
        [&self.memory, &self.pids, &self.cpu]
            .into_iter()
            .filter_map(|d| d.as_deref())
    }

    /// Sets the memory limit (v2 `memory.max`, v1 `memory.limit_in_bytes`); `None` lifts it.
    pub fn set_memory_max(&self, bytes: Option<u64>) -> io::Result<()> {
        let Some((version, dir)) = self.memory.as_deref() else {
            return Ok(());
        };
        let (file, value) = match (version, bytes) {
            (Version::V2, Some(b)) => ("memory.max", b.to_string()),
            (Version::V2, None) => ("memory.max", "max".to_string()),
            (Version::V1, Some(b)) => ("memory.limit_in_bytes", b.to_string()),
            (Version::V1, None) => ("memory.limit_in_bytes", "-1".to_string()),
        };
        write_if_changed(&dir.join(file), &value)
    }

    /// Sets the process-count limit (`pids.max`); `None` lifts it.
    pub fn set_pids_max(&self, n: Option<u64>) -> io::Result<()> {
        let Some((_, dir)) = self.pids.as_deref() else {
            return Ok(());
        };
        write_if_changed(
            &dir.join("pids.max"),
            &n.map_or("max".to_string(), |n| n.to_string()),
        )
    }

    /// Sets the CPU limit in CPUs (0.5 = half of one CPU) over a 100 ms period (v2
    /// `cpu.max`, v1 `cpu.cfs_quota_us`); `None` lifts it.
    pub fn set_cpu_max(&self, cpus: Option<f64>) -> io::Result<()> {
        let Some((version, dir)) = self.cpu.as_deref() else {
            return Ok(());
        };
        const PERIOD_US: u64 = 100_000;
        let quota = cpus.map(|c| ((c * PERIOD_US as f64).round() as u64).max(1000));
        match version {
            Version::V2 => write_if_changed(
                &dir.join("cpu.max"),
                &match quota {
                    Some(q) => format!("{q} {PERIOD_US}"),
                    None => format!("max {PERIOD_US}"),
                },
            ),
            Version::V1 => {
                write_if_changed(&dir.join("cpu.cfs_period_us"), &PERIOD_US.to_string())?;
                write_if_changed(
                    &dir.join("cpu.cfs_quota_us"),
                    &quota.map_or("-1".to_string(), |q| q.to_string()),
                )
            }
        }
    }

    /// Takes the directories of `more` that this one lacks: a reload that gives a unit a
    /// new limit adds its directory, and one that takes a limit away keeps it until the
    /// unit goes, as its process may still be in it.
    pub fn absorb(&mut self, more: UnitControllers) {
        self.memory = self.memory.take().or(more.memory);
        self.pids = self.pids.take().or(more.pids);
        self.cpu = self.cpu.take().or(more.cpu);
    }

    /// The directories a run of a unit with `wants` joins: every one in the unified
    /// hierarchy, which its process is born in at no cost, and a v1 one only for a limit.
    ///
    /// Joining a v1 hierarchy means writing its `cgroup.procs`, which waits for an RCU
    /// grace period (about 9 ms here, five times the rest of a restart) unless the
    /// machine's cgroup2 mount has `favordynmods`. A unit without limits then gives up the
    /// v1 counters (the cgroup's OOM kills, its peak memory): its deaths are judged by the
    /// kernel log and the machine's counters, its memory by its processes' own.
    pub fn for_run(&self, wants: Wants) -> UnitControllers {
        let keep = |c: &Dir, wanted: bool| c.clone().filter(|d| joined(d.0, wanted));
        UnitControllers {
            memory: keep(&self.memory, wants.memory),
            pids: keep(&self.pids, wants.pids),
            cpu: keep(&self.cpu, wants.cpu),
        }
    }

    /// Each directory, opened for the child to join: a v2 one to be born in, a v1
    /// `cgroup.procs` to write. Each once, and none that is `joined` (the unit's own
    /// cgroup, already among the joins): on cgroup v2 every controller and the unit's
    /// containment are one directory, which a spawn had opened four times.
    pub fn join_files(&self, joined: Option<&Path>) -> io::Result<Vec<crate::spawn::CgroupJoin>> {
        let mut seen: Vec<&Path> = joined.into_iter().collect();
        let mut files = Vec::new();
        for (version, dir) in self.dirs() {
            if !seen.contains(&dir.as_path()) {
                seen.push(dir);
                files.push(version.join(dir)?);
            }
        }
        Ok(files)
    }

    /// How many times the kernel's OOM killer has killed in the unit's memory cgroup
    /// (v2 `memory.events`, v1 `memory.oom_control`), if the kernel counts it.
    pub fn oom_kills(&self) -> Option<u64> {
        let (version, dir) = self.memory.as_deref()?;
        let file = match version {
            Version::V2 => "memory.events",
            Version::V1 => "memory.oom_control",
        };
        let text = crate::kfile::read(dir.join(file)).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
    }

    /// How many times a fork in the unit's cgroup failed on its `pids.max` (the `max` line
    /// of `pids.events`).
    pub fn pids_limit_hits(&self) -> Option<u64> {
        let (_, dir) = self.pids.as_deref()?;
        let text = crate::kfile::read(dir.join("pids.events")).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("max ")?.trim().parse().ok())
    }

    /// The highest memory use the unit's cgroup has seen, in bytes.
    pub fn peak_memory(&self) -> Option<u64> {
        let (version, dir) = self.memory.as_deref()?;
        let file = match version {
            Version::V2 => "memory.peak",
            Version::V1 => "memory.max_usage_in_bytes",
        };
        crate::kfile::read(dir.join(file)).ok()?.trim().parse().ok()
    }

    /// Removes the directories (fails quietly while processes remain).
    pub fn remove(&self) {
        for (_, dir) in self.dirs() {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// The machine-wide count of OOM kills (`oom_kill` in `/proc/vmstat`).
pub fn vmstat_oom_kills() -> Option<u64> {
    let text = crate::kfile::read("/proc/vmstat").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
}

/// Whether a unit joins a controller's directory: always on v2, where it is the unit's
/// one cgroup; on v1 only for a limit that needs it (a v1 hierarchy cannot be joined at
/// birth, so each costs the spawn a write).
fn joined(version: Version, wanted: bool) -> bool {
    version == Version::V2 || wanted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both() -> UnitControllers {
        UnitControllers {
            memory: Some(Box::new((Version::V1, "/v1/memory/u".into()))),
            pids: Some(Box::new((Version::V2, "/v2/u".into()))),
            cpu: Some(Box::new((Version::V1, "/v1/cpu/u".into()))),
        }
    }

    #[test]
    fn a_run_joins_v1_hierarchies_only_for_its_limits_and_v2_always() {
        let none = both().for_run(Wants::default());
        assert!(none.memory.is_none() && none.cpu.is_none());
        assert!(none.pids.is_some(), "v2 costs nothing to join");
        let memory = both().for_run(Wants {
            memory: true,
            ..Wants::default()
        });
        assert!(memory.memory.is_some() && memory.cpu.is_none());
        let all = both().for_run(Wants {
            memory: true,
            pids: true,
            cpu: true,
        });
        assert!(all.memory.is_some() && all.pids.is_some() && all.cpu.is_some());
    }
}
