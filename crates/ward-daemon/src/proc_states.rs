//! The states of the units' main processes for `ward status`, read from `/proc` at most
//! every [`FRESH`]. Reading one costs the kernel about 10 µs (it formats all of
//! `/proc/PID/stat` to tell one letter), the largest part of a status of thousands of
//! units; clients that ask many times a second (a dashboard, a `watch`) share one reading.
//! A main process started since the last reading is read at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ward_sys::identity::ProcState;

/// How old a reading may be when a status uses it.
pub(crate) const FRESH: Duration = Duration::from_millis(500);

/// One reading: when, and each PID's state.
type Reading = (Instant, HashMap<u32, ProcState>);

/// The last reading, shared by the status threads.
#[derive(Clone, Default)]
pub(crate) struct ProcStates {
    last: Arc<Mutex<Option<Reading>>>,
}

impl ProcStates {
    /// The state of each of `pids`, in order. Holds the lock while it reads, so that a
    /// status asked meanwhile waits for this reading instead of making its own.
    pub fn of(&self, pids: &[u32]) -> Vec<ProcState> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        match last.as_mut() {
            Some((at, known)) if at.elapsed() < FRESH => {
                let missing: Vec<u32> = pids
                    .iter()
                    .copied()
                    .filter(|p| !known.contains_key(p))
                    .collect();
                for (pid, state) in missing.iter().zip(ProcState::of_all(&missing)) {
                    known.insert(*pid, state);
                }
                pids.iter()
                    .map(|p| known.get(p).copied().unwrap_or(ProcState::NotFound))
                    .collect()
            }
            _ => {
                let states = ProcState::of_all(pids);
                let known = pids.iter().copied().zip(states.iter().copied()).collect();
                *last = Some((Instant::now(), known));
                states
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_is_shared_while_fresh_and_new_pids_are_read_at_once() {
        let states = ProcStates::default();
        let me = std::process::id();
        assert_ne!(states.of(&[me])[0], ProcState::NotFound);
        // A PID that does not exist was not in the reading: read now, and found gone.
        let gone = u32::MAX - 1;
        assert_eq!(states.of(&[me, gone])[1], ProcState::NotFound);
        // Once the reading is old, everything is read again.
        let old = Instant::now() - FRESH - Duration::from_millis(1);
        states.last.lock().unwrap().as_mut().unwrap().0 = old;
        assert_ne!(states.of(&[me])[0], ProcState::NotFound);
        assert!(states.last.lock().unwrap().as_ref().unwrap().0 > old);
    }
}
