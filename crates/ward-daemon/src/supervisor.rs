//! The one task that owns every unit: it reaps, fires timers, answers requests and carries
//! out what the state machines decide.
//!
//! Reaping: ward is a child subreaper, so its children are its services' main processes
//! *and* every orphan of their trees. One `waitpid(-1, WNOHANG)` loop, run after each
//! SIGCHLD, reaps them all and maps each PID to its unit; nothing else in ward waits for a
//! child. A main process's exit status can therefore never be taken by someone else, and an
//! orphan never stays a zombie. The pidfd of each main process comes back from the clone
//! itself (`CLONE_PIDFD`), before this loop can run, so signals never reach a reused PID.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Semaphore, mpsc};
use ward_core::config::Config;
use ward_core::machine::{Action, Event, Recovery, SignalTarget, State};
use ward_core::{ExitStatus, Signal};
use ward_sys::cgroup::CgroupDriver;
use ward_sys::limits::Limit;

use crate::logs::{self, LogWriter};
use crate::persist;
use crate::requests::{Reply, Request};
use crate::unit::Unit;
use crate::verdicts::PendingVerdict;

/// How often a unit that waits for its last processes to go is looked at again.
pub(crate) const TREE_POLL: Duration = Duration::from_millis(20);

/// At most this many API connections at once; more wait in the listen backlog.
pub(crate) const MAX_CONNECTIONS: u32 = 64;

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
    /// Main processes that are ward's children, by PID, for the reaper.
    pub(crate) by_pid: HashMap<u32, String>,
    pub logs: LogWriter,
    /// The one task that reads every unit's output into its log.
    pub(crate) captures: logs::Captures,
    pub cgroups: Option<CgroupDriver>,
    /// Memory, pids and cpu controllers, for limits and OOM evidence.
    pub controllers: ward_sys::controllers::Controllers,
    /// The kernel log since the daemon started, for the OOM killer's own words.
    pub(crate) kmsg: ward_sys::kmsg::KernelLog,
    /// When to make the daemon's own files again, what went away meanwhile.
    pub(crate) own_files_due: Option<Instant>,
    /// The machine's OOM-kill count as last read for a run's baseline.
    pub(crate) machine_ooms: crate::verdicts::MachineOoms,
    pub(crate) gone: Vec<ward_sys::watch::Gone>,
    /// The PID file taken again after the first one went away (see `own_files.rs`).
    pub(crate) relocked: Option<ward_sys::pidfile::HeldPidFile>,
    /// Work a turn had no time for (see `turns.rs`).
    pub(crate) backlog: crate::turns::Backlog,
    /// This turn's look at `/proc`, for units contained by process tree.
    pub(crate) procs: crate::contain::ProcView,
    /// Verdicts waiting for OOM evidence to settle: (when, unit, pid, report, baselines).
    pub(crate) pending: Vec<PendingVerdict>,
    /// Hooks that run, by PID.
    pub(crate) hooks: HashMap<u32, crate::hooks::Hook>,
    /// Cgroups of hooks and probes that ended, killed, waiting for the kernel to let them
    /// be removed.
    pub(crate) retired_side_cgroups: Vec<ward_sys::cgroup::ServiceCgroup>,
    /// The main processes' states as `ward status` last read them.
    pub(crate) proc_states: crate::proc_states::ProcStates,
    pub(crate) nofile: Limit,
    epoch: Instant,
    pub started_at: SystemTime,
    pub me: u32,
    queue: VecDeque<(String, Event)>,
    /// Spawns launched and not yet answered, oldest first (`start_queued`): each is
    /// answered before its unit hears of anything else.
    pub(crate) launches: VecDeque<(String, crate::spawning::PendingSpawn)>,
    /// While set, a spawn is launched and answered later (`start_queued`).
    pub(crate) detach_spawns: bool,
    pub waiters: Vec<Waiter>,
    /// Set once a shutdown began, with the `ward down` requests to answer at the end.
    pub shutdown: Option<Vec<tokio::sync::oneshot::Sender<Reply>>>,
    /// `SIGQUIT`: exit, leaving `on_daemon_exit = "keep"` services running for the next
    /// daemon.
    pub(crate) detaching: bool,
    /// A container's init (`ward up --init`, or PID 1).
    pub(crate) init: bool,
    /// The manager ward runs under (`$NOTIFY_SOCKET`, systemd's `Type=notify`), and
    /// whether it was told `READY=1`.
    pub(crate) systemd: Option<ward_sys::sd_notify::Notifier>,
    pub(crate) told_ready: bool,
    /// A unit has had a schedule armed: until then, the loop looks at no schedule (every
    /// wake-up would otherwise walk every unit for nothing).
    pub(crate) any_scheduled: bool,
    /// The first unit that ended for good in failure: `exit_code = "first-failure"`.
    pub(crate) first_failure: Option<crate::container::FirstFailure>,
    /// The history of every unit, written by its own thread.
    pub journal: ward_store::Journal,
    /// What the repair at start-up did, if the journal needed one.
    pub journal_repair: Option<String>,
    /// The daemon before this one did not exit cleanly (it left its PID file).
    pub previous_crashed: bool,
    /// Who asked for what, and what was started (see `audit.rs`).
    pub(crate) audit: crate::audit::Audit,
    /// The groups the socket is opened to (`api_group`, `api_readers`).
    pub(crate) open_to: ward_core::access::Groups,
    /// A `ward backup` runs: a second one waits for it to end.
    pub(crate) backup_running: Arc<std::sync::atomic::AtomicBool>,
    /// Snapshots and restores finished on their blocking threads: (unit, what, outcome).
    pub(crate) files_tx: mpsc::UnboundedSender<crate::snapshots::FileJobDone>,
    files_rx: Option<mpsc::UnboundedReceiver<crate::snapshots::FileJobDone>>,
    /// Exits of adopted main processes (not ward's children), from their watcher tasks.
    pub adopted_tx: mpsc::UnboundedSender<(String, u32, Option<ExitStatus>)>,
    adopted_rx: Option<mpsc::UnboundedReceiver<(String, u32, Option<ExitStatus>)>>,
    /// Finished TCP health probes, from their tasks.
    pub(crate) probes_tx: mpsc::UnboundedSender<crate::health::ProbeDone>,
    probes_rx: Option<mpsc::UnboundedReceiver<crate::health::ProbeDone>>,
    /// The live event stream (`events.rs`), fed by the journal.
    pub(crate) events: Arc<crate::events::Bus>,
    hook_events_rx: Option<mpsc::UnboundedReceiver<Arc<ward_api::LiveEvent>>>,
    /// The `[[hooks]]`' queues and runs.
    pub(crate) event_hooks: crate::event_hooks::EventHooks,
    /// The runtime the API's connections are served on: a thread of its own, so that an
    /// answer is written as fast as its client reads it, however long the loop's slices
    /// of a start or a shutdown of thousands of units (a status of 6,400 units is 4 MB,
    /// some twenty socket buffers, each of which waited for a turn of the loop).
    pub(crate) api: tokio::runtime::Handle,
    /// The HTTP listener and its token, until `run` serves them (`http.rs`).
    pub(crate) http: Option<(std::net::TcpListener, crate::http::Tokens)>,
    /// The address the HTTP listener is bound to.
    pub(crate) http_addr: Option<std::net::SocketAddr>,
    /// When the next round of usage samples is due (`sampling.rs`).
    pub(crate) sampler: crate::sampling::Sampler,
    pub(crate) samples_tx: mpsc::UnboundedSender<Vec<crate::sampling::Reading>>,
    samples_rx: Option<mpsc::UnboundedReceiver<Vec<crate::sampling::Reading>>>,
    /// Reloads waiting for the config file to be read, and the reads that ended.
    pub(crate) reloads: crate::reload::Reloads,
    pub(crate) reload_tx: mpsc::UnboundedSender<crate::reload::ReadDone>,
    reload_rx: Option<mpsc::UnboundedReceiver<crate::reload::ReadDone>>,
    pub(crate) seed: u64,
}

/// What the daemon keeps of the past, opened before the loop.
pub(crate) struct History {
    /// The journal.
    pub journal: ward_store::Journal,
    /// What its repair at start-up did, if it needed one.
    pub repaired: Option<ward_store::RepairReport>,
    /// The daemon before this one did not exit cleanly.
    pub previous_crashed: bool,
    /// The audit trail.
    pub audit: crate::audit::Audit,
}

impl Supervisor {
    pub(crate) fn new(
        config_path: PathBuf,
        config: ward_core::config::Config,
        cgroups: Option<CgroupDriver>,
        nofile: Limit,
        history: History,
        open_to: ward_core::access::Groups,
    ) -> std::io::Result<Supervisor> {
        let History {
            mut journal,
            repaired,
            previous_crashed,
            audit,
        } = history;
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(ward_sys::own_pid());
        let (adopted_tx, adopted_rx) = mpsc::unbounded_channel();
        let (files_tx, files_rx) = mpsc::unbounded_channel();
        let (probes_tx, probes_rx) = mpsc::unbounded_channel();
        let (samples_tx, samples_rx) = mpsc::unbounded_channel();
        let (events, hook_events_rx) = crate::events::Bus::new();
        events.want_hooks(!config.hooks.is_empty());
        journal.set_tap(events.tap());
        let (reload_tx, reload_rx) = mpsc::unbounded_channel();
        let logs = LogWriter::start(config.supervisor.log_to == ward_core::config::LogTo::Stdout)?;
        let captures = logs::Captures::start(logs.sink())?;
        Ok(Supervisor {
            config_path,
            graph: ward_core::deps::Graph::of(&config.services),
            units: BTreeMap::new(),
            by_pid: HashMap::new(),
            logs,
            captures,
            controllers: match &cgroups {
                Some(_) => ward_sys::controllers::Controllers::detect(&crate::startup::state_id(
                    &config.supervisor.state_dir,
                )),
                None => ward_sys::controllers::Controllers::default(),
            },
            pending: Vec::new(),
            kmsg: ward_sys::kmsg::KernelLog::open(),
            procs: Default::default(),
            backlog: Default::default(),
            relocked: None,
            own_files_due: None,
            machine_ooms: Default::default(),
            gone: Vec::new(),
            hooks: HashMap::new(),
            retired_side_cgroups: Vec::new(),
            proc_states: Default::default(),
            cgroups,
            nofile,
            epoch: Instant::now(),
            started_at: SystemTime::now(),
            me: ward_sys::own_pid(),
            queue: VecDeque::new(),
            launches: VecDeque::new(),
            detach_spawns: false,
            waiters: Vec::new(),
            shutdown: None,
            detaching: false,
            init: false,
            first_failure: None,
            systemd: None,
            told_ready: false,
            any_scheduled: false,
            journal,
            journal_repair: repaired.map(|r| r.to_string()),
            previous_crashed,
            audit,
            backup_running: Default::default(),
            open_to,
            adopted_tx,
            adopted_rx: Some(adopted_rx),
            files_tx,
            files_rx: Some(files_rx),
            probes_tx,
            probes_rx: Some(probes_rx),
            events,
            hook_events_rx: Some(hook_events_rx),
            event_hooks: Default::default(),
            api: tokio::runtime::Handle::current(),
            http: None,
            http_addr: None,
            sampler: crate::sampling::Sampler::new(
                config.supervisor.sample_interval,
                config.supervisor.sample_while,
            ),
            samples_tx,
            samples_rx: Some(samples_rx),
            reloads: Default::default(),
            reload_tx,
            reload_rx: Some(reload_rx),
            seed,
            config,
        })
    }

    /// The machines' clock: time since the daemon started.
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Runs until a shutdown has stopped every unit.
    pub async fn run(&mut self, listener: UnixListener, ready: Option<File>) -> i32 {
        let (tx, mut rx) = mpsc::channel::<Request>(64);
        let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS as usize));
        let server = self.api.spawn(crate::api::serve(
            listener,
            tx.clone(),
            connections.clone(),
            self.audit.clone(),
            self.open_to,
            self.events.clone(),
        ));
        if let Some((listener, tokens)) = self.http.take() {
            let listener = {
                // Registered with the API's runtime, which drives its readiness.
                let _api = self.api.enter();
                tokio::net::TcpListener::from_std(listener)
            };
            match listener {
                Ok(listener) => {
                    self.api.spawn(crate::http::serve(
                        listener,
                        Arc::new(crate::http::Shared {
                            tokens,
                            sessions: Default::default(),
                        }),
                        tx.clone(),
                        self.audit.clone(),
                        self.events.clone(),
                    ));
                }
                Err(e) => tracing::error!(error = %e, "cannot serve the HTTP listener"),
            }
        }
        // Before tokio's own SIGCHLD action, so that the note of a child's end is made
        // before tokio wakes the loop for it. Without it every turn looks for ended
        // children, as it did before: slower with thousands of them, never wrong.
        if let Err(e) = ward_sys::reap::watch_child_signals() {
            tracing::warn!(error = %e, "every turn of the loop looks for ended children");
        }
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
                return 1;
            }
        };
        let mut adopted_rx = self.adopted_rx.take().expect("run is called once");
        let mut files_rx = self.files_rx.take().expect("run is called once");
        let mut probes_rx = self.probes_rx.take().expect("run is called once");
        let mut samples_rx = self.samples_rx.take().expect("run is called once");
        let mut hook_events_rx = self.hook_events_rx.take().expect("run is called once");
        let mut reload_rx = self.reload_rx.take().expect("run is called once");
        let (notify_tx, mut notify_rx) = mpsc::unbounded_channel();
        let notify_path = crate::notify::socket_path(&self.config.supervisor.runtime_dir);
        match ward_sys::notify::NotifySocket::bind(&notify_path) {
            Ok(socket) => {
                tokio::spawn(crate::notify::listen(socket, notify_tx.clone()));
            }
            Err(e) => tracing::error!(
                path = %notify_path.display(),
                error = %e,
                "cannot bind the notify socket: services with ready = \"notify\" or a watchdog will not be heard"
            ),
        }

        let mut serving = crate::serving::Serving {
            server,
            tx,
            connections,
            notify_tx,
            bound: crate::serving::identity(&self.config.supervisor.socket),
        };
        // The daemon's own files: watched, and made again if they go away. Set up after
        // the notify socket, whose binding replaces a file an earlier daemon left.
        let mut own = match ward_sys::watch::FileWatch::new() {
            Ok(mut w) => {
                crate::own_files::watch(&mut w, &self.config.supervisor);
                Some(w)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the daemon's own files");
                None
            }
        };
        self.audit.note(ward_store::audit::Event::Daemon {
            what: format!("daemon started (pid {})", self.me),
        });
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
        let usage_asked = self.events.usage_asked();

        loop {
            // Work left from the last turn waits until the server has had its turn, so a
            // `ward status` is answered between slices.
            if self.backlog.pending() {
                tokio::task::yield_now().await;
                // A request that came during the slice is answered before the next one.
                // Otherwise the timers' work after a slice and the next turn's slice ran
                // back to back, with no look at the requests between them: in a start of
                // 6,400 units a status waited for the loop up to 24 ms, two slices;
                // answered here, 11.5 ms at most.
                if let Ok(req) = rx.try_recv() {
                    self.handle(req);
                }
            }
            self.backlog.begin_turn();
            // The turn's notes go to the writer together, when it ends.
            self.logs.hold();
            // A new turn looks at `/proc` afresh.
            self.procs.forget();
            if self.own_files_due.is_some_and(|due| due <= Instant::now()) {
                self.repair_own_files(&mut serving, own.as_mut());
            }
            if self.backlog.stops {
                // A shutdown's stops come before the ends reaped meanwhile are judged.
                self.stop_freed_first();
            }
            self.reap();
            self.settle();
            self.logs.release();
            if self.finished() {
                break;
            }
            // Work left waits for no timer: tokio's timer rounds a deadline up to its
            // next millisecond, so a wait until now slept about 1 ms after every 10 ms
            // slice of a large start, a tenth of its time. A yield lets the other
            // branches be looked at first, and the next turn comes at once.
            let deadline = (!self.backlog.pending()).then(|| self.next_deadline());
            // The wait is no work: what the wake-up brings gets a slice of its own.
            self.backlog.begin_turn();
            tokio::select! {
                // A SIGCHLD always looks, whatever the note says: tokio's action may
                // have woken the loop before the note's was made.
                _ = sigchld.recv() => {
                    ward_sys::reap::look_again();
                    self.reap();
                }
                Some((name, pid, status)) = adopted_rx.recv() => {
                    self.adopted_exited(&name, pid, status);
                }
                Some((name, job, outcome)) = files_rx.recv() => {
                    self.file_job_done(&name, job, outcome);
                }
                Some(readings) = samples_rx.recv() => self.samples_read(readings),
                () = usage_asked.notified() => self.usage_watched(),
                Some(ev) = hook_events_rx.recv() => self.event_for_hooks(ev),
                Some((name, main, outcome)) = probes_rx.recv() => {
                    self.probe_done(&name, main, outcome);
                }
                Some((pid, message)) = notify_rx.recv() => self.notified(pid, message),
                gone = async {
                    match own.as_mut() {
                        Some(w) => w.gone().await,
                        None => std::future::pending().await,
                    }
                } => match gone {
                    // Acted on a moment later, once a deletion in progress (`rm -rf`)
                    // is over: what is made again meanwhile would be deleted with it.
                    Ok(gone) => self.own_files_gone(gone),
                    Err(e) => {
                        tracing::warn!(error = %e, "no longer watching the daemon's own files");
                        own = None;
                    }
                },
                // In a container, the runtime's SIGQUIT asks for an end like SIGTERM's:
                // nothing survives the container to be adopted.
                _ = sigquit.recv() => {
                    if self.init {
                        self.begin_shutdown(None);
                    } else {
                        self.detach();
                    }
                }
                _ = sigterm.recv() => {
                    if self.init && self.shutdown.is_some() {
                        self.force_stop();
                    } else {
                        self.begin_shutdown(None);
                    }
                }
                _ = sigint.recv() => {
                    if self.shutdown.is_some() {
                        self.force_stop();
                    } else {
                        self.begin_shutdown(None);
                    }
                }
                _ = sighup.recv() => self.ask_reload(crate::reload::Asker::Signal),
                Some(read) = reload_rx.recv() => self.reload_read(read),
                Some(req) = rx.recv() => self.handle(req),
                () = async {
                    match deadline {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => tokio::task::yield_now().await,
                    }
                } => self.fire_timers(),
            }
        }

        self.wind_down(serving, rx).await;
        let code = self.exit_code();
        match &self.first_failure {
            Some(f) if code != 0 => {
                tracing::info!(code, first_failure = %f.unit, "exiting with the code of the first failure")
            }
            _ => tracing::info!(code, "exiting"),
        }
        code
    }

    /// Feeds one event to a unit and carries out everything that follows from it.
    pub fn dispatch(&mut self, name: &str, event: Event) {
        // A spawn of this unit still in flight is answered first: the machine waits for it.
        if let Some(at) = self.launch_of(name) {
            self.answer_launch_at(at);
        }
        if matches!(event, Event::Stop | Event::Restart)
            && let Some(unit) = self.units.get_mut(name)
        {
            if let Some(s) = unit.seldom_held() {
                s.waiting_for.clear();
                s.waiting_since = None;
            }
            unit.start_queued = false;
            self.stop_side_processes(name);
        }
        self.queue.push_back((name.to_string(), event));
        while let Some((name, event)) = self.queue.pop_front() {
            let now = self.now();
            let Some(unit) = self.units.get_mut(&name) else {
                continue;
            };
            let actions = unit.machine.handle(event, now);
            let mut actions = actions.into_iter().peekable();
            // A stop of a live run that has a `pre_stop` hook: its signals wait for it.
            let mut hold = false;
            while let Some(action) = actions.next() {
                if let Action::Transition {
                    to: State::Stopping,
                    ..
                } = action
                {
                    hold = self.pre_stop(&name);
                }
                if hold && let Action::Signal { target, signal } = action {
                    self.hold_signal(&name, target, signal);
                    continue;
                }
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

    fn apply(&mut self, name: &str, action: Action) {
        if let Action::Spawn = action {
            // Without an answer now, the end of a hook or of the file work answers.
            if let Some(answer) = self.spawn_after(name, crate::lifecycle::Prep::PostStop) {
                // The answer comes before anything else queued: the machine is waiting
                // for it.
                self.queue.push_front((name.to_string(), answer));
            }
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
                self.journal
                    .record(crate::journal::transition(name, from, to));
                if to == State::Failed {
                    unit.on_failure_due = true;
                }
                if to == State::Completed {
                    unit.seldom_mut().completed_at = Some(Instant::now());
                }
                self.note_failure(name, to);
            }
            Action::Recovery(recovery) => {
                self.journal
                    .record(crate::journal::recovery(name, recovery));
                if matches!(recovery, Recovery::Restart { .. }) {
                    // The reason of an automatic restart: the class of the end before it,
                    // judged before the machine acted.
                    let reason = unit
                        .verdict
                        .as_deref()
                        .map_or("unknown", |(v, _)| v.class.as_str());
                    *unit
                        .seldom_mut()
                        .restarts_by_reason
                        .entry(reason)
                        .or_default() += 1;
                }
                if recovery == Recovery::StartLimit {
                    let limit = unit.instance.service.start_limit;
                    logs::note(
                        &self.logs.sink(),
                        &unit.log,
                        &format!(
                            "failed: more than {} failed starts within {}; not restarting until `ward start {}`",
                            limit.burst,
                            ward_core::duration::format_duration(limit.interval),
                            unit.name()
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
                if let Err(e) = unit.kill_everything(self.me, &mut self.procs) {
                    tracing::warn!(unit = %name, error = %e, "cannot kill the service's processes");
                }
            }
            Action::AwaitTreeEmpty => {
                if unit.containment.is_empty(roots, &mut self.procs) {
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
    pub(crate) fn signal_tree(&mut self, name: &str, signals: &[Signal]) {
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        if signals.contains(&Signal::KILL) && unit.machine.state() == State::Stopping {
            unit.stop_escalated = true;
        }
        if let Err(e) = unit.containment.signal_all_each(
            signals,
            unit.roots(self.me),
            &mut self.procs,
            unit.main.as_ref().map(|m| &m.pidfd),
        ) {
            tracing::warn!(unit = %name, error = %e, "signals not delivered");
        }
    }

    /// Answers waiters whose units arrived, and drops removed units once they are down.
    fn settle(&mut self) {
        self.start_queued();
        self.start_waiting();
        self.check_exit_when();
        self.tell_manager_ready();
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
        if self.backlog.held.removals {
            self.remove_gone();
        }
    }

    /// Removes the units that left the config once they are down.
    fn remove_gone(&mut self) {
        let gone: Vec<String> = self
            .units
            .values()
            .filter(|u| u.removing && u.is_down())
            .map(|u| u.name().to_string())
            .collect();
        self.backlog.held.removals = self.units.values().any(|u| u.removing && !u.is_down());
        for name in gone {
            if let Some(unit) = self.units.remove(&name) {
                // What its pipes hold is still written; the log closes after it.
                self.captures.forget(unit.log.clone());
                unit.containment.remove();
                unit.controllers.remove();
                if let Some(dir) = &unit.private_tmp {
                    let _ = crate::private_tmp::remove(dir);
                }
                persist::remove(&self.config.supervisor.runtime_dir, &name);
                for fifo in unit.fifos(&self.config.supervisor.runtime_dir) {
                    let _ = std::fs::remove_file(fifo);
                }
                tracing::info!(unit = %name, "removed");
            }
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
