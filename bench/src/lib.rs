//! Shared setup for ward's benchmarks (`cargo bench -p ward-bench`).

use ward_store::Record;

/// A record shaped like the ones a crash loop writes most: a state change.
pub fn transition(i: i64) -> Record {
    Record::Transition {
        unit: format!("svc{}", i % 16),
        at_ms: i,
        from: "running".into(),
        to: "backoff".into(),
    }
}
