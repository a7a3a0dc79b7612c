//! `schedule = "0 3 * * *"`: when a task runs by itself. Cron syntax with an optional
//! seconds field and the `@daily`-style names, evaluated in a time zone by the `croner`
//! crate; the decisions (the next run, a run missed while no daemon ran, what a run due
//! during another does) are plain functions of the times given, so they are tested across
//! daylight-saving changes without waiting for one.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A parsed cron expression, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    /// The expression as the config has it, for messages and status.
    pub text: String,
    parsed: croner::Cron,
}

impl Cron {
    /// Parses `text`: five fields (minute to weekday), six with seconds first, or a name
    /// (`@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`). The error is the reason
    /// in words.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("the schedule is empty".into());
        }
        // `@reboot` means nothing to a daemon that runs tasks on its clock: refused, not
        // silently never run.
        if trimmed.eq_ignore_ascii_case("@reboot") {
            return Err(
                "`@reboot` is not a schedule; a task with autostart runs at `ward up` \
                        without one"
                    .into(),
            );
        }
        let parsed = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(trimmed)
            .map_err(|e| e.to_string())?;
        Ok(Cron {
            text: trimmed.to_string(),
            parsed,
        })
    }

    /// The first time after `after` (never at it) that the schedule names, in `tz`;
    /// `None` when there is none (a date that never comes, such as February 30).
    ///
    /// Across daylight-saving changes, as `croner` evaluates wall-clock times: a time that
    /// does not exist on the day the clocks go forward (02:30 in most of Europe) runs at
    /// the first instant after the gap on that day; a time that happens twice when the
    /// clocks go back runs once, at its first occurrence.
    pub fn next_after(&self, tz: &TimeZone, after: Timestamp) -> Option<Timestamp> {
        let zoned = after.to_zoned(tz.clone());
        self.parsed
            .find_next_occurrence(&zoned, false)
            .ok()
            .map(|z| z.timestamp())
            // Never at or before `after`, whatever the zone's folds do.
            .filter(|t| *t > after)
    }

    /// Whether a run fell due between `last` (the last run's start) and `now`: what
    /// `catch_up = true` runs once at a daemon's start.
    pub fn missed(&self, tz: &TimeZone, last: Timestamp, now: Timestamp) -> bool {
        self.next_after(tz, last).is_some_and(|due| due <= now)
    }
}

/// `overlap = "skip" | "queue" | "kill"`: what a scheduled run does when the last one is
/// still running.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Overlap {
    /// Leave the running one alone; this run does not happen.
    Skip,
    /// Run once more as soon as the running one ends (at most one waits).
    Queue,
    /// Stop the running one and start anew.
    Kill,
}

impl Overlap {
    /// The name the config uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Overlap::Skip => "skip",
            Overlap::Queue => "queue",
            Overlap::Kill => "kill",
        }
    }
}

/// What the daemon does when a scheduled time comes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Due {
    /// Start a run.
    Run,
    /// A run is in progress: skip this one.
    Skip,
    /// A run is in progress: run again once it ends.
    Queue,
    /// A run is in progress: restart it.
    Restart,
}

/// What a scheduled time does, given whether a run is in progress.
pub fn when_due(overlap: Overlap, running: bool) -> Due {
    match (running, overlap) {
        (false, _) => Due::Run,
        (true, Overlap::Skip) => Due::Skip,
        (true, Overlap::Queue) => Due::Queue,
        (true, Overlap::Kill) => Due::Restart,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central European time as a POSIX TZ rule: no time zone database needed.
    fn berlin() -> TimeZone {
        TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
    }

    fn at(text: &str, tz: &TimeZone) -> Timestamp {
        let civil: jiff::civil::DateTime = text.parse().unwrap();
        civil.to_zoned(tz.clone()).unwrap().timestamp()
    }

    fn local(t: Timestamp, tz: &TimeZone) -> String {
        t.to_zoned(tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }

    #[test]
    fn five_six_fields_and_names() {
        let utc = TimeZone::UTC;
        let start = at("2026-12-03T10:00:00", &utc);
        let next = |expr: &str| {
            local(
                Cron::parse(expr).unwrap().next_after(&utc, start).unwrap(),
                &utc,
            )
        };
        assert_eq!(next("0 3 * * *"), "2026-12-04T03:00:00+00:00");
        assert_eq!(next("*/2 * * * * *"), "2026-12-03T10:00:02+00:00");
        assert_eq!(next("@daily"), "2026-12-04T00:00:00+00:00");
        assert_eq!(next("@hourly"), "2026-12-03T11:00:00+00:00");
        assert_eq!(next("0 0 * * MON"), "2026-12-07T00:00:00+00:00");
        // Never at the start itself: a run at 10:00 is not due again at 10:00.
        assert_eq!(next("0 10 * * *"), "2026-12-04T10:00:00+00:00");
        for bad in ["", "61 * * * *", "* * *", "@reboot", "0 3 * * * * * *"] {
            assert!(Cron::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_time_zone_moves_the_run() {
        let tz = berlin();
        let cron = Cron::parse("0 3 * * *").unwrap();
        // 03:00 in Berlin in winter is 02:00 UTC.
        let next = cron
            .next_after(&tz, at("2026-12-03T12:00:00", &TimeZone::UTC))
            .unwrap();
        assert_eq!(next.to_string(), "2026-12-04T02:00:00Z");
    }

    #[test]
    fn spring_forward_runs_a_missing_time_once_after_the_gap() {
        // 2026-03-29: clocks go from 02:00 to 03:00 in Berlin; 02:30 does not exist.
        let tz = berlin();
        let cron = Cron::parse("30 2 * * *").unwrap();
        let before = at("2026-03-28T12:00:00", &tz);
        let runs: Vec<String> =
            std::iter::successors(cron.next_after(&tz, before), |t| cron.next_after(&tz, *t))
                .take(3)
                .map(|t| local(t, &tz))
                .collect();
        assert_eq!(runs[0], "2026-03-29T03:00:00+02:00", "{runs:?}");
        assert_eq!(runs[1], "2026-03-30T02:30:00+02:00", "{runs:?}");
        assert_eq!(runs[2], "2026-03-31T02:30:00+02:00", "{runs:?}");
        // An hourly task loses no hour but the one that does not exist.
        let hourly = Cron::parse("0 * * * *").unwrap();
        let t1 = hourly
            .next_after(&tz, at("2026-03-29T01:30:00", &tz))
            .unwrap();
        let t2 = hourly.next_after(&tz, t1).unwrap();
        assert_eq!(local(t1, &tz), "2026-03-29T03:00:00+02:00");
        assert_eq!(local(t2, &tz), "2026-03-29T04:00:00+02:00");
    }

    #[test]
    fn fall_back_runs_a_repeated_time_once() {
        // 2026-10-25: clocks go from 03:00 back to 02:00; 02:30 happens twice.
        let tz = berlin();
        let cron = Cron::parse("30 2 * * *").unwrap();
        let first = cron
            .next_after(&tz, at("2026-10-24T12:00:00", &tz))
            .unwrap();
        let second = cron.next_after(&tz, first).unwrap();
        assert_eq!(local(first, &tz), "2026-10-25T02:30:00+02:00");
        assert_eq!(
            local(second, &tz),
            "2026-10-26T02:30:00+01:00",
            "not twice on the 25th"
        );
        assert_eq!(
            second.duration_since(first).as_secs(),
            25 * 3600,
            "the day the clocks go back lasts 25 hours"
        );
    }

    #[test]
    fn a_run_missed_while_away_is_seen_once() {
        let tz = TimeZone::UTC;
        let nightly = Cron::parse("0 3 * * *").unwrap();
        let last = at("2026-12-01T03:00:05", &tz);
        assert!(!nightly.missed(&tz, last, at("2026-12-02T02:59:59", &tz)));
        assert!(nightly.missed(&tz, last, at("2026-12-02T03:00:00", &tz)));
        assert!(nightly.missed(&tz, last, at("2026-12-09T12:00:00", &tz)));
    }

    #[test]
    fn overlap_decides_only_when_a_run_is_in_progress() {
        for overlap in [Overlap::Skip, Overlap::Queue, Overlap::Kill] {
            assert_eq!(when_due(overlap, false), Due::Run);
        }
        assert_eq!(when_due(Overlap::Skip, true), Due::Skip);
        assert_eq!(when_due(Overlap::Queue, true), Due::Queue);
        assert_eq!(when_due(Overlap::Kill, true), Due::Restart);
    }
}
