//! Reaching every process of a unit: its cgroup where ward has one, otherwise what ward
//! sees of the tree as subreaper (descendants of the main process, and orphans that were
//! re-parented to ward and carry the unit's marker in their environment).

use std::io;
use ward_core::Signal;
use ward_sys::cgroup::ServiceCgroup;
use ward_sys::tree::ProcessTable;

/// How a unit's processes are found.
#[derive(Debug)]
pub enum Containment {
    /// The unit's own cgroup.
    Cgroup(ServiceCgroup),
    /// Process-tree scanning (no usable cgroup on this machine, or `cgroup = "off"`).
    Tree,
}

/// What the tree fallback needs to know to find a unit's processes.
#[derive(Debug, Clone, Copy)]
pub struct TreeRoots<'a> {
    /// The unit's name, as in its processes' `WARD_UNIT` variable.
    pub unit: &'a str,
    /// The live main process, if any.
    pub main: Option<u32>,
    /// ward's own PID (the subreaper orphans land under).
    pub ward: u32,
}

impl Containment {
    /// The unit's processes as (pid, start time), read from one snapshot of `/proc`.
    fn tree_pids(roots: TreeRoots<'_>) -> Vec<(u32, u64)> {
        let table = ProcessTable::scan();
        let mut starts = table.marked_children(roots.ward, roots.unit);
        if let Some(m) = roots.main {
            starts.push(m);
        }
        let mut pids = table.descendants(&starts);
        pids.sort_unstable();
        pids.dedup();
        pids.retain(|&p| p != roots.ward);
        pids.into_iter()
            .filter_map(|p| Some((p, table.start_time(p)?)))
            .collect()
    }

    /// Whether `pid` is one of the unit's processes now.
    pub fn contains(&self, pid: u32, roots: TreeRoots<'_>) -> bool {
        match self {
            Containment::Cgroup(cg) => cg.pids().is_ok_and(|p| p.contains(&pid)),
            Containment::Tree => Self::tree_pids(roots).iter().any(|&(p, _)| p == pid),
        }
    }

    /// Sends `signal` to every process of the unit.
    pub fn signal_all(&self, signal: Signal, roots: TreeRoots<'_>) -> io::Result<usize> {
        self.signal_all_each(&[signal], roots)
    }

    /// Sends each of `signals`, in order, to every process of the unit: one look at the
    /// unit's processes for all of them (a stop sends its signal and SIGCONT together).
    /// Returns how many processes were reached.
    pub fn signal_all_each(&self, signals: &[Signal], roots: TreeRoots<'_>) -> io::Result<usize> {
        match self {
            Containment::Cgroup(cg) => cg.signal_all_each(signals),
            Containment::Tree => {
                let mut n = 0;
                // Each through a pidfd whose process is checked to be the one seen in the
                // snapshot: a PID reused since then is never signalled.
                for (pid, start_time) in Self::tree_pids(roots) {
                    if let Ok(fd) = ward_sys::Pidfd::open_identified(pid, start_time) {
                        let sent = signals.iter().filter(|&&s| fd.send_signal(s).is_ok());
                        if sent.count() > 0 {
                            n += 1;
                        }
                    }
                }
                Ok(n)
            }
        }
    }

    /// SIGKILLs every process of the unit.
    pub fn kill_all(&self, roots: TreeRoots<'_>) -> io::Result<()> {
        match self {
            Containment::Cgroup(cg) => cg.kill_all(),
            Containment::Tree => self.signal_all(Signal::KILL, roots).map(|_| ()),
        }
    }

    /// True when no process of the unit is left.
    pub fn is_empty(&self, roots: TreeRoots<'_>) -> bool {
        match self {
            Containment::Cgroup(cg) => cg.is_empty(),
            Containment::Tree => Self::tree_pids(roots).is_empty(),
        }
    }

    /// The cgroup directory, for status.
    pub fn cgroup_path(&self) -> Option<String> {
        match self {
            Containment::Cgroup(cg) => Some(cg.path().display().to_string()),
            Containment::Tree => None,
        }
    }

    /// Removes the unit's cgroup when the unit goes away.
    pub fn remove(&self) {
        if let Containment::Cgroup(cg) = self {
            let _ = cg.remove();
        }
    }
}
