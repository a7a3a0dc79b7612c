//! The `favordynmods` option of the cgroup2 mount: moves into a cgroup without waiting.
//!
//! Every process ward starts joins its cgroups by a write to `cgroup.procs`, and that write
//! takes the kernel's global threadgroup lock for writing. On a default mount the lock
//! first waits for an RCU grace period: 5 to 16 ms measured on the 2-core machine ward is
//! benchmarked on, paid by every start and restart. With `favordynmods` (Linux 6.0+) the
//! same write takes about 0.02 ms; in exchange forks and exits across the whole machine
//! take a slower path through that lock. The option belongs to the hierarchy, not to
//! ward's cgroups, and on recent kernels it stays in effect until reboot, so ward sets it
//! only when the operator asks (`cgroup_favordynmods = true`).
//!
//! Only a cgroup2 mount can change it at run time; a v1 hierarchy refuses option changes on
//! remount, and the kernel command line (`cgroup_favordynmods=true`) is the way there. The
//! lock is global, so on a hybrid machine the v2 mount's option speeds up the v1 moves too.

use std::io;
use std::path::PathBuf;

use crate::cgroup::unescape_mount;

/// What [`favor_dynmods`] found or did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Favor {
    /// The mount already had the option.
    AlreadyOn,
    /// ward turned it on.
    TurnedOn,
}

/// Why the option could not be turned on.
#[derive(Debug, thiserror::Error)]
pub enum FavorError {
    /// No cgroup2 hierarchy is mounted.
    #[error(
        "no cgroup2 hierarchy is mounted; on cgroup v1 boot with `cgroup_favordynmods=true` instead"
    )]
    NoV2,
    /// The kernel refused the change.
    #[error(
        "cannot reconfigure {mount}: {source} (favordynmods needs Linux 6.0 or later and CAP_SYS_ADMIN)"
    )]
    Refused {
        /// The cgroup2 mount point.
        mount: PathBuf,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
}

/// The first cgroup2 mount in `mountinfo`: its mount point and superblock options.
fn v2_mount(mountinfo: &str) -> Option<(PathBuf, Vec<String>)> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut r = right.split(' ');
        if r.next() != Some("cgroup2") {
            return None;
        }
        let point = unescape_mount(left.split(' ').nth(4)?);
        let _source = r.next();
        let options = r.next().unwrap_or("").split(',').map(str::to_string);
        Some((PathBuf::from(point), options.collect()))
    })
}

/// The options to set again when reconfiguring: a reconfiguration of cgroup2 clears every
/// flag it is not given, so `nsdelegate` and friends go with `favordynmods`. `rw`/`ro`
/// belong to the superblock's generic flags, which a reconfiguration leaves alone.
fn keep(options: &[String]) -> impl Iterator<Item = &str> {
    options
        .iter()
        .map(String::as_str)
        .filter(|o| !matches!(*o, "rw" | "ro" | "" | "favordynmods"))
}

/// Whether the cgroup2 mount has `favordynmods` now; `None` without a cgroup2 mount.
pub fn is_on() -> Option<bool> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let (_, options) = v2_mount(&text)?;
    Some(options.iter().any(|o| o == "favordynmods"))
}

/// Turns `favordynmods` on for the cgroup2 mount, keeping its other options.
pub fn favor_dynmods() -> Result<Favor, FavorError> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let (mount, options) = v2_mount(&text).ok_or(FavorError::NoV2)?;
    if options.iter().any(|o| o == "favordynmods") {
        return Ok(Favor::AlreadyOn);
    }
    let refused = |source: rustix::io::Errno| FavorError::Refused {
        mount: mount.clone(),
        source: source.into(),
    };
    use rustix::mount::{
        FsPickFlags, fsconfig_reconfigure, fsconfig_set_flag, fsconfig_set_string, fspick,
    };
    let fd = fspick(rustix::fs::CWD, &mount, FsPickFlags::FSPICK_CLOEXEC).map_err(refused)?;
    for option in keep(&options) {
        match option.split_once('=') {
            Some((key, value)) => fsconfig_set_string(&fd, key, value),
            None => fsconfig_set_flag(&fd, option),
        }
        .map_err(refused)?;
    }
    fsconfig_set_flag(&fd, "favordynmods").map_err(refused)?;
    fsconfig_reconfigure(&fd).map_err(refused)?;
    Ok(Favor::TurnedOn)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
31 25 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[test]
    fn finds_the_v2_mount_and_keeps_its_flags() {
        let (point, options) = v2_mount(HYBRID).expect("v2");
        assert_eq!(point, PathBuf::from("/sys/fs/cgroup/unified"));
        assert_eq!(
            keep(&options).collect::<Vec<_>>(),
            ["nsdelegate", "memory_recursiveprot"]
        );
        let v1_only = HYBRID.lines().next().unwrap_or_default();
        assert_eq!(v2_mount(v1_only), None);
    }

    #[test]
    fn an_option_already_set_is_seen() {
        let on = HYBRID.replace("rw,nsdelegate,", "rw,favordynmods,nsdelegate,");
        let (_, options) = v2_mount(&on).expect("v2");
        assert!(options.iter().any(|o| o == "favordynmods"));
        assert_eq!(keep(&options).collect::<Vec<_>>().len(), 2);
    }
}
