//! `ward why NAME [--json]`: why the last run ended, on one screen.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use ward_api::{ServiceStatus, StatusResponse};
use ward_core::config::SupervisorConfig;
use ward_core::duration::format_duration;

use crate::client::{self, Method};
use crate::exit::{FAILED, Failure, OK};

/// How far back `ward why` counts earlier crashes.
const RECENT: Duration = Duration::from_secs(24 * 3600);

/// Lines of the service's stderr shown.
const STDERR_LINES: usize = 5;

#[derive(Serialize)]
struct ConfidenceJson {
    value: f64,
    successes: u32,
    trials: u32,
    /// Every service's recoveries from this class, the prior's source.
    pooled_successes: u32,
    pooled_trials: u32,
    /// In words, with its evidence.
    explanation: String,
}

#[derive(Serialize)]
struct Why {
    name: String,
    state: String,
    class: String,
    severity: String,
    summary: String,
    evidence: Vec<String>,
    at_ms: u64,
    next: String,
    /// What ward does about it: `restart_after_backoff`, `restart`, `give_up`, `none`.
    strategy: String,
    /// How likely the strategy is to yield a run past `min_uptime`, when it restarts.
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: Option<ConfidenceJson>,
    /// Crashes of the last 24 hours by class, from the journal.
    recent_crashes: BTreeMap<String, u32>,
    /// The last lines the service wrote to stderr.
    stderr: Vec<String>,
}

pub fn why(
    sup: &SupervisorConfig,
    min_uptime: Duration,
    name: &str,
    json: bool,
) -> Result<i32, Failure> {
    let status: StatusResponse = client::call(&sup.socket, Method::<()>::Get("/v1/status"))?;
    let Some(s) = status.services.into_iter().find(|s| s.name == name) else {
        return Err(Failure::Usage(format!(
            "no unit named `{name}`\n  hint: name one unit; `ward status` lists them"
        )));
    };
    let Some(v) = s.verdict.clone() else {
        println!(
            "{name}: no run of it has ended since the daemon started ({})",
            s.state
        );
        return Ok(OK);
    };
    let strategy = strategy(&s);
    let confidence = (strategy.starts_with("restart"))
        .then(|| confidence(sup, name, &v.class, min_uptime))
        .flatten();
    let why = Why {
        next: next(&s),
        strategy: strategy.to_string(),
        confidence,
        recent_crashes: recent_crashes(sup, name),
        stderr: stderr_tail(&s.log_file),
        name: s.name,
        state: s.state,
        class: v.class,
        severity: v.severity,
        summary: v.summary,
        evidence: v.evidence,
        at_ms: v.at_ms,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&why).unwrap_or_default());
    } else {
        print(&why);
    }
    Ok(if why.class == "clean_exit" || why.class == "stopped" {
        OK
    } else {
        FAILED
    })
}

fn print(w: &Why) {
    let at = UNIX_EPOCH + Duration::from_millis(w.at_ms);
    println!(
        "{}: {} ({})",
        w.name,
        w.summary,
        ward_daemon::logs::timestamp(at)
    );
    println!("  class     {} ({})", w.class, w.severity);
    for (i, e) in w.evidence.iter().enumerate() {
        println!("  {}  {e}", if i == 0 { "evidence" } else { "        " });
    }
    println!("  now       {}", w.next);
    if let Some(c) = &w.confidence {
        println!("  holds     {}", c.explanation);
    }
    if !w.recent_crashes.is_empty() {
        let counts: Vec<String> = w
            .recent_crashes
            .iter()
            .map(|(c, n)| format!("{n} {c}"))
            .collect();
        println!("  last 24h  {}", counts.join(", "));
    }
    if !w.stderr.is_empty() {
        println!("  stderr");
        for l in &w.stderr {
            println!("    {l}");
        }
    }
}

/// What ward does about it now, from the unit's state.
fn next(s: &ServiceStatus) -> String {
    match s.state.as_str() {
        "backoff" => format!(
            "restarting in {}",
            s.backoff_ms
                .map(|ms| format_duration(Duration::from_millis(ms)))
                .unwrap_or_default()
        ),
        "failed" => format!(
            "gave up: the start limit was reached; `ward start {}` tries again",
            s.name
        ),
        "running" | "starting" => format!(
            "running again (pid {}, {} restarts so far)",
            s.pid.unwrap_or(0),
            s.restarts
        ),
        "exited" => "not restarted: its restart policy leaves it exited".into(),
        "stopped" => format!("stopped; `ward start {}` starts it", s.name),
        other => other.to_string(),
    }
}

/// What ward does about the end, from the unit's state.
fn strategy(s: &ServiceStatus) -> &'static str {
    match s.state.as_str() {
        "backoff" => "restart_after_backoff",
        "running" | "starting" if s.restarts > 0 => "restart",
        "failed" => "give_up",
        _ => "none",
    }
}

/// The Beta-posterior estimate from the journal's recovery outcomes.
fn confidence(
    sup: &SupervisorConfig,
    name: &str,
    class: &str,
    min_uptime: Duration,
) -> Option<ConfidenceJson> {
    use ward_core::classify::{Outcomes, confidence};
    let reader = ward_store::Reader::open(&sup.state_dir.join("journal.db")).ok()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as i64;
    let min = min_uptime.as_millis() as i64;
    let outcomes = |unit: Option<&str>| {
        reader
            .recovery_outcomes(unit, class, min, now)
            .map(|(successes, trials)| Outcomes { successes, trials })
    };
    let c = confidence(outcomes(Some(name)).ok()?, outcomes(None).ok()?);
    Some(ConfidenceJson {
        value: (c.value * 1000.0).round() / 1000.0,
        successes: c.own.successes,
        trials: c.own.trials,
        pooled_successes: c.pooled.successes,
        pooled_trials: c.pooled.trials,
        explanation: c.explain(class),
    })
}

/// Crash classes of the last 24 hours, from the journal (empty if it cannot be read).
fn recent_crashes(sup: &SupervisorConfig, name: &str) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    let since = SystemTime::now()
        .checked_sub(RECENT)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64);
    let Ok(reader) = ward_store::Reader::open(&sup.state_dir.join("journal.db")) else {
        return out;
    };
    for e in reader.history(name, since).unwrap_or_default() {
        if e.kind == "crash" && e.unit.as_deref() == Some(name) {
            let class = e.detail.split(" (").next().unwrap_or("").to_string();
            *out.entry(class).or_insert(0) += 1;
        }
    }
    out
}

/// The last lines the service wrote to stderr, from its log file.
fn stderr_tail(log_file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(log_file).unwrap_or_default();
    let mut lines: Vec<String> = text
        .lines()
        .rev()
        .filter_map(|l| l.split_once(" err ").map(|(_, rest)| rest.to_string()))
        .take(STDERR_LINES)
        .collect();
    lines.reverse();
    lines
}
