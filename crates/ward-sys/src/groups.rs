//! Groups: a group's id by its name, through the C library (so NSS sources such as LDAP
//! count, as they do for `ls -l`), and the groups a process is in, from `/proc`.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::io;

/// The id of group `name`; `Ok(None)` when no such group exists.
pub fn gid_of(name: &str) -> io::Result<Option<u32>> {
    let cname = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in a group name"))?;
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: `group` is plain old data, zeroed; getgrnam_r writes it and points its
        // fields into `buf`, which outlives every read of them below.
        let mut group: libc::group = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::group = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call: the name is NUL-terminated, `buf`
        // has `buf.len()` writable bytes, `group` and `found` are live locals.
        let rc = unsafe {
            libc::getgrnam_r(
                cname.as_ptr(),
                &mut group,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        match rc {
            0 if found.is_null() => return Ok(None),
            0 => return Ok(Some(group.gr_gid)),
            libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 2, 0),
            // "Not found" is reported as an error by some NSS modules.
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(None),
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
}

/// The name of group `gid`, for messages; `None` when it has none.
pub fn name_of(gid: u32) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: as in `gid_of`.
    let mut group: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, as in `gid_of`.
    let rc = unsafe {
        libc::getgrgid_r(
            gid,
            &mut group,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || group.gr_name.is_null() {
        return None;
    }
    // SAFETY: gr_name points into `buf`, NUL-terminated by getgrgid_r.
    Some(
        unsafe { CStr::from_ptr(group.gr_name) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// Every group process `pid` is in: its effective gid and its supplementary groups
/// (`Gid:` and `Groups:` of `/proc/PID/status`).
pub fn of_process(pid: u32) -> io::Result<Vec<u32>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(parse_status(&status))
}

fn parse_status(status: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("Gid:") {
            // Real, effective, saved, filesystem: the effective one counts.
            if let Some(e) = rest.split_whitespace().nth(1).and_then(|g| g.parse().ok()) {
                out.push(e);
            }
        } else if let Some(rest) = line.strip_prefix("Groups:") {
            out.extend(
                rest.split_whitespace()
                    .filter_map(|g| g.parse::<u32>().ok()),
            );
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_root_and_not_a_made_up_group() {
        assert_eq!(gid_of("root").unwrap(), Some(0));
        assert_eq!(gid_of("no-such-group-ward-test").unwrap(), None);
        assert_eq!(name_of(0).as_deref(), Some("root"));
    }

    #[test]
    fn a_process_is_in_its_gid_and_its_supplementary_groups() {
        let status = "Name:\tx\nGid:\t1000\t1001\t1000\t1000\nGroups:\t4 24 1001 \n";
        assert_eq!(parse_status(status), vec![4, 24, 1001]);
        assert!(
            of_process(std::process::id())
                .unwrap()
                .contains(&rustix::process::getegid().as_raw())
        );
    }
}
