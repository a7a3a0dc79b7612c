//! How many file descriptors a daemon needs for a config, so that it can refuse a config
//! that cannot fit before it starts anything, instead of starting part of it.
//!
//! Measured on a running daemon: each unit holds four descriptors for its whole life (the
//! read ends of its stdout and stderr FIFOs, its log file and its main process's pidfd).
//! A fifth is counted for the pidfd of a hook or health probe that may run beside it, and
//! the short-lived ones of a spawn (the FIFOs' write ends, `/dev/null`, the cgroup files
//! it joins) come out of the daemon's own reserve, since spawns happen one at a time.

/// Descriptors every unit may hold at once.
pub const PER_UNIT: u64 = 5;

/// Descriptors the daemon holds whatever the config: the control and notify sockets, up
/// to 64 API connections, the journal's database, WAL and readers, its own log, the
/// kernel log, the runtime's epoll and signal descriptors, a spawn's temporary ones and
/// a backup's.
pub const DAEMON_RESERVE: u64 = 256;

/// The descriptors a daemon running `units` units needs.
pub fn descriptors_needed(units: usize) -> u64 {
    DAEMON_RESERVE + PER_UNIT * units as u64
}

/// Why a config cannot fit the descriptor limit, in numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shortfall {
    /// Units in the config.
    pub units: usize,
    /// Descriptors they need.
    pub needed: u64,
    /// The most this process may have (its hard limit, or what it could raise it to).
    pub available: u64,
}

impl std::fmt::Display for Shortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} units need {} open files ({PER_UNIT} per unit and {DAEMON_RESERVE} for the \
             daemon), but this process may open only {}",
            self.units, self.needed, self.available
        )
    }
}

/// Whether `units` fit a limit of `available` descriptors.
pub fn check(units: usize, available: u64) -> Result<u64, Shortfall> {
    let needed = descriptors_needed(units);
    if needed <= available {
        Ok(needed)
    } else {
        Err(Shortfall {
            units,
            needed,
            available,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_fits_when_its_units_and_the_reserve_do() {
        assert_eq!(descriptors_needed(0), DAEMON_RESERVE);
        assert_eq!(check(100, 756), Ok(756));
        let short = check(10_000, 20_000).unwrap_err();
        assert_eq!(short.needed, 50_256);
        assert_eq!(
            short.to_string(),
            "10000 units need 50256 open files (5 per unit and 256 for the daemon), but this \
             process may open only 20000"
        );
    }
}
