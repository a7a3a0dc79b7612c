//! Who is at the other end of a Unix socket.
#![allow(unsafe_code)]

/// `SO_PEERCRED` by hand: rustix's wrapper refuses a PID of 0, which is what the kernel
/// gives for a peer in a PID namespace this process cannot see (a client outside the
/// container whose init ward is). The uid and gid are still right.
pub fn socket_peercred(socket: &impl std::os::fd::AsFd) -> std::io::Result<(u32, u32, u32)> {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes of the sizes given, and the
    // descriptor is borrowed for the call.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((cred.uid, cred.gid, u32::try_from(cred.pid).unwrap_or(0)))
}
