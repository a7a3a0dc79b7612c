//! What ward can see of a service's processes without cgroups: the descendants of its main
//! process, plus orphans re-parented to ward (the subreaper) that carry the service's
//! marker in their environment.

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
        ProcessTable { children, starts }
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
        let needle = format!("{UNIT_ENV}={unit}");
        self.children
            .get(&parent)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&pid| {
                fs::read(format!("/proc/{pid}/environ"))
                    .map(|env| env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()))
                    .unwrap_or(false)
            })
            .collect()
    }
}
