//! The spawning thread held on the CPU it runs on while it clones, so that the child,
//! which inherits that affinity, is placed on the CPU its parent is about to leave idle.
//!
//! The clone (`CLONE_VFORK`) keeps the spawning thread asleep until the child has exec'd.
//! Left to itself, the scheduler places a new child on the least busy CPU at the moment
//! of the clone, which is rarely the parent's own, since the parent is running there; on
//! a machine busy with the programs just started, the child then waits behind them while
//! the parent's CPU idles. `perf trace` put a clone at 1.5 ms from the parent's side
//! during a start of 500 units, of which the child's own work was about 0.25 ms. The
//! child puts the original affinity back as its first step, before anything of the
//! program can see it.
#![allow(unsafe_code)]

/// The thread's affinity before it was held, put back when dropped.
pub(crate) struct Pinned {
    original: libc::cpu_set_t,
}

impl Pinned {
    /// Holds the calling thread on its current CPU, if it may run on more than one;
    /// `None` (and nothing changed) otherwise or on any refusal.
    pub fn here() -> Option<Pinned> {
        // SAFETY: plain system calls on sets of this frame.
        unsafe {
            let mut original: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            if libc::sched_getaffinity(0, size, &mut original) != 0
                || libc::CPU_COUNT(&original) < 2
            {
                return None;
            }
            let cpu = libc::sched_getcpu();
            if cpu < 0 || !libc::CPU_ISSET(cpu as usize, &original) {
                return None;
            }
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu as usize, &mut one);
            (libc::sched_setaffinity(0, size, &one) == 0).then_some(Pinned { original })
        }
    }

    /// The affinity to put back, for the child.
    pub fn original(&self) -> *const libc::cpu_set_t {
        &self.original
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // SAFETY: the set read in `here`, of this value.
        unsafe {
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &self.original);
        }
    }
}

/// Puts back the affinity the parent had, in the child. Async-signal-safe.
///
/// # Safety
/// `original` must point to a set that stays valid (the parent's, asleep until the exec).
pub(crate) unsafe fn restore(original: *const libc::cpu_set_t) -> bool {
    // SAFETY: the caller vouches for the pointer.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), original) == 0 }
}
