//! One handler per API command, each a method of the supervisor that owns the units.

use std::time::SystemTime;

use ward_api::{
    Ack, ActionResponse, DaemonInfo, ExitInfo, Selection, ServiceStatus, SignalRequest,
    StatusResponse, UnitResult,
};
use ward_core::machine::{Event, State};
use ward_core::{ExitStatus, Signal};

use crate::requests::{ApiError, Command, Reply, Request, json};
use crate::supervisor::{Supervisor, Until, Waiter};
use crate::unit::Unit;
use crate::wire;

impl Supervisor {
    /// Carries out one API request; answers now or registers a waiter.
    ///
    /// Every request but `status` is journaled with who asked and what came of it, and
    /// answered only once that record is committed.
    pub(crate) fn handle(&mut self, request: Request) {
        let Request {
            command,
            reply,
            who,
            peer,
        } = request;
        // On disk before it is carried out; a request that cannot be recorded is not.
        if let Some((what, targets)) = command.audited() {
            let event = ward_store::audit::Event::Action {
                peer,
                what: what.clone(),
                targets,
            };
            if let Err(e) = self.audit.record(event, true) {
                tracing::error!(error = %e, request = %what, "refused a request that the audit trail cannot record");
                let _ = reply.send(Err(ApiError::new(
                    503,
                    format!(
                        "cannot write the audit record to {}: {e}; nothing was done",
                        self.audit.path().display()
                    ),
                    Some(
                        "every control action is recorded before it is carried out: free \
                         space or fix the state dir, then ask again"
                            .into(),
                    ),
                )));
                return;
            }
        }
        let (what, targets, answer) = match command {
            Command::Status { stats } => {
                self.usage_watched();
                let (status, mains) = self.status();
                // With the statistics, the journal is read once everything journaled
                // before this snapshot is committed: a crash the answer counts is never
                // missing from the statistics beside it.
                let stats = stats.then(|| {
                    let (done, committed) = std::sync::mpsc::sync_channel(1);
                    self.journal.handle().then(move || {
                        let _ = done.try_send(());
                    });
                    crate::status_answer::JournalStats {
                        journal: self.journal.path().to_path_buf(),
                        committed,
                    }
                });
                let proc_states = self.proc_states.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = reply.send(crate::status_answer::answer(
                        status,
                        &mains,
                        &proc_states,
                        stats,
                    ));
                });
                return;
            }
            Command::Ready => {
                let _ = reply.send(self.readiness());
                return;
            }
            Command::Live => {
                let _ = reply.send(json(&Ack { ok: true }));
                return;
            }
            Command::Metrics => {
                self.usage_watched();
                // Built from the status's snapshot, and encoded off the loop as it is.
                let (status, _) = self.status();
                let counts =
                    |of: fn(
                        &crate::unit::Unit,
                    )
                        -> &std::collections::BTreeMap<&'static str, u64>| {
                        self.units
                            .values()
                            .filter(|u| !of(u).is_empty())
                            .map(|u| (u.name().to_string(), of(u).clone()))
                            .collect()
                    };
                let extra = crate::metrics::Extra {
                    crashes: counts(|u| &u.seldom().crashes),
                    restarts: counts(|u| &u.seldom().restarts_by_reason),
                };
                tokio::task::spawn_blocking(move || {
                    let answer = crate::metrics::encode(&status, &extra)
                        .map(|body| crate::requests::Answer {
                            body,
                            content_type: crate::metrics::CONTENT_TYPE,
                        })
                        .map_err(|e| {
                            ApiError::new(500, format!("cannot encode the metrics: {e}"), None)
                        });
                    let _ = reply.send(answer);
                });
                return;
            }
            Command::Why { name, run } => return self.why_view(name, run, reply),
            Command::History { name, limit } => return self.history_view(name, limit, reply),
            Command::Logs { name, lines, .. } => return self.logs_view(name, lines, reply),
            Command::Config { name } => {
                let _ = reply.send(self.config_view(&name));
                return;
            }
            Command::Usage => {
                self.usage_watched();
                let _ = reply.send(self.usage_view());
                return;
            }
            Command::Start(sel) => ("start", self.targets(&sel), self.start(&sel)),
            Command::Stop(sel) => match self.select(&sel) {
                Ok(names) => {
                    for name in &names {
                        self.pause_schedule(name);
                        self.dispatch(name, Event::Stop);
                    }
                    return self.wait(names, Until::Quiescent, reply, who, "stop");
                }
                Err(e) => ("stop", self.targets(&sel), Err(e)),
            },
            Command::Restart(sel) => {
                match self
                    .refuse_while_shutting_down()
                    .and_then(|()| self.select(&sel))
                {
                    Ok(names) => {
                        for name in &names {
                            self.dispatch(name, Event::Restart);
                        }
                        return self.wait(names, Until::NotStopping, reply, who, "restart");
                    }
                    Err(e) => ("restart", self.targets(&sel), Err(e)),
                }
            }
            Command::Signal(req) => ("signal", self.targets(&req.selection), self.signal(&req)),
            Command::Reload => {
                // Answered, and journaled with the units it changed, once the file is read.
                return self.ask_reload(crate::reload::Asker::Api { reply, who });
            }
            Command::Shutdown => {
                let ack = json(&Ack { ok: true });
                let record = crate::journal::action(&who, "shutdown", &[], &ack);
                self.journal.record(record);
                return self.begin_shutdown(Some(reply));
            }
            Command::Backup => {
                use std::sync::atomic::Ordering;
                if self.backup_running.swap(true, Ordering::AcqRel) {
                    let busy = Err(ApiError::new(
                        409,
                        "a backup is already running",
                        Some("wait for it to end; `ward backup` answers with its file".into()),
                    ));
                    return self.answer_recorded(reply, busy, &who, "backup", &[]);
                }
                let (path, keep) = (
                    self.journal.path().to_path_buf(),
                    self.config.supervisor.journal_backups as usize,
                );
                let (journal, running) = (self.journal.handle(), self.backup_running.clone());
                tokio::spawn(async move {
                    crate::backups::on_demand(path, keep, journal, reply, who).await;
                    running.store(false, Ordering::Release);
                });
                return;
            }
            Command::JournalSync => {
                // Not journaled itself: a read of the history must not add to it.
                let ack = json(&Ack { ok: true });
                self.journal.handle().then(move || {
                    let _ = reply.send(ack);
                });
                return;
            }
            Command::ReopenLogs => {
                self.logs.reopen();
                ("reopen logs", Vec::new(), json(&Ack { ok: true }))
            }
        };
        self.answer_recorded(reply, answer, &who, what, &targets);
    }

    /// Journals the request and its outcome; the answer goes out once that is committed,
    /// or once it is known that it could not be (queue full, disk failing).
    pub(crate) fn answer_recorded(
        &self,
        reply: tokio::sync::oneshot::Sender<Reply>,
        answer: Reply,
        who: &str,
        what: &str,
        targets: &[String],
    ) {
        let record = crate::journal::action(who, what, targets, &answer);
        self.journal.record_then(record, move |_committed| {
            let _ = reply.send(answer);
        });
    }

    fn wait(
        &mut self,
        names: Vec<String>,
        until: Until,
        reply: tokio::sync::oneshot::Sender<Reply>,
        who: String,
        what: &'static str,
    ) {
        self.waiters.push(Waiter {
            names,
            until,
            reply,
            who,
            what,
        });
    }

    /// The units a request was for, for the journal: resolved where the names are known,
    /// as given where they are not.
    fn targets(&self, sel: &Selection) -> Vec<String> {
        self.select(sel).unwrap_or_else(|_| sel.names.clone())
    }

    fn refuse_while_shutting_down(&self) -> Result<(), ApiError> {
        if self.shutdown.is_some() {
            return Err(ApiError::new(
                409,
                "ward is shutting down and starts nothing more",
                None,
            ));
        }
        Ok(())
    }

    /// The units a selection names: a unit name, or a service name for all its instances.
    fn select(&self, sel: &Selection) -> Result<Vec<String>, ApiError> {
        if sel.all {
            return Ok(self.units.keys().cloned().collect());
        }
        if sel.names.is_empty() {
            return Err(ApiError::new(
                400,
                "no service named",
                Some("name one or more services, or use --all".into()),
            ));
        }
        let mut out = Vec::new();
        for name in &sel.names {
            let matched: Vec<&String> = self
                .units
                .iter()
                .filter(|(unit_name, u)| *unit_name == name || u.instance.service.name == *name)
                .map(|(n, _)| n)
                .collect();
            if matched.is_empty() {
                let known: Vec<&str> = self.units.keys().map(String::as_str).collect();
                return Err(ApiError::new(
                    404,
                    format!("no service named `{name}`"),
                    Some(if known.is_empty() {
                        "the config defines no services".to_string()
                    } else {
                        format!("known services: {}", known.join(", "))
                    }),
                ));
            }
            for m in matched {
                if !out.contains(m) {
                    out.push(m.clone());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn start(&mut self, sel: &Selection) -> Reply {
        self.refuse_while_shutting_down()?;
        let names = self.select(sel)?;
        for name in &names {
            self.resume_schedule(name);
            self.request_start(name);
        }
        json(&self.action_response(&names, None))
    }

    fn signal(&mut self, req: &SignalRequest) -> Reply {
        let signal = Signal::parse(&req.signal).map_err(|_| {
            ApiError::new(
                400,
                format!("unknown signal `{}`", req.signal),
                Some("use a name such as HUP, USR1, TERM, or a number".into()),
            )
        })?;
        let names = self.select(&req.selection)?;
        for n in &names {
            if let Some(u) = self.units.get_mut(n)
                && u.main.is_some()
            {
                // Remembered so that a death by it is not taken for a crash.
                u.seldom_mut().operator_signal = Some(signal);
            }
        }
        let results = names
            .iter()
            .filter_map(|n| self.units.get(n))
            .map(|u| match &u.main {
                Some(main) => match main.pidfd.send_signal(signal) {
                    Ok(()) => UnitResult {
                        name: u.name().to_string(),
                        ok: true,
                        message: format!("sent {} to pid {}", signal.name(), main.pidfd.pid()),
                    },
                    Err(e) => UnitResult {
                        name: u.name().to_string(),
                        ok: false,
                        message: format!("cannot send {}: {e}", signal.name()),
                    },
                },
                None => UnitResult {
                    name: u.name().to_string(),
                    ok: false,
                    message: format!("not running ({})", u.machine.state().as_str()),
                },
            })
            .collect();
        json(&ActionResponse { results })
    }

    /// The answer to a start, stop or restart once its units are where they will be.
    pub(crate) fn results(&self, names: &[String], until: Until) -> Reply {
        json(&self.action_response(names, Some(until)))
    }

    fn action_response(&self, names: &[String], until: Option<Until>) -> ActionResponse {
        let results = names
            .iter()
            .map(|n| match self.units.get(n) {
                Some(u) => describe(u, until),
                None => UnitResult {
                    name: n.clone(),
                    ok: true,
                    message: "removed".into(),
                },
            })
            .collect();
        ActionResponse { results }
    }

    /// Everything `ward status` shows but the main processes' states, with the place and
    /// PID of each unit's main process, whose state the caller reads off the loop.
    pub(crate) fn status(&self) -> (StatusResponse, Vec<(usize, u32)>) {
        let now = SystemTime::now();
        let mains: Vec<(usize, u32)> = self
            .units
            .values()
            .enumerate()
            .filter_map(|(i, u)| u.main.as_ref().map(|p| (i, p.pidfd.pid())))
            .collect();
        let services = self
            .units
            .values()
            .map(|u| self.unit_status(u, now))
            .collect();
        let status = StatusResponse {
            daemon: DaemonInfo {
                pid: self.me,
                version: env!("CARGO_PKG_VERSION").to_string(),
                config: self.config_path.display().to_string(),
                state_dir: self.config.supervisor.state_dir.display().to_string(),
                cgroup: match &self.cgroups {
                    Some(cg) => format!("{:?}", cg.version()).to_lowercase(),
                    None => "off".to_string(),
                },
                started_at_ms: Supervisor::epoch_ms(self.started_at),
                journal: self.journal.path().display().to_string(),
                journal_dropped: self.journal.dropped(),
                journal_failed: self.journal.failed(),
                journal_repair: self.journal_repair.clone(),
                http: self.http_addr.map(|a| a.to_string()),
            },
            services,
        };
        (status, mains)
    }

    /// One unit's status, as `GET /v1/status` lists it (its process state left to the
    /// caller, which reads it off the loop).
    pub(crate) fn unit_status(&self, u: &Unit, now: SystemTime) -> ServiceStatus {
        let m = &u.machine;
        let running_since = u.main.as_ref().map(|p| p.started);
        ServiceStatus {
            name: u.name().to_string(),
            service: u.instance.service.name.clone(),
            state: wire::state(m.state()),
            intent: if u.start_queued {
                ward_api::UnitIntent::Run
            } else {
                wire::intent(m.intent())
            },
            pid: m.pid(),
            // Read off the loop, before the answer is encoded.
            process_state: None,
            started_at_ms: u.last_started.map(Supervisor::epoch_ms),
            uptime_ms: running_since
                .and_then(|s| now.duration_since(s).ok())
                .map(|d| d.as_millis() as u64),
            restarts: m.counters().restarts,
            spawns: m.counters().spawns,
            failed_starts: m.counters().failed_starts,
            last_exit: m.last_exit().map(|s| exit_info(s, u.last_exit_at)),
            verdict: u.verdict.as_deref().map(|(v, at)| ward_api::VerdictInfo {
                class: v.class.as_str().to_string(),
                severity: v.severity.as_str().to_string(),
                summary: v.summary.clone(),
                evidence: v.evidence.clone(),
                at_ms: Supervisor::epoch_ms(*at),
                strategy: v
                    .class
                    .is_crash()
                    .then_some(u.last_strategy)
                    .flatten()
                    .map(|s| s.as_str().to_string()),
                recommendation: v.recommendation.clone(),
            }),
            spawn_error: m.last_spawn_failure().map(|f| f.to_string()),
            backoff_ms: m.backoff_delay().map(|d| d.as_millis() as u64),
            log_file: wire::path(u.log.path()),
            log_dropped_bytes: u.log.dropped(),
            cgroup: u.containment.cgroup_path(),
            health: (u.instance.service.health.is_some() && u.main.is_some())
                .then(|| u.health.health().as_str().to_string()),
            health_last: u.health.last().map(str::to_string),
            ready: u.is_ready(),
            waiting_for: u.seldom().waiting_for.clone(),
            waiting_reasons: if u.seldom().waiting_for.is_empty() {
                Vec::new()
            } else {
                self.waiting_reasons(u.name())
            },
            kind: u.instance.service.kind.as_str().to_string(),
            schedule: u
                .instance
                .service
                .schedule
                .as_ref()
                .map(|s| s.cron.text.clone()),
            next_run_ms: u
                .schedule
                .as_ref()
                .filter(|a| !a.paused)
                .and_then(|a| a.next)
                .and_then(|t| u64::try_from(t.as_millisecond()).ok()),
            start_queued: u.start_queued,
            // From the config in force: a reload that changes only `depends_on`
            // leaves the unit's own copy as it was.
            depends_on: self
                .config
                .services
                .get(&u.instance.service.name)
                .map(|s| s.depends_on.iter().map(|d| d.service.clone()).collect())
                .unwrap_or_default(),
            status_text: u.seldom().notify_status.clone(),
            // What the rounds last read before they stopped (nobody looked) is not the
            // present: shown only while fresh.
            usage: u
                .main
                .as_ref()
                .and(u.usage.as_deref().cloned())
                .filter(|x| {
                    ward_core::sample::fresh(
                        x.sampled_at_ms,
                        Supervisor::epoch_ms(now),
                        self.config.supervisor.sample_interval,
                    )
                }),
            stats: None,
        }
    }
}

fn exit_info(status: ExitStatus, at: Option<SystemTime>) -> ExitInfo {
    ExitInfo {
        description: status.to_string(),
        code: status.code(),
        signal: status.signal().map(|s| s.name()),
        core_dumped: status.core_dumped(),
        at_ms: at.map_or(0, Supervisor::epoch_ms),
    }
}

/// One unit's outcome in words, judged by what the request wanted.
fn describe(u: &Unit, until: Option<Until>) -> UnitResult {
    let m = &u.machine;
    let pid = m.pid().map(|p| format!(" (pid {p})")).unwrap_or_default();
    let wants_stop = until == Some(Until::Quiescent);
    let (ok, message) = match m.state() {
        State::Running => (!wants_stop, format!("running{pid}")),
        State::Starting => (!wants_stop, format!("starting{pid}")),
        State::Stopping => (true, format!("stopping{pid}")),
        State::Stopped if !u.seldom().waiting_for.is_empty() && !wants_stop => (
            true,
            format!("waiting for {}", u.seldom().waiting_for.join(", ")),
        ),
        State::Completed => (true, "completed".to_string()),
        State::Stopped if u.start_queued && !wants_stop => (true, "starts in a moment".to_string()),
        State::Stopped => (wants_stop, "stopped".to_string()),
        State::Backoff => {
            let why = m
                .last_spawn_failure()
                .map(|f| f.to_string())
                .or_else(|| m.last_exit().map(|e| format!("ended with {e}")))
                .unwrap_or_default();
            let delay = m
                .backoff_delay()
                .map(ward_core::duration::format_duration)
                .unwrap_or_default();
            (false, format!("{why}; retrying in {delay}"))
        }
        State::Exited => (
            wants_stop,
            match (m.last_spawn_failure(), m.last_exit()) {
                (Some(f), _) => f.to_string(),
                (None, Some(e)) => format!("exited: {e}"),
                (None, None) => "exited".to_string(),
            },
        ),
        State::Failed => (
            wants_stop,
            format!(
                "failed: {}{}",
                ward_core::classify::gave_up_reason(
                    u.verdict.as_deref().map(|(v, _)| v.class.as_str()),
                    u.verdict
                        .as_deref()
                        .filter(|(v, _)| v.class.is_crash())
                        .and(u.last_strategy)
                        .map(|s| s.as_str()),
                ),
                m.last_spawn_failure()
                    .map(|f| format!(" ({f})"))
                    .unwrap_or_default()
            ),
        ),
    };
    UnitResult {
        name: u.name().to_string(),
        ok,
        message,
    }
}
