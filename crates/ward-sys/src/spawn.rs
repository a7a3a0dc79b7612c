//! Spawning a service: a vfork-style clone, the privileged steps in a fixed order, exec.
//!
//! Written on `clone` + `execve` rather than `std::process::Command` for two reasons:
//! std reaps a child whose exec failed with its own `waitpid`, which races ward's single
//! `waitpid(-1)` reaper (and panics when the reaper wins); and std runs `pre_exec` after it
//! has already changed uid/gid, which breaks the order the privileged steps need.
//!
//! The child is cloned with `CLONE_VM | CLONE_VFORK`, as `posix_spawn` does: it shares
//! ward's memory on a stack of its own until it execs, and the calling thread sleeps until
//! then. A plain `fork` copies the daemon's page tables and makes the exec tear them down
//! again; measured here that is about 0.8 ms of every restart, more than half of what the
//! kernel needs for the rest of it. Sharing memory also lets the child report a failed step
//! by writing it where the parent reads it, with no pipe, and `CLONE_PIDFD` hands back the
//! pidfd with the process, before anything could reap it. The clone itself, its stack and
//! the birth in a cgroup are in `vfork`; what the child does until exec is in `spawn/child.rs`.
//!
//! `launch` is the same spawn without the sleep through the exec: the thread waits only
//! until the child has done every step before it, and `Launched::finish` reads the report
//! once the kernel says the child has exec'd or exited (`CLONE_CHILD_CLEARTID`). A batch
//! of starts then execs on the other CPUs while the thread prepares the next. The child
//! runs on the thread's TLS, errno included, so from the moment the thread goes on the
//! child writes no errno: it execs by a bare system call.
//!
//! Everything the child needs is computed before the clone. Until `execve` the child calls
//! only async-signal-safe functions, allocates nothing and writes to no memory but its own
//! stack and the report, because it runs in ward's address space while ward's other threads
//! go on. Signals stay blocked across the clone so that no handler of ward's runs in the
//! child; the child puts every disposition back to the default before it unblocks them.
//!
//! The child's order: end the hold on one CPU (`cpu_pin`), join the cgroup(s),
//! resource limits, new session, mount namespace (for a private `/tmp`), a descriptor
//! table of its own (`stdio_slots`), stdio and every other descriptor closed, signal mask
//! and dispositions, umask, the bounding set of capabilities, groups, gid, uid, the kept
//! capabilities, no_new_privs, working directory, exec. Everything that needs root comes
//! before the uid changes; the working directory after, so the new user must be able to
//! reach it. The ids are set with raw syscalls: glibc's `setuid` would signal every thread
//! of the process to change them too, and this child shares ward's memory and its thread
//! list.
#![allow(unsafe_code)]

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::pidfd::Pidfd;

mod child;
use child::{ChildPlan, Report, child_entry, last_capability};

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
    /// The cgroups the child joins before anything else.
    pub cgroups: Vec<CgroupJoin>,
    /// The open-file limit to give the child (ward raises its own; children get the
    /// customary one back).
    pub nofile: Option<crate::limits::Limit>,
    /// Limits the service asks for (`rlimits = { … }`), each set as soft and hard limit;
    /// a `nofile` here replaces the one above.
    pub rlimits: crate::limits::Rlimits,
    /// Sent to the process when ward dies (`PR_SET_PDEATHSIG`), for services that must
    /// not outlive their supervisor.
    pub parent_death_signal: Option<ward_core::Signal>,
    /// The file mode creation mask the process starts with.
    pub umask: u32,
    /// Sets `no_new_privs` before exec: no exec may gain privileges afterwards.
    pub no_new_privs: bool,
    /// The user, group and supplementary groups to run as; `None` keeps ward's.
    pub credentials: Option<ward_core::accounts::Credentials>,
    /// The capabilities to keep (ambient, so they survive the change of user and exec);
    /// every other one is dropped, the bounding set included. `None` leaves them as the
    /// change of user leaves them: all for root, none for anyone else.
    pub capabilities: Option<ward_core::caps::CapSet>,
    /// A directory bind-mounted on `/tmp` in a mount namespace of the process's own.
    pub private_tmp: Option<PathBuf>,
}

/// How the child enters one cgroup.
#[derive(Debug)]
pub enum CgroupJoin {
    /// A directory of the unified (v2) hierarchy. The first one is where the child is
    /// born (`clone3` with `CLONE_INTO_CGROUP`), which costs no wait; where the kernel
    /// cannot, and for any other, the child writes `cgroup.procs` inside it.
    Dir(OwnedFd),
    /// A `cgroup.procs` file (a v1 hierarchy), opened for writing: the child writes `0`.
    Procs(OwnedFd),
}

impl CgroupJoin {
    /// The directory `dir` of the unified hierarchy, opened to be born in.
    pub fn dir(dir: &Path) -> io::Result<CgroupJoin> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(dir)?;
        Ok(CgroupJoin::Dir(f.into()))
    }

    /// `cgroup.procs` of the v1 directory `dir`, opened to be written.
    pub fn procs(dir: &Path) -> io::Result<CgroupJoin> {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))?;
        Ok(CgroupJoin::Procs(f.into()))
    }
}

/// `cgroup.procs` inside the directory `dir`, opened for writing.
fn procs_in(dir: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: `dir` is an open directory and the name a NUL-terminated literal; the new
    // descriptor is owned by the result alone.
    unsafe {
        let fd = libc::openat(
            dir,
            c"cgroup.procs".as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Device and inode of an open file: one directory joined twice (the containment cgroup
/// and a v2 controller's are the same) is joined once.
fn file_id(fd: &OwnedFd) -> Option<(u64, u64)> {
    // SAFETY: fstat writes only the struct it is given.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        (libc::fstat(fd.as_raw_fd(), &mut st) == 0).then_some((st.st_dev, st.st_ino))
    }
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
    /// Leaving ward's descriptor table, or `close_range` of every descriptor above 2.
    CloseFds = 8,
    /// `prctl(PR_SET_NO_NEW_PRIVS)`.
    NoNewPrivs = 9,
    /// `unshare(CLONE_NEWNS)` and the mount of the private `/tmp`.
    MountNamespace = 10,
    /// `setgroups`.
    Groups = 11,
    /// `setresgid`.
    Gid = 12,
    /// `setresuid`.
    Uid = 13,
    /// Dropping the bounding set, `capset` or raising the ambient capabilities.
    Capabilities = 14,
    /// Ending the hold on one CPU the clone was made with (`cpu_pin`).
    Affinity = 15,
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
            8 => ChildStep::CloseFds,
            9 => ChildStep::NoNewPrivs,
            10 => ChildStep::MountNamespace,
            11 => ChildStep::Groups,
            12 => ChildStep::Gid,
            13 => ChildStep::Uid,
            14 => ChildStep::Capabilities,
            15 => ChildStep::Affinity,
            _ => ChildStep::Exec,
        }
    }
}

/// Why a spawn failed.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The program was not found on PATH (checked before cloning).
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
    /// A cgroup to join could not be opened.
    #[error("cannot open the cgroup to join: {0}")]
    Cgroup(#[source] io::Error),
    /// The clone, or the mapping of the child's stack, failed in ward itself.
    #[error("clone failed: {0}")]
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
    /// It was born in its unified-hierarchy cgroup (`clone3`), rather than moved there by
    /// a write that waits for the kernel.
    pub born_in_cgroup: bool,
    /// Its start time in clock ticks since boot, as `/proc/PID/stat` gives it, when the
    /// spawn could tell it without a read (`identity::StartWindow`).
    pub start_time: Option<u64>,
}

/// The `PATH` every process ward starts gets, and the one a program is looked up on when
/// its environment has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a process ward starts begins with, before what its config adds: the fixed `PATH`,
/// and `HOME`, `LANG` and `TZ` from ward's own environment when they are set there. One
/// that runs as another `user` gets that user's `HOME`, `USER` and `LOGNAME`, as `login`
/// gives them.
pub fn base_environment(user: Option<&ward_core::accounts::UserEntry>) -> Vec<(String, String)> {
    let mut env = vec![("PATH".to_string(), DEFAULT_PATH.to_string())];
    for key in ["HOME", "LANG", "TZ"] {
        if let Ok(v) = std::env::var(key) {
            env.push((key.into(), v));
        }
    }
    if let Some(user) = user {
        env.retain(|(k, _)| k != "HOME");
        env.push(("HOME".into(), user.home.clone()));
        env.push(("USER".into(), user.name.clone()));
        env.push(("LOGNAME".into(), user.name.clone()));
    }
    env
}

/// Resolves `program` as `execvp` would, but in the parent, so "not found" is a precise
/// error before any clone.
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

/// What a spawn computes before its clone, owned. The child reads it in ward's memory
/// until it execs; its strings and arrays are on the heap, so moving this value moves
/// none of them.
struct Prepared {
    program: PathBuf,
    program_c: CString,
    _argv_c: Vec<CString>,
    _env_c: Vec<CString>,
    cwd_c: CString,
    argv_p: Vec<*const libc::c_char>,
    env_p: Vec<*const libc::c_char>,
    /// The first directory of the unified hierarchy: where the child is born.
    born_in: Option<RawFd>,
    /// `cgroup.procs` files opened here for the child to write.
    opened: Vec<OwnedFd>,
    /// Every `cgroup.procs` the child writes, before anything else.
    cgroup_fds: Vec<i32>,
    limits: Vec<(libc::__rlimit_resource_t, libc::rlimit)>,
    private_tmp: Option<CString>,
    groups: Vec<libc::gid_t>,
    last_cap: u32,
    death_signal: Option<i32>,
    parent: libc::pid_t,
}

fn prepare(spec: &SpawnSpec) -> Result<Prepared, SpawnError> {
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
    // The first directory of the unified hierarchy is where the child is born; every
    // other cgroup it joins by a write, a directory met twice only once.
    let mut born_in: Option<RawFd> = None;
    let mut seen = Vec::new();
    let mut opened = Vec::new();
    let mut cgroup_fds: Vec<i32> = Vec::new();
    for join in &spec.cgroups {
        match join {
            CgroupJoin::Dir(dir) => {
                let id = file_id(dir);
                if id.is_some() && seen.contains(&id) {
                    continue;
                }
                seen.push(id);
                if born_in.is_none() {
                    born_in = Some(dir.as_raw_fd());
                } else {
                    let procs = procs_in(dir.as_raw_fd()).map_err(SpawnError::Cgroup)?;
                    cgroup_fds.push(procs.as_raw_fd());
                    opened.push(procs);
                }
            }
            CgroupJoin::Procs(file) => cgroup_fds.push(file.as_raw_fd()),
        }
    }

    let to_rlim = |v: Option<u64>| v.map_or(libc::RLIM_INFINITY, |v| v as libc::rlim_t);
    let nofile = spec.nofile.map(|l| libc::rlimit {
        rlim_cur: to_rlim(l.soft),
        rlim_max: to_rlim(l.hard),
    });
    let both = |v: u64| libc::rlimit {
        rlim_cur: v as libc::rlim_t,
        rlim_max: v as libc::rlim_t,
    };
    let r = spec.rlimits;
    // Built before the clone: the child only walks the array.
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
    for (resource, value) in [
        (libc::RLIMIT_FSIZE, r.fsize),
        (libc::RLIMIT_CORE, r.core),
        (libc::RLIMIT_NPROC, r.nproc),
        (libc::RLIMIT_MEMLOCK, r.memlock),
        (libc::RLIMIT_AS, r.r#as),
        (libc::RLIMIT_STACK, r.stack),
    ] {
        if let Some(v) = value {
            limits.push((resource, both(v)));
        }
    }
    Ok(Prepared {
        program,
        program_c,
        _argv_c: argv_c,
        _env_c: env_c,
        cwd_c,
        argv_p,
        env_p,
        born_in,
        opened,
        cgroup_fds,
        limits,
        private_tmp: spec.private_tmp.as_ref().map(cstring).transpose()?,
        groups: spec
            .credentials
            .as_ref()
            .map(|c| c.groups.clone())
            .unwrap_or_default(),
        last_cap: spec.capabilities.map(|_| last_capability()).unwrap_or(0),
        death_signal: spec.parent_death_signal.map(|s| s.number()),
        parent: libc::pid_t::try_from(crate::own_pid()).unwrap_or(0),
    })
}

/// What the child reads and writes in ward's memory until it execs: its plan, its report,
/// and the word the kernel clears when it has exec'd or exited (1 until the child has
/// left ward's descriptor table, 2 after, with `Wait::Detached`).
struct Flight {
    plan: Option<ChildPlan>,
    report: Report,
    done: AtomicU32,
}

impl Flight {
    fn new() -> Flight {
        Flight {
            plan: None,
            report: Report {
                ran: 0,
                step: 0,
                errno: 0,
            },
            done: AtomicU32::new(1),
        }
    }

    /// The report, read once the child has exec'd or exited.
    fn report(&self) -> Report {
        // SAFETY: nothing writes the report any more; it is read once, by value.
        unsafe { std::ptr::read_volatile(&self.report) }
    }
}

/// Clones the prepared child: born in its cgroup where it can be, else joining it by a
/// write. Returns whether it was born there, its PID and its pidfd: without `stack`
/// (`Wait::Exec`) once it has exec'd or exited; with it (`Wait::Detached`) once every
/// step but the exec is done, its descriptor table its own (after which nothing of
/// ward's but `flight` and `prep` is its to read).
fn clone_prepared(
    prep: &mut Prepared,
    spec: &SpawnSpec,
    flight: &mut Flight,
    hold: Option<&crate::cpu_pin::Pinned>,
    stack: Option<&crate::vfork::ChildStack>,
) -> Result<(bool, u32, OwnedFd), SpawnError> {
    let stdio = [
        spec.stdin.as_raw_fd(),
        spec.stdout.as_raw_fd(),
        spec.stderr.as_raw_fd(),
    ];
    let creds = spec.credentials.as_ref();
    let share = |placed: crate::stdio_slots::Placed| {
        flight.plan = Some(ChildPlan {
            hold: hold.map(|p| p as *const _),
            gate: stack.map(|_| &flight.done as *const AtomicU32),
            private_tmp: prep.private_tmp.as_ref().map(|c| c.as_ptr()),
            set_groups: creds.is_some(),
            groups: std::ptr::from_ref(prep.groups.as_slice()),
            gid: creds.and_then(|c| c.gid),
            uid: creds.and_then(|c| c.uid),
            capabilities: spec.capabilities.map(|c| c.0),
            last_cap: prep.last_cap,
            cgroup_fds: std::ptr::from_ref(prep.cgroup_fds.as_slice()),
            limits: std::ptr::from_ref(prep.limits.as_slice()),
            death_signal: prep.death_signal,
            parent: prep.parent,
            stdio: placed.stdio,
            files_bound: placed.bound,
            umask: spec.umask as libc::mode_t,
            no_new_privs: spec.no_new_privs,
            cwd: prep.cwd_c.as_ptr(),
            program: prep.program_c.as_ptr(),
            argv: prep.argv_p.as_ptr(),
            envp: prep.env_p.as_ptr(),
            report: &raw mut flight.report,
        });
        let shared = placed.bound.is_some();
        let wait = match stack {
            Some(stack) => crate::vfork::Wait::Detached {
                stack,
                done: &flight.done,
            },
            None => crate::vfork::Wait::Exec,
        };
        // The plan as the child gets it, taken afresh for each clone: the second one's
        // plan is changed in between.
        let clone = |cgroup: Option<RawFd>, plan: &Option<ChildPlan>| {
            let arg = plan.as_ref().expect("set above") as *const ChildPlan as *mut libc::c_void;
            // SAFETY: the plan and everything it points to are `flight`'s and `prep`'s,
            // which the caller keeps until the child has exec'd or exited: until this
            // returns with CLONE_VFORK, until `done` is cleared otherwise. `child_entry`
            // touches only what the plan names (with a shared table, it leaves it before
            // changing a descriptor).
            unsafe { crate::vfork::vfork(child_entry, arg, cgroup, shared, wait) }
        };
        let born = match prep.born_in {
            Some(dir) if crate::vfork::into_cgroup_available() => {
                match clone(Some(dir), &flight.plan) {
                    // A child killed before its first instruction: on Linux 6.18 (at least)
                    // a cgroup that was ever killed through `cgroup.kill` kills every child
                    // born in it afterwards, as the kernel compares the kill count of the
                    // cgroup with that of ward's own. That zombie is left to the reaper, and
                    // the child joins by writing instead.
                    Ok(_) if flight.report().ran == 0 => {
                        // Detached, the kernel cleared the word at that child's exit; the next
                        // child sets it again.
                        flight.done.store(1, Ordering::Release);
                        None
                    }
                    Ok(child) => Some(child),
                    Err(e) => {
                        crate::vfork::after_refusal(e).map_err(SpawnError::Fork)?;
                        None
                    }
                }
            }
            _ => None,
        };
        // Not born in it: the child joins the directory by writing, before the others.
        let born_in_cgroup = born.is_some();
        let (pid, pidfd) = match born {
            Some(child) => child,
            None => {
                if let Some(dir) = prep.born_in {
                    let procs = procs_in(dir).map_err(SpawnError::Cgroup)?;
                    prep.cgroup_fds.insert(0, procs.as_raw_fd());
                    prep.opened.push(procs);
                    if let Some(plan) = flight.plan.as_mut() {
                        plan.cgroup_fds = std::ptr::from_ref(prep.cgroup_fds.as_slice());
                    }
                }
                clone(None, &flight.plan).map_err(SpawnError::Fork)?
            }
        };
        Ok((born_in_cgroup, pid, pidfd))
    };
    crate::stdio_slots::with_stdio(stdio, share)
}

/// What a child's report says of its spawn, once it has exec'd or exited.
fn outcome(
    report: Report,
    pid: u32,
    pidfd: OwnedFd,
    born_in_cgroup: bool,
    start_time: Option<u64>,
    program: &Path,
) -> Result<Spawned, SpawnError> {
    let pidfd = Pidfd::from_owned(pidfd, pid);
    if report.step != 0 {
        return Err(SpawnError::Child {
            pid,
            step: ChildStep::from_u8(report.step),
            error: io::Error::from_raw_os_error(report.errno),
            program: program.display().to_string(),
        });
    }
    Ok(Spawned {
        pidfd,
        born_in_cgroup,
        start_time,
    })
}

/// Starts a process. On success the child is executing the program.
///
/// The calling thread sleeps until the child has exec'd (`CLONE_VFORK`), held on its CPU
/// so that the child runs where its parent sleeps (`cpu_pin`); the child ends the hold,
/// its own and the thread's, first.
pub fn spawn(spec: SpawnSpec) -> Result<Spawned, SpawnError> {
    let mut prep = prepare(&spec)?;
    let mut flight = Flight::new();
    let pinned = crate::cpu_pin::Pinned::here();
    let window = crate::identity::StartWindow::open();
    let made = clone_prepared(&mut prep, &spec, &mut flight, pinned.as_ref(), None);
    let start_time = window.close();
    drop(pinned);
    let (born_in_cgroup, pid, pidfd) = made?;
    drop(prep.opened);
    outcome(
        flight.report(),
        pid,
        pidfd,
        born_in_cgroup,
        start_time,
        &prep.program,
    )
}

/// Starts a process and returns while it may still be on its way to exec, once every step
/// before the exec is done: the thread prepares the next one meanwhile, on the other
/// CPUs' time. `Launched::finish` says how the spawn went, as `spawn` would have.
pub fn launch(spec: SpawnSpec) -> Result<Launched, SpawnError> {
    let mut prep = prepare(&spec)?;
    let stack = crate::vfork::detaches()
        .then(crate::vfork::ChildStack::take)
        .transpose()
        .map_err(SpawnError::Fork)?;
    let mut flight = Box::new(Flight::new());
    // Held as `spawn` holds it: the thread sleeps until the child has done its steps, and
    // the child, placed on the CPU the thread leaves idle, does them at once instead of
    // queueing behind the programs started before it (start of 500 units: 372 → 336 ms).
    let pinned = crate::cpu_pin::Pinned::here();
    let window = crate::identity::StartWindow::open();
    let made = clone_prepared(
        &mut prep,
        &spec,
        &mut flight,
        pinned.as_ref(),
        stack.as_ref(),
    );
    let start_time = window.close();
    drop(pinned);
    let (born_in_cgroup, pid, pidfd) = made?;
    if stack.is_none() {
        // Cloned with CLONE_VFORK: the child has exec'd or exited already.
        flight.done.store(0, Ordering::Release);
    }
    // The child has a table of its own: the `cgroup.procs` files and the parent's copies
    // of its stdio (`spec`'s) may go.
    prep.opened.clear();
    Ok(Launched {
        pid,
        pidfd: Some(pidfd),
        born_in_cgroup,
        start_time,
        flight,
        stack,
        prep,
    })
}

/// A child started by `launch`, which may still be on its way to exec in ward's memory.
/// Dropped or finished, it waits for the exec (or the exit) before it lets go of what
/// the child reads.
pub struct Launched {
    pid: u32,
    pidfd: Option<OwnedFd>,
    born_in_cgroup: bool,
    start_time: Option<u64>,
    flight: Box<Flight>,
    stack: Option<crate::vfork::ChildStack>,
    prep: Prepared,
}

// SAFETY: the raw pointers in `flight` and `prep` point into this value's own heap
// buffers, which a move to another thread does not touch; the child writes only the
// report and the kernel only `done`, both read after the exec through atomics or volatile
// reads.
unsafe impl Send for Launched {}

impl std::fmt::Debug for Launched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launched").field("pid", &self.pid).finish()
    }
}

impl Launched {
    /// The child's PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits until the child has exec'd or exited, and says which, as `spawn` would have.
    pub fn finish(mut self) -> Result<Spawned, SpawnError> {
        crate::vfork::wait_until_clear(&self.flight.done);
        let pidfd = self.pidfd.take().expect("taken once, here");
        outcome(
            self.flight.report(),
            self.pid,
            pidfd,
            self.born_in_cgroup,
            self.start_time,
            &self.prep.program,
        )
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        // The stack and the plan are the child's until it has exec'd or exited.
        crate::vfork::wait_until_clear(&self.flight.done);
        if let Some(stack) = self.stack.take() {
            stack.give_back();
        }
    }
}

/// A descriptor to give a child as stdin that reads `data` and then end of file: an
/// anonymous memory file, so that no size of `data` can block the writer, as a pipe's
/// buffer would before the child reads.
pub fn stdin_of(data: &[u8]) -> io::Result<OwnedFd> {
    use std::io::{Seek, Write};
    let fd = rustix::fs::memfd_create("ward-stdin", rustix::fs::MemfdFlags::CLOEXEC)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(data)?;
    file.rewind()?;
    Ok(file.into())
}

/// `/dev/null`, open for reading and writing: a child's stdin, or the stdout and stderr
/// of a hook whose output goes nowhere, which must be able to write to it (opened for
/// reading only, `echo` in an event hook failed with EBADF). Each is a copy of one
/// descriptor, opened once: every spawn needs one, and each open was a lookup of the
/// path. The copies share one open file, whose offset and flags `/dev/null` ignores.
pub fn dev_null() -> io::Result<OwnedFd> {
    static NULL: std::sync::OnceLock<OwnedFd> = std::sync::OnceLock::new();
    let null = match NULL.get() {
        Some(null) => null,
        None => {
            let opened = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")?;
            NULL.get_or_init(|| opened.into())
        }
    };
    null.try_clone()
}

/// What an exec errno means to the operator.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ExecErrno {
    /// ENOENT: the file, or its `#!` interpreter, does not exist.
    NotFound,
    /// EACCES, EPERM, EISDIR: not executable by this user, or a directory (which only a
    /// look at the path tells apart).
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

/// The way to `program` as the kernel walks it: the file (symbolic links followed), then
/// each directory above it up to `/`, each with its mode, for `ward_core::dirs` to judge.
pub fn program_steps(program: &Path) -> io::Result<Vec<ward_core::dirs::PathStep>> {
    use std::os::unix::fs::MetadataExt;
    let real = std::fs::canonicalize(program)?;
    let mut steps = Vec::new();
    let mut at = Some(real.as_path());
    while let Some(p) = at {
        let meta = std::fs::metadata(p)?;
        steps.push(ward_core::dirs::PathStep {
            path: p.to_path_buf(),
            mode: meta.mode(),
        });
        at = p.parent();
    }
    Ok(steps)
}
