//! Who a process is, for certain: PID + start time + boot id.
//!
//! A bare PID is a name the kernel reuses; the start time (field 22 of `/proc/PID/stat`,
//! in clock ticks since boot) and the boot id together pin one process in history.

use std::io;

/// A process named so that a reused PID can never be mistaken for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProcessIdentity {
    /// The PID at the time it was read.
    pub pid: u32,
    /// Field 22 of `/proc/PID/stat`: start time in clock ticks since boot.
    pub start_time: u64,
    /// `/proc/sys/kernel/random/boot_id` of the boot this process belongs to. Shared:
    /// every process ward starts has the same one, and a string of its own each was
    /// 280 KB at 5,000 units.
    pub boot_id: std::sync::Arc<str>,
}

/// The few fields of `/proc/PID/stat` ward needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// The command name, as the kernel keeps it (at most 15 bytes).
    pub comm: String,
    /// The one-letter state (R, S, D, T, t, Z, X, ...).
    pub state: char,
    /// Parent PID.
    pub ppid: u32,
    /// Start time in clock ticks since boot.
    pub start_time: u64,
}

/// Parses the content of `/proc/PID/stat`.
///
/// The command name sits in parentheses and may itself contain spaces and `)`, so the
/// fields are counted from the *last* `)`. It is taken as bytes: the kernel writes the
/// name as the program set it, and cuts an executable's file name at 15 bytes, even in
/// the middle of a character, so a name such as `xсервис-проверка` makes the file
/// invalid UTF-8. The name is kept lossily; the fields after it are always ASCII.
/// Hand-written because this runs for every process ward inspects and no crate offers a
/// parser this small without a full /proc model.
pub fn parse_stat(content: &[u8]) -> Option<Stat> {
    let open = content.iter().position(|&b| b == b'(')?;
    let close = content.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let comm = String::from_utf8_lossy(&content[open + 1..close]).into_owned();
    let mut rest = fields_after(content, close)?;
    // Field 3 is the state; fields are numbered from 1 with pid = 1, comm = 2.
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    // Fields 5..=21 lie between ppid (4) and starttime (22): skip 17 of them.
    let start_time = rest.nth(17)?.parse().ok()?;
    Some(Stat {
        comm,
        state,
        ppid,
        start_time,
    })
}

/// The fields of `/proc/PID/stat` that follow the command name, from field 3 (the
/// state) on: counted from the *last* `)`, since the name may hold spaces and `)`. What
/// every reader of the file splits it with (`parse_stat`, the usage samples).
pub(crate) fn fields_after_comm(content: &[u8]) -> Option<std::str::SplitAsciiWhitespace<'_>> {
    fields_after(content, content.iter().rposition(|&b| b == b')')?)
}

/// The fields after the command name that ends at `close`, the last `)`.
fn fields_after(content: &[u8], close: usize) -> Option<std::str::SplitAsciiWhitespace<'_>> {
    Some(
        std::str::from_utf8(&content[close + 1..])
            .ok()?
            .split_ascii_whitespace(),
    )
}

/// The boot clock read around a clone, for the start time of the process it makes.
///
/// The kernel stamps a new process with the boot clock while it makes it
/// (`start_boottime`, in `copy_process`), and `/proc/PID/stat` gives that stamp in clock
/// ticks (field 22; in the reader's time namespace, as the clock read here is). When the
/// readings before and after the clone fall in one tick, that tick is the start time,
/// exactly as `/proc` would give it, without its read: about 10 µs of a spawn, for a file
/// the kernel formats whole. Otherwise (one in a hundred clones at most, or a clone that
/// waited for an exec) the caller reads `/proc`.
#[derive(Copy, Clone, Debug)]
pub(crate) struct StartWindow(u64);

impl StartWindow {
    /// Reads the clock before the clone.
    pub(crate) fn open() -> StartWindow {
        StartWindow(boot_ticks())
    }

    /// Reads it after: the start time of the process made since `open`, if one tick
    /// holds both readings.
    pub(crate) fn close(self) -> Option<u64> {
        (boot_ticks() == self.0).then_some(self.0)
    }
}

/// The boot clock in the ticks `/proc/PID/stat` counts starts in.
fn boot_ticks() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    let ns = now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64;
    ns / (1_000_000_000 / rustix::param::clock_ticks_per_second().max(1))
}

/// Reads and parses `/proc/PID/stat`.
pub fn read_stat(pid: u32) -> io::Result<Stat> {
    let content = crate::kfile::read_bytes(format!("/proc/{pid}/stat"))?;
    parse_stat(&content).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unparsable /proc/{pid}/stat"),
        )
    })
}

/// What `/proc/PID/stat` says a process is doing, shown beside ward's own state.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ProcState {
    /// `R`: on a CPU or ready to run.
    Running,
    /// `S`: waiting for an event.
    Sleeping,
    /// `D`: in uninterruptible sleep, usually I/O; even SIGKILL waits for it.
    DiskSleep,
    /// `T`: stopped by a signal (SIGSTOP, SIGTSTP).
    Stopped,
    /// `t`: stopped by a debugger.
    Traced,
    /// `Z`: exited, not yet reaped by its parent.
    Zombie,
    /// `X`: being torn down.
    Dead,
    /// `I`: an idle kernel thread.
    Idle,
    /// No process with this PID.
    NotFound,
}

impl ProcState {
    /// Reads the state of `pid` now.
    pub fn of(pid: u32) -> ProcState {
        match read_stat(pid) {
            Ok(stat) => ProcState::from_letter(stat.state),
            Err(_) => ProcState::NotFound,
        }
    }

    /// The state of each of `pids`, in order. The kernel formats all of `/proc/PID/stat`
    /// to tell one letter, about 10 µs a process: for thousands of them (`ward status` of
    /// every unit) the reads are split over the machine's cores.
    pub fn of_all(pids: &[u32]) -> Vec<ProcState> {
        const SERIAL: usize = 256;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        if pids.len() < SERIAL || threads < 2 {
            return pids.iter().map(|&p| ProcState::of(p)).collect();
        }
        let chunk = pids.len().div_ceil(threads);
        std::thread::scope(|s| {
            let parts: Vec<_> = pids
                .chunks(chunk)
                .map(|part| {
                    let read = s.spawn(move || part.iter().map(|&p| ProcState::of(p)).collect());
                    (read, part.len())
                })
                .collect();
            // A part that could not be read still takes its places, so states stay in order.
            parts
                .into_iter()
                .flat_map(|(read, len)| {
                    read.join()
                        .unwrap_or_else(|_| vec![ProcState::NotFound; len])
                })
                .collect()
        })
    }

    /// Maps the letter of field 3; letters of old kernels map to their modern meaning.
    pub fn from_letter(c: char) -> ProcState {
        match c {
            'R' => ProcState::Running,
            'S' | 'W' | 'P' => ProcState::Sleeping,
            'D' => ProcState::DiskSleep,
            'T' => ProcState::Stopped,
            't' => ProcState::Traced,
            'Z' => ProcState::Zombie,
            'X' | 'x' => ProcState::Dead,
            'I' => ProcState::Idle,
            _ => ProcState::Sleeping,
        }
    }

    /// Whether a process exists and has not exited (a zombie has).
    pub fn is_alive(self) -> bool {
        !matches!(
            self,
            ProcState::NotFound | ProcState::Zombie | ProcState::Dead
        )
    }

    /// The word `ward status` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            ProcState::Running => "running",
            ProcState::Sleeping => "sleeping",
            ProcState::DiskSleep => "disk sleep",
            ProcState::Stopped => "stopped",
            ProcState::Traced => "traced",
            ProcState::Zombie => "zombie",
            ProcState::Dead => "dead",
            ProcState::Idle => "idle",
            ProcState::NotFound => "not found",
        }
    }
}

/// The id of the running boot, read once: it cannot change while this process lives.
pub fn boot_id() -> io::Result<std::sync::Arc<str>> {
    static BOOT_ID: std::sync::OnceLock<std::sync::Arc<str>> = std::sync::OnceLock::new();
    if let Some(id) = BOOT_ID.get() {
        return Ok(id.clone());
    }
    let id = crate::kfile::read("/proc/sys/kernel/random/boot_id")?;
    Ok(BOOT_ID.get_or_init(|| id.trim().into()).clone())
}

impl ProcessIdentity {
    /// The identity of a process just spawned: its start time as the spawn saw it when
    /// it could (`Spawned::start_time`), from `/proc` otherwise.
    pub fn of_spawned(spawned: &crate::spawn::Spawned) -> io::Result<ProcessIdentity> {
        let pid = spawned.pidfd.pid();
        match spawned.start_time {
            Some(start_time) => Ok(ProcessIdentity {
                pid,
                start_time,
                boot_id: boot_id()?,
            }),
            None => ProcessIdentity::of(pid),
        }
    }

    /// Reads the identity of the process that has `pid` now.
    pub fn of(pid: u32) -> io::Result<ProcessIdentity> {
        let stat = read_stat(pid)?;
        Ok(ProcessIdentity {
            pid,
            start_time: stat.start_time,
            boot_id: boot_id()?,
        })
    }

    /// True while the process this identity names still exists under its PID.
    pub fn is_alive(&self) -> bool {
        match (read_stat(self.pid), boot_id()) {
            (Ok(stat), Ok(boot)) => {
                stat.start_time == self.start_time && boot == self.boot_id && stat.state != 'Z'
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sleeps that are killed and reaped when the test ends, pass or fail.
    struct Sleeps(Vec<std::process::Child>);

    impl Drop for Sleeps {
        fn drop(&mut self) {
            for c in &mut self.0 {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }

    #[test]
    fn states_of_many_processes_come_back_in_order() {
        // More than the serial cut-off, so the reads are split over threads.
        let mut sleeps = Sleeps(
            (0..300)
                .map(|_| {
                    std::process::Command::new("sleep")
                        .arg("30")
                        .spawn()
                        .expect("spawn sleep")
                })
                .collect(),
        );
        let gone = 150;
        sleeps.0[gone].kill().expect("kill");
        sleeps.0[gone].wait().expect("reap");
        // Every seventh is stopped, so a state out of place shows as a wrong letter. A
        // running one may be in any live state: R or D while exec loads it, S after.
        let stopped = |i: usize| i % 7 == 1 && i != gone;
        let stop = ward_core::Signal::from_number(19).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        for (i, c) in sleeps.0.iter().enumerate().filter(|&(i, _)| stopped(i)) {
            crate::Pidfd::open(c.id())
                .unwrap()
                .send_signal(stop)
                .unwrap();
            while ProcState::of(c.id()) != ProcState::Stopped {
                assert!(std::time::Instant::now() < deadline, "{i} never stopped");
                std::thread::yield_now();
            }
        }
        let pids: Vec<u32> = sleeps.0.iter().map(|c| c.id()).collect();
        let states = ProcState::of_all(&pids);
        assert_eq!(states.len(), pids.len());
        for (i, state) in states.iter().enumerate() {
            let fits = if i == gone {
                *state == ProcState::NotFound
            } else if stopped(i) {
                *state == ProcState::Stopped
            } else {
                matches!(
                    state,
                    ProcState::Running | ProcState::Sleeping | ProcState::DiskSleep
                )
            };
            assert!(fits, "{i}: {state:?}");
        }
    }

    #[test]
    fn parses_a_name_with_parens_and_spaces() {
        let line = "1234 (we ird) (x) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10 18446744073709551615";
        let s = parse_stat(line.as_bytes()).unwrap();
        assert_eq!(s.comm, "we ird) (x");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.start_time, 98765);
    }

    #[test]
    fn a_program_whose_name_the_kernel_cuts_inside_a_character_is_still_seen() {
        // The kernel keeps the first 15 bytes of the file name: here `x`, six Cyrillic
        // letters of two bytes, `-`, and the first byte of `п`. That is not UTF-8, and
        // it must not make a live process look gone.
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("xсервис-проверка");
        std::os::unix::fs::symlink("/bin/sleep", &name).unwrap();
        let mut sleeps = Sleeps(vec![
            std::process::Command::new(&name)
                .arg("100")
                .spawn()
                .unwrap(),
        ]);
        let pid = sleeps.0[0].id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let stat = loop {
            let raw = std::fs::read(format!("/proc/{pid}/stat")).unwrap();
            if raw.starts_with(format!("{pid} (x").as_bytes()) {
                assert!(std::str::from_utf8(&raw).is_err(), "{raw:?}");
                break read_stat(pid).unwrap();
            }
            // Before the exec the child still bears the test's name.
            assert!(std::time::Instant::now() < deadline, "never exec'd");
            std::thread::yield_now();
        };
        assert_eq!(stat.comm, "xсервис-\u{fffd}");
        assert!(ProcState::of(pid).is_alive());
        let me = ProcessIdentity::of(pid).unwrap();
        assert!(me.is_alive());
        sleeps.0[0].kill().unwrap();
        sleeps.0[0].wait().unwrap();
        assert!(!me.is_alive());
    }

    #[test]
    fn rejects_truncated() {
        assert_eq!(parse_stat(b"12 (a) S 1 2"), None);
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b"12 )a( S"), None);
    }

    #[test]
    fn process_states() {
        // The test harness's main thread, which /proc/PID/stat describes, is waiting.
        assert_ne!(ProcState::of(std::process::id()), ProcState::NotFound);
        assert_eq!(ProcState::of(u32::MAX), ProcState::NotFound);
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let pid = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while ProcState::of(pid) != ProcState::Sleeping {
            assert!(std::time::Instant::now() < deadline, "sleep never slept");
            std::thread::yield_now();
        }
        let pidfd = crate::Pidfd::open(pid).unwrap();
        pidfd
            .send_signal(ward_core::Signal::from_number(19).unwrap())
            .unwrap();
        while ProcState::of(pid) != ProcState::Stopped {
            assert!(std::time::Instant::now() < deadline, "never stopped");
            std::thread::yield_now();
        }
        child.kill().unwrap();
        while ProcState::of(pid) != ProcState::Zombie {
            assert!(std::time::Instant::now() < deadline, "never a zombie");
            std::thread::yield_now();
        }
        child.wait().unwrap();
        assert_eq!(ProcState::of(pid), ProcState::NotFound);
    }

    #[test]
    fn a_reused_pid_is_refused() {
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let me = ProcessIdentity::of(child.id()).unwrap();
        assert!(crate::Pidfd::open_identified(me.pid, me.start_time).is_ok());
        // The same PID with another start time is what a reused PID looks like.
        let err = crate::Pidfd::open_identified(me.pid, me.start_time + 1).unwrap_err();
        assert!(err.to_string().contains("another process"), "{err}");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn reads_own_identity() {
        let me = ProcessIdentity::of(std::process::id()).unwrap();
        assert!(me.start_time > 0);
        assert!(me.is_alive());
        let wrong = ProcessIdentity {
            start_time: me.start_time + 1,
            ..me.clone()
        };
        assert!(!wrong.is_alive());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Bytes a process name may hold, weighted towards those that confuse a parser.
        fn comm_byte() -> impl Strategy<Value = u8> {
            prop_oneof![
                3 => prop::sample::select(b" ()\n\t0123456789SZ".to_vec()),
                // Lead bytes of multi-byte characters, alone: a name cut by the kernel.
                1 => prop::sample::select(vec![0xd0u8, 0xd1, 0xe2, 0xf0, 0xff]),
                2 => any::<u8>(),
            ]
        }

        /// A line as the kernel writes it: the name as given, every field in its place.
        fn stat_line(
            pid: u32,
            comm: &[u8],
            state: char,
            ppid: u32,
            between: &[i64],
            start_time: u64,
            tail: &[u64],
        ) -> Vec<u8> {
            let mut line = format!("{pid} (").into_bytes();
            line.extend_from_slice(comm);
            line.extend_from_slice(format!(") {state} {ppid}").as_bytes());
            for field in between {
                line.extend_from_slice(format!(" {field}").as_bytes());
            }
            line.extend_from_slice(format!(" {start_time}").as_bytes());
            for field in tail {
                line.extend_from_slice(format!(" {field}").as_bytes());
            }
            line.push(b'\n');
            line
        }

        proptest! {
            #[test]
            fn stat_parsing_is_total(content in prop::collection::vec(any::<u8>(), 0..512)) {
                let _ = parse_stat(&content);
            }

            #[test]
            fn stat_fields_are_found_whatever_the_name(
                pid in any::<u32>(),
                comm in prop::collection::vec(comm_byte(), 0..40),
                state in prop::sample::select(b"RSDTtZXxIWP".to_vec()),
                ppid in any::<u32>(),
                between in prop::collection::vec(any::<i64>(), 17),
                start_time in any::<u64>(),
                tail in prop::collection::vec(any::<u64>(), 0..31),
            ) {
                let state = char::from(state);
                let line = stat_line(pid, &comm, state, ppid, &between, start_time, &tail);
                let stat = parse_stat(&line);
                prop_assert_eq!(
                    stat,
                    Some(Stat {
                        comm: String::from_utf8_lossy(&comm).into_owned(),
                        state,
                        ppid,
                        start_time,
                    })
                );
            }

            #[test]
            fn a_line_cut_before_the_start_time_is_refused(
                comm in prop::collection::vec(comm_byte(), 0..40),
                between in prop::collection::vec(any::<i64>(), 17),
                start_time in any::<u64>(),
                cut in any::<prop::sample::Index>(),
            ) {
                let line = stat_line(1, &comm, 'S', 1, &between, start_time, &[]);
                // Everything up to the space before the start time.
                let before_start = line.len() - format!(" {start_time}\n").len();
                let cut = cut.index(before_start + 1);
                prop_assert_eq!(parse_stat(&line[..cut]), None);
            }
        }
    }
}
