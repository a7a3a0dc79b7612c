//! The `[supervisor]` table as the daemon reads it: where its files live, how it
//! contains, logs, samples and journals, and which of those a reload cannot change.

use std::path::PathBuf;

/// The `[supervisor]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct SupervisorConfig {
    /// Where the socket, PID file, journal, unit records and output FIFOs live. Default: `.ward` beside the config.
    pub state_dir: PathBuf,
    /// Where what means nothing after a reboot lives: the services' output FIFOs (`io/`),
    /// the records that let the next daemon adopt running services (`units/`) and the
    /// notify socket. A tmpfs here (such as `/run/ward`) makes starts cheaper on disks where
    /// creating a file is slow. Default: `state_dir`.
    pub runtime_dir: PathBuf,
    /// Where service logs are written. Default: `<state_dir>/logs`.
    pub log_dir: PathBuf,
    /// The control socket. Default: `<state_dir>/ward.sock`.
    pub socket: PathBuf,
    /// Rotate a service's log file when it would grow past this many bytes. Default 10 MiB.
    pub log_max_size: u64,
    /// How many rotated files to keep (`NAME.log.1` … `NAME.log.N`). Default 5.
    pub log_keep: u32,
    /// Which cgroup mechanism contains services. Default `auto`.
    pub cgroup: CgroupMode,
    /// Turn on the cgroup2 mount's `favordynmods` option at start, so that a process joins
    /// its cgroup without waiting for an RCU grace period (5 to 16 ms a start otherwise),
    /// at the price of slower forks and exits machine-wide. Default false.
    pub cgroup_favordynmods: bool,
    /// Journal rows older than this many days are pruned. Default 30.
    pub journal_keep_days: u32,
    /// At most this many journal rows of each kind per service. Default 100000.
    pub journal_keep_rows: u32,
    /// How often the journal is backed up; zero turns periodic backups off. Default 1h.
    pub journal_backup_interval: std::time::Duration,
    /// How many journal backups to keep. Default 5.
    pub journal_backups: u32,
    /// How often every running unit's CPU, memory, threads, descriptors and I/O are read;
    /// zero turns sampling off, and the daemon wakes only when something happens.
    /// Default 10s.
    pub sample_interval: std::time::Duration,
    /// Whether the rounds run all the time, or only while someone looks at what they read
    /// (a status, a metrics scrape, the dashboard): an idle daemon then never wakes.
    /// Default `watched`.
    pub sample_while: SampleWhile,
    /// Samples read proportional memory (PSS) too, which walks every mapping of every
    /// process: worth it where services share much memory. Default false.
    pub sample_pss: bool,
    /// The address of the HTTP listener for tools that cannot speak to a Unix socket:
    /// `/metrics` for anyone who reaches it, the rest of the API with the bearer token of
    /// `<state_dir>/http.token`. Default none: no listener.
    pub http: Option<std::net::SocketAddr>,
    /// When the daemon stops everything and exits by itself, as a container's init does.
    /// Default never.
    pub exit_when: crate::container::ExitWhen,
    /// The code the daemon exits with. Default `first-failure`.
    pub exit_code: crate::container::ExitCode,
    /// Where service output goes: log files, or the daemon's own standard output and
    /// error, one prefixed line each, for a container's log collector. Default `files`.
    pub log_to: LogTo,
    /// Members of this group may send the daemon every request; the socket is opened to
    /// them (mode 0660, group-owned). Default none.
    pub api_group: Option<String>,
    /// Members of this group may ask for the status and nothing else. Default none.
    pub api_readers: Option<String>,
}

impl SupervisorConfig {
    /// The daemon's own PID file and lock on the state dir: `<state_dir>/ward.pid`.
    pub fn pid_file(&self) -> PathBuf {
        self.state_dir.join("ward.pid")
    }

    /// The journal: `<state_dir>/journal.db`.
    pub fn journal(&self) -> PathBuf {
        self.state_dir.join("journal.db")
    }

    /// Where `ward up -d` sends the daemon's own output: `<state_dir>/ward.log`.
    pub fn daemon_log(&self) -> PathBuf {
        self.state_dir.join("ward.log")
    }

    /// The socket services send readiness and watchdog messages to:
    /// `<runtime_dir>/notify.sock`.
    pub fn notify_socket(&self) -> PathBuf {
        self.runtime_dir.join("notify.sock")
    }

    /// A unit's log file: `<log_dir>/NAME.log` (rotated copies add `.1`, `.2`, …).
    pub fn log_file(&self, unit: &str) -> PathBuf {
        self.log_dir.join(format!("{unit}.log"))
    }

    /// Every single file the daemon itself writes, each with what it is in words: no
    /// service's log or PID file may be one of them.
    pub fn own_files(&self) -> Vec<(PathBuf, &'static str)> {
        let journal = self.journal();
        let beside = |suffix: &str| {
            let mut name = journal.clone().into_os_string();
            name.push(suffix);
            PathBuf::from(name)
        };
        vec![
            (self.pid_file(), "the daemon's pid file"),
            (self.daemon_log(), "the daemon's own log"),
            (beside("-wal"), "the journal's write-ahead log"),
            (beside("-shm"), "the journal's shared memory file"),
            (journal, "the journal"),
            (self.socket.clone(), "the control socket"),
            (self.notify_socket(), "the notify socket"),
        ]
    }

    /// The keys whose values differ in `other`, in the table's order. Every key is
    /// compared: the destructuring below fails to compile when a key is added and not
    /// listed, so a reload can never ignore a change without a word.
    pub fn changed_keys(&self, other: &SupervisorConfig) -> Vec<&'static str> {
        // Each key named once: destructured (no `..`) and compared.
        macro_rules! changed {
            ($($key:ident),* $(,)?) => {{
                let SupervisorConfig { $($key),* } = self;
                [$((stringify!($key), *$key != other.$key)),*]
            }};
        }
        changed!(
            state_dir,
            runtime_dir,
            log_dir,
            socket,
            log_max_size,
            log_keep,
            cgroup,
            cgroup_favordynmods,
            journal_keep_days,
            journal_keep_rows,
            journal_backup_interval,
            journal_backups,
            sample_interval,
            sample_while,
            sample_pss,
            api_group,
            api_readers,
            http,
            exit_when,
            exit_code,
            log_to,
        )
        .into_iter()
        .filter_map(|(key, differs)| differs.then_some(key))
        .collect()
    }
}

/// `sample_while = "watched" | "always"`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SampleWhile {
    /// From a look at the usage (`ward status`, `/metrics`, `/v1/usage`, a reader of the
    /// rounds) until [`crate::sample::watched_for`] after the last one.
    Watched,
    /// Every `sample_interval`, from the start.
    Always,
}

/// `log_to = "files" | "stdout"`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LogTo {
    /// `<log_dir>/NAME.log`, rotated.
    Files,
    /// The daemon's standard output (`out`, ward's notes) and error (`err`).
    Stdout,
}

/// How ward contains a service's processes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CgroupMode {
    /// cgroup v2 where a writable v2 hierarchy exists, else v1, else none.
    Auto,
    /// cgroup v2 only; starting fails if it is not available.
    V2,
    /// cgroup v1 only (the `pids` hierarchy, else `memory`).
    V1,
    /// No cgroups: containment by process tree and ward's subreaper view.
    Off,
}
