//! The capture task against real FIFOs and the real log writer.

use std::io::Write;
use std::path::Path;

use super::*;
use crate::logs::LogWriter;

/// A unit's FIFOs: ward's read ends, and the service's write ends as files.
fn fifos(dir: &Path, name: &str) -> (OwnedFd, OwnedFd, File, File) {
    let (out, err) = (
        dir.join(format!("{name}.out")),
        dir.join(format!("{name}.err")),
    );
    (
        ward_sys::fifo::open_reader(&out).expect("out reader"),
        ward_sys::fifo::open_reader(&err).expect("err reader"),
        File::from(ward_sys::fifo::open_writer(&out).expect("out writer")),
        File::from(ward_sys::fifo::open_writer(&err).expect("err writer")),
    )
}

/// The log's lines without their timestamps.
fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l[timestamp::LEN..].to_string())
        .collect()
}

/// Waits, with a deadline, until `path` holds `want` lines after stamps.
async fn wait_for(logs: &LogWriter, path: &Path, want: &[&str]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        logs.sync();
        let got = lines(path);
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} holds {got:?}, not {want:?}",
            path.display()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn many_units_are_captured_by_one_task_and_a_drain_completes_their_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut logs = LogWriter::start(false).expect("writer");
    let captures = Captures::start(logs.sink()).expect("captures");
    // More units than one look at the epoll set returns, all with output waiting.
    let mut units = Vec::new();
    for i in 0..100 {
        let (out_r, err_r, mut out_w, mut err_w) = fifos(dir.path(), &format!("s{i}"));
        let log = logs.open(dir.path().join(format!("s{i}.log")), 1 << 20, 1);
        writeln!(out_w, "hello from {i}").expect("write out");
        write!(err_w, "partial {i}").expect("write err");
        captures.watch(out_r, err_r, log.clone());
        units.push((log, out_w, err_w));
    }
    for (i, (log, _, _)) in units.iter().enumerate() {
        wait_for(&logs, log.path(), &[&format!(" out hello from {i}")]).await;
    }
    // A line finished by a later write is one line.
    writeln!(units[7].2, " and its end").expect("write err");
    wait_for(
        &logs,
        units[7].0.path(),
        &[" out hello from 7", " err partial 7 and its end"],
    )
    .await;
    // The drain writes what waits in the pipes and completes the partial lines.
    writeln!(units[3].1, "last words").expect("write out");
    captures.drain().await;
    wait_for(
        &logs,
        units[3].0.path(),
        &[" out hello from 3", " out last words", " err partial 3"],
    )
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_forgotten_unit_keeps_what_it_wrote_and_is_read_no_more() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut logs = LogWriter::start(false).expect("writer");
    let captures = Captures::start(logs.sink()).expect("captures");
    let (a_out, a_err, mut a_w, _a_e) = fifos(dir.path(), "a");
    let (b_out, b_err, mut b_w, _b_e) = fifos(dir.path(), "b");
    let a = logs.open(dir.path().join("a.log"), 1 << 20, 1);
    let b = logs.open(dir.path().join("b.log"), 1 << 20, 1);
    captures.watch(a_out, a_err, a.clone());
    captures.watch(b_out, b_err, b.clone());
    write!(a_w, "before").expect("write");
    captures.forget(a.clone());
    wait_for(&logs, a.path(), &[" out before"]).await;
    // Its pipe is no longer read; the other unit's still is.
    writeln!(a_w, "after").expect("write");
    writeln!(b_w, "still read").expect("write");
    wait_for(&logs, b.path(), &[" out still read"]).await;
    captures.drain().await;
    logs.sync();
    assert_eq!(lines(a.path()), [" out before"]);
}

#[tokio::test(flavor = "current_thread")]
async fn pipes_watched_again_are_read_beside_the_old_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut logs = LogWriter::start(false).expect("writer");
    let captures = Captures::start(logs.sink()).expect("captures");
    let log = logs.open(dir.path().join("a.log"), 1 << 20, 1);
    let (out, err, mut old, _old_err) = fifos(dir.path(), "a");
    captures.watch(out, err, log.clone());
    // Its FIFOs were deleted and made again: a service still running writes on into the
    // old pipe, and a new run into the new one.
    std::fs::remove_file(dir.path().join("a.out")).expect("rm fifo");
    std::fs::remove_file(dir.path().join("a.err")).expect("rm fifo");
    let (out, err, mut new, _new_err) = fifos(dir.path(), "a");
    captures.watch(out, err, log.clone());
    writeln!(old, "old run").expect("write");
    wait_for(&logs, log.path(), &[" out old run"]).await;
    writeln!(new, "new run").expect("write");
    wait_for(&logs, log.path(), &[" out old run", " out new run"]).await;
}
