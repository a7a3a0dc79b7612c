//! Dependencies at run time: a unit starts once every service it depends on is ready; a
//! shutdown stops dependents before what they depend on; a crash names the dependents it
//! affects.

use ward_core::config::Readiness;
use ward_core::health::Health;
use ward_core::machine::{Event, Intent, State};

use crate::logs;
use crate::supervisor::Supervisor;
use crate::unit::Unit;

impl Unit {
    /// Whether the services that depend on this unit may start: its run is up and as
    /// ready as its `ready` setting asks.
    pub(crate) fn is_ready(&self) -> bool {
        let up = self.main.is_some()
            && self.hang.is_none()
            && matches!(self.machine.state(), State::Starting | State::Running);
        up && match self.instance.service.ready {
            Readiness::Started => true,
            Readiness::Running => self.machine.state() == State::Running,
            Readiness::Notify => self.ready_notified,
            Readiness::Healthy => self.health.health() == Health::Healthy,
        }
    }
}

impl Supervisor {
    /// The units of `service`.
    fn units_of<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a Unit> + 'a {
        self.units
            .values()
            .map(|u| &**u)
            .filter(move |u| u.instance.service.name == service)
    }

    /// The services `name` depends on that are not ready yet.
    fn unmet(&self, name: &str) -> Vec<String> {
        let Some(unit) = self.units.get(name) else {
            return Vec::new();
        };
        self.graph
            .dependencies(&unit.instance.service.name)
            .iter()
            .filter(|dep| {
                let mut units = self.units_of(dep).peekable();
                units.peek().is_none() || !units.all(Unit::is_ready)
            })
            .cloned()
            .collect()
    }

    /// Starts a unit now, or once its dependencies are ready; dependencies nobody asked
    /// to run are started too (as `ward start web` starts the `db` that web needs).
    pub(crate) fn request_start(&mut self, name: &str) {
        if let Some(unit) = self.units.get_mut(name) {
            unit.start_queued = false;
        }
        let unmet = self.unmet(name);
        if unmet.is_empty() {
            if let Some(unit) = self.units.get_mut(name) {
                unit.waiting_for.clear();
            }
            self.dispatch(name, Event::Start);
            return;
        }
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        if unit.waiting_for != unmet {
            logs::note(
                &self.logs.sink(),
                &unit.log,
                &format!("waiting for {} before starting", unmet.join(", ")),
            );
        }
        unit.waiting_for = unmet.clone();
        for dep in unmet {
            let idle: Vec<String> = self
                .units_of(&dep)
                .filter(|u| u.machine.intent() == Intent::Stop && u.waiting_for.is_empty())
                .map(|u| u.name.clone())
                .collect();
            for d in idle {
                self.request_start(&d);
            }
        }
    }

    /// Starts `name` in a later slice of the loop: what a daemon does with the units it
    /// starts by itself, so that thousands of spawns never keep `ward status` waiting.
    pub(crate) fn queue_start(&mut self, name: &str) {
        if let Some(unit) = self.units.get_mut(name) {
            unit.start_queued = true;
            self.backlog.starts.push_back(name.to_string());
        }
    }

    /// Starts queued units for as long as this turn's slice lasts. A unit asked to stop,
    /// or started by a request, meanwhile is no longer queued.
    pub(crate) fn start_queued(&mut self) {
        while !self.backlog.spent() {
            let Some(name) = self.backlog.starts.pop_front() else {
                return;
            };
            if self.units.get(&name).is_some_and(|u| u.start_queued) {
                self.request_start(&name);
            }
        }
    }

    /// Starts the waiting units whose dependencies have become ready.
    pub(crate) fn start_waiting(&mut self) {
        let waiting: Vec<String> = self
            .units
            .values()
            .filter(|u| !u.waiting_for.is_empty())
            .map(|u| u.name.clone())
            .collect();
        for name in waiting {
            let unmet = self.unmet(&name);
            if unmet.is_empty() {
                if let Some(unit) = self.units.get_mut(&name) {
                    unit.waiting_for.clear();
                }
                self.dispatch(&name, Event::Start);
            } else if let Some(unit) = self.units.get_mut(&name) {
                unit.waiting_for = unmet;
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
                self.units_of(s)
                    .any(|u| u.machine.intent() == Intent::Run || !u.waiting_for.is_empty())
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
                unit.waiting_for.clear();
                unit.start_queued = false;
                unit.stop_after_dependents = true;
            }
        }
        self.stop_freed();
    }

    /// Stops the units held back for their dependents, once those are down: as many as
    /// a turn's slice has time for (each stop signals the unit, writes its record and
    /// journals the change), so that a shutdown of thousands of units leaves the loop
    /// free to answer `ward status` between slices.
    pub(crate) fn stop_freed(&mut self) {
        self.backlog.stops = false;
        let held: Vec<String> = self
            .units
            .values()
            .filter(|u| u.stop_after_dependents)
            .map(|u| u.name.clone())
            .collect();
        for name in held {
            if self.dependents_up(&name) {
                continue;
            }
            if self.backlog.spent() {
                // The next turn comes at once, after the server's.
                self.backlog.stops = true;
                return;
            }
            if let Some(unit) = self.units.get_mut(&name) {
                unit.stop_after_dependents = false;
            }
            self.dispatch(&name, Event::Stop);
        }
    }
}
