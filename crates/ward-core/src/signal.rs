//! Signal names and numbers, as Linux numbers them.
//!
//! Kept here (not in `ward-sys`) because config validation and exit descriptions need
//! names without touching the OS; the table is Linux's ABI and does not change.

use std::fmt;

/// A Linux signal number that ward knows by name.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

/// Linux signal numbers (x86_64, aarch64 and most other architectures agree on these).
const TABLE: &[(i32, &str)] = &[
    (1, "SIGHUP"),
    (2, "SIGINT"),
    (3, "SIGQUIT"),
    (4, "SIGILL"),
    (5, "SIGTRAP"),
    (6, "SIGABRT"),
    (7, "SIGBUS"),
    (8, "SIGFPE"),
    (9, "SIGKILL"),
    (10, "SIGUSR1"),
    (11, "SIGSEGV"),
    (12, "SIGUSR2"),
    (13, "SIGPIPE"),
    (14, "SIGALRM"),
    (15, "SIGTERM"),
    (16, "SIGSTKFLT"),
    (17, "SIGCHLD"),
    (18, "SIGCONT"),
    (19, "SIGSTOP"),
    (20, "SIGTSTP"),
    (21, "SIGTTIN"),
    (22, "SIGTTOU"),
    (23, "SIGURG"),
    (24, "SIGXCPU"),
    (25, "SIGXFSZ"),
    (26, "SIGVTALRM"),
    (27, "SIGPROF"),
    (28, "SIGWINCH"),
    (29, "SIGIO"),
    (30, "SIGPWR"),
    (31, "SIGSYS"),
];

/// The lowest and highest real-time signal numbers glibc leaves to applications.
const RT_MIN: i32 = 34;
const RT_MAX: i32 = 64;
/// The two real-time signals glibc keeps for itself; a process can still die of them, so
/// they must be representable (as `SIG32`, `SIG33`).
const GLIBC_RESERVED: [i32; 2] = [32, 33];

impl Signal {
    /// Hang-up: by convention "reload your configuration".
    pub const HUP: Signal = Signal(1);
    /// Interrupt, as from Ctrl-C.
    pub const INT: Signal = Signal(2);
    /// Kill: cannot be caught; the last word of every stop.
    pub const KILL: Signal = Signal(9);
    /// Terminate: the polite default stop signal.
    pub const TERM: Signal = Signal(15);
    /// Continue a stopped process, so that it can act on a pending stop signal.
    pub const CONT: Signal = Signal(18);

    /// The signal with this number, if Linux has one.
    pub fn from_number(n: i32) -> Option<Signal> {
        if TABLE.iter().any(|&(num, _)| num == n)
            || GLIBC_RESERVED.contains(&n)
            || (RT_MIN..=RT_MAX).contains(&n)
        {
            Some(Signal(n))
        } else {
            None
        }
    }

    /// The raw number, for the syscall layer.
    pub fn number(self) -> i32 {
        self.0
    }

    /// The conventional name, such as `SIGTERM`, or `SIGRTMIN+3` for real-time signals.
    pub fn name(self) -> String {
        match TABLE.iter().find(|&&(num, _)| num == self.0) {
            Some(&(_, name)) => name.to_string(),
            None if GLIBC_RESERVED.contains(&self.0) => format!("SIG{}", self.0),
            None if self.0 == RT_MIN => "SIGRTMIN".to_string(),
            None => format!("SIGRTMIN+{}", self.0 - RT_MIN),
        }
    }

    /// Parses `TERM`, `SIGTERM`, `sigterm` or `15`.
    pub fn parse(text: &str) -> Result<Signal, SignalParseError> {
        let t = text.trim();
        if let Ok(n) = t.parse::<i32>() {
            return Signal::from_number(n).ok_or_else(|| SignalParseError(text.to_string()));
        }
        let upper = t.to_ascii_uppercase();
        let full = if upper.starts_with("SIG") {
            upper
        } else {
            format!("SIG{upper}")
        };
        if let Some(&(num, _)) = TABLE.iter().find(|&&(_, name)| name == full) {
            return Ok(Signal(num));
        }
        if let Some(&n) = GLIBC_RESERVED.iter().find(|&&n| full == format!("SIG{n}")) {
            return Ok(Signal(n));
        }
        if full == "SIGRTMIN" {
            return Ok(Signal(RT_MIN));
        }
        if let Some(off) = full.strip_prefix("SIGRTMIN+")
            && let Ok(k) = off.parse::<i32>()
            && (0..=RT_MAX - RT_MIN).contains(&k)
        {
            return Ok(Signal(RT_MIN + k));
        }
        Err(SignalParseError(text.to_string()))
    }

    /// All signals with a classic name, for did-you-mean suggestions and help text.
    pub fn names() -> impl Iterator<Item = &'static str> {
        TABLE.iter().map(|&(_, name)| name)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A signal name or number that Linux does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signal `{0}`: use a name such as TERM, SIGINT, HUP, or a number from 1 to 64")]
pub struct SignalParseError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_numbers() {
        assert_eq!(Signal::parse("TERM"), Ok(Signal::TERM));
        assert_eq!(Signal::parse("sigkill"), Ok(Signal::KILL));
        assert_eq!(Signal::parse("2"), Ok(Signal::INT));
        assert_eq!(Signal::parse("SIGRTMIN+2").map(Signal::number), Ok(36));
        assert!(Signal::parse("SIGFOO").is_err());
        assert!(Signal::parse("0").is_err());
        assert!(Signal::parse("65").is_err());
    }

    #[test]
    fn names_round_trip() {
        for n in 1..=64 {
            if let Some(sig) = Signal::from_number(n) {
                assert_eq!(Signal::parse(&sig.name()), Ok(sig));
            }
        }
    }

    #[test]
    fn every_number_a_process_can_die_of_is_a_signal() {
        for n in 1..=64 {
            assert!(Signal::from_number(n).is_some(), "{n}");
        }
        assert_eq!(
            Signal::from_number(32).map(Signal::name).as_deref(),
            Some("SIG32")
        );
        assert_eq!(Signal::from_number(0), None);
        assert_eq!(Signal::from_number(65), None);
    }
}
