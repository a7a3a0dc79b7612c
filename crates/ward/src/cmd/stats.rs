//! A unit's last 24 hours in numbers, from the journal: for `ward why` and
//! `ward status --json`, read by the CLI so the daemon never waits on the journal for them.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use ward_core::config::SupervisorConfig;

/// How far back the statistics reach.
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The statistics as the CLI prints them.
#[derive(Serialize)]
pub struct StatsJson {
    pub window_ms: i64,
    pub runs: u32,
    pub crashes: u32,
    pub crashes_by_class: BTreeMap<String, u32>,
    pub restarts_after_crash: u32,
    pub restarts_by_operator: u32,
    pub restarts_by_reload: u32,
    pub backoff_ms: i64,
    pub uptime_ratio: f64,
    pub mtbf_ms: Option<i64>,
}

/// The unit's statistics (none if the journal cannot be read).
pub fn stats(sup: &SupervisorConfig, name: &str) -> Option<StatsJson> {
    let reader = ward_store::Reader::open(&sup.state_dir.join("journal.db")).ok()?;
    stats_from(&reader, name)
}

/// The same, from an open reader.
pub fn stats_from(reader: &ward_store::Reader, name: &str) -> Option<StatsJson> {
    let now = now_ms()?;
    let s = reader
        .stats(name, now - WINDOW.as_millis() as i64, now)
        .ok()?;
    Some(json(s))
}

/// Every unit's statistics, by name, from one pass over the journal.
pub fn stats_all(reader: &ward_store::Reader) -> BTreeMap<String, StatsJson> {
    let Some(now) = now_ms() else {
        return BTreeMap::new();
    };
    reader
        .stats_all(now - WINDOW.as_millis() as i64, now)
        .map(|all| all.into_iter().map(|(n, s)| (n, json(s))).collect())
        .unwrap_or_default()
}

fn now_ms() -> Option<i64> {
    Some(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_millis() as i64,
    )
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
