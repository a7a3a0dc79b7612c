//! The end of a run: reaping, the facts of the death, the verdict, and the strategy that
//! answers it. `ward-core` classifies, judges OOM evidence and chooses the strategy; this
//! file gathers what they need and carries out what they say.
//!
//! A SIGKILL death without strong OOM evidence is judged a moment later: the kernel may
//! report the death before its OOM counters move or its log line is written.

use std::time::{Duration, Instant, SystemTime};

use ward_core::classify::{
    CrashClass, ExitReport, KernelOomLog, OomFacts, oom_evidence, oom_may_settle,
};
use ward_core::config::Strategy;
use ward_core::machine::{Event, SpawnFailure, State};
use ward_core::recovery::{StrategyChoice, choose_strategy};
use ward_core::{ExitStatus, Signal};
use ward_sys::kmsg::{KernelLog, Mark};

use crate::logs;
use crate::supervisor::Supervisor;

/// How long after a SIGKILL death ward keeps looking for OOM evidence: the kernel may
/// report the death before its OOM counters move.
const OOM_SETTLE: Duration = Duration::from_millis(100);

/// How old the counters read at a run's end may be to serve as the next run's baseline: a
/// restart without backoff follows within this, and nothing else of the unit runs between.
pub(crate) const COUNTERS_REUSE: Duration = Duration::from_millis(5);

/// A verdict held back until OOM evidence has had time to appear.
pub(crate) struct PendingVerdict {
    pub(crate) due: Instant,
    pub(crate) unit: String,
    pid: u32,
    report: ExitReport,
    baseline: OomBaseline,
}

/// Counters when a run started: OOM kills of the unit's cgroup and of the machine, forks
/// refused on `pids_max`, and where the kernel log stood.
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct OomBaseline {
    pub cgroup: Option<u64>,
    pub machine: Option<u64>,
    /// Forks the unit's cgroup had refused on `pids_max` when the run started.
    pub pids_hits: Option<u64>,
    /// OOM-killer lines after this belong to the run.
    pub kmsg: Mark,
}

impl OomBaseline {
    /// Reads the unit's counters now, beside the machine's count the caller read.
    pub(crate) fn read(
        unit: &ward_sys::controllers::UnitControllers,
        kmsg: &mut KernelLog,
        machine: Option<u64>,
    ) -> OomBaseline {
        OomBaseline {
            cgroup: unit.oom_kills(),
            machine,
            pids_hits: unit.pids_limit_hits(),
            kmsg: kmsg.mark(),
        }
    }
}

/// The machine's OOM-kill count as last read for a run's baseline, and when.
#[derive(Default)]
pub(crate) struct MachineOoms(Option<(Instant, Option<u64>)>);

impl MachineOoms {
    /// The count for a run's baseline: one reading serves the spawns of
    /// [`COUNTERS_REUSE`], since `/proc/vmstat` sums every counter of every CPU (about
    /// 60 µs here, a third of a stop's work for its unit). A kill in that span, before the
    /// run began, could only add to weak evidence, as a counter reused across a restart
    /// can.
    pub(crate) fn for_start(&mut self) -> Option<u64> {
        match self.0 {
            Some((at, count)) if at.elapsed() < COUNTERS_REUSE => count,
            _ => {
                let count = ward_sys::controllers::vmstat_oom_kills();
                self.0 = Some((Instant::now(), count));
                count
            }
        }
    }
}

impl Supervisor {
    /// Reaps every child that has ended since the last look, into the backlog, without
    /// judging any: what a turn does first when a shutdown's stops come before the ends.
    pub(crate) fn collect_ended(&mut self) {
        if !ward_sys::reap::child_may_have_ended() {
            return;
        }
        loop {
            match ward_sys::reap::reap_any() {
                Ok(Some(end)) => self.backlog.ended.push_back(end),
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, "waitpid failed");
                    ward_sys::reap::look_again();
                    break;
                }
            }
        }
    }

    /// Reaps every exited child: services' main processes become events, orphans vanish.
    ///
    /// Everything that has ended is reaped first and handled after, so that the ends of
    /// many units (a shutdown) share one look at `/proc` for the units contained by
    /// process tree, instead of one look each.
    ///
    /// `wait(2)` is asked only after a SIGCHLD: each call walks every child, which at
    /// thousands of services cost more than anything else in a turn of the loop.
    pub(crate) fn reap(&mut self) {
        loop {
            let before = self.backlog.ended.len();
            self.collect_ended();
            if self.backlog.ended.is_empty() {
                return;
            }
            if self.backlog.ended.len() > before {
                self.procs.forget();
            }
            // What this turn's slice has no time for waits for the next turn; the
            // processes are reaped already, so nothing is lost meanwhile.
            while let Some((pid, status)) = self.backlog.ended.pop_front() {
                match self.by_pid.remove(&pid) {
                    Some(name) => self.main_ended(&name, status),
                    None => self.hook_ended(pid, status),
                }
                if self.backlog.spent() {
                    return;
                }
            }
        }
    }

    /// A unit's main process ended (reaped, or an adopted one seen to exit): note it in the
    /// log and the journal, then tell the machine.
    pub(crate) fn main_ended(&mut self, name: &str, status: ExitStatus) {
        let dependents = self.affected_dependents(name);
        let now = self.now();
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        let Some(main) = unit.main.take() else {
            return;
        };
        if let Some(file) = unit.pidfile.take() {
            let path = file.path().to_path_buf();
            if let Some(why) = file.release().kept_because() {
                let line = format!("left pid file {} in place: {why}", path.display());
                tracing::warn!(unit = %name, "{line}");
                logs::note(&self.logs.sink(), &unit.log, &line);
            }
        }
        if let Some(s) = unit.seldom_held() {
            s.probe_due = None;
            s.watchdog_due = None;
        }
        unit.last_exit_at = Some(SystemTime::now());
        logs::note(&self.logs.sink(), &unit.log, &exit_note(status));
        tracing::info!(unit = %name, pid = main.identity.pid, status = %status, "main process ended");
        let id = &main.identity;
        self.journal.record(ward_store::Record::RunEnded {
            unit: name.to_string(),
            pid: id.pid,
            start_time: id.start_time,
            boot_id: id.boot_id.to_string(),
            at_ms: ward_store::now_ms(),
            exit: crate::journal::exit_record(status),
        });
        let before = unit.machine.state();
        let run_time = main.started.elapsed().unwrap_or_default();
        let pid = id.pid;
        let params = unit.machine.params();
        // Judged before the machine acts on it, so the journal reads exit, crash, then what
        // ward did about it; an exit while starting is one more failed start in the window.
        let failed_start = u32::from(before == State::Starting);
        // Read once: the evidence's words and the recommendation both use it.
        let peak = unit.run_controllers.peak_memory();
        // The machine's count weighs only in a death by SIGKILL, the OOM killer's signal
        // (`classify`); for any other it is not read.
        let machine = (status.signal() == Some(Signal::KILL))
            .then(ward_sys::controllers::vmstat_oom_kills)
            .flatten();
        let counters = OomBaseline::read(&unit.run_controllers, &mut self.kmsg, machine);
        unit.counters_at_exit = Some(Box::new((Instant::now(), counters)));
        // A task has no uptime to reach: its end, not its length, says how it went.
        let min_uptime = if params.oneshot {
            Duration::ZERO
        } else {
            params.min_uptime
        };
        let report = ExitReport {
            status: Some(status),
            exec_failure: None,
            requested_stop: before == State::Stopping,
            stop_escalated: unit.stop_escalated,
            run_time,
            min_uptime,
            success: params.success,
            failed_starts: unit.machine.failed_starts_in_window(now) + failed_start,
            burst: params.start_limit.burst,
            oom: oom_evidence(&oom_facts(
                unit.oom_baseline,
                counters,
                // The OOM killer's signal is SIGKILL; no other death is looked up.
                if status.signal() == Some(Signal::KILL) {
                    self.kmsg.oom_since(unit.oom_baseline.kmsg, pid)
                } else {
                    KernelOomLog::Unread
                },
                peak,
                unit.instance.service.memory_max,
            )),
            earlier_boot: false,
            supervisor_crashed: false,
            operator_signal: unit.seldom().operator_signal,
            pids_limit_hits: match (unit.oom_baseline.pids_hits, counters.pids_hits) {
                (Some(before), Some(now)) => now.saturating_sub(before),
                _ => 0,
            },
            hang: unit.seldom_held().and_then(|s| s.hang.take()),
            dependents,
            peak_memory: peak,
            memory_limit: unit.instance.service.memory_max,
            sampled_peak_rss: unit.usage.as_ref().map(|u| u.memory_peak_rss_bytes),
        };
        if oom_may_settle(status, &report.oom) {
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
        self.post_stop(name, status);
        self.dispatch(name, Event::Exited(status));
    }

    /// Judges the verdicts whose settling window is over, with the evidence there is now.
    pub(crate) fn settle_verdicts(&mut self) {
        let now = Instant::now();
        let (due, waiting): (Vec<PendingVerdict>, Vec<PendingVerdict>) =
            std::mem::take(&mut self.pending)
                .into_iter()
                .partition(|p| p.due <= now);
        self.pending = waiting;
        for mut p in due {
            if let Some(unit) = self.units.get(&p.unit) {
                let kernel = self.kmsg.oom_since(p.baseline.kmsg, p.pid);
                let machine = ward_sys::controllers::vmstat_oom_kills();
                let now = OomBaseline::read(&unit.run_controllers, &mut self.kmsg, machine);
                p.report.oom = oom_evidence(&oom_facts(
                    p.baseline,
                    now,
                    kernel,
                    p.report.peak_memory,
                    p.report.memory_limit,
                ));
            }
            self.judge(&p.unit, Some(p.pid), &p.report);
            self.apply_strategy(&p.unit);
        }
    }

    /// An exec failure is judged before the machine counts it: one more failed start.
    pub(crate) fn judge_exec_failure(&mut self, name: &str, failure: &SpawnFailure) {
        let now = self.now();
        let Some(unit) = self.units.get(name) else {
            return;
        };
        let params = unit.machine.params();
        let report = ExitReport {
            status: None,
            exec_failure: Some(failure.to_string()),
            min_uptime: params.min_uptime,
            failed_starts: unit.machine.failed_starts_in_window(now) + 1,
            burst: params.start_limit.burst,
            ..ExitReport::of(ExitStatus::Unknown, Duration::ZERO)
        };
        self.judge(name, None, &report);
    }

    /// Classifies an ended run, keeps the verdict for `ward why`, and journals it if it is
    /// a crash.
    pub(crate) fn judge(&mut self, name: &str, pid: Option<u32>, report: &ExitReport) {
        let verdict = ward_core::classify::classify(report);
        if verdict.class.is_crash() {
            self.journal
                .record(crate::journal::crash(name, pid, &verdict));
        }
        if let Some(unit) = self.units.get_mut(name) {
            unit.verdict = Some(Box::new((verdict.clone(), SystemTime::now())));
            if verdict.class.is_crash() {
                *unit
                    .seldom_mut()
                    .crashes
                    .entry(verdict.class.as_str())
                    .or_default() += 1;
            }
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

    /// The strategy for a crash of `class`, as `ward-core` chooses it from the recovery
    /// table and the journal's confidence; an escalation is journaled with its reason.
    fn choose_strategy(&mut self, name: &str, class: CrashClass) -> Strategy {
        let Some(unit) = self.units.get(name) else {
            return Strategy::Backoff;
        };
        let min_uptime = unit.machine.params().min_uptime.as_millis() as i64;
        let journal = self.journal.path();
        // A read of the journal on the loop: only for services that ask for a floor, and
        // only at a crash.
        let choice = choose_strategy(&unit.instance.service, class, || {
            ward_store::Reader::open(journal)
                .ok()?
                .confidence(name, class.as_str(), min_uptime, ward_store::now_ms())
                .ok()
        });
        if let StrategyChoice::Escalated { reason, .. } = &choice {
            self.journal.record(ward_store::Record::Recovery {
                unit: name.to_string(),
                at_ms: ward_store::now_ms(),
                action: reason.clone(),
                delay_ms: None,
            });
        }
        choice.strategy()
    }
}

/// The facts `ward-core` judges OOM evidence by: each counter at the run's start and now.
fn oom_facts(
    baseline: OomBaseline,
    now: OomBaseline,
    kernel: KernelOomLog,
    peak_memory: Option<u64>,
    memory_limit: Option<u64>,
) -> OomFacts {
    let pair = |a: Option<u64>, b: Option<u64>| a.zip(b);
    OomFacts {
        cgroup: pair(baseline.cgroup, now.cgroup),
        machine: pair(baseline.machine, now.machine),
        kernel,
        peak_memory,
        memory_limit,
    }
}

/// The line a unit's log gets when its main process ends.
fn exit_note(status: ExitStatus) -> String {
    format!("main process ended: {status}")
}
