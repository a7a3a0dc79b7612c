//! The restart delay: exponential growth, a cap, and jitter, with no clock and no global RNG.
//!
//! The randomness is an input (`unit_random`), so the delay is a pure function; the machine
//! draws it from its own seeded [`splitmix64`] stream, which makes every run of a test
//! reproducible.

use crate::config::Backoff;
use std::time::Duration;

/// The delay before restarting after the `failures`-th consecutive failure.
///
/// The base delay is `initial * factor^(failures - 1)` (so the first failure waits
/// `initial`), capped at `max`. Jitter then multiplies it by
/// `1 + jitter * (2 * unit_random - 1)`, a factor in `[1 - jitter, 1 + jitter]`, and the
/// result is clamped to `[0, max]` again.
///
/// The cap is applied *before* the jitter as well as after it: a service that has reached
/// the cap still gets a spread of delays in `[max * (1 - jitter), max]` rather than exactly
/// `max`, so that many services failing together (a dependency went down) do not all come
/// back in the same instant. Below the cap this is exactly the formula above.
///
/// Total for every input, it never panics and never exceeds `max`:
/// - `failures == 0` is treated as `1`; huge counts saturate at `max`.
/// - `initial == 0` (or `max == 0`) gives zero every time.
/// - `factor` below 1 or NaN is treated as 1 (validation rejects such values, but the delay
///   must never shrink as failures grow); an infinite `factor` saturates at `max`.
/// - `jitter` is clamped to `[0, 1]` (NaN means 0); `unit_random` is clamped to `[0, 1]`
///   (NaN means 0.5, no jitter).
///
/// With `jitter == 0` the delay does not depend on `unit_random` and is non-decreasing in
/// `failures`.
pub fn backoff_delay(b: &Backoff, failures: u32, unit_random: f64) -> Duration {
    if b.initial.is_zero() || b.max.is_zero() {
        return Duration::ZERO;
    }
    // Work in nanoseconds as f64: `initial * 2^k` is exact for the usual factor of 2, so
    // the default settings give exactly 100ms, 200ms, 400ms, ...
    let max_ns = b.max.as_nanos() as f64;
    let initial_ns = b.initial.as_nanos() as f64;
    let factor = if b.factor >= 1.0 { b.factor } else { 1.0 };
    let exponent = failures.saturating_sub(1);
    let growth = if exponent == 0 {
        1.0
    } else {
        // The `libm` crate's pow (the algorithm glibc's is also built on) rather than
        // `f64::powf`, which calls glibc's: with SQLite built without FTS5
        // (.cargo/config.toml), this was the daemon's last call into libm.so, which took
        // 320 KiB of every daemon's RSS to load and bind.
        libm::pow(factor, f64::from(exponent))
    };
    // `initial_ns > 0` and `growth >= 1`, so this is positive, possibly +inf, never NaN.
    let base_ns = (initial_ns * growth).min(max_ns);

    let jitter = if b.jitter > 0.0 {
        b.jitter.min(1.0)
    } else {
        0.0
    };
    let unit = if unit_random.is_nan() {
        0.5
    } else {
        unit_random.clamp(0.0, 1.0)
    };
    // In [0, 2]; `base_ns` is finite here, so the product is finite too.
    let spread = 1.0 + jitter * (2.0 * unit - 1.0);
    let delay_ns = (base_ns * spread).clamp(0.0, max_ns);

    if delay_ns >= max_ns {
        return b.max;
    }
    // `delay_ns < max_ns` and `max` fits in a `Duration`; the float-to-int cast saturates,
    // and the final `min` guards against rounding past `max` for very large values.
    let whole_ns = delay_ns.round();
    let secs = (whole_ns / 1e9).floor();
    let nanos = (whole_ns - secs * 1e9).clamp(0.0, 999_999_999.0);
    Duration::new(secs as u64, nanos as u32).min(b.max)
}

/// One step of splitmix64: advances `state` and returns the next 64 random bits.
///
/// Small, fast, and good enough to spread restart times; not for anything secret.
pub(super) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniformly distributed number in `[0, 1)` from the top 53 bits of [`splitmix64`].
pub(super) fn unit_random(state: &mut u64) -> f64 {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    (splitmix64(state) >> 11) as f64 * SCALE
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn no_jitter() -> Backoff {
        Backoff {
            initial: ms(100),
            max: Duration::from_secs(30),
            factor: 2.0,
            jitter: 0.0,
            reset_after: Duration::from_secs(30),
        }
    }

    #[test]
    fn doubles_from_initial_and_caps_at_max() {
        let b = no_jitter();
        let got: Vec<_> = (1..=12).map(|n| backoff_delay(&b, n, 0.3)).collect();
        let want: Vec<_> = [
            100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000,
        ]
        .into_iter()
        .map(ms)
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn zero_failures_is_treated_as_the_first() {
        assert_eq!(backoff_delay(&no_jitter(), 0, 0.5), ms(100));
    }

    #[test]
    fn zero_initial_is_always_zero() {
        let b = Backoff {
            initial: Duration::ZERO,
            jitter: 1.0,
            ..no_jitter()
        };
        for n in [0, 1, 2, 50, u32::MAX] {
            assert_eq!(backoff_delay(&b, n, 0.99), Duration::ZERO);
        }
    }

    #[test]
    fn huge_failure_counts_saturate_without_panicking() {
        let b = Backoff {
            factor: 1e300,
            max: Duration::MAX,
            ..no_jitter()
        };
        assert_eq!(backoff_delay(&b, u32::MAX, 0.5), Duration::MAX);
        assert_eq!(
            backoff_delay(&no_jitter(), u32::MAX, 0.5),
            Duration::from_secs(30)
        );
        let inf = Backoff {
            factor: f64::INFINITY,
            jitter: 1.0,
            ..no_jitter()
        };
        assert!(backoff_delay(&inf, u32::MAX, 0.0) <= inf.max);
        assert_eq!(backoff_delay(&inf, 1, 0.5), ms(100));
    }

    #[test]
    fn nonsense_numbers_do_not_panic() {
        let b = Backoff {
            factor: f64::NAN,
            jitter: f64::NAN,
            ..no_jitter()
        };
        assert_eq!(backoff_delay(&b, 3, f64::NAN), ms(100));
        let shrinking = Backoff {
            factor: 0.5,
            ..no_jitter()
        };
        assert_eq!(backoff_delay(&shrinking, 5, 0.0), ms(100));
        let wild = Backoff {
            jitter: 7.0,
            ..no_jitter()
        };
        assert_eq!(backoff_delay(&wild, 1, 0.0), Duration::ZERO);
        assert_eq!(backoff_delay(&wild, 1, -3.0), Duration::ZERO);
        assert_eq!(backoff_delay(&wild, 1, 9.0), ms(200));
    }

    #[test]
    fn jitter_spreads_around_the_base() {
        let b = Backoff {
            jitter: 0.1,
            ..no_jitter()
        };
        assert_eq!(backoff_delay(&b, 1, 0.0), ms(90));
        assert_eq!(backoff_delay(&b, 1, 0.5), ms(100));
        assert_eq!(backoff_delay(&b, 2, 0.0), ms(180));
        // At the cap the spread is below max, never above it.
        assert_eq!(backoff_delay(&b, 30, 0.0), ms(27_000));
        assert_eq!(backoff_delay(&b, 30, 0.999), ms(30_000));
    }

    #[test]
    fn splitmix64_matches_the_reference() {
        // First outputs of the reference implementation seeded with 0.
        let mut s = 0;
        assert_eq!(splitmix64(&mut s), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(&mut s), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(splitmix64(&mut s), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn unit_random_stays_in_range() {
        let mut s = 42;
        for _ in 0..10_000 {
            let u = unit_random(&mut s);
            assert!((0.0..1.0).contains(&u), "{u}");
        }
        let mut max_state = u64::MAX;
        let u = unit_random(&mut max_state);
        assert!((0.0..1.0).contains(&u));
    }

    fn any_backoff() -> impl Strategy<Value = Backoff> {
        (
            0u64..=u64::MAX / 2,
            0u64..=u64::MAX / 2,
            prop_oneof![
                Just(1.0),
                Just(2.0),
                1.0f64..10.0,
                Just(f64::INFINITY),
                Just(f64::NAN),
                -1.0f64..1.0
            ],
            prop_oneof![Just(0.0), 0.0f64..=1.0, Just(f64::NAN), -2.0f64..3.0],
        )
            .prop_map(|(initial, max, factor, jitter)| Backoff {
                initial: Duration::from_nanos(initial % 10_000_000_000_000),
                max: Duration::from_nanos(max % 100_000_000_000_000),
                factor,
                jitter,
                reset_after: Duration::from_secs(30),
            })
    }

    proptest! {
        #[test]
        fn never_exceeds_max(
            b in any_backoff(),
            failures in any::<u32>(),
            unit in prop_oneof![0.0f64..1.0, Just(f64::NAN), any::<f64>()],
        ) {
            prop_assert!(backoff_delay(&b, failures, unit) <= b.max);
        }

        #[test]
        fn without_jitter_non_decreasing(
            b in any_backoff(),
            failures in any::<u32>(),
            unit in 0.0f64..1.0,
        ) {
            let b = Backoff { jitter: 0.0, ..b };
            let here = backoff_delay(&b, failures, unit);
            let next = backoff_delay(&b, failures.saturating_add(1), unit);
            prop_assert!(here <= next, "{here:?} > {next:?} at {failures}");
            prop_assert_eq!(here, backoff_delay(&b, failures, 0.0));
        }

        #[test]
        fn jitter_stays_within_its_fraction(
            failures in 1u32..20,
            jitter in 0.0f64..=1.0,
            unit in 0.0f64..1.0,
        ) {
            let b = Backoff { jitter, ..no_jitter() };
            let base = backoff_delay(&no_jitter(), failures, 0.0).as_secs_f64();
            let got = backoff_delay(&b, failures, unit).as_secs_f64();
            prop_assert!(got >= base * (1.0 - jitter) - 1e-9);
            prop_assert!(got <= (base * (1.0 + jitter)).min(30.0) + 1e-9);
        }
    }
}
