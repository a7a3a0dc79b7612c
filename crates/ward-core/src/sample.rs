//! What the samples of a run's usage mean: CPU percent between two samples, and the peak
//! of its memory; and when a round is wanted at all. Plain arithmetic, so that it is tested
//! without a clock.

use std::time::{Duration, Instant};

use crate::config::SampleWhile;

/// How long rounds go on after the last look at the usage, with `sample_while =
/// "watched"`: five minutes, or three intervals where that is longer, so that a metrics
/// scraper or a dashboard every few minutes keeps the numbers current without a gap.
pub fn watched_for(every: Duration) -> Duration {
    fresh_for(every).max(Duration::from_secs(300))
}

/// How long a sample stands for the present: three intervals, room for a round skipped
/// while the one before was still being read.
fn fresh_for(every: Duration) -> Duration {
    every.saturating_mul(3)
}

/// Whether a sample taken at `sampled_ms` still stands for the present at `now_ms`: within
/// three intervals. Older, it is what the rounds last read before they stopped for want of
/// a look, which a status must not show as current.
pub fn fresh(sampled_ms: u64, now_ms: u64, every: Duration) -> bool {
    let limit = fresh_for(every).as_millis();
    u128::from(now_ms.saturating_sub(sampled_ms)) <= limit
}

/// Whether a round that is due runs, or sampling stops until the next look: always with
/// `"always"`; with `"watched"`, while a reader of the rounds is connected or within
/// [`watched_for`] of the last look.
pub fn round_wanted(
    mode: SampleWhile,
    every: Duration,
    last_look: Option<Instant>,
    readers: bool,
    now: Instant,
) -> bool {
    match mode {
        SampleWhile::Always => true,
        SampleWhile::Watched => {
            readers
                || last_look
                    .is_some_and(|at| now.saturating_duration_since(at) <= watched_for(every))
        }
    }
}

/// CPU over an interval, in percent of one core: `cpu_ns` used in `elapsed`. `None` for
/// an empty interval. A total that went down (a process ended and took its time out of a
/// `/proc` sum) counts as no use, never as a negative one.
pub fn cpu_percent(before_ns: u64, now_ns: u64, elapsed: Duration) -> Option<f64> {
    let wall = elapsed.as_nanos();
    if wall == 0 {
        return None;
    }
    let used = now_ns.saturating_sub(before_ns) as f64;
    Some(used * 100.0 / wall as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_stands_for_three_intervals() {
        let every = Duration::from_secs(10);
        assert!(fresh(1_000, 1_000, every));
        assert!(fresh(1_000, 31_000, every));
        assert!(!fresh(1_000, 31_001, every));
        // A clock that went back leaves the sample as fresh as it was.
        assert!(fresh(5_000, 1_000, every));
    }

    #[test]
    fn rounds_run_while_someone_looks_and_stop_after_the_window() {
        let every = Duration::from_secs(10);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let watched = SampleWhile::Watched;
        // Nobody has looked: nothing runs.
        assert!(!round_wanted(watched, every, None, false, at(10)));
        // A look keeps rounds going for five minutes, then they stop.
        assert!(round_wanted(watched, every, Some(t0), false, at(10)));
        assert!(round_wanted(watched, every, Some(t0), false, at(300)));
        assert!(!round_wanted(watched, every, Some(t0), false, at(301)));
        // A connected reader of the rounds keeps them going however long ago the last look.
        assert!(round_wanted(watched, every, Some(t0), true, at(3600)));
        assert!(round_wanted(watched, every, None, true, at(10)));
        // With a long interval the window is three of them.
        assert_eq!(
            watched_for(Duration::from_secs(600)),
            Duration::from_secs(1800)
        );
        assert_eq!(watched_for(every), Duration::from_secs(300));
        // "always": every round runs.
        assert!(round_wanted(
            SampleWhile::Always,
            every,
            None,
            false,
            at(10)
        ));
    }

    #[test]
    fn percent_of_one_core_over_the_interval() {
        let s = Duration::from_secs(10);
        assert_eq!(cpu_percent(0, 10_000_000_000, s), Some(100.0));
        assert_eq!(cpu_percent(5_000_000_000, 10_000_000_000, s), Some(50.0));
        assert_eq!(cpu_percent(0, 20_000_000_000, s), Some(200.0));
        assert_eq!(cpu_percent(10, 5, s), Some(0.0));
        assert_eq!(cpu_percent(0, 5, Duration::ZERO), None);
    }
}
