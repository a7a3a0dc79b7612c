//! A unit's last 24 hours in numbers, from the journal: for `ward why` (the CLI's and
//! `GET /v1/why`'s) and `ward status --json`. Read off the daemon's loop: by the CLI, or
//! on a blocking thread.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// How far back the statistics reach.
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The statistics as `ward why` and the dashboard show them.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct StatsJson {
    /// How far back, in ms.
    pub window_ms: i64,
    /// Runs that started in the window.
    pub runs: u32,
    /// Ends judged crashes.
    pub crashes: u32,
    /// The same, by class.
    pub crashes_by_class: BTreeMap<String, u32>,
    /// Restarts ward made after a crash.
    pub restarts_after_crash: u32,
    /// Restarts someone asked for.
    pub restarts_by_operator: u32,
    /// Restarts a reload made, for a changed config.
    pub restarts_by_reload: u32,
    /// Time spent waiting in backoff.
    pub backoff_ms: i64,
    /// The share of the window it ran, 0 to 1.
    pub uptime_ratio: f64,
    /// Time up per crash; `None` without a crash.
    pub mtbf_ms: Option<i64>,
}

/// The unit's statistics from an open reader; none if the journal cannot be read.
pub fn stats_from(reader: &ward_store::Reader, name: &str) -> Option<StatsJson> {
    let now = ward_store::now_ms();
    let s = reader
        .stats(name, now - WINDOW.as_millis() as i64, now)
        .ok()?;
    Some(json(s))
}

/// Every unit's statistics, by name, from one pass over the journal.
pub fn stats_all(reader: &ward_store::Reader) -> BTreeMap<String, StatsJson> {
    let now = ward_store::now_ms();
    reader
        .stats_all(now - WINDOW.as_millis() as i64, now)
        .map(|all| all.into_iter().map(|(n, s)| (n, json(s))).collect())
        .unwrap_or_default()
}

fn json(s: ward_store::Stats) -> StatsJson {
    StatsJson {
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
