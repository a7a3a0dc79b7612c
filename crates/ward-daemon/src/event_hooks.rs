//! `[[hooks]]`: programs run when events happen, for alerting (a chat webhook, a pager).
//!
//! The event bus hands each live event to the loop while the config has hooks. Each hook
//! runs one event at a time; events that come meanwhile wait in its queue, up to its
//! `queue`, and the rest are dropped and counted. A run gets the event as JSON on stdin
//! and its key fields in `WARD_*` variables, ward's clean environment otherwise, a session
//! and (where ward has cgroups) a cgroup of its own, `no_new_privs`, and `timeout` to
//! finish; its outcome is journaled. The journal's records of the hooks' own runs are not
//! events for hooks, so no hook can set itself off.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use ward_api::{EventBody, LiveEvent};
use ward_core::triggers::{Happening, fires};
use ward_sys::Pidfd;
use ward_sys::cgroup::ServiceCgroup;

use crate::supervisor::Supervisor;

/// The journal's name for a record about a hook's run.
const RECORD: &str = "event hook";

/// One run in progress.
pub(crate) struct Run {
    hook: usize,
    pidfd: Pidfd,
    deadline: Instant,
    cgroup: Option<ServiceCgroup>,
    about: String,
    timed_out: bool,
}

/// The hooks' queues and runs.
#[derive(Default)]
pub(crate) struct EventHooks {
    queues: Vec<VecDeque<Arc<LiveEvent>>>,
    running: HashMap<u32, Run>,
    /// Events dropped for a full queue, per hook.
    pub dropped: Vec<u64>,
    /// Units whose last run crashed: their next `running` is a recovery.
    crashed: HashSet<String>,
}

impl EventHooks {
    /// Forgets the waiting events (the hooks changed); runs in progress end as they would.
    pub fn clear_queues(&mut self) {
        self.queues.clear();
        self.dropped.clear();
    }

    /// Kills every run in progress (the daemon is ending), and hands back their cgroups.
    pub fn kill_all(&mut self) -> Vec<ServiceCgroup> {
        self.running
            .drain()
            .filter_map(|(_, run)| {
                if let Some(cg) = &run.cgroup {
                    let _ = cg.kill_all();
                }
                let _ = run.pidfd.send_signal(ward_core::Signal::KILL);
                run.cgroup
            })
            .collect()
    }

    /// The earliest deadline of a run in progress.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.running.values().map(|r| r.deadline).min()
    }
}

impl Supervisor {
    /// An event from the bus: queued for every hook it sets off, and the idle ones run.
    pub(crate) fn event_for_hooks(&mut self, ev: Arc<LiveEvent>) {
        let hooks = &self.config.hooks;
        let eh = &mut self.event_hooks;
        eh.queues.resize_with(hooks.len(), VecDeque::new);
        eh.dropped.resize(hooks.len(), 0);
        let (to, what) = match &ev.body {
            EventBody::Daemon { what } if what == RECORD => return,
            EventBody::Dropped { .. } => return,
            EventBody::State { to, .. } | EventBody::Health { to, .. } => (Some(to.as_str()), None),
            EventBody::Action { what, .. } => (None, Some(what.as_str())),
            _ => (None, None),
        };
        let kind = ev.body.kind();
        let mut recovered = false;
        if let Some(unit) = &ev.unit {
            if kind == "crash" {
                eh.crashed.insert(unit.clone());
            } else if kind == "state" && to == Some("running") {
                recovered = eh.crashed.remove(unit);
            } else if kind == "state" && matches!(to, Some("stopped" | "failed")) {
                eh.crashed.remove(unit);
            }
        }
        let happening = Happening {
            kind,
            unit: ev.unit.as_deref(),
            to,
            what,
            recovered,
        };
        for (i, hook) in hooks.iter().enumerate() {
            if !fires(hook, &happening) {
                continue;
            }
            if eh.queues[i].len() >= hook.queue as usize {
                eh.dropped[i] += 1;
                tracing::warn!(
                    hook = hook.index,
                    dropped = eh.dropped[i],
                    "an event hook's queue is full; the event is dropped"
                );
                continue;
            }
            eh.queues[i].push_back(ev.clone());
        }
        self.run_idle_hooks();
    }

    /// Starts the next event of every hook that is not running.
    fn run_idle_hooks(&mut self) {
        for i in 0..self.config.hooks.len() {
            let busy = self.event_hooks.running.values().any(|r| r.hook == i);
            if busy {
                continue;
            }
            let Some(ev) = self
                .event_hooks
                .queues
                .get_mut(i)
                .and_then(VecDeque::pop_front)
            else {
                continue;
            };
            self.start_hook_run(i, &ev);
        }
    }

    fn start_hook_run(&mut self, i: usize, ev: &LiveEvent) {
        let hook = self.config.hooks[i].clone();
        let json = serde_json::to_vec(ev).unwrap_or_default();
        let kind = ev.body.kind();
        let about = match &ev.unit {
            Some(u) => format!("{kind} of {u} (event {})", ev.seq),
            None => format!("{kind} (event {})", ev.seq),
        };
        let mut env = ward_sys::spawn::base_environment(None);
        env.push(("WARD_HOOK".into(), hook.index.to_string()));
        env.push(("WARD_EVENT".into(), kind.into()));
        env.push(("WARD_SEQ".into(), ev.seq.to_string()));
        env.push(("WARD_AT_MS".into(), ev.at_ms.to_string()));
        env.push(("WARD_DETAIL".into(), ev.detail.clone()));
        if let Some(unit) = &ev.unit {
            env.push(("WARD_UNIT".into(), unit.clone()));
            let service = unit.split_once('.').map_or(unit.as_str(), |(s, _)| s);
            env.push(("WARD_SERVICE".into(), service.to_string()));
        }
        match &ev.body {
            EventBody::Crash {
                class,
                severity,
                summary,
                ..
            } => {
                env.push(("WARD_CLASS".into(), class.clone()));
                env.push(("WARD_SEVERITY".into(), severity.clone()));
                env.push(("WARD_SUMMARY".into(), summary.clone()));
            }
            EventBody::State { to, .. } | EventBody::Health { to, .. } => {
                env.push(("WARD_STATE".into(), to.clone()));
            }
            _ => {}
        }
        let cgroup =
            crate::hooks::side_cgroup(self.cgroups.as_ref(), &format!("event-hook:{}", hook.index));
        let spec = (|| {
            Ok::<_, std::io::Error>(ward_sys::spawn::SpawnSpec {
                argv: crate::launch::expand_argv(&hook.command, &env).0,
                env,
                cwd: self
                    .config
                    .path
                    .parent()
                    .map_or_else(|| "/".into(), |p| p.to_path_buf()),
                stdin: ward_sys::spawn::stdin_of(&json)?,
                stdout: ward_sys::spawn::dev_null()?,
                stderr: ward_sys::spawn::dev_null()?,
                cgroups: match &cgroup {
                    Some(cg) => vec![cg.open_for_join()?],
                    None => Vec::new(),
                },
                nofile: Some(self.nofile),
                rlimits: Default::default(),
                parent_death_signal: None,
                umask: 0o022,
                no_new_privs: true,
                credentials: None,
                capabilities: None,
                private_tmp: None,
            })
        })();
        let started = spec
            .map_err(|e| e.to_string())
            .and_then(|s| ward_sys::spawn::spawn(s).map_err(|e| e.to_string()));
        match started {
            Ok(spawned) => {
                let pid = spawned.pidfd.pid();
                self.event_hooks.running.insert(
                    pid,
                    Run {
                        hook: i,
                        pidfd: spawned.pidfd,
                        deadline: Instant::now() + hook.timeout,
                        cgroup,
                        about,
                        timed_out: false,
                    },
                );
            }
            Err(e) => {
                self.journal_hook(&hook, &about, &format!("could not start: {e}"));
                if let Some(cg) = cgroup {
                    self.retire_side_cgroup(cg);
                }
            }
        }
    }

    /// A reaped child that may be a hook's run: journaled, and the hook's next event run.
    /// False when `pid` is no run of a hook.
    pub(crate) fn event_hook_ended(&mut self, pid: u32, status: ward_core::ExitStatus) -> bool {
        let Some(run) = self.event_hooks.running.remove(&pid) else {
            return false;
        };
        if let Some(cg) = run.cgroup {
            let _ = cg.kill_all();
            self.retire_side_cgroup(cg);
        }
        if let Some(hook) = self.config.hooks.get(run.hook).cloned() {
            let outcome = if run.timed_out {
                format!(
                    "killed after its timeout of {}",
                    ward_core::duration::format_duration(hook.timeout)
                )
            } else {
                status.to_string()
            };
            self.journal_hook(&hook, &run.about, &outcome);
        }
        self.run_idle_hooks();
        true
    }

    /// Kills the runs past their timeout; their ends come through the reaper.
    pub(crate) fn kill_late_event_hooks(&mut self) {
        let now = Instant::now();
        for run in self.event_hooks.running.values_mut() {
            if run.deadline <= now && !run.timed_out {
                run.timed_out = true;
                run.deadline = now + std::time::Duration::from_secs(3600);
                if let Some(cg) = &run.cgroup {
                    let _ = cg.kill_all();
                }
                let _ = run.pidfd.send_signal(ward_core::Signal::KILL);
            }
        }
    }

    fn journal_hook(&self, hook: &ward_core::config::EventHook, about: &str, outcome: &str) {
        self.journal.record(ward_store::Record::Daemon {
            at_ms: ward_store::now_ms(),
            what: RECORD.into(),
            detail: format!(
                "[[hooks]] #{} ({}) for {about}: {outcome}",
                hook.index,
                hook.command.join(" ")
            ),
        });
    }
}
