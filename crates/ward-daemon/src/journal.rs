//! What the supervisor tells the journal, and how a crash is named for it.

use ward_core::ExitStatus;
use ward_core::classify::Verdict;
use ward_core::machine::State;
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

/// The crash record of a verdict.
pub(crate) fn crash(unit: &str, pid: Option<u32>, verdict: &Verdict) -> Record {
    Record::Crash {
        unit: unit.to_string(),
        pid,
        at_ms: now_ms(),
        class: verdict.class.as_str().to_string(),
        severity: verdict.severity.as_str().to_string(),
        evidence: verdict.evidence.join("; "),
        evidence_lines: verdict.evidence.clone(),
        summary: verdict.summary.clone(),
        recommendation: verdict.recommendation.clone(),
    }
}

/// The state change, and what ward decided about a failure when the change says so.
pub(crate) fn transition(unit: &str, from: State, to: State) -> Vec<Record> {
    let at_ms = now_ms();
    let mut out = vec![Record::Transition {
        unit: unit.to_string(),
        at_ms,
        from: from.as_str().to_string(),
        to: to.as_str().to_string(),
    }];
    // Restarts are journaled where the machine counts them (see `restart`): with a zero
    // backoff a restart changes no state, or goes straight back to `starting`.
    let recovery = match (from, to) {
        (State::Starting, State::Failed) => Some(("give up: start limit reached", None)),
        // From `stopping`: the stop of a hung run, under `restart = "never"`.
        (State::Running | State::Starting | State::Stopping, State::Exited) => {
            Some(("none: restart policy", None::<std::time::Duration>))
        }
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

/// An automatic restart the machine decided on: after `delay`, or at once.
pub(crate) fn restart(unit: &str, delay: Option<std::time::Duration>) -> Record {
    Record::Recovery {
        unit: unit.to_string(),
        at_ms: now_ms(),
        action: "restart".to_string(),
        delay_ms: Some(delay.unwrap_or_default().as_millis() as u64),
    }
}

/// A control request and how it ended, in one line.
pub(crate) fn action(who: &str, what: &str, targets: &[String], answer: &Reply) -> Record {
    let result = match answer {
        Ok(answer) => match answer.value().get("results").and_then(|r| r.as_array()) {
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

    #[test]
    fn recoveries_follow_transitions() {
        // A restart is journaled where the machine counts it, not from the state change.
        assert_eq!(transition("w", State::Running, State::Backoff).len(), 1);
        let recs = transition("w", State::Stopping, State::Exited);
        assert!(
            matches!(&recs[1], Record::Recovery { action, .. } if action == "none: restart policy")
        );
        let recs = transition("w", State::Starting, State::Failed);
        assert!(
            matches!(&recs[1], Record::Recovery { action, .. } if action.starts_with("give up"))
        );
        assert!(matches!(
            restart("w", Some(std::time::Duration::from_millis(200))),
            Record::Recovery {
                delay_ms: Some(200),
                ..
            }
        ));
        assert!(matches!(
            restart("w", None),
            Record::Recovery {
                delay_ms: Some(0),
                ..
            }
        ));
    }
}
