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

/// One look at `/proc`, shared by every unit contained by process tree in one turn of
/// the supervisor's loop: a shutdown of N units, or the poll of N units waiting for their
/// last processes, reads `/proc` once instead of N times. The supervisor forgets it at
/// each turn and after each spawn; a look that is older than a process's end only makes a
/// unit seem busy a little longer, and the next poll looks again.
#[derive(Debug, Default)]
pub struct ProcView {
    table: Option<ProcessTable>,
}

impl ProcView {
    /// The table, read now if this turn has none yet.
    pub fn table(&mut self) -> &ProcessTable {
        self.table.get_or_insert_with(ProcessTable::scan)
    }

    /// The next look reads `/proc` again.
    pub fn forget(&mut self) {
        self.table = None;
    }
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
    /// The unit's processes as (pid, start time), from this turn's look at `/proc`.
    fn tree_pids(roots: TreeRoots<'_>, view: &mut ProcView) -> Vec<(u32, u64)> {
        Self::tree_pids_in(view.table(), roots)
    }

    /// The unit's processes as (pid, start time) in `table`: the main process and the
    /// orphans re-parented to ward that carry the unit's marker, with their descendants.
    pub fn tree_pids_in(table: &ProcessTable, roots: TreeRoots<'_>) -> Vec<(u32, u64)> {
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
    pub fn contains(&self, pid: u32, roots: TreeRoots<'_>, view: &mut ProcView) -> bool {
        match self {
            Containment::Cgroup(cg) => cg.pids().is_ok_and(|p| p.contains(&pid)),
            Containment::Tree => Self::tree_pids(roots, view).iter().any(|&(p, _)| p == pid),
        }
    }

    /// Sends `signal` to every process of the unit.
    pub fn signal_all(
        &self,
        signal: Signal,
        roots: TreeRoots<'_>,
        view: &mut ProcView,
    ) -> io::Result<usize> {
        self.signal_all_each(&[signal], roots, view, None)
    }

    /// Sends each of `signals`, in order, to every process of the unit: one look at the
    /// unit's processes for all of them (a stop sends its signal and SIGCONT together).
    /// Returns how many processes were reached. `main`, the main process's pidfd where the
    /// unit has one, reaches that process without another pidfd and check.
    pub fn signal_all_each(
        &self,
        signals: &[Signal],
        roots: TreeRoots<'_>,
        view: &mut ProcView,
        main: Option<&ward_sys::Pidfd>,
    ) -> io::Result<usize> {
        match self {
            Containment::Cgroup(cg) => cg.signal_all_each(signals, main),
            Containment::Tree => {
                let mut n = 0;
                // Each through a pidfd whose process is checked to be the one seen in the
                // snapshot: a PID reused since then is never signalled.
                for (pid, start_time) in Self::tree_pids(roots, view) {
                    let opened;
                    let fd = match main {
                        Some(fd) if fd.pid() == pid => fd,
                        _ => match ward_sys::Pidfd::open_identified(pid, start_time) {
                            Ok(fd) => {
                                opened = fd;
                                &opened
                            }
                            Err(_) => continue,
                        },
                    };
                    let sent = signals.iter().filter(|&&s| fd.send_signal(s).is_ok());
                    if sent.count() > 0 {
                        n += 1;
                    }
                }
                Ok(n)
            }
        }
    }

    /// SIGKILLs every process of the unit.
    pub fn kill_all(&self, roots: TreeRoots<'_>, view: &mut ProcView) -> io::Result<()> {
        match self {
            Containment::Cgroup(cg) => cg.kill_all(),
            Containment::Tree => self.signal_all(Signal::KILL, roots, view).map(|_| ()),
        }
    }

    /// True when no process of the unit is left.
    pub fn is_empty(&self, roots: TreeRoots<'_>, view: &mut ProcView) -> bool {
        match self {
            Containment::Cgroup(cg) => cg.is_empty(),
            Containment::Tree => Self::tree_pids(roots, view).is_empty(),
        }
    }

    /// The cgroup directory, for status.
    pub fn cgroup_path(&self) -> Option<String> {
        match self {
            Containment::Cgroup(cg) => Some(crate::wire::path(cg.path())),
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
