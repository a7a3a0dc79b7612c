//! The user database through the C library (`getpwnam_r`, `getgrouplist`), so that NSS
//! sources such as LDAP count, as they do for `id` and `su`.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::io;

use ward_core::accounts::{Accounts, UserEntry};

/// The system's user database.
pub struct System;

impl Accounts for System {
    fn user_named(&self, name: &str) -> Result<Option<UserEntry>, String> {
        let cname = CString::new(name).map_err(|_| "a NUL byte in a user name".to_string())?;
        lookup(|pw, buf, len, found| {
            // SAFETY: every pointer is valid for the call (see `lookup`).
            unsafe { libc::getpwnam_r(cname.as_ptr(), pw, buf, len, found) }
        })
        .map_err(|e| format!("cannot look up user `{name}`: {e}"))
    }

    fn user_with_uid(&self, uid: u32) -> Result<Option<UserEntry>, String> {
        lookup(|pw, buf, len, found| {
            // SAFETY: every pointer is valid for the call (see `lookup`).
            unsafe { libc::getpwuid_r(uid, pw, buf, len, found) }
        })
        .map_err(|e| format!("cannot look up uid {uid}: {e}"))
    }

    fn group_named(&self, name: &str) -> Result<Option<u32>, String> {
        crate::groups::gid_of(name).map_err(|e| format!("cannot look up group `{name}`: {e}"))
    }

    fn groups_of(&self, user: &str, gid: u32) -> Result<Vec<u32>, String> {
        let cname = CString::new(user).map_err(|_| "a NUL byte in a user name".to_string())?;
        let mut groups: Vec<libc::gid_t> = vec![0; 64];
        loop {
            let mut n = groups.len() as libc::c_int;
            // SAFETY: `groups` has room for `n` ids; getgrouplist writes at most that many
            // and sets `n` to the number it found.
            let rc =
                unsafe { libc::getgrouplist(cname.as_ptr(), gid, groups.as_mut_ptr(), &mut n) };
            if rc >= 0 {
                groups.truncate(n.max(0) as usize);
                return Ok(groups);
            }
            // -1: too small; `n` now holds the number needed.
            if groups.len() >= 65536 {
                return Err(format!("user `{user}` is in more than 65536 groups"));
            }
            groups.resize((n.max(0) as usize).max(groups.len() * 2), 0);
        }
    }
}

/// Calls a `getpw*_r` function with a buffer that grows until the entry fits.
fn lookup(
    mut call: impl FnMut(
        *mut libc::passwd,
        *mut libc::c_char,
        usize,
        *mut *mut libc::passwd,
    ) -> libc::c_int,
) -> io::Result<Option<UserEntry>> {
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: `passwd` is plain old data, zeroed; the call writes it and points its
        // fields into `buf`, which outlives every read of them below.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = call(&mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut found);
        match rc {
            0 if found.is_null() => return Ok(None),
            0 => {
                let text = |p: *const libc::c_char| {
                    if p.is_null() {
                        String::new()
                    } else {
                        // SAFETY: the strings point into `buf`, NUL-terminated by the call.
                        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
                    }
                };
                return Ok(Some(UserEntry {
                    name: text(pw.pw_name),
                    uid: pw.pw_uid,
                    gid: pw.pw_gid,
                    home: text(pw.pw_dir),
                }));
            }
            libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 2, 0),
            // "Not found" is reported as an error by some NSS modules.
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(None),
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_root_and_nobody_and_not_a_made_up_user() {
        let root = System.user_named("root").unwrap().unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(System.user_with_uid(0).unwrap(), Some(root));
        let nobody = System.user_named("nobody").unwrap().unwrap();
        assert_eq!(nobody.uid, 65534);
        assert!(
            System
                .user_named("no-such-user-ward-test")
                .unwrap()
                .is_none()
        );
        assert!(System.groups_of("root", 0).unwrap().contains(&0));
    }
}
