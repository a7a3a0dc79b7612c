//! What the samples of a run's usage mean: CPU percent between two samples, and the peak
//! of its memory. Plain arithmetic, so that it is tested without a clock.

use std::time::Duration;

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
    fn percent_of_one_core_over_the_interval() {
        let s = Duration::from_secs(10);
        assert_eq!(cpu_percent(0, 10_000_000_000, s), Some(100.0));
        assert_eq!(cpu_percent(5_000_000_000, 10_000_000_000, s), Some(50.0));
        assert_eq!(cpu_percent(0, 20_000_000_000, s), Some(200.0));
        assert_eq!(cpu_percent(10, 5, s), Some(0.0));
        assert_eq!(cpu_percent(0, 5, Duration::ZERO), None);
    }
}
