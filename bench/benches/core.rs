//! The pure hot paths of the supervising loop: one state-machine step, one verdict, one
//! confidence estimate, and the parse and check of a config of 1,000 services.
// criterion's macros generate public functions without doc comments.
#![allow(missing_docs)]

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ward_core::classify::{ExitReport, OomEvidence, Outcomes, classify, confidence};
use ward_core::config::{Backoff, KillMode, RestartPolicy, StartLimit};
use ward_core::machine::{Event, Params, ServiceMachine};
use ward_core::{ExitStatus, Signal};

fn params() -> Params {
    Params {
        restart: RestartPolicy::Always,
        backoff: Backoff {
            initial: Duration::ZERO,
            ..Backoff::default()
        },
        min_uptime: Duration::from_secs(1),
        start_limit: StartLimit {
            burst: u32::MAX,
            interval: Duration::from_secs(60),
        },
        stop_signal: Signal::TERM,
        stop_timeout: Duration::from_secs(10),
        kill_mode: KillMode::Tree,
        oneshot: false,
        success: Default::default(),
    }
}

/// A crash and its restart: the two steps the loop takes between a SIGCHLD and the fork.
fn machine_step(c: &mut Criterion) {
    let mut m = ServiceMachine::new(params(), 7);
    let mut now = Duration::from_secs(1);
    m.handle(Event::Start, now);
    let mut pid = 100;
    m.handle(Event::Spawned { pid }, now);
    c.bench_function("machine/crash_and_restart", |b| {
        b.iter(|| {
            now += Duration::from_secs(2);
            let a = m.handle(
                Event::Exited(ExitStatus::Signaled {
                    signal: Signal::KILL,
                    core_dumped: false,
                }),
                now,
            );
            pid += 1;
            let b2 = m.handle(Event::Spawned { pid }, now);
            std::hint::black_box((a, b2))
        })
    });
}

fn classifier(c: &mut Criterion) {
    let mut oom = ExitReport::of(
        ExitStatus::Signaled {
            signal: Signal::KILL,
            core_dumped: false,
        },
        Duration::from_secs(3600),
    );
    oom.oom = OomEvidence::Strong(
        "the service's memory cgroup counted 1 OOM kill(s) during the run".into(),
    );
    oom.peak_memory = Some(498 << 20);
    oom.memory_limit = Some(512 << 20);
    oom.dependents = vec!["api".into(), "worker".into()];
    c.bench_function("classify/oom_kill_with_dependents", |b| {
        b.iter(|| std::hint::black_box(classify(std::hint::black_box(&oom))))
    });
    let segv = ExitReport::of(
        ExitStatus::Signaled {
            signal: Signal::from_number(11).expect("SIGSEGV"),
            core_dumped: true,
        },
        Duration::from_secs(60),
    );
    c.bench_function("classify/segfault", |b| {
        b.iter(|| std::hint::black_box(classify(std::hint::black_box(&segv))))
    });
}

fn confidence_estimate(c: &mut Criterion) {
    let own = Outcomes {
        successes: 5,
        trials: 6,
    };
    let pooled = Outcomes {
        successes: 180,
        trials: 240,
    };
    c.bench_function("confidence/beta_posterior", |b| {
        b.iter(|| {
            std::hint::black_box(confidence(
                std::hint::black_box(own),
                std::hint::black_box(pooled),
            ))
        })
    });
}

fn config_parse(c: &mut Criterion) {
    let text = ward_bench::config_text(1_000);
    let path = Path::new("/etc/ward/ward.toml");
    let parsed = ward_core::config::parse(path, &text).expect("the generated config is valid");
    assert_eq!(parsed.services.len(), 1_000);
    let mut g = c.benchmark_group("config");
    g.sample_size(20);
    g.bench_function("parse_and_check_1000_services", |b| {
        b.iter(|| std::hint::black_box(ward_core::config::parse(path, std::hint::black_box(&text))))
    });
    g.finish();
}

criterion_group!(
    benches,
    machine_step,
    classifier,
    confidence_estimate,
    config_parse
);
criterion_main!(benches);
