//! What the spawn tests share: a plain spec for a command.

use std::os::fd::OwnedFd;

use ward_sys::spawn::{CgroupJoin, SpawnSpec};

/// `argv` on the default `PATH` in `/`, stdin and stderr on `/dev/null`, killed if the
/// test dies, with nothing else asked for.
pub fn plain(argv: &[&str], stdout: OwnedFd, cgroups: Vec<CgroupJoin>) -> SpawnSpec {
    let null = || ward_sys::spawn::dev_null().expect("/dev/null");
    SpawnSpec {
        argv: argv.iter().map(|a| a.to_string()).collect(),
        env: vec![("PATH".into(), ward_sys::spawn::DEFAULT_PATH.into())],
        cwd: "/".into(),
        stdin: null(),
        stdout,
        stderr: null(),
        cgroups,
        nofile: None,
        rlimits: Default::default(),
        parent_death_signal: Some(ward_core::Signal::KILL),
        umask: 0o022,
        no_new_privs: false,
        credentials: None,
        capabilities: None,
        private_tmp: None,
    }
}
