//! ward's only door to the kernel.
//!
//! Every `unsafe` block and raw syscall in ward lives in this crate, in the modules that
//! say so with `#[allow(unsafe_code)]`, each block with a `SAFETY:` comment. Everything
//! above this crate sees only plain types: PIDs as numbers wrapped in [`Pidfd`]s, exit
//! statuses as [`ward_core::ExitStatus`], errors as values that say which step failed.

pub mod accounts;
pub mod cgroup;
pub mod config_file;
pub mod controllers;
mod cpu_pin;
pub mod daemonize;
pub mod favordynmods;
pub mod fifo;
pub mod groups;
pub mod heap;
pub mod identity;
pub mod kernel_release;
pub mod kfile;
pub mod kmsg;
pub mod limits;
pub mod notify;
pub mod peer;
pub mod pidfd;
pub mod pidfile;
pub mod ready_set;
pub mod reap;
pub mod sd_notify;
pub mod spawn;
pub mod stdio_slots;
pub mod time_zone;
pub mod token;
pub mod tree;
pub mod usage;
mod vfork;
pub mod watch;

pub use identity::ProcessIdentity;
pub use pidfd::Pidfd;

/// Makes this process a child subreaper: orphaned descendants of its services are
/// re-parented here instead of to init, so ward can reap them and see them.
pub fn become_subreaper() -> std::io::Result<()> {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))?;
    Ok(())
}

/// This process's PID.
pub fn own_pid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// This process's effective user id: the only user (besides root) the control socket
/// answers.
pub fn own_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// This process's effective group id, for the records it writes of itself.
pub fn own_gid() -> u32 {
    rustix::process::getegid().as_raw()
}

/// The peer of a connected Unix socket (`SO_PEERCRED`): uid, gid and pid, as the kernel
/// saw them at `connect`, and its executable when it can still be read.
pub fn peer_cred(
    socket: &impl std::os::fd::AsFd,
) -> std::io::Result<(u32, u32, u32, Option<String>)> {
    let (uid, gid, pid) = peer::socket_peercred(socket)?;
    let exe = (pid != 0)
        .then(|| std::fs::read_link(format!("/proc/{pid}/exe")).ok())
        .flatten()
        .map(|p| p.to_string_lossy().into_owned());
    Ok((uid, gid, pid, exe))
}

/// The user id of the peer of a connected Unix socket, from `SO_PEERCRED`.
pub fn peer_uid(socket: &impl std::os::fd::AsFd) -> std::io::Result<u32> {
    Ok(peer::socket_peercred(socket)?.0)
}

/// Whether a connected socket has input waiting (bytes, or the peer's end of stream),
/// without taking any of it: `WouldBlock` while nothing has arrived. For a server that
/// gives a connection a slot only once its client has sent something.
pub fn has_input(socket: &impl std::os::fd::AsFd) -> std::io::Result<()> {
    use rustix::net::RecvFlags;
    let mut byte = [0u8; 1];
    rustix::net::recv(socket, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT)?;
    Ok(())
}

/// Sets the file creation mask to 077: files and sockets the daemon creates are its own.
pub fn private_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// 64 bits no other process can predict, for names of temporary files. std's hasher keys
/// come from the kernel's random source once per thread and change with every use; that
/// is all a name needs, without a crate for it.
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}
