//! A child that shares ward's memory until it execs (`CLONE_VM | CLONE_VFORK`, as
//! `posix_spawn` does), on a stack of its own, with its pidfd; born straight into its
//! cgroup where the kernel can.
//!
//! Joining a cgroup by writing `cgroup.procs` takes the kernel's lock for moving tasks
//! between cgroups for writing, and unless the cgroup2 mount has `favordynmods` that waits
//! for an RCU grace period first: about 9 ms here, most of a restart. A child cloned
//! straight into its cgroup (`clone3` with `CLONE_INTO_CGROUP`) takes that lock only for
//! reading, so nothing waits (Linux 5.7 and later; older kernels answer `ENOSYS` or
//! `E2BIG` and the caller joins by writing instead).
//!
//! `clone3` is written by hand because no crate offers it: glibc keeps its `clone3`
//! private, and `CLONE_VM` with a stack of the child's own needs the child to switch to
//! that stack and call its entry before any compiled code of the parent's runs in it,
//! which only a few instructions around the system call can do (glibc's own `clone3` is
//! written in assembly for the same reason).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Enough for the child's few libc calls; the guard page below it turns an overflow into
/// a fault of the child instead of a write into ward's memory.
const STACK_SIZE: usize = 64 * 1024;

/// The stack a cloned child runs on until it execs. A waiting thread maps one on its
/// first spawn and keeps it, since CLONE_VFORK lets it spawn one child at a time; a child
/// the thread does not wait for gets one of its own (`ChildStack::take`), kept until that
/// child has exec'd.
pub(crate) struct ChildStack {
    base: std::cell::Cell<*mut libc::c_void>,
}

impl ChildStack {
    const fn new() -> ChildStack {
        ChildStack {
            base: std::cell::Cell::new(std::ptr::null_mut()),
        }
    }

    /// A stack for one child: a spare one (`give_back`), or one mapped now.
    pub(crate) fn take() -> io::Result<ChildStack> {
        if let Some(stack) = SPARE_STACKS.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(stack);
        }
        let stack = ChildStack::new();
        stack.top()?;
        Ok(stack)
    }

    /// Keeps the stack of a child that has exec'd or exited for the next one. Unmapping
    /// it would flush the TLB of every CPU ward's threads ran on: measured on a start of
    /// 2,000 units, the mapping and unmapping of one stack per child took 6 % of the
    /// loop's time.
    pub(crate) fn give_back(self) {
        let mut spare = SPARE_STACKS.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < SPARE_MAX {
            spare.push(self);
        }
    }

    fn page() -> usize {
        // SAFETY: sysconf has no preconditions.
        unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
    }

    /// The highest address of the stack (stacks grow down), 16-byte aligned.
    fn top(&self) -> io::Result<*mut libc::c_void> {
        let len = STACK_SIZE + Self::page();
        if self.base.get().is_null() {
            // SAFETY: a fresh private anonymous mapping; the lowest page becomes the guard.
            unsafe {
                let base = libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                    -1,
                    0,
                );
                if base == libc::MAP_FAILED {
                    return Err(io::Error::last_os_error());
                }
                if libc::mprotect(base, Self::page(), libc::PROT_NONE) < 0 {
                    let e = io::Error::last_os_error();
                    libc::munmap(base, len);
                    return Err(e);
                }
                self.base.set(base);
            }
        }
        let top = self.base.get() as usize + len;
        Ok((top & !15) as *mut libc::c_void)
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        let base = self.base.get();
        if !base.is_null() {
            // SAFETY: the mapping made in `top`, unused now that its thread is ending.
            unsafe { libc::munmap(base, STACK_SIZE + Self::page()) };
        }
    }
}

// SAFETY: the stack is a private mapping owned by this value alone; no thread but the
// owner's maps, unmaps or hands it to a child.
unsafe impl Send for ChildStack {}

/// How many stacks of children that have exec'd are kept for the next ones.
const SPARE_MAX: usize = 8;

static SPARE_STACKS: std::sync::Mutex<Vec<ChildStack>> = std::sync::Mutex::new(Vec::new());

thread_local! {
    static CHILD_STACK: ChildStack = const { ChildStack::new() };
}

/// `struct clone_args` up to `cgroup` (`CLONE_ARGS_SIZE_VER2`, Linux 5.7).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// How the calling thread waits for the child it clones.
#[derive(Copy, Clone)]
pub(crate) enum Wait<'a> {
    /// Asleep until the child has exec'd or exited (`CLONE_VFORK`); the child runs on the
    /// thread's own child stack.
    Exec,
    /// Only until the child has done every step before its exec (it sets `done` to 2) or
    /// is gone: the child runs on `stack`, and once it has exec'd or exited the kernel
    /// writes 0 to `done` and wakes a futex waiting on it (`CLONE_CHILD_CLEARTID`, as a
    /// thread's join works). Both must stay in place until then.
    Detached {
        stack: &'a ChildStack,
        done: &'a AtomicU32,
    },
}

/// Set once the kernel has said it has no `clone3` into a cgroup; from then on every
/// spawn writes `cgroup.procs` without asking again.
static UNSUPPORTED: AtomicBool = AtomicBool::new(false);

/// Whether a spawn should try to have its child born in its cgroup.
pub(crate) fn into_cgroup_available() -> bool {
    cfg!(target_arch = "x86_64") && !UNSUPPORTED.load(Ordering::Relaxed)
}

/// What a failed `clone3` means for the spawn that tried it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Refusal {
    /// The kernel (or this build) has no `clone3` into a cgroup: never ask again.
    Unsupported,
    /// This cgroup cannot take the child at birth (not a v2 directory, one with
    /// controllers enabled for its children, no permission): join it by writing instead,
    /// so the child's step names what is wrong.
    ThisCgroup,
    /// The clone itself failed (no memory, no PIDs left): a failed spawn.
    Clone,
}

/// Sorts a `clone3` error. A pure decision, so each class is tested without a kernel that
/// refuses.
fn refusal(errno: i32) -> Refusal {
    match errno {
        libc::ENOSYS | libc::E2BIG | libc::EINVAL => Refusal::Unsupported,
        libc::EAGAIN | libc::ENOMEM | libc::EINTR => Refusal::Clone,
        _ => Refusal::ThisCgroup,
    }
}

/// Whether a refused clone into a cgroup fails the spawn (`Err`) or leaves the child to
/// join by writing (`Ok`); a kernel that has no such clone is remembered, and never asked
/// again.
pub(crate) fn after_refusal(e: io::Error) -> io::Result<()> {
    match refusal(e.raw_os_error().unwrap_or(0)) {
        Refusal::Clone => Err(e),
        Refusal::Unsupported => {
            UNSUPPORTED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Refusal::ThisCgroup => Ok(()),
    }
}

/// Clones a child with `flags | CLONE_INTO_CGROUP` that runs `entry(arg)` on the stack
/// `[stack, stack + size)` inside the cgroup directory `cgroup`: its PID and pidfd. With
/// `CLONE_VFORK` in `flags` it returns once the child has exec'd or exited; with
/// `CLONE_CHILD_CLEARTID`, the kernel clears `child_tid` then.
///
/// # Safety
/// `stack` must be a stack no one else uses, `size` bytes long with a 16-byte aligned
/// end; `entry` must never return into the caller's frame (it execs or exits) and touch
/// only what `arg` points to, which must stay valid while the child may read it. Signals
/// should be blocked around the call, as for `clone`.
#[cfg(target_arch = "x86_64")]
unsafe fn clone3_into(
    stack: *mut libc::c_void,
    size: usize,
    cgroup: i32,
    flags: libc::c_int,
    child_tid: *mut u32,
    entry: extern "C" fn(*mut libc::c_void) -> libc::c_int,
    arg: *mut libc::c_void,
) -> io::Result<(u32, i32)> {
    let mut pidfd: libc::c_int = -1;
    let args = CloneArgs {
        flags: flags as u64 | CLONE_INTO_CGROUP,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        child_tid: child_tid as u64,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack as u64,
        stack_size: size as u64,
        cgroup: cgroup as u64,
        ..CloneArgs::default()
    };
    let ret: i64;
    // SAFETY: the system call returns twice. In the parent it is an ordinary call that
    // leaves every register but rax, rcx and r11 as it was. In the child, which shares
    // this memory, the kernel has set the stack pointer to the new stack's end: the child
    // clears the frame pointer, calls `entry(arg)` from r12/r13 (kept across the call),
    // and exits with its result should it ever return. It never comes back into this
    // function's frame, which lives on the parent's stack.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "mov edi, eax",
            "mov eax, {exit}",
            "syscall",
            "ud2",
            "2:",
            exit = const libc::SYS_exit,
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") &args as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") arg,
            in("r13") entry,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    if ret < 0 {
        return Err(io::Error::from_raw_os_error(-ret as i32));
    }
    Ok((ret as u32, pidfd))
}

/// Other architectures join by writing `cgroup.procs`: the hand-written entry exists for
/// x86_64 alone, and `into_cgroup_available` says so.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn clone3_into(
    _stack: *mut libc::c_void,
    _size: usize,
    _cgroup: i32,
    _flags: libc::c_int,
    _child_tid: *mut u32,
    _entry: extern "C" fn(*mut libc::c_void) -> libc::c_int,
    _arg: *mut libc::c_void,
) -> io::Result<(u32, i32)> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// Sleeps while `word` holds `value`. The kernel's wake at a child's exec or exit
/// (`CLONE_CHILD_CLEARTID`) is on a shared futex, so this wait is not a private one; it
/// looks again every 100 ms all the same. A raw system call that leaves errno alone: a
/// detached child shares this thread's errno, and reads it after a failed step.
pub(crate) fn wait_while(word: &AtomicU32, value: u32) {
    use rustix::thread::futex;
    let limit = futex::Timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    while word.load(Ordering::Acquire) == value {
        let _ = futex::wait(word, futex::Flags::empty(), value, Some(&limit));
    }
}

/// Sleeps until the kernel has cleared `word`: the child has exec'd or exited.
pub(crate) fn wait_until_clear(word: &AtomicU32) {
    loop {
        match word.load(Ordering::Acquire) {
            0 => return,
            now => wait_while(word, now),
        }
    }
}

/// Sets a detached child's word to 2 (every step but the exec is done) and wakes the
/// parent waiting on it. Async-signal-safe, for the child; leaves errno alone.
///
/// # Safety
/// `word` must be the parent's, alive until the child has exec'd or exited.
pub(crate) unsafe fn open_gate(word: *const AtomicU32) {
    // SAFETY: the caller vouches for the word.
    let word = unsafe { &*word };
    word.store(2, Ordering::Release);
    let _ = rustix::thread::futex::wake(word, rustix::thread::futex::Flags::empty(), 1);
}

/// `execve` as a bare system call: its error is returned, not left in errno, which a
/// detached child shares with the thread that cloned it (and which that thread may be
/// writing meanwhile). Returns only on failure.
///
/// # Safety
/// As for `execve`: NUL-terminated strings, NULL-terminated arrays.
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn execve_raw(
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
) -> i32 {
    let ret: i64;
    // SAFETY: the system call reads the three pointers the caller vouches for; it leaves
    // every register but rax, rcx and r11 as it was.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") libc::SYS_execve => ret,
            in("rdi") program,
            in("rsi") argv,
            in("rdx") envp,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    (-ret) as i32
}

/// Other architectures never detach a child (`detaches`): there, the libc call.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe fn execve_raw(
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
) -> i32 {
    // SAFETY: as the caller vouches.
    unsafe {
        libc::execve(program, argv, envp);
        *libc::__errno_location()
    }
}

/// Whether a spawn may go on without waiting for its child's exec: only where the child
/// can exec without writing errno (`execve_raw`).
pub(crate) fn detaches() -> bool {
    cfg!(target_arch = "x86_64")
}

/// Runs `clone` with every signal blocked, so that no handler of ward's runs in the child
/// it makes, and puts the old mask back.
fn signals_blocked<T>(clone: impl FnOnce() -> T) -> T {
    // SAFETY: blocking every signal and restoring the old mask are plain syscalls on
    // values of this frame.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let made = clone();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        made
    }
}

/// Clones a child that runs `entry(arg)`, sharing this memory: its PID and the pidfd the
/// kernel opened for it. `wait` says whether the thread sleeps until the child has exec'd
/// or exited, on this thread's child stack, or only until it is about to exec, the child
/// on a stack of its own. With `cgroup`, a directory of the unified hierarchy, the child is born there
/// (`clone3`); the kernel's error says when it cannot be. With `share_files` the child
/// starts on ward's descriptor table itself (`CLONE_FILES`) rather than a copy of it, and
/// must leave it (`stdio_slots::unshare_below`) before it changes a descriptor.
///
/// # Safety
/// `entry` must never return into the caller's frame (it execs or exits), and touch only
/// what `arg` points to, which must stay valid while the child may read it: until this
/// returns with `Wait::Exec`, until the kernel clears `done` with `Wait::Detached`.
pub(crate) unsafe fn vfork(
    entry: extern "C" fn(*mut libc::c_void) -> libc::c_int,
    arg: *mut libc::c_void,
    cgroup: Option<i32>,
    share_files: bool,
    wait: Wait<'_>,
) -> io::Result<(u32, OwnedFd)> {
    let flags = libc::CLONE_VM
        | libc::CLONE_PIDFD
        | if share_files { libc::CLONE_FILES } else { 0 }
        | match wait {
            Wait::Exec => libc::CLONE_VFORK,
            Wait::Detached { .. } => libc::CLONE_CHILD_CLEARTID,
        };
    let child_tid = match wait {
        Wait::Exec => std::ptr::null_mut(),
        Wait::Detached { done, .. } => done.as_ptr(),
    };
    let clone_here = |top: *mut libc::c_void| match cgroup {
        // SAFETY: the stack is the child's alone, given by its lowest address and its
        // size; the caller vouches for `entry`, `arg` and `done`.
        Some(dir) => unsafe {
            clone3_into(
                top.cast::<u8>().sub(STACK_SIZE).cast(),
                STACK_SIZE,
                dir,
                flags,
                child_tid,
                entry,
                arg,
            )
        },
        None => {
            let mut pidfd: libc::c_int = -1;
            // SAFETY: clone runs `entry` on `top` with `arg`, as the caller promised they
            // stay valid; the error is read before anything else can change it.
            let pid = unsafe {
                libc::clone(
                    entry,
                    top,
                    flags | libc::SIGCHLD,
                    arg,
                    &mut pidfd as *mut libc::c_int,
                    std::ptr::null_mut::<libc::c_void>(),
                    child_tid,
                )
            };
            if pid < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok((pid as u32, pidfd))
            }
        }
    };
    let clone_on = |stack: &ChildStack| -> io::Result<(u32, OwnedFd)> {
        let top = stack.top()?;
        let (pid, pidfd) = signals_blocked(|| {
            let made = clone_here(top);
            // A detached child does every step that could fail while this thread waits
            // here, its signals still blocked: nothing of this thread's, not even a
            // signal handler, writes the errno the child shares with it meanwhile.
            if let (Ok(_), Wait::Detached { done, .. }) = (&made, wait) {
                wait_while(done, 1);
            }
            made
        })?;
        // SAFETY: the kernel opened `pidfd` for this child, and nothing else owns it.
        Ok((pid, unsafe { OwnedFd::from_raw_fd(pidfd) }))
    };
    match wait {
        Wait::Exec => CHILD_STACK.with(clone_on),
        Wait::Detached { stack, .. } => clone_on(stack),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_kernel_is_asked_once_and_a_busy_one_fails_the_spawn() {
        assert_eq!(refusal(libc::ENOSYS), Refusal::Unsupported);
        assert_eq!(refusal(libc::E2BIG), Refusal::Unsupported);
        assert_eq!(refusal(libc::EINVAL), Refusal::Unsupported);
        assert_eq!(refusal(libc::EAGAIN), Refusal::Clone);
        assert_eq!(refusal(libc::ENOMEM), Refusal::Clone);
        // A v1 directory, or a v2 one with controllers for its children: join by writing,
        // which names the cgroup's own error.
        assert_eq!(refusal(libc::EBADF), Refusal::ThisCgroup);
        assert_eq!(refusal(libc::EBUSY), Refusal::ThisCgroup);
        assert_eq!(refusal(libc::EOPNOTSUPP), Refusal::ThisCgroup);
        assert_eq!(refusal(libc::EACCES), Refusal::ThisCgroup);
    }

    #[test]
    fn the_arguments_are_the_size_the_kernel_knows_as_version_two() {
        assert_eq!(std::mem::size_of::<CloneArgs>(), 88);
    }
}
