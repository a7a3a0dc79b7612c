//! The journal's costs: what the supervising loop pays per record (journal on versus off),
//! how many records per second the writer commits, and how long from a record to its
//! commit on an idle journal.
// criterion's macros generate public functions without doc comments.
#![allow(missing_docs)]

use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ward_bench::transition;
use ward_store::Journal;

fn journal() -> (tempfile::TempDir, Journal) {
    let dir = tempfile::tempdir().expect("temp dir");
    let j = Journal::open(&dir.path().join("journal.db")).expect("journal");
    (dir, j)
}

/// The supervising loop's added latency per event: one `record` call (a queue send), next
/// to the same loop without the journal.
fn added_latency(c: &mut Criterion) {
    let (_dir, j) = journal();
    let mut g = c.benchmark_group("event_cost");
    let mut i = 0;
    g.bench_function("journal_off", |b| {
        b.iter(|| {
            i += 1;
            std::hint::black_box(transition(i))
        })
    });
    g.bench_function("journal_on", |b| {
        b.iter_custom(|iters| {
            // Timed in chunks the queue holds; the writer catches up, untimed, in between,
            // as it does between bursts of real events.
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(4_096);
                let start = Instant::now();
                for _ in 0..n {
                    i += 1;
                    j.record(transition(i));
                }
                total += start.elapsed();
                j.sync();
                left -= n;
            }
            total
        })
    });
    g.finish();
    assert_eq!(j.dropped(), 0, "the queue overflowed during the benchmark");
}

/// Records per second the writer sustains: 50,000 queued as fast as possible, then waited
/// for until committed.
fn throughput(c: &mut Criterion) {
    const N: i64 = 50_000;
    let (_dir, j) = journal();
    let mut g = c.benchmark_group("writer");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    g.bench_function("commit_50k_records", |b| {
        b.iter(|| {
            for i in 0..N {
                // Stay under the queue's capacity: block-free senders would drop.
                if i % 8_192 == 0 {
                    j.sync();
                }
                j.record(transition(i));
            }
            j.sync();
        })
    });
    g.finish();
}

/// From a record to its commit (fsync included) on an idle journal: the bound on how long
/// an acknowledged answer waits.
fn commit_latency(c: &mut Criterion) {
    let (_dir, j) = journal();
    let mut g = c.benchmark_group("commit_latency");
    g.sample_size(50);
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("one_record_idle_journal", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let (tx, rx) = mpsc::channel();
                let start = Instant::now();
                j.record_then(transition(i as i64), move |ok| {
                    let _ = tx.send(ok);
                });
                assert!(rx.recv().expect("answer"), "commit failed");
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, added_latency, throughput, commit_latency);
criterion_main!(benches);
