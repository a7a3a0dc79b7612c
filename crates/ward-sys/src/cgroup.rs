//! Cgroups as containment: every service gets its own cgroup so that "stopped" can mean
//! "no process of it is left", even after `setsid` or a double fork.
//!
//! v2 is the primary target (a writable cgroup2 mount, pure or hybrid); v1 is the fallback
//! (the `pids` hierarchy, else `memory`). Membership is all ward needs today; limits and
//! counters build on the same directories later.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::pidfd::Pidfd;
use ward_core::Signal;

/// Which cgroup version a driver uses.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Version {
    /// The unified hierarchy.
    V2,
    /// A legacy per-controller hierarchy.
    V1,
}

impl Version {
    /// How a child joins a directory of this version: born in a v2 one, by writing a v1
    /// one's `cgroup.procs`.
    pub fn join(self, dir: &Path) -> io::Result<crate::spawn::CgroupJoin> {
        match self {
            Version::V2 => crate::spawn::CgroupJoin::dir(dir),
            Version::V1 => crate::spawn::CgroupJoin::procs(dir),
        }
    }
}

/// Creates and finds service cgroups under one directory owned by this daemon.
#[derive(Clone, Debug)]
pub struct CgroupDriver {
    version: Version,
    /// `<mount>/<our own cgroup>/ward-<id>`.
    base: PathBuf,
    /// Whether this driver made `base` (rather than finding it, left by an earlier daemon).
    created: bool,
}

/// One service's cgroup directory.
#[derive(Clone, Debug)]
pub struct ServiceCgroup {
    version: Version,
    path: PathBuf,
}

/// Why no cgroup driver could be set up.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No mounted hierarchy of the requested version.
    #[error("no cgroup {0} hierarchy is mounted")]
    NotMounted(&'static str),
    /// The hierarchy exists but ward cannot create its directory there.
    #[error("cannot create {path}: {source}")]
    NotWritable {
        /// The directory ward tried to create.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// A mount from `/proc/self/mountinfo` that matters to cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupMount {
    pub(crate) mount_point: PathBuf,
    /// `None` for cgroup2; the controller options for v1.
    pub(crate) v1_options: Option<Vec<String>>,
}

pub(crate) fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mount_point = match left.split(' ').nth(4) {
            Some(m) => unescape_mount(m),
            None => continue,
        };
        let mut r = right.split(' ');
        let fstype = r.next().unwrap_or("");
        let _source = r.next();
        let opts = r.next().unwrap_or("");
        match fstype {
            "cgroup2" => out.push(CgroupMount {
                mount_point: PathBuf::from(mount_point),
                v1_options: None,
            }),
            "cgroup" => out.push(CgroupMount {
                mount_point: PathBuf::from(mount_point),
                v1_options: Some(opts.split(',').map(str::to_string).collect()),
            }),
            _ => {}
        }
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as octal.
pub(crate) fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Our own cgroup path in the v2 hierarchy (`0::/path`) or a v1 one naming `controller`.
pub(crate) fn own_cgroup(text: &str, controller: Option<&str>) -> Option<String> {
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_id, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        match controller {
            None if ctrls.is_empty() => return Some(path.to_string()),
            Some(c) if ctrls.split(',').any(|x| x == c) => return Some(path.to_string()),
            _ => {}
        }
    }
    None
}

impl CgroupDriver {
    /// Finds a usable hierarchy of `version` (or the best one when `None`) and creates the
    /// daemon's directory `ward-<id>` below its own cgroup.
    pub fn detect(version: Option<Version>, id: &str) -> Result<CgroupDriver, CgroupError> {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mounts = parse_mountinfo(&mountinfo);
        let mut last_err = None;
        if version != Some(Version::V1) {
            if let Some(m) = mounts.iter().find(|m| m.v1_options.is_none()) {
                let rel = own_cgroup(&own, None).unwrap_or_else(|| "/".into());
                match Self::create_base(Version::V2, &m.mount_point, &rel, id) {
                    Ok(d) => return Ok(d),
                    Err(e) => last_err = Some(e),
                }
            } else if version == Some(Version::V2) {
                return Err(CgroupError::NotMounted("v2"));
            }
            if version == Some(Version::V2) {
                return Err(last_err.expect("set above"));
            }
        }
        for controller in ["pids", "memory"] {
            let found = mounts.iter().find(|m| {
                m.v1_options
                    .as_ref()
                    .is_some_and(|o| o.iter().any(|x| x == controller))
            });
            if let Some(m) = found {
                let rel = own_cgroup(&own, Some(controller)).unwrap_or_else(|| "/".into());
                match Self::create_base(Version::V1, &m.mount_point, &rel, id) {
                    Ok(d) => return Ok(d),
                    Err(e) => last_err = Some(e),
                }
            }
        }
        Err(last_err.unwrap_or(CgroupError::NotMounted("v1 or v2")))
    }

    fn create_base(
        version: Version,
        mount: &Path,
        rel: &str,
        id: &str,
    ) -> Result<CgroupDriver, CgroupError> {
        let base = mount
            .join(rel.trim_start_matches('/'))
            .join(format!("ward-{id}"));
        let created = match fs::create_dir(&base) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            Err(source) => return Err(CgroupError::NotWritable { path: base, source }),
        };
        Ok(CgroupDriver {
            version,
            base,
            created,
        })
    }

    /// Whether [`CgroupDriver::detect`] made the daemon's directory, so that a start that
    /// fails takes it away again (one found there is left as it was).
    pub fn created_base(&self) -> bool {
        self.created
    }

    /// The version in use.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The daemon's directory, parent of every service cgroup.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Creates (or reuses) the cgroup of unit `name`.
    pub fn service(&self, name: &str) -> io::Result<ServiceCgroup> {
        let path = self.base.join(name);
        match fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        Ok(ServiceCgroup {
            version: self.version,
            path,
        })
    }

    /// Removes the daemon's directory once every service cgroup below it is gone.
    pub fn remove_base(&self) -> io::Result<()> {
        fs::remove_dir(&self.base)
    }
}

impl ServiceCgroup {
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the cgroup for a child to join: a v2 directory to be born in, a v1
    /// `cgroup.procs` to write.
    pub fn open_for_join(&self) -> io::Result<crate::spawn::CgroupJoin> {
        self.version.join(&self.path)
    }

    /// The PIDs in the cgroup now.
    pub fn pids(&self) -> io::Result<Vec<u32>> {
        pids_in(&self.path)
    }

    /// True when no process is left (a missing directory counts as empty).
    pub fn is_empty(&self) -> bool {
        match self.version {
            Version::V2 => match crate::kfile::read(self.path.join("cgroup.events")) {
                Ok(t) => t.lines().any(|l| l == "populated 0"),
                Err(_) => self.pids().map(|p| p.is_empty()).unwrap_or(true),
            },
            Version::V1 => self.pids().map(|p| p.is_empty()).unwrap_or(true),
        }
    }

    /// Sends `signal` to every process in the cgroup, each through a pidfd that is checked to
    /// belong to this cgroup after opening, so a PID reused in the meantime is never hit.
    /// Returns how many processes were signalled.
    pub fn signal_all(&self, signal: Signal) -> io::Result<usize> {
        self.signal_all_each(&[signal], None)
    }

    /// Sends each of `signals`, in order, to every process in the cgroup, with one pidfd
    /// and one membership check per process for all of them. `known` is a process of the
    /// cgroup whose pidfd the caller holds (the unit's main process): it is reached through
    /// that pidfd, with no new one and no check, which is most of a stop's cost for a unit
    /// of one process.
    pub fn signal_all_each(&self, signals: &[Signal], known: Option<&Pidfd>) -> io::Result<usize> {
        let mut n = 0;
        for pid in self.pids()? {
            let opened;
            let fd = match known {
                Some(fd) if fd.pid() == pid => fd,
                _ => {
                    let Ok(fd) = Pidfd::open(pid) else { continue };
                    if !self.contains(pid) {
                        continue;
                    }
                    opened = fd;
                    &opened
                }
            };
            if signals
                .iter()
                .filter(|&&s| fd.send_signal(s).is_ok())
                .count()
                > 0
            {
                n += 1;
            }
        }
        Ok(n)
    }

    fn contains(&self, pid: u32) -> bool {
        let Ok(text) = crate::kfile::read(format!("/proc/{pid}/cgroup")) else {
            return false;
        };
        let name = self.path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let parent = self
            .path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .unwrap_or("");
        let suffix = format!("/{parent}/{name}");
        text.lines().any(|l| l.ends_with(&suffix))
    }

    /// SIGKILLs every process: `cgroup.kill` on v2 (atomic, race-free against forks),
    /// otherwise a pidfd per process.
    ///
    /// An empty v2 cgroup is left alone: nothing in it can fork, and one once killed
    /// through `cgroup.kill` kills every child later born in it on some kernels, which
    /// costs the next start its fast path (see `spawn`).
    pub fn kill_all(&self) -> io::Result<()> {
        if self.version == Version::V2 {
            if self.is_empty() {
                return Ok(());
            }
            match fs::write(self.path.join("cgroup.kill"), "1") {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        self.signal_all(Signal::KILL).map(|_| ())
    }

    /// Removes the directory; fails with EBUSY while processes remain.
    pub fn remove(&self) -> io::Result<()> {
        fs::remove_dir(&self.path)
    }
}

/// The processes in the cgroup directory `dir` (its `cgroup.procs`), for a reader that
/// holds the directory's path rather than its [`ServiceCgroup`] (the sampler's thread).
pub fn pids_in(dir: &Path) -> io::Result<Vec<u32>> {
    let text = crate::kfile::read(dir.join("cgroup.procs"))?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hybrid_mountinfo() {
        let text = "\
30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
40 30 0:35 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
41 30 0:36 / /sys/fs/cgroup/my\\040dir rw - cgroup cgroup rw,memory";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].mount_point, PathBuf::from("/sys/fs/cgroup/unified"));
        assert!(m[0].v1_options.is_none());
        assert_eq!(m[2].mount_point, PathBuf::from("/sys/fs/cgroup/my dir"));
    }

    #[test]
    fn finds_own_cgroup() {
        let text = "8:pids:/a\n4:memory:/process_api/x\n0::/svc.slice/ward";
        assert_eq!(own_cgroup(text, None).as_deref(), Some("/svc.slice/ward"));
        assert_eq!(
            own_cgroup(text, Some("memory")).as_deref(),
            Some("/process_api/x")
        );
        assert_eq!(own_cgroup(text, Some("cpu")), None);
    }
}
