//! Spawning a service: fork, the privileged steps in a fixed order, exec.
//!
//! Written on `fork` + `execve` rather than `std::process::Command` for two reasons:
//! std reaps a child whose exec failed with its own `waitpid`, which races ward's single
//! `waitpid(-1)` reaper (and panics when the reaper wins); and std runs `pre_exec` after it
//! has already changed uid/gid, which breaks the order the privileged steps need.
//!
//! Everything the child needs is computed before the fork. Between `fork` and `execve` the
//! child calls only async-signal-safe functions and allocates nothing, because the daemon is
//! multi-threaded and another thread may hold the allocator's lock at the moment of the fork.
//!
//! The child's order: join the cgroup(s), resource limits, new session, stdio, signal mask and dispositions,
//! working directory, exec. (Dropped privileges slot in after the new session, in the
//! order groups, gid, uid, no_new_privs, when they arrive.)
#![allow(unsafe_code)]

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::pidfd::Pidfd;

/// Everything needed to start one process.
#[derive(Debug)]
pub struct SpawnSpec {
    /// argv; `argv[0]` is looked up on the `PATH` of `env` when it has no `/`.
    pub argv: Vec<String>,
    /// The complete environment of the new process (ward's environment is not inherited).
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: PathBuf,
    /// Becomes fd 0; `/dev/null` is the usual choice.
    pub stdin: OwnedFd,
    /// Becomes fd 1.
    pub stdout: OwnedFd,
    /// Becomes fd 2.
    pub stderr: OwnedFd,
    /// `cgroup.procs` files, opened for writing, that the child writes `0` into to join.
    pub cgroup_procs: Vec<OwnedFd>,
    /// The open-file limit to give the child (ward raises its own; children get the
    /// customary one back).
    pub nofile: Option<crate::limits::Limit>,
    /// Limits the service asks for (`rlimits = { … }`), each set as soft and hard limit;
    /// a `nofile` here replaces the one above.
    pub rlimits: crate::limits::Rlimits,
    /// Sent to the process when ward dies (`PR_SET_PDEATHSIG`), for services that must
    /// not outlive their supervisor.
    pub parent_death_signal: Option<ward_core::Signal>,
}

/// The step of the child's preparation that failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ChildStep {
    /// Writing to `cgroup.procs`.
    JoinCgroup = 1,
    /// `setsid`.
    NewSession = 2,
    /// `setrlimit`.
    Rlimit = 6,
    /// `dup2` of stdin/stdout/stderr.
    Stdio = 3,
    /// `chdir` to the working directory.
    Chdir = 4,
    /// `execve` itself.
    Exec = 5,
    /// `prctl(PR_SET_PDEATHSIG)`, or ward was already gone.
    ParentDeath = 7,
}

impl ChildStep {
    fn from_u8(v: u8) -> ChildStep {
        match v {
            1 => ChildStep::JoinCgroup,
            2 => ChildStep::NewSession,
            3 => ChildStep::Stdio,
            4 => ChildStep::Chdir,
            6 => ChildStep::Rlimit,
            7 => ChildStep::ParentDeath,
            _ => ChildStep::Exec,
        }
    }
}

/// Why a spawn failed.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The program was not found on PATH (checked before forking).
    #[error("`{program}` not found in PATH ({path})")]
    NotOnPath {
        /// argv[0].
        program: String,
        /// The PATH that was searched.
        path: String,
    },
    /// Something in the spec cannot be passed to the kernel (a NUL byte, an empty argv).
    #[error("invalid command: {0}")]
    Invalid(String),
    /// `fork` or a pipe failed in ward itself.
    #[error("fork failed: {0}")]
    Fork(#[source] io::Error),
    /// The child started but a step before or at exec failed; it has exited with 127 and
    /// the reaper will collect `pid`.
    #[error("{step:?} failed for {program}: {error}")]
    Child {
        /// The child's PID, so its exit can be recognised and ignored.
        pid: u32,
        /// Which step failed.
        step: ChildStep,
        /// The error of that step.
        error: io::Error,
        /// The program that was to run.
        program: String,
    },
}

/// A started process.
#[derive(Debug)]
pub struct Spawned {
    /// The main process, pinned by a pidfd opened before anyone could reap it.
    pub pidfd: Pidfd,
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Resolves `program` as `execvp` would, but in the parent, so "not found" is a precise
/// error before any fork.
pub fn resolve_program(program: &str, env: &[(String, String)]) -> Result<PathBuf, SpawnError> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(program);
        if rustix::fs::access(&candidate, rustix::fs::Access::EXEC_OK).is_ok()
            && candidate.is_file()
        {
            return Ok(candidate);
        }
    }
    Err(SpawnError::NotOnPath {
        program: program.to_string(),
        path: path.to_string(),
    })
}

fn cstring(s: impl AsRef<OsStr>) -> Result<CString, SpawnError> {
    CString::new(s.as_ref().as_bytes())
        .map_err(|_| SpawnError::Invalid(format!("{:?} contains a NUL byte", s.as_ref())))
}

/// Starts a process. On success the child is executing the program.
pub fn spawn(spec: SpawnSpec) -> Result<Spawned, SpawnError> {
    let argv0 = spec
        .argv
        .first()
        .ok_or_else(|| SpawnError::Invalid("empty argv".into()))?;
    let program = resolve_program(argv0, &spec.env)?;
    let program_c = cstring(&program)?;
    let argv_c: Vec<CString> = spec.argv.iter().map(cstring).collect::<Result<_, _>>()?;
    let env_c: Vec<CString> = spec
        .env
        .iter()
        .map(|(k, v)| cstring(format!("{k}={v}")))
        .collect::<Result<_, _>>()?;
    let cwd_c = cstring(&spec.cwd)?;
    let mut argv_p: Vec<*const libc::c_char> = argv_c.iter().map(|c| c.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut env_p: Vec<*const libc::c_char> = env_c.iter().map(|c| c.as_ptr()).collect();
    env_p.push(std::ptr::null());
    let cgroup_fds: Vec<i32> = spec.cgroup_procs.iter().map(|f| f.as_raw_fd()).collect();
    let stdio = [
        spec.stdin.as_raw_fd(),
        spec.stdout.as_raw_fd(),
        spec.stderr.as_raw_fd(),
    ];

    let to_rlim = |v: Option<u64>| v.map_or(libc::RLIM_INFINITY, |v| v as libc::rlim_t);
    let parent = libc::pid_t::try_from(crate::own_pid()).unwrap_or(0);
    let death_signal = spec.parent_death_signal.map(|s| s.number());
    let nofile = spec.nofile.map(|l| libc::rlimit {
        rlim_cur: to_rlim(l.soft),
        rlim_max: to_rlim(l.hard),
    });
    let both = |v: u64| libc::rlimit {
        rlim_cur: v as libc::rlim_t,
        rlim_max: v as libc::rlim_t,
    };
    let r = spec.rlimits;
    // Built before the fork: the child only walks the array.
    let mut limits: Vec<(libc::__rlimit_resource_t, libc::rlimit)> = Vec::new();
    match (r.nofile, nofile) {
        (Some(v), _) => limits.push((libc::RLIMIT_NOFILE, both(v))),
        (None, Some(l)) => limits.push((libc::RLIMIT_NOFILE, l)),
        (None, None) => {}
    }
    // At the soft CPU limit the kernel sends SIGXCPU, at the hard one SIGKILL: a second
    // of grace between them, so the death names its cause.
    if let Some(v) = r.cpu {
        let lim = libc::rlimit {
            rlim_cur: v as libc::rlim_t,
            rlim_max: v.saturating_add(1) as libc::rlim_t,
        };
        limits.push((libc::RLIMIT_CPU, lim));
    }
    for (resource, value) in [(libc::RLIMIT_FSIZE, r.fsize), (libc::RLIMIT_CORE, r.core)] {
        if let Some(v) = value {
            limits.push((resource, both(v)));
        }
    }

    let (err_read, err_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| SpawnError::Fork(e.into()))?;
    let err_fd = err_write.as_raw_fd();

    // SAFETY: fork has no memory-safety preconditions of its own; the child branch below
    // touches only the precomputed pointers and calls only async-signal-safe functions.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(SpawnError::Fork(io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: we are the freshly forked child; every pointer was built before the fork
        // and stays valid because the child's copy of memory is never freed before exec.
        unsafe {
            child_after_fork(&ChildPlan {
                cgroup_fds: &cgroup_fds,
                limits: &limits,
                death_signal,
                parent,
                stdio: &stdio,
                cwd: cwd_c.as_ptr(),
                program: program_c.as_ptr(),
                argv: argv_p.as_ptr(),
                envp: env_p.as_ptr(),
                err_fd,
            })
        }
    }
    drop(err_write);
    let pid = pid as u32;
    // The pidfd is opened before anything can reap the child: the caller's reaper runs on
    // the same thread, after this function returns.
    let pidfd = Pidfd::open(pid).map_err(SpawnError::Fork);

    let mut report = [0u8; 5];
    let mut got = 0;
    while got < report.len() {
        match rustix::io::read(&err_read, &mut report[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => break,
        }
    }
    if got == report.len() {
        let errno = i32::from_ne_bytes([report[1], report[2], report[3], report[4]]);
        return Err(SpawnError::Child {
            pid,
            step: ChildStep::from_u8(report[0]),
            error: io::Error::from_raw_os_error(errno),
            program: program.display().to_string(),
        });
    }
    Ok(Spawned { pidfd: pidfd? })
}

/// Everything the child needs, prepared before the fork so the child allocates nothing.
struct ChildPlan<'a> {
    cgroup_fds: &'a [i32],
    limits: &'a [(libc::__rlimit_resource_t, libc::rlimit)],
    death_signal: Option<i32>,
    parent: libc::pid_t,
    stdio: &'a [i32; 3],
    cwd: *const libc::c_char,
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    err_fd: i32,
}

/// The child's side, in the order the architecture notes give: cgroup, rlimits, new
/// session, stdio, signal defaults, working directory, exec. Never returns.
///
/// # Safety
/// Must be called only in the child right after `fork`, with valid NUL-terminated strings
/// and NULL-terminated pointer arrays.
unsafe fn child_after_fork(plan: &ChildPlan<'_>) -> ! {
    let ChildPlan {
        cgroup_fds,
        limits,
        death_signal,
        parent,
        stdio,
        cwd,
        program,
        argv,
        envp,
        err_fd,
    } = *plan;
    // SAFETY: only async-signal-safe libc calls on values prepared before the fork; `fail`
    // writes to a pipe and calls `_exit`.
    unsafe {
        for &fd in cgroup_fds {
            if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                fail(err_fd, ChildStep::JoinCgroup);
            }
        }
        for (resource, lim) in limits {
            if libc::setrlimit(*resource, lim) < 0 {
                fail(err_fd, ChildStep::Rlimit);
            }
        }
        if libc::setsid() < 0 {
            fail(err_fd, ChildStep::NewSession);
        }
        if let Some(sig) = death_signal {
            // If ward died between fork and here, the signal would never come: check.
            if libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong) < 0 {
                fail(err_fd, ChildStep::ParentDeath);
            }
            if libc::getppid() != parent {
                *libc::__errno_location() = libc::ESRCH;
                fail(err_fd, ChildStep::ParentDeath);
            }
        }
        for (target, &fd) in stdio.iter().enumerate() {
            // dup2 onto itself would keep CLOEXEC; the source fds are never 0..2 here
            // because the daemon holds its own stdio open.
            if libc::dup2(fd, target as i32) < 0 {
                fail(err_fd, ChildStep::Stdio);
            }
        }
        // Exec keeps ignored signals ignored and the blocked mask blocked: give the program
        // the defaults it expects (Rust's runtime ignores SIGPIPE, for one).
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        // The daemon creates its own files private (umask 077); services get the usual.
        libc::umask(0o022);
        if libc::chdir(cwd) < 0 {
            fail(err_fd, ChildStep::Chdir);
        }
        libc::execve(program, argv, envp);
        fail(err_fd, ChildStep::Exec)
    }
}

/// Reports `step` and `errno` to the parent and exits 127, like a shell whose exec failed.
///
/// # Safety
/// Child-after-fork only.
unsafe fn fail(err_fd: i32, step: ChildStep) -> ! {
    // SAFETY: errno location, write and _exit are async-signal-safe.
    unsafe {
        let errno = *libc::__errno_location();
        let e = errno.to_ne_bytes();
        let msg = [step as u8, e[0], e[1], e[2], e[3]];
        libc::write(err_fd, msg.as_ptr().cast(), msg.len());
        libc::_exit(127)
    }
}

/// Opens `/dev/null` for a child's stdin.
pub fn dev_null() -> io::Result<OwnedFd> {
    Ok(std::fs::File::open("/dev/null")?.into())
}

/// What an exec errno means to the operator.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ExecErrno {
    /// ENOENT: the file, or its `#!` interpreter, does not exist.
    NotFound,
    /// EACCES, EPERM, EISDIR: not executable by this user, or a directory.
    PermissionDenied,
    /// ENOEXEC: not an executable format.
    BadFormat,
    /// Anything else.
    Other,
}

/// Classifies the error of a failed exec.
pub fn exec_errno(e: &io::Error) -> ExecErrno {
    match e.raw_os_error() {
        Some(libc::ENOENT) => ExecErrno::NotFound,
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EISDIR) => ExecErrno::PermissionDenied,
        Some(libc::ENOEXEC) => ExecErrno::BadFormat,
        _ => ExecErrno::Other,
    }
}
