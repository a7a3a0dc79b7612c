//! One supervised unit at run time: its machine, its process, its pipes, its cgroup.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use ward_core::config::Instance;
use ward_core::machine::ServiceMachine;
use ward_sys::Pidfd;

use crate::contain::{Containment, TreeRoots};
use crate::logs::UnitLog;

/// Where the units' FIFOs live in `runtime_dir`.
pub fn io_dir(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("io")
}

/// The live main process of a unit.
#[derive(Debug)]
pub struct MainProcess {
    /// Handle used for every signal to it.
    pub pidfd: Pidfd,
    /// Who it is, for the record the next daemon reads.
    pub identity: ward_sys::ProcessIdentity,
    /// Wall-clock start, for status.
    pub started: SystemTime,
}

/// A unit and everything the daemon holds for it.
///
/// What few units have, or have only after a run ended (a verdict, a PID file, a
/// schedule, the usage while someone looks), is boxed: inline it would cost every one of
/// thousands of units its size, 370 bytes together.
#[derive(Debug)]
pub struct Unit {
    /// Its config.
    pub instance: Instance,
    /// Its decisions.
    pub machine: ServiceMachine,
    /// The main process while it lives.
    pub main: Option<MainProcess>,
    /// Where its processes live.
    pub containment: Containment,
    /// Its cgroup and controller directories are made (`Supervisor::ensure_set_up`);
    /// until then `containment` is the tree, and nothing of it runs.
    pub set_up: bool,
    /// Its log file.
    pub log: Arc<UnitLog>,
    /// The armed timer: deadline and token.
    pub timer: Option<(Instant, u64)>,
    /// Waiting for its last processes to go (after [`ward_core::machine::Action::AwaitTreeEmpty`]).
    pub awaiting_tree: bool,
    /// The PID file of the main process, held while it runs (`pidfile = …`).
    pub pidfile: Option<Box<ward_sys::pidfile::HeldPidFile>>,
    /// The unit's directories in the memory, pids and cpu controllers.
    pub controllers: ward_sys::controllers::UnitControllers,
    /// Those its current run joined (see [`UnitControllers::for_run`]): the only ones
    /// whose counters say anything about it.
    ///
    /// [`UnitControllers::for_run`]: ward_sys::controllers::UnitControllers::for_run
    pub run_controllers: ward_sys::controllers::UnitControllers,
    /// OOM counters when the current run started.
    pub oom_baseline: crate::verdicts::OomBaseline,
    /// The counters as the last run's end read them, and when: a restart that follows at
    /// once takes them as its baseline instead of reading the same files again.
    pub counters_at_exit: Option<Box<(Instant, crate::verdicts::OomBaseline)>>,
    /// The strategy chosen for the last crash, for status.
    pub last_strategy: Option<ward_core::config::Strategy>,
    /// The strategy the recovery table chose for the last verdict, not yet carried out.
    pub strategy_due: Option<ward_core::config::Strategy>,
    /// The next spawn waits for the `repair` hook.
    pub repair_before_spawn: bool,
    /// The next spawn waits for the `data` paths to be restored from the last snapshot.
    pub restore_before_spawn: bool,
    /// The unit just became `failed`: its `on_failure` hook is due.
    pub on_failure_due: bool,
    /// The current stop needed SIGKILL: the process did not honour its stop signal.
    pub stop_escalated: bool,
    /// Why the last run ended, as the classifier saw it.
    pub verdict: Option<Box<(ward_core::classify::Verdict, SystemTime)>>,
    /// Wall-clock time of the last successful spawn.
    pub last_started: Option<SystemTime>,
    /// Wall-clock time of the last exit.
    pub last_exit_at: Option<SystemTime>,
    /// Removed from the config: drop it once it is quiescent.
    pub removing: bool,
    /// Whether the FIFOs are open and captured, or why they could not be: a spawn sets
    /// them up first when they are not.
    pub output: Result<(), String>,
    /// What was last written to the unit's record: intent, main PID, and whether its task
    /// had completed.
    pub persisted: Option<(ward_core::machine::Intent, Option<u32>, bool)>,
    /// What the health probes say about the current run.
    pub health: ward_core::health::HealthTracker,
    /// The current run sent `READY=1`.
    pub ready_notified: bool,
    /// Its `post_start` hook runs: the run is not ready for its dependents yet.
    pub post_start_pending: bool,
    /// The stop signals held back while its `pre_stop` hook runs.
    pub held_stop: Option<Box<crate::lifecycle::HeldStop>>,
    /// A spawn waits for its `post_stop` hook to end.
    pub spawn_after_post_stop: bool,
    /// Its schedule, armed (`schedule = …`).
    pub schedule: Option<Box<crate::schedules::Armed>>,
    /// Its autostart waits in the backlog for a slice of the loop (see `turns.rs`).
    pub start_queued: bool,
    /// What the current run used at the last sample.
    pub usage: Option<Box<ward_api::UsageInfo>>,
    /// Its private `/tmp` (`private_tmp = true`), shared by its hooks and probes.
    pub private_tmp: Option<std::path::PathBuf>,
    /// What most units never hold, boxed when first set ([`Unit::seldom_mut`]).
    pub seldom: Option<Box<Seldom>>,
}

/// What only some units hold, and those only at times: dependencies waited for, a
/// watchdog or health probe armed, a hang, a `STATUS=` text, the counts of crashes, the
/// usage while someone looks. Inline they cost every unit 280 bytes, 1.4 MB at 5,000
/// units (heaptrack of a daemon at rest); boxed, only the units that use them.
#[derive(Debug)]
pub struct Seldom {
    /// The last signal an operator sent the current run with `ward signal`.
    pub operator_signal: Option<ward_core::Signal>,
    /// When the next health probe runs; `None` while one runs, or without a run.
    pub probe_due: Option<Instant>,
    /// The last `STATUS=` text the current run sent.
    pub notify_status: Option<String>,
    /// When the watchdog runs out unless the service sends `WATCHDOG=1` first.
    pub watchdog_due: Option<Instant>,
    /// Ward judged the current run hung (health, watchdog) and stops it: why, in words.
    pub hang: Option<String>,
    /// Dependencies (service names) not yet ready: the start waits for them.
    pub waiting_for: Vec<String>,
    /// When the start it waits with was asked for: a task that completed before then
    /// (without `remain_after_exit`) is run again for it.
    pub waiting_since: Option<Instant>,
    /// When its task last completed (`type = "oneshot"`).
    pub completed_at: Option<Instant>,
    /// Automatic restarts since the daemon started, by the class of the end before each,
    /// for `/metrics`.
    pub restarts_by_reason: std::collections::BTreeMap<&'static str, u64>,
    /// Crashes since the daemon started, by class, for `/metrics`.
    pub crashes: std::collections::BTreeMap<&'static str, u64>,
    /// The last samples' CPU and memory, oldest first, for the dashboard's sparklines
    /// (`GET /v1/usage`); at most `ward_api::USAGE_POINTS`.
    pub usage_trail: std::collections::VecDeque<ward_api::UsagePoint>,
    /// The CPU total of the last sample, when, and of which main process: the base of
    /// the next sample's CPU percent.
    pub last_cpu: Option<(Instant, u64, u32)>,
}

impl Seldom {
    /// What a unit without the box reads.
    const NONE: Seldom = Seldom {
        operator_signal: None,
        probe_due: None,
        notify_status: None,
        watchdog_due: None,
        hang: None,
        waiting_for: Vec::new(),
        waiting_since: None,
        completed_at: None,
        restarts_by_reason: std::collections::BTreeMap::new(),
        crashes: std::collections::BTreeMap::new(),
        usage_trail: std::collections::VecDeque::new(),
        last_cpu: None,
    };
}

impl Default for Seldom {
    fn default() -> Self {
        Seldom::NONE
    }
}

/// The parts of a unit without them.
static NO_SELDOM: Seldom = Seldom::NONE;

impl Unit {
    /// Its stdout and stderr FIFOs, in `runtime_dir`. Every spawn opens the service's ends
    /// anew: they outlive each process, and the daemon too, so output of leftovers, of the
    /// next run and of the time ward was away lands in one place. ward keeps only its
    /// reading ends open between spawns, two descriptors a unit fewer, which is what lets
    /// one daemon hold thousands of services under a 20,000-descriptor limit. Made from
    /// the name when needed, not kept: two paths a unit were 0.9 MB at 5,000 units.
    pub fn fifos(&self, runtime_dir: &Path) -> [PathBuf; 2] {
        let io = io_dir(runtime_dir);
        [
            io.join(format!("{}.out", self.name())),
            io.join(format!("{}.err", self.name())),
        ]
    }

    /// Fresh service ends of the stdout and stderr FIFOs, for one spawn.
    pub fn output_ends(&self, runtime_dir: &Path) -> std::io::Result<(OwnedFd, OwnedFd)> {
        let [out, err] = self.fifos(runtime_dir);
        Ok((
            ward_sys::fifo::open_writer(&out)?,
            ward_sys::fifo::open_writer(&err)?,
        ))
    }

    /// SIGKILL to the main process through its pidfd, then to every process the unit
    /// contains: a stop that ran out of time, or a forced shutdown.
    pub fn kill_everything(
        &self,
        ward: u32,
        view: &mut crate::contain::ProcView,
    ) -> std::io::Result<()> {
        if let Some(main) = &self.main {
            let _ = main.pidfd.send_signal(ward_core::Signal::KILL);
        }
        self.containment.kill_all(self.roots(ward), view)
    }

    /// What the tree fallback needs to find this unit's processes.
    pub fn roots(&self, ward: u32) -> TreeRoots<'_> {
        TreeRoots {
            unit: self.name(),
            main: self.main.as_ref().map(|m| m.pidfd.pid()),
            ward,
        }
    }
}

impl Unit {
    /// `web` or `web.2`: its instance's name.
    pub fn name(&self) -> &str {
        &self.instance.name
    }

    /// Its seldom parts, empty when it has none.
    pub fn seldom(&self) -> &Seldom {
        self.seldom.as_deref().unwrap_or(&NO_SELDOM)
    }

    /// Its seldom parts, to set: boxed now if it had none.
    pub fn seldom_mut(&mut self) -> &mut Seldom {
        self.seldom.get_or_insert_with(Default::default)
    }

    /// Its seldom parts, only if it has them: what clears a part needs no box.
    pub fn seldom_held(&mut self) -> Option<&mut Seldom> {
        self.seldom.as_deref_mut()
    }

    /// Whether a `SIGQUIT` leaves this unit running.
    pub fn kept_on_detach(&self) -> bool {
        self.instance.service.on_daemon_exit == ward_core::config::DaemonExit::Keep
    }

    /// No process of the unit is left and none is coming.
    pub fn is_down(&self) -> bool {
        self.machine.is_quiescent() && !self.awaiting_tree && self.main.is_none()
    }
}
