//! The states of the units' main processes for `ward status`, read from `/proc` at most
//! every [`FRESH`], or less often where a reading costs more. Reading one costs the
//! kernel about 10 µs (it formats all of `/proc/PID/stat` to tell one letter), the
//! largest part of a status of thousands of units; clients that ask many times a second
//! (a dashboard, a `watch`) share one reading. A main process started since the last
//! reading is read at once.
//!
//! A reading past half its life is read again on a thread of its own while the status
//! that noticed it is answered from it: at 5,000 units a status that made the new
//! reading took 40–58 ms instead of 15–20, once every 500 ms for a client that polls,
//! and far longer while a start kept both CPUs busy. Only a reading older than its life
//! (nobody asked for a while) is made while the status waits.
//!
//! A reading lives [`COST_TO_LIFE`] times as long as it took, when that is longer than
//! [`FRESH`]: at 6,400 units one takes about 60 ms, and read again every 250 ms for a
//! client that polls, it used as much CPU as the answers themselves (37 % of the
//! daemon's, against 38 % for encoding them), on the CPUs the answers wait for. Read
//! again after ten times its cost, it takes a tenth of a CPU at most.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ward_sys::identity::ProcState;

/// How old a reading may be when a status uses it, at least.
pub(crate) const FRESH: Duration = Duration::from_millis(500);

/// A reading's life against the time it took to make.
const COST_TO_LIFE: u32 = 20;

/// The longest life of a reading, however long it took.
const LONGEST: Duration = Duration::from_secs(5);

/// One reading: when it began, how long it took, and each PID's state.
struct Reading {
    at: Instant,
    took: Duration,
    known: HashMap<u32, ProcState>,
}

impl Reading {
    /// Reads `pids` now.
    fn make(pids: &[u32]) -> (Reading, Vec<ProcState>) {
        let at = Instant::now();
        let states = ProcState::of_all(pids);
        let reading = Reading {
            at,
            took: at.elapsed(),
            known: pids.iter().copied().zip(states.iter().copied()).collect(),
        };
        (reading, states)
    }

    /// How long this reading may be used.
    fn life(&self) -> Duration {
        self.took.saturating_mul(COST_TO_LIFE).clamp(FRESH, LONGEST)
    }
}

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

/// What to do with a reading of age `age` that may be used for `life` (`None`: there is
/// none).
fn use_of(age_and_life: Option<(Duration, Duration)>) -> Use {
    match age_and_life {
        Some((age, life)) if age < life / 2 => Use::Serve,
        Some((age, life)) if age < life => Use::ServeAndRefresh,
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
            .map(|r| (now.saturating_duration_since(r.at), r.life()));
        let using = use_of(age);
        match (using, last.as_mut()) {
            (Use::Serve | Use::ServeAndRefresh, Some(Reading { known, .. })) => {
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
                let (reading, states) = Reading::make(pids);
                *last = Some(reading);
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
                let (reading, _) = Reading::make(&pids);
                let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
                if last.as_ref().is_none_or(|then| then.at < reading.at) {
                    *last = Some(reading);
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
        let life = FRESH;
        assert_eq!(use_of(None), Use::ReadNow);
        assert_eq!(use_of(Some((ms(0), life))), Use::Serve);
        assert_eq!(use_of(Some((life / 2 - ms(1), life))), Use::Serve);
        assert_eq!(use_of(Some((life / 2, life))), Use::ServeAndRefresh);
        assert_eq!(use_of(Some((life - ms(1), life))), Use::ServeAndRefresh);
        assert_eq!(use_of(Some((life, life))), Use::ReadNow);
    }

    fn took(took: Duration) -> Reading {
        Reading {
            at: Instant::now(),
            took,
            known: HashMap::new(),
        }
    }

    #[test]
    fn a_reading_that_took_long_lives_longer_within_bounds() {
        let ms = Duration::from_millis;
        // A few units: the usual half second.
        assert_eq!(took(ms(1)).life(), FRESH);
        assert_eq!(took(FRESH / COST_TO_LIFE).life(), FRESH);
        // Thousands: twenty times what it took, so that reading again behind the
        // answers (at half its life) takes a tenth of a CPU at most.
        assert_eq!(took(ms(60)).life(), ms(1200));
        // However long it took, it is read again within seconds.
        assert_eq!(took(ms(900)).life(), LONGEST);
        assert_eq!(took(Duration::MAX).life(), LONGEST);
    }

    /// Sets the reading's date to `age` before `now`, and a state for `pid` that no live
    /// process of this test has, so that an answer from the reading tells itself apart
    /// from a new one.
    fn mark(states: &ProcStates, pid: u32, now: Instant, age: Duration) {
        let mut last = states.last.lock().unwrap();
        let reading = last.as_mut().unwrap();
        reading.at = now - age;
        // A reading of one PID is quick: its life is the shortest.
        reading.took = Duration::ZERO;
        reading.known.insert(pid, ProcState::Zombie);
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
        while states.last.lock().unwrap().as_ref().unwrap().known[&me] == ProcState::Zombie
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
