//! Whether the services recorded for a state dir still run under another ward daemon.
//!
//! A daemon that takes the state dir's lock adopts what its records name. That is right
//! when the daemon before it is gone: its services were re-parented to init (or another
//! subreaper) when it died. It is wrong when that daemon still runs but lost its lock
//! file (deleted while it was stopped, say): adopting would put every service under two
//! supervisors, each restarting it. The sign is plain: a recorded process, still the same
//! one, whose parent is a live ward daemon other than this one.

/// What the records and `/proc` say about one recorded main process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRun {
    /// The unit.
    pub unit: String,
    /// Its recorded main process.
    pub pid: u32,
    /// The start time recorded with it.
    pub recorded_start: u64,
    /// The start time of the process with that PID now, if one exists.
    pub start_now: Option<u64>,
    /// Its parent now.
    pub parent: Option<u32>,
    /// Whether that parent is a ward daemon (by its command name).
    pub parent_is_ward: bool,
}

/// The first recorded run that another live ward daemon still supervises, if any.
pub fn held_elsewhere(runs: &[RecordedRun], me: u32) -> Option<&RecordedRun> {
    runs.iter().find(|r| {
        r.start_now == Some(r.recorded_start)
            && r.parent.is_some_and(|p| p != me && p > 1)
            && r.parent_is_ward
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(start_now: Option<u64>, parent: Option<u32>, parent_is_ward: bool) -> RecordedRun {
        RecordedRun {
            unit: "web".into(),
            pid: 40,
            recorded_start: 7,
            start_now,
            parent,
            parent_is_ward,
        }
    }

    #[test]
    fn only_the_same_process_under_another_live_ward_is_held_elsewhere() {
        let me = 100;
        assert!(held_elsewhere(&[run(Some(7), Some(55), true)], me).is_some());
        // Re-parented to init or to this daemon: adoptable.
        assert!(held_elsewhere(&[run(Some(7), Some(1), true)], me).is_none());
        assert!(held_elsewhere(&[run(Some(7), Some(me), true)], me).is_none());
        // Another process now has the PID, or it is gone: not a run of ours at all.
        assert!(held_elsewhere(&[run(Some(8), Some(55), true)], me).is_none());
        assert!(held_elsewhere(&[run(None, None, false)], me).is_none());
        // Under a parent that is not ward (a container's init, a shell): adoptable.
        assert!(held_elsewhere(&[run(Some(7), Some(55), false)], me).is_none());
    }
}
