//! `ward why NAME [--run N] [--json]`: why the last (or the Nth last) run ended, on one
//! screen.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use ward_api::{ServiceStatus, StatusResponse, UnitState, timestamp};
use ward_core::config::SupervisorConfig;
use ward_core::duration::format_duration;

use super::stats::StatsJson;
use crate::client::{self, Method, Timeout};
use crate::exit::{FAILED, Failure, OK};
use crate::out::{self, outln};

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
    confidence: Option<ConfidenceJson>,
    /// Crashes of the last 24 hours by class, from the journal.
    recent_crashes: BTreeMap<String, u32>,
    /// What the operator can do about it.
    recommendation: Option<String>,
    /// With `--run N`: which ended run this is (1 is the last).
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<u32>,
    /// The last lines the service wrote to stderr (during that run, with `--run`).
    stderr: Vec<String>,
    /// The last 24 hours in numbers, from the journal.
    stats: Option<StatsJson>,
}

pub fn why(
    sup: &SupervisorConfig,
    min_uptime: Duration,
    name: &str,
    run: Option<u32>,
    json: bool,
    timeout: Timeout,
) -> Result<i32, Failure> {
    if let Some(n) = run {
        let why = from_journal(sup, min_uptime, name, n)?;
        return show(&why, json);
    }
    let status: StatusResponse =
        client::call(&sup.socket, Method::<()>::Get("/v1/status"), timeout)?;
    let Some(s) = status.services.into_iter().find(|s| s.name == name) else {
        return Err(Failure::Usage(format!(
            "no unit named `{name}`\n  hint: name one unit; `ward status` lists them"
        )));
    };
    let Some(v) = s.verdict.clone() else {
        if json {
            let none = serde_json::json!({ "name": name, "state": s.state, "class": null });
            out::json(&none)?;
        } else {
            outln!(
                "{name}: no run of it has ended since the daemon started ({})",
                s.state
            )?;
        }
        return Ok(OK);
    };
    let strategy = strategy(&s, v.strategy.as_deref());
    let (confidence, recent_crashes, stats) =
        journal_view(sup, name, &v.class, strategy, min_uptime);
    let why = Why {
        next: next(&s),
        strategy: strategy.to_string(),
        confidence,
        recent_crashes,
        stats,
        stderr: stderr_tail(&s.log_file, None),
        recommendation: v.recommendation,
        run: None,
        name: s.name,
        state: s.state.to_string(),
        class: v.class,
        severity: v.severity,
        summary: v.summary,
        evidence: v.evidence,
        at_ms: v.at_ms,
    };
    show(&why, json)
}

/// What both screens take from the journal: the confidence that the strategy holds (when
/// it restarts), the crashes of the statistics' window by class, and the statistics.
fn journal_view(
    sup: &SupervisorConfig,
    name: &str,
    class: &str,
    strategy: &str,
    min_uptime: Duration,
) -> (
    Option<ConfidenceJson>,
    BTreeMap<String, u32>,
    Option<StatsJson>,
) {
    let confidence = strategy
        .starts_with("restart")
        .then(|| confidence(sup, name, class, min_uptime))
        .flatten();
    let stats = super::stats::stats(sup, name);
    // The same window as the statistics, so their counts serve both.
    let recent = stats
        .as_ref()
        .map(|s| s.crashes_by_class.clone())
        .unwrap_or_default();
    (confidence, recent, stats)
}

/// Prints the verdict; the exit status says whether it was a crash.
fn show(why: &Why, json: bool) -> Result<i32, Failure> {
    if json {
        out::json(why)?;
    } else {
        out::print(&render(why))?;
    }
    Ok(if why.class == "clean_exit" || why.class == "stopped" {
        OK
    } else {
        FAILED
    })
}

/// `--run N`: the Nth last ended run as the journal tells it. Works with the daemon down.
fn from_journal(
    sup: &SupervisorConfig,
    min_uptime: Duration,
    name: &str,
    n: u32,
) -> Result<Why, Failure> {
    crate::client::settle_journal(sup);
    let path = sup.state_dir.join("journal.db");
    let reader = ward_store::Reader::open(&path)
        .map_err(|e| Failure::Usage(format!("cannot read the journal: {e}")))?;
    let end = reader
        .run_end(name, n)
        .map_err(|e| Failure::Usage(format!("cannot read the journal {}: {e}", path.display())))?;
    let Some(end) = end else {
        let total = reader
            .run_end(name, 1)
            .ok()
            .flatten()
            .map_or(0, |e| e.ended_runs);
        return Err(Failure::Usage(if total == 0 {
            format!(
                "the journal holds no ended run of `{name}`
  hint: `ward status` lists the units; `ward history {name}` shows what the journal holds"
            )
        } else {
            format!(
                "the journal holds {total} ended run(s) of `{name}`; --run takes 1 (the last) to {total}"
            )
        }));
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
    let (confidence, recent_crashes, stats) = journal_view(sup, name, &class, strategy, min_uptime);
    let log = sup.log_dir.join(format!("{name}.log"));
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
        stderr: stderr_tail(&log.display().to_string(), Some(window)),
        recommendation,
        run: Some(n),
        class,
        severity,
        summary,
        evidence,
        at_ms: at_ms.max(0) as u64,
    })
}

/// The one screen `ward why` shows.
fn render(w: &Why) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let at = UNIX_EPOCH + Duration::from_millis(w.at_ms);
    let when = timestamp::string(at);
    let _ = writeln!(out, "{}: {} ({when})", w.name, w.summary);
    let _ = writeln!(out, "  class     {} ({})", w.class, w.severity);
    for (i, e) in w.evidence.iter().enumerate() {
        let label = if i == 0 { "evidence" } else { "        " };
        let _ = writeln!(out, "  {label}  {e}");
    }
    if let Some(r) = &w.recommendation {
        let _ = writeln!(out, "  advice    {r}");
    }
    let _ = writeln!(out, "  now       {}", w.next);
    if let Some(c) = &w.confidence {
        let _ = writeln!(out, "  holds     {}", c.explanation);
    }
    if !w.recent_crashes.is_empty() {
        let counts: Vec<String> = w
            .recent_crashes
            .iter()
            .map(|(c, n)| format!("{n} {c}"))
            .collect();
        let _ = writeln!(out, "  last 24h  {}", counts.join(", "));
    }
    if let Some(s) = &w.stats {
        let mtbf = s
            .mtbf_ms
            .map(|ms| format_duration(Duration::from_millis(ms.max(0) as u64)))
            .unwrap_or_else(|| "no crash".into());
        let _ = writeln!(
            out,
            "  24h       up {:.1}%, {} runs, mtbf {mtbf}, {} in backoff; restarts: {} after crashes, {} by operator, {} by reload",
            s.uptime_ratio * 100.0,
            s.runs,
            format_duration(Duration::from_millis(s.backoff_ms.max(0) as u64)),
            s.restarts_after_crash,
            s.restarts_by_operator,
            s.restarts_by_reload
        );
    }
    if !w.stderr.is_empty() {
        let _ = writeln!(out, "  stderr");
        for l in &w.stderr {
            let _ = writeln!(out, "    {l}");
        }
    }
    out
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
    sup: &SupervisorConfig,
    name: &str,
    class: &str,
    min_uptime: Duration,
) -> Option<ConfidenceJson> {
    let reader = ward_store::Reader::open(&sup.state_dir.join("journal.db")).ok()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as i64;
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
fn stderr_tail(log_file: &str, during: Option<(i64, i64)>) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use ward_core::classify::{ExitReport, OomEvidence, classify};
    use ward_core::{ExitStatus, Signal};

    fn sig(n: i32, core: bool) -> Option<ExitStatus> {
        Some(ExitStatus::Signaled {
            signal: Signal::from_number(n).expect("signal"),
            core_dumped: core,
        })
    }

    /// One report per class, as the daemon would build it.
    fn reports() -> Vec<ExitReport> {
        let long = Duration::from_secs(3600);
        let base = |status: Option<ExitStatus>, run: Duration| ExitReport {
            status,
            ..ExitReport::of(ExitStatus::Exited(0), run)
        };
        let mut out = vec![
            base(Some(ExitStatus::Exited(0)), long),
            base(Some(ExitStatus::Exited(3)), long),
            base(sig(11, true), long),
            base(sig(6, true), long),
            base(sig(7, false), long),
            base(sig(4, false), long),
            base(sig(8, false), long),
        ];
        let mut oom = base(sig(9, false), long);
        oom.oom = OomEvidence::Strong(
            "the service's memory cgroup counted 1 OOM kill(s) during the run; peak memory 32.0 MiB of a 32.0 MiB limit".into(),
        );
        oom.peak_memory = Some(32 << 20);
        oom.memory_limit = Some(32 << 20);
        out.push(oom);
        out.push(base(sig(9, false), long));
        let mut stopped = base(sig(15, false), long);
        stopped.requested_stop = true;
        out.push(stopped);
        let mut hung = base(sig(9, false), long);
        hung.requested_stop = true;
        hung.stop_escalated = true;
        out.push(hung);
        let mut unhealthy = base(sig(15, false), long);
        unhealthy.requested_stop = true;
        unhealthy.hang = Some(
            "its health check failed 3 time(s) in a row (retries 3); last: the probe ended with exit 1"
                .into(),
        );
        unhealthy.dependents = vec!["api".into()];
        out.push(unhealthy);
        out.push(base(sig(24, false), long));
        let mut exec = base(None, Duration::ZERO);
        exec.exec_failure = Some("exec failed: not found: /opt/app/run: no such file".into());
        exec.failed_starts = 1;
        out.push(exec);
        let mut early = base(Some(ExitStatus::Exited(2)), Duration::from_millis(40));
        early.failed_starts = 1;
        out.push(early);
        let mut looping = base(Some(ExitStatus::Exited(1)), Duration::from_millis(40));
        looping.failed_starts = 6;
        out.push(looping);
        let mut boot = base(Some(ExitStatus::Unknown), long);
        boot.earlier_boot = true;
        out.push(boot);
        let mut sup = base(Some(ExitStatus::Unknown), long);
        sup.supervisor_crashed = true;
        out.push(sup);
        out
    }

    #[test]
    fn every_class_on_one_screen() {
        let mut all = String::new();
        for (i, report) in reports().iter().enumerate() {
            let v = classify(report);
            let w = Why {
                name: "web".into(),
                state: "backoff".into(),
                class: v.class.as_str().into(),
                severity: v.severity.as_str().into(),
                summary: v.summary,
                evidence: v.evidence,
                at_ms: 1_795_700_000_000 + i as u64,
                next: "restarting in 400ms".into(),
                strategy: "restart_after_backoff".into(),
                confidence: (i % 2 == 0).then(|| ConfidenceJson {
                    value: 0.77,
                    successes: 5,
                    trials: 6,
                    pooled_successes: 5,
                    pooled_trials: 6,
                    explanation: "0.77 — 5 of 6 recoveries held".into(),
                }),
                recent_crashes: BTreeMap::from([(v.class.as_str().to_string(), 2)]),
                stats: (i == 0).then(|| StatsJson {
                    window_ms: 86_400_000,
                    runs: 5,
                    crashes: 4,
                    crashes_by_class: BTreeMap::from([("segfault".to_string(), 4)]),
                    restarts_after_crash: 4,
                    restarts_by_operator: 1,
                    restarts_by_reload: 0,
                    backoff_ms: 6_400,
                    uptime_ratio: 0.98,
                    mtbf_ms: Some(21_168_000),
                }),
                stderr: vec!["fatal: cannot connect to db".into()],
                recommendation: v.recommendation,
                run: None,
            };
            all.push_str(&render(&w));
            all.push('\n');
        }
        let classes: std::collections::HashSet<String> = reports()
            .iter()
            .map(|r| classify(r).class.as_str().to_string())
            .collect();
        assert_eq!(classes.len(), 17, "every class is on the screen");
        insta::assert_snapshot!(all);
    }
}
