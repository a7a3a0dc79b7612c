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

/// A `ward.toml` with `n` services, each with the keys a real one sets (restart policy,
/// backoff, limits, a health check, a dependency on the one before).
pub fn config_text(n: usize) -> String {
    let mut text = String::from("[supervisor]\nlog_max_size = \"10MiB\"\n");
    for i in 0..n {
        text.push_str(&format!(
            "[services.svc{i}]\ncommand = [\"/usr/bin/app\", \"--port\", \"{port}\"]\n\
             restart = \"on-failure\"\nbackoff = {{ initial = \"100ms\", max = \"30s\" }}\n\
             memory_max = \"512MiB\"\nenv = {{ RUST_LOG = \"info\" }}\n\
             health = {{ tcp = \"127.0.0.1:{port}\", interval = \"5s\" }}\n{deps}",
            port = 10_000 + i,
            deps = if i > 0 {
                format!("depends_on = [\"svc{}\"]\n", i - 1)
            } else {
                String::new()
            },
        ));
    }
    text
}
