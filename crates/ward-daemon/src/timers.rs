//! Time in the loop: when it must wake up next without anything else happening, and
//! what is due when it does.

use std::time::{Duration, Instant};

use ward_core::machine::Event;

use crate::supervisor::{Supervisor, TREE_POLL};

impl Supervisor {
    /// The next time the loop must wake up without any other happening, when no work is
    /// left from the last turn (with work left, the next turn comes at once).
    pub(crate) fn next_deadline(&self) -> Instant {
        let now = Instant::now();
        let mut next = now + Duration::from_secs(3600);
        for due in [
            self.own_files_due,
            self.sampler.due,
            self.event_hooks.next_deadline(),
        ]
        .into_iter()
        .flatten()
        {
            next = next.min(due);
        }
        for unit in self.units.values() {
            if let Some((at, _)) = unit.timer {
                next = next.min(at);
            }
            if unit.awaiting_tree {
                next = next.min(now + TREE_POLL);
            }
            // A task's next scheduled run, unless its schedule is paused.
            let scheduled = unit
                .schedule
                .as_ref()
                .filter(|a| !a.paused)
                .and_then(|a| a.due);
            for at in [
                unit.seldom().probe_due,
                unit.seldom().watchdog_due,
                scheduled,
            ]
            .into_iter()
            .flatten()
            {
                next = next.min(at);
            }
        }
        for p in &self.pending {
            next = next.min(p.due);
        }
        for h in self.hooks.values() {
            next = next.min(h.deadline);
        }
        next
    }

    /// Fires due timers and reports trees that have emptied.
    pub(crate) fn fire_timers(&mut self) {
        // Children that ended before now are judged by their ends, not by a deadline that
        // came due in the same turn of the loop: a probe that answered in time while the
        // loop was busy (another unit's stop, say) is not a timed-out probe.
        self.reap();
        if !self.backlog.ended.is_empty() {
            // Ends not judged yet come first; the next turn comes at once.
            return;
        }
        self.settle_verdicts();
        self.kill_late_hooks();
        self.kill_late_event_hooks();
        self.sample_if_due();
        self.run_due_probes();
        self.check_watchdogs();
        self.run_due_schedules();
        let now = Instant::now();
        let mut due = Vec::new();
        for unit in self.units.values_mut() {
            if let Some((at, token)) = unit.timer
                && at <= now
            {
                unit.timer = None;
                due.push((unit.name().to_string(), Event::Timer { token }, at));
            }
            // Reading a tree costs a file read (a cgroup's `cgroup.procs`): past the
            // slice, the rest are read in the next turn.
            if unit.awaiting_tree
                && !self.backlog.spent()
                && unit
                    .containment
                    .is_empty(unit.roots(self.me), &mut self.procs)
            {
                unit.awaiting_tree = false;
                due.push((unit.name().to_string(), Event::TreeEmpty, now));
            }
        }
        let mut due = due.into_iter();
        for (name, event, _) in due.by_ref() {
            self.dispatch(&name, event);
            if self.backlog.spent() {
                break;
            }
        }
        // What the slice had no time for stays due, for the next turn.
        for (name, event, at) in due {
            if let Some(unit) = self.units.get_mut(&name) {
                match event {
                    Event::Timer { token } => {
                        unit.timer.get_or_insert((at, token));
                    }
                    _ => unit.awaiting_tree = true,
                }
            }
        }
    }
}
