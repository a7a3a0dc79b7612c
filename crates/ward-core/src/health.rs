//! A service's health as its probes report it: starting, healthy or unhealthy.
//!
//! The rules are Docker's, which operators already know: failures within `start_period`
//! of the start do not count (a success there still makes the service healthy), and
//! `retries` failures in a row make it unhealthy. The daemon runs the probes and feeds each
//! result in; what to do about an unhealthy service is the daemon's (it restarts it as
//! `hung`).

use crate::ExitStatus;
use crate::config::HealthCheck;
use crate::duration::format_duration;
use std::time::Duration;

/// Why one probe failed. Its words are the evidence of a `hung` verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeFailure {
    /// The probe command ended unsuccessfully.
    Ended(ExitStatus),
    /// The probe command outlived its timeout and was killed.
    TimedOut(Duration),
    /// The probe command could not be started: the error.
    CouldNotStart(String),
    /// A TCP probe's connection failed.
    Connect {
        /// `host:port`.
        addr: String,
        /// The error, in the system's words.
        error: String,
    },
    /// A TCP probe got no connection within its timeout.
    ConnectTimeout {
        /// `host:port`.
        addr: String,
        /// The probe's `timeout`.
        timeout: Duration,
    },
    /// An HTTP probe's answer had a status outside `expect_status`.
    HttpStatus {
        /// The path asked for.
        path: String,
        /// The status.
        status: u16,
    },
    /// An HTTP probe's answer did not hold `expect_body`.
    HttpBody {
        /// The path asked for.
        path: String,
        /// The text looked for.
        expected: String,
    },
    /// An HTTP probe's request failed after connecting (a broken answer, a reset).
    Http {
        /// The path asked for.
        path: String,
        /// What went wrong.
        error: String,
    },
    /// An HTTP probe got no whole answer within its timeout.
    HttpTimeout {
        /// The path asked for.
        path: String,
        /// The probe's `timeout`.
        timeout: Duration,
    },
}

impl std::fmt::Display for ProbeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeFailure::Ended(status) => write!(f, "the probe ended with {status}"),
            ProbeFailure::TimedOut(t) => {
                write!(f, "the probe timed out after {}", format_duration(*t))
            }
            ProbeFailure::CouldNotStart(e) => write!(f, "the probe could not start: {e}"),
            ProbeFailure::Connect { addr, error } => write!(f, "cannot connect to {addr}: {error}"),
            ProbeFailure::ConnectTimeout { addr, timeout } => write!(
                f,
                "no connection to {addr} within {}",
                format_duration(*timeout)
            ),
            ProbeFailure::HttpStatus { path, status } => write!(f, "GET {path} answered {status}"),
            ProbeFailure::HttpBody { path, expected } => {
                write!(f, "GET {path} answered without {expected:?} in its body")
            }
            ProbeFailure::Http { path, error } => write!(f, "GET {path} failed: {error}"),
            ProbeFailure::HttpTimeout { path, timeout } => write!(
                f,
                "GET {path} got no answer within {}",
                format_duration(*timeout)
            ),
        }
    }
}

/// What the probes say about the current run.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// No probe has passed yet in this run, and not enough have failed.
    Starting,
    /// The last probe passed, or fewer than `retries` have failed since.
    Healthy,
    /// `retries` probes in a row failed.
    Unhealthy,
}

impl Health {
    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// The health of one run; a new run starts a new tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthTracker {
    health: Health,
    /// Failures in a row that count (those after `start_period`).
    failures: u32,
    /// The last probe's outcome in words.
    last: Option<String>,
    /// Probes run in this run.
    probes: u64,
}

/// A change worth acting on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthChange {
    /// The first pass, or a pass after failures: ready for dependents.
    BecameHealthy,
    /// `retries` failures in a row: the evidence for a `hung` verdict.
    BecameUnhealthy(String),
}

impl Default for HealthTracker {
    fn default() -> Self {
        HealthTracker {
            health: Health::Starting,
            failures: 0,
            last: None,
            probes: 0,
        }
    }
}

impl HealthTracker {
    /// Where the run stands.
    pub fn health(&self) -> Health {
        self.health
    }

    /// Counted failures in a row.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The last probe's outcome in words (`"passed"`, `"exit 1"`, `"timed out after 5s"`).
    pub fn last(&self) -> Option<&str> {
        self.last.as_deref()
    }

    /// Feeds one probe's outcome in; `since_start` is the run's age when it ended.
    pub fn record(
        &mut self,
        check: &HealthCheck,
        outcome: Result<(), ProbeFailure>,
        since_start: Duration,
    ) -> Option<HealthChange> {
        self.probes += 1;
        match outcome {
            Ok(()) => {
                self.last = Some("passed".into());
                self.failures = 0;
                let before = self.health;
                self.health = Health::Healthy;
                (before != Health::Healthy).then_some(HealthChange::BecameHealthy)
            }
            Err(why) => {
                let grace = since_start < check.start_period && self.health == Health::Starting;
                if !grace {
                    self.failures = self.failures.saturating_add(1);
                }
                let why = why.to_string();
                self.last = Some(why.clone());
                if self.failures >= check.retries && self.health != Health::Unhealthy {
                    self.health = Health::Unhealthy;
                    return Some(HealthChange::BecameUnhealthy(format!(
                        "its health check failed {} time(s) in a row (retries {}); last: {why}",
                        self.failures, check.retries
                    )));
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Probe;

    fn exit(code: i32) -> ProbeFailure {
        ProbeFailure::Ended(ExitStatus::Exited(code))
    }

    fn refused() -> ProbeFailure {
        ProbeFailure::Connect {
            addr: "127.0.0.1:1".into(),
            error: "connection refused".into(),
        }
    }

    #[test]
    fn failures_read_as_the_evidence_says() {
        assert_eq!(
            ProbeFailure::TimedOut(Duration::from_secs(5)).to_string(),
            "the probe timed out after 5s"
        );
        assert_eq!(
            ProbeFailure::ConnectTimeout {
                addr: "127.0.0.1:5432".into(),
                timeout: Duration::from_secs(5)
            }
            .to_string(),
            "no connection to 127.0.0.1:5432 within 5s"
        );
        assert_eq!(
            ProbeFailure::CouldNotStart("not found".into()).to_string(),
            "the probe could not start: not found"
        );
    }

    fn check(retries: u32, start_period: Duration) -> HealthCheck {
        HealthCheck {
            probe: Probe::Tcp("127.0.0.1:1".into()),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            retries,
            start_period,
        }
    }

    #[test]
    fn retries_failures_in_a_row_make_it_unhealthy_once() {
        let c = check(3, Duration::ZERO);
        let mut t = HealthTracker::default();
        let at = Duration::from_secs(5);
        assert_eq!(t.record(&c, Err(exit(1)), at), None);
        assert_eq!(t.record(&c, Err(exit(1)), at), None);
        let change = t.record(&c, Err(exit(2)), at);
        assert_eq!(
            change,
            Some(HealthChange::BecameUnhealthy(
                "its health check failed 3 time(s) in a row (retries 3); last: the probe ended with exit 2".into()
            ))
        );
        assert_eq!(t.health(), Health::Unhealthy);
        // Reported once, not on every further failure.
        assert_eq!(t.record(&c, Err(exit(2)), at), None);
    }

    #[test]
    fn a_pass_resets_the_count_and_reports_readiness_once() {
        let c = check(2, Duration::ZERO);
        let mut t = HealthTracker::default();
        let at = Duration::from_secs(1);
        assert_eq!(t.record(&c, Ok(()), at), Some(HealthChange::BecameHealthy));
        assert_eq!(t.record(&c, Ok(()), at), None);
        assert_eq!(t.record(&c, Err(refused()), at), None);
        assert_eq!(t.health(), Health::Healthy);
        assert_eq!(t.record(&c, Ok(()), at), None);
        assert_eq!(t.failures(), 0);
        assert_eq!(t.record(&c, Err(refused()), at), None);
        assert!(matches!(
            t.record(&c, Err(refused()), at),
            Some(HealthChange::BecameUnhealthy(_))
        ));
        assert_eq!(
            t.last(),
            Some("cannot connect to 127.0.0.1:1: connection refused")
        );
    }

    #[test]
    fn failures_in_the_start_period_do_not_count_until_the_first_pass() {
        let c = check(1, Duration::from_secs(10));
        let mut t = HealthTracker::default();
        for s in 0..10 {
            assert_eq!(t.record(&c, Err(refused()), Duration::from_secs(s)), None);
        }
        assert_eq!(t.health(), Health::Starting);
        assert!(matches!(
            t.record(&c, Err(refused()), Duration::from_secs(10)),
            Some(HealthChange::BecameUnhealthy(_))
        ));
        // After a pass, the grace is over even inside the period.
        let mut t = HealthTracker::default();
        t.record(&c, Ok(()), Duration::from_secs(1));
        assert!(matches!(
            t.record(&c, Err(refused()), Duration::from_secs(2)),
            Some(HealthChange::BecameUnhealthy(_))
        ));
    }
}
