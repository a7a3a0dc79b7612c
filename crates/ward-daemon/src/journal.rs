//! What the supervisor tells the journal, and how a crash is named for it.

use ward_core::ExitStatus;
use ward_core::machine::{SpawnFailure, State};
use ward_store::{ExitRecord, Record, now_ms};

use crate::requests::Reply;

/// The journal's view of an exit status.
pub(crate) fn exit_record(status: ExitStatus) -> ExitRecord {
    ExitRecord {
        description: status.to_string(),
        code: status.code(),
        signal: status.signal().map(|s| s.name()),
        core_dumped: status.core_dumped(),
    }
}

/// The crash record for a main process that ended while the unit was meant to run
/// (`before` is the state it was in), or `None` for an end nobody need explain: a clean
/// exit after a good run, or any end during a stop.
pub(crate) fn crash(unit: &str, pid: u32, status: ExitStatus, before: State) -> Option<Record> {
    let failed_start = before == State::Starting;
    if !matches!(before, State::Running | State::Starting) || (status.is_clean() && !failed_start) {
        return None;
    }
    let (class, severity) = match status {
        ExitStatus::Signaled {
            core_dumped: true, ..
        } => ("core dump", "critical"),
        ExitStatus::Signaled { .. } => ("signal", "error"),
        ExitStatus::Exited(_) => ("exit code", "error"),
        ExitStatus::Unknown => ("unknown", "error"),
    };
    let mut evidence = status.to_string();
    if failed_start {
        evidence.push_str(", before min_uptime (a failed start)");
    }
    Some(Record::Crash {
        unit: unit.to_string(),
        pid: Some(pid),
        at_ms: now_ms(),
        class: class.to_string(),
        severity: severity.to_string(),
        evidence,
    })
}

/// The crash record for a spawn that produced no process.
pub(crate) fn exec_failure(unit: &str, failure: &SpawnFailure) -> Record {
    Record::Crash {
        unit: unit.to_string(),
        pid: None,
        at_ms: now_ms(),
        class: "exec failure".to_string(),
        severity: "error".to_string(),
        evidence: failure.to_string(),
    }
}

/// The state change, and what ward decided about a failure when the change says so.
pub(crate) fn transition(
    unit: &str,
    from: State,
    to: State,
    backoff: Option<std::time::Duration>,
) -> Vec<Record> {
    let at_ms = now_ms();
    let mut out = vec![Record::Transition {
        unit: unit.to_string(),
        at_ms,
        from: from.as_str().to_string(),
        to: to.as_str().to_string(),
    }];
    let recovery = match (from, to) {
        (State::Running | State::Starting, State::Backoff) => Some(("restart", backoff)),
        (_, State::Failed) => Some(("give up: start limit reached", None)),
        (State::Running | State::Starting, State::Exited) => Some(("none: restart policy", None)),
        _ => None,
    };
    if let Some((action, delay)) = recovery {
        out.push(Record::Recovery {
            unit: unit.to_string(),
            at_ms,
            action: action.to_string(),
            delay_ms: delay.map(|d| d.as_millis() as u64),
        });
    }
    out
}

/// A control request and how it ended, in one line.
pub(crate) fn action(who: &str, what: &str, targets: &[String], answer: &Reply) -> Record {
    let result = match answer {
        Ok(value) => match value.get("results").and_then(|r| r.as_array()) {
            Some(results) => results
                .iter()
                .map(|r| {
                    format!(
                        "{}: {}",
                        r["name"].as_str().unwrap_or("?"),
                        r["message"].as_str().unwrap_or("?")
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            None => "ok".to_string(),
        },
        Err(e) => format!("refused ({}): {}", e.status, e.body.error),
    };
    Record::Action {
        at_ms: now_ms(),
        who: who.to_string(),
        what: what.to_string(),
        targets: targets.join(","),
        result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_core::Signal;

    #[test]
    fn what_counts_as_a_crash() {
        let segv = ExitStatus::Signaled {
            signal: Signal::from_number(11).unwrap(),
            core_dumped: true,
        };
        let Some(Record::Crash {
            class, severity, ..
        }) = crash("w", 1, segv, State::Running)
        else {
            panic!("a segfault is a crash");
        };
        assert_eq!(
            (class.as_str(), severity.as_str()),
            ("core dump", "critical")
        );
        assert!(crash("w", 1, ExitStatus::Exited(0), State::Running).is_none());
        assert!(crash("w", 1, ExitStatus::Exited(0), State::Starting).is_some());
        assert!(crash("w", 1, ExitStatus::Exited(1), State::Stopping).is_none());
        let recs = transition(
            "w",
            State::Running,
            State::Backoff,
            Some(std::time::Duration::from_millis(200)),
        );
        assert!(matches!(
            &recs[1],
            Record::Recovery {
                delay_ms: Some(200),
                ..
            }
        ));
    }
}
