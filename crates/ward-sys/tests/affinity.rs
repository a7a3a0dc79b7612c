//! The spawning thread is held on its CPU for the clone (`cpu_pin`); the program must
//! still start with the affinity ward had, never the one CPU.

mod common;

use std::io::Read;

use ward_sys::spawn::spawn;

fn allowed(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list")
        .trim()
        .to_string()
}

#[test]
fn a_child_starts_with_the_affinity_of_its_parent_not_the_held_one() {
    let ours = allowed(&std::fs::read_to_string("/proc/thread-self/status").expect("status"));
    for _ in 0..20 {
        let (read, write) = rustix::pipe::pipe().expect("pipe");
        let child = spawn(common::plain(
            &["grep", "Cpus_allowed_list", "/proc/self/status"],
            write,
            Vec::new(),
        ))
        .expect("spawn");
        let mut out = String::new();
        std::fs::File::from(read)
            .read_to_string(&mut out)
            .expect("read");
        let _ = rustix::process::waitpid(
            rustix::process::Pid::from_raw(child.pidfd.pid() as i32),
            rustix::process::WaitOptions::empty(),
        );
        assert_eq!(allowed(&out), ours, "{out}");
        // The thread itself is free again.
        let now = allowed(&std::fs::read_to_string("/proc/thread-self/status").expect("status"));
        assert_eq!(now, ours);
    }
}

#[test]
fn a_child_of_a_thread_held_to_one_cpu_by_its_operator_keeps_that_cpu() {
    // As under `taskset -c 0`: the hold is not taken and the child inherits the narrow set.
    std::thread::spawn(|| {
        let mut one = rustix::thread::CpuSet::new();
        one.set(0);
        rustix::thread::sched_setaffinity(None, &one).expect("setaffinity");
        let (read, write) = rustix::pipe::pipe().expect("pipe");
        let child = spawn(common::plain(
            &["grep", "Cpus_allowed_list", "/proc/self/status"],
            write,
            Vec::new(),
        ))
        .expect("spawn");
        let mut out = String::new();
        std::fs::File::from(read)
            .read_to_string(&mut out)
            .expect("read");
        let _ = rustix::process::waitpid(
            rustix::process::Pid::from_raw(child.pidfd.pid() as i32),
            rustix::process::WaitOptions::empty(),
        );
        assert_eq!(allowed(&out), "0", "{out}");
        let now = allowed(&std::fs::read_to_string("/proc/thread-self/status").expect("status"));
        assert_eq!(now, "0");
    })
    .join()
    .expect("thread");
}
