//! Why a unit's run ended, with everything `ward why` shows: the verdict, what ward does
//! about it, the confidence that this holds, the last day in numbers and the service's
//! last words on stderr. Built here for both readers of it, the CLI (`ward why`) and
//! `GET /v1/why` (the dashboard); it reads the journal and the log file, so it runs off
//! the daemon's loop.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use ward_api::{ServiceStatus, UnitState, timestamp};
use ward_core::duration::format_duration;

use ward_api::UnitStats;

/// Lines of the service's stderr shown.
const STDERR_LINES: usize = 5;

/// The estimate that the strategy holds, with what it rests on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfidenceJson {
    /// The estimate, 0 to 1.
    pub value: f64,
    /// This service's recoveries from the class that held.
    pub successes: u32,
    /// This service's recoveries from the class that can be judged.
    pub trials: u32,
    /// Every service's recoveries from this class, the prior's source.
    pub pooled_successes: u32,
    /// Every service's recoveries from this class that can be judged.
    pub pooled_trials: u32,
    /// In words, with its evidence.
    pub explanation: String,
}

/// The whole answer, as `ward why --json` prints it and `GET /v1/why` sends it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Why {
    /// The unit.
    pub name: String,
    /// Its state now, or `run N of M ended` for an earlier run.
    pub state: String,
    /// The crash class (crashes.md), or `clean_exit` or `stopped`.
    pub class: String,
    /// `low`, `medium`, `high`, `critical`.
    pub severity: String,
    /// The verdict in one sentence.
    pub summary: String,
    /// What the class rests on, a fact a line.
    pub evidence: Vec<String>,
    /// When it was judged, ms since the Unix epoch.
    pub at_ms: u64,
    /// What ward does about it now, in words.
    pub next: String,
    /// What ward does about it: `restart_after_backoff`, `restart`, `give_up`, `none`.
    pub strategy: String,
    /// How likely the strategy is to yield a run past `min_uptime`, when it restarts.
    pub confidence: Option<ConfidenceJson>,
    /// Crashes of the last 24 hours by class, from the journal.
    pub recent_crashes: BTreeMap<String, u32>,
    /// What the operator can do about it.
    pub recommendation: Option<String>,
    /// With `--run N`: which ended run this is (1 is the last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<u32>,
    /// The last lines the service wrote to stderr (during that run, with `--run`).
    pub stderr: Vec<String>,
    /// The last 24 hours in numbers, from the journal.
    pub stats: Option<UnitStats>,
}

impl Why {
    /// Whether the end was a crash: anything but an exit 0 and an end ward asked for.
    pub fn is_crash(&self) -> bool {
        !(self.class == "clean_exit" || self.class == "stopped")
    }
}

/// The last end of a unit the daemon knows, from its status; `None` when no run of it
/// has ended since the daemon started. `journal` is the journal's file.
pub fn of_status(journal: &Path, min_uptime: Duration, s: ServiceStatus) -> Option<Why> {
    let v = s.verdict.clone()?;
    let strategy = strategy(&s, v.strategy.as_deref());
    let reader = ward_store::Reader::open(journal).ok();
    let (confidence, recent_crashes, stats) =
        journal_view(reader.as_ref(), &s.name, &v.class, strategy, min_uptime);
    Some(Why {
        next: next(&s),
        strategy: strategy.to_string(),
        confidence,
        recent_crashes,
        stats,
        stderr: stderr_tail(Path::new(&s.log_file), None),
        recommendation: v.recommendation,
        run: None,
        name: s.name,
        state: s.state.to_string(),
        class: v.class,
        severity: v.severity,
        summary: v.summary,
        evidence: v.evidence,
        at_ms: v.at_ms,
    })
}

/// What both screens take from the journal: the confidence that the strategy holds (when
/// it restarts), the crashes of the statistics' window by class, and the statistics; none
/// of them when the journal cannot be read. One reader serves all three.
fn journal_view(
    reader: Option<&ward_store::Reader>,
    name: &str,
    class: &str,
    strategy: &str,
    min_uptime: Duration,
) -> (
    Option<ConfidenceJson>,
    BTreeMap<String, u32>,
    Option<UnitStats>,
) {
    let Some(reader) = reader else {
        return (None, BTreeMap::new(), None);
    };
    let confidence = strategy
        .starts_with("restart")
        .then(|| confidence(reader, name, class, min_uptime))
        .flatten();
    let stats = crate::stats::stats_from(reader, name);
    // The same window as the statistics, so their counts serve both.
    let recent = stats
        .as_ref()
        .map(|s| s.crashes_by_class.clone())
        .unwrap_or_default();
    (confidence, recent, stats)
}

/// The Nth last ended run (1 is the last) as the journal and the unit's `log` file tell
/// it; works with the daemon down. The error says what the journal holds instead.
pub fn from_journal(
    journal: &Path,
    log: &Path,
    min_uptime: Duration,
    name: &str,
    n: u32,
) -> Result<Why, String> {
    let reader =
        ward_store::Reader::open(journal).map_err(|e| format!("cannot read the journal: {e}"))?;
    let end = reader
        .run_end(name, n)
        .map_err(|e| format!("cannot read the journal {}: {e}", journal.display()))?;
    let Some(end) = end else {
        let total = reader
            .run_end(name, 1)
            .ok()
            .flatten()
            .map_or(0, |e| e.ended_runs);
        return Err(if total == 0 {
            format!(
                "the journal holds no ended run of `{name}`
  hint: `ward status` lists the units; `ward history {name}` shows what the journal holds"
            )
        } else {
            format!(
                "the journal holds {total} ended run(s) of `{name}`; --run takes 1 (the last) to {total}"
            )
        });
    };
    let ran = Duration::from_millis((end.ended_ms - end.started_ms).max(0) as u64);
    let window = run_window(&end);
    let (class, severity, summary, mut evidence, recommendation, at_ms) = match end.crash {
        Some(c) => (
            c.class,
            c.severity,
            c.summary.unwrap_or_default(),
            c.evidence,
            c.recommendation,
            c.at_ms,
        ),
        // Only two classes are not crashes: an exit 0, or an end ward asked for.
        None if end.exit_code == Some(0) => (
            "clean_exit".into(),
            "low".into(),
            "it exited cleanly (exit 0)".into(),
            vec![format!("{} after {}", end.exit, format_duration(ran))],
            None,
            end.ended_ms,
        ),
        None => (
            "stopped".into(),
            "low".into(),
            "it was stopped on request; not a crash".into(),
            vec![format!("{} after {}", end.exit, format_duration(ran))],
            None,
            end.ended_ms,
        ),
    };
    if evidence.is_empty() {
        evidence.push(end.exit.clone());
    }
    let actions = end.recoveries.join("; ");
    let strategy = if actions.contains("give up") {
        "give_up"
    } else if actions.contains("repair hook") {
        "repair"
    } else if actions.contains("data restored") {
        "restore"
    } else if actions.contains("restart") {
        "restart_after_backoff"
    } else {
        "none"
    };
    let (confidence, recent_crashes, stats) =
        journal_view(Some(&reader), name, &class, strategy, min_uptime);
    Ok(Why {
        name: name.to_string(),
        state: format!("run {n} of {} ended", end.ended_runs),
        next: if actions.is_empty() {
            format!("pid {}: nothing was done about it", end.pid)
        } else {
            format!("pid {}: ward did: {actions}", end.pid)
        },
        strategy: strategy.to_string(),
        confidence,
        recent_crashes,
        stats,
        stderr: stderr_tail(log, Some(window)),
        recommendation,
        run: Some(n),
        class,
        severity,
        summary,
        evidence,
        at_ms: at_ms.max(0) as u64,
    })
}

/// What ward does about it now, from the unit's state.
fn next(s: &ServiceStatus) -> String {
    match s.state {
        UnitState::Backoff => format!(
            "restarting in {}",
            s.backoff_ms
                .map(|ms| format_duration(Duration::from_millis(ms)))
                .unwrap_or_default()
        ),
        UnitState::Failed => {
            let v = s.verdict.as_ref();
            let why = ward_core::classify::gave_up_reason(
                v.map(|v| v.class.as_str()),
                v.and_then(|v| v.strategy.as_deref()),
            );
            format!("gave up: {why}; `ward start {}` tries again", s.name)
        }
        UnitState::Starting if s.pid.is_none() => {
            "starting: waiting for the repair hook or the data restore".to_string()
        }
        UnitState::Running | UnitState::Starting => format!(
            "running again (pid {}, {} restarts so far)",
            s.pid.unwrap_or(0),
            s.restarts
        ),
        UnitState::Exited => "not restarted: its restart policy leaves it exited".into(),
        UnitState::Completed => format!("completed; `ward start {}` runs it again", s.name),
        UnitState::Stopped => format!("stopped; `ward start {}` starts it", s.name),
        UnitState::Stopping => UnitState::Stopping.to_string(),
    }
}

/// What ward does about the end: the strategy it chose for the crash (`backoff` reads as
/// `restart_after_backoff`), or, for an end that was not a crash, what the state says.
fn strategy(s: &ServiceStatus, chosen: Option<&str>) -> &'static str {
    match (chosen, s.state) {
        (_, UnitState::Failed) => "give_up",
        (Some("repair"), _) => "repair",
        (Some("restore"), _) => "restore",
        (Some("give_up"), _) => "give_up",
        (_, UnitState::Backoff) => "restart_after_backoff",
        (_, UnitState::Running | UnitState::Starting) if s.restarts > 0 => "restart",
        _ => "none",
    }
}

/// The Beta-posterior estimate from the journal's recovery outcomes.
fn confidence(
    reader: &ward_store::Reader,
    name: &str,
    class: &str,
    min_uptime: Duration,
) -> Option<ConfidenceJson> {
    let now = ward_store::now_ms();
    let c = reader
        .confidence(name, class, min_uptime.as_millis() as i64, now)
        .ok()?;
    Some(ConfidenceJson {
        value: (c.value * 1000.0).round() / 1000.0,
        successes: c.own.successes,
        trials: c.own.trials,
        pooled_successes: c.pooled.successes,
        pooled_trials: c.pooled.trials,
        explanation: c.explain(class),
    })
}

/// The span of log time that belongs to an ended run. The log stamps a line when ward reads
/// it, which can be just after the death that ended the run was recorded; until the next run
/// starts (or for a second, when none did) nothing else writes to the service's log.
fn run_window(end: &ward_store::RunEnd) -> (i64, i64) {
    let until = end.next_started_ms.unwrap_or(end.ended_ms + 1000);
    (end.started_ms, until.max(end.ended_ms + 1))
}

/// The last lines the service wrote to stderr, from its log file; within `during` (ms
/// since the Unix epoch, start and end) when given.
pub fn stderr_tail(log_file: &Path, during: Option<(i64, i64)>) -> Vec<String> {
    // Bytes, not text: one byte of a service's output that is not UTF-8 must not hide the
    // whole tail. Shown on a terminal, each line is escaped on its way out (`out::print`).
    let bytes = std::fs::read(log_file).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    // The log's timestamps have one fixed width, so they compare as strings.
    let stamp = |ms: i64| timestamp::string(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64));
    // Half-open: [from, to).
    let bounds = during.map(|(from, to)| (stamp(from), stamp(to)));
    let mut lines: Vec<String> = text
        .lines()
        .rev()
        .filter(|l| match (&bounds, l.get(..timestamp::LEN)) {
            (Some((from, to)), Some(at)) => at >= from.as_str() && at < to.as_str(),
            (Some(_), None) => false,
            (None, _) => true,
        })
        // `<timestamp> err <line>`: the stream tag sits right after the time.
        .filter_map(|l| {
            l.get(timestamp::LEN..)
                .and_then(|r| r.strip_prefix(" err "))
                .map(String::from)
        })
        .take(STDERR_LINES)
        .collect();
    lines.reverse();
    lines
}
