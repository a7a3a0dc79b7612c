//! Scheduled tasks at run time: each task with a `schedule` has its next run armed on the
//! loop's clock, runs through its dependencies like any start when the time comes, and
//! meets a run still in progress as its `overlap` says. `ward stop` pauses the schedule,
//! `ward start` runs the task now and resumes it. The times are decided by
//! `ward_core::schedule`; here they meet the wall clock and the loop.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use ward_core::machine::Event;
use ward_core::schedule::{Due, when_due};

use crate::supervisor::Supervisor;

/// Longest sleep of the loop before a scheduled time: a wall clock that was set forward
/// meanwhile (NTP, an operator) is noticed within it.
const RECHECK: Duration = Duration::from_secs(3600);

/// A task's schedule as it stands.
#[derive(Clone, Debug)]
pub(crate) struct Armed {
    /// The zone its times are in.
    pub tz: TimeZone,
    /// When it runs next; `None` when its expression names no future time.
    pub next: Option<Timestamp>,
    /// When the loop wakes up for it.
    pub due: Option<Instant>,
    /// `ward stop` paused it; `ward start` resumes it.
    pub paused: bool,
    /// A run fell due while one was in progress (`overlap = "queue"`): it follows.
    pub queued: bool,
}

impl Supervisor {
    /// A unit the daemon starts by itself (`autostart`, a record that says run): a task
    /// with a schedule is armed instead, and run once now if `catch_up` finds a run
    /// missed while no daemon ran; anything else is queued to start.
    pub(crate) fn autostart(&mut self, name: &str) {
        if !self.arm_schedule(name, false) {
            self.queue_start(name);
            return;
        }
        if self.missed_while_away(name) {
            self.note(
                name,
                "catch_up: a scheduled run was missed while ward was down; running it now",
            );
            self.journal_schedule(name, "scheduled run (catch_up)");
            self.queue_start(name);
        }
    }

    /// Arms `name`'s schedule (paused or not), if it has one. Returns whether it has.
    pub(crate) fn arm_schedule(&mut self, name: &str, paused: bool) -> bool {
        let Some(unit) = self.units.get(name) else {
            return false;
        };
        let Some(schedule) = unit.instance.service.schedule.clone() else {
            return false;
        };
        let tz = match ward_sys::time_zone::time_zone(schedule.timezone.as_deref()) {
            Ok(tz) => tz,
            Err(e) => {
                // Checked at load; gone since (tzdata removed): UTC, said aloud.
                let line = format!(
                    "timezone {:?}: {e}; its schedule runs in UTC",
                    schedule.timezone
                );
                tracing::warn!(unit = %name, "{line}");
                self.note(name, &line);
                TimeZone::UTC
            }
        };
        let mut armed = Armed {
            tz,
            next: None,
            due: None,
            paused,
            queued: false,
        };
        next_run(&mut armed, &schedule.cron, Timestamp::now());
        if let Some(unit) = self.units.get_mut(name) {
            unit.schedule = Some(Box::new(armed));
        }
        self.any_scheduled = true;
        true
    }

    /// Whether `catch_up` finds a run of `name` that fell due after its last start (from
    /// the journal) and before now.
    fn missed_while_away(&self, name: &str) -> bool {
        let Some(unit) = self.units.get(name) else {
            return false;
        };
        let (Some(schedule), Some(armed)) = (&unit.instance.service.schedule, &unit.schedule)
        else {
            return false;
        };
        if !schedule.catch_up {
            return false;
        }
        let last = ward_store::Reader::open(self.journal.path())
            .ok()
            .and_then(|r| r.last_start_ms(name).ok().flatten());
        let Some(last) = last.and_then(|ms| Timestamp::from_millisecond(ms).ok()) else {
            // Never ran: nothing was missed.
            return false;
        };
        schedule.cron.missed(&armed.tz, last, Timestamp::now())
    }

    /// `ward stop`: a task's schedule pauses with it.
    pub(crate) fn pause_schedule(&mut self, name: &str) {
        if let Some(armed) = self.units.get_mut(name).and_then(|u| u.schedule.as_mut()) {
            armed.paused = true;
            armed.queued = false;
        }
    }

    /// `ward start`: a paused schedule resumes (the start itself runs the task now).
    pub(crate) fn resume_schedule(&mut self, name: &str) {
        let needs_arming = self
            .units
            .get(name)
            .is_some_and(|u| u.instance.service.schedule.is_some() && u.schedule.is_none());
        if needs_arming {
            self.arm_schedule(name, false);
        }
        if let Some(armed) = self.units.get_mut(name).and_then(|u| u.schedule.as_mut()) {
            armed.paused = false;
        }
    }

    /// Runs the tasks whose time has come, and the queued runs whose last run ended.
    pub(crate) fn run_due_schedules(&mut self) {
        if !self.any_scheduled {
            return;
        }
        let now = Timestamp::now();
        let mut due = Vec::new();
        let mut queued = Vec::new();
        for unit in self.units.values_mut() {
            let Some(schedule) = &unit.instance.service.schedule else {
                continue;
            };
            let idle = unit.is_down() && unit.seldom().waiting_for.is_empty() && !unit.start_queued;
            let Some(armed) = unit.schedule.as_mut() else {
                continue;
            };
            if armed.queued && idle && !armed.paused {
                armed.queued = false;
                queued.push(unit.instance.name.clone());
            }
            if armed.paused || armed.next.is_none_or(|t| t > now) {
                // Not yet, by the wall clock: the loop's clock may have run ahead of it.
                if armed.due.is_some_and(|d| d <= Instant::now()) {
                    armed.due = armed.next.map(|t| due_instant(t, now));
                }
                continue;
            }
            let when = armed.next.unwrap_or(now);
            next_run(armed, &schedule.cron, now);
            due.push((
                unit.instance.name.clone(),
                when_due(schedule.overlap, !idle),
                when,
            ));
        }
        for name in queued {
            self.journal_schedule(&name, "scheduled run (queued behind the last one)");
            self.request_start(&name);
        }
        for (name, what, when) in due {
            match what {
                Due::Run => {
                    self.journal_schedule(&name, &format!("scheduled run ({when})"));
                    self.request_start(&name);
                }
                Due::Skip => {
                    let line = format!(
                        "scheduled run ({when}) skipped: the last run is still running (overlap = \"skip\")"
                    );
                    self.note(&name, &line);
                    self.journal_schedule(&name, &line);
                }
                Due::Queue => {
                    let line = format!(
                        "scheduled run ({when}) queued: it runs when the last one ends (overlap = \"queue\")"
                    );
                    self.note(&name, &line);
                    self.journal_schedule(&name, &line);
                    if let Some(armed) = self.units.get_mut(&name).and_then(|u| u.schedule.as_mut())
                    {
                        armed.queued = true;
                    }
                }
                Due::Restart => {
                    let line = format!(
                        "scheduled run ({when}): stopping the last run to start anew (overlap = \"kill\")"
                    );
                    self.note(&name, &line);
                    self.journal_schedule(&name, &line);
                    self.dispatch(&name, Event::Restart);
                }
            }
        }
    }

    fn journal_schedule(&mut self, name: &str, action: &str) {
        self.journal.record(ward_store::Record::Recovery {
            unit: name.to_string(),
            at_ms: ward_store::now_ms(),
            action: action.to_string(),
            delay_ms: None,
        });
    }
}

/// Sets the next run after `now`, and the loop's wake-up for it.
fn next_run(armed: &mut Armed, cron: &ward_core::schedule::Cron, now: Timestamp) {
    armed.next = cron.next_after(&armed.tz, now);
    armed.due = armed.next.map(|t| due_instant(t, now));
}

/// The loop's instant for wall-clock time `at`, at most [`RECHECK`] away.
fn due_instant(at: Timestamp, now: Timestamp) -> Instant {
    let wait = at
        .duration_since(now)
        .try_into()
        .unwrap_or(Duration::ZERO)
        .min(RECHECK);
    Instant::now() + wait
}
