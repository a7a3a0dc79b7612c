//! The states of the units' main processes for `ward status`, read from `/proc` at most
//! every [`FRESH`]. Reading one costs the kernel about 10 µs (it formats all of
//! `/proc/PID/stat` to tell one letter), the largest part of a status of thousands of
//! units; clients that ask many times a second (a dashboard, a `watch`) share one reading.
//! A main process started since the last reading is read at once.
//!
//! A reading past half its life is read again on a thread of its own while the status
//! that noticed it is answered from it: at 5,000 units a status that made the new
//! reading took 40–58 ms instead of 15–20, once every 500 ms for a client that polls,
//! and far longer while a start kept both CPUs busy. Only a reading older than
//! [`FRESH`] (nobody asked for a while) is made while the status waits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// A reading is being made behind the answers.
    refreshing: Arc<AtomicBool>,
}

/// What a status does with the last reading, by its age.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Use {
    /// Answers from it.
    Serve,
    /// Answers from it, and has a new one made meanwhile.
    ServeAndRefresh,
    /// Makes a new one and waits for it: there is none, or it is too old.
    ReadNow,
}

/// What to do with a reading of age `age` (`None`: there is none).
fn use_of(age: Option<Duration>) -> Use {
    match age {
        Some(age) if age < FRESH / 2 => Use::Serve,
        Some(age) if age < FRESH => Use::ServeAndRefresh,
        _ => Use::ReadNow,
    }
}

impl ProcStates {
    /// The state of each of `pids`, in order. A new reading made here holds the lock
    /// while it reads, so that a status asked meanwhile waits for it instead of making
    /// its own.
    pub fn of(&self, pids: &[u32]) -> Vec<ProcState> {
        self.of_at(pids, Instant::now())
    }

    /// [`ProcStates::of`] with the reading's age taken at `now`.
    fn of_at(&self, pids: &[u32], now: Instant) -> Vec<ProcState> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let age = last
            .as_ref()
            .map(|(at, _)| now.saturating_duration_since(*at));
        let using = use_of(age);
        match (using, last.as_mut()) {
            (Use::Serve | Use::ServeAndRefresh, Some((_, known))) => {
                let missing: Vec<u32> = pids
                    .iter()
                    .copied()
                    .filter(|p| !known.contains_key(p))
                    .collect();
                for (pid, state) in missing.iter().zip(ProcState::of_all(&missing)) {
                    known.insert(*pid, state);
                }
                let states = pids
                    .iter()
                    .map(|p| known.get(p).copied().unwrap_or(ProcState::NotFound))
                    .collect();
                if using == Use::ServeAndRefresh {
                    drop(last);
                    self.refresh_behind(pids.to_vec());
                }
                states
            }
            _ => {
                let at = Instant::now();
                let states = ProcState::of_all(pids);
                let known = pids.iter().copied().zip(states.iter().copied()).collect();
                *last = Some((at, known));
                states
            }
        }
    }

    /// Makes a new reading of `pids` on a thread of its own, unless one is being made;
    /// it replaces the last one if that is older. Dated from before its first read, so
    /// that its age is never understated. Without a thread to be had, nothing is done:
    /// the reading then ages until a status makes it.
    fn refresh_behind(&self, pids: Vec<u32>) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        // Whatever ends the refresh, a panic included (no thread to read with), lets the
        // next one start.
        let done = Done(self.refreshing.clone());
        let last = self.last.clone();
        let _ = std::thread::Builder::new()
            .name("ward-proc-states".into())
            .spawn(move || {
                let _done = done;
                let at = Instant::now();
                let known: HashMap<u32, ProcState> =
                    pids.iter().copied().zip(ProcState::of_all(&pids)).collect();
                let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
                if last.as_ref().is_none_or(|(then, _)| *then < at) {
                    *last = Some((at, known));
                }
            });
    }
}

/// Clears the refresh's flag when dropped: at its end, or with the closure of a thread
/// that could not be made.
struct Done(Arc<AtomicBool>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_is_served_then_read_again_behind_the_answers_then_while_they_wait() {
        let ms = Duration::from_millis;
        assert_eq!(use_of(None), Use::ReadNow);
        assert_eq!(use_of(Some(ms(0))), Use::Serve);
        assert_eq!(use_of(Some(FRESH / 2 - ms(1))), Use::Serve);
        assert_eq!(use_of(Some(FRESH / 2)), Use::ServeAndRefresh);
        assert_eq!(use_of(Some(FRESH - ms(1))), Use::ServeAndRefresh);
        assert_eq!(use_of(Some(FRESH)), Use::ReadNow);
    }

    /// Sets the reading's date to `age` before `now`, and a state for `pid` that no live
    /// process of this test has, so that an answer from the reading tells itself apart
    /// from a new one.
    fn mark(states: &ProcStates, pid: u32, now: Instant, age: Duration) {
        let mut last = states.last.lock().unwrap();
        let (at, known) = last.as_mut().unwrap();
        *at = now - age;
        known.insert(pid, ProcState::Zombie);
    }

    #[test]
    fn a_reading_is_shared_while_fresh_and_new_pids_are_read_at_once() {
        let states = ProcStates::default();
        let me = std::process::id();
        assert_ne!(states.of(&[me])[0], ProcState::NotFound);
        // A PID that does not exist was not in the reading: read now, and found gone.
        let gone = u32::MAX - 1;
        assert_eq!(states.of(&[me, gone])[1], ProcState::NotFound);
        // The ages below are set against a fixed `now`: a slow machine cannot age them.
        let now = Instant::now();
        // Young: answered from the reading, and nothing is read again.
        mark(&states, me, now, Duration::ZERO);
        assert_eq!(states.of_at(&[me], now)[0], ProcState::Zombie);
        assert!(!states.refreshing.load(Ordering::Acquire));
        // Past half its life: still answered from it, and read again meanwhile.
        mark(&states, me, now, FRESH * 3 / 4);
        assert_eq!(states.of_at(&[me], now)[0], ProcState::Zombie);
        let deadline = Instant::now() + Duration::from_secs(10);
        while states.last.lock().unwrap().as_ref().unwrap().1[&me] == ProcState::Zombie
            || states.refreshing.load(Ordering::Acquire)
        {
            assert!(Instant::now() < deadline, "the reading was not made again");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_ne!(states.of(&[me])[0], ProcState::Zombie);
        // Too old: read again while the status waits.
        let now = Instant::now();
        mark(&states, me, now, FRESH);
        assert_ne!(states.of_at(&[me], now)[0], ProcState::Zombie);
    }
}
