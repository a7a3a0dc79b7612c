//! The validated configuration: what `ward.toml` means once every key has been checked.
//!
//! Every field here is already resolved (defaults applied, relative paths joined to the
//! config file's directory, instances expanded by [`Config::instances`]) so that the daemon
//! never has to interpret raw TOML.

use super::Rare;
use super::settings::SupervisorConfig;
use crate::Signal;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A whole, valid `ward.toml`.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The file this came from, as given (for messages).
    pub path: PathBuf,
    /// Daemon-wide settings.
    pub supervisor: SupervisorConfig,
    /// Services as declared, by name, before `instances` expansion.
    pub services: Services,
    /// `[[hooks]]`: programs run when events happen.
    pub hooks: Vec<EventHook>,
}

/// One `[[hooks]]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventHook {
    /// Its place in the file, from 1, to name it by.
    pub index: usize,
    /// The events it runs for (see `event_hooks::TRIGGERS`).
    pub on: Vec<String>,
    /// Only events of these services (or units); empty for all.
    pub services: Vec<String>,
    /// The argv it runs, never through a shell.
    pub command: Vec<String>,
    /// How long a run may take before it is killed. Default 30s.
    pub timeout: std::time::Duration,
    /// Events that may wait while a run is in progress; more are dropped and counted.
    /// Default 100.
    pub queue: u32,
}

/// Services by name, each shared with the units made from it: a daemon of thousands of
/// services keeps one copy of each.
pub type Services = BTreeMap<String, Arc<ServiceConfig>>;

/// One `[services.NAME]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceConfig {
    /// The table's name (before instance expansion).
    pub name: String,
    /// The argv to execute. With `shell = true` this is `["/bin/sh", "-c", <string>]`.
    pub command: Vec<String>,
    /// Whether the command string was handed to `/bin/sh -c`.
    pub shell: bool,
    /// Working directory, resolved against the config file's directory. Default: that directory.
    pub cwd: PathBuf,
    /// Extra environment variables on top of ward's clean base environment. Once loaded
    /// (see [`Config::read_env_files`]), what `env_file` gives too, under these.
    pub env: BTreeMap<String, String>,
    /// Dotenv files read into `env` when the config is loaded, in order. Default none.
    pub env_file: Vec<PathBuf>,
    /// Variables of the daemon's own environment passed on by name. Default none.
    pub inherit_env: Vec<String>,
    /// Variables whose values are secrets besides those whose names say so (see
    /// `ward_core::secrets`): masked wherever ward shows what the service wrote.
    pub secret_env: Vec<String>,
    /// Start with `ward up`. Default true.
    pub autostart: bool,
    /// Run its programs even where a user other than their owner and root could replace
    /// them (a writable file or directory on the way). Default false: refused.
    pub trust_path: bool,
    /// The file mode creation mask its processes start with. Default 0o022.
    pub umask: u32,
    /// Set `no_new_privs`: no exec may gain privileges (setuid, file capabilities).
    /// Default true.
    pub no_new_privs: bool,
    /// Who its processes run as (`user`, `group`, `groups`). Default: as ward does.
    pub run_as: Rare<RunAs>,
    /// The ids `run_as` names, looked up when the config is loaded (see
    /// [`Config::resolve_accounts`]); `None` until then, and when it names nothing.
    /// Boxed, as `schedule` and `health` are: most services have none, and inline each
    /// would cost every service its size (96, 368 and 208 bytes) in the daemon's memory.
    pub credentials: Option<Box<crate::accounts::Credentials>>,
    /// The capabilities its processes keep, as ambient capabilities across the change of
    /// user; every other one is dropped from all their sets. Default `None`: unchanged.
    pub capabilities: Option<crate::caps::CapSet>,
    /// A `/tmp` of its own, in a mount namespace of its own, shared with its hooks and
    /// probes. Default false.
    pub private_tmp: bool,
    /// `type = "simple" | "oneshot"`: a service that keeps running, or a task that runs to
    /// its end. Default `simple`.
    pub kind: ServiceType,
    /// Exit codes that count as success besides 0: a task that ends with one is
    /// `completed`, and `restart = "on-failure"` leaves a service that ends with one.
    /// Default none.
    pub success_exit_codes: crate::exit::SuccessCodes,
    /// A completed task stays done for its dependents: a later `ward start` of one of them
    /// does not run it again. Default false: each start of a dependent that finds it
    /// completed runs it anew first (systemd's `RemainAfterExit=`).
    pub remain_after_exit: bool,
    /// References to variables that only its `env_file`s could set, checked when they are
    /// read.
    pub env_file_refs: Vec<VarRef>,
    /// When the task runs by itself (`schedule`, `timezone`, `overlap`, `catch_up`).
    /// Default none.
    pub schedule: Option<Box<ScheduleConfig>>,
    /// How many copies; more than one are named `NAME.0` … `NAME.N-1`. Default 1.
    pub instances: u32,
    /// Instance `i` gets `PORT = port_base + i` in its environment (supervisord's
    /// `%(process_num)s`, for the common case). Default none.
    pub port_base: Option<u16>,
    /// When to restart after an exit ward did not ask for. Default `always`.
    pub restart: RestartPolicy,
    /// Delay between restarts.
    pub backoff: Backoff,
    /// A run shorter than this is a failed start. Default 1s.
    pub min_uptime: Duration,
    /// Too many failed starts in a window stop the restarts.
    pub start_limit: StartLimit,
    /// Sent first when stopping. Default SIGTERM.
    pub stop_signal: Signal,
    /// How long to wait after `stop_signal` before SIGKILL. Default 10s.
    pub stop_timeout: Duration,
    /// Which processes a stop reaches. Default `tree`.
    pub kill_mode: KillMode,
    /// A PID file ward keeps for the main process, so other tools can find it. With
    /// several instances, instance N uses `STEM.N.EXT`. Default none.
    pub pidfile: Option<PathBuf>,
    /// What happens to the service when the daemon ends without stopping it (killed,
    /// crashed, or `SIGQUIT` for an upgrade). Default `keep`.
    pub on_daemon_exit: DaemonExit,
    /// Kernel limits set in the new process before exec. Default: none (inherited).
    pub rlimits: Rare<Rlimits>,
    /// Memory limit of the service's cgroup, in bytes; the kernel's OOM killer acts past it.
    pub memory_max: Option<u64>,
    /// Most processes (and threads) the service's cgroup may hold.
    pub pids_max: Option<u64>,
    /// CPU time the service's cgroup may use, in CPUs (`"50%"` is 0.5, `"2"` two CPUs).
    pub cpu_max: Option<f64>,
    /// Run before a restart whose strategy is `repair` (a database's own check tool, say).
    pub repair: Option<Vec<String>>,
    /// Run when ward gives up on the service (state `failed`), with the verdict in its
    /// environment.
    pub on_failure: Option<Vec<String>>,
    /// Commands run around each run of the main process (`pre_start`, `post_start`,
    /// `pre_stop`, `post_stop`). Default none.
    pub lifecycle: Rare<Lifecycle>,
    /// How long a hook may run before it is killed. Default 30s.
    pub hook_timeout: std::time::Duration,
    /// Strategy per crash class (by its stable name); classes not named use `backoff`.
    pub recovery: BTreeMap<String, Strategy>,
    /// Paths (files or directories) the service's state lives in, snapshotted at each clean
    /// start, for the `restore` strategy.
    pub data: Vec<PathBuf>,
    /// How many snapshots of `data` to keep. Default 3.
    pub data_snapshots: u32,
    /// Below this confidence that a restart will hold, the strategy escalates (backoff to
    /// repair, if there is a repair hook, then to give_up). Default: none.
    pub confidence_floor: Option<f64>,
    /// Services that must reach a condition before this one starts, in the order written;
    /// they stop only after it has stopped. Default: none.
    pub depends_on: Vec<Dependency>,
    /// When this service counts as ready for the services that depend on it. Default:
    /// `healthy` when it has a health check, else `started`.
    pub ready: Readiness,
    /// A probe ward runs while the service is up; failing `retries` times in a row makes
    /// the service `hung`, and ward restarts it.
    pub health: Option<Box<HealthCheck>>,
    /// The service must send `WATCHDOG=1` to `$NOTIFY_SOCKET` at least this often, or it
    /// is `hung` and ward restarts it. Default: none.
    pub watchdog: Option<Duration>,
}

/// A `${NAME}` of `command` or `env` that only an `env_file` could set: checked once the
/// files are read, and reported at its place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarRef {
    /// The variable.
    pub name: String,
    /// `command` or `env`.
    pub key: &'static str,
    /// Its place in the config file, from 1.
    pub line: usize,
    /// Its column, from 1, in characters.
    pub column: usize,
}

/// `schedule = "0 3 * * *"` and the keys that go with it, on a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// The cron expression.
    pub cron: crate::schedule::Cron,
    /// The IANA time zone its times are in (`Europe/Berlin`); `None`: the system's.
    pub timezone: Option<String>,
    /// What a run due while the last still runs does. Default `skip`.
    pub overlap: crate::schedule::Overlap,
    /// Run once at a daemon's start when a run fell due while no daemon ran. Default
    /// false.
    pub catch_up: bool,
}

/// The lifecycle hooks of a service: argv lists, never through a shell, each run with the
/// service's confinement and `hook_timeout`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lifecycle {
    /// Before every spawn of the main process; a failure fails the start.
    pub pre_start: Option<Vec<String>>,
    /// Once the main process is spawned; the run is not ready for its dependents until
    /// it succeeds, and a failure stops the run as a hang.
    pub post_start: Option<Vec<String>>,
    /// Before the stop signal of a stop of a live run; the stop timeout runs meanwhile.
    pub pre_stop: Option<Vec<String>>,
    /// After every end of the main process, asked for or not; the next spawn waits for it.
    pub post_stop: Option<Vec<String>>,
}

/// `type = "simple" | "oneshot"`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ServiceType {
    /// A program that keeps running; its end is a crash or a stop.
    Simple,
    /// A task that runs to its end: `completed` on success, `failed` otherwise.
    Oneshot,
}

impl ServiceType {
    /// The name the config and the API use.
    pub const fn as_str(self) -> &'static str {
        match self {
            ServiceType::Simple => "simple",
            ServiceType::Oneshot => "oneshot",
        }
    }
}

/// One edge of `depends_on`: a service and what it must reach first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// The service depended on (every instance of it).
    pub service: String,
    /// What it must reach.
    pub condition: Condition,
}

/// What a dependency must reach before its dependent starts (docker compose's terms).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// As its own `ready` setting says (the list form of `depends_on`); for a task, its
    /// successful end.
    Ready,
    /// Its process has been spawned.
    Started,
    /// Its health check passes.
    Healthy,
    /// Its run ended successfully.
    Completed,
}

impl Condition {
    /// The name the config and the API use.
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Ready => "ready",
            Condition::Started => "started",
            Condition::Healthy => "healthy",
            Condition::Completed => "completed",
        }
    }
}

/// `ready = "started" | "running" | "notify" | "healthy"`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// As soon as its process has been spawned (what systemd calls `Type=simple`).
    Started,
    /// Once it has stayed up for `min_uptime`.
    Running,
    /// Once it sends `READY=1` to `$NOTIFY_SOCKET` (the sd_notify protocol).
    Notify,
    /// Once its health check has passed.
    Healthy,
}

impl Readiness {
    /// The name the config and the API use.
    pub fn as_str(self) -> &'static str {
        match self {
            Readiness::Started => "started",
            Readiness::Running => "running",
            Readiness::Notify => "notify",
            Readiness::Healthy => "healthy",
        }
    }
}

/// `health = { command = "...", interval, timeout, retries, start_period }`, or
/// `tcp = "host:port"` in place of `command`.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthCheck {
    /// What is probed.
    pub probe: Probe,
    /// Time between the end of one probe and the start of the next. Default 10s.
    pub interval: Duration,
    /// A probe running longer than this fails (a command is killed). Default 5s.
    pub timeout: Duration,
    /// This many failures in a row make the service unhealthy. Default 3.
    pub retries: u32,
    /// Failures within this time of the start do not count (a success still counts).
    /// Default 0s.
    pub start_period: Duration,
}

/// One health probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Run this argv (never through a shell); exit 0 is healthy.
    Command(Vec<String>),
    /// Open a TCP connection to `host:port`; a connection is healthy.
    Tcp(String),
    /// `GET` a URL; an expected status (and body) is healthy.
    Http(HttpProbe),
}

/// `health = { http = "http://127.0.0.1:8080/healthz", … }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpProbe {
    /// The URL as written, for messages.
    pub url: String,
    /// `host:port` to connect to (port 80 when the URL names none).
    pub addr: String,
    /// The `Host` header: the URL's host and port as written.
    pub host: String,
    /// The path and query, `/` when the URL has none.
    pub path: String,
    /// The statuses that count as healthy, inclusive. Default 200 to 399.
    pub expect_status: (u16, u16),
    /// Text the body must hold. Default none.
    pub expect_body: Option<String>,
    /// Headers sent besides `Host` (which one of these may replace).
    pub headers: Vec<(String, String)>,
}

/// What ward does after a crash of a given class.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Restart after the backoff delay (the default).
    Backoff,
    /// After the backoff delay, run the `repair` hook, then restart once it succeeded; a
    /// failed repair gives up.
    Repair,
    /// Mark the service `failed` and run `on_failure`.
    GiveUp,
    /// After the backoff delay, put the `data` paths back as the last snapshot has them,
    /// then restart; a failed restore gives up.
    Restore,
}

impl Strategy {
    /// The next, stronger strategy: `backoff` → `repair` (with a hook) → `give_up`.
    pub fn escalated(self, has_repair: bool) -> Strategy {
        match self {
            Strategy::Backoff if has_repair => Strategy::Repair,
            Strategy::Backoff | Strategy::Repair | Strategy::Restore | Strategy::GiveUp => {
                Strategy::GiveUp
            }
        }
    }

    /// `backoff`, `repair`, `give_up`.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Backoff => "backoff",
            Strategy::Repair => "repair",
            Strategy::GiveUp => "give_up",
            Strategy::Restore => "restore",
        }
    }
}

/// `user`, `group` and `groups` of a service, as written: names or numeric ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunAs {
    /// The user; its primary group and memberships come with it unless `group` and
    /// `groups` say otherwise.
    pub user: Option<String>,
    /// The primary group.
    pub group: Option<String>,
    /// The supplementary groups, in place of the user's memberships.
    pub groups: Option<Vec<String>>,
}

/// `rlimits = { cpu, fsize, nofile, core }`: each sets the soft and hard limit.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Rlimits {
    /// CPU seconds; past them the kernel sends SIGXCPU.
    pub cpu: Option<u64>,
    /// Largest file the process may write, in bytes; past it, SIGXFSZ.
    pub fsize: Option<u64>,
    /// Open file descriptors.
    pub nofile: Option<u64>,
    /// Largest core dump, in bytes; 0 turns core dumps off.
    pub core: Option<u64>,
    /// Processes (and threads) the service's user may have.
    pub nproc: Option<u64>,
    /// Memory that may be locked (`mlock`), in bytes.
    pub memlock: Option<u64>,
    /// Address space, in bytes; past it, allocations fail.
    pub r#as: Option<u64>,
    /// Stack size of the main thread, in bytes.
    pub stack: Option<u64>,
}

/// `on_daemon_exit = "keep" | "stop"`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DaemonExit {
    /// Keep running; the next daemon on the same state dir adopts it.
    Keep,
    /// Die with the daemon (SIGKILL by the kernel when the daemon goes); stopped first on
    /// `SIGQUIT`.
    Stop,
}

/// `restart = "always" | "on-failure" | "never"`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Restart after every exit ward did not ask for, even `exit 0`.
    Always,
    /// Restart unless the process exited with code 0 after `min_uptime`.
    OnFailure,
    /// Never restart automatically.
    Never,
}

/// `backoff = { initial, max, factor, jitter, reset_after }`.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Backoff {
    /// Delay before the first restart after a failure. Default 100ms.
    pub initial: Duration,
    /// No delay is ever longer than this. Default 30s.
    pub max: Duration,
    /// Each consecutive failure multiplies the delay by this (>= 1). Default 2.
    pub factor: f64,
    /// Random spread as a fraction of the delay, 0 to 1. Default 0.1.
    pub jitter: f64,
    /// A run at least this long forgets earlier failures. Default 30s.
    pub reset_after: Duration,
}

/// `start_limit = { burst, interval }`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StartLimit {
    /// More failed starts than this within `interval` puts the service in `failed`. Default 5.
    pub burst: u32,
    /// The sliding window. Default 60s.
    pub interval: Duration,
}

/// `kill_mode = "tree" | "main"`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum KillMode {
    /// Every process of the service, including those that left the process group.
    Tree,
    /// Only the main process, for programs that manage their own children.
    Main,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            factor: 2.0,
            jitter: 0.1,
            reset_after: Duration::from_secs(30),
        }
    }
}

impl Default for StartLimit {
    fn default() -> Self {
        StartLimit {
            burst: 5,
            interval: Duration::from_secs(60),
        }
    }
}

/// One running unit after `instances` expansion: `web` with 3 instances gives `web.0`..`web.2`.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// The unit's own name (`web` or `web.1`).
    pub name: String,
    /// The index within its service, 0 when there is one instance.
    pub index: u32,
    /// The service it belongs to, shared with the config it came from.
    pub service: Arc<ServiceConfig>,
}

impl Instance {
    /// The PID file of this unit, if its service asks for one.
    pub fn pidfile(&self) -> Option<PathBuf> {
        let path = self.service.pidfile.as_ref()?;
        if self.service.instances == 1 {
            return Some(path.clone());
        }
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = match path.extension() {
            Some(ext) => format!("{stem}.{}.{}", self.index, ext.to_string_lossy()),
            None => format!("{stem}.{}", self.index),
        };
        Some(path.with_file_name(name))
    }
}

impl Config {
    /// Reads every service's `env_file`s into its `env` (`env` wins), through `read`, the
    /// caller's way to the file system. What a loader (the CLI, a reload) does right after
    /// [`parse`](super::parse); an error names the service, the file and its line.
    pub fn read_env_files(
        mut self,
        mut read: impl FnMut(&std::path::Path) -> Result<String, String>,
    ) -> Result<Config, String> {
        for svc in self.services.values_mut() {
            if svc.env_file.is_empty() {
                continue;
            }
            let env = super::dotenv::merge(&svc.env_file, &svc.env, &mut read)
                .map_err(|e| format!("[services.{}] env_file: {e}", svc.name))?;
            if let Some(r) = svc
                .env_file_refs
                .iter()
                .find(|r| !env.contains_key(&r.name))
            {
                return Err(format!(
                    "{}:{}:{}: {}\n  hint: {}",
                    self.path.display(),
                    r.line,
                    r.column,
                    super::variables::unknown(&svc.name, r.key, &r.name),
                    super::variables::hint(&r.name)
                ));
            }
            Arc::make_mut(svc).env = env;
        }
        Ok(self)
    }

    /// Checks every service's `timezone` with `lookup`, the caller's way to the time zone
    /// database. An error names the service and the zone.
    pub fn check_time_zones(
        self,
        lookup: impl Fn(&str) -> Result<(), String>,
    ) -> Result<Config, String> {
        for svc in self.services.values() {
            if let Some(tz) = svc.schedule.as_ref().and_then(|s| s.timezone.as_deref()) {
                lookup(tz).map_err(|e| {
                    format!(
                        "[services.{}] timezone: `{tz}` is not a time zone of this system \
                         ({e}); use a name of the IANA database such as \"Europe/Berlin\", \
                         and install it (Debian's package `tzdata`)",
                        svc.name
                    )
                })?;
            }
        }
        Ok(self)
    }

    /// Looks up the ids of every service's `user`, `group` and `groups` in `db`. An error
    /// names the service and the key whose name does not exist.
    pub fn resolve_accounts(
        mut self,
        db: &dyn crate::accounts::Accounts,
    ) -> Result<Config, String> {
        for svc in self.services.values_mut() {
            let credentials = crate::accounts::resolve(&svc.run_as, db)
                .map_err(|e| format!("[services.{}] {e}", svc.name))?
                .map(Box::new);
            if credentials != svc.credentials {
                Arc::make_mut(svc).credentials = credentials;
            }
        }
        Ok(self)
    }

    /// Every unit the daemon supervises, in name order.
    pub fn instances(&self) -> Vec<Instance> {
        let mut out = Vec::new();
        for svc in self.services.values() {
            if svc.instances == 1 {
                out.push(Instance {
                    name: svc.name.clone(),
                    index: 0,
                    service: Arc::clone(svc),
                });
            } else {
                for i in 0..svc.instances {
                    out.push(Instance {
                        name: format!("{}.{i}", svc.name),
                        index: i,
                        service: Arc::clone(svc),
                    });
                }
            }
        }
        out
    }
}
