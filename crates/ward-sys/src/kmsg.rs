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

pub use ward_core::classify::KernelOomLog;

/// How many OOM-killer lines are kept between lookups.
const KEEP: usize = 256;

/// The kernel log from the moment it was opened.
#[derive(Debug, Default)]
pub struct KernelLog {
    file: Option<File>,
    /// OOM-killer lines with the kernel's sequence number of their record, oldest first.
    recent: VecDeque<(u64, String)>,
    /// The sequence number after the last record read.
    next: u64,
}

/// A point in the kernel log: lines after it belong to what began there (a run).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Mark(u64);

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
            next: 0,
        }
    }

    /// Now, in the log: read what is there, so that only records the kernel writes from
    /// here on come after the mark.
    pub fn mark(&mut self) -> Mark {
        self.drain();
        Mark(self.next)
    }

    /// What the OOM killer wrote since `since`: the line naming `pid` (`Killed process
    /// PID (name) …`, else `oom-kill:…,pid=PID,…`), else the latest line naming another.
    /// A line about an earlier process that had the same PID is never taken for this one.
    pub fn oom_since(&mut self, since: Mark, pid: u32) -> KernelOomLog {
        if self.file.is_none() {
            return KernelOomLog::Unread;
        }
        self.drain();
        let killed = format!("Killed process {pid} (");
        let oom_kill = format!(",pid={pid},");
        let window = || {
            self.recent
                .iter()
                .rev()
                .filter(|(seq, _)| *seq >= since.0)
                .map(|(_, m)| m)
        };
        let this = window()
            .find(|m| m.contains(&killed))
            .or_else(|| window().find(|m| m.starts_with("oom-kill:") && m.contains(&oom_kill)));
        if let Some(line) = this {
            return KernelOomLog::NamesThis(line.clone());
        }
        // The `Killed process` line names the victim in words; prefer it.
        match window()
            .find(|m| m.contains("Killed process "))
            .or_else(|| window().next())
        {
            Some(line) => KernelOomLog::NamesOthers(line.clone()),
            None => KernelOomLog::Silent,
        }
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
                    // `PRIORITY,SEQUENCE,TIMESTAMP,FLAGS[,…];MESSAGE`
                    let (prefix, message) = record.split_once(';').unwrap_or(("", &record));
                    let seq = prefix.split(',').nth(1).and_then(|s| s.parse::<u64>().ok());
                    if let Some(seq) = seq {
                        self.next = self.next.max(seq + 1);
                    }
                    let message = message.trim_end();
                    if message.contains("Killed process ") || message.starts_with("oom-kill:") {
                        if self.recent.len() == KEEP {
                            self.recent.pop_front();
                        }
                        self.recent
                            .push_back((seq.unwrap_or(self.next), message.to_string()));
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
        let mark = log.mark();
        // PID 0 is never killed by the OOM killer; a second lookup reads only new records.
        for _ in 0..2 {
            let got = log.oom_since(mark, 0);
            assert!(!matches!(got, KernelOomLog::NamesThis(_)), "{got:?}");
        }
    }

    #[test]
    fn an_unreadable_log_says_nothing_either_way() {
        assert_eq!(
            KernelLog::default().oom_since(Mark::default(), 42),
            KernelOomLog::Unread
        );
    }

    fn readable(lines: &[(u64, &str)]) -> KernelLog {
        KernelLog {
            // Any readable file stands in for the device: nothing new comes from it.
            file: File::open("/dev/null").ok(),
            recent: lines.iter().map(|(s, l)| (*s, l.to_string())).collect(),
            next: lines.last().map_or(0, |(s, _)| s + 1),
        }
    }

    #[test]
    fn lines_are_matched_by_pid_newest_first() {
        let mut log = readable(&[
            (
                1,
                "oom-kill:constraint=CONSTRAINT_MEMCG,task=hog,pid=42,uid=0",
            ),
            (
                2,
                "Memory cgroup out of memory: Killed process 42 (hog) total-vm:1kB",
            ),
            (3, "oom-kill:constraint=CONSTRAINT_MEMCG,task=x,pid=7,uid=0"),
        ]);
        let m = Mark(0);
        assert!(
            matches!(log.oom_since(m, 42), KernelOomLog::NamesThis(l) if l.contains("Killed process 42 (hog)"))
        );
        assert!(
            matches!(log.oom_since(m, 7), KernelOomLog::NamesThis(l) if l.starts_with("oom-kill:"))
        );
        assert!(
            matches!(log.oom_since(m, 4), KernelOomLog::NamesOthers(l) if l.contains("Killed process 42"))
        );
    }

    #[test]
    fn lines_before_the_mark_belong_to_earlier_runs() {
        // PID 42 was OOM-killed once; a later process with the same PID was not.
        let mut log = readable(&[(5, "Out of memory: Killed process 42 (old) total-vm:1kB")]);
        assert_eq!(log.oom_since(Mark(6), 42), KernelOomLog::Silent);
        assert!(matches!(
            log.oom_since(Mark(5), 42),
            KernelOomLog::NamesThis(_)
        ));
    }
}
