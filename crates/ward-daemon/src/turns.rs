//! The loop's work in slices: what a turn of the loop could not finish in its time waits
//! here for the next turn, so that thousands of units starting, stopping or ending at
//! once never keep `ward status` waiting for more than a slice.
//!
//! Measured on 2,000 units (release build): a stop costs about 1 ms of the loop (the
//! signal, the unit record, the cgroup's removal), so a shutdown done at once kept status
//! waiting more than a second, and a start of 2,000 units almost 8 s.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ward_core::ExitStatus;

/// How long one turn works through the backlog before it lets the server answer.
pub(crate) const SLICE: Duration = Duration::from_millis(20);

/// Work left for the next turns.
#[derive(Debug)]
pub(crate) struct Backlog {
    /// Processes reaped but not yet handled, oldest first.
    pub ended: VecDeque<(u32, ExitStatus)>,
    /// Units whose start waits for its turn (the autostart of a daemon's first turns).
    pub starts: VecDeque<String>,
    /// A shutdown has more units to stop.
    pub stops: bool,
    /// When this turn's slice ends.
    until: Instant,
}

impl Default for Backlog {
    fn default() -> Self {
        Backlog {
            ended: VecDeque::new(),
            starts: VecDeque::new(),
            stops: false,
            until: Instant::now() + SLICE,
        }
    }
}

impl Backlog {
    /// A new turn: a new slice of time.
    pub fn begin_turn(&mut self) {
        self.until = Instant::now() + SLICE;
    }

    /// Whether this turn has used its slice.
    pub fn spent(&self) -> bool {
        Instant::now() >= self.until
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
            until: Instant::now() - Duration::from_millis(1),
            ..Backlog::default()
        };
        assert!(b.spent());
        b.begin_turn();
        assert!(!b.spent());
        assert!(!b.pending());
        b.starts.push_back("web".into());
        assert!(b.pending());
    }
}
