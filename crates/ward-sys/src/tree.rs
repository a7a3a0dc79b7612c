//! What ward can see of a service's processes without cgroups: the descendants of its main
//! process, plus orphans re-parented to ward (the subreaper) that carry the service's
//! marker in their environment.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs;

use crate::identity::read_stat;

/// The environment variable every service process inherits, naming its unit.
pub const UNIT_ENV: &str = "WARD_UNIT";

/// A snapshot of parent links for every process in `/proc`.
#[derive(Debug, Default)]
pub struct ProcessTable {
    children: HashMap<u32, Vec<u32>>,
    /// Start time of every process seen, to verify identity when a pidfd is opened later.
    starts: HashMap<u32, u64>,
    /// The children of a parent by the unit their marker names, read once per parent and
    /// table: looking up N units reads each child's environment once, not N times.
    marks: RefCell<HashMap<u32, HashMap<String, Vec<u32>>>>,
}

impl ProcessTable {
    /// Reads every `/proc/PID/stat`. Processes that vanish during the scan are skipped.
    pub fn scan() -> ProcessTable {
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut starts = HashMap::new();
        if let Ok(dir) = fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                    continue;
                };
                if let Ok(stat) = read_stat(pid)
                    && stat.state != 'Z'
                {
                    children.entry(stat.ppid).or_default().push(pid);
                    starts.insert(pid, stat.start_time);
                }
            }
        }
        ProcessTable {
            children,
            starts,
            marks: RefCell::default(),
        }
    }

    /// The start time the process had when the table was read.
    pub fn start_time(&self, pid: u32) -> Option<u64> {
        self.starts.get(&pid).copied()
    }

    /// `roots` and all their descendants.
    pub fn descendants(&self, roots: &[u32]) -> Vec<u32> {
        let mut out = Vec::new();
        let mut stack: Vec<u32> = roots.to_vec();
        while let Some(p) = stack.pop() {
            out.push(p);
            if let Some(kids) = self.children.get(&p) {
                stack.extend(kids);
            }
        }
        out
    }

    /// Children of `parent` whose environment says they belong to `unit`.
    pub fn marked_children(&self, parent: u32, unit: &str) -> Vec<u32> {
        let mut marks = self.marks.borrow_mut();
        let by_unit = marks.entry(parent).or_insert_with(|| {
            let mut by_unit: HashMap<String, Vec<u32>> = HashMap::new();
            for &pid in self.children.get(&parent).into_iter().flatten() {
                if let Some(unit) = marker(pid) {
                    by_unit.entry(unit).or_default().push(pid);
                }
            }
            by_unit
        });
        by_unit.get(unit).cloned().unwrap_or_default()
    }
}

/// Sends `signal` to every living descendant of this process (for a subreaper, that
/// includes the orphans of its children's trees: a double fork and `setsid` do not get
/// away), each through a pidfd checked against the process seen in the scan, so a reused
/// PID is never signalled. Returns how many were reached.
pub fn signal_own_descendants(signal: ward_core::Signal) -> usize {
    let me = crate::own_pid();
    let table = ProcessTable::scan();
    table
        .descendants(&[me])
        .into_iter()
        .filter(|&p| p != me)
        .filter_map(|p| crate::Pidfd::open_identified(p, table.start_time(p)?).ok())
        .filter(|fd| fd.send_signal(signal).is_ok())
        .count()
}

/// The unit a process's environment names, if it carries the marker.
fn marker(pid: u32) -> Option<String> {
    let env = fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{UNIT_ENV}=");
    env.split(|&b| b == 0)
        .find_map(|kv| kv.strip_prefix(prefix.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child of this test process carrying `marker` as its unit, killed on drop.
    struct Marked(std::process::Child);

    impl Marked {
        /// Returns once the child's environment can be read: the spawn returns as soon as
        /// the exec has left the old memory, before the kernel has laid out the new
        /// environment, so a look at once may find it empty.
        fn spawn(unit: &str) -> Marked {
            let child = std::process::Command::new("sleep")
                .arg("30")
                .env(UNIT_ENV, unit)
                .spawn()
                .expect("spawn sleep");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while marker(child.id()).is_none() {
                assert!(std::time::Instant::now() < deadline, "no marker in time");
                std::thread::yield_now();
            }
            Marked(child)
        }
    }

    impl Drop for Marked {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn children_are_found_by_the_unit_their_marker_names() {
        let a = Marked::spawn("alpha");
        let b = Marked::spawn("alpha:health");
        let me = std::process::id();
        let table = ProcessTable::scan();
        let alpha = table.marked_children(me, "alpha");
        assert!(alpha.contains(&a.0.id()), "{alpha:?}");
        // A hook's marker names the unit and the hook: not the unit's own process.
        assert!(!alpha.contains(&b.0.id()), "{alpha:?}");
        assert_eq!(table.marked_children(me, "alpha:health"), [b.0.id()]);
        assert!(table.marked_children(me, "beta").is_empty());
        // Asked again, from what the first look read.
        assert_eq!(table.marked_children(me, "alpha"), alpha);
        assert!(table.descendants(&[me]).contains(&a.0.id()));
    }
}
