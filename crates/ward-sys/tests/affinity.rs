//! The spawning thread is held on its CPU for the clone (`cpu_pin`), by `spawn` and by
//! `launch`; the program must still start with the affinity ward had, never the one CPU,
//! and the thread must be free again after the spawn.

mod common;

use std::io::Read;

use ward_sys::spawn::{launch, spawn};

fn allowed(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list")
        .trim()
        .to_string()
}

/// The CPUs the calling thread may run on, as `/proc` lists them.
fn ours() -> String {
    allowed(&std::fs::read_to_string("/proc/thread-self/status").expect("status"))
}

/// How a test starts its child.
#[derive(Copy, Clone, Debug)]
enum How {
    Spawn,
    Launch,
}

/// The CPUs a program spawned from the calling thread may run on, as it reads them.
fn a_child_s(how: How) -> String {
    let (read, write) = rustix::pipe::pipe().expect("pipe");
    let spec = common::plain(
        &["grep", "Cpus_allowed_list", "/proc/self/status"],
        write,
        Vec::new(),
    );
    let child = match how {
        How::Spawn => spawn(spec).expect("spawn"),
        How::Launch => launch(spec).expect("launch").finish().expect("finish"),
    };
    let mut out = String::new();
    std::fs::File::from(read)
        .read_to_string(&mut out)
        .expect("read");
    let _ = rustix::process::waitpid(
        rustix::process::Pid::from_raw(child.pidfd.pid() as i32),
        rustix::process::WaitOptions::empty(),
    );
    allowed(&out)
}

#[test]
fn a_child_starts_with_the_affinity_of_its_parent_not_the_held_one() {
    let before = ours();
    for how in [How::Spawn, How::Launch] {
        for _ in 0..20 {
            assert_eq!(a_child_s(how), before, "{how:?}");
            // The thread itself is free again.
            assert_eq!(ours(), before, "{how:?}");
        }
    }
}

#[test]
fn a_child_of_a_thread_held_to_one_cpu_by_its_operator_keeps_that_cpu() {
    // As under `taskset -c N`: the hold is not taken and the child inherits the narrow
    // set. N is the first CPU this test may run on, which need not be 0.
    std::thread::spawn(|| {
        let mine = rustix::thread::sched_getaffinity(None).expect("getaffinity");
        let first = (0..rustix::thread::CpuSet::MAX_CPU)
            .find(|&c| mine.is_set(c))
            .expect("a CPU");
        let mut one = rustix::thread::CpuSet::new();
        one.set(first);
        rustix::thread::sched_setaffinity(None, &one).expect("setaffinity");
        for how in [How::Spawn, How::Launch] {
            assert_eq!(a_child_s(how), first.to_string(), "{how:?}");
            assert_eq!(ours(), first.to_string(), "{how:?}");
        }
    })
    .join()
    .expect("thread");
}
