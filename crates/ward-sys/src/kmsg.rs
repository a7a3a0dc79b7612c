//! The kernel log (`/dev/kmsg`) as evidence: the line in which the OOM killer names a PID.
//!
//! The daemon opens the log once, at its end, and from then on reads only what the kernel
//! adds, keeping the recent OOM-killer lines. A lookup therefore costs the few records
//! written since the last one, not the whole ring buffer (which, on a busy machine, takes
//! tens of milliseconds to read and would delay the restart of a killed service), and a
//! line about an earlier process that had the same PID is never taken for a new one.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;

/// How many OOM-killer lines are kept between lookups.
const KEEP: usize = 256;

/// The kernel log from the moment it was opened.
#[derive(Debug, Default)]
pub struct KernelLog {
    file: Option<File>,
    recent: VecDeque<String>,
}

impl KernelLog {
    /// Opens `/dev/kmsg` at its end. Without access (no permission, no device), every
    /// lookup finds nothing.
    pub fn open() -> KernelLog {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .ok()
            .and_then(|mut f| f.seek(SeekFrom::End(0)).ok().map(|_| f));
        KernelLog {
            file,
            recent: VecDeque::new(),
        }
    }

    /// Whether the log could be opened.
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// The kernel's own words about killing `pid` for lack of memory, if it wrote them
    /// since the log was opened (`Killed process PID (name) …`, else
    /// `oom-kill:…,pid=PID,…`).
    pub fn oom_line(&mut self, pid: u32) -> Option<String> {
        self.drain();
        let killed = format!("Killed process {pid} (");
        let oom_kill = format!(",pid={pid},");
        let newest_first = || self.recent.iter().rev();
        newest_first()
            .find(|m| m.contains(&killed))
            .or_else(|| {
                newest_first().find(|m| m.starts_with("oom-kill:") && m.contains(&oom_kill))
            })
            .cloned()
    }

    /// Reads what the kernel wrote since the last read, keeping the OOM-killer lines.
    fn drain(&mut self) {
        let Some(f) = self.file.as_mut() else {
            return;
        };
        // One record per read; a record is at most a few KiB.
        let mut buf = [0u8; 8192];
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let record = String::from_utf8_lossy(&buf[..n]);
                    let message = record
                        .split_once(';')
                        .map_or(&*record, |(_, m)| m)
                        .trim_end();
                    if message.contains("Killed process ") || message.starts_with("oom-kill:") {
                        if self.recent.len() == KEEP {
                            self.recent.pop_front();
                        }
                        self.recent.push_back(message.to_string());
                    }
                }
                // EPIPE: records were overwritten before they were read; go on.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // WouldBlock: nothing more for now.
                Err(_) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_the_log_never_named_has_no_line() {
        let mut log = KernelLog::open();
        // PID 0 is never killed by the OOM killer; a second lookup reads only new records.
        assert_eq!(log.oom_line(0), None);
        assert_eq!(log.oom_line(0), None);
    }

    #[test]
    fn lines_are_matched_by_pid_newest_first() {
        let mut log = KernelLog::default();
        log.recent
            .push_back("oom-kill:constraint=CONSTRAINT_MEMCG,task=hog,pid=42,uid=0".into());
        log.recent
            .push_back("Memory cgroup out of memory: Killed process 42 (hog) total-vm:1kB".into());
        log.recent
            .push_back("oom-kill:constraint=CONSTRAINT_MEMCG,task=x,pid=7,uid=0".into());
        assert!(
            log.oom_line(42)
                .unwrap()
                .contains("Killed process 42 (hog)")
        );
        assert!(log.oom_line(7).unwrap().starts_with("oom-kill:"));
        assert_eq!(log.oom_line(4), None);
    }
}
