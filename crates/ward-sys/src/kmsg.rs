//! The kernel log (`/dev/kmsg`) as evidence: the line in which the OOM killer names a PID.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;

/// The kernel's own words about killing `pid` for lack of memory, if its log still holds
/// them (`Killed process PID (name) …` or `oom-kill:…,pid=PID,…`). Reads the whole ring
/// buffer, so call it only for a death that may be an OOM kill.
pub fn oom_line(pid: u32) -> Option<String> {
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
        .ok()?;
    let killed = format!("Killed process {pid} (");
    let oom_kill = format!(",pid={pid},");
    let mut found = None;
    // One record per read; a record is at most a few KiB.
    let mut buf = vec![0u8; 8192];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let record = String::from_utf8_lossy(&buf[..n]);
                let message = record
                    .split_once(';')
                    .map_or(&*record, |(_, m)| m)
                    .trim_end();
                if message.contains(&killed) {
                    return Some(message.to_string());
                }
                if message.starts_with("oom-kill:") && message.contains(&oom_kill) {
                    found = Some(message.to_string());
                }
            }
            // EPIPE: a record was overwritten while reading; go on with the next.
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_the_log_never_named_has_no_line() {
        // PID 0 is never killed by the OOM killer.
        assert_eq!(oom_line(0), None);
    }
}
