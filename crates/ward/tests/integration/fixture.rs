//! A real `ward up` in its own temp dir, driven through the real CLI, and cleaned up on
//! drop: the daemon is stopped and every process that ran in the temp dir is killed.

use std::fs;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use ward_api::{ServiceStatus, StatusResponse};

/// How long any awaited condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The `ward` binary under test.
pub fn ward_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ward")
}

/// A config of `count` services `s000`, `s001`, … that sleep for five minutes: the tests
/// of many units at once.
pub fn sleepers(count: usize) -> String {
    let bin = testbin();
    (0..count)
        .map(|i| format!("[services.s{i:03}]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"))
        .collect()
}

/// The misbehaving test program, built beside `ward`.
///
/// Cargo builds a binary for an integration test only when it belongs to the same
/// package, so `ward-testbin` is built here, by the cargo that built the tests, into the
/// same target directory. Up to date, this is a no-op of a fraction of a second; parallel
/// test processes wait for each other on cargo's own lock.
pub fn testbin() -> String {
    static BUILT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let ward = Path::new(ward_bin());
            let profile_dir = ward.parent().expect("profile dir");
            let target_dir = profile_dir.parent().expect("target dir");
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
            let mut cargo = Command::new(env!("CARGO"));
            cargo
                .args([
                    "build",
                    "--quiet",
                    "--package",
                    "ward-testbin",
                    "--manifest-path",
                ])
                .arg(&manifest)
                .arg("--target-dir")
                .arg(target_dir);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cargo.arg("--release");
            }
            let out = cargo.output().expect("run cargo to build ward-testbin");
            assert!(
                out.status.success(),
                "building ward-testbin failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            ward.with_file_name("ward-testbin").display().to_string()
        })
        .clone()
}

/// Writes `request` on a connection and reads the whole answer: its status code (0 when
/// it has none) and its text. A write that fails is not an error: the server may answer
/// (413, say) and close before it has read everything.
pub fn exchange(mut s: impl std::io::Read + std::io::Write, request: &[u8]) -> (u16, String) {
    let _ = s.write_all(request);
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    let code = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, answer)
}

/// Sends raw bytes on the daemon's socket and returns the status code and the body of
/// the answer.
pub fn socket_request(w: &Ward, request: &[u8]) -> (u16, String) {
    let s = UnixStream::connect(w.dir.path().join(".ward/ward.sock")).expect("connect");
    let (code, answer) = exchange(s, request);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

/// Polls `check` until it returns `Some`, or fails the test naming `what`.
pub fn wait_for<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    wait_for_within(what, DEADLINE, check)
}

/// [`wait_for`] with a deadline of its own, for what takes longer by nature (a browser
/// session).
pub fn wait_for_within<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cmd` to its end and returns its output, or fails the test if it is still
/// running after [`DEADLINE`]; it is killed then, and if the test fails otherwise while
/// it runs. For commands that must not hang, tried where an older ward did.
pub fn bounded(cmd: Command) -> Output {
    bounded_within(cmd, DEADLINE)
}

/// [`bounded`] with a limit of its own.
pub fn bounded_within(mut cmd: Command, limit: Duration) -> Output {
    /// Kills the child unless it was waited for.
    struct Reap(Option<Child>);
    impl Drop for Reap {
        fn drop(&mut self) {
            if let Some(child) = self.0.as_mut() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the command");
    let mut guard = Reap(Some(child));
    wait_for_within(&format!("{cmd:?} to return"), limit, || {
        guard.0.as_mut()?.try_wait().expect("try_wait")
    });
    guard
        .0
        .take()
        .expect("the child")
        .wait_with_output()
        .expect("its output")
}

/// The program `name` from `PATH`, for tests that prove ward works with programs written
/// elsewhere. Where it is missing the test says so and is skipped, so the README's test
/// command passes with nothing but a toolchain; under CI (`CI` set), which installs these
/// programs, a missing one fails the test instead.
pub fn external(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not installed, and CI must run this test: .ci/run installs it"
        );
        eprintln!("SKIPPED: {name} is not installed; this test needs it");
    }
    found
}

/// The zombies whose parent is `parent`: children it has not reaped.
pub fn zombie_children(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r.split_whitespace().collect())
            .unwrap_or_default();
        if fields.first() == Some(&"Z") && fields.get(1) == Some(&parent.to_string().as_str()) {
            out.push(pid);
        }
    }
    out
}

/// True while a process with this PID exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let after = stat
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start())
                .unwrap_or("");
            !after.starts_with('Z')
        }
        Err(_) => false,
    }
}

/// True once no `/proc` entry exists for the PID: it ended *and* was reaped.
pub fn reaped(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// PIDs whose command line is `sleep MARK`.
pub fn sleeps(mark: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .expect("proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let args: Vec<&[u8]> = c.split(|&b| b == 0).collect();
                args.len() >= 2 && args[0].ends_with(b"sleep") && args[1] == mark.as_bytes()
            }) && alive(*pid)
        })
        .collect()
}

pub fn kill(pid: u32, signal: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// One daemon and its files.
pub struct Ward {
    pub dir: TempDir,
    pub config: PathBuf,
    daemon: Option<Child>,
    /// Run as a newcomer would: in the config's directory, naming it `-c ward.toml`.
    relative: bool,
}

impl Ward {
    /// Writes `toml` as the config in a fresh temp dir; nothing runs yet.
    pub fn new(toml: &str) -> Ward {
        let dir = tempfile::Builder::new()
            .prefix("ward-test-")
            .tempdir()
            .expect("temp dir");
        let config = dir.path().join("ward.toml");
        fs::write(&config, toml).expect("write config");
        Ward {
            dir,
            config,
            daemon: None,
            relative: false,
        }
    }

    /// Like [`Ward::up`], but the daemon and every CLI call run in the temp dir and name
    /// the config by the relative `-c ward.toml`, as the README does.
    pub fn up_relative(toml: &str) -> Ward {
        let mut w = Ward::new(toml);
        w.relative = true;
        w.start_daemon();
        w
    }

    /// `ward -c CONFIG`, the way this fixture names the config.
    fn command(&self) -> Command {
        let mut cmd = Command::new(ward_bin());
        if self.relative {
            cmd.current_dir(self.dir.path()).args(["-c", "ward.toml"]);
        } else {
            cmd.arg("-c").arg(&self.config);
        }
        cmd
    }

    /// Starts `ward up` in the foreground and waits until its socket answers.
    pub fn up(toml: &str) -> Ward {
        let mut w = Ward::new(toml);
        w.start_daemon();
        w
    }

    pub fn start_daemon(&mut self) {
        self.start_daemon_with_env(&[]);
    }

    /// Starts `ward up` with `env` added to its environment.
    pub fn start_daemon_with_env(&mut self, env: &[(&str, &str)]) {
        let mut cmd = self.command();
        cmd.envs(env.iter().copied());
        self.start_daemon_as(cmd);
    }

    /// `ward up` run through `wrapper` (such as `prlimit --nofile=…`), which execs it: the
    /// command the fixture would run, with the wrapper in front.
    pub fn wrapped(&self, wrapper: &[&str]) -> Command {
        let plain = self.command();
        let mut cmd = Command::new(wrapper[0]);
        cmd.args(&wrapper[1..]).arg(plain.get_program());
        cmd.args(plain.get_args());
        if let Some(dir) = plain.get_current_dir() {
            cmd.current_dir(dir);
        }
        cmd
    }

    /// Starts `ward up` through `wrapper` (see [`Ward::wrapped`]).
    pub fn start_daemon_wrapped(&mut self, wrapper: &[&str]) {
        let cmd = self.wrapped(wrapper);
        self.start_daemon_as(cmd);
    }

    fn start_daemon_as(&mut self, cmd: Command) {
        self.start_daemon_then(cmd, |w| w.try_status().map(|_| ()));
    }

    /// Starts `ward up` and waits until it is live (`GET /livez`), without a status:
    /// for tests of what the daemon does while nobody looks at its units.
    pub fn up_unlooked(toml: &str) -> Ward {
        let mut w = Ward::new(toml);
        let cmd = w.command();
        w.start_daemon_then(cmd, |w| {
            let socket = w.dir.path().join(".ward/ward.sock");
            let s = UnixStream::connect(socket).ok()?;
            let live = b"GET /livez HTTP/1.1\r\nhost: ward\r\nconnection: close\r\n\r\n";
            (exchange(s, live).0 == 200).then_some(())
        });
        w
    }

    fn start_daemon_then(
        &mut self,
        mut cmd: Command,
        mut answers: impl FnMut(&Ward) -> Option<()>,
    ) {
        let log = fs::File::create(self.dir.path().join("daemon.log")).expect("daemon log");
        let child = cmd
            .arg("up")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .spawn()
            .expect("spawn ward up");
        self.daemon = Some(child);
        wait_for("the daemon to answer", || {
            if let Some(code) = self.daemon_exit() {
                panic!("ward up exited with {code}:\n{}", self.daemon_log());
            }
            answers(self)
        });
    }

    /// Runs `ward up` in the foreground, expecting it to refuse, and returns its output. A
    /// daemon that starts after all gets SIGTERM (so that it cleans up) at the deadline,
    /// and the test fails.
    pub fn up_refused(&self) -> Output {
        let mut child = self
            .command()
            .arg("up")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ward up");
        let deadline = Instant::now() + DEADLINE;
        while child.try_wait().expect("try_wait").is_none() {
            if Instant::now() >= deadline {
                kill(child.id(), rustix::process::Signal::TERM);
                let out = child.wait_with_output().expect("wait");
                panic!(
                    "ward up did not refuse:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().expect("output")
    }

    pub fn daemon_pid(&self) -> u32 {
        self.daemon.as_ref().expect("daemon running").id()
    }

    /// The daemon's exit code once it has exited.
    pub fn daemon_exit(&mut self) -> Option<i32> {
        let child = self.daemon.as_mut()?;
        child
            .try_wait()
            .expect("try_wait")
            .map(|s| s.code().unwrap_or(-1))
    }

    /// Waits for the daemon process to end and returns its exit code.
    pub fn wait_daemon_exit(&mut self) -> i32 {
        wait_for("the daemon to exit", || self.daemon_exit())
    }

    pub fn daemon_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// `ward -c CONFIG ARGS`, not yet run.
    pub fn cli_command(&self, args: &[&str]) -> Command {
        let mut cmd = self.command();
        cmd.args(args);
        cmd
    }

    /// Runs the CLI against this config.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run ward")
    }

    /// Runs the CLI and fails the test unless it exits 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "ward {args:?} failed ({:?}):\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn try_status(&self) -> Option<StatusResponse> {
        let out = self.cli(&["status", "--json"]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    pub fn status(&self) -> StatusResponse {
        let out = self.ok(&["status", "--json"]);
        serde_json::from_str(&out).expect("status JSON")
    }

    pub fn unit(&self, name: &str) -> ServiceStatus {
        self.status()
            .services
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no unit {name} in status"))
    }

    /// Waits until `check` holds for unit `name`, and returns its status then.
    pub fn wait_unit(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&ServiceStatus) -> bool,
    ) -> ServiceStatus {
        // A unit may not exist yet (a reload in flight adds it): keep waiting.
        wait_for(&format!("{name}: {what}"), || {
            let s = self
                .status()
                .services
                .into_iter()
                .find(|s| s.name == name)?;
            check(&s).then_some(s)
        })
    }

    /// Waits until every unit the status lists is running, and returns that status.
    pub fn wait_all_running(&self, what: &str) -> StatusResponse {
        wait_for(what, || {
            let st = self.status();
            st.services
                .iter()
                .all(|s| s.state == ward_api::UnitState::Running)
                .then_some(st)
        })
    }

    /// Waits until unit `name` is in `state`, named as on the wire (`"running"`).
    pub fn wait_state(&self, name: &str, state: &str) -> ServiceStatus {
        self.wait_unit(name, &format!("state {state}"), |s| {
            s.state.as_str() == state
        })
    }

    /// The unit's log file, as written so far.
    pub fn log(&self, unit: &str) -> String {
        fs::read_to_string(
            self.dir
                .path()
                .join(".ward/logs")
                .join(format!("{unit}.log")),
        )
        .unwrap_or_default()
    }

    /// Waits for a line of the unit's log that ends with `prefix` followed by a PID, and
    /// returns that PID.
    pub fn logged_pid(&self, unit: &str, prefix: &str) -> u32 {
        wait_for(&format!("{unit} to log `{prefix} PID`"), || {
            self.log(unit).lines().find_map(|l| {
                let rest = l.split_once(&format!(" out {prefix} "))?.1;
                rest.trim().parse().ok()
            })
        })
    }

    /// Rewrites the record a daemon left for `unit` (to simulate what the daemon cannot
    /// be made to do: a reused PID, an earlier boot).
    pub fn edit_record(&self, unit: &str, edit: impl FnOnce(&mut serde_json::Value)) {
        let path = self
            .dir
            .path()
            .join(".ward/units")
            .join(format!("{unit}.json"));
        let text = fs::read_to_string(&path).expect("unit record");
        let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
        edit(&mut v);
        fs::write(&path, v.to_string()).expect("write record");
    }

    /// Every process whose working directory is inside this test's temp dir.
    pub fn processes_here(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let Ok(entries) = fs::read_dir("/proc") else {
            return out;
        };
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Ok(cwd) = fs::read_link(format!("/proc/{pid}/cwd"))
                && cwd.starts_with(self.dir.path())
                && alive(pid)
            {
                out.push(pid);
            }
        }
        out
    }
}

/// Every directory named `ward-<id>` for this state dir in any cgroup hierarchy, down
/// to four levels below `/sys/fs/cgroup` (the daemon's own cgroup may be nested): the id
/// is the daemon's hash of the state dir's canonical path (`startup::state_id`).
pub fn cgroups_of(state_dir: &Path) -> Vec<PathBuf> {
    let Ok(full) = fs::canonicalize(state_dir) else {
        return Vec::new();
    };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in full.as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let name = format!("ward-{h:016x}");
    let mut found = Vec::new();
    let mut todo = vec![(PathBuf::from("/sys/fs/cgroup"), 0)];
    while let Some((d, depth)) = todo.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if e.file_name() == name.as_str() {
                found.push(e.path());
            } else if depth < 4 {
                todo.push((e.path(), depth + 1));
            }
        }
    }
    found
}

/// Removes a cgroup directory and the ones below it, deepest first; a cgroup that still
/// holds a process stays.
fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

impl Drop for Ward {
    fn drop(&mut self) {
        if let Some(child) = self.daemon.as_mut()
            && child.try_wait().ok().flatten().is_none()
        {
            kill(child.id(), rustix::process::Signal::TERM);
            let deadline = Instant::now() + DEADLINE;
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let left = self.processes_here();
        for &pid in &left {
            kill(pid, rustix::process::Signal::KILL);
        }
        // A daemon that did not end by itself (killed, or detached) leaves its cgroups for
        // the next one: the test takes them away, so that the machine is as it was.
        let deadline = Instant::now() + DEADLINE;
        while left.iter().any(|&p| alive(p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut state_dirs = vec![self.dir.path().join(".ward")];
        if let Ok(entries) = fs::read_dir(self.dir.path()) {
            state_dirs.extend(
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.join("ward.pid").exists() || p.join("journal.db").exists()),
            );
        }
        for state in state_dirs {
            for cg in cgroups_of(&state) {
                remove_cgroup_tree(&cg);
            }
        }
    }
}

/// `["/bin/sh", "-c", "SCRIPT"]` as a TOML array, for a config written in a test.
pub fn sh(script: &str) -> String {
    format!("[\"/bin/sh\", \"-c\", \"{script}\"]")
}
