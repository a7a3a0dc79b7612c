//! The one reaper: `waitpid(-1, WNOHANG)`, decoded once into [`ExitStatus`].
//!
//! ward is a subreaper, so orphaned grandchildren land here too. Exactly one loop in the
//! daemon calls [`reap_any`], after every SIGCHLD, and maps the PIDs it gets back to
//! services; nothing else in ward waits for children.

use std::io;
use ward_core::{ExitStatus, Signal};

/// Reaps one exited child if there is one. `Ok(None)`: children exist but none has exited,
/// or there are no children at all.
pub fn reap_any() -> io::Result<Option<(u32, ExitStatus)>> {
    use rustix::process::{WaitOptions, wait};
    // `wait`, not `waitpid(None)`: the latter is pid 0, this process group only, and every
    // service runs in a session of its own.
    match wait(WaitOptions::NOHANG) {
        Ok(Some((pid, status))) => {
            let pid = pid.as_raw_nonzero().get() as u32;
            match decode(status.as_raw()) {
                Some(s) => Ok(Some((pid, s))),
                // Only a stop or continue report decodes to nothing, and those come only
                // with WUNTRACED/WCONTINUED, which are not asked for: look again.
                None => reap_any(),
            }
        }
        Ok(None) => Ok(None),
        Err(rustix::io::Errno::CHILD) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Decodes a raw wait status (`WIFEXITED`/`WIFSIGNALED`/`WCOREDUMP`), or `None` for a
/// stop/continue report, which `waitpid` without `WUNTRACED` does not return.
pub fn decode(raw: i32) -> Option<ExitStatus> {
    let sig = raw & 0x7f;
    if sig == 0 {
        return Some(ExitStatus::Exited((raw >> 8) & 0xff));
    }
    if sig == 0x7f {
        return None;
    }
    Some(ExitStatus::Signaled {
        signal: Signal::from_number(sig)?,
        core_dumped: raw & 0x80 != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_statuses() {
        assert_eq!(decode(3 << 8), Some(ExitStatus::Exited(3)));
        assert_eq!(
            decode(11 | 0x80),
            Some(ExitStatus::Signaled {
                signal: Signal::from_number(11).unwrap(),
                core_dumped: true
            })
        );
        assert_eq!(
            decode(9),
            Some(ExitStatus::Signaled {
                signal: Signal::KILL,
                core_dumped: false
            })
        );
        assert_eq!(decode(0x137f), None);
    }
}
