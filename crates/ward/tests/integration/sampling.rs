//! Usage samples read back against what the kernel says of the same processes.

use std::fs;

use crate::fixture::{Ward, testbin, wait_for};

/// utime + stime of `pid`, in seconds.
fn cpu_seconds_of(pid: u32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after = &stat[stat.rfind(')').expect(")") + 1..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = (f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()) as f64;
    ticks / 100.0
}

#[test]
fn memory_and_cpu_samples_match_what_the_kernel_says() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[supervisor]\nsample_interval = \"200ms\"\nsample_pss = true\n\
         [services.hog]\ncommand = [\"{bin}\", \"hog\", \"100\"]\n\
         [services.spin]\ncommand = [\"{bin}\", \"spin\"]\n\
         [services.idle]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    wait_for("hog to hold its memory", || {
        w.log("hog").contains("holding 100 MiB").then_some(())
    });
    // A sample taken after the allocation: within 5 % of 100 MiB (plus the program).
    let hog = w.wait_unit("hog", "a sample of its memory", |s| {
        s.usage
            .as_ref()
            .is_some_and(|u| u.memory_rss_bytes > 90 << 20)
    });
    let u = hog.usage.expect("usage");
    let mib = u.memory_rss_bytes as f64 / (1 << 20) as f64;
    assert!((100.0..=105.0).contains(&mib), "{mib} MiB: {u:?}");
    assert!(u.memory_peak_rss_bytes >= u.memory_rss_bytes);
    // Its pages are its own: proportional memory is close to resident memory.
    let pss = u.memory_pss_bytes.expect("pss, asked for") as f64 / (1 << 20) as f64;
    assert!((95.0..=105.0).contains(&pss), "{pss} MiB PSS: {u:?}");
    assert_eq!(u.processes, 1);
    assert!(u.threads >= 1 && u.fds >= 3, "{u:?}");

    // CPU: two samples in a row agree with their own numbers, and with the kernel's count
    // for the process read right after.
    let first = w.wait_unit("spin", "a CPU percent", |s| {
        s.usage.as_ref().is_some_and(|u| u.cpu_percent.is_some())
    });
    let a = first.usage.clone().expect("usage");
    let second = w.wait_unit("spin", "the next sample", |s| {
        s.usage
            .as_ref()
            .is_some_and(|u| u.sampled_at_ms > a.sampled_at_ms)
    });
    let b = second.usage.expect("usage");
    let pct = b.cpu_percent.expect("percent");
    assert!(
        pct > 30.0 && pct <= 105.0,
        "a busy loop at {pct}% of a core"
    );
    let kernel = cpu_seconds_of(second.pid.expect("pid"));
    assert!(
        kernel >= b.cpu_seconds - 0.02 && kernel - b.cpu_seconds < 5.0,
        "sampled {} s, kernel {kernel} s",
        b.cpu_seconds
    );
    // An idle process uses next to nothing.
    let idle = w.wait_unit("idle", "a CPU percent", |s| {
        s.usage.as_ref().is_some_and(|u| u.cpu_percent.is_some())
    });
    assert!(idle.usage.unwrap().cpu_percent.unwrap() < 5.0);
    // The table shows the columns.
    let table = w.ok(&["status"]);
    assert!(
        table.lines().next().unwrap().contains("CPU") && table.contains("MiB"),
        "{table}"
    );
}

#[test]
fn with_sampling_off_there_is_no_usage() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[supervisor]\nsample_interval = \"0s\"\n\
         [services.idle]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    // Five of the shortest intervals (100ms) on: `0s` taken for anything but off would
    // have sampled by now.
    let s = w.wait_unit("idle", "up for 500ms", |s| {
        s.uptime_ms.is_some_and(|u| u >= 500)
    });
    assert!(s.usage.is_none(), "{s:?}");
}
