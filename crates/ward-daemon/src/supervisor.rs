//! The one task that owns every unit: it reaps, fires timers, answers requests and carries
//! out what the state machines decide.
//!
//! Reaping: ward is a child subreaper, so its children are its services' main processes
//! *and* every orphan of their trees. One `waitpid(-1, WNOHANG)` loop, run after each
//! SIGCHLD, reaps them all and maps each PID to its unit; nothing else in ward waits for a
//! child. A main process's exit status can therefore never be taken by someone else, and an
//! orphan never stays a zombie. The pidfd of each main process is opened right after the
//! fork, before this loop can run, so signals never reach a reused PID.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Semaphore, mpsc};
use ward_core::config::{Config, DaemonExit, Instance};
use ward_core::machine::{
    Action, Event, Params, ServiceMachine, SignalTarget, SpawnFailure, State,
};
use ward_core::{ExitStatus, Signal};
use ward_sys::cgroup::CgroupDriver;
use ward_sys::limits::Limit;

use crate::contain::Containment;
use crate::launch::{self, Plumbing};
use crate::logs::{self, LogWriter, Stream};
use crate::persist;
use crate::requests::{Reply, Request};
use crate::unit::{MainProcess, Unit};

/// How often a unit that waits for its last processes to go is looked at again.
const TREE_POLL: Duration = Duration::from_millis(20);

/// At most this many API connections at once; more wait in the listen backlog.
pub(crate) const MAX_CONNECTIONS: u32 = 64;

/// How long after a SIGKILL death ward keeps looking for OOM evidence: the kernel may
/// report the death before its OOM counters move.
const OOM_SETTLE: Duration = Duration::from_millis(100);

/// A verdict held back until OOM evidence has had time to appear.
pub(crate) struct PendingVerdict {
    due: Instant,
    pub(crate) unit: String,
    pid: u32,
    report: ward_core::classify::ExitReport,
    baseline: OomBaseline,
}

/// OOM counters when a run started: the unit's cgroup's and the machine's.
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct OomBaseline {
    pub cgroup: Option<u64>,
    pub machine: Option<u64>,
    /// Forks the unit's cgroup had refused on `pids_max` when the run started.
    pub pids_hits: Option<u64>,
}

/// How old the counters read at a run's end may be to serve as the next run's baseline: a
/// restart without backoff follows within this, and nothing else of the unit runs between.
const COUNTERS_REUSE: Duration = Duration::from_millis(5);

impl OomBaseline {
    /// Reads the counters now.
    fn read(unit: &ward_sys::controllers::UnitControllers) -> OomBaseline {
        OomBaseline {
            cgroup: unit.oom_kills(),
            machine: ward_sys::controllers::vmstat_oom_kills(),
            pids_hits: unit.pids_limit_hits(),
        }
    }
}

/// A snapshot or restore that ended: the unit, which job, and the path or the error.
pub(crate) type FileJobDone = (String, crate::hooks::FileJob, Result<String, String>);

/// A request that is answered once its units reach a state.
pub(crate) struct Waiter {
    /// The units it waits for.
    pub names: Vec<String>,
    /// What it waits for.
    pub until: Until,
    /// Where the answer goes.
    pub reply: tokio::sync::oneshot::Sender<Reply>,
    /// Who asked, for the journal.
    pub who: String,
    /// The request, for the journal.
    pub what: &'static str,
}

/// What a [`Waiter`] waits for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Until {
    /// No process of the unit is left (after a stop).
    Quiescent,
    /// The stop half of a restart is over.
    NotStopping,
}

/// Everything the daemon knows, owned by one task.
pub(crate) struct Supervisor {
    pub config_path: PathBuf,
    pub config: Config,
    /// `depends_on` of the config in force, built once per config.
    pub graph: ward_core::deps::Graph,
    /// Boxed: a `Unit` is large, and a B-tree's nodes hold their values inline, partly
    /// empty; a box per unit costs a pointer in a node instead of a unit's size.
    pub units: BTreeMap<String, Box<Unit>>,
    by_pid: HashMap<u32, String>,
    pub logs: LogWriter,
    pub cgroups: Option<CgroupDriver>,
    /// Memory, pids and cpu controllers, for limits and OOM evidence.
    pub controllers: ward_sys::controllers::Controllers,
    /// The kernel log since the daemon started, for the OOM killer's own words.
    kmsg: ward_sys::kmsg::KernelLog,
    /// Verdicts waiting for OOM evidence to settle: (when, unit, pid, report, baselines).
    pub(crate) pending: Vec<PendingVerdict>,
    /// Hooks that run, by PID.
    pub(crate) hooks: HashMap<u32, crate::hooks::Hook>,
    pub(crate) nofile: Limit,
    epoch: Instant,
    pub started_at: SystemTime,
    pub me: u32,
    queue: VecDeque<(String, Event)>,
    pub waiters: Vec<Waiter>,
    /// Set once a shutdown began, with the `ward down` requests to answer at the end.
    pub shutdown: Option<Vec<tokio::sync::oneshot::Sender<Reply>>>,
    /// `SIGQUIT`: exit, leaving `on_daemon_exit = "keep"` services running for the next
    /// daemon.
    detaching: bool,
    /// The history of every unit, written by its own thread.
    pub journal: ward_store::Journal,
    /// What the repair at start-up did, if the journal needed one.
    pub journal_repair: Option<String>,
    /// The daemon before this one did not exit cleanly (it left its PID file).
    pub previous_crashed: bool,
    /// Snapshots and restores finished on their blocking threads: (unit, what, outcome).
    pub(crate) files_tx: mpsc::UnboundedSender<FileJobDone>,
    files_rx: Option<mpsc::UnboundedReceiver<FileJobDone>>,
    /// Exits of adopted main processes (not ward's children), from their watcher tasks.
    pub adopted_tx: mpsc::UnboundedSender<(String, u32, Option<ExitStatus>)>,
    adopted_rx: Option<mpsc::UnboundedReceiver<(String, u32, Option<ExitStatus>)>>,
    /// Finished TCP health probes, from their tasks.
    pub(crate) probes_tx: mpsc::UnboundedSender<crate::health::ProbeDone>,
    probes_rx: Option<mpsc::UnboundedReceiver<crate::health::ProbeDone>>,
    seed: u64,
}

impl Supervisor {
    pub fn new(
        config_path: PathBuf,
        config: ward_core::config::Config,
        cgroups: Option<CgroupDriver>,
        nofile: Limit,
        journal: ward_store::Journal,
        repaired: Option<ward_store::RepairReport>,
        previous_crashed: bool,
    ) -> std::io::Result<Supervisor> {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(ward_sys::own_pid());
        let (adopted_tx, adopted_rx) = mpsc::unbounded_channel();
        let (files_tx, files_rx) = mpsc::unbounded_channel();
        let (probes_tx, probes_rx) = mpsc::unbounded_channel();
        Ok(Supervisor {
            config_path,
            graph: ward_core::deps::Graph::of(&config.services),
            units: BTreeMap::new(),
            by_pid: HashMap::new(),
            logs: LogWriter::start()?,
            controllers: match &cgroups {
                Some(_) => ward_sys::controllers::Controllers::detect(&crate::startup::state_id(
                    &config.supervisor.state_dir,
                )),
                None => ward_sys::controllers::Controllers::default(),
            },
            pending: Vec::new(),
            kmsg: ward_sys::kmsg::KernelLog::open(),
            hooks: HashMap::new(),
            cgroups,
            nofile,
            epoch: Instant::now(),
            started_at: SystemTime::now(),
            me: ward_sys::own_pid(),
            queue: VecDeque::new(),
            waiters: Vec::new(),
            shutdown: None,
            detaching: false,
            journal,
            journal_repair: repaired.map(|r| r.to_string()),
            previous_crashed,
            adopted_tx,
            adopted_rx: Some(adopted_rx),
            files_tx,
            files_rx: Some(files_rx),
            probes_tx,
            probes_rx: Some(probes_rx),
            seed,
            config,
        })
    }

    /// The machines' clock: time since the daemon started.
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Runs until a shutdown has stopped every unit.
    pub async fn run(&mut self, listener: UnixListener, ready: Option<File>) {
        let (tx, mut rx) = mpsc::channel::<Request>(64);
        let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS as usize));
        let server = tokio::spawn(crate::api::serve(listener, tx, connections.clone()));
        let (mut sigchld, mut sigterm, mut sigint, mut sighup, mut sigquit) = match (
            signal(SignalKind::child()),
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
            signal(SignalKind::quit()),
        ) {
            (Ok(a), Ok(b), Ok(c), Ok(d), Ok(e)) => (a, b, c, d, e),
            _ => {
                tracing::error!("cannot install signal handlers");
                return;
            }
        };
        let mut adopted_rx = self.adopted_rx.take().expect("run is called once");
        let mut files_rx = self.files_rx.take().expect("run is called once");
        let mut probes_rx = self.probes_rx.take().expect("run is called once");
        let (notify_tx, mut notify_rx) = mpsc::unbounded_channel();
        let notify_path = crate::notify::socket_path(&self.config.supervisor.runtime_dir);
        match ward_sys::notify::NotifySocket::bind(&notify_path) {
            Ok(socket) => {
                tokio::spawn(crate::notify::listen(socket, notify_tx));
            }
            Err(e) => tracing::error!(
                path = %notify_path.display(),
                error = %e,
                "cannot bind the notify socket: services with ready = \"notify\" or a watchdog will not be heard"
            ),
        }

        self.journal.record(ward_store::Record::Daemon {
            at_ms: ward_store::now_ms(),
            what: "daemon started".into(),
            detail: format!("pid {}, ward {}", self.me, env!("CARGO_PKG_VERSION")),
        });
        self.restore();
        let interval = self.config.supervisor.journal_backup_interval;
        if !interval.is_zero() {
            tokio::spawn(crate::backups::periodic(
                self.journal.path().to_path_buf(),
                self.config.supervisor.journal_backups as usize,
                interval,
                self.journal.handle(),
            ));
        }
        crate::startup::report_ready(ready);
        tracing::info!(units = self.units.len(), pid = self.me, "ward is up");

        loop {
            self.reap();
            self.settle();
            if self.finished() {
                break;
            }
            let deadline = self.next_deadline();
            tokio::select! {
                _ = sigchld.recv() => self.reap(),
                Some((name, pid, status)) = adopted_rx.recv() => {
                    self.adopted_exited(&name, pid, status);
                }
                Some((name, job, outcome)) = files_rx.recv() => {
                    self.file_job_done(&name, job, outcome);
                }
                Some((name, main, outcome)) = probes_rx.recv() => {
                    self.probe_done(&name, main, outcome);
                }
                Some((pid, message)) = notify_rx.recv() => self.notified(pid, message),
                _ = sigquit.recv() => self.detach(),
                _ = sigterm.recv() => self.begin_shutdown(None),
                _ = sigint.recv() => {
                    if self.shutdown.is_some() {
                        self.force_stop();
                    } else {
                        self.begin_shutdown(None);
                    }
                }
                _ = sighup.recv() => {
                    let outcome = self.reload();
                    if let Err(e) = &outcome {
                        tracing::error!(error = %e.body.error, "reload refused; the old config stays in force");
                    }
                    let changed = outcome.as_ref().map(|r| r.changed.clone()).unwrap_or_default();
                    let answer = outcome.and_then(|r| crate::requests::json(&r));
                    self.journal.record(crate::journal::action("signal SIGHUP", "reload", &changed, &answer));
                }
                Some(req) = rx.recv() => self.handle(req),
                _ = tokio::time::sleep_until(deadline.into()) => self.fire_timers(),
            }
        }

        self.journal.record(ward_store::Record::Daemon {
            at_ms: ward_store::now_ms(),
            what: "daemon stopped".into(),
            detail: if self.detaching {
                "detached: services with on_daemon_exit = \"keep\" left running".into()
            } else {
                "every service stopped".into()
            },
        });
        // `ward down` is answered once everything is in the journal.
        self.journal.sync();
        for reply in self.shutdown.take().unwrap_or_default() {
            let _ = reply.send(crate::requests::json(&ward_api::Ack { ok: true }));
        }
        server.abort();
        // Let answers already handed to connections be written before the process exits.
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            connections.acquire_many(MAX_CONNECTIONS),
        )
        .await;
        // The last lines in the pipes reach the logs before the writer is flushed.
        let mut captures = Vec::new();
        for unit in self.units.values_mut() {
            let _ = unit.stop_capture.send(true);
            captures.append(&mut unit.captures);
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            for c in captures {
                let _ = c.await;
            }
        })
        .await;
        self.logs.sync();
        // The unit records stay: the next daemon adopts what still runs and keeps what the
        // operator stopped stopped.
        for unit in self.units.values() {
            if unit.is_down() {
                unit.containment.remove();
                unit.controllers.remove();
            }
        }
        if let Some(cg) = &self.cgroups {
            let _ = cg.remove_base();
        }
        self.controllers.remove_base();
        tracing::info!("ward stopped");
    }

    /// The loop ends once a shutdown has stopped every unit (but those a `SIGQUIT` keeps).
    fn finished(&self) -> bool {
        self.shutdown.is_some()
            && self
                .units
                .values()
                .all(|u| u.is_down() || (self.detaching && u.kept_on_detach()))
    }

    /// `SIGQUIT`: stop the services that must not outlive the daemon, and leave.
    fn detach(&mut self) {
        if self.shutdown.is_some() {
            return;
        }
        tracing::info!(
            "detaching: services with on_daemon_exit = \"keep\" stay up for the next daemon"
        );
        self.detaching = true;
        self.shutdown = Some(Vec::new());
        let names: Vec<String> = self
            .units
            .values()
            .filter(|u| !u.kept_on_detach())
            .map(|u| u.name.clone())
            .collect();
        for name in names {
            self.dispatch(&name, Event::Stop);
        }
    }

    /// Creates a unit (pipes, log, cgroup, machine); `None` if the system refused.
    pub fn add_unit(&mut self, instance: Instance) -> Option<()> {
        let name = instance.name.clone();
        self.journal.record(ward_store::Record::Unit {
            unit: name.clone(),
            service: instance.service.name.clone(),
        });
        match self.build_unit(instance) {
            Ok(unit) => {
                self.units.insert(name, Box::new(unit));
                Some(())
            }
            Err(e) => {
                tracing::error!(unit = %name, error = %e, "cannot set up the service");
                None
            }
        }
    }

    fn build_unit(&mut self, instance: Instance) -> std::io::Result<Unit> {
        let name = instance.name.clone();
        let sup = &self.config.supervisor;
        let io_dir = sup.runtime_dir.join("io");
        std::fs::create_dir_all(&io_dir)?;
        let (out_path, err_path) = (
            io_dir.join(format!("{name}.out")),
            io_dir.join(format!("{name}.err")),
        );
        let out_r = ward_sys::fifo::open_reader(&out_path)?;
        let err_r = ward_sys::fifo::open_reader(&err_path)?;
        let log = self.logs.open(
            sup.log_dir.join(format!("{name}.log")),
            sup.log_max_size,
            sup.log_keep,
        );
        let sink = self.logs.sink();
        let (stop_capture, stop) = tokio::sync::watch::channel(false);
        let captures = vec![
            tokio::spawn(logs::capture(
                out_r,
                Stream::Stdout,
                log.clone(),
                sink.clone(),
                stop.clone(),
            )),
            tokio::spawn(logs::capture(
                err_r,
                Stream::Stderr,
                log.clone(),
                sink,
                stop,
            )),
        ];
        let containment = match &self.cgroups {
            Some(driver) => match driver.service(&name) {
                Ok(cg) => Containment::Cgroup(cg),
                Err(e) => {
                    tracing::warn!(unit = %name, error = %e, "no cgroup for this service; containing it by process tree");
                    Containment::Tree
                }
            },
            None => Containment::Tree,
        };
        let controllers = self.controllers.unit(&name).unwrap_or_else(|e| {
            tracing::warn!(unit = %name, error = %e, "no resource controllers for this service");
            ward_sys::controllers::UnitControllers::default()
        });
        apply_limits(&name, &instance, &self.controllers, &controllers);
        let mut seed = self.seed;
        for b in name.bytes() {
            seed = seed.rotate_left(5) ^ u64::from(b);
        }
        Ok(Unit {
            machine: ServiceMachine::new(Params::from(&*instance.service), seed),
            name,
            instance,
            main: None,
            containment,
            fifos: [out_path, err_path],
            log,
            timer: None,
            awaiting_tree: false,
            pidfile: None,
            controllers,
            oom_baseline: OomBaseline::default(),
            counters_at_exit: None,
            stop_escalated: false,
            strategy_due: None,
            last_strategy: None,
            repair_before_spawn: false,
            restore_before_spawn: false,
            on_failure_due: false,
            operator_signal: None,
            verdict: None,
            stop_capture,
            captures,
            persisted: None,
            last_started: None,
            last_exit_at: None,
            removing: false,
            health: Default::default(),
            probe_due: None,
            ready_notified: false,
            notify_status: None,
            watchdog_due: None,
            hang: None,
            waiting_for: Vec::new(),
            stop_after_dependents: false,
        })
    }

    /// Feeds one event to a unit and carries out everything that follows from it.
    pub fn dispatch(&mut self, name: &str, event: Event) {
        if matches!(event, Event::Stop | Event::Restart)
            && let Some(unit) = self.units.get_mut(name)
        {
            unit.waiting_for.clear();
        }
        self.queue.push_back((name.to_string(), event));
        while let Some((name, event)) = self.queue.pop_front() {
            let now = self.now();
            let Some(unit) = self.units.get_mut(&name) else {
                continue;
            };
            let restarts = unit.machine.counters().restarts;
            let actions = unit.machine.handle(event, now);
            // Counted by the machine, so restarts without a state change (a zero backoff
            // while starting) are journaled too.
            if unit.machine.counters().restarts > restarts {
                let delay = unit.machine.backoff_delay();
                self.journal.record(crate::journal::restart(&name, delay));
            }
            let mut actions = actions.into_iter().peekable();
            while let Some(action) = actions.next() {
                // Signals to the whole tree that follow each other (a stop's signal and
                // SIGCONT) go out in one pass over the unit's processes.
                if let Action::Signal {
                    target: SignalTarget::Tree,
                    signal,
                } = action
                {
                    let mut signals = vec![signal];
                    while let Some(&Action::Signal {
                        target: SignalTarget::Tree,
                        signal,
                    }) = actions.peek()
                    {
                        signals.push(signal);
                        actions.next();
                    }
                    self.signal_tree(&name, &signals);
                    continue;
                }
                self.apply(&name, action);
            }
        }
        self.persist(name);
        self.apply_strategy(name);
        if let Some(unit) = self.units.get_mut(name)
            && std::mem::take(&mut unit.on_failure_due)
        {
            self.on_failure(name);
        }
    }

    /// Writes the unit's record if its intent or main process changed. A shutdown's stops
    /// are not the operator's: the intent recorded before the shutdown stays.
    fn persist(&mut self, name: &str) {
        let shutting_down = self.shutdown.is_some();
        let runtime_dir = self.config.supervisor.runtime_dir.clone();
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        let mut intent = unit.machine.intent();
        if shutting_down {
            match unit.persisted {
                Some((before, _)) => intent = before,
                // Never started and never stopped by anyone: nothing to remember.
                None if unit.main.is_none() => return,
                None => {}
            }
        }
        let now = (intent, unit.main.as_ref().map(|m| m.pidfd.pid()));
        if unit.persisted == Some(now) {
            return;
        }
        let record = persist::UnitRecord {
            intent: crate::wire::intent(intent),
            main: unit.main.as_ref().map(|m| persist::MainRecord {
                pid: m.identity.pid,
                start_time: m.identity.start_time,
                boot_id: m.identity.boot_id.clone(),
                started_ms: Supervisor::epoch_ms(m.started),
            }),
        };
        match persist::save(&runtime_dir, name, &record) {
            Ok(()) => unit.persisted = Some(now),
            Err(e) => tracing::warn!(unit = %name, error = %e, "cannot write the unit's record"),
        }
    }

    fn apply(&mut self, name: &str, action: Action) {
        if let Action::Spawn = action {
            if self.repair_first(name) || self.files_first(name) {
                // Answered when the hook or the file work ends.
                return;
            }
            let answer = self.spawn(name);
            // The answer comes before anything else queued: the machine is waiting for it.
            self.queue.push_front((name.to_string(), answer));
            return;
        }
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        // SIGKILL during a stop means the stop signal was not honoured: evidence of a hang.
        let kills = matches!(
            action,
            Action::KillTree
                | Action::Signal {
                    signal: Signal::KILL,
                    ..
                }
        );
        if kills && unit.machine.state() == State::Stopping {
            unit.stop_escalated = true;
        }
        let roots = unit.roots(self.me);
        match action {
            Action::Spawn => {}
            Action::Transition { from, to } => {
                tracing::info!(unit = %name, from = from.as_str(), to = to.as_str(), "state");
                for record in crate::journal::transition(name, from, to) {
                    self.journal.record(record);
                }
                if to == State::Failed {
                    unit.on_failure_due = true;
                }
                if to == State::Failed && from == State::Starting {
                    let limit = unit.instance.service.start_limit;
                    logs::note(
                        &self.logs.sink(),
                        &unit.log,
                        &format!(
                            "failed: more than {} failed starts within {}; not restarting until `ward start {}`",
                            limit.burst,
                            ward_core::duration::format_duration(limit.interval),
                            unit.name
                        ),
                    );
                }
            }
            Action::Signal { target, signal } => {
                let result = match (target, &unit.main) {
                    (SignalTarget::Main, Some(main)) => main.pidfd.send_signal(signal),
                    (SignalTarget::Main, None) => Ok(()),
                    // The whole tree is reached by one path only.
                    (SignalTarget::Tree, _) => {
                        self.signal_tree(name, &[signal]);
                        return;
                    }
                };
                if let Err(e) = result {
                    tracing::warn!(unit = %name, signal = %signal.name(), error = %e, "signal not delivered");
                }
            }
            Action::KillTree => {
                if let Some(main) = &unit.main {
                    let _ = main.pidfd.send_signal(Signal::KILL);
                }
                if let Err(e) = unit.containment.kill_all(roots) {
                    tracing::warn!(unit = %name, error = %e, "cannot kill the service's processes");
                }
            }
            Action::AwaitTreeEmpty => {
                if unit.containment.is_empty(roots) {
                    self.queue.push_front((name.to_string(), Event::TreeEmpty));
                } else {
                    unit.awaiting_tree = true;
                }
            }
            Action::SetTimer { token, after } => unit.timer = Some((Instant::now() + after, token)),
            Action::CancelTimer => unit.timer = None,
        }
    }

    /// Sends `signals`, in order, to every process of the unit.
    fn signal_tree(&mut self, name: &str, signals: &[Signal]) {
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        if signals.contains(&Signal::KILL) && unit.machine.state() == State::Stopping {
            unit.stop_escalated = true;
        }
        if let Err(e) = unit
            .containment
            .signal_all_each(signals, unit.roots(self.me))
        {
            tracing::warn!(unit = %name, error = %e, "signals not delivered");
        }
    }

    /// Starts a unit's main process and says how it went, as the machine's next event.
    pub(crate) fn spawn(&mut self, name: &str) -> Event {
        let notify = self.notify_path();
        let Some(unit) = self.units.get_mut(name) else {
            return Event::SpawnFailed(SpawnFailure::Other("unit is gone".into()));
        };
        let plumbing = (|| {
            let (stdout, stderr) = unit.output_ends()?;
            Ok::<_, std::io::Error>(Plumbing {
                stdout,
                stderr,
                cgroup_procs: {
                    let mut files = match &unit.containment {
                        Containment::Cgroup(cg) => vec![cg.open_procs_for_join()?],
                        Containment::Tree => Vec::new(),
                    };
                    files.extend(unit.controllers.join_files()?);
                    files
                },
            })
        })();
        let spec =
            plumbing.and_then(|p| launch::spec(name, &unit.instance, p, self.nofile, &notify));
        let sink = self.logs.sink();
        let spec = match spec {
            Ok(spec) => spec,
            Err(e) => {
                let failure = SpawnFailure::Other(format!("cannot prepare the process: {e}"));
                logs::note(&sink, &unit.log, &failure.to_string());
                self.judge_exec_failure(name, &failure);
                return Event::SpawnFailed(failure);
            }
        };
        // Counters read before the fork: the new process may hit a limit at once.
        let baseline = match unit.counters_at_exit.take() {
            Some((at, counters)) if at.elapsed() < COUNTERS_REUSE => counters,
            _ => OomBaseline::read(&unit.controllers),
        };
        match ward_sys::spawn::spawn(spec) {
            Ok(spawned) => {
                let pid = spawned.pidfd.pid();
                self.by_pid.insert(pid, name.to_string());
                logs::note(&sink, &unit.log, &format!("started pid {pid}"));
                let started = SystemTime::now();
                unit.last_started = Some(started);
                unit.stop_escalated = false;
                unit.operator_signal = None;
                unit.oom_baseline = baseline;
                // Read while the child cannot have been reaped: it is ours, and only this
                // thread reaps.
                let identity = ward_sys::ProcessIdentity::of(pid).unwrap_or_else(|_| {
                    ward_sys::ProcessIdentity {
                        pid,
                        start_time: 0,
                        boot_id: String::new(),
                    }
                });
                if let Some(path) = unit.instance.pidfile() {
                    unit.pidfile =
                        write_pidfile(&path, pid, &unit.name, &unit.instance.service.command)
                            .map_err(|e| {
                                tracing::warn!(unit = %name, error = %e, "no pid file");
                                logs::note(&sink, &unit.log, &format!("no pid file: {e}"));
                            })
                            .ok();
                }
                self.journal.record(ward_store::Record::RunStarted {
                    unit: name.to_string(),
                    pid,
                    start_time: identity.start_time,
                    boot_id: identity.boot_id.clone(),
                    at_ms: ward_store::now_ms(),
                    adopted: false,
                });
                unit.main = Some(MainProcess {
                    pidfd: spawned.pidfd,
                    identity,
                    started,
                });
                self.run_began(name, false);
                Event::Spawned { pid }
            }
            Err(e) => {
                let failure = launch::failure(&e, &unit.instance);
                tracing::warn!(unit = %name, error = %failure, "spawn failed");
                logs::note(&sink, &unit.log, &failure.to_string());
                self.judge_exec_failure(name, &failure);
                Event::SpawnFailed(failure)
            }
        }
    }

    /// Reaps every exited child: services' main processes become events, orphans vanish.
    fn reap(&mut self) {
        loop {
            match ward_sys::reap::reap_any() {
                Ok(Some((pid, status))) => {
                    let Some(name) = self.by_pid.remove(&pid) else {
                        self.hook_ended(pid, status);
                        continue;
                    };
                    self.main_ended(&name, status);
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, "waitpid failed");
                    break;
                }
            }
        }
    }

    /// A unit's main process ended (reaped, or an adopted one seen to exit): note it in the
    /// log and the journal, then tell the machine.
    pub(crate) fn main_ended(&mut self, name: &str, status: ExitStatus) {
        let dependents = self.affected_dependents(name);
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        let Some(main) = unit.main.take() else {
            return;
        };
        if let Some(file) = unit.pidfile.take() {
            file.release();
        }
        unit.probe_due = None;
        unit.watchdog_due = None;
        unit.last_exit_at = Some(SystemTime::now());
        logs::note(&self.logs.sink(), &unit.log, &exit_note(status));
        tracing::info!(unit = %name, pid = main.identity.pid, status = %status, "main process ended");
        let id = &main.identity;
        self.journal.record(ward_store::Record::RunEnded {
            unit: name.to_string(),
            pid: id.pid,
            start_time: id.start_time,
            boot_id: id.boot_id.clone(),
            at_ms: ward_store::now_ms(),
            exit: crate::journal::exit_record(status),
        });
        let before = unit.machine.state();
        let now = self.epoch.elapsed();
        let run_time = main.started.elapsed().unwrap_or_default();
        let pid = id.pid;
        let params = unit.machine.params();
        // Judged before the machine acts on it, so the journal reads exit, crash, then what
        // ward did about it; an exit while starting is one more failed start in the window.
        let failed_start = u32::from(before == State::Starting);
        // Read once: the evidence's words and the recommendation both use it.
        let peak = unit.controllers.peak_memory();
        let counters = OomBaseline::read(&unit.controllers);
        unit.counters_at_exit = Some((Instant::now(), counters));
        let report = ward_core::classify::ExitReport {
            status: Some(status),
            exec_failure: None,
            requested_stop: before == State::Stopping,
            stop_escalated: unit.stop_escalated,
            run_time,
            min_uptime: params.min_uptime,
            failed_starts: unit.machine.failed_starts_in_window(now) + failed_start,
            burst: params.start_limit.burst,
            oom: oom_evidence(
                unit.oom_baseline,
                counters,
                (status.signal() == Some(Signal::KILL))
                    .then(|| self.kmsg.oom_line(pid))
                    .flatten(),
                peak,
                unit.instance.service.memory_max,
            ),
            earlier_boot: false,
            supervisor_crashed: false,
            operator_signal: unit.operator_signal,
            pids_limit_hits: match (unit.oom_baseline.pids_hits, counters.pids_hits) {
                (Some(before), Some(now)) => now.saturating_sub(before),
                _ => 0,
            },
            hang: unit.hang.take(),
            dependents,
            peak_memory: peak,
            memory_limit: unit.instance.service.memory_max,
        };
        let settle = status.signal() == Some(Signal::KILL)
            && !matches!(report.oom, ward_core::classify::OomEvidence::Strong(_));
        if settle {
            self.pending.push(PendingVerdict {
                due: Instant::now() + OOM_SETTLE,
                unit: name.to_string(),
                pid,
                report,
                baseline: unit.oom_baseline,
            });
        } else {
            self.judge(name, Some(pid), &report);
        }
        self.dispatch(name, Event::Exited(status));
    }

    /// Judges the verdicts whose settling window is over, with the evidence there is now.
    fn settle_verdicts(&mut self) {
        let now = Instant::now();
        let (due, waiting): (Vec<PendingVerdict>, Vec<PendingVerdict>) =
            std::mem::take(&mut self.pending)
                .into_iter()
                .partition(|p| p.due <= now);
        self.pending = waiting;
        for mut p in due {
            if let Some(unit) = self.units.get(&p.unit) {
                let kernel = self.kmsg.oom_line(p.pid);
                p.report.oom = oom_evidence(
                    p.baseline,
                    OomBaseline::read(&unit.controllers),
                    kernel,
                    p.report.peak_memory,
                    p.report.memory_limit,
                );
            }
            self.judge(&p.unit, Some(p.pid), &p.report);
            self.apply_strategy(&p.unit);
        }
    }

    /// An exec failure is judged before the machine counts it: one more failed start.
    fn judge_exec_failure(&mut self, name: &str, failure: &SpawnFailure) {
        let now = self.epoch.elapsed();
        let Some(unit) = self.units.get(name) else {
            return;
        };
        let params = unit.machine.params();
        let report = ward_core::classify::ExitReport {
            status: None,
            exec_failure: Some(failure.to_string()),
            min_uptime: params.min_uptime,
            failed_starts: unit.machine.failed_starts_in_window(now) + 1,
            burst: params.start_limit.burst,
            ..ward_core::classify::ExitReport::of(ward_core::ExitStatus::Unknown, Duration::ZERO)
        };
        self.judge(name, None, &report);
    }

    /// Classifies an ended run, keeps the verdict for `ward why`, and journals it if it is
    /// a crash.
    pub(crate) fn judge(
        &mut self,
        name: &str,
        pid: Option<u32>,
        report: &ward_core::classify::ExitReport,
    ) {
        let verdict = ward_core::classify::classify(report);
        if verdict.class.is_crash() {
            self.journal
                .record(crate::journal::crash(name, pid, &verdict));
        }
        if let Some(unit) = self.units.get_mut(name) {
            unit.verdict = Some((verdict.clone(), SystemTime::now()));
        }
        if verdict.class.is_crash() {
            // The recovery table's choice, escalated when it is unlikely to hold; carried
            // out once the machine has acted.
            let strategy = self.choose_strategy(name, verdict.class);
            if let Some(unit) = self.units.get_mut(name) {
                unit.strategy_due = Some(strategy);
                unit.last_strategy = Some(strategy);
            }
        }
    }

    /// The strategy for a crash of `class`: the recovery table's, escalated (once) when the
    /// service's `confidence_floor` is above the journal's estimate that it will hold.
    fn choose_strategy(
        &mut self,
        name: &str,
        class: ward_core::classify::CrashClass,
    ) -> ward_core::config::Strategy {
        use ward_core::config::Strategy;
        let Some(unit) = self.units.get(name) else {
            return Strategy::Backoff;
        };
        let svc = &unit.instance.service;
        let chosen = svc
            .recovery
            .get(class.as_str())
            .copied()
            .unwrap_or(Strategy::Backoff);
        let Some(floor) = svc.confidence_floor else {
            return chosen;
        };
        if chosen == Strategy::GiveUp {
            return chosen;
        }
        let min_uptime = unit.machine.params().min_uptime.as_millis() as i64;
        let has_repair = svc.repair.is_some();
        // A read of the journal on the loop: only for services that ask for a floor, and
        // only at a crash.
        let Ok(reader) = ward_store::Reader::open(self.journal.path()) else {
            return chosen;
        };
        let now = ward_store::now_ms();
        let outcomes = |unit: Option<&str>| {
            reader
                .recovery_outcomes(unit, class.as_str(), min_uptime, now)
                .map(|(successes, trials)| ward_core::classify::Outcomes { successes, trials })
                .unwrap_or_default()
        };
        let c = ward_core::classify::confidence(outcomes(Some(name)), outcomes(None));
        if c.value >= floor {
            return chosen;
        }
        let escalated = chosen.escalated(has_repair);
        self.journal.record(ward_store::Record::Recovery {
            unit: name.to_string(),
            at_ms: now,
            action: format!(
                "escalated from {} to {}: confidence {} is below the floor {floor:.2}",
                chosen.as_str(),
                escalated.as_str(),
                c.explain(class.as_str())
            ),
            delay_ms: None,
        });
        escalated
    }

    /// The next time the loop must wake up without any other happening.
    fn next_deadline(&self) -> Instant {
        let now = Instant::now();
        let mut next = now + Duration::from_secs(3600);
        for unit in self.units.values() {
            if let Some((at, _)) = unit.timer {
                next = next.min(at);
            }
            if unit.awaiting_tree {
                next = next.min(now + TREE_POLL);
            }
            for at in [unit.probe_due, unit.watchdog_due].into_iter().flatten() {
                next = next.min(at);
            }
        }
        for p in &self.pending {
            next = next.min(p.due);
        }
        for h in self.hooks.values() {
            next = next.min(h.deadline);
        }
        next
    }

    /// Fires due timers and reports trees that have emptied.
    fn fire_timers(&mut self) {
        self.settle_verdicts();
        self.kill_late_hooks();
        self.run_due_probes();
        self.check_watchdogs();
        let now = Instant::now();
        let mut due = Vec::new();
        for unit in self.units.values_mut() {
            if let Some((at, token)) = unit.timer
                && at <= now
            {
                unit.timer = None;
                due.push((unit.name.clone(), Event::Timer { token }));
            }
            if unit.awaiting_tree && unit.containment.is_empty(unit.roots(self.me)) {
                unit.awaiting_tree = false;
                due.push((unit.name.clone(), Event::TreeEmpty));
            }
        }
        for (name, event) in due {
            self.dispatch(&name, event);
        }
    }

    /// Answers waiters whose units arrived, and drops removed units once they are down.
    fn settle(&mut self) {
        self.start_waiting();
        self.stop_freed();
        let waiters = std::mem::take(&mut self.waiters);
        for waiter in waiters {
            let done = waiter.names.iter().all(|n| match self.units.get(n) {
                None => true,
                Some(u) => match waiter.until {
                    Until::Quiescent => u.is_down(),
                    Until::NotStopping => u.machine.state() != State::Stopping,
                },
            });
            if done {
                let answer = self.results(&waiter.names, waiter.until);
                self.answer_recorded(
                    waiter.reply,
                    answer,
                    &waiter.who,
                    waiter.what,
                    &waiter.names,
                );
            } else {
                self.waiters.push(waiter);
            }
        }
        let gone: Vec<String> = self
            .units
            .values()
            .filter(|u| u.removing && u.is_down())
            .map(|u| u.name.clone())
            .collect();
        for name in gone {
            if let Some(mut unit) = self.units.remove(&name) {
                // The capture tasks read what is left, then end; the log closes after them.
                let _ = unit.stop_capture.send(true);
                let (captures, sink, log) = (
                    std::mem::take(&mut unit.captures),
                    self.logs.sink(),
                    unit.log.clone(),
                );
                tokio::spawn(async move {
                    for c in captures {
                        let _ = c.await;
                    }
                    sink.close(&log);
                });
                unit.containment.remove();
                unit.controllers.remove();
                persist::remove(&self.config.supervisor.runtime_dir, &name);
                for fifo in &unit.fifos {
                    let _ = std::fs::remove_file(fifo);
                }
                tracing::info!(unit = %name, "removed");
            }
        }
    }

    /// Stops every unit; the loop ends once all are down.
    pub fn begin_shutdown(&mut self, reply: Option<tokio::sync::oneshot::Sender<Reply>>) {
        if self.shutdown.is_none() {
            tracing::info!("stopping every service");
            self.shutdown = Some(Vec::new());
            let names: Vec<String> = self.units.keys().cloned().collect();
            self.stop_in_order(names);
        }
        if let (Some(list), Some(reply)) = (self.shutdown.as_mut(), reply) {
            list.push(reply);
        }
    }

    /// A second SIGINT: no more waiting for stop timeouts.
    fn force_stop(&mut self) {
        tracing::warn!("forced shutdown: killing every service now");
        for unit in self.units.values() {
            if let Some(main) = &unit.main {
                let _ = main.pidfd.send_signal(Signal::KILL);
            }
            let _ = unit.containment.kill_all(unit.roots(self.me));
        }
    }

    /// `NOTIFY_SOCKET` for the services.
    pub(crate) fn notify_path(&self) -> PathBuf {
        crate::notify::socket_path(&self.config.supervisor.runtime_dir)
    }

    /// Milliseconds since the Unix epoch, for the API.
    pub fn epoch_ms(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

impl Unit {
    /// Whether a `SIGQUIT` leaves this unit running.
    pub fn kept_on_detach(&self) -> bool {
        self.instance.service.on_daemon_exit == DaemonExit::Keep
    }

    /// No process of the unit is left and none is coming.
    pub fn is_down(&self) -> bool {
        self.machine.is_quiescent() && !self.awaiting_tree && self.main.is_none()
    }
}

/// Writes the PID file of a new main process (its directory is created if missing).
pub(crate) fn write_pidfile(
    path: &std::path::Path,
    pid: u32,
    unit: &str,
    command: &[String],
) -> Result<ward_sys::pidfile::HeldPidFile, String> {
    if let Some(dir) = path.parent()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        // Other tools must be able to reach the file: not the daemon's private umask.
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    }
    let record = ward_sys::pidfile::PidRecord::of(pid, unit, command)
        .map_err(|e| format!("cannot read the identity of pid {pid}: {e}"))?;
    ward_sys::pidfile::HeldPidFile::create(path, &record).map_err(|e| e.to_string())
}

/// Sets the unit's cgroup limits, and says where one cannot be enforced.
pub(crate) fn apply_limits(
    name: &str,
    instance: &Instance,
    available: &ward_sys::controllers::Controllers,
    unit: &ward_sys::controllers::UnitControllers,
) {
    let svc = &instance.service;
    if svc.memory_max.is_some() && !available.has_memory() {
        tracing::warn!(unit = %name, "memory_max cannot be enforced: no memory controller here");
    }
    if svc.pids_max.is_some() && !available.has_pids() {
        tracing::warn!(unit = %name, "pids_max cannot be enforced: no pids controller here");
    }
    if let Err(e) = unit.set_memory_max(svc.memory_max) {
        tracing::warn!(unit = %name, error = %e, "cannot set memory_max");
    }
    if svc.cpu_max.is_some() && !available.has_cpu() {
        tracing::warn!(unit = %name, "cpu_max cannot be enforced: no cpu controller here");
    }
    if let Err(e) = unit.set_cpu_max(svc.cpu_max) {
        tracing::warn!(unit = %name, error = %e, "cannot set cpu_max");
    }
    if let Err(e) = unit.set_pids_max(svc.pids_max) {
        tracing::warn!(unit = %name, error = %e, "cannot set pids_max");
    }
}

/// What points to an OOM kill since the run began: the unit's own memory cgroup counting
/// one (strong), else the machine-wide counter rising (weak).
fn oom_evidence(
    baseline: OomBaseline,
    now: OomBaseline,
    kernel: Option<String>,
    peak: Option<u64>,
    limit: Option<u64>,
) -> ward_core::classify::OomEvidence {
    use ward_core::classify::OomEvidence;
    let peak = match (peak, limit) {
        (Some(p), Some(l)) => format!(
            "; peak memory {:.1} MiB of a {:.1} MiB limit",
            p as f64 / 1048576.0,
            l as f64 / 1048576.0
        ),
        (Some(p), None) => format!("; peak memory {:.1} MiB", p as f64 / 1048576.0),
        _ => String::new(),
    };
    // The kernel log names the PID it killed (looked up only for a SIGKILL death).
    let kernel_line = kernel
        .as_ref()
        .map(|l| format!("; kernel log: {l}"))
        .unwrap_or_default();
    if let (Some(before), Some(now)) = (baseline.cgroup, now.cgroup)
        && now > before
    {
        return OomEvidence::Strong(format!(
            "the service's memory cgroup counted {} OOM kill(s) during the run{peak}{kernel_line}",
            now - before
        ));
    }
    if let Some(line) = kernel {
        return OomEvidence::Strong(format!("kernel log: {line}{peak}"));
    }
    if let (Some(before), Some(now)) = (baseline.machine, now.machine)
        && now > before
    {
        return OomEvidence::Weak(format!(
            "the machine's OOM-kill count (/proc/vmstat) rose by {} during the run{peak}",
            now - before
        ));
    }
    OomEvidence::None
}

/// The line a unit's log gets when its main process ends.
fn exit_note(status: ExitStatus) -> String {
    format!("main process ended: {status}")
}
