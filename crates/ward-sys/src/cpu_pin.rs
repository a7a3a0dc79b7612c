//! The spawning thread held on the CPU it runs on while it clones, so that the child,
//! which inherits that affinity, is placed on the CPU its parent is about to leave idle.
//!
//! The clone (`CLONE_VFORK`) keeps the spawning thread asleep until the child has exec'd.
//! Left to itself, the scheduler places a new child on the least busy CPU at the moment
//! of the clone, which is rarely the parent's own, since the parent is running there; on
//! a machine busy with the programs just started, the child then waits behind them while
//! the parent's CPU idles. `perf trace` put a clone at 1.5 ms from the parent's side
//! during a start of 500 units, of which the child's own work was about 0.25 ms.
//!
//! How the hold ends matters more than how it starts. Since Linux 6.2 `sched_setaffinity`
//! also records its mask as the task's own request: forks copy it, and every later
//! change of the task's cpuset is intersected with it. Putting back the mask read before
//! the hold would record it as a request, and a service would keep the CPUs ward had at
//! its spawn when its cpuset grew. The hold therefore ends, in the child as its first
//! step and in the thread after the clone, with the mask of every CPU: intersected with
//! any cpuset, it gives the cpuset's own CPUs, which is what a task that never asked
//! gets. That is right only when ward itself made no narrower request (`taskset`) that
//! its services should inherit, so the thread is held only when it may run on every
//! online CPU; under a narrower affinity (a `taskset`, or a cpuset narrower than the
//! machine, which cannot be told apart from here) it is left alone.
#![allow(unsafe_code)]

use std::sync::OnceLock;

/// The thread is held on one CPU until this is dropped, or until the child it clones
/// lets it go.
pub(crate) struct Pinned {
    /// The held thread, for the child to let go as soon as it runs.
    tid: libc::pid_t,
}

/// A mask of every CPU the kernel can name.
fn every_cpu() -> &'static libc::cpu_set_t {
    static EVERY: OnceLock<SetOfCpus> = OnceLock::new();
    &EVERY
        .get_or_init(|| {
            // SAFETY: a plain value of this frame; the macro only sets its bits, each
            // below the set's size.
            unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                for cpu in 0..libc::CPU_SETSIZE as usize {
                    libc::CPU_SET(cpu, &mut set);
                }
                SetOfCpus(set)
            }
        })
        .0
}

/// `cpu_set_t` is plain bits, shared read-only once made.
struct SetOfCpus(libc::cpu_set_t);
// SAFETY: the set is never written after `every_cpu` made it.
unsafe impl Sync for SetOfCpus {}
// SAFETY: plain bits, owned.
unsafe impl Send for SetOfCpus {}

impl Pinned {
    /// Holds the calling thread on its current CPU, when it may run on every online CPU
    /// and there are at least two; `None` (and nothing changed) otherwise or on any
    /// refusal.
    pub fn here() -> Option<Pinned> {
        // SAFETY: plain system calls on sets of this frame.
        unsafe {
            let mut now: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            if libc::sched_getaffinity(0, size, &mut now) != 0 {
                return None;
            }
            let allowed = libc::CPU_COUNT(&now) as libc::c_long;
            if allowed < 2 || allowed != libc::sysconf(libc::_SC_NPROCESSORS_ONLN) {
                return None;
            }
            let cpu = libc::sched_getcpu();
            if cpu < 0 || !libc::CPU_ISSET(cpu as usize, &now) {
                return None;
            }
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu as usize, &mut one);
            (libc::sched_setaffinity(0, size, &one) == 0).then(|| Pinned {
                tid: libc::gettid(),
            })
        }
    }

    /// The mask the child takes as its first step.
    pub fn release_to(&self) -> *const libc::cpu_set_t {
        every_cpu()
    }

    /// The held thread, which the child lets go right after itself: the hold is needed
    /// only to place the child. Held through the exec, the thread, woken when the child
    /// leaves ward's memory, waited on the same CPU while the program's own start ran
    /// there (`perf sched`: 0.7 ms of a dynamic loader per spawn), with the other CPU
    /// idle.
    pub fn thread(&self) -> libc::pid_t {
        self.tid
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // SAFETY: a set that lives for the whole process.
        unsafe {
            release(every_cpu());
        }
    }
}

/// Ends the hold of the calling task (the child's first step, or the thread's after the
/// clone). Async-signal-safe: one system call.
///
/// # Safety
/// `cpus` must point to a valid set.
pub(crate) unsafe fn release(cpus: *const libc::cpu_set_t) -> bool {
    // SAFETY: the caller vouches for the pointer.
    unsafe { release_task(0, cpus) }
}

/// Ends the hold of task `tid` (0: the caller). Async-signal-safe: one system call.
///
/// # Safety
/// `cpus` must point to a valid set.
pub(crate) unsafe fn release_task(tid: libc::pid_t, cpus: *const libc::cpu_set_t) -> bool {
    // SAFETY: the caller vouches for the pointer.
    unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), cpus) == 0 }
}
