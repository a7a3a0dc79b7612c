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

/// Limits a service asks for, each applied in the child before exec: the config's own type.
pub use ward_core::config::Rlimits;
