//! How many file descriptors a daemon needs for a config, so that it can refuse a config
//! that cannot fit before it starts anything, instead of starting part of it.
//!
//! Measured on a running daemon of 1,000 services (`ls /proc/PID/fd`): each unit holds
//! three descriptors for its whole life (the read ends of its stdout and stderr FIFOs and
//! its main process's pidfd); log files are open at most [`LOG_FILES`] at a time, however
//! many units write; and a unit with a health probe or a hook holds one more (the probe's
//! pidfd or socket) while it runs. The short-lived descriptors of a spawn (the FIFOs' write
//! ends, `/dev/null`, the cgroup files it joins) come out of the daemon's own reserve,
//! since spawns happen one at a time.

use crate::config::{Instance, ServiceConfig};

/// Descriptors every unit holds for its whole life.
pub const PER_UNIT: u64 = 3;

/// Log files the log writer keeps open at once; past it, the one written least recently
/// is closed and opened again on its unit's next line.
pub const LOG_FILES: u64 = 512;

/// Descriptors the daemon holds whatever the config: the control and notify sockets, up
/// to 64 API connections, the journal's database, WAL and readers, its own log, the
/// kernel log, the runtime's epoll and signal descriptors, a spawn's temporary ones and
/// a backup's.
pub const DAEMON_RESERVE: u64 = 256;

/// Whether units of `service` run a probe or a hook beside their main process, each
/// holding one more descriptor while it runs.
pub fn has_helper(service: &ServiceConfig) -> bool {
    service.health.is_some()
        || service.repair.is_some()
        || service.on_failure.is_some()
        || !service.data.is_empty()
}

/// The descriptors a daemon running `units` units needs, `helpers` of which may run a
/// probe or a hook beside their main process.
pub fn descriptors_needed(units: usize, helpers: usize) -> u64 {
    let units = units as u64;
    DAEMON_RESERVE + PER_UNIT * units + units.min(LOG_FILES) + helpers as u64
}

/// The units a daemon would run, counted for their descriptors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Demand {
    /// Units.
    pub units: usize,
    /// Units with a probe or a hook.
    pub helpers: usize,
}

impl Demand {
    /// What a set of units needs.
    pub fn of<'a>(instances: impl IntoIterator<Item = &'a Instance>) -> Demand {
        instances
            .into_iter()
            .fold(Demand::default(), |d, i| Demand {
                units: d.units + 1,
                helpers: d.helpers + usize::from(has_helper(&i.service)),
            })
    }

    /// Descriptors it needs.
    pub fn descriptors(self) -> u64 {
        descriptors_needed(self.units, self.helpers)
    }

    /// The refusal, when `available` descriptors are fewer than needed.
    pub fn shortfall(self, available: u64) -> Shortfall {
        Shortfall {
            units: self.units,
            needed: self.descriptors(),
            available,
        }
    }
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
            "{} units need {} open files ({PER_UNIT} per unit, one per probe or hook, up to \
             {LOG_FILES} log files and {DAEMON_RESERVE} for the daemon), but this process may \
             open only {}",
            self.units, self.needed, self.available
        )
    }
}

/// Whether `units` units, `helpers` of them with a probe or hook, fit a limit of
/// `available` descriptors.
pub fn check(units: usize, helpers: usize, available: u64) -> Result<u64, Shortfall> {
    let demand = Demand { units, helpers };
    let needed = demand.descriptors();
    if needed <= available {
        Ok(needed)
    } else {
        Err(demand.shortfall(available))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_fits_when_its_units_and_the_reserve_do() {
        assert_eq!(descriptors_needed(0, 0), DAEMON_RESERVE);
        // 100 units: three each, a log file each, one probe.
        assert_eq!(check(100, 1, 657), Ok(657));
        assert!(check(100, 1, 656).is_err());
        // Log files stop counting at the writer's cache.
        assert_eq!(descriptors_needed(5_000, 0), 256 + 15_000 + 512);
        let short = check(10_000, 0, 20_000).unwrap_err();
        assert_eq!(short.needed, 30_768);
        assert_eq!(
            short.to_string(),
            "10000 units need 30768 open files (3 per unit, one per probe or hook, up to 512 \
             log files and 256 for the daemon), but this process may open only 20000"
        );
    }
}
