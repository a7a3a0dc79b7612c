//! How likely a recovery is to hold: a Beta posterior over this service's own history of
//! recoveries from the same class, with a prior drawn from all services.
//!
//! A recovery *holds* when the run it starts lasts past `min_uptime`. The prior is
//! Beta(1, 1) (nothing known) moved toward the pooled success rate of every service's
//! recoveries from this class, weighted as at most [`PRIOR_WEIGHT`] observations: pooled
//! history informs a service with little history of its own, and its own outcomes soon
//! outweigh it. The estimate is the posterior mean.

/// How many observations the pooled history counts for at most.
pub const PRIOR_WEIGHT: f64 = 2.0;

/// Recovery outcomes: how many held, of how many.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// Recoveries whose run lasted past `min_uptime`.
    pub successes: u32,
    /// Recoveries whose outcome is known.
    pub trials: u32,
}

/// The estimate and what it rests on.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Confidence {
    /// Posterior mean, in `[0, 1]`.
    pub value: f64,
    /// This service's own outcomes.
    pub own: Outcomes,
    /// Every service's outcomes for the class, the prior's source.
    pub pooled: Outcomes,
}

/// Estimates the probability that the next recovery holds.
pub fn confidence(own: Outcomes, pooled: Outcomes) -> Confidence {
    let own = clamp(own);
    let pooled = clamp(pooled);
    let (mut alpha, mut beta) = (1.0, 1.0);
    if pooled.trials > 0 {
        let rate = f64::from(pooled.successes) / f64::from(pooled.trials);
        let weight = PRIOR_WEIGHT.min(f64::from(pooled.trials));
        alpha += weight * rate;
        beta += weight * (1.0 - rate);
    }
    let s = f64::from(own.successes);
    let f = f64::from(own.trials - own.successes);
    Confidence {
        value: (alpha + s) / (alpha + beta + s + f),
        own,
        pooled,
    }
}

impl Outcomes {
    /// Counts a list of results (`true`: the recovery held).
    pub fn from_results(results: &[bool]) -> Outcomes {
        Outcomes {
            successes: results.iter().filter(|&&r| r).count() as u32,
            trials: results.len() as u32,
        }
    }
}

fn clamp(o: Outcomes) -> Outcomes {
    Outcomes {
        successes: o.successes.min(o.trials),
        trials: o.trials,
    }
}

impl Confidence {
    /// `0.83 — 5 of the last 6 recoveries from oom_kill held`.
    pub fn explain(&self, class: &str) -> String {
        let own = if self.own.trials == 0 {
            format!("no recovery of this service from {class} yet")
        } else {
            format!(
                "{} of {} recoveries from {class} held",
                self.own.successes, self.own.trials
            )
        };
        let pooled = if self.pooled.trials > self.own.trials {
            format!(
                "; across all services {} of {}",
                self.pooled.successes, self.pooled.trials
            )
        } else {
            String::new()
        };
        format!("{:.2} — {own}{pooled}", self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn o(successes: u32, trials: u32) -> Outcomes {
        Outcomes { successes, trials }
    }

    #[test]
    fn nothing_known_is_one_half() {
        assert_eq!(confidence(o(0, 0), o(0, 0)).value, 0.5);
    }

    #[test]
    fn own_history_dominates_and_pooled_history_informs() {
        let c = confidence(o(5, 6), o(5, 6));
        assert!((c.value - (1.0 + 2.0 * 5.0 / 6.0 + 5.0) / (2.0 + 2.0 + 6.0)).abs() < 1e-12);
        assert_eq!(
            c.explain("oom_kill"),
            "0.77 — 5 of 6 recoveries from oom_kill held"
        );
        let newcomer = confidence(o(0, 0), o(90, 100));
        assert!(newcomer.value > 0.5 && newcomer.value < 0.8, "{newcomer:?}");
        assert!(
            newcomer
                .explain("segfault")
                .contains("across all services 90 of 100")
        );
    }

    proptest! {
        #[test]
        fn stays_in_the_unit_interval(s in 0u32..1000, n in 0u32..1000, ps in 0u32..10_000, pn in 0u32..10_000) {
            let c = confidence(o(s, n), o(ps, pn));
            prop_assert!((0.0..=1.0).contains(&c.value));
        }

        #[test]
        fn moves_toward_the_observed_rate(s in 0u32..50, f in 0u32..50, k in 1u32..20) {
            let n = s + f;
            prop_assume!(n > 0);
            let rate = f64::from(s) / f64::from(n);
            let few = confidence(o(s, n), o(0, 0)).value;
            let many = confidence(o(s * k * 10, n * k * 10), o(0, 0)).value;
            prop_assert!((many - rate).abs() <= (few - rate).abs() + 1e-12);
        }

        #[test]
        fn order_of_outcomes_does_not_matter(results in proptest::collection::vec(any::<bool>(), 0..40)) {
            let mut sorted = results.clone();
            sorted.sort();
            let mut reversed = results.clone();
            reversed.reverse();
            let a = confidence(Outcomes::from_results(&results), o(3, 4)).value;
            prop_assert_eq!(a, confidence(Outcomes::from_results(&sorted), o(3, 4)).value);
            prop_assert_eq!(a, confidence(Outcomes::from_results(&reversed), o(3, 4)).value);
        }
    }
}
