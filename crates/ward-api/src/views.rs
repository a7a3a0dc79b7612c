//! The bodies of the read views a dashboard needs beside the status: a unit's history,
//! the tail of its log, its config as ward reads it, and recent resource samples. Each
//! is what a CLI command shows, made available over the API (`docs/api.md`).

use serde::{Deserialize, Serialize};

/// One line of `GET /v1/history`: what `ward history` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When, ms since the Unix epoch.
    pub at_ms: i64,
    /// The unit; `null` for actions and the daemon's events.
    pub unit: Option<String>,
    /// `start`, `exit`, `crash`, `recovery`, `health`, `state`, `action`, or a daemon event.
    pub kind: String,
    /// What happened, in words.
    pub detail: String,
}

/// `GET /v1/history`: a unit's entries, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryResponse {
    /// The unit asked for.
    pub name: String,
    /// At most `limit` entries, the newest ones, oldest first.
    pub entries: Vec<HistoryEntry>,
    /// Whether older entries were left out.
    pub truncated: bool,
}

/// One line of a unit's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The time ward read it, as written in the file (UTC, to the millisecond).
    pub at: String,
    /// `out`, `err`, or `ward` for ward's own notes.
    pub stream: String,
    /// The text, secrets already masked; bytes that are not UTF-8 are replaced.
    pub text: String,
}

/// `GET /v1/logs`: the last lines of a unit's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogsResponse {
    /// The unit asked for.
    pub name: String,
    /// Its log file.
    pub file: String,
    /// The last lines, oldest first.
    pub lines: Vec<LogLine>,
    /// Where the last whole line read ends in the file: a follower goes on from here.
    pub offset: u64,
}

/// One setting of a unit as ward reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigEntry {
    /// The config key: `command`, `restart`, `env.DATABASE_URL`.
    pub key: String,
    /// Its value in the config's own notation, defaults filled in; a secret's value is
    /// `********`.
    pub value: String,
}

/// `GET /v1/config`: a unit's settings, defaults filled in, secrets masked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigResponse {
    /// The unit asked for.
    pub name: String,
    /// Its service (`web` for `web.2`).
    pub service: String,
    /// The config file.
    pub file: String,
    /// Every setting, in the order `docs/config.md` lists them.
    pub entries: Vec<ConfigEntry>,
}

/// One resource sample of a unit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsagePoint {
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
    /// CPU since the sample before, in percent of one core; `null` for a run's first.
    pub cpu_percent: Option<f64>,
    /// Resident memory of its processes, in bytes.
    pub memory_rss_bytes: u64,
}

/// The recent samples of one unit, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitUsage {
    /// The unit.
    pub unit: String,
    /// Its samples.
    pub points: Vec<UsagePoint>,
}

/// `GET /v1/usage`: the recent samples of every running unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageResponse {
    /// `sample_interval`, in ms; `0` with sampling off.
    pub interval_ms: u64,
    /// Per unit, the last samples (at most [`USAGE_POINTS`]).
    pub units: Vec<UnitUsage>,
}

/// How many samples a unit keeps for `GET /v1/usage`.
pub const USAGE_POINTS: usize = 30;

/// `POST /v1/login` on the HTTP listener: a token, given once, for a session cookie.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// The content of `http.token` (every request) or `http.read.token` (reads only).
    pub token: String,
}

/// The answer to `POST /v1/login` and `GET /v1/session`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// `full` or `read`.
    pub access: String,
    /// The value every `POST` of this session sends in `X-Ward-CSRF`.
    pub csrf: String,
}
