//! A misbehaving program for ward's tests: each mode is one way a service can act up.
//!
//! ```text
//! ward-testbin sleep SECS             print "ready", sleep
//! ward-testbin exit CODE              exit with CODE at once
//! ward-testbin crash SIGNAL           kill itself with SIGNAL (SEGV, ABRT, KILL, ...)
//! ward-testbin ignore-term SECS       catch and ignore SIGTERM, sleep
//! ward-testbin tree SECS              fork a child, a setsid child and a double-forked
//!                                     grandchild, print their pids, sleep
//! ward-testbin orphan-then-exit MS    leave a grandchild that exits after MS, exit at once
//! ward-testbin print-every MS         print `line N at T` every MS milliseconds (T: ms
//!                                     since the Unix epoch)
//! ward-testbin spew LINES             print LINES numbered lines as fast as possible
//! ward-testbin spin                   burn CPU until killed (for rlimits.cpu)
//! ward-testbin hog MIB                allocate and touch MIB MiB, 1 MiB at a time, then
//!                                     sleep (for memory_max and the OOM killer)
//! ward-testbin grow-file BYTES        write a file `grown` of BYTES bytes (for rlimits.fsize)
//! ward-testbin notify MS EVERY PINGS  after MS send READY=1 to $NOTIFY_SOCKET, then
//!                                     WATCHDOG=1 every EVERY ms, PINGS times, then hang
//! ward-testbin listen MS SECS         after MS listen on 127.0.0.1:$PORT, sleep SECS
//! ward-testbin hostile TEXT           write TEXT on stdout and stderr, send STATUS=TEXT
//!                                     to $NOTIFY_SOCKET, print "sent", sleep (for
//!                                     escape sequences aimed at the operator's terminal)
//! ```
//! Modes used internally by `tree`: `setsid-sleep SECS`, `fork-and-exit SECS`.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("");
    let n = |i: usize| -> u64 {
        args.get(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| usage())
    };
    match mode {
        "sleep" => {
            say("ready");
            sleep_secs(n(1));
        }
        "notify" => {
            std::thread::sleep(Duration::from_millis(n(1)));
            notify("READY=1\nSTATUS=serving");
            say("ready sent");
            for _ in 0..n(3) {
                std::thread::sleep(Duration::from_millis(n(2)));
                notify("WATCHDOG=1");
            }
            say("pings over; hanging");
            sleep_secs(3600);
        }
        "listen" => {
            std::thread::sleep(Duration::from_millis(n(1)));
            let port = std::env::var("PORT").unwrap_or_else(|_| usage());
            let listener = std::net::TcpListener::bind(format!("127.0.0.1:{port}"))
                .unwrap_or_else(|e| panic!("cannot listen on {port}: {e}"));
            say("listening");
            let deadline = std::time::Instant::now() + Duration::from_secs(n(2));
            listener.set_nonblocking(true).ok();
            while std::time::Instant::now() < deadline {
                let _ = listener.accept();
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        "hostile" => {
            let text = args.get(1).cloned().unwrap_or_else(|| usage());
            say(&text);
            eprintln!("{text}");
            notify(&format!("STATUS={text}"));
            say("sent");
            sleep_secs(3600);
        }
        "exit" => std::process::exit(n(1) as i32),
        "crash" => {
            let name = args.get(1).map(String::as_str).unwrap_or("SEGV");
            let signal = match name.trim_start_matches("SIG") {
                "SEGV" => rustix::process::Signal::SEGV,
                "ABRT" => rustix::process::Signal::ABORT,
                "KILL" => rustix::process::Signal::KILL,
                "BUS" => rustix::process::Signal::BUS,
                "ILL" => rustix::process::Signal::ILL,
                "FPE" => rustix::process::Signal::FPE,
                "TERM" => rustix::process::Signal::TERM,
                _ => usage(),
            };
            // Twice: the Rust runtime's own SIGSEGV handler takes the first one, sees no
            // stack overflow and puts the default action back for the second.
            for _ in 0..2 {
                let _ = rustix::process::kill_process(rustix::process::getpid(), signal);
                std::thread::sleep(Duration::from_millis(10));
            }
            std::process::exit(70);
        }
        "ignore-term" => {
            let caught = Arc::new(AtomicBool::new(false));
            signal_hook::flag::register(signal_hook::consts::SIGTERM, caught)
                .expect("cannot install a SIGTERM handler");
            say("ignoring SIGTERM");
            sleep_secs(n(1));
        }
        "tree" => {
            let secs = n(1).to_string();
            let plain = me(&["sleep", &secs]);
            let session = me(&["setsid-sleep", &secs]);
            let double = me(&["fork-and-exit", &secs]);
            say(&format!("child {}", plain.id()));
            say(&format!("setsid {}", session.id()));
            say(&format!("intermediate {}", double.id()));
            // Keep the handles: dropping them does not wait, and the children outlive us.
            let _keep = (plain, session, double);
            sleep_secs(n(1));
        }
        "setsid-sleep" => {
            rustix::process::setsid().expect("setsid failed");
            say(&format!("new session {}", std::process::id()));
            sleep_secs(n(1));
        }
        "fork-and-exit" => {
            let child = me(&["sleep", &n(1).to_string()]);
            say(&format!("grandchild {}", child.id()));
            std::process::exit(0);
        }
        "orphan-then-exit" => {
            let child = Command::new("/bin/sleep")
                .arg(format!("{}", n(1) as f64 / 1000.0))
                .stdin(Stdio::null())
                .spawn()
                .expect("cannot spawn the grandchild");
            say(&format!("orphan {}", child.id()));
            std::process::exit(0);
        }
        "print-every" => {
            let every = Duration::from_millis(n(1));
            for i in 0u64.. {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                say(&format!("line {i} at {now}"));
                std::thread::sleep(every);
            }
        }
        "hog" => {
            let mut kept: Vec<Vec<u8>> = Vec::new();
            for i in 0..n(1) {
                // Touched, not just reserved: only written pages count against the limit.
                kept.push(vec![(i % 251) as u8 + 1; 1 << 20]);
            }
            say(&format!("holding {} MiB", kept.len()));
            sleep_secs(300);
        }
        "spin" => {
            say("spinning");
            let mut x: u64 = 0;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        "grow-file" => {
            let mut f = std::fs::File::create("grown").expect("create");
            let chunk = vec![0u8; 64 * 1024];
            let mut left = n(1);
            while left > 0 {
                let k = left.min(chunk.len() as u64) as usize;
                f.write_all(&chunk[..k]).expect("write");
                left -= k as u64;
            }
            say("grown");
        }
        "spew" => {
            let mut out = std::io::stdout().lock();
            for i in 0..n(1) {
                let _ = writeln!(out, "spew line {i}");
            }
        }
        _ => usage(),
    }
}

fn me(args: &[&str]) -> std::process::Child {
    Command::new(std::env::current_exe().expect("own path"))
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .expect("cannot spawn a copy of myself")
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn sleep_secs(secs: u64) {
    std::thread::sleep(Duration::from_secs(secs));
}

fn usage() -> ! {
    eprintln!("usage: see the top of crates/ward-testbin/src/main.rs");
    std::process::exit(64);
}

/// One datagram to `$NOTIFY_SOCKET`, as sd_notify(3) sends it.
fn notify(text: &str) {
    let path = std::env::var("NOTIFY_SOCKET").unwrap_or_else(|_| {
        eprintln!("NOTIFY_SOCKET is not set");
        std::process::exit(2)
    });
    let socket = std::os::unix::net::UnixDatagram::unbound().expect("a datagram socket");
    if let Err(e) = socket.send_to(text.as_bytes(), path) {
        eprintln!("cannot notify: {e}");
    }
}
