//! A unit's last 24 hours in numbers, from the journal: for `ward why` (the CLI's and
//! `GET /v1/why`'s) and `GET /v1/status?stats=true` (`ward status --json`). Read off the
//! daemon's loop: by the CLI, or on a blocking thread.

use std::collections::BTreeMap;
use std::time::Duration;

use ward_api::UnitStats;

/// How far back the statistics reach.
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The unit's statistics from an open reader; none if the journal cannot be read.
pub fn stats_from(reader: &ward_store::Reader, name: &str) -> Option<UnitStats> {
    let now = ward_store::now_ms();
    let s = reader
        .stats(name, now - WINDOW.as_millis() as i64, now)
        .ok()?;
    Some(json(s))
}

/// Every unit's statistics, by name, from one pass over the journal.
pub fn stats_all(reader: &ward_store::Reader) -> BTreeMap<String, UnitStats> {
    let now = ward_store::now_ms();
    reader
        .stats_all(now - WINDOW.as_millis() as i64, now)
        .map(|all| all.into_iter().map(|(n, s)| (n, json(s))).collect())
        .unwrap_or_default()
}

fn json(s: ward_store::Stats) -> UnitStats {
    UnitStats {
        uptime_ratio: (s.uptime_ratio() * 1000.0).round() / 1000.0,
        mtbf_ms: s.mtbf_ms(),
        window_ms: s.window_ms,
        runs: s.runs,
        crashes: s.crashes,
        crashes_by_class: s.crashes_by_class.into_iter().collect(),
        restarts_after_crash: s.restarts_after_crash,
        restarts_by_operator: s.restarts_by_operator,
        restarts_by_reload: s.restarts_by_reload,
        backoff_ms: s.backoff_ms,
    }
}
