//! The answer to `GET /v1/status`, built off the loop from the loop's snapshot: the main
//! processes' states, and with `?stats=true` each unit's statistics from the journal.
//! Reading them here rather than in each client means a client that may not read the
//! state dir (an `api_readers` member, a dashboard) gets them too, and the read starts
//! only once the journal holds what the snapshot counts.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use ward_api::{StatusResponse, UnitStats};

use crate::proc_states::ProcStates;
use crate::requests::{Reply, json_sized};

/// How long the statistics wait for the journal's commit: a writer that cannot commit in
/// that time (a stalled disk) is not waited for, and the statistics are what is committed.
/// Short, because a status with its statistics may hold the connection slot kept for
/// status; a commit takes milliseconds.
const COMMIT_WAIT: Duration = Duration::from_secs(1);

/// Where the statistics come from, and the signal that the journal holds everything
/// journaled before the snapshot.
pub(crate) struct JournalStats {
    /// The journal's database file.
    pub journal: PathBuf,
    /// Sent once the writer has committed what was queued before the snapshot.
    pub committed: Receiver<()>,
}

impl JournalStats {
    /// Every unit's statistics, once the commit is in; none when the journal cannot be
    /// read (the answer then has no `stats`, as for a unit the journal has not seen).
    fn read(self) -> BTreeMap<String, UnitStats> {
        let _ = self.committed.recv_timeout(COMMIT_WAIT);
        ward_store::Reader::open(&self.journal)
            .ok()
            .as_ref()
            .map(crate::stats::stats_all)
            .unwrap_or_default()
    }
}

/// The status answer: `mains` (each unit's place in `status` and its main PID) are given
/// their process states, and with `stats` each unit its statistics. The process states
/// are read on a thread of their own meanwhile: at 5,000 units each read takes about
/// 10 ms.
pub(crate) fn answer(
    mut status: StatusResponse,
    mains: &[(usize, u32)],
    proc_states: &ProcStates,
    stats: Option<JournalStats>,
) -> Reply {
    let with_stats = stats.is_some();
    let pids: Vec<u32> = mains.iter().map(|&(_, pid)| pid).collect();
    let (states, mut all) = std::thread::scope(|scope| {
        let reading = match stats {
            Some(_) => std::thread::Builder::new()
                .name("ward-status".into())
                .spawn_scoped(scope, || proc_states.of(&pids))
                .ok(),
            None => None,
        };
        let all = stats.map(JournalStats::read).unwrap_or_default();
        // No thread to be had (a process limit reached), or a panic in it: read here.
        let states = reading
            .and_then(|t| t.join().ok())
            .unwrap_or_else(|| proc_states.of(&pids));
        (states, all)
    });
    for (&(i, _), state) in mains.iter().zip(states) {
        status.services[i].process_state = Some(state.as_str().to_string());
    }
    for s in &mut status.services {
        s.stats = all.remove(&s.name);
    }
    // About 480 bytes a unit, 200 more with its statistics; a little more saves growing
    // the buffer.
    let per_unit = if with_stats { 880 } else { 640 };
    json_sized(&status, 1024 + status.services.len() * per_unit)
}
