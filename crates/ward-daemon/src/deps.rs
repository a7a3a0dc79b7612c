//! Dependencies at run time: a unit starts once every service it depends on is ready; a
//! shutdown stops dependents before what they depend on; a crash names the dependents it
//! affects.

use std::collections::HashSet;
use std::time::Instant;

use ward_core::config::{Condition, Dependency, Readiness, ServiceType};
use ward_core::health::Health;
use ward_core::machine::{Event, Intent, State};

use crate::logs;
use crate::supervisor::Supervisor;
use crate::unit::Unit;

impl Unit {
    /// Whether the services that depend on this unit may start: its run is up and as
    /// ready as its `ready` setting asks; for a task, its run completed.
    pub(crate) fn is_ready(&self) -> bool {
        if self.instance.service.kind == ServiceType::Oneshot {
            return self.machine.state() == State::Completed;
        }
        self.is_up()
            && match self.instance.service.ready {
                Readiness::Started => true,
                Readiness::Running => self.machine.state() == State::Running,
                Readiness::Notify => self.ready_notified,
                Readiness::Healthy => self.health.health() == Health::Healthy,
            }
    }

    /// A run is up, past its `post_start` hook, and not judged hung.
    fn is_up(&self) -> bool {
        self.main.is_some()
            && self.seldom().hang.is_none()
            && !self.post_start_pending
            && matches!(self.machine.state(), State::Starting | State::Running)
    }

    /// Whether this unit meets `condition` for a dependent whose start was asked for at
    /// `since`.
    pub(crate) fn meets(&self, condition: Condition, since: Option<Instant>) -> bool {
        let service = &self.instance.service;
        match condition {
            Condition::Ready if service.kind == ServiceType::Oneshot => self.completed_for(since),
            Condition::Ready => self.is_ready(),
            // A task that ran and completed has started, too.
            Condition::Started => self.is_up() || self.completed_for(since),
            Condition::Healthy => self.is_up() && self.health.health() == Health::Healthy,
            Condition::Completed => match service.kind {
                ServiceType::Oneshot => self.completed_for(since),
                ServiceType::Simple => {
                    self.machine.state() == State::Exited
                        && self
                            .machine
                            .last_exit()
                            .is_some_and(|e| service.success_exit_codes.accepts(e))
                }
            },
        }
    }

    /// A task's completion counts for a start asked for at `since`: it stays done
    /// (`remain_after_exit`), or it completed after that start was asked for.
    fn completed_for(&self, since: Option<Instant>) -> bool {
        self.machine.state() == State::Completed
            && (self.instance.service.remain_after_exit
                || match (self.seldom().completed_at, since) {
                    (Some(done), Some(since)) => done >= since,
                    (_, None) => true,
                    (None, Some(_)) => false,
                })
    }

    /// Where this unit is, for a dependent waiting for `condition`: `failed: exit 1`.
    fn whereabouts(&self) -> String {
        let m = &self.machine;
        match m.state() {
            State::Failed | State::Exited | State::Backoff => {
                let end = m
                    .last_spawn_failure()
                    .map(|f| f.to_string())
                    .or_else(|| m.last_exit().map(|e| e.to_string()));
                match end {
                    Some(end) => format!("{}: {end}", m.state().as_str()),
                    None => m.state().as_str().to_string(),
                }
            }
            State::Starting | State::Running if self.seldom().hang.is_some() => "hung".to_string(),
            State::Starting | State::Running
                if self.instance.service.health.is_some()
                    && self.health.health() != Health::Healthy =>
            {
                format!(
                    "{}{}",
                    self.health.health().as_str(),
                    self.health
                        .last()
                        .map(|l| format!(", last probe: {l}"))
                        .unwrap_or_default()
                )
            }
            State::Stopped if !self.seldom().waiting_for.is_empty() => {
                format!(
                    "itself waiting for {}",
                    self.seldom().waiting_for.join(", ")
                )
            }
            State::Completed => "completed before this start was asked for".to_string(),
            s => s.as_str().to_string(),
        }
    }
}

/// What a dependent waits for, in words: `migrate to complete`.
fn wanted(condition: Condition) -> &'static str {
    match condition {
        Condition::Ready => "to be ready",
        Condition::Started => "to start",
        Condition::Healthy => "to be healthy",
        Condition::Completed => "to complete",
    }
}

/// How many spawns `start_queued` keeps in flight: enough for the children's execs to
/// use the other CPUs while the loop prepares the next, few enough that each answer comes
/// soon after its exec.
const IN_FLIGHT: usize = 4;

impl Supervisor {
    /// The units of `service`.
    fn units_of<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a Unit> + 'a {
        self.units
            .values()
            .map(|u| &**u)
            .filter(move |u| u.instance.service.name == service)
    }

    /// The edges of `name`'s service in the config in force: a reload that changes only
    /// `depends_on` leaves the unit's own copy of its service as it was.
    fn edges(&self, name: &str) -> &[Dependency] {
        let Some(unit) = self.units.get(name) else {
            return &[];
        };
        self.config
            .services
            .get(&unit.instance.service.name)
            .map_or(&unit.instance.service.depends_on, |s| &s.depends_on)
    }

    /// The services `name` depends on that have not reached their condition yet, each
    /// with the condition.
    fn unmet_edges(&self, name: &str) -> Vec<&Dependency> {
        let since = self.units.get(name).and_then(|u| u.seldom().waiting_since);
        self.edges(name)
            .iter()
            .filter(|edge| {
                let mut units = self.units_of(&edge.service).peekable();
                units.peek().is_none() || !units.all(|u| u.meets(edge.condition, since))
            })
            .collect()
    }

    /// The services `name` depends on that are not ready yet.
    fn unmet(&self, name: &str) -> Vec<String> {
        self.unmet_edges(name)
            .into_iter()
            .map(|e| e.service.clone())
            .collect()
    }

    /// What `name` waits for, one sentence per service: `migrate to complete (failed:
    /// exit 1)`.
    pub(crate) fn waiting_reasons(&self, name: &str) -> Vec<String> {
        let since = self.units.get(name).and_then(|u| u.seldom().waiting_since);
        self.unmet_edges(name)
            .into_iter()
            .map(|edge| {
                let states: Vec<String> = self
                    .units_of(&edge.service)
                    .filter(|u| !u.meets(edge.condition, since))
                    .map(|u| match u.instance.service.instances {
                        1 => u.whereabouts(),
                        _ => format!("{}: {}", u.name(), u.whereabouts()),
                    })
                    .collect();
                format!(
                    "{} {} ({})",
                    edge.service,
                    wanted(edge.condition),
                    if states.is_empty() {
                        "not in the config".to_string()
                    } else {
                        states.join("; ")
                    }
                )
            })
            .collect()
    }

    /// Starts a unit now, or once its dependencies are ready; dependencies nobody asked
    /// to run are started too (as `ward start web` starts the `db` that web needs).
    pub(crate) fn request_start(&mut self, name: &str) {
        // Only the start of a unit with dependencies needs to know since when it waits.
        let has_edges = !self.edges(name).is_empty();
        if let Some(unit) = self.units.get_mut(name) {
            unit.start_queued = false;
            if has_edges && unit.seldom().waiting_for.is_empty() {
                // A start queued at the daemon's start keeps the time it was queued: a
                // task that completed meanwhile counts for it.
                unit.seldom_mut()
                    .waiting_since
                    .get_or_insert_with(Instant::now);
            }
        }
        let unmet = self.unmet(name);
        if unmet.is_empty() {
            if let Some(s) = self.units.get_mut(name).and_then(|u| u.seldom_held()) {
                s.waiting_for.clear();
                s.waiting_since = None;
            }
            self.dispatch(name, Event::Start);
            return;
        }
        let reasons = self.waiting_reasons(name);
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        if unit.seldom().waiting_for != unmet {
            logs::note(
                &self.logs.sink(),
                &unit.log,
                &format!("waiting for {} before starting", reasons.join(", ")),
            );
        }
        unit.seldom_mut().waiting_for = unmet.clone();
        for dep in unmet {
            // Not asked to run, or a task whose completion came before this start: run
            // it (as `ward start web` starts the `db` that web needs). A failed one is
            // left for an operator: the reason names it.
            let idle: Vec<String> = self
                .units_of(&dep)
                .filter(|u| {
                    (u.machine.intent() == Intent::Stop && u.seldom().waiting_for.is_empty())
                        || u.machine.state() == State::Completed
                })
                .map(|u| u.name().to_string())
                .collect();
            for d in idle {
                self.request_start(&d);
            }
        }
    }

    /// Starts `name` in a later slice of the loop: what a daemon does with the units it
    /// starts by itself, so that thousands of spawns never keep `ward status` waiting.
    pub(crate) fn queue_start(&mut self, name: &str) {
        let has_edges = !self.edges(name).is_empty();
        if let Some(unit) = self.units.get_mut(name) {
            unit.start_queued = true;
            if has_edges {
                unit.seldom_mut().waiting_since = Some(Instant::now());
            }
            self.backlog.starts.push_back(name.to_string());
        }
    }

    /// Starts queued units for as long as this turn's slice lasts. A unit asked to stop,
    /// or started by a request, meanwhile is no longer queued.
    ///
    /// Their spawns are launched (`ward_sys::spawn::launch`): while one child execs on
    /// another CPU, the loop prepares the next unit's, and a few are in flight at once.
    /// Each is answered before its unit hears of anything else, and all of them before
    /// this returns.
    pub(crate) fn start_queued(&mut self) {
        let had_starts = !self.backlog.starts.is_empty();
        while !self.backlog.spent() {
            let Some(name) = self.backlog.starts.pop_front() else {
                break;
            };
            if self.units.get(&name).is_some_and(|u| u.start_queued) {
                self.detach_spawns = true;
                self.request_start(&name);
                self.detach_spawns = false;
            }
            while self.launches.len() > IN_FLIGHT {
                self.answer_launch();
            }
        }
        while self.answer_launch() {}
        if had_starts && self.backlog.starts.is_empty() {
            // The start of many units is the daemon's largest burst: reading the config
            // and starting 5,000 units left 4.3 MiB of free heap resident, the queue's
            // 192 KiB among it.
            self.backlog.starts.shrink_to_fit();
            ward_sys::heap::release_free();
        }
    }

    /// Answers the oldest spawn in flight, if there is one.
    fn answer_launch(&mut self) -> bool {
        self.answer_launch_at(0)
    }

    /// Answers the spawn in flight at `at` in `launches`, if there is one there. What its
    /// answer sets off spawns as usual, without launching.
    pub(crate) fn answer_launch_at(&mut self, at: usize) -> bool {
        let Some((name, pending)) = self.launches.remove(at) else {
            return false;
        };
        let answer = self.spawn_end(&name, pending);
        self.dispatch(&name, answer);
        true
    }

    /// Where `name`'s spawn in flight is in `launches`, if it has one.
    pub(crate) fn launch_of(&self, name: &str) -> Option<usize> {
        self.launches.iter().position(|(n, _)| n == name)
    }

    /// Starts the waiting units whose dependencies have become ready.
    pub(crate) fn start_waiting(&mut self) {
        let waiting: Vec<String> = self
            .units
            .values()
            .filter(|u| !u.seldom().waiting_for.is_empty())
            .map(|u| u.name().to_string())
            .collect();
        for name in waiting {
            let unmet = self.unmet(&name);
            if unmet.is_empty() {
                if let Some(s) = self.units.get_mut(&name).and_then(|u| u.seldom_held()) {
                    s.waiting_for.clear();
                    s.waiting_since = None;
                }
                self.dispatch(&name, Event::Start);
            } else if let Some(unit) = self.units.get_mut(&name) {
                unit.seldom_mut().waiting_for = unmet;
            }
        }
    }

    /// Dependent services that want to run: the ones a crash of `name` affects.
    pub(crate) fn affected_dependents(&self, name: &str) -> Vec<String> {
        let Some(unit) = self.units.get(name) else {
            return Vec::new();
        };
        self.graph
            .dependents(&unit.instance.service.name)
            .into_iter()
            .filter(|s| {
                self.units_of(s).any(|u| {
                    u.machine.intent() == Intent::Run || !u.seldom().waiting_for.is_empty()
                })
            })
            .collect()
    }

    /// Whether a unit of a service that depends on `name`'s service still has a process.
    fn dependents_up(&self, name: &str) -> bool {
        let Some(unit) = self.units.get(name) else {
            return false;
        };
        let dependents = self.graph.dependents(&unit.instance.service.name);
        dependents
            .iter()
            .any(|s| self.units_of(s).any(|u| !u.is_down()))
    }

    /// A shutdown: stop the units nothing running depends on now, the rest once their
    /// dependents are down.
    pub(crate) fn stop_in_order(&mut self, names: Vec<String>) {
        for name in &names {
            if let Some(unit) = self.units.get_mut(name) {
                if let Some(s) = unit.seldom_held() {
                    s.waiting_for.clear();
                }
                unit.start_queued = false;
                self.backlog.held.stops.insert(name.clone());
            }
        }
        self.stop_freed();
    }

    /// Stops the units held back for their dependents, once those are down: as many as
    /// a turn's slice has time for (each stop signals the unit, writes its record and
    /// journals the change), so that a shutdown of thousands of units leaves the loop
    /// free to answer `ward status` between slices.
    pub(crate) fn stop_freed(&mut self) {
        self.stop_freed_but(&HashSet::new());
    }

    /// [`Supervisor::stop_freed`] at the start of a turn, before the ends reaped
    /// meanwhile are judged: judged first, the ends of the units stopped in the last
    /// slice held back the signal to the next ones (a gap of 9 ms in a stop of 100). A
    /// unit whose own main process is among those ends waits for the turn's later pass,
    /// after its end is judged: stopped first, its end would count as the stop's, not as
    /// the crash it was.
    pub(crate) fn stop_freed_first(&mut self) {
        self.collect_ended();
        let ended: HashSet<u32> = self.backlog.ended.iter().map(|&(pid, _)| pid).collect();
        self.stop_freed_but(&ended);
    }

    /// Stops the held units that are free to stop, but not those whose main process is
    /// among `ended`.
    fn stop_freed_but(&mut self, ended: &HashSet<u32>) {
        self.backlog.stops = false;
        let held: Vec<String> = self.backlog.held.stops.iter().cloned().collect();
        for name in held {
            if self.dependents_up(&name) {
                continue;
            }
            let main = self
                .units
                .get(&name)
                .and_then(|u| u.main.as_ref())
                .map(|m| m.pidfd.pid());
            if main.is_some_and(|pid| ended.contains(&pid)) {
                continue;
            }
            if self.backlog.spent() {
                // The next turn comes at once, after the server's.
                self.backlog.stops = true;
                return;
            }
            self.backlog.held.stops.remove(&name);
            self.dispatch(&name, Event::Stop);
        }
    }
}
