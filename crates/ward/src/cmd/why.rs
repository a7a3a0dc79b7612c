//! `ward why NAME [--run N] [--json]`: why the last (or the Nth last) run ended, on one
//! screen. What it shows is built by `ward_daemon::why`, which `GET /v1/why` answers with
//! too; here it is asked for and printed.

use std::time::{Duration, UNIX_EPOCH};

use ward_api::{StatusResponse, timestamp};
use ward_core::config::SupervisorConfig;
use ward_core::duration::format_duration;
use ward_daemon::why::Why;

use crate::client::{self, Method, Timeout};
use crate::exit::{FAILED, Failure, OK};
use crate::out::{self, outln};

pub fn why(
    sup: &SupervisorConfig,
    min_uptime: Duration,
    name: &str,
    run: Option<u32>,
    json: bool,
    timeout: Timeout,
) -> Result<i32, Failure> {
    let journal = sup.journal();
    if let Some(n) = run {
        client::settle_journal(sup);
        let why =
            ward_daemon::why::from_journal(&journal, &sup.log_file(name), min_uptime, name, n)
                .map_err(Failure::Usage)?;
        return show(&why, json);
    }
    let status: StatusResponse =
        client::call(&sup.socket, Method::<()>::Get("/v1/status"), timeout)?;
    let Some(s) = status.services.into_iter().find(|s| s.name == name) else {
        return Err(Failure::Usage(format!(
            "no unit named `{name}`\n  hint: name one unit; `ward status` lists them"
        )));
    };
    let state = s.state;
    // What the daemon journaled before it answered (this end's crash, its recovery) is
    // committed before the journal is read: the journal writer may hold records briefly.
    client::settle_journal(sup);
    let Some(why) = ward_daemon::why::of_status(&journal, min_uptime, s) else {
        if json {
            let none = serde_json::json!({ "name": name, "state": state, "class": null });
            out::json(&none)?;
        } else {
            outln!("{name}: no run of it has ended since the daemon started ({state})")?;
        }
        return Ok(OK);
    };
    show(&why, json)
}

/// Prints the verdict; the exit status says whether it was a crash.
fn show(why: &Why, json: bool) -> Result<i32, Failure> {
    if json {
        out::json(why)?;
    } else {
        out::print(&render(why))?;
    }
    Ok(if why.is_crash() { FAILED } else { OK })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use ward_api::UnitStats;
    use ward_core::classify::{ExitReport, OomEvidence, classify};
    use ward_core::{ExitStatus, Signal};
    use ward_daemon::why::ConfidenceJson;

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
                stats: (i == 0).then(|| UnitStats {
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
