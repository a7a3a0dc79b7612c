//! The one reaper: `waitpid(-1, WNOHANG)`, decoded once into [`ExitStatus`].
//!
//! ward is a subreaper, so orphaned grandchildren land here too. Exactly one loop in the
//! daemon calls [`reap_any`], after every SIGCHLD, and maps the PIDs it gets back to
//! services; nothing else in ward waits for children.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use ward_core::{ExitStatus, Signal};

/// Set by a SIGCHLD action, cleared by [`child_may_have_ended`]. It starts set, so the
/// first look is always made.
static CHILD_SIGNALLED: AtomicBool = AtomicBool::new(true);
static WATCHING: OnceLock<Result<(), String>> = OnceLock::new();

/// Starts noting every SIGCHLD, beside whatever else handles it (tokio's signal stream
/// registers through the same registry, so both run). Idempotent.
///
/// Why: `wait(2)` walks the list of every child to find an exited one, so with thousands
/// of services each look costs hundreds of microseconds, and a loop that looks at every
/// turn spends more time there than anywhere else during a large start. A child's end
/// always raises SIGCHLD, so looking only after one costs nothing and misses nothing.
pub fn watch_child_signals() -> io::Result<()> {
    WATCHING
        .get_or_init(|| {
            #[allow(unsafe_code)]
            // SAFETY: the action only stores to an atomic, which is async-signal-safe, and
            // it never unregisters, so it outlives every signal it can see.
            unsafe {
                signal_hook_registry::register(libc::SIGCHLD, || {
                    CHILD_SIGNALLED.store(true, Ordering::SeqCst);
                })
            }
            .map(drop)
            .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(io::Error::other)
}

/// Whether a child may have ended since the last call: a SIGCHLD came, or nothing is
/// watching for one (then every call says yes). Clears the note, so call it before the
/// looks it allows; a child that ends during them raises it again.
pub fn child_may_have_ended() -> bool {
    if !matches!(WATCHING.get(), Some(Ok(()))) {
        return true;
    }
    CHILD_SIGNALLED.swap(false, Ordering::SeqCst)
}

/// Notes that a look failed part of the way, so the next [`child_may_have_ended`] says yes.
pub fn look_again() {
    CHILD_SIGNALLED.store(true, Ordering::SeqCst);
}

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

    /// Runs [`child_signals_are_noted_alone`] in a process of its own, where no other
    /// test's child can raise SIGCHLD and so the "nothing came" checks can hold.
    #[test]
    fn a_child_end_is_noted_and_nothing_else_is() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "reap::tests::child_signals_are_noted_alone",
                "--test-threads=1",
            ])
            .env("WARD_SYS_CHILD_SIGNALS_ALONE", "1")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            said.contains("1 passed"),
            "the inner test did not run: {said}"
        );
    }

    #[test]
    fn child_signals_are_noted_alone() {
        if std::env::var_os("WARD_SYS_CHILD_SIGNALS_ALONE").is_none() {
            return;
        }
        // Before anything watches, every look is allowed.
        assert!(child_may_have_ended());
        assert!(child_may_have_ended());
        watch_child_signals().unwrap();
        watch_child_signals().unwrap();
        // The note starts set, so the first look after watching is made.
        assert!(child_may_have_ended());
        assert!(!child_may_have_ended(), "no child has ended yet");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !child_may_have_ended() {
            assert!(std::time::Instant::now() < deadline, "no SIGCHLD was noted");
            std::thread::yield_now();
        }
        assert!(!child_may_have_ended(), "the note was not cleared");
        look_again();
        assert!(child_may_have_ended());
    }
}
