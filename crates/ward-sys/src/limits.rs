//! The daemon's own file-descriptor limit: every unit holds two pipes, so thousands of
//! units need more than the customary soft limit of 1024.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// A soft/hard pair, as `getrlimit` reports it (`None` = unlimited).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Soft limit.
    pub soft: Option<u64>,
    /// Hard limit.
    pub hard: Option<u64>,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the limit as it was, so
/// that children can be given the original back.
pub fn raise_nofile() -> Limit {
    let before = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: before.maximum,
            maximum: before.maximum,
        },
    );
    Limit {
        soft: before.current,
        hard: before.maximum,
    }
}

/// Makes room for `needed` descriptors: the soft limit goes up to the hard one, and, when
/// that is not enough, both go up to `needed` where this process may raise its hard limit
/// (root, up to `/proc/sys/fs/nr_open`). Returns the limit as it was, for children, or
/// the most this process could have.
pub fn ensure_nofile(needed: u64) -> Result<Limit, u64> {
    let before = raise_nofile();
    let hard = before.hard.unwrap_or(u64::MAX);
    if needed <= hard {
        return Ok(before);
    }
    let raised = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(needed),
            maximum: Some(needed),
        },
    );
    match raised {
        Ok(()) => Ok(before),
        Err(_) => Err(hard),
    }
}

/// Whether this process could have `needed` descriptors, without changing its limits: a
/// hard limit that is too low is raised and set back at once (lowering is always
/// allowed). `Err` holds the most it could have.
pub fn could_fit_nofile(needed: u64) -> Result<(), u64> {
    let now = getrlimit(Resource::Nofile);
    let hard = now.maximum.unwrap_or(u64::MAX);
    if needed <= hard {
        return Ok(());
    }
    let trial = Rlimit {
        current: now.current,
        maximum: Some(needed),
    };
    if setrlimit(Resource::Nofile, trial).is_err() {
        return Err(hard);
    }
    let _ = setrlimit(Resource::Nofile, now);
    Ok(())
}

/// Grows this process's table of descriptors to hold `count` of them, as the daemon
/// does before it starts any thread. The kernel grows the table by doubling as
/// descriptors are opened, and in a process of more than one thread every growth waits
/// for an RCU grace period (`expand_fdtable`): three waits of 8 to 25 ms each over a
/// start of 500 units on a busy two-core machine. Grown while the process has
/// one thread, the table waits for none. The table costs 8 bytes a slot, allocated
/// anyway as the units start. Capped at the soft limit; a table that cannot grow is
/// left as it is, since that only costs the waits.
pub fn grow_descriptor_table(count: u64) {
    let soft = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    let highest = count.min(soft).saturating_sub(1);
    let Ok(highest) = i32::try_from(highest) else {
        return;
    };
    if highest < 64 {
        // The table a process starts with.
        return;
    }
    let Ok(root) = rustix::fs::open(
        "/",
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) else {
        return;
    };
    // Dropped at once: only the table's size stays.
    let _ = rustix::io::fcntl_dupfd_cloexec(&root, highest);
}

/// Limits a service asks for, each applied in the child before exec: the config's own type.
pub use ward_core::config::Rlimits;

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of this process's table of descriptors, as `/proc/self/status` says
    /// (`FDSize`).
    fn descriptor_table_size() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("FDSize:"))
            .and_then(|v| v.trim().parse().ok())
    }

    #[test]
    fn the_table_grows_to_the_count_and_keeps_no_descriptor() {
        let soft = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
        let count = soft.min(2048);
        grow_descriptor_table(count);
        let size = descriptor_table_size().expect("FDSize in /proc/self/status");
        assert!(size >= count, "table of {size} slots, asked for {count}");
        // The slot that grew it is free again.
        let highest = count - 1;
        assert!(
            std::fs::symlink_metadata(format!("/proc/self/fd/{highest}")).is_err(),
            "descriptor {highest} left open"
        );
    }
}
