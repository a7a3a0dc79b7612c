//! What the supervisor tells the journal, and how a crash is named for it.

use ward_core::ExitStatus;
use ward_core::classify::Verdict;
use ward_core::machine::{Recovery, State};
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

/// A state change.
pub(crate) fn transition(unit: &str, from: State, to: State) -> Record {
    Record::Transition {
        unit: unit.to_string(),
        at_ms: now_ms(),
        from: from.as_str().to_string(),
        to: to.as_str().to_string(),
    }
}

/// What the machine decided about an end no one asked for, in its own words.
pub(crate) fn recovery(unit: &str, recovery: Recovery) -> Record {
    Record::Recovery {
        unit: unit.to_string(),
        at_ms: now_ms(),
        action: recovery.as_str().to_string(),
        delay_ms: recovery.delay().map(|d| d.as_millis() as u64),
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
    use ward_core::machine::GiveUpReason;

    #[test]
    fn recoveries_are_journaled_in_the_machines_words() {
        let rec = recovery(
            "w",
            Recovery::Restart {
                delay: std::time::Duration::from_millis(200),
            },
        );
        assert!(matches!(
            rec,
            Record::Recovery { ref action, delay_ms: Some(200), .. } if action == "restart"
        ));
        let rec = recovery(
            "w",
            Recovery::Restart {
                delay: std::time::Duration::ZERO,
            },
        );
        assert!(matches!(
            rec,
            Record::Recovery {
                delay_ms: Some(0),
                ..
            }
        ));
        let rec = recovery("w", Recovery::GaveUp(GiveUpReason::RestoreFailed));
        assert!(matches!(
            rec,
            Record::Recovery { ref action, delay_ms: None, .. }
                if action == "give up: the data restore did not work"
        ));
        assert!(matches!(
            transition("w", State::Running, State::Backoff),
            Record::Transition { ref from, ref to, .. } if from == "running" && to == "backoff"
        ));
    }
}
