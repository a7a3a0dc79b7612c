//! The spawning thread held on the CPU it runs on while it clones, so that the child,
//! which inherits that affinity, is placed on the CPU its parent is about to leave idle.
//!
//! The clone keeps the spawning thread asleep until the child has exec'd (`spawn`,
//! `CLONE_VFORK`), or until it has done every step before the exec (`launch`). Left to
//! itself, the scheduler places a new child on the least busy CPU at the moment
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
//! online CPU (as `/sys/devices/system/cpu/online` lists them); under a narrower affinity
//! (a `taskset`, or a cpuset narrower than the machine, which cannot be told apart from
//! here) it is left alone. A hold is ended only while it is still in place: an operator's
//! `taskset -p` of the thread meanwhile stands. And it is taken only from Linux 6.6 on:
//! earlier kernels changed twice how a request is kept, and on some of them the mask of
//! every CPU was cut to the CPUs online at the call, so a service would not have followed
//! a CPU added later.
#![allow(unsafe_code)]

use std::sync::OnceLock;

/// The thread is held on one CPU until this is dropped, or until the child it clones
/// lets it go.
pub(crate) struct Pinned {
    /// The held thread, for the child to let go as soon as it runs.
    tid: libc::pid_t,
    /// The one CPU it is held on.
    cpu: usize,
    /// Where the hold ends: the mask of every CPU, made before the clone.
    every: &'static libc::cpu_set_t,
}

/// A mask of every CPU the kernel can name.
fn every_cpu() -> &'static libc::cpu_set_t {
    static EVERY: OnceLock<libc::cpu_set_t> = OnceLock::new();
    EVERY.get_or_init(|| {
        // SAFETY: a plain value of this frame; the macro only sets its bits, each below
        // the set's size.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for cpu in 0..libc::CPU_SETSIZE as usize {
                libc::CPU_SET(cpu, &mut set);
            }
            set
        }
    })
}

/// The CPUs of a kernel CPU list such as `0-3,8,10-11`; `None` when it does not parse.
fn cpu_list(text: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (from.parse::<usize>().ok()?, to.parse::<usize>().ok()?);
                if from > to {
                    return None;
                }
                cpus.extend(from..=to);
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    Some(cpus)
}

impl Pinned {
    /// Holds the calling thread on its current CPU, when it may run on every online CPU,
    /// there are at least two, and the kernel fits (see the module's notes); `None` (and
    /// nothing changed) otherwise or on any refusal.
    pub fn here() -> Option<Pinned> {
        static FITS: OnceLock<bool> = OnceLock::new();
        let fits = FITS.get_or_init(|| {
            crate::kernel_release::at_least(&crate::kernel_release::running(), (6, 6))
                .unwrap_or(false)
        });
        if !fits {
            return None;
        }
        // SAFETY: plain system calls and bit tests on sets of this frame.
        unsafe {
            let mut now: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            if libc::sched_getaffinity(0, size, &mut now) != 0 {
                return None;
            }
            let allowed = libc::CPU_COUNT(&now) as usize;
            if allowed < 2 {
                return None;
            }
            // Read at each spawn, after the cheaper checks: a CPU may come or go.
            let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
                .ok()
                .and_then(|t| cpu_list(&t))?;
            let everywhere = allowed == online.len()
                && online
                    .iter()
                    .all(|&c| c < libc::CPU_SETSIZE as usize && libc::CPU_ISSET(c, &now));
            if !everywhere {
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
                cpu: cpu as usize,
                every: every_cpu(),
            })
        }
    }

    /// The child's first step: its own hold ended, then the thread's, if it is still
    /// held. The hold is needed only to place the child: held through the exec, the
    /// thread, woken when the child left ward's memory, waited on that CPU while the
    /// program's dynamic loader ran there (about 0.6 ms a spawn), with the other CPU
    /// idle. False when the child's own could not be ended. Async-signal-safe: system
    /// calls only, on memory made before the clone.
    ///
    /// # Safety
    /// Only in the child of the clone this hold was taken for.
    pub(crate) unsafe fn release_in_child(&self) -> bool {
        // SAFETY: `every` lives for the whole process; the thread's tid is its own.
        unsafe {
            if !set_affinity(0, self.every) {
                return false;
            }
            self.release_if_held(self.tid);
        }
        true
    }

    /// Ends the hold of task `tid` (0: the caller) only while it is the one this hold
    /// set, so that an operator's `taskset -p` of the thread meanwhile stands.
    ///
    /// # Safety
    /// Async-signal-safe; `tid` is the held thread or 0 in it.
    unsafe fn release_if_held(&self, tid: libc::pid_t) {
        // SAFETY: plain system calls and bit tests on a set of this frame.
        unsafe {
            let mut now: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut now) == 0
                && libc::CPU_COUNT(&now) == 1
                && libc::CPU_ISSET(self.cpu, &now)
            {
                set_affinity(tid, self.every);
            }
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // SAFETY: the calling thread is the held one.
        unsafe { self.release_if_held(0) }
    }
}

/// `sched_setaffinity` of task `tid` (0: the caller). Async-signal-safe: one system call.
///
/// # Safety
/// `cpus` must point to a valid set.
unsafe fn set_affinity(tid: libc::pid_t, cpus: *const libc::cpu_set_t) -> bool {
    // SAFETY: the caller vouches for the pointer.
    unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), cpus) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_read_as_the_kernel_writes_them() {
        assert_eq!(cpu_list("0-1\n"), Some(vec![0, 1]));
        assert_eq!(cpu_list("0"), Some(vec![0]));
        assert_eq!(cpu_list("0-2,5,7-8"), Some(vec![0, 1, 2, 5, 7, 8]));
        assert_eq!(cpu_list("3-1"), None);
        assert_eq!(cpu_list(""), None);
        assert_eq!(cpu_list("0-x"), None);
    }
}
