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

/// The samples the daemon holds (`GET /v1/usage`), which is itself a look at the usage.
fn samples_of(w: &Ward, unit: &str) -> usize {
    let (code, body) = crate::fixture::socket_request(
        w,
        b"GET /v1/usage HTTP/1.1\r\nhost: ward\r\nconnection: close\r\n\r\n",
    );
    assert_eq!(code, 200, "{body}");
    let usage: ward_api::UsageResponse = serde_json::from_str(&body).expect("usage");
    usage
        .units
        .iter()
        .find(|u| u.unit == unit)
        .map_or(0, |u| u.points.len())
}

/// A daemon sampling every 100 ms (with `extra` in `[supervisor]`), started without a
/// look at the usage, and its unit `idle` up: it says so in its log, so that no test has
/// to look at the usage to know.
fn idle_unit_up(extra: &str) -> Ward {
    let w = Ward::up_unlooked(&format!(
        "[supervisor]\nsample_interval = \"100ms\"\n{extra}\
         [services.idle]\ncommand = [\"sh\", \"-c\", \"echo up; exec sleep 300\"]\n"
    ));
    wait_for("the service to be up", || {
        w.log("idle").contains("up").then_some(())
    });
    w
}

#[test]
fn by_default_rounds_wait_for_a_look_at_the_usage_and_run_from_then_on() {
    let w = idle_unit_up("");
    // Five intervals in which nobody looked: no round ran, the daemon slept. (Absence
    // can only be seen over a span; "always" below fills the same span with rounds.)
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(samples_of(&w, "idle"), 0, "sampled with nobody looking");
    // That look started the rounds: they come without another one.
    wait_for("rounds after the look", || {
        (samples_of(&w, "idle") >= 2).then_some(())
    });
    let s = w.wait_unit("idle", "its usage in the status", |s| s.usage.is_some());
    assert!(s.usage.unwrap().memory_rss_bytes > 0);
}

#[test]
fn with_sample_while_always_rounds_run_from_the_start() {
    let w = idle_unit_up("sample_while = \"always\"\n");
    // A span, not a poll: every question about the usage is a look, which starts the
    // rounds by itself, so the test may ask only once, after five intervals.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(samples_of(&w, "idle") >= 1, "no round in five intervals");
}

#[test]
fn a_wrong_sample_while_is_refused_with_the_choices() {
    let w = Ward::new(
        "[supervisor]\nsample_while = \"sometimes\"\n[services.s]\ncommand = \"/bin/true\"\n",
    );
    let out = w.cli(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("ward.toml:2:")
            && stderr.contains("for `sample_while`: expected one of `watched`, `always`"),
        "{stderr}"
    );
}

#[test]
fn a_reader_of_the_rounds_starts_them_without_any_other_look() {
    use std::io::{Read, Write};
    let w = idle_unit_up("");
    let mut reader = std::os::unix::net::UnixStream::connect(w.dir.path().join(".ward/ward.sock"))
        .expect("connect");
    reader
        .write_all(b"GET /v1/events?usage=true HTTP/1.1\r\nHost: ward\r\n\r\n")
        .expect("ask");
    reader
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .expect("timeout");
    let mut got = Vec::new();
    wait_for("a round on the events stream", || {
        let mut buf = [0u8; 8192];
        if let Ok(n) = reader.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&got)
            .contains("event: usage")
            .then_some(())
    });
}
