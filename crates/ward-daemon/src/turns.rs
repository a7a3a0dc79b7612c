//! The loop's work in slices: what a turn of the loop could not finish in its time waits
//! here for the next turn, so that thousands of units starting, stopping or ending at
//! once never keep `ward status` waiting for more than a slice.
//!
//! Measured on 2,000 units (release build): a stop costs about 1 ms of the loop (the
//! signal, the unit record, the cgroup's removal), so a shutdown done at once kept status
//! waiting more than a second, and a start of 2,000 units almost 8 s.

use std::cell::Cell;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ward_core::ExitStatus;

/// How long one turn works through the backlog before it lets the server answer. At
/// 20 ms a status waited up to 47 ms during a crash storm, at 10 ms 35 ms; a start of 500
/// and a stop of 100 took no longer (bench/RESULTS.md).
pub(crate) const SLICE: Duration = Duration::from_millis(10);

/// Work left for the next turns.
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    /// Processes reaped but not yet handled, oldest first.
    pub ended: VecDeque<(u32, ExitStatus)>,
    /// Units whose start waits for its turn (the autostart of a daemon's first turns).
    pub starts: VecDeque<String>,
    /// A shutdown has more units to stop.
    pub stops: bool,
    /// The units waiting to be stopped after their dependents, or to be removed: kept
    /// here so that a turn need not look through every unit for them (a pass over
    /// thousands of units, and the loop turns once for every wake-up).
    pub held: Held,
    /// When this turn's slice ends; `None` until the turn first asks. A slice starts with
    /// the turn's first work, not before the loop's wait, which would spend it.
    until: Cell<Option<Instant>>,
}

/// The units a turn has to come back to.
#[derive(Debug, Default)]
pub(crate) struct Held {
    /// The units a shutdown stops once the units that depend on them are down, in name
    /// order.
    pub stops: std::collections::BTreeSet<String>,
    /// A unit left the config and may wait to be down to be removed.
    pub removals: bool,
}

impl Backlog {
    /// A new turn: its slice starts with its first work.
    pub fn begin_turn(&mut self) {
        self.until.set(None);
    }

    /// Whether this turn has used its slice.
    pub fn spent(&self) -> bool {
        let until = self.until.get().unwrap_or_else(|| {
            let until = Instant::now() + SLICE;
            self.until.set(Some(until));
            until
        });
        Instant::now() >= until
    }

    /// Whether anything waits: the next turn then comes at once, after the server's.
    pub fn pending(&self) -> bool {
        self.stops || !self.ended.is_empty() || !self.starts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_is_spent_once_its_slice_has_passed() {
        let mut b = Backlog {
            until: Cell::new(Some(Instant::now() - Duration::from_millis(1))),
            ..Backlog::default()
        };
        assert!(b.spent());
        b.begin_turn();
        // The slice starts at the first question, however long after the turn began.
        assert_eq!(b.until.get(), None);
        assert!(!b.spent());
        assert!(b.until.get().is_some());
        assert!(!b.pending());
        b.starts.push_back("web".into());
        assert!(b.pending());
    }
}
