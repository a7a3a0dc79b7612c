//! The child's side of a spawn: what it runs between the clone and `execve`, in ward's
//! memory, on its own stack, with only async-signal-safe calls on what the parent
//! prepared (`ChildPlan`), and the report it leaves when a step fails.
#![allow(unsafe_code)]

use super::ChildStep;

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`, two of which (bits 0–31, 32–63) version 3 takes.
#[repr(C)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Where the child leaves the step that failed and its errno before it exits; zero while
/// all is well. Shared through CLONE_VM, read by the parent once the child is gone or
/// exec'd.
#[repr(C)]
#[derive(Copy, Clone)]
pub(super) struct Report {
    /// Set by the child's first step: a child that never ran was killed at birth.
    pub(super) ran: u8,
    pub(super) step: u8,
    pub(super) errno: i32,
}

/// The child's entry point: `arg` is the plan the clone was given.
pub(super) extern "C" fn child_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the plan the clone was given, alive until this child has exec'd or
    // exited (the parent sleeps until then, or keeps it until the kernel says so).
    unsafe { child_after_clone(&*(arg as *const ChildPlan)) }
}

/// The highest capability number this kernel knows; 40 (Linux 5.9 and later) when
/// `/proc` does not say.
pub(super) fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// Everything the child needs, prepared before the clone so the child allocates nothing.
/// The slices and strings are the parent's, kept until the child has exec'd or exited.
pub(super) struct ChildPlan {
    /// The hold to end first, when the clone was made on a held thread (`cpu_pin`).
    pub(super) hold: Option<*const crate::cpu_pin::Pinned>,
    /// For a parent that does not sleep until the exec: the word to set to 2, and wake,
    /// once every step but the exec is done (the kernel clears it to 0 at the exec or the
    /// exit).
    pub(super) gate: Option<*const std::sync::atomic::AtomicU32>,
    pub(super) private_tmp: Option<*const libc::c_char>,
    pub(super) set_groups: bool,
    pub(super) groups: *const [libc::gid_t],
    pub(super) gid: Option<u32>,
    pub(super) uid: Option<u32>,
    pub(super) capabilities: Option<u64>,
    pub(super) last_cap: u32,
    pub(super) cgroup_fds: *const [i32],
    pub(super) limits: *const [(libc::__rlimit_resource_t, libc::rlimit)],
    pub(super) death_signal: Option<i32>,
    pub(super) parent: libc::pid_t,
    pub(super) stdio: [i32; 3],
    /// With a table shared with ward (`CLONE_FILES`): the descriptors the child keeps of
    /// it are those below this one.
    pub(super) files_bound: Option<u32>,
    pub(super) umask: libc::mode_t,
    pub(super) no_new_privs: bool,
    pub(super) cwd: *const libc::c_char,
    pub(super) program: *const libc::c_char,
    pub(super) argv: *const *const libc::c_char,
    pub(super) envp: *const *const libc::c_char,
    pub(super) report: *mut Report,
}

/// The child's side, in the order `spawn`'s notes give. Never returns.
///
/// # Safety
/// Must be called only in the child right after the clone, with valid NUL-terminated
/// strings and NULL-terminated pointer arrays.
unsafe fn child_after_clone(plan: &ChildPlan) -> ! {
    let ChildPlan {
        hold,
        gate,
        private_tmp,
        set_groups,
        groups,
        gid,
        uid,
        capabilities,
        last_cap,
        cgroup_fds,
        limits,
        death_signal,
        parent,
        stdio,
        files_bound,
        umask,
        no_new_privs,
        cwd,
        program,
        argv,
        envp,
        report,
    } = *plan;
    // SAFETY: the report and the slices are the parent's, kept until this child execs or
    // exits.
    let (groups, cgroup_fds, limits) = unsafe {
        std::ptr::write_volatile(&raw mut (*report).ran, 1);
        (&*groups, &*cgroup_fds, &*limits)
    };
    let fail = |step: ChildStep| -> ! {
        // SAFETY: see `report_and_exit`.
        unsafe { report_and_exit(report, step) }
    };
    // SAFETY: only async-signal-safe libc calls on values prepared before the clone; `fail`
    // leaves the report and calls `_exit`.
    unsafe {
        // The hold is the parent's, alive while it sleeps (CLONE_VFORK).
        if let Some(hold) = hold
            && !(*hold).release_in_child()
        {
            fail(ChildStep::Affinity);
        }
        for &fd in cgroup_fds {
            if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                fail(ChildStep::JoinCgroup);
            }
        }
        for (resource, lim) in limits {
            if libc::setrlimit(*resource, lim) < 0 {
                fail(ChildStep::Rlimit);
            }
        }
        if libc::setsid() < 0 {
            fail(ChildStep::NewSession);
        }
        if let Some(sig) = death_signal {
            // If ward died between the clone and here, the signal would never come: check.
            if libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong) < 0 {
                fail(ChildStep::ParentDeath);
            }
            if libc::getppid() != parent {
                *libc::__errno_location() = libc::ESRCH;
                fail(ChildStep::ParentDeath);
            }
        }
        if let Some(tmp) = private_tmp {
            // Slave propagation: the host's later mounts still reach the process, and its
            // `/tmp` never reaches the host.
            if libc::unshare(libc::CLONE_NEWNS) < 0
                || libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_SLAVE,
                    std::ptr::null(),
                ) < 0
                || libc::mount(
                    tmp,
                    c"/tmp".as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                ) < 0
            {
                fail(ChildStep::MountNamespace);
            }
        }
        // The first change of a descriptor: a child on ward's own table leaves it now, with
        // a copy of the few below the bound, its stdio among them.
        if let Some(bound) = files_bound
            && !crate::stdio_slots::unshare_below(bound)
        {
            fail(ChildStep::CloseFds);
        }
        for (target, &fd) in stdio.iter().enumerate() {
            // dup2 onto itself would keep CLOEXEC; the source fds are never 0..2 here
            // because the daemon holds its own stdio open.
            if libc::dup2(fd, target as i32) < 0 {
                fail(ChildStep::Stdio);
            }
        }
        // Nothing of ward's but stdio reaches the program, whether it was marked CLOEXEC
        // or not (an inherited descriptor of `ward run`'s caller, say). Kernels before 5.9
        // have no close_range: there, CLOEXEC is what closes them.
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) < 0
            && *libc::__errno_location() != libc::ENOSYS
        {
            fail(ChildStep::CloseFds);
        }
        // Exec keeps ignored signals ignored and the blocked mask blocked: give the program
        // the defaults it expects (Rust's runtime ignores SIGPIPE, for one). Dispositions
        // first, while everything is still blocked: a handler of ward's must never run here.
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        // The daemon creates its own files private (umask 077); services get theirs.
        libc::umask(umask);
        if let Some(keep) = capabilities {
            // The bounding set first, while CAP_SETPCAP is still there: no exec of a file
            // with capabilities can bring the others back.
            for cap in 0..=last_cap {
                if keep & (1 << cap) == 0
                    && libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) < 0
                    && *libc::__errno_location() != libc::EINVAL
                {
                    fail(ChildStep::Capabilities);
                }
            }
            // Keep the permitted set across the change of uid, to narrow it below.
            if uid.is_some() && libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 {
                fail(ChildStep::Capabilities);
            }
        }
        if set_groups && libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) < 0 {
            fail(ChildStep::Groups);
        }
        if let Some(gid) = gid
            && libc::syscall(libc::SYS_setresgid, gid, gid, gid) < 0
        {
            fail(ChildStep::Gid);
        }
        if let Some(uid) = uid
            && libc::syscall(libc::SYS_setresuid, uid, uid, uid) < 0
        {
            fail(ChildStep::Uid);
        }
        if let Some(keep) = capabilities {
            // Effective, permitted and inheritable become exactly the kept set; ambient
            // needs them in permitted and inheritable, and carries them across exec.
            let header = CapHeader {
                version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
                pid: 0,
            };
            let (low, high) = (keep as u32, (keep >> 32) as u32);
            let data = [
                CapData {
                    effective: low,
                    permitted: low,
                    inheritable: low,
                },
                CapData {
                    effective: high,
                    permitted: high,
                    inheritable: high,
                },
            ];
            if libc::syscall(libc::SYS_capset, &header, data.as_ptr()) < 0 {
                fail(ChildStep::Capabilities);
            }
            for cap in 0..=last_cap {
                if keep & (1 << cap) != 0
                    && libc::prctl(
                        libc::PR_CAP_AMBIENT,
                        libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                        cap as libc::c_ulong,
                        0,
                        0,
                    ) < 0
                {
                    fail(ChildStep::Capabilities);
                }
            }
        }
        if no_new_privs && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 {
            fail(ChildStep::NoNewPrivs);
        }
        if libc::chdir(cwd) < 0 {
            fail(ChildStep::Chdir);
        }
        let Some(gate) = gate else {
            libc::execve(program, argv, envp);
            fail(ChildStep::Exec)
        };
        // A parent that did not sleep goes on from here, on this thread's memory and so
        // on its errno too (the clone shares the thread's TLS): this child has its own
        // descriptor table and every step that could fail behind it, and the exec reports
        // its error without writing errno, which the parent may be writing meanwhile.
        crate::vfork::open_gate(gate);
        let errno = crate::vfork::execve_raw(program, argv, envp);
        report_and_exit_with(report, ChildStep::Exec, errno)
    }
}

/// Leaves `step` and `errno` in the report the parent reads and exits 127, like a shell
/// whose exec failed.
///
/// # Safety
/// Child-after-clone only, with the plan's report pointer.
unsafe fn report_and_exit(report: *mut Report, step: ChildStep) -> ! {
    // SAFETY: the errno location is async-signal-safe; see `report_and_exit_with`.
    unsafe { report_and_exit_with(report, step, *libc::__errno_location()) }
}

/// Leaves `step` and `errno` in the report and exits 127.
///
/// # Safety
/// Child-after-clone only, with the plan's report pointer.
unsafe fn report_and_exit_with(report: *mut Report, step: ChildStep, errno: i32) -> ! {
    // SAFETY: _exit is async-signal-safe; `report` is the parent's, kept until this exit.
    unsafe {
        std::ptr::write_volatile(
            report,
            Report {
                ran: 1,
                step: step as u8,
                errno,
            },
        );
        libc::_exit(127)
    }
}
