//! How a process ended, decoded once from the wait status into a closed enum.

use crate::Signal;
use std::fmt;

/// The end of a process as the kernel reported it to its parent.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// The process called `exit` with this code.
    Exited(i32),
    /// A signal ended the process.
    Signaled {
        /// The signal that ended it.
        signal: Signal,
        /// Whether the kernel wrote a core dump.
        core_dumped: bool,
    },
    /// The process ended while ward was not running, and the kernel kept no status for
    /// ward to read (its new parent reaped it before ward could ask, or the kernel is
    /// older than 6.15).
    Unknown,
}

impl ExitStatus {
    /// The exit code, when the process called `exit`.
    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Exited(c) => Some(c),
            _ => None,
        }
    }

    /// The signal that ended the process, if one did.
    pub fn signal(self) -> Option<Signal> {
        match self {
            ExitStatus::Signaled { signal, .. } => Some(signal),
            _ => None,
        }
    }

    /// Whether the kernel wrote a core dump.
    pub fn core_dumped(self) -> bool {
        matches!(
            self,
            ExitStatus::Signaled {
                core_dumped: true,
                ..
            }
        )
    }

    /// True only for `exit 0`: the one outcome that `restart = "on-failure"` leaves alone.
    pub fn is_clean(self) -> bool {
        matches!(self, ExitStatus::Exited(0))
    }
}

impl fmt::Display for ExitStatus {
    /// Words an operator reads in `ward status`: `exit 3`, `killed by SIGSEGV (core dumped)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitStatus::Exited(code) => write!(f, "exit {code}"),
            ExitStatus::Signaled {
                signal,
                core_dumped: true,
            } => write!(f, "killed by {signal} (core dumped)"),
            ExitStatus::Signaled { signal, .. } => write!(f, "killed by {signal}"),
            ExitStatus::Unknown => f.write_str("exited, status unknown"),
        }
    }
}

/// The exit codes that count as success: 0 always, and those `success_exit_codes` lists
/// (systemd's `SuccessExitStatus=`). A set of 256 bits, so the machine's parameters stay
/// plain copyable values.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SuccessCodes([u64; 4]);

impl SuccessCodes {
    /// The set with `code` added; codes outside 0..=255 cannot be exit codes and are
    /// ignored (the config check refuses them).
    pub fn with(mut self, code: i32) -> SuccessCodes {
        if let Ok(c) = u8::try_from(code) {
            self.0[usize::from(c / 64)] |= 1 << (c % 64);
        }
        self
    }

    /// Whether `status` is a success: `exit 0`, or an exit with a listed code. A death by
    /// signal never is.
    pub fn accepts(self, status: ExitStatus) -> bool {
        match status.code() {
            Some(0) => true,
            Some(c) => {
                u8::try_from(c).is_ok_and(|c| self.0[usize::from(c / 64)] & (1 << (c % 64)) != 0)
            }
            None => false,
        }
    }

    /// The listed codes, ascending (0 is implied and not listed).
    pub fn codes(self) -> Vec<i32> {
        (1..=255)
            .filter(|&c| self.accepts(ExitStatus::Exited(c)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_codes_hold_zero_and_what_is_listed() {
        let codes = SuccessCodes::default().with(3).with(255).with(64).with(300);
        assert!(codes.accepts(ExitStatus::Exited(0)));
        assert!(codes.accepts(ExitStatus::Exited(3)));
        assert!(codes.accepts(ExitStatus::Exited(64)));
        assert!(codes.accepts(ExitStatus::Exited(255)));
        assert!(!codes.accepts(ExitStatus::Exited(1)));
        assert!(!codes.accepts(ExitStatus::Exited(-1)));
        assert!(!codes.accepts(ExitStatus::Unknown));
        assert!(!codes.accepts(ExitStatus::Signaled {
            signal: Signal::TERM,
            core_dumped: false
        }));
        assert_eq!(codes.codes(), [3, 64, 255]);
    }

    #[test]
    fn words() {
        assert_eq!(ExitStatus::Exited(3).to_string(), "exit 3");
        let segv = Signal::from_number(11).unwrap();
        assert_eq!(
            ExitStatus::Signaled {
                signal: segv,
                core_dumped: true
            }
            .to_string(),
            "killed by SIGSEGV (core dumped)"
        );
        assert_eq!(
            ExitStatus::Signaled {
                signal: Signal::KILL,
                core_dumped: false
            }
            .to_string(),
            "killed by SIGKILL"
        );
        assert_eq!(ExitStatus::Unknown.to_string(), "exited, status unknown");
        assert!(!ExitStatus::Unknown.is_clean());
    }
}
