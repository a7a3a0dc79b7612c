//! What a set of processes uses now: CPU time, resident (and proportional) memory,
//! threads, open descriptors and I/O, read per process from `/proc`, and the CPU time of
//! a cgroup v2 directory, which counts processes that have ended too.

use std::path::Path;

/// The sum over a set of processes at one moment.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time, user and system, in nanoseconds.
    pub cpu_ns: u64,
    /// Resident memory.
    pub rss_bytes: u64,
    /// Proportional memory (shared pages divided among their users), when asked for.
    pub pss_bytes: Option<u64>,
    /// Threads.
    pub threads: u64,
    /// Open descriptors.
    pub fds: u64,
    /// Bytes read from storage (`read_bytes` of `/proc/PID/io`).
    pub read_bytes: u64,
    /// Bytes written to storage.
    pub write_bytes: u64,
    /// Processes that could be read.
    pub processes: u64,
}

/// The fields of `/proc/PID/stat` sampling needs: utime, stime (ticks), threads, RSS
/// (pages), split as `identity::parse_stat` splits the file.
fn parse_stat_usage(content: &[u8]) -> Option<(u64, u64, u64, u64)> {
    let fields: Vec<&str> = crate::identity::fields_after_comm(content)?.collect();
    // Field N (numbered from 1, pid = 1, comm = 2) is fields[N - 3].
    let at = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some((at(14)?, at(15)?, at(20)?, at(24)?))
}

/// `read_bytes` and `write_bytes` of `/proc/PID/io`.
fn parse_io(text: &str) -> (u64, u64) {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (field("read_bytes:"), field("write_bytes:"))
}

/// `Pss:` of `/proc/PID/smaps_rollup`, in bytes.
fn parse_pss(text: &str) -> Option<u64> {
    let kb: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// What `pids` use now; processes that ended meanwhile are left out. PSS walks every
/// mapping of every process, so it is read only when `pss` asks.
pub fn of_processes(pids: &[u32], pss: bool) -> Usage {
    let ticks = rustix::param::clock_ticks_per_second().max(1);
    let page = rustix::param::page_size() as u64;
    let mut u = Usage {
        pss_bytes: pss.then_some(0),
        ..Usage::default()
    };
    for &pid in pids {
        let Ok(stat) = crate::kfile::read_bytes(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((utime, stime, threads, rss)) = parse_stat_usage(&stat) else {
            continue;
        };
        u.processes += 1;
        u.cpu_ns += (utime + stime) * (1_000_000_000 / ticks);
        u.threads += threads;
        u.rss_bytes += rss * page;
        if let Ok(io) = crate::kfile::read(format!("/proc/{pid}/io")) {
            let (r, w) = parse_io(&io);
            u.read_bytes += r;
            u.write_bytes += w;
        }
        if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
            u.fds += dir.count() as u64;
        }
        if let Some(total) = u.pss_bytes.as_mut()
            && let Ok(text) = crate::kfile::read(format!("/proc/{pid}/smaps_rollup"))
        {
            *total += parse_pss(&text).unwrap_or(0);
        }
    }
    u
}

/// The CPU time of everything that ever ran in a cgroup v2 directory (`usage_usec` of
/// `cpu.stat`, kept by the kernel without the cpu controller), in nanoseconds.
pub fn cgroup_cpu_ns(dir: &Path) -> Option<u64> {
    let text = crate::kfile::read(dir.join("cpu.stat")).ok()?;
    let usec: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))?
        .trim()
        .parse()
        .ok()?;
    Some(usec * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fields_it_needs() {
        let line = b"1234 (we ird) (x) S 1 1234 1234 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 7 0 98765 1000 2560 18446744073709551615";
        assert_eq!(parse_stat_usage(line), Some((150, 25, 7, 2560)));
        let io = "rchar: 10\nwchar: 20\nsyscr: 1\nsyscw: 2\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n";
        assert_eq!(parse_io(io), (4096, 8192));
        assert_eq!(
            parse_pss("Rss: 10 kB\nPss:                 123 kB\n"),
            Some(123 * 1024)
        );
    }

    #[test]
    fn this_process_uses_memory_threads_and_descriptors() {
        let u = of_processes(&[std::process::id(), u32::MAX - 1], true);
        assert_eq!(u.processes, 1);
        assert!(u.rss_bytes > 1 << 20, "{u:?}");
        assert!(u.threads >= 1 && u.fds >= 3, "{u:?}");
        assert!(u.pss_bytes.is_some_and(|p| p > 0), "{u:?}");
    }
}
