//! What the spawn tests share: a plain spec for a command, and the whole of a pipe.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

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

/// Everything on `read` up to end of file, which comes only once no one holds the write
/// end; a test failure, not a hang, if it has not come within ten seconds.
#[allow(dead_code, unsafe_code)] // not every test binary reads a pipe; poll is libc
pub fn all_of(read: OwnedFd) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut file = std::fs::File::from(read);
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd of this frame, for a descriptor `file` holds open.
        let ready = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as libc::c_int) };
        assert!(
            ready > 0,
            "no end of file within 10 s: a copy of the write end is still open; read so far {:?}",
            String::from_utf8_lossy(&out)
        );
        match file.read(&mut chunk).expect("read") {
            0 => return String::from_utf8_lossy(&out).into_owned(),
            n => out.extend_from_slice(&chunk[..n]),
        }
    }
}
