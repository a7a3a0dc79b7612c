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

/// Limits a service asks for, each applied in the child before exec: the config's own type.
pub use ward_core::config::Rlimits;
